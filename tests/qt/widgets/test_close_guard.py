"""Closing a window while a task runs: ask, stop the task, close the window once it ended."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from ftstudio.qt.widgets.close_guard import CloseGuard


class Task:
    """A task that stops only when told it has ended (as an export between phases)."""

    def __init__(self) -> None:
        self.running = True
        self.stop_requests = 0
        self.answers: list[bool] = []
        self.asked = 0

    def ask(self, _window: QWidget) -> bool:
        self.asked += 1
        return self.answers.pop(0)

    def stop(self) -> None:
        self.stop_requests += 1


def test_nothing_running_closes_at_once(qtbot) -> None:  # noqa: ANN001
    task = Task()
    task.running = False
    guard = CloseGuard(lambda: task.running, task.ask, task.stop)
    window = QWidget()
    qtbot.addWidget(window)
    assert guard.confirm(window)
    assert task.asked == 0


def test_keep_then_stop_and_close_once_the_task_ended(qtbot) -> None:  # noqa: ANN001
    task = Task()
    task.answers = [False, True]
    guard = CloseGuard(lambda: task.running, task.ask, task.stop)
    window = QWidget()
    qtbot.addWidget(window)
    window.show()
    assert not guard.confirm(window)  # "keep": nothing happens
    assert task.stop_requests == 0
    assert not guard.confirm(window)  # "stop and close": the window waits for the task
    assert task.stop_requests == 1
    assert not guard.confirm(window), "asked once: already stopping to close"
    assert task.asked == 2
    assert window.isVisible()
    task.running = False
    guard.task_ended()
    assert not window.isVisible()
    guard.task_ended()  # nothing waits any more


def test_a_task_that_ended_while_asking_closes_at_once(qtbot) -> None:  # noqa: ANN001
    task = Task()

    def ask(window: QWidget) -> bool:
        task.running = False  # the task ended while the box was open
        return True

    guard = CloseGuard(lambda: task.running, ask, task.stop)
    window = QWidget()
    qtbot.addWidget(window)
    assert guard.confirm(window)
    assert task.stop_requests == 0
