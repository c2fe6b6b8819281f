"""What every run recorder shares: events, run.json, the database row, one database warning."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ftstudio.core.events import TrainingWarning
from ftstudio.core.runs import RunPaths, RunStore, read_run_file
from ftstudio.engine.run_recorder import RunFolderRecorder

ROW = {"name": "Named", "method": "lora", "base_model": "tiny", "dataset": "data.jsonl"}


class JobRecorder(RunFolderRecorder):
    GOES_ON = "The job goes on."


def test_events_go_to_the_file_and_the_listener(tmp_path: Path) -> None:
    events: list[object] = []
    paths = RunPaths(tmp_path / "runs" / "r1")
    recorder = RunFolderRecorder(paths, tmp_path, on_event=events.append)
    recorder.warn("data", "Something to know.", 3)
    assert [json.loads(line)["event"] for line in paths.events.read_text().splitlines()] == [
        "warning"
    ]
    [event] = events
    assert isinstance(event, TrainingWarning)
    assert (event.code, event.message, event.step) == ("data", "Something to know.", 3)


def test_the_row_is_made_once_and_follows_the_run(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / "runs" / "r1")
    recorder = RunFolderRecorder(paths, tmp_path)
    recorder.ensure_row(**ROW)  # no row yet: made
    recorder.ensure_row(**ROW)  # already there: kept
    store = RunStore.for_project(tmp_path)
    assert [row.id for row in store.list()] == ["r1"]
    assert store.get("r1").status == "queued"
    recorder.update_row(status="running", step=2)
    assert (store.get("r1").status, store.get("r1").step) == ("running", 2)


def test_run_json_and_the_last_session(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / "runs" / "r1")
    recorder = RunFolderRecorder(paths, tmp_path)
    recorder.save()  # nothing to write yet
    assert not paths.run_file.exists()
    recorder.info = {"id": "r1", "name": "r1", "sessions": [{"started": "then"}]}
    recorder.end_session("stopped", "now")
    recorder.save()
    assert read_run_file(paths.root)["sessions"] == [
        {"started": "then", "ended": "now", "status": "stopped"}
    ]


def test_a_damaged_database_warns_once_in_the_subclass_words(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "runs.sqlite").write_bytes(b"not a database" * 100)
    events: list[object] = []
    recorder = JobRecorder(RunPaths(tmp_path / "runs" / "r2"), tmp_path, on_event=events.append)
    recorder.create_row(**ROW)
    recorder.update_row(status="running")
    assert [type(event) for event in events] == [TrainingWarning]
    assert "damaged" in events[0].message
    assert events[0].message.endswith("The job goes on.")


def test_other_processes_record_nothing(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / "runs" / "r3")
    recorder = RunFolderRecorder(paths, tmp_path, is_main=False)
    recorder.warn("x", "y")
    recorder.create_row(**ROW)
    assert not paths.root.exists()


def test_it_imports_no_torch() -> None:
    code = "import sys, ftstudio.engine.run_recorder; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
