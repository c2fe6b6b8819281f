"""The Trainer callback that turns training into ftstudio events, and keeps runs safe.

:class:`EventCallback` hooks into the Trainer's own loop (no loop is written here):

- every log step (every optimizer step): loss, learning rate, grad norm, tokens/s,
  memory (GPU allocated and peak, or RSS and peak RSS on a CPU), epoch, step/total
  and ETA, as a :class:`~ftstudio.core.events.StepLogged` event and a line of
  ``metrics.jsonl`` (which gets ``eval_loss`` too on evaluation steps). DPO's
  ``rewards/*`` and ``logps/*`` (``rewards/margins``, ``rewards/accuracies``,
  ``rewards/chosen``, ``rewards/rejected``, ``logps/chosen``, ``logps/rejected``)
  go into ``StepLogged.metrics`` and the line under those names; their evaluation
  counterparts (``eval_rewards/margins``…) into the line with ``eval_loss``;
- a NaN or infinite loss or gradient norm, or a loss of exactly 0 with a NaN
  gradient norm, stops the run without saving the broken weights
  (:attr:`EventCallback.failure` says why and what to do);
- ``cancel()`` is polled at every step end: training stops there and a checkpoint
  is saved, so the run can resume;
- early stopping: after ``patience`` evaluations without a lower validation loss
  the run stops; every new best is saved as a checkpoint, so the best is kept;
- overfitting: a warning when the validation loss rose at each of the last
  ``overfit_evals`` evaluations while the training loss fell.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from ftstudio.core.events import Evaluated, StepLogged, TrainingEvent, TrainingWarning

GIB = 2**30
METRIC_PREFIXES = ("rewards/", "logps/")
"""Trainer log keys passed on as named metrics (DPO's rewards and log-probabilities)."""
OVERFIT_EVALS = 3
"""Consecutive evaluations with a rising validation loss before the overfitting warning."""


class EventCallback(TrainerCallback):
    """Reports a run's progress as events and applies the safety nets (module docstring).

    Args:
        emit: receives each event (only called in the main process).
        cancel: returns true once the user asked to stop.
        metrics_path: ``metrics.jsonl`` to append to (``None``: no file).
        is_main: whether this is the process that reports and writes files.
        has_eval: whether the run evaluates (a validation set and ``eval_steps``).
        early_stopping_patience: evaluations without improvement before stopping (0: off).
        overfit_evals: rising evaluations before the overfitting warning.
        on_begin: called once at the start with ``(total_steps, start_step)``.
        learning_rate: the configured learning rate (named in the NaN explanation).

    Attributes:
        stop_reason: ``""``, ``cancelled``, ``early_stopping`` or ``nan``.
        failure: the plain-language explanation when the run must fail (NaN).
        best_eval_loss, best_step: the lowest validation loss and its step.
        final_loss: the last logged training loss.
        last_step: the last logged step.
    """

    def __init__(
        self,
        *,
        emit: Callable[[TrainingEvent], None],
        cancel: Callable[[], bool] | None = None,
        metrics_path: Path | None = None,
        is_main: bool = True,
        has_eval: bool = False,
        early_stopping_patience: int = 0,
        overfit_evals: int = OVERFIT_EVALS,
        on_begin: Callable[[int, int], None] | None = None,
        learning_rate: float | None = None,
    ) -> None:
        self._emit = emit
        self._cancel = cancel or (lambda: False)
        self._metrics_path = Path(metrics_path) if metrics_path is not None else None
        self._is_main = is_main
        self._has_eval = has_eval
        self._patience = early_stopping_patience
        self._overfit_evals = overfit_evals
        self._on_begin = on_begin
        self._learning_rate = learning_rate
        self.stop_reason = ""
        self.failure = ""
        self.best_eval_loss: float | None = None
        self.best_step = 0
        self.final_loss: float | None = None
        self.last_step = 0
        self.total_steps = 0
        self._bad_evals = 0
        self._evals: list[tuple[int, float, float | None]] = []  # step, eval loss, train mean
        self._train_since_eval: list[float] = []
        self._overfit_warned = False
        self._pending: dict[str, Any] | None = None
        self._start_time = 0.0
        self._start_step = 0
        self._last_time = 0.0
        self._last_tokens = 0

    # ---- TrainerCallback
    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        now = time.perf_counter()
        self._start_time = self._last_time = now
        self._start_step = self.last_step = state.global_step
        self._last_tokens = state.num_input_tokens_seen or 0
        self.total_steps = state.max_steps
        if state.best_metric is not None and math.isfinite(state.best_metric):
            self.best_eval_loss = state.best_metric  # resumed: the best so far
            self.best_step = state.best_global_step or 0
        _reset_peak_memory()
        if self._on_begin is not None and self._is_main:
            self._on_begin(state.max_steps, state.global_step)

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if _any_process(bool(self._cancel()), args) and not self.stop_reason:
            self.stop_reason = "cancelled"
        if self.stop_reason == "cancelled":
            control.should_training_stop = True
            control.should_save = True  # stop gracefully: this step is kept and can resume

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        logs = logs or {}
        if "loss" in logs:
            self._train_log(args, state, control, logs)
        if "eval_loss" in logs:
            self._eval_log(state, control, logs)

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self._flush()

    # ---- Train and eval logs
    def _train_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any],
    ) -> None:
        step = state.global_step
        loss = float(logs["loss"])
        grad_norm = _float(logs.get("grad_norm"))
        learning_rate = _float(logs.get("learning_rate")) or 0.0
        now = time.perf_counter()
        tokens = state.num_input_tokens_seen or 0
        interval = now - self._last_time
        speed = (tokens - self._last_tokens) / interval if interval > 0 and tokens else None
        self._last_time, self._last_tokens = now, tokens
        elapsed = now - self._start_time
        done = step - self._start_step
        eta = elapsed / done * max(0, state.max_steps - step) if done > 0 else None
        memory, peak, memory_kind = memory_now()
        self.final_loss, self.last_step = loss, step
        bad = _bad_numbers(loss, grad_norm)
        metrics = named_metrics(logs)
        event = StepLogged(
            step=step,
            total_steps=state.max_steps,
            epoch=float(state.epoch or 0.0),
            loss=loss,
            learning_rate=learning_rate,
            grad_norm=grad_norm,
            tokens_per_second=speed,
            memory_gb=memory,
            peak_memory_gb=peak,
            memory_kind=memory_kind,
            elapsed_s=elapsed,
            eta_s=eta,
            metrics=metrics,
        )
        row: dict[str, Any] = {
            "step": step,
            "epoch": event.epoch,
            "loss": loss,
            "learning_rate": learning_rate,
            "grad_norm": grad_norm,
            "tokens_per_second": speed,
            "memory_gb": memory,
            "peak_memory_gb": peak,
            "memory_kind": memory_kind,
        }
        for key in ("mean_token_accuracy", "entropy", "num_input_tokens_seen"):
            if key in logs:
                row[key] = logs[key]
        row.update(metrics)
        row["elapsed_s"] = round(elapsed, 3)
        row["time"] = round(event.time, 3)
        self._flush()
        if bad:
            self.stop_reason = "nan"
            self.failure = _nan_message(bad, step, self._learning_rate or learning_rate)
            control.should_training_stop = True
            control.should_save = False  # never keep the broken weights
            control.should_evaluate = False
            self._write_row(row)
            self._send(event)
            return
        self._train_since_eval.append(loss)
        if control.should_evaluate and self._has_eval:
            self._pending = row  # written with its eval_loss, right after the evaluation
        else:
            self._write_row(row)
        self._send(event)

    def _eval_log(self, state: TrainerState, control: TrainerControl, logs: dict[str, Any]) -> None:
        step = state.global_step
        eval_loss = float(logs["eval_loss"])
        extra = named_metrics(logs, prefix="eval_")
        if self._pending is not None and self._pending.get("step") == step:
            self._pending["eval_loss"] = eval_loss
            self._pending.update(extra)
            self._write_row(self._pending)
            self._pending = None
        else:
            self._flush()
            epoch = float(state.epoch or 0.0)
            self._write_row({"step": step, "epoch": epoch, "eval_loss": eval_loss, **extra})
        improved = math.isfinite(eval_loss) and (
            self.best_eval_loss is None or eval_loss < self.best_eval_loss
        )
        best = eval_loss if improved or self.best_eval_loss is None else self.best_eval_loss
        if improved:
            self.best_eval_loss, self.best_step = eval_loss, step
            self._bad_evals = 0
            if self._patience:
                control.should_save = True  # keep the best weights as a checkpoint
        else:
            self._bad_evals += 1
        self._send(
            Evaluated(
                step=step,
                total_steps=state.max_steps,
                epoch=float(state.epoch or 0.0),
                eval_loss=eval_loss,
                best_eval_loss=best,
                is_best=improved,
            )
        )
        train_mean = (
            sum(self._train_since_eval) / len(self._train_since_eval)
            if self._train_since_eval
            else None
        )
        self._train_since_eval = []
        self._evals.append((step, eval_loss, train_mean))
        self._check_overfitting(step)
        if self._patience and self._bad_evals >= self._patience and not self.stop_reason:
            self.stop_reason = "early_stopping"
            control.should_training_stop = True

    def _check_overfitting(self, step: int) -> None:
        count = self._overfit_evals
        if self._overfit_warned or count < 1 or len(self._evals) < count + 1:
            return
        window = self._evals[-(count + 1) :]
        rising = all(b[1] > a[1] for a, b in zip(window, window[1:], strict=False))
        trains = [t for _, _, t in window if t is not None]
        falling = len(trains) >= 2 and trains[-1] < trains[0]
        if rising and falling:
            self._overfit_warned = True
            first = window[0]
            self._send(
                TrainingWarning(
                    code="overfitting",
                    message=(
                        f"Overfitting: the validation loss rose at each of the last {count} "
                        f"evaluations (from {first[1]:.4f} at step {first[0]} to "
                        f"{window[-1][1]:.4f} at step {step}) while the training loss fell. "
                        "The model is memorising the training examples. Stop here and use the "
                        "best checkpoint, train fewer epochs, lower the learning rate, or add "
                        "examples."
                    ),
                    step=step,
                )
            )

    # ---- Output
    def _send(self, event: TrainingEvent) -> None:
        if self._is_main:
            self._emit(event)

    def _write_row(self, row: dict[str, Any]) -> None:
        if not self._is_main or self._metrics_path is None:
            return
        with self._metrics_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def _flush(self) -> None:
        if self._pending is not None:
            self._write_row(self._pending)
            self._pending = None


# ---------------------------------------------------------------- helpers


def memory_now() -> tuple[float | None, float | None, str]:
    """(current, peak, kind) memory in GiB: GPU allocated when CUDA is in use, else RSS."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        device = torch.cuda.current_device()
        return (
            torch.cuda.memory_allocated(device) / GIB,
            torch.cuda.max_memory_allocated(device) / GIB,
            "gpu",
        )
    return _rss_gb(), _peak_rss_gb(), "rss"


def _reset_peak_memory() -> None:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.reset_peak_memory_stats()


def _rss_gb() -> float | None:
    try:
        import psutil
    except ImportError:  # pragma: no cover - accelerate depends on psutil
        return None
    return psutil.Process().memory_info().rss / GIB


def _peak_rss_gb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    import sys

    return peak / GIB if sys.platform == "darwin" else peak * 1024 / GIB


def named_metrics(logs: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The logged ``rewards/*`` and ``logps/*`` values (with ``prefix``: ``eval_rewards/*``…)."""
    wanted = tuple(prefix + name for name in METRIC_PREFIXES)
    found = {}
    for key, value in logs.items():
        number = _float(value) if key.startswith(wanted) else None
        if number is not None:
            found[key] = number
    return found


def _float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _bad_numbers(loss: float, grad_norm: float | None) -> str:
    """What is broken: ``loss``, ``grad_norm``, ``zero`` (loss 0 with NaN grads) or ``""``."""
    grad_bad = grad_norm is not None and not math.isfinite(grad_norm)
    if not math.isfinite(loss):
        return "loss"
    if loss == 0.0 and grad_bad:
        return "zero"
    if grad_bad:
        return "grad_norm"
    return ""


def _nan_message(what: str, step: int, learning_rate: float) -> str:
    head = {
        "loss": f"The training loss became NaN or infinite at step {step}",
        "grad_norm": f"The gradients became NaN or infinite at step {step}",
        "zero": (
            f"The training loss was exactly 0 with NaN gradients at step {step} (usually "
            "examples whose answers were cut off entirely, or numbers out of range)"
        ),
    }[what]
    lower = f"{learning_rate / 10:.1e}" if learning_rate > 0 else "a tenth of it"
    return (
        f"{head}, so training stopped and these weights were not saved. Usual causes: a "
        f"learning rate too high ({learning_rate:.1e}; try {lower}), "
        "fp16 overflowing (use bf16 on a recent GPU, or fp32), or broken examples (run "
        "ftstudio data validate). Resume from the last checkpoint after changing the "
        "setting, or start again."
    )


def _any_process(flag: bool, args: TrainingArguments) -> bool:
    """``flag`` or'ed over every training process, so that all of them stop together."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return flag
    import torch

    value = torch.tensor([1 if flag else 0], device=args.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())
