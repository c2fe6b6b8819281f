"""Starting, following again and cancelling OpenAI jobs, and finding unfinished ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftstudio.core.runs import RunPaths, RunStoreError, new_run_id, read_run_file, run_dir_for
from ftstudio.engine.openai_finetune.client import _api_failure, _api_key, _client
from ftstudio.engine.openai_finetune.config import (
    BACKEND,
    DEFAULT_BASE_URL,
    POLL_INTERVAL_S,
    TERMINAL_STATUSES,
)
from ftstudio.engine.openai_finetune.errors import NotConfirmedError, OpenAIJobError
from ftstudio.engine.openai_finetune.follow import Flag, OnEvent, _Follower, _is_set
from ftstudio.engine.openai_finetune.plan import UploadPlan, _check_base_url
from ftstudio.engine.openai_finetune.recorder import _Recorder
from ftstudio.engine.openai_finetune.results import JobStatus, OpenAIRunResult


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
        recorder.adopt(run.info)
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
