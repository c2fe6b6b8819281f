"""The run folder files and database row of an OpenAI run."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from ftstudio.core.atomic import atomic_write_bytes, atomic_write_json
from ftstudio.core.fields import to_mapping
from ftstudio.core.runs import utc_now
from ftstudio.engine.openai_finetune.config import BACKEND, EVENTS_FILE, JOB_FILE
from ftstudio.engine.openai_finetune.plan import UploadFile, UploadPlan
from ftstudio.engine.run_recorder import RunFolderRecorder


class _Recorder(RunFolderRecorder):
    """Writes an OpenAI run's folder files and database row (cf. ``RunRecorder``)."""

    GOES_ON = "The job goes on; the run folder has everything."

    # ---- Events and files
    def metrics_row(self, row: dict[str, Any]) -> None:
        _append_jsonl(self.paths.metrics, row)

    def job_event(self, row: dict[str, Any]) -> None:
        _append_jsonl(self.paths.root / EVENTS_FILE, row)

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

    def adopt(self, info: dict[str, Any]) -> None:
        """Take ``info`` (a ``run.json`` as read) as this run's info."""
        self.info = {k: v for k, v in info.items() if k != "ftstudio_run"}

    def reopen(self, info: dict[str, Any]) -> None:
        self.adopt(info)
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


def _append_jsonl(path: Path, row: dict[str, Any]) -> None:
    """Append ``row`` to the JSON Lines file ``path``."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")
