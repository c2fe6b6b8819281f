"""Shared setup for the wizard tests: a sample-project copy, and no thread left running."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ftstudio.core.models import load_catalogue


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Wait for every task thread before pytest-qt tidies up after the test."""
    from ftstudio.qt.dataset.workers import wait_for_all_threads

    try:
        return (yield)
    finally:
        wait_for_all_threads(30_000)


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    """A model folder as a hub download leaves it, minus the weights: the catalogue's
    Qwen2.5 0.5B config.json and a tokenizer file (all the planner reads)."""
    entry = next(entry for entry in load_catalogue() if entry.name == "qwen2.5-0.5b")
    folder = tmp_path / "models" / "my-qwen"
    folder.mkdir(parents=True)
    config = json.loads(entry.config_path.read_text(encoding="utf-8"))
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "tokenizer.json").write_text('{"version": "1.0"}', encoding="utf-8")
    return folder


def drop_preferences(project) -> None:  # noqa: ANN001 - a Project
    """Remove the sample project's preference pairs (file and manifest entry)."""
    path = project.dataset_path("preferences")
    path.unlink()
    datasets = dict(project.datasets)
    datasets.pop("preferences")
    project.set("datasets", datasets)
