"""Real training runs on the tiny model (CPU): QLoRA, LoRA, full, stop, NaN, kill and resume."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import TrainerCallback

from ftstudio.core.events import (
    CheckpointSaved,
    Evaluated,
    Failed,
    Finished,
    Started,
    StepLogged,
    TrainingWarning,
    event_from_json,
)
from ftstudio.core.runs import RunStore, read_run_file
from ftstudio.core.train_config import load_config, save_config
from ftstudio.engine.training import run_training
from ftstudio.engine.training.checkpoints import list_checkpoints, read_checkpoint
from tests.tiny import sample_lines, tiny_config

pytestmark = pytest.mark.slow


class Snapshot(TrainerCallback):
    """Copies every parameter before and after training, and one collated batch."""

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        model = kwargs["model"]
        self.before = {n: p.detach().clone() for n, p in model.named_parameters()}
        loader = kwargs["train_dataloader"]
        self.first = loader.dataset[0]
        self.batch = loader.collate_fn([loader.dataset[0], loader.dataset[1]])
        self.four_bit = sum(type(m).__name__ == "Linear4bit" for m in model.modules())

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        model = kwargs["model"]
        self.after = {n: p.detach().clone() for n, p in model.named_parameters()}

    def changed(self) -> dict[str, bool]:
        return {n: not torch.equal(self.before[n], self.after[n]) for n in self.before}


def train(project: Path, config: Any, **options: Any) -> tuple[Any, list[Any], Snapshot]:
    events: list[Any] = []
    snapshot = Snapshot()
    result = run_training(config, events.append, project=project, callbacks=[snapshot], **options)
    return result, events, snapshot


def of(events: list[Any], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def test_lora_trains_and_writes_a_complete_run(small_project: Path, tiny_model_dir: Path) -> None:
    config = tiny_config(tiny_model_dir, max_steps=6)
    result, events, snapshot = train(small_project, config, name="first run")
    assert result.status == "finished", result.message
    assert (result.step, result.total_steps) == (6, 6)
    # The loss falls; eval_loss arrives at steps 3 and 6 and falls too.
    losses = [e.loss for e in of(events, StepLogged)]
    assert len(losses) == 6
    assert losses[-1] < losses[0]
    evaluations = of(events, Evaluated)
    assert [e.step for e in evaluations] == [3, 6]
    assert evaluations[1].eval_loss < evaluations[0].eval_loss
    # The base weights are untouched; every LoRA matrix trained.
    changed = snapshot.changed()
    lora = {n for n in changed if "lora_" in n}
    assert lora
    assert all(changed[n] for n in lora)
    assert not any(changed[n] for n in changed if n not in lora)
    # The trainer got the studio's labels, packed without padding.
    assert snapshot.first["labels"] != snapshot.first["input_ids"]
    batch = snapshot.batch
    assert batch["input_ids"].shape[0] == 1  # padding-free: one row, no pad tokens
    assert "position_ids" in batch
    # Events: started first, finished last, checkpoints in between.
    kinds = [e.kind for e in events]
    assert kinds.index("started") < kinds.index("step")
    assert isinstance(events[-1], Finished)
    assert [e.step for e in of(events, CheckpointSaved)] == [3, 6]
    # The run folder.
    run = result.run_dir
    assert run.parent == small_project / "runs"
    assert load_config(run / "config.yaml") == config
    info = read_run_file(run)
    assert (info["name"], info["status"], info["dataset"]["train_examples"]) == (
        "first run",
        "finished",
        len((run / "data" / "train.jsonl").read_text().splitlines()),
    )
    assert info["versions"]["torch"] == torch.__version__
    assert info["dataset"]["sha256"]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all({"loss", "learning_rate", "grad_norm"} <= set(r) for r in rows)
    assert [r["step"] for r in rows if "eval_loss" in r] == [3, 6]
    lines = (run / "events.jsonl").read_text().splitlines()
    logged = [event_from_json(json.loads(line)) for line in lines]
    assert logged == events
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()
    assert not (result.adapter_dir / "training_args.bin").exists()
    assert [c.step for c in list_checkpoints(run, verify=True)] == [3, 6]
    assert not [p for p in run.iterdir() if p.name.startswith(".tmp")]
    # The database row.
    row = RunStore.for_project(small_project).get(result.run_id)
    assert (row.status, row.step, row.total_steps, row.method) == ("finished", 6, 6, "lora")
    assert row.best_eval_loss == pytest.approx(evaluations[1].eval_loss)
    assert row.name == "first run"
    assert row.started is not None
    assert row.ended is not None


def test_qlora_trains_in_4_bit(small_project: Path, tiny_model_dir: Path) -> None:
    config = tiny_config(tiny_model_dir, method="qlora", max_steps=4, eval_steps=2, save_steps=4)
    result, events, snapshot = train(small_project, config)
    if result.status == "failed" and "bitsandbytes" in of(events, Failed)[0].detail:
        pytest.skip(f"bitsandbytes 4-bit does not work on this CPU: {result.message}")
    assert result.status == "finished", result.message
    assert snapshot.four_bit > 0  # the linear layers really are 4-bit
    losses = [e.loss for e in of(events, StepLogged)]
    assert losses[-1] < losses[0]
    evaluations = of(events, Evaluated)
    assert evaluations[1].eval_loss < evaluations[0].eval_loss
    changed = snapshot.changed()
    lora = {n for n in changed if "lora_" in n}
    assert lora
    assert all(changed[n] for n in lora)
    # Unchanged after training and an evaluation: the packed 4-bit weights too (no
    # AVX512-BF16 inference repack, which would also break the gradients).
    assert not any(changed[n] for n in changed if n not in lora)
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()


def test_full_fine_tuning_trains_every_weight(small_project: Path, tiny_model_dir: Path) -> None:
    config = tiny_config(tiny_model_dir, method="full", max_steps=4, learning_rate=1e-3)
    result, events, snapshot = train(small_project, config)
    assert result.status == "finished", result.message
    losses = [e.loss for e in of(events, StepLogged)]
    assert losses[-1] < losses[0]
    changed = snapshot.changed()
    assert all(changed.values())
    assert result.adapter_dir == result.run_dir / "model"
    assert (result.adapter_dir / "model.safetensors").is_file()
    assert (result.adapter_dir / "config.json").is_file()


def test_stop_saves_a_checkpoint_and_can_resume(small_project: Path, tiny_model_dir: Path) -> None:
    config = tiny_config(tiny_model_dir, max_steps=6, save_steps=5)
    asked: list[bool] = []

    def listen(event: Any) -> None:
        if isinstance(event, StepLogged) and event.step == 2:
            asked.append(True)  # the user presses Stop while step 3 runs

    result = run_training(config, listen, lambda: bool(asked), project=small_project)
    assert result.status == "stopped"
    assert result.step == 3
    assert read_checkpoint(result.run_dir / "checkpoint-3").step == 3
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()
    assert RunStore.for_project(small_project).get(result.run_id).status == "stopped"
    # Resuming after the settings and the data changed works, and says so.
    changed = dataclasses.replace(config, learning_rate=5e-3)
    dataset = small_project / "datasets" / "train.jsonl"
    dataset.write_text(dataset.read_text() + sample_lines(25)[-1] + "\n")
    events: list[Any] = []
    resumed = run_training(changed, events.append, project=small_project, resume=True)
    assert (resumed.status, resumed.run_dir, resumed.step) == ("finished", result.run_dir, 6)
    warned = {e.code for e in events if isinstance(e, TrainingWarning)}
    assert {"resume_config_changed", "resume_dataset_changed"} <= warned
    assert load_config(result.run_dir / "config.resume-3.yaml").learning_rate == 5e-3
    assert load_config(result.run_dir / "config.yaml") == config
    rows = [json.loads(x) for x in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert len(read_run_file(result.run_dir)["sessions"]) == 2


def test_a_nan_from_a_huge_learning_rate_fails_the_run(
    small_project: Path, tiny_model_dir: Path
) -> None:
    config = tiny_config(tiny_model_dir, max_steps=6, learning_rate=1e30)
    events: list[Any] = []
    result = run_training(config, events.append, project=small_project)
    assert (result.status, result.code) == ("failed", "nan_loss")
    assert result.step < 6
    assert "learning rate too high (1.0e+30" in result.message
    failed = events[-1]
    assert isinstance(failed, Failed)
    assert failed.code == "nan_loss"
    assert not (result.run_dir / "adapter").exists()
    row = RunStore.for_project(small_project).get(result.run_id)
    assert row.status == "failed"
    assert "NaN" in row.error


def test_dpo_on_chat_examples_fails_with_a_plain_message(
    small_project: Path, tiny_model_dir: Path
) -> None:
    events: list[Any] = []
    result = run_training(
        tiny_config(tiny_model_dir, objective="dpo"), events.append, project=small_project
    )
    assert (result.status, result.code) == ("failed", "data")
    assert "holds chat examples, but DPO (objective: dpo) trains on preference pairs" in (
        result.message
    )
    assert isinstance(events[-1], Failed)
    packed = tiny_config(tiny_model_dir, objective="dpo", packing=True)
    result = run_training(packed, project=small_project)
    assert (result.status, result.code, result.run_dir) == ("failed", "config", None)
    assert "set packing: false" in result.message


def test_a_hub_model_that_cannot_be_downloaded_fails_plainly(
    small_project: Path, tiny_model_dir: Path
) -> None:
    """A hub id is fetched only when training starts; offline and not cached, it says so."""
    config = tiny_config(tiny_model_dir, base_model="example-org/never-downloaded-7b")
    result = run_training(config, None, project=small_project)
    assert (result.status, result.code) == ("failed", "model")
    assert "not downloaded yet and the hub cannot be reached" in result.message


def test_bad_data_fails_before_loading_the_model(small_project: Path, tiny_model_dir: Path) -> None:
    config = tiny_config(tiny_model_dir, dataset="datasets/missing.jsonl")
    events: list[Any] = []
    result = run_training(config, events.append, project=small_project)
    assert (result.status, result.code) == ("failed", "data")
    assert "missing.jsonl" in result.message
    assert RunStore.for_project(small_project).get(result.run_id).status == "failed"


KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from ftstudio.core.train_config import load_config
    from ftstudio.engine.training import run_training

    def listen(event):
        if event.kind == "step" and event.step == 5:  # after checkpoint-4, mid-run
            os.kill(os.getpid(), signal.SIGKILL)

    run_training(load_config(Path(sys.argv[1])), listen, project=Path(sys.argv[2]))
    """
)


def test_kill_9_then_resume_matches_an_uninterrupted_run(
    small_project: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    config = tiny_config(tiny_model_dir, max_steps=8, save_steps=2, eval_steps=4)
    path = save_config(config, tmp_path / "kill.yaml")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(path), str(small_project)],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).parents[3])},
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    (run,) = [p for p in (small_project / "runs").iterdir() if p.is_dir()]
    assert [c.step for c in list_checkpoints(run, verify=True)] == [2, 4]
    assert RunStore.for_project(small_project).get(run.name).status == "running"

    events: list[Any] = []
    resumed = run_training(config, events.append, project=small_project, resume=True)
    assert resumed.status == "finished", resumed.message
    assert (resumed.run_dir, resumed.step) == (run, 8)
    assert of(events, Started)[0].start_step == 4

    reference = tmp_path / "reference"
    (reference / "datasets").mkdir(parents=True)
    (reference / "datasets" / "train.jsonl").write_bytes(
        (small_project / "datasets" / "train.jsonl").read_bytes()
    )
    straight = run_training(config, project=reference)
    assert straight.step == resumed.step == 8
    assert resumed.final_loss == pytest.approx(straight.final_loss, abs=1e-3)
    rows = {
        name: [json.loads(x) for x in (r.run_dir / "metrics.jsonl").read_text().splitlines()]
        for name, r in (("resumed", resumed), ("straight", straight))
    }
    assert [r["step"] for r in rows["resumed"]] == list(range(1, 9))
    for a, b in zip(rows["resumed"], rows["straight"], strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-3)
        assert a.get("eval_loss", 0) == pytest.approx(b.get("eval_loss", 0), abs=1e-3)
    row = RunStore.for_project(small_project).get(run.name)
    assert (row.status, row.step) == ("finished", 8)


class OutOfMemoryAt(TrainerCallback):
    """Raises CUDA's out-of-memory error at a step (the fault, injected)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.step:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_memory_fails_with_the_fix(small_project: Path, tiny_model_dir: Path) -> None:
    config = tiny_config(tiny_model_dir, max_steps=4, per_device_batch_size=4)
    events: list[Any] = []
    result = run_training(
        config, events.append, project=small_project, callbacks=[OutOfMemoryAt(2)]
    )
    assert (result.status, result.code, result.step) == ("failed", "out_of_memory", 2)
    assert "ran out of memory at step 2" in result.message
    assert "batch 2 × accumulation 2" in result.message
    assert "gradient checkpointing" in result.message
    assert "estimate" in result.message
    assert isinstance(events[-1], Failed)
    assert "OutOfMemoryError" in events[-1].detail
    row = RunStore.for_project(small_project).get(result.run_id)
    assert (row.status, row.error) == ("failed", result.message)


def test_early_stopping_keeps_the_best_checkpoint(tmp_path: Path, tiny_model_dir: Path) -> None:
    """Validation answers unlike the training answers: the validation loss soon rises."""
    from ftstudio.core.dataset.records import Dataset, Record
    from ftstudio.core.dataset.split import assign_split
    from ftstudio.core.project import create_project
    from tests.tiny import write_dataset

    project = create_project(tmp_path / "p", "Early").folder
    question = [{"role": "user", "content": "What colour is the sky?"}]
    rows = [
        {"id": i, "messages": [*question, {"role": "assistant", "content": "Blue, always."}]}
        for i in range(40)
    ]
    for index in assign_split(Dataset([Record(data=r) for r in rows]), 0.2, 0).val:
        rows[index]["messages"] = [
            {"role": "user", "content": "Where is the printer?"},
            {"role": "assistant", "content": "On the second floor, next to the kitchen."},
        ]
    write_dataset(project / "datasets" / "train.jsonl", rows)
    config = tiny_config(
        tiny_model_dir,
        max_steps=30,
        eval_steps=1,
        save_steps=100,
        early_stopping_patience=3,
        per_device_batch_size=4,
    )
    events: list[Any] = []
    result = run_training(config, events.append, project=project)
    assert result.status == "finished"
    assert result.step < 30
    assert "Stopped early" in result.message
    evaluations = of(events, Evaluated)
    best = min(evaluations, key=lambda e: e.eval_loss)
    assert result.best_eval_loss == pytest.approx(best.eval_loss)
    assert [e.step for e in evaluations[-3:]] == [result.step - 2, result.step - 1, result.step]
    assert all(not e.is_best for e in evaluations[-3:])
    kept = result.run_dir / f"checkpoint-{best.step}"
    assert read_checkpoint(kept).step == best.step  # a checkpoint saved at every new best
    final = (result.adapter_dir / "adapter_model.safetensors").read_bytes()
    assert final == (kept / "adapter_model.safetensors").read_bytes()


def test_stop_before_training_starts(small_project: Path, tiny_model_dir: Path) -> None:
    events: list[Any] = []
    result = run_training(
        tiny_config(tiny_model_dir), events.append, lambda: True, project=small_project
    )
    assert (result.status, result.step) == ("stopped", 0)
    assert isinstance(events[-1], Finished)
    assert not of(events, Started)
    assert RunStore.for_project(small_project).get(result.run_id).status == "stopped"
