"""TaskRunner: work in a QThread, results and progress in the GUI thread, cancel, errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Slot

from ftstudio.core.dataset.formats import DatasetReadError
from ftstudio.qt.dataset.workers import TaskContext, TaskRunner, plain_error


class Sink(QObject):
    """Records which thread each signal arrives in."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[QThread] = []
        self.progress: list[tuple[int, int, float, str]] = []

    @Slot(int, int, float, str)
    def on_progress(self, done: int, total: int, eta: float, label: str) -> None:
        self.threads.append(QThread.currentThread())
        self.progress.append((done, total, eta, label))


def test_the_task_runs_in_another_thread_and_reports_in_the_gui_thread(qtbot) -> None:
    runner = TaskRunner()
    sink = Sink()
    runner.sig_progress.connect(sink.on_progress)
    seen: dict[str, object] = {}

    def task(context: TaskContext) -> str:
        seen["thread"] = threading.current_thread()
        context.phase("Counting", 0.0, 1.0)
        for n in range(5):
            time.sleep(0.06)
            context.progress(n + 1, 5)
        return "done"

    with qtbot.waitSignal(runner.sig_finished, timeout=5000) as finished:
        runner.start(task, "Counting")
        assert runner.is_running()
    assert finished.args == ["done"]
    assert seen["thread"] is not threading.main_thread()
    assert sink.progress
    assert set(sink.threads) == {QThread.currentThread()}
    assert sink.progress[-1][:2] == (1000, 1000)
    assert all(label == "Counting" for *_, label in sink.progress)
    assert not runner.is_running()


def test_cancel_stops_the_task(qtbot) -> None:
    runner = TaskRunner()
    started = threading.Event()

    def task(context: TaskContext) -> None:
        started.set()
        while True:
            context.check()
            time.sleep(0.005)

    with qtbot.waitSignal(runner.sig_cancelled, timeout=5000):
        runner.start(task)
        assert started.wait(5)
        runner.cancel()
    assert runner.wait(5000)


def test_a_newer_task_replaces_an_older_one(qtbot) -> None:
    runner = TaskRunner()
    results: list[object] = []
    runner.sig_finished.connect(results.append)

    def slow(context: TaskContext) -> str:
        for _ in range(200):
            if context.cancelled():
                return "old"
            time.sleep(0.005)
        return "old"

    with qtbot.waitSignal(runner.sig_finished, timeout=5000):
        runner.start(slow)
        runner.start(lambda _context: "new")
    assert runner.wait(5000)
    qtbot.wait(20)
    assert results == ["new"]


def test_errors_arrive_as_plain_words(qtbot, tmp_path) -> None:
    runner = TaskRunner()
    missing = tmp_path / "gone.jsonl"

    def task(_context: TaskContext) -> None:
        raise DatasetReadError(missing, "the file does not exist.", "Check the name.")

    with qtbot.waitSignal(runner.sig_failed, timeout=5000) as failed:
        runner.start(task)
    assert failed.args[0] == f"Cannot read {missing}: the file does not exist. Check the name."


def test_inline_tasks_report_before_start_returns(qtbot) -> None:
    runner = TaskRunner()
    results: list[object] = []
    runner.sig_finished.connect(results.append)
    runner.start(lambda _context: 42, inline=True)
    assert results == [42]
    assert not runner.is_running()


def test_plain_error_messages() -> None:
    error = FileNotFoundError(2, "No such file or directory", "/data/x.jsonl")
    assert plain_error(error) == "Could not read /data/x.jsonl: No such file or directory."
    assert "too large" in plain_error(MemoryError())
    bug = plain_error(KeyError("messages"))
    assert bug.startswith("Unexpected error KeyError")
    assert (
        plain_error(DatasetReadError(Path("a.csv"), "no header."))
        == "Cannot read a.csv: no header."
    )
