"""The bundled sample project: installing a private copy and reading its text.

The bundled files under ``resources/sample_project`` are never opened for
writing; users always work on a copy in their data folder.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

from ftstudio.core import paths
from ftstudio.core.project import MANIFEST, SUBFOLDERS, Project, ProjectError, open_project

SAMPLE_FOLDER_NAME = "IT Support Sample"


def bundled_sample_dir() -> Path:
    """The read-only sample project shipped with ftstudio."""
    return paths.resource("sample_project")


def sample_copy_dir() -> Path:
    """Where the user's own copy of the sample project lives."""
    return paths.data_dir() / "projects" / SAMPLE_FOLDER_NAME


def install_sample(destination: Path | None = None, *, replace: bool = False) -> Project:
    """Copy the bundled sample project to ``destination`` and open the copy.

    An existing, valid copy is opened as it is (the user's edits are kept) unless
    ``replace`` is true, in which case the old copy is renamed aside, never deleted.
    """
    target = Path(destination) if destination else sample_copy_dir()
    if target.exists() and not replace:
        try:
            return open_project(target)
        except ProjectError:
            replace = True  # a broken copy: set it aside below and start fresh
    if target.exists() and replace:
        target.rename(_free_name(target.with_name(target.name + " (old)")))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(bundled_sample_dir(), target, copy_function=shutil.copyfile)
    for folder in (target, *target.rglob("*")):
        if folder.is_dir():  # copytree copies folder modes: a read-only install stays read-only
            folder.chmod(folder.stat().st_mode | 0o700)
    for sub in SUBFOLDERS:
        (target / sub).mkdir(exist_ok=True)
    return open_project(target)


def sample_corpus() -> Iterator[str]:
    """Every message text of the bundled sample datasets (for training the tiny tokenizer)."""
    folder = bundled_sample_dir() / "datasets"
    for path in sorted(folder.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield from _texts(json.loads(line))


def _texts(record: object) -> Iterator[str]:
    if isinstance(record, dict):
        for key, value in record.items():
            if key == "content" and isinstance(value, str):
                yield value
            else:
                yield from _texts(value)
    elif isinstance(record, list):
        for item in record:
            yield from _texts(item)


def _free_name(path: Path) -> Path:
    candidate, number = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name} {number}")
        number += 1
    return candidate


__all__ = ["MANIFEST", "bundled_sample_dir", "install_sample", "sample_copy_dir", "sample_corpus"]
