"""What following a job reports: :class:`JobStatus` and :class:`OpenAIRunResult`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class JobStatus:
    """The job's state, or a message from OpenAI, for the monitor's status line.

    Attributes:
        job_id: the OpenAI job id (``ftjob-…``).
        status: one of :data:`JOB_STATUSES`.
        message: OpenAI's message (e.g. "Validating training file"), or ``""`` for a
            status change alone.
        fine_tuned_model: the new model's id once the job succeeded.
        trained_tokens: tokens billed, once known.
        estimated_finish: OpenAI's estimate of the end, as a Unix timestamp.
        time: when, as a Unix timestamp.
    """

    job_id: str
    status: str
    message: str = ""
    fine_tuned_model: str = ""
    trained_tokens: int | None = None
    estimated_finish: int | None = None
    time: float = field(default_factory=time.time)


@dataclass(frozen=True)
class OpenAIRunResult:
    """How following a job ended (fields as ``ftstudio.engine.training.RunResult``).

    Attributes:
        run_id: the run's id (``""`` when it failed before it had one).
        run_dir: the run folder (``None`` likewise).
        status: ``finished``, ``stopped`` (cancelled), ``failed``, or ``detached``
            (following stopped; the job goes on at OpenAI: :func:`attach_openai_job`).
        step: the last step reported.
        total_steps: the job's steps, once known.
        final_loss: the last training loss.
        best_eval_loss: the lowest validation loss.
        adapter_dir: always ``None`` (the model stays at OpenAI).
        code: the failure code of a failed run.
        message: why it ended, or what went wrong and how to fix it.
        job_id: the OpenAI job id (``""`` before it was created).
        fine_tuned_model: the fine-tuned model's id when it succeeded.
    """

    run_id: str
    run_dir: Path | None
    status: str
    step: int = 0
    total_steps: int = 0
    final_loss: float | None = None
    best_eval_loss: float | None = None
    adapter_dir: Path | None = None
    code: str = ""
    message: str = ""
    job_id: str = ""
    fine_tuned_model: str = ""
