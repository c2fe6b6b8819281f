"""Closing a window while a page's task runs: ask, stop the task, close once it ended."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QWidget


class CloseGuard:
    """The close protocol of a page whose task can be stopped but not at once.

    :meth:`confirm` answers whether a window may close now; when a task runs and the
    user agrees to stop it, the task is asked to stop and the window closes from
    :meth:`task_ended`, which the page calls once its task has ended.

    Args:
        running: whether the task runs now.
        ask: asks the user whether to stop the task and close (``True``: yes).
        stop: asks the task to stop.
    """

    def __init__(
        self, running: Callable[[], bool], ask: Callable[[QWidget], bool], stop: Callable[[], None]
    ) -> None:
        self.running = running
        self.ask = ask
        self.stop = stop
        self.window: QWidget | None = None
        """The window to close once the task has ended (``None``: none)."""

    def confirm(self, window: QWidget) -> bool:
        """Whether ``window`` may close now; asks first while the task runs."""
        if not self.running():
            return True
        if self.window is not None:
            return False  # already stopping in order to close
        if not self.ask(window):  # events keep arriving meanwhile: the task may end
            return False
        if not self.running():
            return True
        self.window = window
        self.stop()
        return False

    def task_ended(self) -> None:
        """The task has ended: close the window waiting for it, if any."""
        window, self.window = self.window, None
        if window is not None:
            window.close()
