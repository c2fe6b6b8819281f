"""Start from the base model or an earlier run's adapter: the run list, the planner's
recommendation (DPO after SFT) and the Method step's picker, on a copy of a project with
a real finished LoRA run of the tiny model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from ftstudio.core.project import TINY_MODEL, Project, create_project, open_project
from ftstudio.core.runs import RunStore
from ftstudio.core.train_config import load_config
from ftstudio.qt.pages.wizard import PlanWizardPage
from ftstudio.qt.wizard.adapters import adapter_runs
from ftstudio.qt.wizard.gpu import GpuProbe
from ftstudio.qt.wizard.method_step import MethodStep
from ftstudio.qt.wizard.plan import Planner

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def project(trained_run: Path, tmp_path: Path) -> Project:
    """A copy of the trained run's project, planned on the model the run trained on."""
    folder = shutil.copytree(trained_run.parent.parent, tmp_path / "copy")
    copied = open_project(folder)
    record = RunStore.for_project(folder).get(trained_run.name)
    assert record is not None
    copied.set("base_model", record.base_model)  # the tiny model's folder
    copied.set("datasets", {**copied.datasets, "train": "datasets/train.jsonl"})
    return copied


def _click(qtbot, button) -> None:  # noqa: ANN001
    """Click a radio button where it reacts: its indicator, at the left."""
    qtbot.waitUntil(lambda: button.height() > 0)
    qtbot.mouseClick(button, LEFT, pos=QPoint(8, button.height() // 2))


@pytest.mark.slow
def test_finished_lora_runs_with_an_adapter_are_listed(project: Project, trained_run: Path) -> None:
    [run] = adapter_runs(project.folder)
    record = RunStore.for_project(project.folder).get(trained_run.name)
    assert record is not None
    assert run.id == trained_run.name
    assert run.relative == f"runs/{trained_run.name}"  # in the copy, not the original
    assert (project.folder / run.relative / "adapter").is_dir()
    assert (run.method, run.objective) == ("lora", "sft")
    assert run.method_text == "LoRA SFT"
    assert run.final_loss == record.final_loss is not None
    assert run.best_eval_loss == record.best_eval_loss is not None
    assert len(run.date_text) == len("2026-11-30 14:05")
    assert run.same_base_model(project.base_model, project.folder)
    assert not run.same_base_model(TINY_MODEL, project.folder)


def test_no_database_no_runs_and_none_created(tmp_path: Path) -> None:
    empty = create_project(tmp_path / "empty", "Empty")
    assert adapter_runs(empty.folder) == []
    assert not (empty.folder / "runs" / "runs.sqlite").exists()


@pytest.mark.slow
def test_dpo_recommends_the_sft_run_on_the_same_base_model(
    project: Project, trained_run: Path
) -> None:
    relative = f"runs/{trained_run.name}"
    planner = Planner(project)
    assert planner.config().init_adapter == ""  # SFT starts from the base model
    assert "SFT usually starts from the base model" in planner.start_advice().why
    planner.set_objective("dpo")
    advice = planner.start_advice()
    assert advice.value == relative
    assert advice.why.startswith("DPO polishes answers the model already gives")
    assert planner.config().init_adapter == relative  # follows the recommendation
    assert planner.start_warning() == ""
    planner.set_start("")  # the user's choice stays
    assert planner.config().init_adapter == ""
    planner.reset_start()
    assert planner.config().init_adapter == relative
    # On another base model the run's adapter does not fit: not recommended, and warned.
    planner.choose_model(TINY_MODEL)
    assert planner.start_advice().value == ""
    assert "No finished SFT run on this base model" in planner.start_advice().why
    planner.set_start(relative)
    assert "an adapter only fits the model it was trained on" in planner.start_warning()
    # Full fine-tuning cannot start from an adapter.
    planner.choose_model(project.base_model)
    planner.set_method("full")
    assert "Full fine-tuning cannot start from an adapter" in planner.problems()["init_adapter"]
    assert "init_adapter" in planner.step_problems("method")
    planner.set_start("runs/gone")
    planner.set_method("lora")
    assert "does not exist" in planner.problems()["init_adapter"]


@pytest.mark.slow
def test_the_picker_sets_init_adapter_and_the_yaml_keeps_it(
    qtbot,  # noqa: ANN001
    project: Project,
    trained_run: Path,
) -> None:
    relative = f"runs/{trained_run.name}"
    page = PlanWizardPage(gpu_probe=GpuProbe(detect=list))
    qtbot.addWidget(page, before_close_func=lambda w: w.shutdown())
    page.resize(1120, 800)
    page.set_project(project)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.planner.stats is not None)
    assert page.go_to("method")
    step = page.steps["method"]
    assert isinstance(step, MethodStep)
    table = step.runs_table
    assert table.isVisible()
    assert table.rowCount() == 1
    cells = [table.item(0, column).text() for column in range(table.columnCount())]
    run = page.planner.runs[0]
    assert cells[0] == run.name if run.name == run.id else cells[0].startswith(run.name)
    assert cells[1:3] == [run.date_text, "LoRA SFT"]
    assert cells[3] == f"{run.final_loss:.4f}"
    assert step.start_buttons["base"].isChecked()  # SFT: the base model, as recommended
    assert step.start_recommended.text() == "✓ recommended"

    _click(qtbot, step.objective_buttons["dpo"])
    assert page.planner.objective == "dpo"
    assert step.start_buttons["adapter"].isChecked()  # the SFT run, recommended for DPO
    assert table.currentRow() == 0
    assert page.planner.config().init_adapter == relative
    assert "DPO polishes answers" in step.start_why.text()
    assert not step.start_message.isVisible()

    _click(qtbot, step.start_buttons["base"])
    assert page.planner.config().init_adapter == ""
    assert step.start_recommended.isEnabled()
    assert step.start_recommended.text().startswith("↺ Recommended: the adapter of")
    qtbot.mouseClick(step.start_recommended, LEFT)
    assert page.planner.config().init_adapter == relative
    assert step.start_buttons["adapter"].isChecked()
    _click(qtbot, step.start_buttons["base"])
    qtbot.mouseClick(table.viewport(), LEFT, pos=table.visualItemRect(table.item(0, 1)).center())
    assert page.planner.config().init_adapter == relative  # picking the run starts from it
    assert step.start_buttons["adapter"].isChecked()

    while page.current_step() != "review":
        assert page.go_next(), page.status_label.text()
    review = page.steps["review"]
    assert f"Starts from the adapter in {relative}" in review.summary_label.text()
    assert f"init_adapter: {relative}\n" in review.yaml_view.toPlainText()
    path = page.save()
    assert path is not None
    assert load_config(path).init_adapter == relative
    assert f"init_adapter: {relative}\n" in path.read_text(encoding="utf-8")


def test_without_finished_runs_the_adapter_choice_is_off(qtbot, sample_project) -> None:  # noqa: ANN001
    page = PlanWizardPage(gpu_probe=GpuProbe(detect=list))
    qtbot.addWidget(page, before_close_func=lambda w: w.shutdown())
    page.set_project(sample_project)
    page.show()
    qtbot.waitExposed(page)
    page.go_to("method")
    step = page.steps["method"]
    assert isinstance(step, MethodStep)
    assert not step.start_buttons["adapter"].isEnabled()
    assert step.start_buttons["base"].isChecked()
    assert not step.runs_table.isVisible()
    assert "No finished LoRA or QLoRA run" in step.runs_note.text()
    _click(qtbot, step.objective_buttons["dpo"])
    assert page.planner.config().init_adapter == ""
    assert "No finished SFT run on this base model" in step.start_why.text()
