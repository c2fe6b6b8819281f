"""The export as a background task: the engine imported and run in the task's thread.

:func:`export_task` makes a function for :class:`~ftstudio.qt.dataset.workers.TaskRunner`,
which runs it in a ``QThread`` and delivers the outcome to the GUI thread. The
engine (torch included) is imported inside that function, so the window never waits
for it. The engine reports phases (``done`` of ``total`` and what happens now); each
becomes a phase of the task's progress. :class:`Eta` turns the overall fraction into
a rough time left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftstudio.core.export_config import ExportConfig
from ftstudio.qt.dataset.workers import TaskContext, collector_paused


class ExportTaskError(Exception):
    """The export failed outside the engine's own errors; the message says why."""


def export_task(run_dir: Path, config: ExportConfig) -> Callable[[TaskContext], Any]:
    """A task exporting ``run_dir`` with ``config``; it returns the engine's ``ExportResult``.

    The engine's ``ExportError`` messages reach the user as they are; a cancel stops
    the engine between phases (it leaves nothing behind).
    """

    def run(context: TaskContext) -> Any:
        context.phase("Loading the export engine", 0.0, 0.02)
        # Importing torch and transformers builds ~1M objects: no collection meanwhile.
        with collector_paused(freeze=False):
            from ftstudio.engine.export import export_run
        context.check()

        def on_progress(done: int, total: int, message: str) -> None:
            share = 0.02 + 0.98 * (done / total if total else 0.0)
            end = 0.02 + 0.98 * ((done + 1) / total if total else 1.0)
            context.phase(message, share, min(1.0, end))

        try:
            return export_run(
                Path(run_dir), config, on_progress=on_progress, cancel=context.cancelled
            )
        except OSError as error:
            where = f" ({error.filename})" if error.filename else ""
            raise ExportTaskError(
                f"The export failed while writing{where}: {error.strerror or error}. Nothing "
                "was left half-written; check the output folder and the free disk space, then "
                "try again."
            ) from None

    return run


class Eta:
    """A rough time left from the overall fraction done (phases differ in length)."""

    MIN_ELAPSED_S = 2.0
    """No estimate before this many seconds: the first phases are short."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def restart(self) -> None:
        """Start timing a new export."""
        self.started = time.monotonic()

    def seconds_left(self, fraction: float) -> float | None:
        """Seconds left when ``fraction`` (0–1) is done; ``None`` while unknown."""
        elapsed = time.monotonic() - self.started
        if fraction <= 0.05 or fraction >= 1 or elapsed < self.MIN_ELAPSED_S:
            return None
        return elapsed * (1 - fraction) / fraction
