"""Training off the GUI thread: a ``QObject`` worker in a ``QThread`` drives the engine.

:class:`TrainingRunner` lives in the GUI thread. :meth:`TrainingRunner.start` moves a
:class:`TrainingWorker` to a new ``QThread``, whose ``run`` calls
``ftstudio.engine.training.run_training`` (the engine, torch included, is imported
there, so the window never waits for it). The engine's ``on_event`` is the worker's
``sig_event.emit``; that signal is connected to a slot of the runner, a QObject
living in the GUI thread, so Qt queues each event to the GUI thread. (Connected to a
plain function or lambda, the slot would run in the training thread instead, and
widgets would be touched from there: ../shared/notes/stack.md §5.) The runner then
re-emits it as :attr:`TrainingRunner.sig_event`, in the GUI thread.

Stopping is graceful: :meth:`TrainingRunner.stop` sets a ``threading.Event`` that the
engine polls at the end of every step; the run then saves a checkpoint and reports
``Finished(status="stopped")``.

The training thread shares the GIL with the GUI, so the worker also keeps Python's
full garbage collections (100–500 ms each with torch loaded) from freezing the
window: see :class:`_CollectorPause`.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from ftstudio.core.events import Failed, Started, TrainingEvent
from ftstudio.core.train_config import TrainConfig
from ftstudio.qt.threads import collect_garbage_before_worker


@dataclass(frozen=True)
class TrainRequest:
    """What to train.

    Attributes:
        config: the training configuration.
        project: the project folder (runs go to ``<project>/runs/``).
        name: the run's display name (``None``: its id).
        resume: a run folder or checkpoint to resume, ``True`` for the project's newest
            resumable run, or ``None`` for a new run.
        adapt_to_device: choose precision, optimizer and gradient checkpointing for the
            device found (the quick demo run; saved configurations run as written).
        trust_remote_code: the user allowed the base model's own code to run, for this run
            only (asked by the Train page; see ``ftstudio.qt.dialogs.remote_code``).
    """

    config: TrainConfig
    project: Path
    name: str | None = None
    resume: Path | bool | None = None
    adapt_to_device: bool = False
    trust_remote_code: bool = False


class TrainingWorker(QObject):
    """Runs one training run in its thread (see the module docstring).

    Signals:
        sig_event(object): a :mod:`ftstudio.core.events` event, emitted in the
            training thread.
        sig_done(object): the engine's ``RunResult`` (``None`` if the engine raised;
            a ``Failed`` event explains why), emitted last.
    """

    sig_event = Signal(object)
    sig_done = Signal(object)

    def __init__(self, request: TrainRequest, cancel: threading.Event) -> None:
        super().__init__()
        self.request = request
        self.cancel = cancel

    @Slot()
    def run(self) -> None:
        """Train (in the worker's thread); never raises."""
        result: Any = None
        collector = _CollectorPause()
        collector.begin()

        def on_event(event: TrainingEvent) -> None:
            if isinstance(event, Started):
                collector.end()  # setup is over: collect again while training
            self.sig_event.emit(event)

        try:
            from ftstudio.engine.training import run_training

            collector.settle_imports()
            request = self.request
            config = request.config
            if request.adapt_to_device:
                import torch

                from ftstudio.qt.training.configs import for_device

                config = for_device(config, torch.cuda.is_available())
            result = run_training(
                config,
                on_event,
                self.cancel,
                project=request.project,
                resume=request.resume,
                name=request.name,
                trust_remote_code=request.trust_remote_code,
            )
        except BaseException as error:  # noqa: BLE001 - reported to the user, never lost
            # run_training reports failures itself; only an error outside it (an import,
            # Ctrl-C in a console) lands here.
            self.sig_event.emit(
                Failed(
                    run_id="",
                    run_dir="",
                    code="error",
                    message=f"Training could not run: {type(error).__name__}: {error}",
                    detail="".join(traceback.format_exception(error)),
                )
            )
        finally:
            collector.end()
        # Hand the worker back to the GUI thread, which deletes it once the thread ended.
        app = QCoreApplication.instance()
        if app is not None:
            self.moveToThread(app.thread())
        self.sig_done.emit(result)
        QThread.currentThread().quit()  # ends now, so the GUI thread can wait() for it


class _CollectorPause:
    """Keeps Python's cyclic garbage collector from stalling the GUI during a run.

    A full collection walks every tracked object while holding the GIL, in whichever
    thread allocates. Once torch, transformers and trl are imported there are about a
    million, and each full collection took 100–500 ms: the GUI thread stalled that
    long, several times per run (measured with tests/bench/bench_train_ui.py). So:

    - automatic collection is off while the run sets up (imports, data, model);
    - the training libraries are imported first and what exists then (modules,
      classes, the GUI) is moved to the permanent generation (``gc.freeze``), which
      collections skip: later ones, explicit ones too (accelerate calls
      ``gc.collect()`` while the trainer is built), walk only what the runs make;
    - collection is on again once training starts.

    The run's own objects (model, optimizer) are never frozen, so they are reclaimed
    when the run ends. Before a later run freezes again, what the previous run left
    is collected first (cheap: only unfrozen objects are walked), so no cyclic garbage
    of it is frozen for good.
    """

    HEAVY = ("torch", "transformers", "peft", "trl", "datasets", "accelerate")
    settled = False
    """Whether a run of this process froze already (class-wide)."""

    def __init__(self) -> None:
        self.paused = False

    def begin(self) -> None:
        """Turn automatic collection off (unless it already was)."""
        if gc.isenabled():
            gc.disable()
            self.paused = True

    def settle_imports(self) -> None:
        """Import the training libraries now and freeze what exists."""
        for name in self.HEAVY:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        if _CollectorPause.settled:
            gc.collect()  # a previous run's leftovers: unfrozen, so quick to walk
        gc.freeze()
        _CollectorPause.settled = True

    def end(self) -> None:
        """Turn automatic collection back on (if :meth:`begin` turned it off)."""
        if self.paused:
            self.paused = False
            gc.enable()


class TrainingRunner(QObject):
    """Starts and stops training runs; lives in the GUI thread.

    Signals:
        sig_started(): a run was started (the engine is loading).
        sig_event(object): an event of the run, delivered in the GUI thread.
        sig_finished(object): the run is over and its thread has ended; the argument
            is the engine's ``RunResult`` (``None`` if the engine raised).

    Attributes:
        last_event: the latest event of the current or last run.
        result: the ``RunResult`` of the last run that ended.
    """

    sig_started = Signal()
    sig_event = Signal(object)
    sig_finished = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.last_event: TrainingEvent | None = None
        self.result: Any = None
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._cancel = threading.Event()
        self._pending_result: Any = None

    # ---- Public API
    def is_running(self) -> bool:
        """Whether a run's thread is alive (from :meth:`start` until ``sig_finished``)."""
        return self._thread is not None

    def stop_requested(self) -> bool:
        """Whether :meth:`stop` was called for the current run."""
        return self.is_running() and self._cancel.is_set()

    def start(self, request: TrainRequest) -> None:
        """Start ``request`` in a new thread.

        Raises:
            RuntimeError: a run is already going on.
        """
        if self.is_running():
            raise RuntimeError("A training run is already going on; stop it first.")
        collect_garbage_before_worker()
        self._cancel = threading.Event()
        self.last_event = None
        self.result = None
        self._pending_result = None
        thread = QThread()
        thread.setObjectName("ftstudio-training")
        worker = TrainingWorker(request, self._cancel)
        worker.moveToThread(thread)
        # Slots of this GUI-thread object: Qt queues the worker's signals to this thread.
        worker.sig_event.connect(self._on_worker_event)
        worker.sig_done.connect(self._on_worker_done)
        thread.started.connect(worker.run)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        thread.start()
        self.sig_started.emit()

    def stop(self) -> None:
        """Ask the run to stop at the end of the current step (it saves a checkpoint)."""
        self._cancel.set()

    def wait(self, timeout_ms: int = 60_000) -> bool:
        """Block until the run's thread ends (for shutdown); ``True`` if it did.

        Queued events are still delivered afterwards, by the event loop.
        """
        thread = self._thread
        return True if thread is None else thread.wait(timeout_ms)

    # ---- Slots (GUI thread)
    @Slot(object)
    def _on_worker_event(self, event: object) -> None:
        self.last_event = event  # type: ignore[assignment]
        self.sig_event.emit(event)

    @Slot(object)
    def _on_worker_done(self, result: object) -> None:
        self._pending_result = result
        if self._thread is not None:
            self._thread.quit()

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self._thread
        if thread is not None:
            thread.wait()
        # Both are owned by Python and live in this thread now: dropping them deletes them.
        self._thread = self._worker = None
        self.result = self._pending_result
        self.sig_finished.emit(self.result)
