"""Training events and durations in plain words, for the log pane and the progress line.

Pure functions (no Qt), so they are tested on their own and reused by any view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ftstudio.core.events import (
    CheckpointSaved,
    Evaluated,
    Failed,
    Finished,
    Started,
    StepLogged,
    TrainingEvent,
    TrainingWarning,
)

INFO, WARNING, ERROR, DETAIL = "info", "warning", "error", "detail"
LEVELS = (INFO, WARNING, ERROR, DETAIL)
"""Log levels: plain lines, highlighted warnings, highlighted errors, muted detail."""

STEP_LINES = 20
"""About how many step lines a run writes to the log (the plots show every step)."""


@dataclass(frozen=True)
class LogLine:
    """One line (or paragraph) of the training log."""

    level: str
    text: str


def format_duration(seconds: float | None) -> str:
    """``seconds`` as ``"45 s"``, ``"3 min 05 s"`` or ``"2 h 07 min"``; ``"–"`` if unknown."""
    if seconds is None or seconds != seconds or seconds < 0:  # None, NaN or negative
        return "–"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_loss(value: float | None) -> str:
    """A loss with four decimals (``"n/a"`` when unknown)."""
    return "n/a" if value is None else f"{value:.4f}"


def rewards_text(metrics: dict[str, float]) -> str:
    """A DPO step's reward margin and accuracy, e.g. ``"reward margin 0.412 · accuracy 75%"``;
    ``""`` when the step reports neither (SFT)."""
    parts = []
    margin = metrics.get("rewards/margins")
    accuracy = metrics.get("rewards/accuracies")
    if margin is not None:
        parts.append(f"reward margin {margin:.3f}")
    if accuracy is not None:
        parts.append(f"accuracy {accuracy:.0%}")
    return " · ".join(parts)


def progress_text(event: StepLogged) -> str:
    """The progress line under the bar: step, epoch, elapsed time and ETA."""
    return (
        f"Step {event.step:,} of {event.total_steps:,} · epoch {event.epoch:.2f} · "
        f"{format_duration(event.elapsed_s)} elapsed · ETA {format_duration(event.eta_s)}"
    )


def log_step(event: StepLogged, lines: int = STEP_LINES) -> bool:
    """Whether step ``event`` gets a log line: the first, the last, and about ``lines`` between."""
    every = max(1, event.total_steps // max(1, lines))
    return event.step <= 1 or event.step >= event.total_steps or event.step % every == 0


def describe(event: TrainingEvent) -> list[LogLine]:
    """The log lines for ``event`` (none for most steps: see :func:`log_step`)."""
    if isinstance(event, StepLogged):
        if not log_step(event):
            return []
        parts = [f"Step {event.step:,}/{event.total_steps:,}", f"loss {format_loss(event.loss)}"]
        if math.isfinite(event.learning_rate):  # OpenAI's jobs report no learning rate
            parts.append(f"lr {event.learning_rate:.3g}")
        rewards = rewards_text(event.metrics)
        if rewards:
            parts.append(rewards)
        if event.grad_norm is not None:
            parts.append(f"grad norm {event.grad_norm:.3g}")
        if event.tokens_per_second is not None:
            parts.append(f"{event.tokens_per_second:,.0f} tokens/s")
        if event.memory_gb is not None:
            label = "GPU" if event.memory_kind == "gpu" else "RAM"
            parts.append(f"{label} {event.memory_gb:.2f} GiB")
        return [LogLine(INFO, " · ".join(parts))]
    if isinstance(event, Started):
        verb = (
            f"Resumed at step {event.start_step:,} from {event.resumed_from}"
            if event.resumed_from
            else "Training started"
        )
        return [
            LogLine(
                INFO,
                f"{verb}: {event.method} on {event.device}, {event.total_steps:,} steps, "
                f"{event.train_examples:,} training and {event.val_examples:,} validation "
                f"examples ({event.train_tokens:,} tokens per epoch). Run folder: {event.run_dir}",
            )
        ]
    if isinstance(event, Evaluated):
        best = " (best so far)" if event.is_best else f" (best {format_loss(event.best_eval_loss)})"
        return [LogLine(INFO, f"Step {event.step:,}: validation loss {event.eval_loss:.4f}{best}")]
    if isinstance(event, CheckpointSaved):
        size = f" ({event.size_bytes / 2**20:,.1f} MiB)" if event.size_bytes else ""
        return [LogLine(INFO, f"Checkpoint saved at step {event.step:,}: {event.path}{size}")]
    if isinstance(event, TrainingWarning):
        at = f" (step {event.step:,})" if event.step else ""
        return [LogLine(WARNING, f"Warning{at}: {event.message}")]
    if isinstance(event, Finished):
        text = f"{event.reason} Final training loss {format_loss(event.final_loss)}"
        if event.best_eval_loss is not None:
            text += f", best validation loss {format_loss(event.best_eval_loss)}"
        if event.adapter_dir:
            text += f". Saved in {event.adapter_dir}"
        return [LogLine(INFO, text + ".")]
    if isinstance(event, Failed):
        lines = [LogLine(ERROR, f"The run failed: {event.message}")]
        if event.last_checkpoint:
            lines.append(LogLine(INFO, f"The last complete checkpoint is {event.last_checkpoint}."))
        if event.detail:
            lines.append(LogLine(DETAIL, event.detail.rstrip()))
        return lines
    return []
