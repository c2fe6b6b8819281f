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
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ftstudio.core.atomic import atomic_write_bytes, atomic_write_json
from ftstudio.core.dataset.records import Dataset
from ftstudio.core.events import (
    Evaluated,
    Failed,
    Finished,
    Started,
    StepLogged,
    TrainingEvent,
    TrainingWarning,
)
from ftstudio.core.fields import field_specs, option, to_mapping
from ftstudio.core.openai_data import (
    DEFAULT_MODEL,
    OpenAIDataReport,
    TokenCounter,
    check_openai_dataset,
    openai_jsonl,
)
from ftstudio.core.runs import (
    RunPaths,
    RunStoreError,
    new_run_id,
    read_run_file,
    run_dir_for,
    utc_now,
)
from ftstudio.core.secrets import SECRET_LABELS, SecretStoreError, get_secret, redact
from ftstudio.engine.run_recorder import RunFolderRecorder

BACKEND = "openai"
"""``run.json``'s ``backend`` and the run row's ``method`` for OpenAI jobs."""
DEFAULT_BASE_URL = "https://api.openai.com/v1"
"""OpenAI's API; a test server on loopback may stand in (``base_url``)."""
POLL_INTERVAL_S = 10.0
"""Seconds between two looks at a running job."""
MAX_POLL_FAILURES = 6
"""Failed looks in a row (network, server errors) before following gives up."""
JOB_STATUSES = ("validating_files", "queued", "running", "succeeded", "failed", "cancelled")
"""Every status an OpenAI fine-tuning job can have."""
TERMINAL_STATUSES = ("succeeded", "failed", "cancelled")
"""Statuses after which a job does not change any more."""
JOB_FILE = "openai_job.json"
"""The job settings (:class:`OpenAIJobConfig`) in the run folder."""
EVENTS_FILE = "openai_events.jsonl"
"""OpenAI's job events, as received, in the run folder."""
EVENTS_PAGE = 100
"""Events asked for per request."""

OnEvent = Callable[[TrainingEvent], None]
Flag = threading.Event | Callable[[], bool] | None
"""A cancel or detach request: an event to set, or a function returning true."""

_STEP_TEXT = re.compile(r"\bstep\s+(\d+)\s*/\s*(\d+)", re.IGNORECASE)
_LOOPBACK_NAMES = ("localhost",)


class OpenAIJobError(Exception):
    """Nothing was sent: the job cannot start (message says why and what to do)."""


class NotConfirmedError(OpenAIJobError):
    """:func:`run_openai_job` was called without the user's confirmation."""


# ---------------------------------------------------------------------------- Settings


@dataclass(frozen=True)
class OpenAIJobConfig:
    """The settings of an OpenAI fine-tuning job (edited in forms and by the CLI)."""

    model: str = option(
        DEFAULT_MODEL,
        label="Base model",
        help="The OpenAI model to fine-tune (a dated snapshot such as gpt-4o-mini-2024-07-18, "
        "or one of your fine-tuned models, ft:...). Its per-example token limit applies.",
        placeholder=DEFAULT_MODEL,
    )
    n_epochs: int = option(
        0,
        label="Epochs",
        help="Passes over the training examples; 0 is auto: OpenAI picks them from the "
        "dataset size (3, more for fewer than 34 examples, fewer above 8,333).",
        minimum=0,
        maximum=50,
    )
    suffix: str = option(
        "",
        label="Model name suffix",
        help="Up to 64 characters added to the fine-tuned model's name, to recognise it "
        "(e.g. it-support-v2). Empty: none.",
        placeholder="it-support-v1",
    )
    seed: int = option(
        0,
        label="Seed",
        help="The same seed, data and settings give the same job; it also draws the "
        "validation split when the dataset has no stored split.",
        minimum=0,
        maximum=2**31 - 1,
        advanced=True,
    )
    validation_share: float = option(
        0.1,
        label="Validation share",
        help="Share of the examples held back to measure the validation loss (0 holds "
        "none back). The dataset's stored split is used when it has one.",
        minimum=0.0,
        maximum=0.5,
    )
    validation_file: str = option(
        "",
        label="Validation file",
        help="A separate dataset file to validate on, relative to the project folder; "
        "when set, every example of the training dataset is trained on.",
        placeholder="datasets/validation.jsonl",
        advanced=True,
    )

    def __post_init__(self) -> None:
        share = self.validation_share
        if isinstance(share, int) and not isinstance(share, bool):  # 0 means 0.0
            object.__setattr__(self, "validation_share", float(share))

    @property
    def epochs_param(self) -> int | str:
        """``n_epochs`` as OpenAI takes it: ``"auto"`` or a number."""
        return self.n_epochs if self.n_epochs > 0 else "auto"

    def problems(self) -> list[str]:
        """Every problem with these settings, in words (empty: fine)."""
        from ftstudio.core.fields import check_value

        found = []
        for spec in field_specs(type(self)):
            problem = check_value(spec, getattr(self, spec.name))
            if problem:
                found.append(f"{spec.label}: {problem}.")
        if not self.model.strip():
            found.append("Base model: choose the model to fine-tune.")
        if len(self.suffix) > 64:
            found.append(
                f"Model name suffix: {len(self.suffix)} characters; OpenAI takes at most 64."
            )
        return found


# ---------------------------------------------------------------------------- The plan


@dataclass(frozen=True)
class UploadFile:
    """One file that will be uploaded.

    Attributes:
        role: ``training`` or ``validation``.
        filename: the name OpenAI will show.
        examples: examples in it.
        size_bytes: its size.
        tokens: about how many tokens it holds (each example up to the model's limit).
        sha256: the SHA-256 of its bytes.
        content: the exact bytes (not shown in :meth:`UploadPlan.to_json`).
    """

    role: str
    filename: str
    examples: int
    size_bytes: int
    tokens: int
    sha256: str
    content: bytes = field(repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The file's description, without its bytes."""
        return {
            "role": self.role,
            "filename": self.filename,
            "examples": self.examples,
            "size_bytes": self.size_bytes,
            "tokens": self.tokens,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class UploadPlan:
    """What a job would send, and where: everything the confirmation names.

    Attributes:
        config: the job settings.
        dataset_path: the training dataset file (``""`` for a dataset not from a file).
        base_url: the API's address (``https://api.openai.com/v1`` normally).
        host: the host the files and the API key go to.
        files: the files to upload (training first).
        report: the training examples' check.
        validation_report: the validation examples' check (``None``: no validation).
        notes: things worth knowing that do not stop the job.
        problems: reasons the job cannot start (empty: it can).
    """

    config: OpenAIJobConfig
    dataset_path: str
    base_url: str
    host: str
    files: tuple[UploadFile, ...]
    report: OpenAIDataReport
    validation_report: OpenAIDataReport | None = None
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the job can start (no :attr:`problems`)."""
        return not self.problems

    @property
    def epochs(self) -> int:
        """The epochs that will run (the requested ones, or OpenAI's auto rule)."""
        return self.report.epochs

    @property
    def billed_tokens(self) -> int:
        """About how many trained tokens OpenAI will bill (training tokens × epochs)."""
        return self.report.billed_tokens

    @property
    def total_bytes(self) -> int:
        """The bytes of every file together."""
        return sum(item.size_bytes for item in self.files)

    def confirmation_text(self) -> str:
        """Plain text naming exactly what will leave the machine, to where, and the cost
        basis; the user confirms it before :func:`run_openai_job` may run."""
        lines = [
            f"Upload to {self.host} ({self.base_url}) and start a fine-tuning job of "
            f"{self.config.model}:",
        ]
        for item in self.files:
            lines.append(
                f"  - {item.filename}: {item.examples:,} {item.role} examples, "
                f"{_size(item.size_bytes)}, about {item.tokens:,} tokens"
            )
        source = f" from {self.dataset_path}" if self.dataset_path else ""
        lines.append(
            f"These files hold the full text of every message (system, user, assistant and "
            f"tool turns) of those examples{source}. Tags, review states, notes and sources "
            "are not sent."
        )
        left_out = self.report.left_out + (
            self.validation_report.left_out if self.validation_report else 0
        )
        if left_out:
            lines.append(f"{left_out:,} examples are left out (rejected, or with errors).")
        auto = " (auto: OpenAI's rule for this many examples)" if self.report.auto else ""
        method = self.report.token_method
        how = "an estimate, usually above the real count" if method.startswith("est") else method
        lines.append(
            f"Training: {self.epochs} epochs{auto}; about {self.billed_tokens:,} trained "
            f"tokens will be billed to your OpenAI account ({how})."
        )
        lines.append(
            "The files stay in your OpenAI account until you delete them there. Your "
            f"{SECRET_LABELS['openai']} is read from the OS keyring and sent only to "
            f"{self.host}."
        )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The plan as printed by ``ftstudio openai train --json`` (no file bytes)."""
        return {
            "ok": self.ok,
            "model": self.config.model,
            "config": to_mapping(self.config),
            "dataset": self.dataset_path,
            "base_url": self.base_url,
            "host": self.host,
            "files": [item.to_json() for item in self.files],
            "epochs": self.epochs,
            "epochs_auto": self.report.auto,
            "billed_tokens_estimate": self.billed_tokens,
            "token_method": self.report.token_method,
            "notes": list(self.notes),
            "problems": list(self.problems),
        }


def upload_plan(
    dataset: Dataset | Path | str,
    config: OpenAIJobConfig | None = None,
    *,
    project: Path | None = None,
    base_url: str | None = None,
    counter: TokenCounter | None = None,
) -> UploadPlan:
    """Work out what a job would upload; nothing is sent and nothing is written.

    Args:
        dataset: the curated dataset, or its file (relative paths are taken from
            ``project`` when given).
        config: the job settings (default :class:`OpenAIJobConfig`).
        project: the project folder (for relative paths).
        base_url: the API address (default :data:`DEFAULT_BASE_URL`).
        counter: how to count tokens (default: tiktoken if usable, else the estimate).

    Raises:
        DatasetReadError: a dataset file cannot be read.
    """
    from ftstudio.core.dataset.formats import load_dataset
    from ftstudio.core.dataset.split import SplitFileError, assign_split, load_split

    config = config or OpenAIJobConfig()
    problems = list(config.problems())
    notes: list[str] = []
    url = (base_url or DEFAULT_BASE_URL).rstrip("/")
    host, url_problem = _check_base_url(url)
    if url_problem:
        problems.append(url_problem)
    if not isinstance(dataset, Dataset):
        dataset = load_dataset(_resolve(dataset, project))
    train_ids: list[int] | None = None
    val_ids: list[int] | None = None
    val_dataset: Dataset | None = None
    if config.validation_file.strip():
        val_dataset = load_dataset(_resolve(config.validation_file, project))
    elif config.validation_share > 0 and dataset.kind != "preference":
        stored = None
        if dataset.path is not None:
            try:
                stored = load_split(dataset.path)
            except SplitFileError as error:
                problems.append(str(error))
        split = (
            stored.apply(dataset)
            if stored is not None
            else assign_split(dataset, config.validation_share, config.seed)
        )
        if stored is not None and abs(stored.val_fraction - config.validation_share) > 1e-9:
            notes.append(
                f"The dataset's stored split ({stored.path.name}) holds back "
                f"{stored.val_fraction:g} for validation; it is used instead of "
                f"{config.validation_share:g}."
            )
        train_ids, val_ids = list(split.train), list(split.val)
        if not val_ids:
            notes.append(
                "No example fell into the validation share (the dataset is small), so no "
                "validation loss will be reported."
            )
            val_ids = None
    report = check_openai_dataset(
        dataset, config.model, n_epochs=config.n_epochs, indices=train_ids, counter=counter
    )
    problems.extend(issue.message for issue in report.blocking)
    val_report = None
    if val_dataset is not None or val_ids is not None:
        val_report = check_openai_dataset(
            val_dataset or dataset,
            config.model,
            n_epochs=config.n_epochs,
            indices=val_ids,
            role="validation",
            counter=counter,
        )
        problems.extend(f"Validation: {issue.message}" for issue in val_report.blocking)
        if not val_report.usable and not val_report.blocking:
            notes.append("No validation example is usable, so no validation loss is reported.")
    if report.token_method.startswith("estimated"):
        notes.append(
            "Token counts are estimates (install tiktoken for exact counts); they are "
            "usually above the real ones."
        )
    stem = dataset.path.stem if dataset.path is not None else "dataset"
    files = [_upload_file("training", f"{stem}-train.jsonl", dataset, report)]
    if val_report is not None and val_report.usable:
        val_stem = val_dataset.path.stem if val_dataset and val_dataset.path else stem
        files.append(
            _upload_file(
                "validation", f"{val_stem}-validation.jsonl", val_dataset or dataset, val_report
            )
        )
    return UploadPlan(
        config=config,
        dataset_path=str(dataset.path) if dataset.path is not None else "",
        base_url=url,
        host=host,
        files=tuple(files),
        report=report,
        validation_report=val_report,
        notes=tuple(notes),
        problems=tuple(problems),
    )


def _upload_file(role: str, name: str, dataset: Dataset, report: OpenAIDataReport) -> UploadFile:
    content = openai_jsonl(dataset, report.usable)
    return UploadFile(
        role=role,
        filename=name,
        examples=len(report.usable),
        size_bytes=len(content),
        tokens=report.tokens,
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
    )


def _resolve(path: Path | str, project: Path | None) -> Path:
    path = Path(path).expanduser()
    if not path.is_absolute() and project is not None:
        return Path(project) / path
    return path


def _check_base_url(url: str) -> tuple[str, str]:
    """(host as shown, problem or ``""``): https, or http on this machine only."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    shown = f"{host}:{parts.port}" if parts.port else host
    if parts.scheme not in ("https", "http") or not host:
        return shown or url, f"The API address {url!r} is not an http(s) URL."
    if parts.username or parts.password:
        return shown, "The API address must not hold a user name or password."
    if parts.scheme == "http" and not _is_loopback(host):
        return shown, (
            f"The API address {url} is plain http to another machine: the API key and the "
            "data would travel unencrypted. Use https."
        )
    return shown, ""


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _size(count: int) -> str:
    if count < 1024:
        return f"{count:,} bytes"
    if count < 1024**2:
        return f"{count / 1024:.1f} KiB ({count:,} bytes)"
    return f"{count / 1024**2:.1f} MiB ({count:,} bytes)"


# ---------------------------------------------------------------------------- Results


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


# ---------------------------------------------------------------------------- Running


def run_openai_job(
    plan: UploadPlan,
    on_event: OnEvent | None = None,
    cancel: Flag = None,
    *,
    project: Path,
    confirmed: bool = False,
    api_key: str | None = None,
    base_url: str | None = None,
    name: str | None = None,
    poll_interval: float = POLL_INTERVAL_S,
    on_status: Callable[[JobStatus], None] | None = None,
    detach: Flag = None,
) -> OpenAIRunResult:
    """Upload the plan's files, create the job and follow it to its end.

    Nothing is sent unless ``confirmed`` is true (the user accepted
    :meth:`UploadPlan.confirmation_text`), the plan has no problems, and an API key is
    at hand. Then the run folder and its database row are made, the files are uploaded
    (exactly ``plan.files``' bytes), the job is created, and the job is polled every
    ``poll_interval`` seconds, each change reported through ``on_event`` (see the module
    docstring) and ``on_status``.

    Args:
        plan: from :func:`upload_plan`.
        on_event: receives every ftstudio event (also appended to ``events.jsonl``).
        cancel: when set, the job is cancelled at OpenAI; the run ends ``stopped``.
        project: the project folder (the run goes to ``<project>/runs/<id>``).
        confirmed: the user confirmed the upload.
        api_key: the OpenAI API key (default: read from the OS keyring).
        base_url: must be ``plan.base_url`` when given (the confirmed address).
        name: a display name for the run.
        poll_interval: seconds between looks at the job.
        on_status: receives status changes and OpenAI's messages.
        detach: when set, following stops and the job goes on at OpenAI (the run stays
            ``running``; :func:`attach_openai_job` follows it again).

    Returns:
        How it ended. Failures after the run folder exists are reported as a
        ``Failed`` event and a ``failed`` result, not raised.

    Raises:
        NotConfirmedError: ``confirmed`` is false.
        OpenAIJobError: the plan has problems, ``base_url`` is not the plan's, or no API
            key is available; nothing was sent or written.
    """
    if not confirmed:
        raise NotConfirmedError(
            "Nothing was uploaded: the upload was not confirmed. Show the plan's "
            "confirmation text and start the job only after the user accepts it."
        )
    if plan.problems:
        raise OpenAIJobError("Nothing was uploaded. " + " ".join(plan.problems))
    if base_url is not None and base_url.rstrip("/") != plan.base_url:
        raise OpenAIJobError(
            f"Nothing was uploaded: the confirmed address is {plan.base_url}, not "
            f"{base_url}. Make a new plan for the other address and confirm it."
        )
    key = _api_key(api_key)
    run_id = new_run_id()
    paths = RunPaths(run_dir_for(project, run_id))
    recorder = _Recorder(paths, Path(project), on_event=on_event)
    recorder.create(plan, name=name or f"OpenAI {plan.config.model}")
    follower = _Follower(None, recorder, key, plan.host, on_status)
    file_ids: dict[str, str] = {}
    try:
        client = follower.client = _client(key, plan.base_url)
        for item in plan.files:
            if _is_set(cancel):
                return follower.stopped_before_job("before all files were uploaded")
            uploaded = client.files.create(
                file=(item.filename, item.content, "application/jsonl"), purpose="fine-tune"
            )
            file_ids[item.role] = uploaded.id
            recorder.note_upload(item, uploaded.id)
        if _is_set(cancel):
            return follower.stopped_before_job("after the upload, before the job was created")
        job = client.fine_tuning.jobs.create(**_job_request(plan, file_ids, run_id))
    except Exception as error:  # every API failure becomes a Failed event
        code, message = _api_failure(error, key, plan.host)
        return follower.fail(code, message)
    recorder.job_created(job.id)
    follower.start(job)
    return follower.follow(cancel, detach, poll_interval)


def attach_openai_job(
    run_dir: Path,
    on_event: OnEvent | None = None,
    cancel: Flag = None,
    *,
    api_key: str | None = None,
    poll_interval: float = POLL_INTERVAL_S,
    on_status: Callable[[JobStatus], None] | None = None,
    detach: Flag = None,
) -> OpenAIRunResult:
    """Follow the job of an OpenAI run folder again (after a restart or lost connection).

    Events already received (``openai_events.jsonl``) are not reported twice; the run's
    losses so far are read back from ``metrics.jsonl``. A job that ended meanwhile is
    finished at once. Arguments as :func:`run_openai_job`.

    Raises:
        OpenAIJobError: the folder is not an OpenAI run with a job, or no API key is
            available.
    """
    run = _job_run(run_dir, api_key, "a job to follow (its run.json has no OpenAI job id)")
    recorder = _Recorder(RunPaths(run.run_dir), run.project, on_event=on_event)
    recorder.reopen(run.info)
    follower = _Follower(None, recorder, run.key, run.host, on_status)
    follower.resume(run.info)
    try:
        follower.client = _client(run.key, run.base_url)
        job = follower.client.fine_tuning.jobs.retrieve(run.job_id)
    except Exception as error:
        code, message = _api_failure(error, run.key, run.host)
        return follower.fail(code, message)
    follower.start(job)
    return follower.follow(cancel, detach, poll_interval)


def cancel_openai_job(run_dir: Path, *, api_key: str | None = None) -> str:
    """Ask OpenAI to cancel the job of an OpenAI run folder; returns the job's new status.

    A job that has ended is left as it is. The run folder and row are updated when the
    job is cancelled (a follower that is running notices it too).

    Raises:
        OpenAIJobError: not an OpenAI run, no API key, or OpenAI refused (message says why).
    """
    run = _job_run(run_dir, api_key, "a job")
    client = _client(run.key, run.base_url)
    try:
        job = client.fine_tuning.jobs.retrieve(run.job_id)
        if job.status not in TERMINAL_STATUSES:
            job = client.fine_tuning.jobs.cancel(run.job_id)
    except Exception as error:
        _, message = _api_failure(error, run.key, run.host)
        raise OpenAIJobError(message) from None
    status = run.info.get("status")
    if job.status == "cancelled" and status not in ("finished", "failed", "stopped"):
        recorder = _Recorder(RunPaths(run.run_dir), run.project)
        recorder.info = {k: v for k, v in run.info.items() if k != "ftstudio_run"}
        recorder.ended("stopped", message="The job was cancelled.", job_status="cancelled")
    return str(job.status)


@dataclass(frozen=True)
class _JobRun:
    """An OpenAI run folder with a job, and how to reach OpenAI for it."""

    run_dir: Path
    info: dict[str, Any]
    job_id: str
    key: str
    base_url: str
    host: str

    @property
    def project(self) -> Path:
        """The project folder the run belongs to."""
        return Path(self.info.get("project") or self.run_dir.parent.parent)


def _job_run(run_dir: Path, api_key: str | None, needed: str) -> _JobRun:
    """``run_dir``'s ``run.json``, job id, API key and OpenAI address.

    Raises:
        OpenAIJobError: ``run.json`` is unreadable, the folder is not an OpenAI run with
            ``needed`` (the message says so), or no API key is available.
    """
    run_dir = Path(run_dir)
    try:
        info = read_run_file(run_dir)
    except RunStoreError as error:
        raise OpenAIJobError(str(error)) from None
    job_id = info.get("job_id")
    if info.get("backend") != BACKEND or not isinstance(job_id, str) or not job_id:
        raise OpenAIJobError(f"{run_dir} is not an OpenAI fine-tuning run with {needed}.")
    key = _api_key(api_key)
    base_url = str(info.get("base_url") or DEFAULT_BASE_URL)
    host, _ = _check_base_url(base_url)
    return _JobRun(run_dir, info, job_id, key, base_url, host)


def unfinished_openai_runs(project: Path) -> list[Path]:
    """The project's OpenAI run folders whose job may still be running (to follow again).

    These are runs with a job whose last known job status is not final (following
    was stopped, the app closed, or the connection was lost); oldest first.
    """
    folder = Path(project) / "runs"
    found = []
    if not folder.is_dir():
        return found
    for run_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        try:
            info = read_run_file(run_dir)
        except RunStoreError:
            continue
        if info.get("backend") != BACKEND or not info.get("job_id"):
            continue
        if info.get("job_status") not in TERMINAL_STATUSES:
            found.append(run_dir)
    return found


# ---------------------------------------------------------------------------- Internals


def _api_key(api_key: str | None) -> str:
    if api_key:
        return api_key
    label = SECRET_LABELS["openai"]
    try:
        key = get_secret("openai")
    except SecretStoreError as error:
        raise OpenAIJobError(f"Nothing was uploaded: {error}") from None
    if not key:
        raise OpenAIJobError(
            f"Nothing was uploaded: no {label} is stored. Add it in Settings (or run "
            "`ftstudio secrets set openai`); it is kept in the OS keyring."
        )
    return key


def _client(api_key: str, base_url: str) -> Any:
    import openai  # lazy: only OpenAI jobs need it

    return openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=2, timeout=120.0)


def _job_request(plan: UploadPlan, file_ids: dict[str, str], run_id: str) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": plan.config.model,
        "training_file": file_ids["training"],
        "method": {
            "type": "supervised",
            "supervised": {"hyperparameters": {"n_epochs": plan.config.epochs_param}},
        },
        "seed": plan.config.seed,
        "metadata": {"ftstudio_run": run_id},
    }
    if "validation" in file_ids:
        request["validation_file"] = file_ids["validation"]
    if plan.config.suffix:
        request["suffix"] = plan.config.suffix
    return request


def _is_set(flag: Flag) -> bool:
    if flag is None:
        return False
    if isinstance(flag, threading.Event):
        return flag.is_set()
    return bool(flag())


def _api_failure(error: BaseException, key: str, host: str) -> tuple[str, str]:
    """(code, plain message) for an exception from the openai client; key redacted."""
    try:
        import openai
    except ImportError:  # pragma: no cover - openai is a dependency
        return "error", redact(f"{type(error).__name__}: {error}", (key,))
    body = getattr(error, "body", None)
    said = body.get("message") if isinstance(body, dict) else None
    said = str(said or getattr(error, "message", "") or error)
    status = getattr(error, "status_code", None)
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        code = "auth"
        text = (
            f"{host} refused the API key ({status}: {said}). Check the key in Settings (or "
            "`ftstudio secrets set openai`) and that its project may fine-tune."
        )
    elif isinstance(error, openai.RateLimitError):
        code = "rate_limit"
        text = (
            f"{host} refused for quota or rate limits ({said}). Check the billing and "
            "limits of your OpenAI account, then try again."
        )
    elif isinstance(error, openai.APIConnectionError):  # timeouts included
        code = "connection"
        text = (
            f"Cannot reach {host} ({type(error).__name__}: {said}). Check the internet "
            "connection (and any proxy), then try again."
        )
    elif isinstance(error, openai.NotFoundError):
        code = "config"
        text = (
            f"{host} does not know what was asked for ({said}). Check the model name and "
            "the API address."
        )
    elif isinstance(error, openai.BadRequestError | openai.UnprocessableEntityError):
        code, text = "config", f"{host} refused the request: {said}"
    elif isinstance(error, openai.APIStatusError):
        code, text = "error", f"{host} answered {status}: {said}"
    else:
        code, text = "error", f"{type(error).__name__}: {said}"
    return code, redact(text, (key,))


def _transient(error: BaseException) -> bool:
    """Whether polling may simply try again (network trouble, a server hiccup, limits)."""
    import openai

    return isinstance(
        error, openai.APIConnectionError | openai.InternalServerError | openai.RateLimitError
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _flag_wait(seconds: float, *flags: Flag) -> None:
    """Sleep up to ``seconds``, waking early when a flag is set."""
    end = time.monotonic() + max(0.0, seconds)
    while True:
        if any(_is_set(flag) for flag in flags):
            return
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(0.05, left))


class _Recorder(RunFolderRecorder):
    """Writes an OpenAI run's folder files and database row (cf. ``RunRecorder``)."""

    GOES_ON = "The job goes on; the run folder has everything."

    # ---- Events and files
    def metrics_row(self, row: dict[str, Any]) -> None:
        with self.paths.metrics.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def job_event(self, row: dict[str, Any]) -> None:
        with (self.paths.root / EVENTS_FILE).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def save(self) -> None:
        """Write ``run.json``; a disk problem does not stop following the job."""
        with contextlib.suppress(OSError):
            super().save()

    # ---- Lifecycle
    def create(self, plan: UploadPlan, *, name: str) -> None:
        for item in plan.files:
            target = self.paths.train_file if item.role == "training" else self.paths.val_file
            atomic_write_bytes(target, item.content)
        atomic_write_json(self.paths.root / JOB_FILE, to_mapping(plan.config))
        self.info = {
            "id": self.run_id,
            "name": name,
            "status": "queued",
            "created": utc_now(),
            "backend": BACKEND,
            "method": BACKEND,
            "base_model": plan.config.model,
            "model": plan.config.model,
            "project": str(self.project),
            "base_url": plan.base_url,
            "host": plan.host,
            "job_id": "",
            "job_status": "",
            "dataset": {"path": plan.dataset_path, "examples": plan.report.examples},
            "hyperparameters": {"n_epochs": plan.config.epochs_param},
            "estimate": {
                "epochs": plan.epochs,
                "billed_tokens": plan.billed_tokens,
                "token_method": plan.report.token_method,
            },
            "uploads": [item.to_json() for item in plan.files],
            "sessions": [],
        }
        self.save()
        self.create_row(
            name=name, method=BACKEND, base_model=plan.config.model, dataset=plan.dataset_path
        )

    def reopen(self, info: dict[str, Any]) -> None:
        self.info = {k: v for k, v in info.items() if k != "ftstudio_run"}
        self.ensure_row(
            name=str(self.info.get("name") or self.run_id),
            method=BACKEND,
            base_model=str(self.info.get("model", "")),
            dataset=str((self.info.get("dataset") or {}).get("path", "")),
        )

    def note_upload(self, item: UploadFile, file_id: str) -> None:
        for upload in self.info.get("uploads", []):
            if upload.get("role") == item.role:
                upload["file_id"] = file_id
        self.save()

    def job_created(self, job_id: str) -> None:
        self.info["job_id"] = job_id
        self.save()

    def started(self, device: str, start_step: int) -> None:
        now = utc_now()
        self.info.setdefault("sessions", []).append(
            {"started": now, "from_step": start_step, "device": device}
        )
        self.info.update(status="running", started=now, device=device, code="", error="")
        self.save()
        self.update_row(status="running", started=now, step=start_step, error="")

    def ended(self, status: str, *, message: str = "", code: str = "", **extra: Any) -> None:
        now = utc_now()
        self.info.update(status=status, ended=now, message=message, code=code, **extra)
        self.info["error"] = message if status == "failed" else ""
        self.end_session(status, now)
        self.save()
        changes: dict[str, Any] = {
            "status": status,
            "ended": now,
            "error": message if status == "failed" else "",
        }
        for key in ("step", "total_steps", "final_loss", "best_eval_loss"):
            if self.info.get(key) is not None:
                changes[key] = self.info[key]
        self.update_row(**changes)


class _Follower:
    """Polls one job and turns what OpenAI reports into ftstudio events."""

    def __init__(
        self,
        client: Any,
        recorder: _Recorder,
        key: str,
        host: str,
        on_status: Callable[[JobStatus], None] | None,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.key = key
        self.host = host
        self.on_status = on_status
        self.job_id = str(recorder.info.get("job_id") or "")
        self.seen: set[str] = set()
        self.step = 0
        self.total_steps = 0
        self.n_epochs: int | None = None
        self.final_loss: float | None = None
        self.best_eval: float | None = None
        self.status = ""
        self.began = time.monotonic()
        self.cancel_requested = False
        self._estimated_finish: float | None = None

    # ---- Start
    def resume(self, info: dict[str, Any]) -> None:
        """Read back what an earlier session received."""
        path = self.recorder.paths.root / EVENTS_FILE
        with contextlib.suppress(OSError):
            for line in path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(json.JSONDecodeError, AttributeError):
                    self.seen.add(str(json.loads(line).get("id")))
        with contextlib.suppress(OSError):
            for line in self.recorder.paths.metrics.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if not isinstance(row, dict) or not isinstance(row.get("step"), int):
                    continue
                self.step = max(self.step, row["step"])
                self.total_steps = int(row.get("total_steps") or self.total_steps)
                loss = _number(row.get("loss"))
                if loss is not None:
                    self.final_loss = loss
                evaluated = _number(row.get("eval_loss"))
                if evaluated is not None and (self.best_eval is None or evaluated < self.best_eval):
                    self.best_eval = evaluated
        self.status = str(info.get("job_status") or "")

    def start(self, job: Any) -> None:
        """Report ``Started`` for this session and the job's first status."""
        self.job_id = job.id
        self._learn(job)
        info = self.recorder.info
        device = f"OpenAI {self.host}, job {job.id}"
        self.recorder.started(device, self.step)
        estimate = info.get("estimate") or {}
        uploads = {u.get("role"): u for u in info.get("uploads", [])}
        self.recorder.emit(
            Started(
                run_id=self.recorder.run_id,
                run_dir=str(self.recorder.paths.root),
                name=str(info.get("name") or self.recorder.run_id),
                method=BACKEND,
                total_steps=self.total_steps,
                start_step=self.step,
                epochs=float(self.n_epochs or estimate.get("epochs") or 0),
                train_examples=int(uploads.get("training", {}).get("examples", 0)),
                val_examples=int(uploads.get("validation", {}).get("examples", 0)),
                train_tokens=int(uploads.get("training", {}).get("tokens", 0)),
                device=device,
            )
        )
        self._status(job)

    # ---- Polling
    def follow(self, cancel: Flag, detach: Flag, poll_interval: float) -> OpenAIRunResult:
        """Poll until the job ends (or ``detach``); never raises for a failure of its own."""
        try:
            return self._follow(cancel, detach, poll_interval)
        except Exception as error:  # a bug or a full disk must not leave the run "running"
            return self.fail(
                "error",
                f"Following the job stopped: {type(error).__name__}: {error}. The job goes on "
                "at OpenAI; follow it again from the run (or `ftstudio openai attach "
                f"{self.recorder.paths.root}`).",
            )

    def _follow(self, cancel: Flag, detach: Flag, poll_interval: float) -> OpenAIRunResult:
        failures = 0
        warned = False
        job: Any = None
        while True:
            if _is_set(cancel) and not self.cancel_requested:
                self.cancel_requested = True
                try:
                    job = self.client.fine_tuning.jobs.cancel(self.job_id)
                    self._status(job)
                    if job.status in TERMINAL_STATUSES:
                        self._take(self._new_events())
                        return self._end(job)
                except Exception as error:
                    if not _transient(error):
                        return self.fail(*_api_failure(error, self.key, self.host))
                    self.cancel_requested = False
            if _is_set(detach):
                return self._detached()
            try:
                job = self.client.fine_tuning.jobs.retrieve(self.job_id)
                events = self._new_events()
            except Exception as error:
                if not _transient(error):
                    return self.fail(*_api_failure(error, self.key, self.host))
                failures += 1
                _, message = _api_failure(error, self.key, self.host)
                if failures >= MAX_POLL_FAILURES:
                    return self.fail(
                        "connection",
                        f"Lost contact with OpenAI after {failures} tries: {message} The job "
                        "goes on at OpenAI; follow it again from the run (or "
                        f"`ftstudio openai attach {self.recorder.paths.root}`).",
                    )
                if not warned:
                    warned = True
                    self.recorder.emit(
                        TrainingWarning(
                            code="openai_connection",
                            message=f"{message} Trying again every {poll_interval:g} s.",
                            step=self.step,
                        )
                    )
                _flag_wait(poll_interval, cancel, detach)
                continue
            failures = 0
            self._learn(job)
            self._take(events)
            self._status(job)
            if job.status in TERMINAL_STATUSES:
                return self._end(job)
            _flag_wait(poll_interval, cancel, detach)

    def _new_events(self) -> list[Any]:
        """Events not seen yet, oldest first (OpenAI lists them newest first)."""
        fresh: list[Any] = []
        after: str | None = None
        for _ in range(1000):  # pages; a job has at most some thousands of events
            kwargs: dict[str, Any] = {"limit": EVENTS_PAGE}
            if after:
                kwargs["after"] = after
            page = self.client.fine_tuning.jobs.list_events(self.job_id, **kwargs)
            items = list(page.data or [])
            stop = False
            for item in items:
                if item.id in self.seen:
                    stop = True
                    break
                fresh.append(item)
            if stop or not items or not page.has_more:
                break
            after = items[-1].id
        fresh.reverse()
        fresh.sort(key=lambda item: item.created_at or 0)
        return fresh

    def _take(self, events: list[Any]) -> None:
        metrics_seen = False
        for item in events:
            if item.id in self.seen:
                continue
            self.seen.add(item.id)
            message = redact(str(item.message or ""), (self.key,))
            data = item.data if isinstance(item.data, dict) else None
            self.recorder.job_event(
                {
                    "id": item.id,
                    "created_at": item.created_at,
                    "level": item.level,
                    "type": item.type,
                    "message": message,
                    "data": data,
                }
            )
            if item.type == "metrics" and data is not None and "step" in data:
                self._metrics(data, message)
                metrics_seen = True
            elif item.level == "warn":
                self.recorder.emit(TrainingWarning(code="openai", message=message, step=self.step))
            elif message and self.on_status is not None:
                self.on_status(JobStatus(self.job_id, self.status, message))
        if metrics_seen:
            self.recorder.info.update(
                step=self.step,
                total_steps=self.total_steps,
                final_loss=self.final_loss,
                best_eval_loss=self.best_eval,
            )
            self.recorder.save()
            self.recorder.update_row(
                step=self.step,
                total_steps=self.total_steps,
                final_loss=self.final_loss,
                best_eval_loss=self.best_eval,
            )

    def _metrics(self, data: dict[str, Any], message: str) -> None:
        step = int(_number(data.get("step")) or 0)
        total = _number(data.get("total_steps"))
        if total is None:
            match = _STEP_TEXT.search(message)
            total = float(match.group(2)) if match else None
        if total:
            self.total_steps = int(total)
        self.step = max(self.step, step)
        epoch = (
            step / self.total_steps * self.n_epochs if self.total_steps and self.n_epochs else 0.0
        )
        row: dict[str, Any] = {"step": step, "epoch": epoch, "total_steps": self.total_steps}
        extra: dict[str, float] = {}
        for key in (
            "train_mean_token_accuracy",
            "valid_loss",
            "valid_mean_token_accuracy",
            "full_valid_loss",
            "full_valid_mean_token_accuracy",
        ):
            value = _number(data.get(key))
            if value is not None:
                row[key] = value
                if key.endswith("accuracy"):
                    extra[key] = value
        loss = _number(data.get("train_loss"))
        if loss is not None:
            self.final_loss = loss
            row["loss"] = loss
            self.recorder.emit(
                StepLogged(
                    step=step,
                    total_steps=self.total_steps,
                    epoch=epoch,
                    loss=loss,
                    learning_rate=math.nan,  # OpenAI does not report it
                    elapsed_s=time.monotonic() - self.began,
                    eta_s=self._eta(),
                    metrics=extra,
                )
            )
        evaluated = row.get("full_valid_loss", row.get("valid_loss"))
        if evaluated is not None:
            row["eval_loss"] = evaluated
            is_best = self.best_eval is None or evaluated < self.best_eval
            if is_best:
                self.best_eval = evaluated
            self.recorder.emit(
                Evaluated(
                    step=step,
                    total_steps=self.total_steps,
                    epoch=epoch,
                    eval_loss=evaluated,
                    best_eval_loss=self.best_eval,
                    is_best=is_best,
                )
            )
        self.recorder.metrics_row(row)

    def _eta(self) -> float | None:
        finish = self._estimated_finish
        return max(0.0, finish - time.time()) if finish else None

    def _learn(self, job: Any) -> None:
        hyper = getattr(job, "hyperparameters", None)
        epochs = getattr(hyper, "n_epochs", None)
        if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs > 0:
            self.n_epochs = epochs
        self._estimated_finish = getattr(job, "estimated_finish", None)

    def _status(self, job: Any) -> None:
        if job.status == self.status:
            return
        self.status = str(job.status)
        self.recorder.info["job_status"] = self.status
        self.recorder.save()
        if self.on_status is not None:
            self.on_status(
                JobStatus(
                    self.job_id,
                    self.status,
                    "",
                    fine_tuned_model=str(getattr(job, "fine_tuned_model", None) or ""),
                    trained_tokens=getattr(job, "trained_tokens", None),
                    estimated_finish=getattr(job, "estimated_finish", None),
                )
            )

    # ---- Endings
    def _end(self, job: Any) -> OpenAIRunResult:
        status = job.status
        elapsed = time.monotonic() - self.began
        extra = {
            "job_status": status,
            "step": self.step,
            "total_steps": self.total_steps,
            "final_loss": self.final_loss,
            "best_eval_loss": self.best_eval,
            "trained_tokens": getattr(job, "trained_tokens", None),
            "result_files": list(getattr(job, "result_files", None) or []),
        }
        if status == "succeeded":
            model = str(job.fine_tuned_model or "")
            reason = f"OpenAI finished the job: the fine-tuned model is {model}."
            self.recorder.ended("finished", message=reason, fine_tuned_model=model, **extra)
            self.recorder.emit(self._finished("finished", reason, elapsed))
            return self._result("finished", reason, fine_tuned_model=model)
        if status == "cancelled":
            who = "as you asked" if self.cancel_requested else "at OpenAI"
            reason = f"The job was cancelled {who}."
            self.recorder.ended("stopped", message=reason, **extra)
            self.recorder.emit(self._finished("stopped", reason, elapsed))
            return self._result("stopped", reason)
        error = getattr(job, "error", None)
        said = redact(str(getattr(error, "message", "") or ""), (self.key,))
        param = getattr(error, "param", None)
        if not said:
            said = "it gave no reason (see openai_events.jsonl in the run folder)"
        code = "data" if param in ("training_file", "validation_file") else "openai"
        fix = (
            " Fix the examples it names (ftstudio openai check shows OpenAI's rules), then "
            "start a new job."
            if code == "data"
            else " Start a new job once the cause is fixed."
        )
        message = f"OpenAI could not finish the job: {said.rstrip('.')}.{fix}"
        self.recorder.ended("failed", message=message, code=code, **extra)
        self.recorder.emit(self._failed(code, message))
        return self._result("failed", message, code=code)

    def fail(self, code: str, message: str) -> OpenAIRunResult:
        message = redact(message, (self.key,))
        self.recorder.info.update(step=self.step, final_loss=self.final_loss)
        self.recorder.ended("failed", message=message, code=code, job_status=self.status)
        self.recorder.emit(self._failed(code, message))
        return self._result("failed", message, code=code)

    def stopped_before_job(self, when: str) -> OpenAIRunResult:
        reason = f"Stopped {when}; no job was created."
        self.recorder.ended("stopped", message=reason)
        self.recorder.emit(self._finished("stopped", reason, time.monotonic() - self.began))
        return self._result("stopped", reason)

    def _detached(self) -> OpenAIRunResult:
        reason = (
            f"Stopped following the job {self.job_id}; it goes on at OpenAI. Follow it again "
            "from the run."
        )
        self.recorder.end_session("detached", utc_now())
        self.recorder.save()
        return self._result("detached", reason)

    def _finished(self, status: str, reason: str, elapsed: float) -> Finished:
        return Finished(
            run_id=self.recorder.run_id,
            run_dir=str(self.recorder.paths.root),
            status=status,
            step=self.step,
            total_steps=self.total_steps,
            final_loss=self.final_loss,
            best_eval_loss=self.best_eval,
            adapter_dir="",
            reason=reason,
            elapsed_s=elapsed,
        )

    def _failed(self, code: str, message: str) -> Failed:
        return Failed(
            run_id=self.recorder.run_id,
            run_dir=str(self.recorder.paths.root),
            code=code,
            message=message,
            step=self.step,
        )

    def _result(self, status: str, message: str, **extra: Any) -> OpenAIRunResult:
        return OpenAIRunResult(
            run_id=self.recorder.run_id,
            run_dir=self.recorder.paths.root,
            status=status,
            step=self.step,
            total_steps=self.total_steps,
            final_loss=self.final_loss,
            best_eval_loss=self.best_eval,
            message=message,
            job_id=self.job_id,
            **extra,
        )
