"""The earlier runs a new run can start from: the project's finished LoRA/QLoRA runs.

A run can continue from the LoRA adapter an earlier run saved (``<run>/adapter``), the
usual path being SFT first, then DPO from the SFT adapter. The wizard offers the
project's runs that finished with an adapter, newest first; the configuration names
the chosen one by its folder relative to the project (``runs/<id>``, the
``init_adapter`` field).

Pure Python (no Qt): the run database (:class:`~ftstudio.core.runs.RunStore`) and each
run's ``run.json`` are read, never written. A project that has no database yet has no
runs to offer, and none is created.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ftstudio.core.project import classify_base_model
from ftstudio.core.runs import (
    DB_NAME,
    RUNS_FOLDER,
    RunRecord,
    RunStore,
    RunStoreError,
    read_run_file,
)

ADAPTER_METHODS = ("lora", "qlora")
"""Methods whose runs save a LoRA adapter that another run can start from."""
ADAPTER_FOLDER = "adapter"
ADAPTER_CONFIG = "adapter_config.json"
"""A run's final adapter folder, and the file that makes it a complete PEFT adapter."""


@dataclass(frozen=True)
class AdapterRun:
    """A finished run whose adapter a new run can start from.

    Attributes:
        id: the run's id.
        name: its display name.
        ended: when it finished (ISO 8601, UTC), or its creation time if unknown.
        method: ``lora`` or ``qlora``.
        objective: ``sft`` or ``dpo`` (``sft`` when the run does not say).
        base_model: the base model it was trained on (its configuration's value).
        final_loss: the last training loss, if logged.
        best_eval_loss: the lowest validation loss, if evaluated.
        relative: the run folder relative to the project (``runs/<id>``): the
            ``init_adapter`` value that starts from it.
    """

    id: str
    name: str
    ended: str
    method: str
    objective: str
    base_model: str
    final_loss: float | None
    best_eval_loss: float | None
    relative: str

    @property
    def date_text(self) -> str:
        """When it finished, in local time (``2026-11-30 14:05``)."""
        try:
            moment = datetime.fromisoformat(self.ended.replace("Z", "+00:00"))
        except ValueError:
            return self.ended
        if moment.tzinfo is not None:
            moment = moment.astimezone()
        return moment.strftime("%Y-%m-%d %H:%M")

    @property
    def method_text(self) -> str:
        """Method and objective in words (``LoRA SFT``, ``QLoRA DPO``)."""
        method = {"qlora": "QLoRA", "lora": "LoRA"}.get(self.method, self.method)
        return f"{method} {self.objective.upper()}"

    @property
    def label(self) -> str:
        """The run in a few words: name, date and method (for sentences and lists)."""
        name = self.name if self.name == self.id else f"{self.name} ({self.id})"
        return f"{name}, {self.method_text}, finished {self.date_text}"

    def same_base_model(self, value: str, project_folder: Path | None) -> bool:
        """Whether this run was trained on the base model ``value`` (folders compared as
        resolved paths, relative ones taken from the project)."""
        return _model_key(self.base_model, project_folder) == _model_key(value, project_folder)


def adapter_runs(project_folder: Path) -> list[AdapterRun]:
    """The project's finished LoRA/QLoRA runs that saved an adapter, newest first.

    Runs are listed by the project's run database; a run folder moved with the project
    (a copied project) is found under its ``runs/`` folder by its id. An unreadable
    database lists nothing (the Runs page explains it).
    """
    folder = Path(project_folder)
    database = folder / RUNS_FOLDER / DB_NAME
    if not database.is_file():
        return []
    try:
        records = RunStore(database).list()
    except RunStoreError:
        return []
    found = []
    for record in records:
        if record.status != "finished" or record.method not in ADAPTER_METHODS:
            continue
        run_dir = _run_folder(folder, record)
        if run_dir is None or not (run_dir / ADAPTER_FOLDER / ADAPTER_CONFIG).is_file():
            continue
        try:
            info = read_run_file(run_dir)
        except RunStoreError:
            info = {}
        objective = info.get("objective")
        found.append(
            AdapterRun(
                id=record.id,
                name=record.name or record.id,
                ended=record.ended or record.created,
                method=record.method,
                objective=objective if objective in ("sft", "dpo") else "sft",
                base_model=record.base_model or str(info.get("base_model", "")),
                final_loss=record.final_loss,
                best_eval_loss=record.best_eval_loss,
                relative=run_dir.relative_to(folder).as_posix(),
            )
        )
    found.sort(key=lambda run: (run.ended, run.id), reverse=True)
    return found


def _run_folder(project_folder: Path, record: RunRecord) -> Path | None:
    """The run's folder inside the project, or ``None`` when it is not there."""
    recorded = Path(record.path)
    try:
        recorded.resolve().relative_to(project_folder.resolve())
    except ValueError:
        recorded = project_folder / RUNS_FOLDER / recorded.name  # the project was moved
    else:
        recorded = project_folder / recorded.resolve().relative_to(project_folder.resolve())
    return recorded if recorded.is_dir() else None


def _model_key(value: str, project_folder: Path | None) -> str:
    ref = classify_base_model(value.strip(), project_folder)
    if ref.kind == "local":
        return str(Path(ref.location).resolve())
    return ref.location
