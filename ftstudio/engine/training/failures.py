"""Why a run failed, in plain words with the fix: out of memory, a full disk, the rest.

A CUDA out-of-memory error is recorded with the plain fixes (a smaller batch with
more accumulation, gradient checkpointing, a shorter max length) and the planner's
estimate (:mod:`ftstudio.core.memory`) beside the measured peak, so the user sees
how far off the plan was.
"""

from __future__ import annotations

import errno
from pathlib import Path

from ftstudio.core.train_config import TrainConfig
from ftstudio.engine.training.checkpoints import CheckpointError

GIB = 2**30


class RunFailure(Exception):
    """A run that must fail with a code and a plain message (see ``Failed.code``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is the GPU (or the CPU allocator) running out of memory."""
    import torch

    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )


def classify(error: BaseException, run_dir: Path | None) -> tuple[str, str]:
    """(code, plain message) for an exception that ended a run."""
    if is_out_of_memory(error):
        return "out_of_memory", str(error)
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        where = run_dir or "the run folder"
        return (
            "disk_full",
            f"The disk is full ({where}). Free some space, then resume the run from its last "
            "checkpoint.",
        )
    if isinstance(error, CheckpointError):
        return "checkpoint", str(error)
    return "error", f"Training failed unexpectedly: {type(error).__name__}: {error}"


def oom_message(
    config: TrainConfig,
    project: Path,
    step: int,
    *,
    peak_gb: float | None = None,
    gpu_gb: float | None = None,
) -> str:
    """The plain fix for running out of GPU memory, with the estimate beside the peak.

    Args:
        config: the run's configuration.
        project: the project folder (to find a local base model).
        step: the step it failed at.
        peak_gb: the measured peak (``torch.cuda.max_memory_allocated``); measured
            here when None and CUDA is in use.
        gpu_gb: the GPU's memory; read here when None and CUDA is in use, else 24.
    """
    if peak_gb is None or gpu_gb is None:
        measured_peak, measured_total = _cuda_memory()
        peak_gb = measured_peak if peak_gb is None else peak_gb
        gpu_gb = measured_total if gpu_gb is None else gpu_gb
    parts = []
    if peak_gb is not None:
        total = f" of the GPU's {gpu_gb:.1f} GB" if gpu_gb else ""
        parts.append(f"measured peak {peak_gb:.1f} GB allocated{total}")
    parts.append(_estimate_text(config, project, gpu_gb or 24.0))
    batch, accum = config.per_device_batch_size, config.grad_accum
    smaller = max(1, batch // 2)
    fixes = []
    if batch > 1:
        fixes.append(
            f"halve the batch size and double the accumulation (batch {smaller} × "
            f"accumulation {accum * batch // smaller} keeps the effective batch of "
            f"{batch * accum})"
        )
    if not config.gradient_checkpointing:
        fixes.append("turn on gradient checkpointing (about 30 % slower, far less memory)")
    fixes.append(
        f"lower max_length from {config.max_length:,} (choose it from your data's longest "
        "examples: ftstudio data stats)"
    )
    if config.method != "qlora":
        fixes.append("use qlora (4-bit base weights)")
    return (
        f"The GPU ran out of memory at step {step} ({'; '.join(parts)}). To fix it: "
        + "; or ".join(fixes)
        + ". Then start again, or resume from the last checkpoint. `ftstudio plan` shows the "
        "memory of other settings."
    )


def _estimate_text(config: TrainConfig, project: Path, gpu_gb: float) -> str:
    try:
        from ftstudio.core.memory import estimate_memory
        from ftstudio.core.models import resolve_model_spec

        spec = resolve_model_spec(config.base_model, project, require_tokenizer=False)
        guess = estimate_memory(spec, config, gpu_gb)
    except Exception:  # noqa: BLE001 - the estimate is a courtesy; the fix matters
        return "no estimate for this model"
    return f"estimated {guess.allocated_gb:.1f} GB allocated, {guess.total_gb:.1f} GB in all"


def _cuda_memory() -> tuple[float | None, float | None]:
    import torch

    if not torch.cuda.is_available():
        return None, None
    device = torch.cuda.current_device()
    total = torch.cuda.get_device_properties(device).total_memory / GIB
    return torch.cuda.max_memory_allocated(device) / GIB, total
