"""OpenAI fine-tuning: upload a curated dataset, create a job, follow it like a local run.

For users without a GPU. The steps, and what each needs:

1. :func:`upload_plan` (no network): checks the dataset against OpenAI's rules
   (:mod:`ftstudio.core.openai_data`), splits off the validation examples, renders the
   exact bytes of each file and names what will leave the machine and where to.
   :meth:`UploadPlan.confirmation_text` is the text the user confirms.
2. :func:`run_openai_job` (``confirmed=True`` only): uploads the files (purpose
   ``fine-tune``, ``POST /v1/files``), creates the job (``POST /v1/fine_tuning/jobs``),
   then polls the job (``GET /v1/fine_tuning/jobs/{id}``) and its events
   (``GET /v1/fine_tuning/jobs/{id}/events``) until it ends. Cancelling posts
   ``/v1/fine_tuning/jobs/{id}/cancel``.
3. :func:`attach_openai_job`: follows a job again from its run folder (after the app
   was closed, or the connection was lost).

Every step goes through the official ``openai`` client (imported only here, lazily),
with the API key read from the OS keyring (:mod:`ftstudio.core.secrets`) unless one is
passed in. The key is never written to a file, an event or a message: error texts go
through :func:`~ftstudio.core.secrets.redact` first.

A job is a normal ftstudio run: a folder ``<project>/runs/<run id>/`` with ``run.json``
(``backend: "openai"``, the job id, the model, the uploaded files), ``data/train.jsonl``
and ``data/validation.jsonl`` (the exact bytes uploaded), ``events.jsonl`` (ftstudio's
events), ``metrics.jsonl`` (one row per step: ``loss`` and ``eval_loss`` as for local
runs, plus OpenAI's token accuracies), ``openai_job.json`` (the job settings) and
``openai_events.jsonl`` (OpenAI's own job events, as received); and a row in
``runs/runs.sqlite`` with method ``openai``.

How OpenAI's job events become ftstudio events:

- a ``metrics`` event (``data``: ``step``, ``train_loss``, ``train_mean_token_accuracy``,
  and on some steps ``valid_loss``, ``valid_mean_token_accuracy``, ``full_valid_loss``,
  ``full_valid_mean_token_accuracy``) → :class:`~ftstudio.core.events.StepLogged` with
  ``loss = train_loss`` and the accuracies in ``metrics``; when it has a validation
  loss, also :class:`~ftstudio.core.events.Evaluated` with ``eval_loss`` =
  ``full_valid_loss`` (the whole validation file, at epoch ends) when present, else
  ``valid_loss`` (a validation batch). OpenAI reports no learning rate:
  ``StepLogged.learning_rate`` is NaN (not measured);
- a ``warn`` event → :class:`~ftstudio.core.events.TrainingWarning` (code ``openai``);
- other messages and status changes → ``on_status`` (:class:`JobStatus`);
- job ``succeeded`` → :class:`~ftstudio.core.events.Finished` (``finished``; the
  fine-tuned model's id in ``reason``), ``cancelled`` → ``Finished`` (``stopped``),
  ``failed`` → :class:`~ftstudio.core.events.Failed` with the job's error message.

The package, by concern: :mod:`.config` (constants, :class:`OpenAIJobConfig`),
:mod:`.errors`, :mod:`.plan` (:func:`upload_plan`), :mod:`.client` (the ``openai`` client,
the API key, error messages), :mod:`.results`, :mod:`.recorder` (the run folder and row),
:mod:`.follow` (polling a job) and :mod:`.runs` (start, attach, cancel, unfinished runs).
"""

from __future__ import annotations

from ftstudio.engine.openai_finetune.config import (
    BACKEND,
    DEFAULT_BASE_URL,
    EVENTS_FILE,
    EVENTS_PAGE,
    JOB_FILE,
    JOB_STATUSES,
    MAX_POLL_FAILURES,
    POLL_INTERVAL_S,
    TERMINAL_STATUSES,
    OpenAIJobConfig,
)
from ftstudio.engine.openai_finetune.errors import NotConfirmedError, OpenAIJobError
from ftstudio.engine.openai_finetune.follow import Flag, OnEvent
from ftstudio.engine.openai_finetune.plan import UploadFile, UploadPlan, upload_plan
from ftstudio.engine.openai_finetune.results import JobStatus, OpenAIRunResult
from ftstudio.engine.openai_finetune.runs import (
    attach_openai_job,
    cancel_openai_job,
    run_openai_job,
    unfinished_openai_runs,
)

__all__ = [
    "BACKEND",
    "DEFAULT_BASE_URL",
    "EVENTS_FILE",
    "EVENTS_PAGE",
    "Flag",
    "JOB_FILE",
    "JOB_STATUSES",
    "JobStatus",
    "MAX_POLL_FAILURES",
    "NotConfirmedError",
    "OnEvent",
    "OpenAIJobConfig",
    "OpenAIJobError",
    "OpenAIRunResult",
    "POLL_INTERVAL_S",
    "TERMINAL_STATUSES",
    "UploadFile",
    "UploadPlan",
    "attach_openai_job",
    "cancel_openai_job",
    "run_openai_job",
    "unfinished_openai_runs",
    "upload_plan",
]
