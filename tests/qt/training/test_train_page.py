"""The Train page with real runs of the tiny model: start, stop, resume, failure, export, close."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from ftstudio.core.events import CheckpointSaved, Finished, TrainingEvent
from ftstudio.core.project import Project
from ftstudio.core.settings import SettingsStore
from ftstudio.qt.main_window import MainWindow
from ftstudio.qt.pages.train import TrainPage
from ftstudio.qt.training.log_pane import HIGHLIGHT
from ftstudio.qt.training.text import ERROR
from tests.qt.helpers import answer_next_box
from tests.qt.training.conftest import save_plan
from tests.tiny import tiny_config

pytestmark = pytest.mark.slow


def finish(qtbot, page: TrainPage) -> None:  # noqa: ANN001
    """Stop a run a failed test left behind, so no thread outlives the test."""
    if page.is_running():
        page.runner.stop()
        assert page.runner.wait(120_000)
        qtbot.waitUntil(lambda: not page.is_running(), timeout=10_000)


@pytest.fixture
def page(qtbot, small_project: Project, tiny_model_dir: Path):  # noqa: ANN001, ANN201
    save_plan(small_project, "tiny", tiny_config(tiny_model_dir))
    widget = TrainPage()
    qtbot.addWidget(widget)
    widget.set_project(small_project)
    widget.resize(1000, 1400)
    widget.show()
    yield widget
    finish(qtbot, widget)


def test_the_page_lists_the_plans_and_the_demo(page: TrainPage) -> None:
    names = [choice.name for choice in page.choices]
    assert names == ["tiny", "Quick demo run"]
    assert page.config_combo.currentText() == "tiny"
    rows = dict(page.summary_grid.rows)
    assert rows["File"] == "configs/tiny.yaml"
    assert rows["Length"] == "6 steps"
    assert page.start_button.isEnabled()
    assert not page.stop_button.isEnabled()
    assert not page.resume_button.isEnabled()
    page.select_config("Quick demo run")
    assert "tiny model" in dict(page.summary_grid.rows)["Base model"]


def test_a_new_plan_appears_when_the_wizard_saves_it(
    qtbot, page: TrainPage, small_project: Project, tiny_model_dir: Path
) -> None:
    save_plan(small_project, "second", tiny_config(tiny_model_dir, max_steps=9))
    qtbot.waitUntil(lambda: len(page.choices) == 3, timeout=5000)
    assert page.config_combo.currentText() == "tiny"  # the selection is kept
    page.select_config("second")
    assert dict(page.summary_grid.rows)["Length"] == "9 steps"


def test_start_shows_progress_curves_and_the_end(qtbot, page: TrainPage, tmp_path: Path) -> None:
    threads: set[str] = set()
    page.runner.sig_event.connect(lambda _event: threads.add(threading.current_thread().name))
    with qtbot.waitSignal(page.sig_run_finished, timeout=120_000) as done:
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
        assert page.is_running()
        assert not page.start_button.isEnabled()
        assert page.stop_button.isEnabled()
        assert page.plots.timer.isActive()
        assert page.plots.live  # drawn as images while training
    assert threads == {threading.main_thread().name}
    assert done.args[0].status == "finished"
    plots = page.plots
    assert not plots.timer.isActive()
    assert not plots.live  # interactive again
    assert plots.point_count("loss") == 6
    assert plots.point_count("eval_loss") == 2
    assert plots.point_count("learning_rate") == 6
    assert plots.point_count("tokens_per_second") >= 5
    assert plots.point_count("memory_gb") == 6
    assert (page.progress.value(), page.progress.maximum()) == (6, 6)
    assert page.progress_label.text().startswith("Step 6 of 6 · epoch")
    assert "ETA 0 s" in page.progress_label.text()
    assert page.status_label.text() == "Finished all 6 steps."
    log = page.log.toPlainText()
    assert "Training started: lora on cpu, 6 steps" in log
    assert "Checkpoint saved at step 6" in log
    assert "Finished all 6 steps." in log
    assert page.start_button.isEnabled()
    assert not page.stop_button.isEnabled()

    # Exports hold the run's data.
    png = page.export_png(tmp_path / "curves.png")
    assert not QImage(str(png)).isNull()
    table = page.export_csv(tmp_path / "metrics.csv")
    with table.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["step"] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    assert [row["loss"] != "" for row in rows] == [True] * 6
    assert [row["eval_loss"] != "" for row in rows] == [False, False, True, False, False, True]
    metrics = Path(done.args[0].run_dir) / "metrics.jsonl"
    assert len(metrics.read_text(encoding="utf-8").splitlines()) == 6


def test_stop_is_graceful_and_the_run_resumes(
    qtbot, page: TrainPage, small_project: Project, tiny_model_dir: Path
) -> None:
    save_plan(small_project, "long", tiny_config(tiny_model_dir, max_steps=400, save_steps=200))
    page.reload_configs()
    page.select_config("long")
    events: list[TrainingEvent] = []
    page.runner.sig_event.connect(events.append)
    with qtbot.waitSignal(page.sig_run_finished, timeout=120_000) as done:
        page.start()
        qtbot.waitUntil(lambda: page.plots.history.series["loss"].x.size >= 1, timeout=60_000)
        qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
        assert not page.stop_button.isEnabled()
        assert page.status_label.text().startswith("Stopping at the end of this step")
    result = done.args[0]
    assert result.status == "stopped"
    assert result.step < 400
    saved = [event for event in events if isinstance(event, CheckpointSaved)]
    assert [event.step for event in saved] == [result.step]
    assert (Path(result.run_dir) / f"checkpoint-{result.step}").is_dir()
    assert isinstance(events[-1], Finished)
    assert page.status_label.text().startswith(f"Stopped at step {result.step} of 400")
    assert page.progress.value() == result.step
    assert page.resume_button.isEnabled()

    # Resume continues the same run from its checkpoint.
    events.clear()
    with qtbot.waitSignal(page.sig_run_finished, timeout=120_000) as resumed:
        qtbot.mouseClick(page.resume_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.plots.history.series["loss"].x.size >= 1, timeout=60_000)
        page.stop()
    again = resumed.args[0]
    assert again.run_dir == result.run_dir
    assert again.step > result.step
    assert f"Resumed at step {result.step}" in page.log.toPlainText()
    assert page.plots.history.series["loss"].x[0] == result.step + 1


def test_a_failure_is_explained_in_the_log_highlighted(
    qtbot, page: TrainPage, small_project: Project, tmp_path: Path
) -> None:
    save_plan(small_project, "broken model", tiny_config(tmp_path / "missing-model"))
    page.reload_configs()
    page.select_config("broken model")
    with qtbot.waitSignal(page.sig_run_finished, timeout=120_000):
        page.start()
    [error] = [line for line in page.log.entries if line.level == ERROR]
    assert error.text.startswith("The run failed: ")
    assert str(tmp_path / "missing-model") in error.text
    document = page.log.document()
    block = next(
        document.findBlockByNumber(n)
        for n in range(document.blockCount())
        if document.findBlockByNumber(n).text() == error.text
    )
    assert block.blockFormat().background().color().name() == HIGHLIGHT[ERROR][1]
    assert page.status_label.text().startswith("Failed: ")
    assert page.progress_label.text() == "No step was trained."
    assert "b3261e" in page.status_label.styleSheet()
    assert page.start_button.isEnabled()


def test_a_missing_dataset_is_reported_before_starting(
    page: TrainPage, small_project: Project, tiny_model_dir: Path
) -> None:
    save_plan(small_project, "nodata", tiny_config(tiny_model_dir, dataset="datasets/gone.jsonl"))
    page.reload_configs()
    page.select_config("nodata")
    assert "gone.jsonl does not exist" in page.config_summary.text()
    assert not page.start()
    assert not page.is_running()
    assert "gone.jsonl does not exist" in page.status_label.text()


def test_closing_the_window_mid_run_asks_then_stops_gracefully(
    qtbot, small_project: Project, tiny_model_dir: Path, user_dirs
) -> None:  # noqa: ANN001
    save_plan(small_project, "long", tiny_config(tiny_model_dir, max_steps=400, save_steps=200))
    window = MainWindow(SettingsStore(user_dirs["config"]), remember=False)
    qtbot.addWidget(window)
    window.set_project(small_project)
    window.show_page("train")
    window.show()
    page = window.page("train")
    assert isinstance(page, TrainPage)
    page.select_config("long")
    try:
        page.start()
        qtbot.waitUntil(lambda: page.history.series["loss"].x.size >= 1, timeout=60_000)

        answer_next_box("Keep training")
        assert not window.close()
        assert window.isVisible()
        assert page.is_running()
        assert not page.runner.stop_requested()

        answer_next_box("Stop training and close")
        with qtbot.waitSignal(page.sig_run_finished, timeout=120_000) as done:
            assert not window.close()  # not yet: it closes once the run has stopped
            assert page.runner.stop_requested()
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    finally:
        finish(qtbot, page)
    result = done.args[0]
    assert result.status == "stopped"
    assert (Path(result.run_dir) / f"checkpoint-{result.step}").is_dir()
