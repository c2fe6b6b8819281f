"""Real DPO runs on the tiny model (CPU): the reward margin rises, on the base or an SFT adapter."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from ftstudio.core.events import Evaluated, Failed, Started, StepLogged, TrainingWarning
from ftstudio.core.project import create_project
from ftstudio.core.runs import read_run_file
from ftstudio.engine.training import run_training
from tests.engine.training.test_preference import bad_pairs, sample_pairs
from tests.tiny import tiny_config, write_dataset

pytestmark = pytest.mark.slow

REWARDS = ("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins")


def dpo_config(model_dir: Path, **changes: Any):  # noqa: ANN201 - a TrainConfig
    """A few DPO steps on the tiny model: LoRA, a high learning rate, short sequences."""
    settings: dict[str, Any] = {
        "objective": "dpo",
        "dataset": "datasets/preferences.jsonl",
        "learning_rate": 5e-3,
        "per_device_batch_size": 4,
        "max_length": 192,
        "val_fraction": 0.25,
        "max_steps": 6,
        "eval_steps": 3,
        "save_steps": 3,
    }
    return tiny_config(model_dir, **(settings | changes))


def of(events: list[Any], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def rows(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def dpo_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path):  # noqa: ANN201
    """A 6-step DPO run from the base model on 16 sample pairs and 3 bad ones."""
    project = create_project(tmp_path_factory.mktemp("dpo") / "project", "DPO").folder
    lines = [*sample_pairs(16), *(json.dumps(pair) for pair in bad_pairs())]
    write_dataset(project / "datasets" / "preferences.jsonl", lines)
    events: list[Any] = []
    config = dpo_config(tiny_model_dir)
    result = run_training(config, events.append, project=project)
    assert result.status == "finished", result.message
    return project, config, result, events


def test_dpo_raises_the_reward_margin(dpo_run) -> None:  # noqa: ANN001
    _, _, result, events = dpo_run
    steps = of(events, StepLogged)
    assert [e.step for e in steps] == [1, 2, 3, 4, 5, 6]
    for event in steps:
        assert set(REWARDS) <= set(event.metrics)
        assert {"logps/chosen", "logps/rejected"} <= set(event.metrics)
    margins = [e.metrics["rewards/margins"] for e in steps]
    # A fresh adapter starts as the base model, which is the reference: no margin yet.
    assert margins[0] == pytest.approx(0.0, abs=1e-6)
    assert sum(margins[3:]) / 3 > sum(margins[:3]) / 3 + 0.1
    assert steps[-1].metrics["rewards/accuracies"] >= 0.75
    assert steps[-1].loss < steps[0].loss
    evaluations = of(events, Evaluated)
    assert [e.step for e in evaluations] == [3, 6]
    assert evaluations[1].eval_loss < evaluations[0].eval_loss
    # metrics.jsonl records them under exactly those names, the evaluations' too.
    logged = rows(result.run_dir)
    assert [row["step"] for row in logged] == [1, 2, 3, 4, 5, 6]
    for row, event in zip(logged, steps, strict=True):
        assert {name: row[name] for name in REWARDS} == {n: event.metrics[n] for n in REWARDS}
    assert logged[5]["eval_loss"] == evaluations[1].eval_loss
    assert logged[5]["eval_rewards/margins"] > logged[2]["eval_rewards/margins"]
    assert "eval_rewards/accuracies" in logged[5]


def test_a_dpo_run_folder(dpo_run) -> None:  # noqa: ANN001
    _, config, result, events = dpo_run
    run = result.run_dir
    info = read_run_file(run)
    assert (info["objective"], info["status"]) == ("dpo", "finished")
    dataset = info["dataset"]
    assert dataset["kind"] == "preference"
    assert dataset["excluded"] == {"rejected": 1, "errors": 2}
    assert dataset["train_examples"] + dataset["val_examples"] == 16
    started = of(events, Started)[0]
    assert (started.train_examples, started.val_examples) == (
        dataset["train_examples"],
        dataset["val_examples"],
    )
    notes = [e.message for e in of(events, TrainingWarning) if e.code == "data"]
    assert any("2 example(s) with errors are left out" in note for note in notes)
    # The exact pairs, byte for byte; the bad ones are not among them.
    copies = (run / "data" / "train.jsonl").read_text().splitlines()
    copies += (run / "data" / "validation.jsonl").read_text().splitlines()
    assert sorted(copies) == sorted(sample_pairs(16))
    assert (run / "adapter" / "adapter_model.safetensors").is_file()
    assert [p.name for p in sorted(run.glob("checkpoint-*"))] == ["checkpoint-3", "checkpoint-6"]


def test_a_stopped_dpo_run_resumes_like_an_uninterrupted_one(
    dpo_run,  # noqa: ANN001
) -> None:
    project, config, straight, _ = dpo_run
    asked: list[bool] = []

    def listen(event: Any) -> None:
        if isinstance(event, StepLogged) and event.step == 2:
            asked.append(True)  # Stop while step 3 runs

    stopped = run_training(config, listen, lambda: bool(asked), project=project)
    assert (stopped.status, stopped.step) == ("stopped", 3)
    events: list[Any] = []
    resumed = run_training(config, events.append, project=project, resume=stopped.run_dir)
    assert (resumed.status, resumed.step) == ("finished", 6)
    assert of(events, Started)[0].start_step == 3
    assert resumed.final_loss == pytest.approx(straight.final_loss, abs=1e-4)
    got, want = rows(resumed.run_dir), rows(straight.run_dir)
    assert [row["step"] for row in got] == list(range(1, 7))
    for a, b in zip(got, want, strict=True):
        assert a["rewards/margins"] == pytest.approx(b["rewards/margins"], abs=1e-4)


@pytest.fixture
def sft_project(tmp_path: Path, trained_run: Path) -> tuple[Path, Path]:
    """A private copy of the trained SFT run's project: (project, run folder)."""
    project = shutil.copytree(trained_run.parent.parent, tmp_path / "project")
    return project, project / "runs" / trained_run.name


def test_dpo_on_an_sft_adapter_compares_with_the_sft_model(
    sft_project: tuple[Path, Path], tiny_model_dir: Path
) -> None:
    project, sft_run = sft_project
    sft_weights = load_file(sft_run / "adapter" / "adapter_model.safetensors")
    # The SFT adapter changed the model (its B matrices are no longer zero).
    assert any(t.abs().max() > 0 for name, t in sft_weights.items() if "lora_B" in name)
    config = dpo_config(
        tiny_model_dir, init_adapter=f"runs/{sft_run.name}", max_steps=3, val_fraction=0.2
    )
    events: list[Any] = []
    result = run_training(config, events.append, project=project)
    assert result.status == "finished", result.message
    steps = of(events, StepLogged)
    # Policy and reference are both the SFT model at the first step: every reward is 0.
    # (Against the bare base model, the SFT adapter's own changes would show as rewards.)
    for name in ("rewards/chosen", "rewards/rejected", "rewards/margins"):
        assert steps[0].metrics[name] == pytest.approx(0.0, abs=1e-5)
    assert any(abs(e.metrics["rewards/chosen"]) > 1e-3 for e in steps[1:])
    assert read_run_file(result.run_dir)["init_adapter"] == str(sft_run / "adapter")
    # The DPO adapter continues the SFT one; the reference copy stays out of it.
    dpo_weights = load_file(result.adapter_dir / "adapter_model.safetensors")
    assert dpo_weights.keys() == sft_weights.keys()
    assert any(not torch.equal(dpo_weights[k], sft_weights[k]) for k in sft_weights)
    assert not (result.adapter_dir / "ref").exists()
    assert (result.run_dir / "checkpoint-3" / "ref" / "adapter_config.json").is_file()


def test_sft_continues_an_earlier_adapter(
    sft_project: tuple[Path, Path], tiny_model_dir: Path
) -> None:
    project, sft_run = sft_project
    config = tiny_config(tiny_model_dir, init_adapter=str(sft_run), max_steps=1, eval_steps=0)
    events: list[Any] = []
    result = run_training(config, events.append, project=project)
    assert result.status == "finished", result.message
    # The same first batch as the SFT run's first step, on the trained adapter: lower loss.
    first = rows(sft_run)[0]
    assert of(events, StepLogged)[0].loss < first["loss"] - 0.1


def test_init_adapter_problems_fail_plainly(
    sft_project: tuple[Path, Path], tiny_model_dir: Path
) -> None:
    project, sft_run = sft_project
    missing = dpo_config(tiny_model_dir, init_adapter="runs/no-such-run")
    events: list[Any] = []
    result = run_training(missing, events.append, project=project)
    assert (result.status, result.code) == ("failed", "config")
    assert "runs/no-such-run does not exist" in result.message
    assert isinstance(events[-1], Failed)
    config_path = sft_run / "adapter" / "adapter_config.json"
    adapter_config = json.loads(config_path.read_text())
    adapter_config["base_model_name_or_path"] = "someorg/other-model"
    config_path.write_text(json.dumps(adapter_config))
    other = dpo_config(tiny_model_dir, init_adapter=f"runs/{sft_run.name}")
    result = run_training(other, project=project)
    assert (result.status, result.code) == ("failed", "config")
    assert "was trained on someorg/other-model" in result.message
    full = dataclasses.replace(other, method="full")
    result = run_training(full, project=project)
    assert (result.status, result.code) == ("failed", "config")
    assert "full fine-tuning trains every weight" in result.message
