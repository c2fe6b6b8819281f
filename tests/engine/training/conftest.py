"""Shared setup of the training tests: a small project on the tiny model (the helpers
live in :mod:`tests.tiny`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftstudio.core.project import create_project
from tests.tiny import sample_lines, write_dataset


@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    """A project whose datasets/train.jsonl holds 24 sample conversations."""
    project = create_project(tmp_path / "project", "Small")
    write_dataset(project.folder / "datasets" / "train.jsonl", sample_lines())
    return project.folder
