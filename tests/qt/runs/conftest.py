"""A project with two real runs of the tiny model that differ in learning rate and rank."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from ftstudio.core.project import Project, open_project
from ftstudio.core.train_config import load_config

SECOND_LR = 3e-3
SECOND_R = 4


@pytest.fixture(scope="module")
def two_runs_folder(tmp_path_factory: pytest.TempPathFactory, trained_run: Path) -> Path:
    """The ``trained_run`` project copied, plus a second 6-step run (learning rate 3e-3,
    r 4). Shared by a module's tests: READ-ONLY, use ``two_runs``."""
    from ftstudio.engine.training import run_training

    folder = tmp_path_factory.mktemp("two-runs") / "project"
    shutil.copytree(trained_run.parent.parent, folder)
    first = folder / "runs" / trained_run.name
    config = dataclasses.replace(
        load_config(first / "config.yaml"), learning_rate=SECOND_LR, r=SECOND_R
    )
    result = run_training(config, project=folder, name="second")
    assert result.status == "finished", result.message
    return folder


@pytest.fixture
def two_runs(tmp_path: Path, two_runs_folder: Path) -> Project:
    """A private copy of the two-run project (safe to change)."""
    folder = tmp_path / "project"
    shutil.copytree(two_runs_folder, folder)
    return open_project(folder)
