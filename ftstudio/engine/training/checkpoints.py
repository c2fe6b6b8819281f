"""Crash-safe checkpoints: staged, renamed into place, hashed, and checked before resuming.

The Trainer writes a checkpoint into ``<run>/.tmp-checkpoint-<step>/checkpoint-<step>``;
ftstudio then writes a manifest (``ftstudio-checkpoint.json``: the step, the
configuration and dataset hashes and the SHA-256 of every file), fsyncs the files
and renames the folder to ``<run>/checkpoint-<step>``. A kill at any moment
therefore leaves either no ``checkpoint-<step>`` or a complete one; an orphaned
``.tmp-checkpoint-*`` is removed when the run starts or resumes.

Resuming accepts only folders with a manifest whose hashes match their files, so a
half-written, edited or foreign checkpoint is never loaded (its pickled optimizer,
scheduler and RNG states included; the Trainer loads those with
``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftstudio.core.atomic import atomic_write_json

MANIFEST = "ftstudio-checkpoint.json"
MANIFEST_FORMAT = 1
PREFIX = "checkpoint-"
STAGING_PREFIX = ".tmp-checkpoint-"
_NAME = re.compile(r"^checkpoint-(\d+)$")


class CheckpointError(Exception):
    """A checkpoint cannot be used; the message names the folder and what to do."""


@dataclass(frozen=True)
class CheckpointInfo:
    """A complete checkpoint that ftstudio wrote.

    Attributes:
        path: the ``checkpoint-<step>`` folder.
        step: the optimizer step it holds.
        config_sha256: hash of the configuration that wrote it.
        dataset_sha256: hash of the dataset file it trained on.
        files: relative path -> SHA-256 of every file in it.
    """

    path: Path
    step: int
    config_sha256: str
    dataset_sha256: str
    files: dict[str, str]

    @property
    def size_bytes(self) -> int:
        """Its size on disk."""
        return sum((self.path / name).stat().st_size for name in self.files)


def staging_dir(run_dir: Path, step: int) -> Path:
    """Where the Trainer writes checkpoint ``step`` before it is complete."""
    return Path(run_dir) / f"{STAGING_PREFIX}{step}"


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    """The final folder of checkpoint ``step``: ``<run>/checkpoint-<step>``."""
    return Path(run_dir) / f"{PREFIX}{step}"


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def finalize_checkpoint(
    staged: Path, final: Path, *, step: int, config_sha256: str, dataset_sha256: str
) -> CheckpointInfo:
    """Hash and fsync a staged checkpoint, write its manifest, and rename it to ``final``.

    An existing ``final`` (a checkpoint of the same step from an earlier session) is
    replaced.
    """
    staged, final = Path(staged), Path(final)
    files: dict[str, str] = {}
    for path in sorted(p for p in staged.rglob("*") if p.is_file()):
        _fsync_file(path)
        files[path.relative_to(staged).as_posix()] = sha256_file(path)
    manifest = {
        "ftstudio_checkpoint": MANIFEST_FORMAT,
        "step": step,
        "config_sha256": config_sha256,
        "dataset_sha256": dataset_sha256,
        "files": files,
    }
    atomic_write_json(staged / MANIFEST, manifest)
    if final.exists():
        old = final.with_name(f"{STAGING_PREFIX}old-{step}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(staged, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged, final)
    _fsync_dir(final.parent)
    return CheckpointInfo(final, step, config_sha256, dataset_sha256, files)


def read_checkpoint(path: Path, *, verify: bool = True) -> CheckpointInfo:
    """The checkpoint in ``path``, checked against its manifest.

    Raises:
        CheckpointError: no manifest (not written by ftstudio, or never completed),
            a manifest that cannot be read, or a file missing or changed.
    """
    path = Path(path)
    manifest_path = path / MANIFEST
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a checkpoint folder (it does not exist).")
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(
            f"{path} has no {MANIFEST}: ftstudio did not write it, or it was never completed. "
            "ftstudio resumes only from its own complete checkpoints; choose another."
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{manifest_path} cannot be read ({error}).") from None
    if (
        not isinstance(data, dict)
        or data.get("ftstudio_checkpoint") != MANIFEST_FORMAT
        or not isinstance(data.get("step"), int)
        or not isinstance(data.get("files"), dict)
    ):
        raise CheckpointError(f"{manifest_path} is not an ftstudio checkpoint manifest.")
    files: dict[str, str] = {str(k): str(v) for k, v in data["files"].items()}
    if verify:
        for name, expected in files.items():
            file = path / name
            if ".." in Path(name).parts or not file.is_file():
                raise CheckpointError(
                    f"{path} is incomplete: {name} is missing. Resume from an earlier checkpoint."
                )
            if sha256_file(file) != expected:
                raise CheckpointError(
                    f"{path}: {name} changed after the checkpoint was written (its hash differs "
                    "from the manifest). Resume from another checkpoint."
                )
    return CheckpointInfo(
        path,
        data["step"],
        str(data.get("config_sha256", "")),
        str(data.get("dataset_sha256", "")),
        files,
    )


def list_checkpoints(run_dir: Path, *, verify: bool = False) -> list[CheckpointInfo]:
    """The complete ftstudio checkpoints in ``run_dir``, by step (others are skipped)."""
    found = []
    folder = Path(run_dir)
    if not folder.is_dir():
        return []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if not match or not path.is_dir():
            continue
        try:
            info = read_checkpoint(path, verify=verify)
        except CheckpointError:
            continue
        if info.step == int(match.group(1)):
            found.append(info)
    return sorted(found, key=lambda info: info.step)


def latest_checkpoint(run_dir: Path) -> CheckpointInfo | None:
    """The newest checkpoint of ``run_dir`` whose files match its manifest, or ``None``."""
    for info in reversed(list_checkpoints(run_dir)):
        try:
            return read_checkpoint(info.path, verify=True)
        except CheckpointError:
            continue
    return None


def remove_staging(run_dir: Path) -> list[Path]:
    """Delete what interrupted saves left behind (``.tmp-checkpoint-*``); returns them."""
    folder = Path(run_dir)
    if not folder.is_dir():
        return []
    removed = []
    for path in folder.iterdir():
        if path.name.startswith(STAGING_PREFIX):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def rotate_checkpoints(run_dir: Path, *, keep_last: int, keep_steps: set[int]) -> list[Path]:
    """Delete older complete checkpoints, keeping the last ``keep_last`` and ``keep_steps``.

    Folders that are not complete ftstudio checkpoints are never touched. Returns
    the deleted folders.
    """
    infos = list_checkpoints(run_dir)
    keep = {info.step for info in infos[-keep_last:]} if keep_last > 0 else set()
    keep |= keep_steps
    removed = []
    for info in infos:
        if info.step not in keep:
            shutil.rmtree(info.path, ignore_errors=True)
            removed.append(info.path)
    return removed


def free_bytes(path: Path) -> int:
    """Free space for an unprivileged writer on the file system holding ``path``."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def space_problem(path: Path, needed_bytes: int) -> str | None:
    """A plain message when ``path``'s disk has less than ``needed_bytes`` free, else None."""
    free = free_bytes(path)
    if free >= needed_bytes:
        return None
    return (
        f"Only {_size(free)} is free on the disk of {path}, and a checkpoint needs about "
        f"{_size(needed_bytes)} (twice its size, to keep the previous one intact while it is "
        "written). Free some space or move the run to a larger disk; the last complete "
        "checkpoint is kept."
    )


def estimate_checkpoint_bytes(trainable_params: int, saved_params: int, stateful: bool) -> int:
    """Rough size of one checkpoint: the saved weights, plus Adam's two fp32 states.

    Args:
        trainable_params: parameters the optimizer updates.
        saved_params: parameters written as weights (adapter, or the whole model).
        stateful: whether optimizer and scheduler states are saved too.
    """
    weights = saved_params * 4
    states = trainable_params * 8 if stateful else 0
    return weights + states + (1 << 20)  # tokenizer, trainer state, RNG states


def config_hash(values: dict[str, Any]) -> str:
    """SHA-256 of a configuration's values that change the training trajectory."""
    text = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} TB"  # pragma: no cover - the loop returns


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
