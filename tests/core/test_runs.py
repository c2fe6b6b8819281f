"""The run store: SQLite (WAL) rows, run files, locked and damaged databases."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from ftstudio.core import runs
from ftstudio.core.runs import (
    RunPaths,
    RunStore,
    RunStoreError,
    find_project_folder,
    new_run_id,
    read_run_file,
    write_run_file,
)


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore.for_project(tmp_path)


def test_a_new_database_is_in_wal_mode(store: RunStore, tmp_path: Path) -> None:
    assert store.path == tmp_path / "runs" / "runs.sqlite"
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_create_get_update_and_list(store: RunStore, tmp_path: Path) -> None:
    first = store.create(
        run_id="a", name="First", path=tmp_path / "runs" / "a", method="qlora", dataset="d.jsonl"
    )
    assert first.status == "queued"
    assert first.path == str((tmp_path / "runs" / "a").resolve())
    store.create(run_id="b", name="Second", path=tmp_path / "runs" / "b", method="lora")
    updated = store.update("a", status="finished", step=30, total_steps=30, best_eval_loss=1.25)
    assert (updated.status, updated.step, updated.best_eval_loss) == ("finished", 30, 1.25)
    assert store.get("a") == updated
    assert [r.id for r in store.list()] == ["a", "b"]
    assert store.find_by_path(tmp_path / "runs" / "b").name == "Second"
    assert store.get("missing") is None
    # A second store on the same file (another process, say) sees the same rows.
    assert [r.status for r in RunStore.for_project(tmp_path).list()] == ["finished", "queued"]
    store.delete("b")
    assert [r.id for r in store.list()] == ["a"]


def test_bad_values_are_refused(store: RunStore, tmp_path: Path) -> None:
    store.create(run_id="a", name="A", path=tmp_path / "a")
    with pytest.raises(RunStoreError, match="exists already"):
        store.create(run_id="a", name="again", path=tmp_path / "a2")
    with pytest.raises(ValueError, match="status"):
        store.update("a", status="paused")
    with pytest.raises(ValueError, match="Unknown run fields: colour"):
        store.update("a", colour="red")
    with pytest.raises(RunStoreError, match="no run with the id 'zzz'"):
        store.update("zzz", step=1)


def test_a_locked_database_gives_a_clear_error(
    store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.create(run_id="a", name="A", path=tmp_path / "a")
    monkeypatch.setattr(runs, "BUSY_TIMEOUT_S", 0.2)
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process is writing and does not finish
    try:
        assert [r.id for r in store.list()] == ["a"]  # readers are not blocked (WAL)
        with pytest.raises(RunStoreError, match="locked by another program") as caught:
            store.update("a", step=5)
        assert str(store.path) in str(caught.value)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.update("a", step=5).step == 5


def test_a_damaged_database_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "runs.sqlite"
    path.parent.mkdir()
    path.write_bytes(b"this is not SQLite at all, " * 100)
    with pytest.raises(RunStoreError) as caught:
        RunStore(path)
    message = str(caught.value)
    assert "damaged" in message
    assert str(path) in message
    assert "rename or delete" in message


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    sqlite3.connect(path).execute("PRAGMA user_version = 99")
    with pytest.raises(RunStoreError, match="newer ftstudio"):
        RunStore(path)


def test_rebuild_adds_runs_from_their_folders(store: RunStore, tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    write_run_file(
        folder / "r1",
        {
            "id": "r1",
            "name": "Kept",
            "status": "running",  # its process died: not running any more
            "method": "lora",
            "dataset": {"path": "datasets/a.jsonl"},
            "step": 12,
            "best_eval_loss": 0.5,
        },
    )
    write_run_file(folder / "r2", {"id": "r2", "name": "Done", "status": "finished"})
    (folder / "not-a-run").mkdir()
    assert store.rebuild() == 2
    rows = {r.id: r for r in store.list()}
    assert rows["r1"].status == "failed"
    assert (rows["r1"].step, rows["r1"].best_eval_loss) == (12, 0.5)
    assert rows["r1"].dataset == "datasets/a.jsonl"
    assert rows["r2"].status == "finished"
    assert store.rebuild() == 0


def test_run_files(tmp_path: Path) -> None:
    write_run_file(tmp_path, {"id": "x"})
    assert read_run_file(tmp_path)["id"] == "x"
    (tmp_path / "run.json").write_text("[]")
    with pytest.raises(RunStoreError, match="not an ftstudio run file"):
        read_run_file(tmp_path)
    with pytest.raises(RunStoreError, match="no run.json"):
        read_run_file(tmp_path / "elsewhere")


def test_run_ids_sort_by_time() -> None:
    early = new_run_id(datetime(2026, 1, 2, 3, 4, 5))
    late = new_run_id(datetime(2026, 1, 2, 3, 4, 6))
    assert re.fullmatch(r"20260102-030405-[0-9a-f]{4}", early)
    assert early < late


def test_run_paths_layout(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    assert paths.config.name == "config.yaml"
    assert paths.metrics.name == "metrics.jsonl"
    assert paths.events.name == "events.jsonl"
    assert paths.train_file.relative_to(tmp_path).as_posix() == "data/train.jsonl"
    assert paths.val_file.relative_to(tmp_path).as_posix() == "data/validation.jsonl"
    assert (paths.adapter_dir.name, paths.model_dir.name) == ("adapter", "model")


def test_find_project_folder(tmp_path: Path) -> None:
    (tmp_path / "p" / "configs").mkdir(parents=True)
    (tmp_path / "p" / "project.json").write_text("{}")
    assert find_project_folder(tmp_path / "p" / "configs") == (tmp_path / "p").resolve()
    assert find_project_folder(tmp_path / "p" / "project.json") == (tmp_path / "p").resolve()
    assert find_project_folder(tmp_path) is None
