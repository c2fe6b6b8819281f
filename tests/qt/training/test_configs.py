"""The training plans a run can start from, the demo run and the resumable run."""

from __future__ import annotations

import json
from pathlib import Path

from ftstudio.core.project import TINY_MODEL, Project, create_project
from ftstudio.core.runs import RUN_FILE, RUN_FORMAT
from ftstudio.core.train_config import TrainConfig, save_config
from ftstudio.qt.training.configs import (
    DEMO_STEPS,
    dataset_problem,
    demo_choice,
    demo_config,
    for_device,
    project_configs,
    resumable_run,
    summary_rows,
)
from tests.qt.training.conftest import save_plan


def test_listed_plans_come_first_then_unlisted_files(small_project: Project) -> None:
    save_plan(small_project, "zeta", TrainConfig(dataset="datasets/train.jsonl", epochs=2))
    save_config(TrainConfig(method="lora"), small_project.folder / "configs" / "alpha.yaml")
    choices = project_configs(small_project)
    assert [choice.name for choice in choices] == ["zeta", "alpha"]
    assert choices[0].config is not None
    assert choices[0].config.epochs == 2
    assert choices[1].config is not None
    assert choices[1].config.method == "lora"
    assert choices[0].path == small_project.folder / "configs" / "zeta.yaml"
    assert not choices[0].demo


def test_a_broken_plan_is_listed_with_its_problem(small_project: Project) -> None:
    folder = small_project.folder / "configs"
    folder.mkdir()
    (folder / "broken.yaml").write_text("epochs: many\nlearning_rat: 0.1\n", encoding="utf-8")
    [choice] = project_configs(small_project)
    assert choice.config is None
    assert "broken.yaml" in choice.error
    assert "epochs" in choice.error
    assert "learning_rat" in choice.error


def test_a_project_without_plans_lists_none(tmp_path: Path) -> None:
    assert project_configs(create_project(tmp_path / "p", "Empty")) == []


def test_the_demo_trains_the_tiny_model_on_the_project_data(small_project: Project) -> None:
    choice = demo_choice(small_project)
    assert choice.demo
    assert choice.path is None
    assert choice.config is not None
    config = choice.config
    assert config.base_model == TINY_MODEL
    assert config.dataset == "datasets/train.jsonl"
    assert config.max_steps == DEMO_STEPS
    assert config.method == "qlora"
    assert config.eval_steps == config.save_steps == 10
    assert dataset_problem(config, small_project.folder) == ""


def test_the_demo_falls_back_to_the_bundled_sample(tmp_path: Path) -> None:
    project = create_project(tmp_path / "p", "No data")
    config = demo_config(project, max_steps=6)
    assert Path(config.dataset).is_file()
    assert Path(config.dataset).name == "it_support.jsonl"
    assert config.eval_steps == 2
    assert dataset_problem(config, project.folder) == ""


def test_device_settings_for_the_demo() -> None:
    config = TrainConfig()
    cpu = for_device(config, gpu=False)
    assert (cpu.precision, cpu.optimizer, cpu.gradient_checkpointing) == (
        "fp32",
        "adamw_torch",
        False,
    )
    gpu = for_device(cpu, gpu=True)
    assert (gpu.precision, gpu.optimizer, gpu.gradient_checkpointing) == (
        "bf16",
        "paged_adamw_32bit",
        True,
    )


def test_dataset_problem_names_the_missing_file(tmp_path: Path) -> None:
    config = TrainConfig(dataset="datasets/nope.jsonl")
    problem = dataset_problem(config, tmp_path)
    assert str(tmp_path / "datasets" / "nope.jsonl") in problem
    assert "does not exist" in problem
    assert "no dataset" in dataset_problem(TrainConfig(dataset=""), tmp_path)


def test_summary_rows_in_plain_words(tmp_path: Path) -> None:
    rows = dict(summary_rows(TrainConfig(dataset="d.jsonl", max_steps=0, epochs=3), tmp_path))
    assert rows["Length"] == "3 epochs"
    assert rows["Method"] == "QLoRA (4-bit base), rank 16, alpha 32"
    assert rows["Batch"] == "4 × 8 accumulation = 32 examples per step"
    assert rows["Validation"] == "every 50 steps on 10% of the examples"
    full = dict(summary_rows(TrainConfig(method="full", max_steps=40, eval_steps=0), tmp_path))
    assert full["Method"] == "Full fine-tuning"
    assert full["Length"] == "40 steps"
    assert full["Validation"] == "off"


def test_summary_rows_of_a_dpo_plan_say_where_it_starts(tmp_path: Path) -> None:
    config = TrainConfig(
        method="lora", objective="dpo", dpo_beta=0.2, init_adapter="runs/20261130-1012-ab12"
    )
    rows = summary_rows(config, tmp_path)
    labels = [label for label, _ in rows]
    assert labels[:5] == ["Base model", "Data", "Method", "Starts from", "Objective"]
    values = dict(rows)
    assert values["Starts from"] == "the adapter of runs/20261130-1012-ab12"
    assert values["Objective"].startswith("DPO preference tuning (beta 0.2)")
    plain = [label for label, _ in summary_rows(TrainConfig(), tmp_path)]
    assert "Starts from" not in plain
    assert "Objective" not in plain


def make_run(runs: Path, name: str, status: str, checkpoint: bool, config: bool = True) -> Path:
    folder = runs / name
    folder.mkdir(parents=True)
    run = {"ftstudio_run": RUN_FORMAT, "id": name, "status": status}
    (folder / RUN_FILE).write_text(json.dumps(run), encoding="utf-8")
    if config:
        save_config(TrainConfig(), folder / "config.yaml")
    if checkpoint:
        (folder / "checkpoint-3").mkdir()
        (folder / "checkpoint-3" / "ftstudio-checkpoint.json").write_text("{}", encoding="utf-8")
    else:
        (folder / "checkpoint-3").mkdir()  # incomplete: no manifest
    return folder


def test_resumable_run_is_the_newest_unfinished_one_with_a_complete_checkpoint(
    tmp_path: Path,
) -> None:
    assert resumable_run(tmp_path) is None
    runs = tmp_path / "runs"
    older = make_run(runs, "20260101-000000-aaaa", "stopped", checkpoint=True)
    assert resumable_run(tmp_path) == older
    make_run(runs, "20260102-000000-bbbb", "finished", checkpoint=True)
    make_run(runs, "20260103-000000-cccc", "failed", checkpoint=False)
    make_run(runs, "20260104-000000-dddd", "stopped", checkpoint=True, config=False)
    assert resumable_run(tmp_path) == older
    newer = make_run(runs, "20260105-000000-eeee", "failed", checkpoint=True)
    assert resumable_run(tmp_path) == newer
