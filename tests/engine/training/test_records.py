"""The run's records: run.json, config.yaml, events.jsonl and the database row."""

from __future__ import annotations

import json
from pathlib import Path

from ftstudio.core.events import TrainingWarning
from ftstudio.core.runs import RunPaths, RunStore, read_run_file
from ftstudio.core.train_config import TrainConfig, load_config
from ftstudio.engine.training.records import (
    RunRecorder,
    runnable_config,
    training_config_hash,
    truncate_metrics,
)


def test_a_run_is_recorded_from_queued_to_finished(tmp_path: Path) -> None:
    events: list[object] = []
    paths = RunPaths(tmp_path / "runs" / "r1")
    recorder = RunRecorder(paths, tmp_path, on_event=events.append)
    config = TrainConfig(dataset="/data/train.jsonl", method="lora")
    recorder.create(config, name="Named")
    store = RunStore.for_project(tmp_path)
    assert store.get("r1").status == "queued"
    assert load_config(paths.config) == config
    recorder.started(total_steps=10, start_step=0, device="cpu")
    assert store.get("r1").status == "running"
    recorder.warn("data", "Something to know.", 0)
    recorder.ended("finished", step=10, total_steps=10, final_loss=1.5, best_eval_loss=1.25)
    row = store.get("r1")
    assert (row.status, row.step, row.final_loss, row.best_eval_loss) == ("finished", 10, 1.5, 1.25)
    info = read_run_file(paths.root)
    assert (info["name"], info["status"], info["config_sha256"]) == (
        "Named",
        "finished",
        training_config_hash(config),
    )
    assert info["sessions"][0]["status"] == "finished"
    assert "transformers" in info["versions"]
    assert [json.loads(line)["event"] for line in paths.events.read_text().splitlines()] == [
        "warning"
    ]
    assert isinstance(events[0], TrainingWarning)


def test_a_damaged_database_warns_once_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "runs.sqlite").write_bytes(b"not a database" * 100)
    events: list[object] = []
    paths = RunPaths(tmp_path / "runs" / "r2")
    recorder = RunRecorder(paths, tmp_path, on_event=events.append)
    recorder.create(TrainConfig(), name=None)
    recorder.started(total_steps=5, start_step=0, device="cpu")
    recorder.ended("finished", step=5, total_steps=5)
    warnings = [e for e in events if isinstance(e, TrainingWarning)]
    assert [w.code for w in warnings] == ["run_database"]
    assert "damaged" in warnings[0].message
    assert read_run_file(paths.root)["status"] == "finished"


def test_other_processes_record_nothing(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / "runs" / "r3")
    recorder = RunRecorder(paths, tmp_path, is_main=False)
    recorder.create(TrainConfig(), name=None)
    recorder.warn("x", "y")
    assert not paths.root.exists()


def test_resume_drops_metrics_after_the_checkpoint(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    rows = [{"step": step, "loss": 1.0} for step in range(1, 7)]
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 7, "lo')
    truncate_metrics(metrics, 4)
    assert [json.loads(x)["step"] for x in metrics.read_text().splitlines()] == [1, 2, 3, 4]


def test_config_paths_outside_a_project_become_absolute(tmp_path: Path) -> None:
    config = TrainConfig(dataset="data/train.jsonl")
    assert runnable_config(config, tmp_path).dataset == str(tmp_path / "data" / "train.jsonl")
    (tmp_path / "project.json").write_text("{}")
    assert runnable_config(config, tmp_path) == config
    assert training_config_hash(config) == training_config_hash(
        TrainConfig(dataset="data/train.jsonl", output_dir="elsewhere")
    )
