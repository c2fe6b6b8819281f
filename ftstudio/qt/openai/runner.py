"""Following an OpenAI fine-tuning job off the GUI thread, as the Train page's monitor wants.

:class:`OpenAIJobRunner` lives in the GUI thread. :meth:`OpenAIJobRunner.start` (a new
job, from a confirmed upload plan) and :meth:`OpenAIJobRunner.attach` (a job of an
earlier run folder) call ``ftstudio.engine.openai_finetune`` in a worker thread; the
engine is imported there. Its ftstudio events and job statuses are emitted from that
thread through signals of this object, which lives in the GUI thread, so Qt queues
them to the GUI thread (``../shared/notes/stack.md`` §5).

The worker is a daemon ``threading.Thread``, not a ``QThread``: following a job waits
on the network (a request may take a minute), and when the studio quits the job is
meant to go on at OpenAI, so the thread must never hold up or abort the exit (a
running ``QThread`` destroyed at exit aborts the process). :meth:`detach` asks it to
stop following; the run folder keeps what is needed to follow the job again.

Cancelling (:meth:`cancel`) asks OpenAI to cancel the job; the run ends ``stopped``.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from ftstudio.core.events import Failed
from ftstudio.qt.threads import collect_garbage_before_worker


@dataclass(frozen=True)
class OpenAIRequest:
    """What to follow.

    Attributes:
        project: the project folder (a new job's run goes to ``<project>/runs/``).
        plan: a confirmed ``UploadPlan`` for a new job (``None`` with ``run_dir``).
        run_dir: an OpenAI run folder whose job to follow again (``None`` for a new job).
        name: the new run's display name.
        poll_interval: seconds between two looks at the job.
    """

    project: Path
    plan: Any = None
    run_dir: Path | None = None
    name: str | None = None
    poll_interval: float = 10.0


class OpenAIJobRunner(QObject):
    """Starts or re-attaches one OpenAI job at a time and follows it (see the module docstring).

    Signals:
        sig_event(object): an ftstudio event of the job, in the GUI thread.
        sig_status(object): a ``JobStatus`` (a status change or OpenAI's message).
        sig_finished(object): following ended; the engine's ``OpenAIRunResult``
            (``None`` if nothing could start: a ``Failed`` event said why).

    Attributes:
        result: the result of the last job followed.
        last_status: the latest ``JobStatus``.
    """

    sig_event = Signal(object)
    sig_status = Signal(object)
    sig_finished = Signal(object)
    _sig_event_in_thread = Signal(object)
    _sig_status_in_thread = Signal(object)
    _sig_done_in_thread = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.result: Any = None
        self.last_status: Any = None
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._detach = threading.Event()
        # Emitted in the worker thread; this object lives in the GUI thread, so these
        # connections to its own slots are queued.
        self._sig_event_in_thread.connect(self._on_event)
        self._sig_status_in_thread.connect(self._on_status)
        self._sig_done_in_thread.connect(self._on_done)

    # ---- Public API
    def is_running(self) -> bool:
        """Whether a job is being followed (from the start until ``sig_finished``)."""
        return self._thread is not None

    def cancel_requested(self) -> bool:
        """Whether :meth:`cancel` was called for the job followed now."""
        return self.is_running() and self._cancel.is_set()

    def start(self, request: OpenAIRequest) -> None:
        """Upload and start ``request.plan``'s job, or follow ``request.run_dir``'s again.

        Raises:
            RuntimeError: a job is followed already.
        """
        if self.is_running():
            raise RuntimeError("An OpenAI job is followed already; stop following it first.")
        collect_garbage_before_worker()
        self._cancel, self._detach = threading.Event(), threading.Event()
        self.result = self.last_status = None
        self._thread = threading.Thread(
            target=self._run, args=(request,), name="ftstudio-openai-job", daemon=True
        )
        self._thread.start()

    def cancel(self) -> None:
        """Ask OpenAI to cancel the job (the run ends ``stopped``)."""
        self._cancel.set()

    def detach(self) -> None:
        """Stop following; the job goes on at OpenAI and can be followed again."""
        self._detach.set()

    def wait(self, timeout_s: float = 10.0) -> bool:
        """Block until the worker thread has ended; ``False`` on timeout."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout_s)
        return not thread.is_alive()

    # ---- Worker thread
    def _run(self, request: OpenAIRequest) -> None:
        result: Any = None
        try:
            from ftstudio.engine.openai_finetune import attach_openai_job, run_openai_job

            if request.run_dir is not None:
                result = attach_openai_job(
                    request.run_dir,
                    self._sig_event_in_thread.emit,
                    self._cancel,
                    poll_interval=request.poll_interval,
                    on_status=self._sig_status_in_thread.emit,
                    detach=self._detach,
                )
            else:
                result = run_openai_job(
                    request.plan,
                    self._sig_event_in_thread.emit,
                    self._cancel,
                    project=request.project,
                    confirmed=True,  # the dialog's confirmation step was passed
                    name=request.name,
                    poll_interval=request.poll_interval,
                    on_status=self._sig_status_in_thread.emit,
                    detach=self._detach,
                )
        except Exception as error:  # noqa: BLE001 - reported in the monitor, never lost
            from ftstudio.core.secrets import redact

            known = type(error).__name__ in ("OpenAIJobError", "NotConfirmedError")
            message = str(error) if known else f"{type(error).__name__}: {error}"
            self._emit_safely(
                self._sig_event_in_thread,
                Failed(
                    run_id="",
                    run_dir=str(request.run_dir or ""),
                    code="openai",
                    message=redact(message),
                    detail="" if known else redact("".join(traceback.format_exception(error))),
                ),
            )
        self._emit_safely(self._sig_done_in_thread, result)

    @staticmethod
    def _emit_safely(signal: Any, value: object) -> None:
        with contextlib.suppress(RuntimeError):  # the runner was deleted meanwhile
            signal.emit(value)

    # ---- Slots (GUI thread)
    @Slot(object)
    def _on_event(self, event: object) -> None:
        self.sig_event.emit(event)

    @Slot(object)
    def _on_status(self, status: object) -> None:
        self.last_status = status
        self.sig_status.emit(status)

    @Slot(object)
    def _on_done(self, result: object) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(5.0)  # it is returning now
        self.result = result
        self.sig_finished.emit(result)
