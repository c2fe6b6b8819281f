"""What a run leaves behind: its folder's files, its database row and its event log.

:class:`RunRecorder` is the one writer of a run's ``run.json``, ``config.yaml``,
``events.jsonl`` and database row (see :mod:`ftstudio.core.runs` for the layout).
Only the main process records; in the other processes of ``accelerate launch``
every method does nothing. A locked or damaged run database never stops training:
the problem is reported once as a warning and the run folder stays complete.
"""

from __future__ import annotations

import contextlib
import json
import math
import platform
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ftstudio.core.atomic import atomic_write_text
from ftstudio.core.events import TrainingEvent, TrainingWarning, event_line
from ftstudio.core.fields import to_mapping
from ftstudio.core.project import MANIFEST
from ftstudio.core.runs import (
    RunPaths,
    RunStore,
    RunStoreError,
    read_run_file,
    utc_now,
    write_run_file,
)
from ftstudio.core.train_config import TrainConfig, save_config
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


class RunRecorder:
    """Writes a run's folder files, database row and events (main process only).

    Args:
        paths: the run folder's layout.
        project: the project folder (its ``runs/runs.sqlite`` is the database).
        is_main: whether this process records; others do nothing.
        on_event: the caller's listener, called after each event is logged.
    """

    def __init__(
        self,
        paths: RunPaths,
        project: Path,
        *,
        is_main: bool = True,
        on_event: Callable[[TrainingEvent], None] | None = None,
    ) -> None:
        self.paths = paths
        self.project = project
        self.is_main = is_main
        self.on_event = on_event
        self.run_id = paths.root.name
        self.info: dict[str, Any] = {}
        self.store: RunStore | None = None
        self._db_warned = False
        if is_main:
            paths.root.mkdir(parents=True, exist_ok=True)
            try:
                self.store = RunStore.for_project(project)
            except RunStoreError as error:
                self._db_warning(error)

    # ---- Events
    def emit(self, event: TrainingEvent) -> None:
        """Append ``event`` to ``events.jsonl`` and pass it to the listener."""
        if not self.is_main:
            return
        with self.paths.events.open("a", encoding="utf-8") as handle:
            handle.write(event_line(event) + "\n")
        if self.on_event is not None:
            self.on_event(event)

    def warn(self, code: str, message: str, step: int = 0) -> None:
        """Emit a :class:`~ftstudio.core.events.TrainingWarning`."""
        self.emit(TrainingWarning(code=code, message=message, step=step))

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
        self._db_create(config, name)

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
        if self._db(lambda store: store.find_by_path(self.paths.root)) is None:
            self._db_create(config, name)

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
            sessions = self.info.get("sessions") or []
            if sessions:
                sessions[-1].update(ended=now, status=status)
            with contextlib.suppress(OSError):
                self.save()
        self.update_row(**changes)

    def save(self) -> None:
        """Write ``run.json`` (atomically)."""
        if self.is_main and self.info:
            write_run_file(self.paths.root, self.info)

    def update_row(self, **changes: Any) -> None:
        """Change the run's database row (a database problem becomes one warning)."""
        self._db(lambda store: store.update(self.run_id, **changes))

    # ---- Run database
    def _db_create(self, config: TrainConfig, name: str | None) -> None:
        self._db(
            lambda store: store.create(
                run_id=self.run_id,
                name=name or self.run_id,
                path=self.paths.root,
                method=config.method,
                base_model=config.base_model,
                dataset=config.dataset,
            )
        )

    def _db(self, action: Callable[[RunStore], Any]) -> Any:
        if self.store is None or not self.is_main:
            return None
        try:
            return action(self.store)
        except RunStoreError as error:
            self._db_warning(error)
            return None

    def _db_warning(self, error: Exception) -> None:
        if self._db_warned:
            return
        self._db_warned = True
        self.warn("run_database", f"{error} Training goes on; the run folder has everything.")


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
