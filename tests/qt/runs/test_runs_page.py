"""The Runs page on two real runs of the tiny model: table, overlaid curves, config diff,
re-run, delete to the trash, details, open folder."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QUrl

from ftstudio.core.project import Project, create_project
from ftstudio.core.runs import RunStore
from ftstudio.core.train_config import load_config
from ftstudio.qt.pages.runs import EMPTY_TEXT, RunsPage
from ftstudio.qt.pages.train import TrainPage
from ftstudio.qt.runs.table_model import RUN_ROLE, column_index
from tests.qt.helpers import answer_next_box, recorded_urls
from tests.qt.runs.conftest import SECOND_LR

pytestmark = pytest.mark.slow


@pytest.fixture
def page(qtbot, two_runs: Project) -> RunsPage:  # noqa: ANN001
    widget = RunsPage()
    qtbot.addWidget(widget)
    widget.set_project(two_runs)
    widget.resize(1280, 1400)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def by_name(page: RunsPage) -> dict[str, str]:
    """Run name → run id, as listed."""
    return {run.name: run.id for run in page.runs}


def column_texts(page: RunsPage, key: str) -> list[str]:
    column = column_index(key)
    return [page.proxy.index(row, column).data() for row in range(page.proxy.rowCount())]


@pytest.fixture
def opened_urls() -> Iterator[list[QUrl]]:
    with recorded_urls() as urls:
        yield urls


def test_the_table_lists_every_run_with_its_settings_and_results(page: RunsPage) -> None:
    assert page.table.isVisibleTo(page)
    assert not page.empty_label.isVisibleTo(page)
    names = by_name(page)
    assert len(page.runs) == 2
    assert "second" in names
    # Newest first; every run finished, with its own learning rate and rank.
    assert column_texts(page, "name")[0] == "second"
    assert column_texts(page, "status") == ["finished", "finished"]
    assert column_texts(page, "learning_rate") == ["0.003", "0.01"]
    assert column_texts(page, "r") == ["4", "8"]
    assert column_texts(page, "method") == ["LoRA · SFT", "LoRA · SFT"]
    losses = column_texts(page, "best_eval_loss")
    assert all(float(text) > 0 for text in losses)
    hashes = column_texts(page, "data")
    assert hashes[0] == hashes[1]
    assert hashes[0].startswith("train.jsonl · ")
    assert len(hashes[0].split(" · ")[1]) == 8
    # Sorting by a column sorts by value.
    page.table.sortByColumn(column_index("learning_rate"), Qt.SortOrder.AscendingOrder)
    assert column_texts(page, "learning_rate") == ["0.003", "0.01"]
    page.table.sortByColumn(column_index("learning_rate"), Qt.SortOrder.DescendingOrder)
    assert column_texts(page, "learning_rate") == ["0.01", "0.003"]
    # Status is coloured.
    status = page.proxy.index(0, column_index("status"))
    assert status.data(Qt.ItemDataRole.ForegroundRole).name() == "#2e7d32"


def test_selecting_runs_overlays_their_loss_curves(qtbot, page: RunsPage) -> None:  # noqa: ANN001
    assert not page.curves_holder.isVisibleTo(page)  # nothing selected yet
    page.select_runs(list(by_name(page).values()))
    curves = page.curves
    assert curves is not None
    assert page.curves_holder.isVisibleTo(page)
    assert len(curves.curves) == 2
    for run_id in by_name(page).values():
        assert curves.point_count(run_id) == 6  # a point per logged step
        assert curves.point_count(run_id, validation=True) == 2  # evaluated at steps 3 and 6
    assert len(set(curves.colours.values())) == 2
    # Training and validation curves of each run.
    assert len(curves.plot.getPlotItem().listDataItems()) == 4
    assert set(curves.legend_names()) == {
        "second · train",
        "second · validation",
        f"{page.runs[0].name} · train",
        f"{page.runs[0].name} · validation",
    }
    # Selecting one run leaves one.
    page.select_runs([by_name(page)["second"]])
    assert list(curves.curves) == [by_name(page)["second"]]


def test_compare_shows_only_the_changed_settings(page: RunsPage) -> None:
    assert not page.compare_button.isEnabled()
    page.select_runs(list(by_name(page).values()))
    assert page.compare_button.isEnabled()
    changes = page.compare_selected()
    assert page.diff_card.isVisibleTo(page)
    assert {change.key for change in changes} == {"learning_rate", "r"}
    rows = {label: (old, new) for label, old, new in page.diff_view.rows()}
    assert rows == {"Learning rate": ("0.01", "0.003"), "LoRA rank (r)": ("8", "4")}
    first = next(run for run in page.runs if run.name != "second")
    header = page.diff_view.tree.headerItem()
    assert (header.text(1), header.text(2)) == (first.name, "→ second")  # older run first
    assert "2 settings differ" in page.diff_view.heading.text()


def test_rerun_saves_a_copy_of_the_config_and_asks_for_the_train_page(
    qtbot,  # noqa: ANN001
    page: RunsPage,
    two_runs: Project,
) -> None:
    second = next(run for run in page.runs if run.name == "second")
    page.select_runs([second.id])
    assert page.rerun_button.isEnabled()
    with qtbot.waitSignal(page.sig_rerun_requested) as signal:
        qtbot.mouseClick(page.rerun_button, Qt.MouseButton.LeftButton)
    path = signal.args[0]
    assert path == two_runs.folder / "configs" / f"rerun-{second.id}.yaml"
    assert load_config(path) == load_config(second.path / "config.yaml")
    assert load_config(path).learning_rate == SECOND_LR
    # Again: the same file (unchanged) is offered again, not a new one.
    assert page.rerun_selected() == path
    # An edited copy is kept; the next re-run gets a new name.
    path.write_text(path.read_text(encoding="utf-8") + "\n# mine\n", encoding="utf-8")
    assert page.rerun_selected() == path.with_name(f"rerun-{second.id}-2.yaml")
    # What the main window does with the signal: the Train page lists and selects it.
    train = TrainPage()
    qtbot.addWidget(train)
    train.set_project(two_runs)
    train.select_config(path.stem)
    assert train.current_choice().config == load_config(second.path / "config.yaml")


def test_delete_asks_then_moves_the_run_to_the_trash(
    qtbot,  # noqa: ANN001
    page: RunsPage,
    two_runs: Project,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The freedesktop home trash: $XDG_DATA_HOME/Trash (the folder does not exist yet).
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    second = next(run for run in page.runs if run.name == "second")
    page.select_runs([second.id])
    page.table.setFocus()
    seen: list[dict[str, Any]] = []
    # "Keep" deletes nothing.
    answer_next_box("Keep", seen)
    qtbot.keyClick(page.table, Qt.Key.Key_Delete)
    assert second.path.is_dir()
    assert "second" in seen[0]["text"]
    assert second.id in seen[0]["informative"]
    # "Move to Trash": the folder goes to the (freedesktop) trash, the row leaves the DB.
    answer_next_box("Move to Trash", seen)
    assert page.delete_selected(), page.status_label.text()
    assert len(seen) == 2
    trashed = tmp_path / "xdg-data" / "Trash" / "files" / second.id
    assert trashed.is_dir()
    assert (trashed / "run.json").is_file()
    assert not second.path.exists()
    assert RunStore.for_project(two_runs.folder).get(second.id) is None
    assert [run.name for run in page.runs] == [n for n in by_name(page) if n != "second"]
    assert "Moved 1 run to the trash" in page.status_label.text()


def test_a_running_run_is_not_deleted(qtbot, page: RunsPage) -> None:  # noqa: ANN001
    second = next(run for run in page.runs if run.name == "second")
    info = json.loads((second.path / "run.json").read_text(encoding="utf-8"))
    info["status"] = "running"
    (second.path / "run.json").write_text(json.dumps(info), encoding="utf-8")
    page.refresh()
    page.select_runs([second.id])
    assert not page.delete_button.isEnabled()
    asked: list[object] = []
    page.confirm_delete = lambda runs: asked.append(runs) or True
    assert not page.delete_selected()
    assert asked == []  # refused before asking
    assert second.path.is_dir()
    assert "stop training" in page.status_label.text()


def test_keyboard_select_all_and_enter_opens_details(
    qtbot,  # noqa: ANN001
    page: RunsPage,
    opened_urls: list[QUrl],
) -> None:
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(page.selected_runs()) == 2
    page.table.setCurrentIndex(page.proxy.index(0, 0))
    qtbot.keyClick(page.table, Qt.Key.Key_Return)
    dialog = page.details
    assert dialog is not None
    assert dialog.isVisible()
    run = page.proxy.index(0, 0).data(RUN_ROLE)
    rows = dict(dialog.grid.rows)
    assert rows["Id"] == run.id
    assert rows["Checkpoints"] == "checkpoint-3, checkpoint-6"
    assert rows["Data SHA-256"] == run.dataset_sha256
    assert len(run.dataset_sha256) == 64
    assert "learning_rate:" in dialog.config_text.toPlainText()
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert [Path(url.toLocalFile()) for url in opened_urls] == [run.path]
    dialog.close()


def test_open_folder_opens_the_selected_run(page: RunsPage, opened_urls: list[QUrl]) -> None:
    second = next(run for run in page.runs if run.name == "second")
    page.select_runs([second.id])
    assert page.open_selected_folder()
    assert [Path(url.toLocalFile()) for url in opened_urls] == [second.path]


def test_a_project_without_runs_says_so(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    page = RunsPage()
    qtbot.addWidget(page)
    page.set_project(create_project(tmp_path / "empty", "Empty"))
    page.show()
    assert page.empty_label.isVisible()
    assert page.empty_label.text() == EMPTY_TEXT
    assert not page.table.isVisible()
    for button in (page.compare_button, page.rerun_button, page.delete_button):
        assert not button.isEnabled()
    assert not (tmp_path / "empty" / "runs" / "runs.sqlite").exists()


def test_a_new_run_folder_shows_up_without_a_refresh(
    qtbot,  # noqa: ANN001
    page: RunsPage,
    two_runs: Project,
) -> None:
    second = next(run for run in page.runs if run.name == "second")
    copy = two_runs.folder / "runs" / "20991231-000000-beef"
    shutil.copytree(second.path, copy)
    info = json.loads((copy / "run.json").read_text(encoding="utf-8"))
    info.update(id=copy.name, name="copied", created="2099-12-31T00:00:00+00:00")
    (copy / "run.json").write_text(json.dumps(info), encoding="utf-8")
    qtbot.waitUntil(lambda: len(page.runs) == 3, timeout=5000)
    assert column_texts(page, "name")[0] == "copied"
