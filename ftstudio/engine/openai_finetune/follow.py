"""Following a job: polling it and its events, and turning them into ftstudio events."""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from ftstudio.core.events import (
    Evaluated,
    Failed,
    Finished,
    Started,
    StepLogged,
    TrainingEvent,
    TrainingWarning,
)
from ftstudio.core.runs import utc_now
from ftstudio.core.secrets import redact
from ftstudio.engine.openai_finetune.client import _api_failure, _transient
from ftstudio.engine.openai_finetune.config import (
    BACKEND,
    EVENTS_FILE,
    EVENTS_PAGE,
    MAX_POLL_FAILURES,
    TERMINAL_STATUSES,
)
from ftstudio.engine.openai_finetune.recorder import _Recorder
from ftstudio.engine.openai_finetune.results import JobStatus, OpenAIRunResult

OnEvent = Callable[[TrainingEvent], None]
Flag = threading.Event | Callable[[], bool] | None
"""A cancel or detach request: an event to set, or a function returning true."""

_STEP_TEXT = re.compile(r"\bstep\s+(\d+)\s*/\s*(\d+)", re.IGNORECASE)


def _is_set(flag: Flag) -> bool:
    if flag is None:
        return False
    if isinstance(flag, threading.Event):
        return flag.is_set()
    return bool(flag())


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
            progress = {
                "step": self.step,
                "total_steps": self.total_steps,
                "final_loss": self.final_loss,
                "best_eval_loss": self.best_eval,
            }
            self.recorder.info.update(progress)
            self.recorder.save()
            self.recorder.update_row(**progress)

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
