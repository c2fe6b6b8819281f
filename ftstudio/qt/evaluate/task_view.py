"""What the Evaluate page's tabs share: one worker task at a time, its status, Stop, busy.

The playground, the evaluation and the example-losses tabs each run a task in a
:class:`~ftstudio.qt.dataset.workers.TaskRunner` for one run (and saved model) of a
project; the task posts status lines to a :class:`~ftstudio.qt.evaluate.workers.Mailbox`
that a timer drains into the tab's :class:`~ftstudio.qt.evaluate.progress.TaskProgress`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import QWidget

from ftstudio.core.project import Project
from ftstudio.qt.dataset.workers import TaskRunner
from ftstudio.qt.evaluate.choices import AdapterOption, RunChoice
from ftstudio.qt.evaluate.progress import TaskProgress
from ftstudio.qt.evaluate.workers import STATUS, Mailbox
from ftstudio.qt.threads import collect_garbage_before_worker

Saved = TypeVar("Saved")


class TaskView(QWidget):
    """A tab that runs one task at a time on the chosen run and saved model.

    A subclass builds ``self.progress`` (a :class:`TaskProgress` following
    :attr:`runner`), starts its task with :meth:`_start`, shows the result in
    ``_on_finished(result)`` and enables its controls in ``_update_controls()``.

    Signals:
        sig_busy_changed(bool): a task started or ended.

    Attributes:
        project, run, adapter: what the tab works on (``None``: nothing chosen).
        blocked: why starting is refused now (another tab works); ``""``: allowed.
        runner: runs the task; mailbox: what the task posts while it runs.
    """

    sig_busy_changed = Signal(bool)

    DRAIN_INTERVAL_MS = 100
    """How often the mailbox is read while a task runs."""
    CANCEL_STATUS = "Cancelling…"
    """The status line once the task was asked to stop."""

    progress: TaskProgress

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.run: RunChoice | None = None
        self.adapter: AdapterOption | None = None
        self.blocked = ""
        self.mailbox = Mailbox()
        self.runner = TaskRunner(self)
        self.runner.sig_finished.connect(self._on_finished)
        self.runner.sig_failed.connect(self._on_failed)
        self.runner.sig_cancelled.connect(self._on_cancelled)
        self.runner.sig_idle.connect(self._on_idle)
        self._drain_timer = QTimer(self)
        self._drain_timer.setInterval(self.DRAIN_INTERVAL_MS)
        self._drain_timer.timeout.connect(self._drain)

    # ---- Public API
    def set_blocked(self, reason: str) -> None:
        """Refuse to start while another tab works (``reason`` says why; ``""``: allowed)."""
        self.blocked = reason
        self._update_controls()

    def is_busy(self) -> bool:
        """Whether a task is running."""
        return self.runner.is_running()

    def cancel(self) -> None:
        """Ask the task to stop."""
        if self.is_busy():
            self.runner.cancel()
            self.progress.set_status(self.CANCEL_STATUS)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel and wait for the task (before closing); ``False`` if it did not end."""
        self.runner.cancel()
        return self.runner.wait(timeout_ms)

    # ---- For subclasses
    def _same_run(self, run: RunChoice | None) -> bool:
        """Whether ``run`` is the run chosen now (``None`` for both counts)."""
        return (run.run_dir if run else None) == (self.run.run_dir if self.run else None)

    def _refused(self) -> bool:
        """Whether starting is refused now (another tab works); the reason is shown."""
        if self.blocked:
            self.progress.set_status(self.blocked, error=True)
        return bool(self.blocked)

    def _start(self, task: Callable[..., Any], label: str) -> None:
        """Run ``task`` (``label`` says what it does) and say that the tab is busy."""
        self.mailbox.clear()
        self.progress.set_status("Starting…")
        collect_garbage_before_worker()
        self.runner.start(task, label)
        self._drain_timer.start()
        self._update_controls()
        self.sig_busy_changed.emit(True)

    def _load_saved(
        self,
        load: Callable[[Path], Saved | None],
        show: Callable[[Saved | None], None],
        path: Callable[[Path], Path],
        label: str,
    ) -> Saved | None:
        """Show what the chosen run has saved (``load(run_dir)``; ``None``: nothing) with
        ``show``, and say where it is (``label: <path in the run>``); a damaged file's
        error is shown instead. Returns what was loaded."""
        saved = None
        if self.run is not None:
            try:
                saved = load(self.run.run_dir)
            except ValueError as error:
                show(None)
                self.progress.set_status(str(error), error=True)
                return None
        show(saved)
        self.progress.set_status(
            f"{label}: {_relative(path(self.run.run_dir), self.run.run_dir)}"
            if saved is not None and self.run is not None
            else ""
        )
        return saved

    def _update_controls(self) -> None:
        """Enable the tab's controls for its state (busy, blocked, a run chosen)."""
        raise NotImplementedError

    def _on_finished(self, result: object) -> None:
        """The task returned ``result``."""
        raise NotImplementedError

    # ---- Slots
    @Slot()
    def _drain(self) -> None:
        for kind, value in self.mailbox.drain():
            if kind == STATUS:
                self.progress.set_status(str(value))

    @Slot()
    def _on_cancelled(self) -> None:
        self.mailbox.clear()
        self.progress.set_status("Cancelled; nothing was saved.")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.mailbox.clear()
        self.progress.set_status(message, error=True)

    @Slot()
    def _on_idle(self) -> None:
        self._drain_timer.stop()
        self._update_controls()
        self.sig_busy_changed.emit(False)


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return str(path)
