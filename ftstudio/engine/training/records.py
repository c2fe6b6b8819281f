"""What a run leaves behind: its folder's files, its database row and its event log.

:class:`RunRecorder` is the one writer of a run's ``run.json``, ``config.yaml``,
``events.jsonl`` and database row (see :mod:`ftstudio.core.runs` for the layout);
what it shares with OpenAI runs is :class:`~ftstudio.engine.run_recorder.RunFolderRecorder`.
Only the main process records; in the other processes of ``accelerate launch``
every method does nothing. A locked or damaged run database never stops training:
the problem is reported once as a warning and the run folder stays complete.
"""

from __future__ import annotations

import contextlib
import json
import math
import platform
from dataclasses import replace
from pathlib import Path
from typing import Any

from ftstudio.core.atomic import atomic_write_text
from ftstudio.core.fields import to_mapping
from ftstudio.core.project import MANIFEST
from ftstudio.core.runs import (
    RunStoreError,
    read_run_file,
    utc_now,
)
from ftstudio.core.train_config import TrainConfig, save_config
from ftstudio.engine.run_recorder import RunFolderRecorder
from ftstudio.engine.training.checkpoints import config_hash

IGNORED_FOR_HASH = ("output_dir",)
"""Configuration fields that do not change what trains (left out of the config hash)."""
LIBRARIES = (
    "torch",
    "transformers",
    "trl",
    "peft",
    "accelerate",
    "datasets",
    "bitsandbytes",
    "tokenizers",
    "safetensors",
)


def training_config_hash(config: TrainConfig) -> str:
    """The hash stored in checkpoints: the configuration without ``output_dir``."""
    values = {k: v for k, v in to_mapping(config).items() if k not in IGNORED_FOR_HASH}
    return config_hash(values)


def library_versions() -> dict[str, str]:
    """Python, ftstudio and the ML libraries' versions, as a run records them."""
    from importlib import metadata

    import torch

    import ftstudio

    versions = {"python": platform.python_version(), "ftstudio": ftstudio.__version__}
    for package in LIBRARIES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions["cuda"] = torch.version.cuda or "none"
    return versions


def runnable_config(config: TrainConfig, project: Path) -> TrainConfig:
    """``config`` as it can run again from the run folder.

    Inside a project, relative paths resolve from the project folder again, so they
    are kept; a dataset (or ``init_adapter``) path relative to a folder that is not a
    project is written as an absolute path.
    """
    if (project / MANIFEST).is_file():
        return config
    changes = {}
    for key in ("dataset", "init_adapter"):
        value = getattr(config, key)
        if value and not Path(value).expanduser().is_absolute():
            changes[key] = str((project / value).resolve())
    return replace(config, **changes)


class RunRecorder(RunFolderRecorder):
    """Writes a local training run's folder files, database row and events (main process
    only; see :class:`~ftstudio.engine.run_recorder.RunFolderRecorder` for the arguments)."""

    GOES_ON = "Training goes on; the run folder has everything."

    # ---- Lifecycle
    def create(self, config: TrainConfig, *, name: str | None) -> None:
        """A new run: ``config.yaml``, ``run.json`` and a ``queued`` database row."""
        if not self.is_main:
            return
        save_config(runnable_config(config, self.project), self.paths.config)
        self.info = {
            "id": self.run_id,
            "name": name or self.run_id,
            "status": "queued",
            "created": utc_now(),
            "method": config.method,
            "objective": config.objective,
            "base_model": config.base_model,
            "project": str(self.project),
            "config_sha256": training_config_hash(config),
            "versions": library_versions(),
            "sessions": [],
        }
        self.save()
        self.create_row(**self._row(config, name))

    def reopen(self, config: TrainConfig, *, name: str | None, step: int) -> None:
        """A resumed run: ``run.json`` read back, metrics after ``step`` dropped."""
        if not self.is_main:
            return
        try:
            self.info = read_run_file(self.paths.root)
        except RunStoreError:
            self.info = {"id": self.run_id, "name": self.run_id, "created": utc_now()}
        self.info.pop("ftstudio_run", None)
        if name:
            self.info["name"] = name
        self.info["versions"] = library_versions()
        truncate_metrics(self.paths.metrics, step)
        self.save()
        self.ensure_row(**self._row(config, name))

    def save_resume_config(self, config: TrainConfig, step: int) -> Path:
        """Keep a changed configuration beside the original: ``config.resume-<step>.yaml``."""
        path = self.paths.root / f"config.resume-{step}.yaml"
        if self.is_main:
            save_config(runnable_config(config, self.project), path)
        return path

    def started(self, *, total_steps: int, start_step: int, device: str, **extra: Any) -> None:
        """Training began: a new session in ``run.json``; the row is ``running``."""
        if not self.is_main:
            return
        now = utc_now()
        session: dict[str, Any] = {"started": now, "from_step": start_step, "device": device}
        session.update(extra)
        self.info.setdefault("sessions", []).append(session)
        self.info.update(status="running", started=now, total_steps=total_steps, device=device)
        self.save()
        self.update_row(status="running", started=now, total_steps=total_steps, step=start_step)

    def ended(
        self,
        status: str,
        *,
        step: int | None = None,
        total_steps: int | None = None,
        final_loss: float | None = None,
        best_eval_loss: float | None = None,
        message: str = "",
        error: str = "",
        adapter: Path | None = None,
    ) -> None:
        """The run ended: status, losses and times in ``run.json`` and the database row."""
        if not self.is_main or not self.paths.root.is_dir():
            return
        now = utc_now()
        changes: dict[str, Any] = {
            "status": status,
            "ended": now,
            "error": error,
            "final_loss": _finite(final_loss),
            "best_eval_loss": _finite(best_eval_loss),
        }
        if step is not None:
            changes["step"] = step
        if total_steps:
            changes["total_steps"] = total_steps
        if self.info:
            self.info.update(changes)
            self.info["message"] = message or error
            if adapter is not None:
                self.info["adapter"] = str(adapter)
            self.end_session(status, now)
            with contextlib.suppress(OSError):
                self.save()
        self.update_row(**changes)

    # ---- Run database
    def _row(self, config: TrainConfig, name: str | None) -> dict[str, str]:
        return {
            "name": name or self.run_id,
            "method": config.method,
            "base_model": config.base_model,
            "dataset": config.dataset,
        }


def truncate_metrics(path: Path, step: int) -> None:
    """Drop ``metrics.jsonl`` rows after ``step`` (logged after the checkpoint resumed from)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by the kill
        if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step:
            kept.append(line)
    atomic_write_text(path, "".join(line + "\n" for line in kept))


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
