"""Checkpoints: staged then renamed, hashed, only complete ftstudio ones resumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftstudio.engine.training.checkpoints import (
    MANIFEST,
    CheckpointError,
    checkpoint_dir,
    config_hash,
    estimate_checkpoint_bytes,
    finalize_checkpoint,
    free_bytes,
    latest_checkpoint,
    list_checkpoints,
    read_checkpoint,
    remove_staging,
    rotate_checkpoints,
    space_problem,
    staging_dir,
)


def staged_checkpoint(run: Path, step: int, weights: bytes = b"weights") -> Path:
    """What the Trainer leaves in the staging folder before ftstudio finishes it."""
    staged = staging_dir(run, step) / f"checkpoint-{step}"
    staged.mkdir(parents=True)
    (staged / "adapter_model.safetensors").write_bytes(weights)
    (staged / "optimizer.pt").write_bytes(b"optimizer state")
    (staged / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return staged


def complete(run: Path, step: int, weights: bytes = b"weights") -> Path:
    staged = staged_checkpoint(run, step, weights)
    finalize_checkpoint(
        staged, checkpoint_dir(run, step), step=step, config_sha256="c", dataset_sha256="d"
    )
    remove_staging(run)
    return checkpoint_dir(run, step)


def test_a_finished_checkpoint_is_renamed_into_place_with_its_manifest(tmp_path: Path) -> None:
    staged = staged_checkpoint(tmp_path, 10)
    info = finalize_checkpoint(
        staged, checkpoint_dir(tmp_path, 10), step=10, config_sha256="cfg", dataset_sha256="data"
    )
    assert info.path == tmp_path / "checkpoint-10"
    assert not staged.exists()
    manifest = json.loads((info.path / MANIFEST).read_text())
    assert manifest["step"] == 10
    assert set(manifest["files"]) == {
        "adapter_model.safetensors",
        "optimizer.pt",
        "trainer_state.json",
    }
    again = read_checkpoint(info.path)
    assert (again.step, again.config_sha256, again.dataset_sha256) == (10, "cfg", "data")
    files = [p for p in info.path.iterdir() if p.name != MANIFEST]
    assert again.size_bytes == sum(p.stat().st_size for p in files)


def test_a_changed_or_missing_file_is_refused(tmp_path: Path) -> None:
    path = complete(tmp_path, 4)
    (path / "optimizer.pt").write_bytes(b"edited")
    with pytest.raises(CheckpointError, match=r"optimizer\.pt changed"):
        read_checkpoint(path)
    (path / "optimizer.pt").unlink()
    with pytest.raises(CheckpointError, match=r"optimizer\.pt is missing"):
        read_checkpoint(path)


def test_checkpoints_ftstudio_did_not_finish_are_never_resumed(tmp_path: Path) -> None:
    good = complete(tmp_path, 2)
    foreign = tmp_path / "checkpoint-6"  # e.g. a plain Trainer checkpoint, or a killed save
    foreign.mkdir()
    (foreign / "optimizer.pt").write_bytes(b"?")
    with pytest.raises(CheckpointError, match="did not write it, or it was never completed"):
        read_checkpoint(foreign)
    staged_checkpoint(tmp_path, 8)  # killed while the Trainer was writing
    assert [info.step for info in list_checkpoints(tmp_path)] == [2]
    assert latest_checkpoint(tmp_path).path == good
    removed = remove_staging(tmp_path)
    assert [p.name for p in removed] == [".tmp-checkpoint-8"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-2", "checkpoint-6"]


def test_the_newest_intact_checkpoint_is_the_latest(tmp_path: Path) -> None:
    complete(tmp_path, 2)
    complete(tmp_path, 4)
    newest = complete(tmp_path, 6)
    (newest / "adapter_model.safetensors").write_bytes(b"torn")
    assert latest_checkpoint(tmp_path).step == 4
    assert latest_checkpoint(tmp_path / "nothing") is None


def test_saving_the_same_step_again_replaces_it(tmp_path: Path) -> None:
    complete(tmp_path, 3, b"first")
    complete(tmp_path, 3, b"second")
    assert (tmp_path / "checkpoint-3" / "adapter_model.safetensors").read_bytes() == b"second"
    assert read_checkpoint(tmp_path / "checkpoint-3").step == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-3"]


def test_rotation_keeps_the_newest_and_the_best(tmp_path: Path) -> None:
    for step in (2, 4, 6, 8, 10):
        complete(tmp_path, step)
    (tmp_path / "checkpoint-1").mkdir()  # not ftstudio's: never deleted
    removed = rotate_checkpoints(tmp_path, keep_last=2, keep_steps={4})
    assert sorted(p.name for p in removed) == ["checkpoint-2", "checkpoint-6"]
    assert [info.step for info in list_checkpoints(tmp_path)] == [4, 8, 10]
    assert (tmp_path / "checkpoint-1").is_dir()


def test_free_space_check(tmp_path: Path) -> None:
    free = free_bytes(tmp_path / "not" / "made" / "yet")
    assert free > 0
    assert space_problem(tmp_path, 1) is None
    message = space_problem(tmp_path, free * 4 + 2**40)
    assert message is not None
    assert str(tmp_path) in message
    assert "last complete checkpoint is kept" in message


def test_sizes_and_hashes() -> None:
    # LoRA: 1M trainable parameters, saved once plus two Adam states.
    assert estimate_checkpoint_bytes(10**6, 10**6, stateful=True) == 12 * 10**6 + 2**20
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})
