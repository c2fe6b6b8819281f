"""Find this computer's GPUs for the memory bar, without loading torch into the window.

:func:`ftstudio.engine.hardware.detect_gpus` imports torch (seconds, and hundreds of
MB) and asks CUDA for each card's properties, which creates a CUDA context (hundreds
of MB of GPU memory, held for as long as the process lives). The window needs neither,
so :func:`detect_gpus_isolated` runs it in a short-lived child Python process and
reads the answer back as JSON. A frozen application (no Python to start) detects in
the calling thread instead.

:class:`GpuProbe` runs that detection once per process, in a daemon thread: a probe
still running when the application quits never holds up or aborts the exit (a running
``QThread`` destroyed at exit aborts the process), and its child process is killed
then. The answer arrives as :attr:`GpuProbe.sig_finished` in the GUI thread.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot

from ftstudio.core.memory import gpu_class_for
from ftstudio.qt.wizard.values import GpuChoice

DETECT_TIMEOUT_S = 120.0
_SCRIPT = (
    "import json\n"
    "from ftstudio.engine.hardware import detect_gpus\n"
    "print(json.dumps([[g.name, g.total_gb] for g in detect_gpus()]))\n"
)
_CHILDREN: set[subprocess.Popen[str]] = set()


class GpuDetectionError(Exception):
    """The GPUs could not be detected; the message says why in plain words."""


@dataclass(frozen=True)
class GpuReport:
    """What detection found: the GPUs (maybe none), or why it failed."""

    gpus: tuple[GpuChoice, ...] = ()
    error: str = ""


def gpu_choice(name: str, total_gb: float) -> GpuChoice:
    """A detected GPU as the wizard plans for it."""
    return GpuChoice(f"{name} · {total_gb:.0f} GB", total_gb, gpu_class_for(name), detected=True)


def detect_gpus_isolated(
    cancel: Callable[[], bool] | None = None, timeout_s: float = DETECT_TIMEOUT_S
) -> list[GpuChoice]:
    """The CUDA GPUs torch can use, asked in a child process (see the module docstring).

    Raises:
        GpuDetectionError: the child failed, timed out or was cancelled.
    """
    if getattr(sys, "frozen", False):
        from ftstudio.engine.hardware import detect_gpus

        return [gpu_choice(gpu.name, gpu.total_gb) for gpu in detect_gpus()]
    child = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _CHILDREN.add(child)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                out, err = child.communicate(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                cancelled = cancel is not None and cancel()
                if cancelled or time.monotonic() > deadline:
                    child.kill()
                    child.communicate()
                    reason = "was cancelled" if cancelled else f"took over {timeout_s:g} s"
                    raise GpuDetectionError(f"GPU detection {reason} and was stopped.") from None
    finally:
        _CHILDREN.discard(child)
    if child.returncode != 0:
        last = (err.strip().splitlines() or ["no message"])[-1]
        raise GpuDetectionError(f"GPU detection failed: {last}")
    try:
        rows = json.loads(out.strip().splitlines()[-1])
        return [gpu_choice(str(name), float(total)) for name, total in rows]
    except (ValueError, IndexError, TypeError) as error:
        raise GpuDetectionError(f"GPU detection answered something unexpected: {error}") from None


@atexit.register
def _kill_children() -> None:
    """Do not leave a detection process behind when the application exits."""
    for child in list(_CHILDREN):
        with contextlib.suppress(OSError):
            child.kill()


class GpuProbe(QObject):
    """Detects the GPUs once, in a daemon thread; the answer is kept and shared.

    Args:
        detect: the detection function (default :func:`detect_gpus_isolated`).

    Signals:
        sig_finished(object): the :class:`GpuReport`, in the GUI thread.
    """

    sig_finished = Signal(object)
    _sig_done_in_thread = Signal(object)

    def __init__(
        self,
        detect: Callable[[], list[GpuChoice]] = detect_gpus_isolated,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._detect = detect
        self.report: GpuReport | None = None
        self._thread: threading.Thread | None = None
        # Emitted from the daemon thread; this object lives in the GUI thread, so the
        # connection is queued and the slot runs there.
        self._sig_done_in_thread.connect(self._on_done)

    def start(self) -> None:
        """Start detecting, unless it is running or done (then :attr:`report` holds it)."""
        if self.report is not None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="ftstudio-gpu-probe", daemon=True)
        self._thread.start()

    def is_running(self) -> bool:
        """Whether detection is under way."""
        return self._thread is not None

    def wait(self, timeout_s: float = DETECT_TIMEOUT_S) -> bool:
        """Block until the detection thread has ended (tests); ``False`` on timeout."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
            return not thread.is_alive()
        return True

    def _run(self) -> None:
        try:
            report = GpuReport(tuple(self._detect()))
        except GpuDetectionError as error:
            report = GpuReport(error=str(error))
        except Exception as error:  # noqa: BLE001 - reported in the window, never raised
            report = GpuReport(error=f"GPU detection failed: {type(error).__name__}: {error}")
        with contextlib.suppress(RuntimeError):  # the probe was deleted meanwhile
            self._sig_done_in_thread.emit(report)

    @Slot(object)
    def _on_done(self, report: GpuReport) -> None:
        self.report = report
        self._thread = None
        self.sig_finished.emit(report)


_SHARED: list[GpuProbe] = []


def shared_gpu_probe() -> GpuProbe:
    """The process-wide probe (GPUs do not change while the studio runs)."""
    if not _SHARED:
        _SHARED.append(GpuProbe())
    return _SHARED[0]
