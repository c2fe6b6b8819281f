"""The Export page with the real engine on the trained tiny run: form, export in a thread,
parity checklist, earlier exports, cancel and failure."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from ftstudio.core.parity import load_parity
from ftstudio.core.project import Project, create_project
from ftstudio.qt.dataset.workers import wait_for_all_threads
from ftstudio.qt.pages.export import NO_RUNS_TEXT, ExportPage
from tests.qt.helpers import answer_next_box, recorded_urls

pytestmark = pytest.mark.slow

EXPORT_TIMEOUT_MS = 180_000


@pytest.fixture
def page(qtbot, trained_project: Project):  # noqa: ANN001, ANN201
    widget = ExportPage()
    qtbot.addWidget(widget)
    widget.set_project(trained_project)
    widget.resize(1280, 1500)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()
    assert wait_for_all_threads(60_000)


def test_the_form_offers_the_run_its_weights_and_the_formats(
    page: ExportPage, trained_project: Project, trained_run: Path
) -> None:
    assert [run.id for run in page.runs] == [trained_run.name]
    assert page.current_run().id == trained_run.name
    weights = [page.checkpoint_combo.itemText(i) for i in range(page.checkpoint_combo.count())]
    assert weights == [
        "Final adapter (step 6)",
        "Checkpoint at step 6",
        "Checkpoint at step 3",
    ]
    # Merged by default: precision matters, the GGUF type does not.
    assert page.export_config().format == "merged"
    assert page.dtype_combo.isEnabled()
    assert not page.quant_combo.isEnabled()
    exports = trained_project.folder / "exports"
    assert page.out_edit.text() == str(exports / f"{trained_run.name}-merged-bf16")
    page.set_format("gguf")
    page.quant_combo.setCurrentText("f16")
    assert page.quant_combo.isEnabled()
    assert page.out_edit.text() == str(exports / f"{trained_run.name}-gguf-f16")
    page.set_format("adapter")
    assert not page.dtype_combo.isEnabled()
    page.checkpoint_combo.setCurrentIndex(2)
    assert page.export_config().checkpoint == 3
    assert page.out_edit.text() == str(exports / f"{trained_run.name}-adapter-step3")
    # A folder typed by the user stays when the settings change.
    page.out_edit.setText("/somewhere/else")
    page.out_edit.textEdited.emit("/somewhere/else")
    page.set_format("merged")
    assert page.export_config().out == "/somewhere/else"
    assert page.export_button.isEnabled()
    assert not page.cancel_button.isEnabled()


def test_an_adapter_export_runs_in_a_thread_and_shows_its_parity_check(
    qtbot,  # noqa: ANN001
    page: ExportPage,
    trained_project: Project,
    trained_run: Path,
) -> None:
    page.set_format("adapter")
    out = trained_project.folder / "exports" / f"{trained_run.name}-adapter"
    with qtbot.waitSignal(page.sig_export_finished, timeout=EXPORT_TIMEOUT_MS) as finished:
        qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
        assert page.is_running()
        assert page.cancel_button.isEnabled()
        assert not page.export_button.isEnabled()
        assert page.progress.isVisible()
    result = finished.args[0]
    assert result.path == out
    assert result.parity.passed
    assert (out / "adapter_model.safetensors").is_file()
    # The verdict banner and the checklist show the parity.json written next to it.
    report = load_parity(out)
    assert report is not None
    assert report.passed
    assert page.parity_view.report == report
    assert page.parity_view.banner.text().startswith("Parity passed")
    rows = {name: (mark, measured) for mark, name, measured, _message in page.parity_view.rows()}
    assert len(rows) == len(report.checks)
    assert all(mark == "✓" for mark, _measured in rows.values())
    assert rows["Logits match"][1].endswith(f"limit {report.check('logits').limit:.2e}")
    assert rows["Same greedy tokens"][1] == f"{report.prompts} of {report.prompts} prompts"
    assert "parity passed" in page.status_label.text()
    assert page.progress.value() == page.progress.maximum()
    # The export is listed with its verdict, and its folder opens.
    table = page.exports_table
    assert table.topLevelItemCount() == 1
    item = table.topLevelItem(0)
    assert (item.text(0), item.text(1), item.text(4)) == (
        f"exports/{out.name}",
        "adapter",
        "✓ passed",
    )
    assert table.current_export().path == out
    with recorded_urls() as urls:
        qtbot.mouseClick(page.open_button, Qt.MouseButton.LeftButton)
    assert [Path(url.toLocalFile()) for url in urls] == [out]


def test_a_refused_folder_fails_with_a_plain_message(
    qtbot,  # noqa: ANN001
    page: ExportPage,
    tmp_path: Path,
) -> None:
    foreign = tmp_path / "not-empty"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine", encoding="utf-8")
    page.set_format("adapter")
    page.out_edit.setText(str(foreign))
    with qtbot.waitSignal(page.sig_export_failed, timeout=EXPORT_TIMEOUT_MS) as failed:
        assert page.start_export()
    assert "already holds other files" in failed.args[0]
    assert "already holds other files" in page.status_label.text()
    assert (foreign / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    assert page.export_button.isEnabled()


def test_cancel_leaves_nothing_behind(
    qtbot,  # noqa: ANN001
    page: ExportPage,
    trained_project: Project,
) -> None:
    """Cancelled once the files are written and parity is being checked: the half-made
    export is removed, and no other folder is left beside it."""
    phases: list[str] = []

    def on_progress(_done: int, _total: int, _eta: float, label: str) -> None:
        phases.append(label)
        if label.startswith("Checking parity"):
            page.cancel_export()

    page.runner.sig_progress.connect(on_progress)
    page.set_format("adapter")
    with qtbot.waitSignal(page.sig_export_cancelled, timeout=EXPORT_TIMEOUT_MS):
        assert page.start_export()
    assert "Copying the adapter, tokenizer and chat template" in phases
    exports = trained_project.folder / "exports"
    assert not exports.exists() or list(exports.iterdir()) == []
    assert "cancelled" in page.status_label.text()
    assert page.export_button.isEnabled()
    assert not page.cancel_button.isEnabled()
    assert page.parity_view.report is None


def test_closing_the_window_during_an_export_asks_then_cancels_and_closes(
    qtbot,  # noqa: ANN001
    page: ExportPage,
) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    window.show()
    assert page.confirm_close(window)  # nothing running: close at once
    page.set_format("adapter")
    assert page.start_export()
    answer_next_box("Keep exporting")
    assert not page.confirm_close(window)
    assert page.is_running()
    answer_next_box("Cancel export and close")
    assert not page.confirm_close(window)  # closes later, once the export stopped
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=EXPORT_TIMEOUT_MS)
    assert not page.is_running()


def test_a_project_without_finished_runs_says_so(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    page = ExportPage()
    qtbot.addWidget(page)
    page.set_project(create_project(tmp_path / "empty", "Empty"))
    page.show()
    assert page.no_runs_label.isVisible()
    assert page.no_runs_label.text() == NO_RUNS_TEXT
    assert not page.form.isVisible()
    assert not page.export_button.isEnabled()
    assert page.exports_empty.isVisible()
