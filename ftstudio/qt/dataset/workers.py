"""Background work for the dataset studio: a QThread per task, progress, ETA and cancel.

A task is a plain function ``fn(task: TaskContext) -> result`` that knows nothing of
Qt; it reports progress with :meth:`TaskContext.progress` and polls
:meth:`TaskContext.cancelled`. :class:`TaskRunner` runs it in a fresh ``QThread``
inside a ``QObject`` worker and delivers the outcome to its own slots, which live in
the GUI thread (a signal connected to a plain function or lambda would run that
function in the worker thread; see the notes on the slot-thread trap). Callers only
ever see :class:`TaskRunner`'s signals, always in the GUI thread.

Progress reaches the GUI at most every :data:`PROGRESS_INTERVAL_S`, so a task that
reports once per line does not flood the event loop.

Work on small inputs runs ``inline`` (same signals, no thread): a small file opens in
milliseconds, and the screenshot and startup paths never leave a thread behind.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

PROGRESS_INTERVAL_S = 0.05
"""Shortest time between two progress signals of one task."""

REPLACE_WAIT_MS = 40
"""How long :meth:`TaskRunner.start` waits for a cancelled task to end (it polls often)."""
GIL_SWITCH_INTERVAL_S = 0.001
"""Python's thread switch interval while tasks run (the default is 5 ms).

Painting a view calls Python once per visible cell; with a worker busy in Python each
of those calls waits for the GIL up to the switch interval. 1 ms keeps the GUI thread
responsive at a small cost to the worker; the default is restored when no task runs.
"""

_LIVE_THREADS: dict[QThread, QObject] = {}
"""Threads still running and their workers, referenced until they finish (even when the
runner that started them is gone); :class:`_Janitor` lets them go in the GUI thread."""


class TaskCancelled(Exception):
    """Raised inside a task (by :meth:`TaskContext.check`) once the user cancelled."""


class TaskContext:
    """What a task function gets: progress reporting and the cancel flag.

    A task may be split in phases (``reading``, ``checking``…), each covering a share
    of the overall progress, so one bar can follow several steps.
    """

    def __init__(self, cancel_event: threading.Event, report: Callable[[int, int, str], None]):
        self._cancel = cancel_event
        self._report = report
        self._phase = ""
        self._start = 0.0
        self._span = 1.0
        self._last = 0.0

    def phase(self, label: str, start: float, end: float) -> None:
        """Start a phase named ``label`` covering ``start``..``end`` (fractions of 1)."""
        self._phase, self._start, self._span = label, start, max(0.0, end - start)
        self._last = 0.0
        self._emit(0, 1, force=True)

    def progress(self, done: int, total: int) -> None:
        """Report ``done`` of ``total`` units of the current phase (cheap to call often)."""
        self._emit(done, total, force=done >= total)

    def cancelled(self) -> bool:
        """Whether the user asked to stop."""
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise :class:`TaskCancelled` if the user asked to stop."""
        if self._cancel.is_set():
            raise TaskCancelled

    def _emit(self, done: int, total: int, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        fraction = self._start + self._span * (min(done, total) / total if total > 0 else 0.0)
        self._report(int(fraction * 1000), 1000, self._phase)


class _Worker(QObject):
    """Runs one task function in its thread; every signal carries the job number."""

    sig_progress = Signal(int, int, int, str)
    sig_done = Signal(int, object)
    sig_failed = Signal(int, str)
    sig_cancelled = Signal(int)

    def __init__(self, job: int, fn: Callable[[TaskContext], Any], cancel: threading.Event):
        super().__init__()
        self._job = job
        self._fn = fn
        self._cancel = cancel

    @Slot()
    def run(self) -> None:
        """Run the task (in the worker thread), then end the thread's event loop."""
        try:
            self.run_here()
        finally:
            QThread.currentThread().quit()

    def run_here(self) -> None:
        """Run the task in the calling thread; never lets an exception escape into Qt."""
        context = TaskContext(self._cancel, self._report)
        try:
            result = self._fn(context)
        except TaskCancelled:
            self.sig_cancelled.emit(self._job)
        except Exception as error:  # a worker must report, never crash
            if self._cancel.is_set():
                self.sig_cancelled.emit(self._job)
            else:
                self.sig_failed.emit(self._job, plain_error(error))
        else:
            if self._cancel.is_set():
                self.sig_cancelled.emit(self._job)
            else:
                self.sig_done.emit(self._job, result)

    def _report(self, done: int, total: int, label: str) -> None:
        self.sig_progress.emit(self._job, done, total, label)


class TaskRunner(QObject):
    """Runs one task at a time off the GUI thread; its signals arrive in the GUI thread.

    Starting a task while another runs cancels the older one and gives it
    :data:`REPLACE_WAIT_MS` to end; whatever the older one still delivers is ignored.

    Signals:
        sig_started(str): a task with this label started.
        sig_progress(int, int, float, str): done, total, seconds left (-1: unknown), phase.
        sig_finished(object): the task's result.
        sig_failed(str): the task raised; the text explains it in plain words.
        sig_cancelled(): the task stopped because :meth:`cancel` was called.
        sig_idle(): the runner has nothing running any more (after any of the above).
    """

    sig_started = Signal(str)
    sig_progress = Signal(int, int, float, str)
    sig_finished = Signal(object)
    sig_failed = Signal(str)
    sig_cancelled = Signal()
    sig_idle = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job = 0
        self._cancel: threading.Event | None = None
        self._running = False
        self._started_at = 0.0
        self._phase = ("", 0.0, 0)
        self._threads: list[QThread] = []
        self.label = ""

    # ---- Public API
    def start(
        self, fn: Callable[[TaskContext], Any], label: str = "", *, inline: bool = False
    ) -> None:
        """Run ``fn(context)`` in a new thread (cancelling a task still running).

        With ``inline`` the task runs now, in the calling thread, and its signals are
        emitted before this returns: for work too small to be worth a thread (a small
        file opens in milliseconds), with exactly the same outcome signals.
        """
        self.cancel()
        self._job += 1
        if inline:
            self._run_inline(fn, label)
            return
        # Tasks poll their cancel flag every few milliseconds: let the older one end
        # first, since two workers competing for the GIL starve the GUI thread.
        self.wait(REPLACE_WAIT_MS)
        self._cancel = threading.Event()
        self._running = True
        self._started_at = time.monotonic()
        self._phase = ("", self._started_at, 0)
        self.label = label
        thread = QThread()
        worker = _Worker(self._job, fn, self._cancel)
        worker.moveToThread(thread)
        # Bound slots of this GUI-thread object: queued into the GUI thread.
        worker.sig_progress.connect(self._on_worker_progress)
        worker.sig_done.connect(self._on_worker_done)
        worker.sig_failed.connect(self._on_worker_failed)
        worker.sig_cancelled.connect(self._on_worker_cancelled)
        thread.started.connect(worker.run)
        thread.finished.connect(_janitor().on_thread_finished)
        if not _LIVE_THREADS:
            _SWITCH_INTERVAL[:] = [sys.getswitchinterval()]
            sys.setswitchinterval(min(GIL_SWITCH_INTERVAL_S, _SWITCH_INTERVAL[0]))
        _LIVE_THREADS[thread] = worker
        self._threads = [t for t in self._threads if t in _LIVE_THREADS]
        self._threads.append(thread)
        self.sig_started.emit(label)
        thread.start()

    def _run_inline(self, fn: Callable[[TaskContext], Any], label: str) -> None:
        self._cancel = threading.Event()
        self._running = True
        self.label = label
        self.sig_started.emit(label)
        worker = _Worker(self._job, fn, self._cancel)
        worker.sig_done.connect(self._on_worker_done)
        worker.sig_failed.connect(self._on_worker_failed)
        worker.sig_cancelled.connect(self._on_worker_cancelled)
        worker.run_here()

    def cancel(self) -> None:
        """Ask the running task to stop; :attr:`sig_cancelled` follows when it has."""
        if self._cancel is not None:
            self._cancel.set()

    def is_running(self) -> bool:
        """Whether a task is running (not yet delivered)."""
        return self._running

    def wait(self, timeout_ms: int = 10_000) -> bool:
        """Block until every thread of this runner has ended; ``False`` on timeout."""
        deadline = time.monotonic() + timeout_ms / 1000
        for thread in [t for t in self._threads if t in _LIVE_THREADS]:
            left = max(0, int((deadline - time.monotonic()) * 1000))
            if not thread.wait(left):
                return False
        return True

    def shutdown(self) -> None:
        """Cancel and wait for the running task (call before the owner goes away)."""
        self.cancel()
        self.wait()

    # ---- Worker slots (GUI thread)
    @Slot(int, int, int, str)
    def _on_worker_progress(self, job: int, done: int, total: int, label: str) -> None:
        if job != self._job or not self._running:
            return
        # The pace of the current phase predicts the rest: a slow first step (loading a
        # tokenizer, importing a library) would otherwise inflate every estimate.
        now = time.monotonic()
        if label != self._phase[0]:
            self._phase = (label, now, done)
        _label, since, first = self._phase
        elapsed, progressed = now - since, done - first
        eta = elapsed * (total - done) / progressed if progressed > 0 and elapsed > 0.3 else -1.0
        self.sig_progress.emit(done, total, eta, label)

    @Slot(int, object)
    def _on_worker_done(self, job: int, result: object) -> None:
        if self._settle(job):
            self.sig_finished.emit(result)
            self.sig_idle.emit()

    @Slot(int, str)
    def _on_worker_failed(self, job: int, message: str) -> None:
        if self._settle(job):
            self.sig_failed.emit(message)
            self.sig_idle.emit()

    @Slot(int)
    def _on_worker_cancelled(self, job: int) -> None:
        if self._settle(job):
            self.sig_cancelled.emit()
            self.sig_idle.emit()

    def _settle(self, job: int) -> bool:
        if job != self._job or not self._running:
            return False
        self._running = False
        return True


class _Janitor(QObject):
    """Lives in the GUI thread; releases each task thread once it has finished."""

    @Slot()
    def on_thread_finished(self) -> None:
        sender = self.sender()
        done = [t for t in _LIVE_THREADS if t is sender or t.isFinished()]
        for thread in done:
            thread.wait()  # returns at once: the thread is leaving its run()
            _LIVE_THREADS.pop(thread, None)
        if not _LIVE_THREADS and _SWITCH_INTERVAL:
            sys.setswitchinterval(_SWITCH_INTERVAL.pop())


_JANITOR: list[_Janitor] = []
_SWITCH_INTERVAL: list[float] = []
"""The switch interval to restore once no task runs (empty while none runs)."""


def _janitor() -> _Janitor:
    if not _JANITOR:
        _JANITOR.append(_Janitor())
    return _JANITOR[0]


def wait_for_all_threads(timeout_ms: int = 10_000) -> bool:
    """Block until every task thread of the process has ended (tests, application exit)."""
    deadline = time.monotonic() + timeout_ms / 1000
    for thread in list(_LIVE_THREADS):
        left = max(0, int((deadline - time.monotonic()) * 1000))
        if not thread.wait(left):
            return False
    _janitor().on_thread_finished()
    return True


@contextmanager
def collector_paused(*, freeze: bool = True) -> Iterator[None]:
    """Pause the garbage collector while a task builds many objects (worker threads).

    A full collection walks every tracked object while holding the GIL: while a task
    creates millions of them (a loaded file, a check of every example, the ML stack
    imported) each pass would freeze the GUI thread for 100 ms or more. The collector
    stays off while the task runs. With ``freeze``, what is alive afterwards is frozen
    (``gc.freeze``), so later passes skip it: for tasks whose results stay (a loaded
    dataset); a task whose objects are temporary leaves ``freeze`` off, so that
    garbage with cycles is still collected later. Reference counting frees objects
    either way.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if freeze:
                gc.freeze()
            gc.enable()


def plain_error(error: BaseException) -> str:
    """A message for the user: the error's own text when it is one of ours, else a summary.

    ftstudio's errors (``DatasetReadError``, ``OSError``…) already say what happened and
    what to do; anything else is a bug, reported with its last frame so it can be fixed.
    """
    text = str(error).strip()
    if isinstance(error, OSError):
        name = f" {error.filename}" if error.filename else ""
        return f"Could not read{name}: {error.strerror or text}."
    if isinstance(error, MemoryError):
        return "The file is too large to open in memory. Split it into smaller files."
    if type(error).__module__.startswith("ftstudio") and text:
        return text
    frame = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    where = f" (at {frame[0].filename}:{frame[0].lineno})" if frame else ""
    return f"Unexpected error {type(error).__name__}: {text}{where}. Please report it."
