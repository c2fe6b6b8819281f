"""Export folders: written aside, renamed into place, earlier exports replaced, others refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftstudio.core.export_config import MARKER
from ftstudio.engine.export import ExportError
from ftstudio.engine.export.staging import Staging, check_target, leftovers


def test_commit_renames_the_partial_folder_into_place(tmp_path: Path) -> None:
    out = tmp_path / "exports" / "merged"
    with Staging(out) as staging:
        assert staging.path is not None
        assert staging.path.parent == out.parent
        assert staging.path.name.startswith("merged.partial-")
        (staging.path / "model.safetensors").write_bytes(b"weights")
        assert not out.exists()
        staging.commit()
    assert (out / "model.safetensors").read_bytes() == b"weights"
    assert leftovers(out) == []


def test_an_error_removes_the_partial_folder(tmp_path: Path) -> None:
    out = tmp_path / "merged"

    def write_then_fail() -> None:
        with Staging(out) as staging:
            assert staging.path is not None
            (staging.path / "half.safetensors").write_bytes(b"half")
            raise RuntimeError("disk died")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert not out.exists()
    assert leftovers(out) == []


def test_an_earlier_export_is_replaced_only_when_the_new_one_is_complete(tmp_path: Path) -> None:
    out = tmp_path / "merged"
    out.mkdir()
    (out / MARKER).write_text("{}", encoding="utf-8")
    (out / "old.safetensors").write_bytes(b"old")
    check_target(out, tmp_path / "run")
    with Staging(out) as staging:
        assert staging.path is not None
        (staging.path / "new.safetensors").write_bytes(b"new")
        assert (out / "old.safetensors").is_file()  # still there while the new one is written
        staging.commit()
    assert sorted(p.name for p in out.iterdir()) == ["new.safetensors"]
    assert leftovers(out) == []


def test_an_empty_folder_is_accepted(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    check_target(out, tmp_path / "run")


def test_other_folders_files_and_the_run_itself_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ExportError, match="already holds other files") as caught:
        check_target(out, tmp_path / "run")
    assert caught.value.code == "exists"
    assert (out / "notes.txt").is_file()
    file = tmp_path / "file.gguf"
    file.write_bytes(b"x")
    with pytest.raises(ExportError, match="is a file"):
        check_target(file, tmp_path / "run")
    run = tmp_path / "project" / "runs" / "r1"
    with pytest.raises(ExportError, match="holds the run itself"):
        check_target(run.parent, run)
