"""The Evaluate page's tests share a private copy of the session's trained run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ftstudio.core.project import Project
from ftstudio.qt.dataset.workers import wait_for_all_threads
from ftstudio.qt.pages.evaluate import EvaluatePage


@dataclass(frozen=True)
class TrainedCopy:
    """A writable copy of the ``trained_run`` project."""

    project: Project
    run_dir: Path

    @property
    def preferences(self) -> Path:
        """The project's preference file."""
        return self.project.folder / "datasets" / "preferences.jsonl"


@pytest.fixture
def trained(trained_run: Path, trained_project: Project) -> TrainedCopy:
    """The session's trained project, copied (the original stays read-only)."""
    return TrainedCopy(trained_project, trained_project.folder / "runs" / trained_run.name)


@pytest.fixture
def page(qtbot, trained: TrainedCopy) -> Iterator[EvaluatePage]:  # noqa: ANN001
    """The Evaluate page on the copy, shown; its workers are finished at the end."""
    widget = EvaluatePage()
    qtbot.addWidget(widget)
    widget.set_project(trained.project)
    widget.resize(1280, 800)
    widget.show()
    yield widget
    assert widget.shutdown(60_000), "a worker thread did not finish"
    assert wait_for_all_threads(60_000)
    qtbot.waitUntil(lambda: not widget.is_busy(), timeout=10_000)
