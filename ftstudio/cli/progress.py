"""Progress on a terminal and Ctrl-C while long work runs (training, OpenAI jobs, exports)."""

# ruff: noqa: T201  (a command line prints)

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # type hints only: nothing is imported at run time
    import threading

    from ftstudio.core.events import TrainingEvent


class LinePrinter:
    """One progress line that a terminal rewrites in place; other lines print below it.

    Args:
        stderr: the progress line goes to stderr (default stdout).
    """

    def __init__(self, *, stderr: bool = False) -> None:
        self.stderr = stderr
        self.tty = self._stream().isatty()
        self.open_line = False

    def _stream(self) -> TextIO:
        return sys.stderr if self.stderr else sys.stdout

    def progress(self, text: str, width: int) -> None:
        """``text``, padded to ``width``, over the progress line on a terminal; else a line."""
        if self.tty:
            print("\r" + text.ljust(width), end="", file=self._stream(), flush=True)
            self.open_line = True
        else:
            print(text, file=self._stream(), flush=True)

    def line(self, text: str, *, err: bool = False) -> None:
        """A line of its own (on stderr with ``err``), below the progress line."""
        self.close()
        print(text, file=sys.stderr if err else sys.stdout, flush=True)

    def close(self) -> None:
        """End the progress line, if one is showing."""
        if self.open_line:
            print(file=self._stream(), flush=True)
            self.open_line = False


class EventPrinter(LinePrinter):
    """Prints a run's :class:`~ftstudio.core.events.TrainingEvent`\\ s.

    Evaluations and warnings print the same for every run; :meth:`on_event` prints the
    other kinds. The last validation loss is kept for the progress line.
    """

    def __init__(self) -> None:
        super().__init__()
        self.eval_loss: float | None = None

    def __call__(self, event: TrainingEvent) -> None:
        if event.kind == "evaluated":
            self.eval_loss = event.eval_loss
            if not self.tty:
                print(f"step {event.step}: eval loss {event.eval_loss:.4f}", flush=True)
        elif event.kind == "warning":
            self.line(f"warning ({event.code}): {event.message}", err=True)
        else:
            self.on_event(event)

    def on_event(self, event: Any) -> None:
        """Print an event of another kind (steps, start, end)."""
        raise NotImplementedError


class StopOnInterrupt:
    """``with StopOnInterrupt(message) as stop:`` Ctrl-C sets the event ``stop`` instead of
    raising ``KeyboardInterrupt``; the previous handler is back when the block ends.

    With a ``message``, the first Ctrl-C prints it on stderr and a second one aborts
    (``KeyboardInterrupt``); without, every Ctrl-C only sets the event. Signals reach
    only the main thread: elsewhere the event is returned and nothing is installed.
    """

    def __init__(self, message: str | None = None) -> None:
        self.message = message

    def __enter__(self) -> threading.Event:
        import signal
        import threading

        self.event = threading.Event()
        self.active = threading.current_thread() is threading.main_thread()
        if self.active:
            self.previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._interrupt)
        return self.event

    def _interrupt(self, signum: int, frame: Any) -> None:
        if self.message is None:
            self.event.set()
            return
        if self.event.is_set():
            import signal

            signal.signal(signal.SIGINT, self.previous)
            raise KeyboardInterrupt
        self.event.set()
        print(self.message, file=sys.stderr)

    def __exit__(self, *exc: object) -> None:
        if self.active:
            import signal

            signal.signal(signal.SIGINT, self.previous)
