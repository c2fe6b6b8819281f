"""Shared setup of the Train page tests: a small project on the tiny model, a saved plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftstudio.core.paths import resource
from ftstudio.core.project import Project, create_project
from ftstudio.core.train_config import TrainConfig, save_config

SAMPLE = resource("sample_project", "datasets", "it_support.jsonl")
EXAMPLES = 24


def save_plan(project: Project, name: str, config: TrainConfig) -> Path:
    """Save ``config`` as ``configs/<name>.yaml`` and list it in ``project.json``, as the wizard."""
    path = save_config(config, project.folder / "configs" / f"{name}.yaml")
    configs = dict(project.manifest.get("configs", {}))
    configs[name] = f"configs/{name}.yaml"
    project.set("configs", configs)
    return path


@pytest.fixture
def small_project(tmp_path: Path) -> Project:
    """A project whose datasets/train.jsonl holds 24 sample conversations."""
    project = create_project(tmp_path / "project", "Small")
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[:EXAMPLES]
    train = project.folder / "datasets" / "train.jsonl"
    train.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    project.manifest["datasets"] = {"train": "datasets/train.jsonl"}
    project.save()
    return project
