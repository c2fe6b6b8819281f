"""The Evaluate page in the window: navigation, empty states, run and model choice, startup."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ftstudio.core.project import Project, create_project
from ftstudio.core.settings import SettingsStore
from ftstudio.qt.main_window import MainWindow
from ftstudio.qt.pages import NAVIGATION
from ftstudio.qt.pages.evaluate import (
    NO_MODEL_TEXT,
    NO_PROJECT_TEXT,
    NO_RUNS_TEXT,
    EvaluatePage,
)
from tests.qt.evaluate.conftest import TrainedCopy
from tests.qt.helpers import run_isolated


def test_the_page_sits_between_train_and_runs(qtbot, user_dirs, trained: TrainedCopy) -> None:
    keys = [page.key for page in NAVIGATION]
    assert keys[keys.index("train") + 1 : keys.index("train") + 3] == ["evaluate", "runs"]
    window = MainWindow(SettingsStore(user_dirs["config"]), remember=False)
    qtbot.addWidget(window)
    assert window.open_project_at(trained.project.folder)
    page = window.page("evaluate")
    assert isinstance(page, EvaluatePage)
    position = keys.index("evaluate")
    assert window.navigation.item(position).text() == "Evaluate"
    action = window.page_actions[position]
    assert (action.text(), action.shortcut().toString()) == ("Evaluate", f"Ctrl+{position + 1}")
    action.trigger()
    assert window.current_page() is page
    assert page.current_run() is not None
    assert page.current_run().run_dir == trained.run_dir

    # An example link opens the dataset editor at that line.
    dataset = trained.project.folder / "datasets" / "train.jsonl"
    page.sig_reveal_example.emit(dataset, 3)
    assert window.current_page().key == "dataset"


def test_the_empty_states_say_what_to_do(qtbot, tmp_path: Path, sample_project: Project) -> None:
    page = EvaluatePage()
    qtbot.addWidget(page)
    page.show()
    assert page.empty_label.text() == NO_PROJECT_TEXT
    assert page.stack.currentWidget() is page.empty_label
    assert not page.picker.isVisible()

    page.set_project(sample_project)  # no runs
    assert page.empty_label.text() == NO_RUNS_TEXT
    assert page.empty_label.isVisible()
    assert not page.tabs.isVisible()

    project = create_project(tmp_path / "Early", "Early")  # a run that saved nothing yet
    run = project.folder / "runs" / "20261130-120000-abcd"
    run.mkdir(parents=True)
    (run / "run.json").write_text(
        json.dumps({"ftstudio_run": 1, "id": run.name, "status": "running"}), encoding="utf-8"
    )
    page.set_project(project)
    assert page.empty_label.text() == NO_MODEL_TEXT

    page.set_project(None)
    assert page.empty_label.text() == NO_PROJECT_TEXT


def test_the_chosen_run_and_model_reach_every_tab(qtbot, trained: TrainedCopy) -> None:
    later = trained.run_dir.parent / "20991231-235959-beef"
    shutil.copytree(trained.run_dir, later)
    info = json.loads((later / "run.json").read_text(encoding="utf-8"))
    info.update(id=later.name, name="Stopped early", status="stopped")
    (later / "run.json").write_text(json.dumps(info), encoding="utf-8")

    page = EvaluatePage()
    qtbot.addWidget(page)
    page.set_project(trained.project)
    page.show()
    assert page.tabs.isVisible()
    assert [run.run_dir for run in page.runs] == [trained.run_dir, later]  # finished first
    assert page.run_combo.currentIndex() == 0
    labels = [page.adapter_combo.itemText(i) for i in range(page.adapter_combo.count())]
    assert labels == ["Final adapter", "Checkpoint at step 6", "Checkpoint at step 3"]

    assert page.select_adapter("Checkpoint at step 3")
    for view in page.views():
        assert view.run.run_dir == trained.run_dir
        assert view.adapter.path == trained.run_dir / "checkpoint-3"
    title = page.playground.tuned_pane.title_label.text()
    assert title == f"Tuned: {trained.run_dir.name} · checkpoint at step 3"

    # A refresh keeps the choice; another run starts from its final model.
    page.refresh()
    assert page.current_adapter().label == "Checkpoint at step 3"
    assert page.select_run(later)
    assert page.current_adapter().label == "Final adapter"
    assert page.playground.tuned_pane.title_label.text() == "Tuned: Stopped early · final adapter"
    assert page.eval_view.run.run_dir == later


SCRIPT = """
import json, sys
from pathlib import Path
from PySide6.QtWidgets import QApplication
from ftstudio.core.project import open_project
from ftstudio.qt.pages.evaluate import EvaluatePage
from ftstudio.qt.style import apply_style

app = QApplication([])
apply_style(app)
page = EvaluatePage()
page.set_project(open_project(Path({project!r})))
page.resize(1200, 800)
page.show()
for index in range(page.tabs.count()):
    page.tabs.setCurrentIndex(index)
    app.processEvents()
heavy = {heavy!r}
loaded = sorted(name for name in sys.modules if name.split(".")[0] in heavy)
print(json.dumps({{"runs": len(page.runs), "loaded": loaded}}))
"""


@pytest.mark.slow
def test_opening_the_page_does_not_load_torch(tmp_path: Path, trained: TrainedCopy) -> None:
    heavy = {"torch", "transformers", "peft", "trl", "datasets", "accelerate"}
    script = SCRIPT.format(project=str(trained.project.folder), heavy=heavy)
    report = run_isolated(script, tmp_path)
    assert report["runs"] == 1, "the page did not list the run"
    assert report["loaded"] == []
