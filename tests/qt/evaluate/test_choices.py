"""Runs and saved models listed from the run folders, without the engine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ftstudio.qt.evaluate.choices import list_adapter_options, list_run_choices, run_count
from tests.qt.evaluate.conftest import TrainedCopy


def test_a_run_lists_its_final_adapter_then_checkpoints_newest_first(
    trained: TrainedCopy,
) -> None:
    options = list_adapter_options(trained.run_dir)
    assert [(o.label, o.kind, o.step) for o in options] == [
        ("Final adapter", "adapter", None),
        ("Checkpoint at step 6", "checkpoint", 6),
        ("Checkpoint at step 3", "checkpoint", 3),
    ]
    assert options[0].path == trained.run_dir / "adapter"
    assert options[2].path == trained.run_dir / "checkpoint-3"


def test_incomplete_checkpoints_are_left_out(trained: TrainedCopy) -> None:
    (trained.run_dir / "checkpoint-3" / "ftstudio-checkpoint.json").unlink()
    shutil.copytree(trained.run_dir / "checkpoint-6", trained.run_dir / "checkpoint-9")  # step 6
    (trained.run_dir / ".tmp-checkpoint-12").mkdir()
    labels = [o.label for o in list_adapter_options(trained.run_dir)]
    assert labels == ["Final adapter", "Checkpoint at step 6"]


def test_finished_runs_come_first_and_runs_without_a_model_are_left_out(
    trained: TrainedCopy,
) -> None:
    runs = trained.run_dir.parent
    stopped = runs / "20991231-235959-beef"
    shutil.copytree(trained.run_dir, stopped)
    info = json.loads((stopped / "run.json").read_text(encoding="utf-8"))
    info.update(
        id=stopped.name,
        name="Later, stopped",
        status="stopped",
        created="2099-12-31T23:59:59+00:00",
    )
    (stopped / "run.json").write_text(json.dumps(info), encoding="utf-8")
    shutil.rmtree(stopped / "adapter")
    empty = runs / "20991231-235959-0000"
    empty.mkdir()
    (empty / "run.json").write_text(
        json.dumps({"ftstudio_run": 1, "id": empty.name, "status": "failed"}), encoding="utf-8"
    )
    (runs / "not-a-run").mkdir()

    choices = list_run_choices(trained.project.folder)
    assert [c.run_dir for c in choices] == [trained.run_dir, stopped]
    assert choices[0].label.startswith(f"{trained.run_dir.name} · finished · lora · ")
    assert choices[1].label.startswith("Later, stopped · stopped · lora · ")
    assert [o.label for o in choices[1].adapters] == [
        "Checkpoint at step 6",
        "Checkpoint at step 3",
    ]
    assert run_count(trained.project.folder) == 3


def test_a_project_without_runs_has_no_choices(tmp_path: Path) -> None:
    assert list_run_choices(tmp_path) == []
    assert run_count(tmp_path) == 0
