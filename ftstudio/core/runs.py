"""The run store: one folder per training run, and a SQLite index of them in the project.

A run folder (``<project>/runs/<run id>/`` unless the configuration names another):

==========================  ===========================================================
``config.yaml``             exactly the configuration that ran (``ftstudio train`` runs it)
``run.json``                id, name, status, times, dataset and config hashes, the
                            library versions, the device, sessions (resumes)
``data/train.jsonl``        the exact training examples, one per line
``data/validation.jsonl``   the exact validation examples (absent without validation)
``metrics.jsonl``           one JSON object per log step: ``step``, ``loss``,
                            ``learning_rate``, ``grad_norm`` … and ``eval_loss`` on
                            evaluation steps; appended while training
``events.jsonl``            every event of :mod:`ftstudio.core.events`, one per line
``checkpoint-<step>/``      checkpoints to resume from (complete ones hold
                            ``ftstudio-checkpoint.json``)
``adapter/``                the final adapter (LoRA, QLoRA) in safetensors
``model/``                  the final model (full fine-tuning) in safetensors
==========================  ===========================================================

The database ``<project>/runs/runs.sqlite`` (WAL journal) has a row per run: id,
name, status (queued, running, finished, failed, stopped), created/started/ended
times, step, total steps, final and best validation loss, method, base model,
dataset, path and the last error. It is an index: :meth:`RunStore.rebuild` makes it
again from the run folders' ``run.json`` files.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ftstudio.core.atomic import atomic_write_json
from ftstudio.core.events import RUN_STATUSES
from ftstudio.core.project import MANIFEST

RUNS_FOLDER = "runs"
DB_NAME = "runs.sqlite"
RUN_FILE = "run.json"
RUN_FORMAT = 1
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 5.0
"""How long a write waits for another process's write to finish before giving up."""

_COLUMNS = (
    ("id", "TEXT PRIMARY KEY"),
    ("name", "TEXT NOT NULL"),
    ("status", "TEXT NOT NULL"),
    ("created", "TEXT NOT NULL"),
    ("started", "TEXT"),
    ("ended", "TEXT"),
    ("step", "INTEGER NOT NULL DEFAULT 0"),
    ("total_steps", "INTEGER NOT NULL DEFAULT 0"),
    ("final_loss", "REAL"),
    ("best_eval_loss", "REAL"),
    ("method", "TEXT NOT NULL DEFAULT ''"),
    ("base_model", "TEXT NOT NULL DEFAULT ''"),
    ("dataset", "TEXT NOT NULL DEFAULT ''"),
    ("path", "TEXT NOT NULL"),
    ("error", "TEXT NOT NULL DEFAULT ''"),
)


class RunStoreError(Exception):
    """The run database cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class RunRecord:
    """One row of the run database.

    Attributes:
        id: the run's id, also its folder name by default (``20261130-142301-ab12``).
        name: a display name.
        status: ``queued``, ``running``, ``finished``, ``failed`` or ``stopped``.
        created: when the run was made (ISO 8601, UTC).
        started: when training last started (``None`` while queued).
        ended: when it last ended (``None`` while running).
        step: optimizer steps done.
        total_steps: optimizer steps planned.
        final_loss: the last logged training loss.
        best_eval_loss: the lowest validation loss.
        method: ``qlora``, ``lora`` or ``full``.
        base_model: the configuration's base model.
        dataset: the configuration's dataset path.
        path: the run folder (absolute).
        error: the failure message of a failed run (``""`` otherwise).
    """

    id: str
    name: str
    status: str
    created: str
    path: str
    started: str | None = None
    ended: str | None = None
    step: int = 0
    total_steps: int = 0
    final_loss: float | None = None
    best_eval_loss: float | None = None
    method: str = ""
    base_model: str = ""
    dataset: str = ""
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        """The row as printed by ``ftstudio runs list --json``."""
        return {item.name: getattr(self, item.name) for item in fields(self)}


@dataclass(frozen=True)
class RunPaths:
    """Where each part of a run lives inside its folder (see the module docstring)."""

    root: Path

    @property
    def config(self) -> Path:
        """``config.yaml``: the configuration that ran."""
        return self.root / "config.yaml"

    @property
    def run_file(self) -> Path:
        """``run.json``: the run's description and hashes."""
        return self.root / RUN_FILE

    @property
    def metrics(self) -> Path:
        """``metrics.jsonl``: one object per log step."""
        return self.root / "metrics.jsonl"

    @property
    def events(self) -> Path:
        """``events.jsonl``: every event, one per line."""
        return self.root / "events.jsonl"

    @property
    def data_dir(self) -> Path:
        """``data/``: copies of the exact examples."""
        return self.root / "data"

    @property
    def train_file(self) -> Path:
        """``data/train.jsonl``."""
        return self.data_dir / "train.jsonl"

    @property
    def val_file(self) -> Path:
        """``data/validation.jsonl``."""
        return self.data_dir / "validation.jsonl"

    @property
    def adapter_dir(self) -> Path:
        """``adapter/``: the final LoRA/QLoRA adapter."""
        return self.root / "adapter"

    @property
    def model_dir(self) -> Path:
        """``model/``: the final fully fine-tuned model."""
        return self.root / "model"


def new_run_id(now: datetime | None = None) -> str:
    """A new, sortable run id: ``YYYYmmdd-HHMMSS-xxxx`` (local time, 4 random hex digits)."""
    moment = now or datetime.now()
    return f"{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def utc_now() -> str:
    """The current time as ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_run_file(run_dir: Path) -> dict[str, Any]:
    """The ``run.json`` of a run folder.

    Raises:
        RunStoreError: the file is missing or is not a run file.
    """
    path = Path(run_dir) / RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunStoreError(
            f"{path.parent} is not an ftstudio run folder (it has no {RUN_FILE})."
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunStoreError(f"{path} cannot be read ({error}).") from None
    if not isinstance(data, dict) or data.get("ftstudio_run") != RUN_FORMAT:
        raise RunStoreError(f"{path} is not an ftstudio run file.")
    return data


def write_run_file(run_dir: Path, data: dict[str, Any]) -> None:
    """Write ``run.json`` atomically (the format key is added)."""
    atomic_write_json(Path(run_dir) / RUN_FILE, {"ftstudio_run": RUN_FORMAT, **data})


class RunStore:
    """The run database of one project (``<project>/runs/runs.sqlite``).

    Every call opens its own short connection, so one store may be used from any
    thread, and several processes (the GUI and a CLI run) may share the file.

    Args:
        db_path: the database file; its folder is created when needed.

    Raises:
        RunStoreError: the file is not a database, is damaged, or stays locked.
    """

    def __init__(self, db_path: Path) -> None:
        self.path = Path(db_path)
        self._ensure_schema()

    @classmethod
    def for_project(cls, project_folder: Path) -> RunStore:
        """The store of the project in ``project_folder``."""
        return cls(Path(project_folder) / RUNS_FOLDER / DB_NAME)

    # ---- Public API
    def create(
        self,
        *,
        run_id: str,
        name: str,
        path: Path,
        method: str = "",
        base_model: str = "",
        dataset: str = "",
        status: str = "queued",
    ) -> RunRecord:
        """Add a run; returns its row.

        Raises:
            RunStoreError: the id is taken, the status unknown, or the database unusable.
        """
        _check_status(status)
        record = RunRecord(
            id=run_id,
            name=name,
            status=status,
            created=utc_now(),
            path=str(Path(path).resolve()),
            method=method,
            base_model=base_model,
            dataset=dataset,
        )
        values = record.to_json()
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self._connect() as db:
            try:
                db.execute(f"INSERT INTO runs ({names}) VALUES ({marks})", tuple(values.values()))
            except sqlite3.IntegrityError:
                raise RunStoreError(
                    f"{self.path}: a run with the id {run_id!r} exists already; choose another."
                ) from None
        return record

    def get(self, run_id: str) -> RunRecord | None:
        """The row of ``run_id``, or ``None``."""
        with self._connect(write=False) as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _record(row) if row else None

    def find_by_path(self, path: Path) -> RunRecord | None:
        """The row whose run folder is ``path``, or ``None``."""
        with self._connect(write=False) as db:
            row = db.execute(
                "SELECT * FROM runs WHERE path = ?", (str(Path(path).resolve()),)
            ).fetchone()
        return _record(row) if row else None

    def list(self) -> list[RunRecord]:
        """Every run, oldest first."""
        with self._connect(write=False) as db:
            rows = db.execute("SELECT * FROM runs ORDER BY created, id").fetchall()
        return [_record(row) for row in rows]

    def update(self, run_id: str, **changes: Any) -> RunRecord:
        """Change some fields of a run's row; returns the new row.

        Raises:
            RunStoreError: the run does not exist, a field is unknown, or the status is.
        """
        known = {name for name, _ in _COLUMNS} - {"id"}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"Unknown run fields: {', '.join(unknown)}.")
        if "status" in changes:
            _check_status(changes["status"])
        if changes:
            assignments = ", ".join(f"{name} = ?" for name in changes)
            with self._connect() as db:
                cursor = db.execute(
                    f"UPDATE runs SET {assignments} WHERE id = ?", (*changes.values(), run_id)
                )
                if cursor.rowcount == 0:
                    raise RunStoreError(f"{self.path}: there is no run with the id {run_id!r}.")
        record = self.get(run_id)
        if record is None:
            raise RunStoreError(f"{self.path}: there is no run with the id {run_id!r}.")
        return record

    def delete(self, run_id: str) -> None:
        """Remove a run's row (its folder is left alone)."""
        with self._connect() as db:
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def rebuild(self, runs_folder: Path | None = None) -> int:
        """Add a row for every run folder whose ``run.json`` is not in the database yet.

        Returns how many rows were added. Folders without a readable ``run.json``
        are skipped.
        """
        folder = Path(runs_folder) if runs_folder is not None else self.path.parent
        added = 0
        for run_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            try:
                info = read_run_file(run_dir)
            except RunStoreError:
                continue
            run_id = str(info.get("id") or run_dir.name)
            if self.get(run_id) is not None:
                continue
            self.create(
                run_id=run_id,
                name=str(info.get("name") or run_id),
                path=run_dir,
                method=str(info.get("method", "")),
                base_model=str(info.get("base_model", "")),
                dataset=str(info.get("dataset", {}).get("path", ""))
                if isinstance(info.get("dataset"), dict)
                else "",
            )
            status = info.get("status")
            changes: dict[str, Any] = {}
            if status in RUN_STATUSES:
                # A run that was running when its process died is not running any more.
                changes["status"] = "failed" if status == "running" else status
            for key in ("step", "total_steps", "final_loss", "best_eval_loss", "error"):
                if info.get(key) is not None:
                    changes[key] = info[key]
            if changes:
                self.update(run_id, **changes)
            added += 1
        return added

    # ---- Internals
    @contextlib.contextmanager
    def _connect(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (sqlite3.Error, OSError) as error:
            raise self._error(error) from None
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous=NORMAL")  # per connection
            # Writers take the write lock at once (waiting up to the busy timeout);
            # readers never wait for a writer in WAL mode.
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield db
            db.execute("COMMIT")
        except sqlite3.Error as error:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise self._error(error) from None
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def _ensure_schema(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (sqlite3.Error, OSError) as error:
            raise self._error(error) from None
        try:
            # WAL: readers never block the writer; NORMAL survives an application crash.
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RunStoreError(
                    f"{self.path} was written by a newer ftstudio (schema {version}); "
                    "update ftstudio to use it."
                )
            if version < SCHEMA_VERSION:  # a new file: make the table (once)
                columns = ", ".join(f"{name} {kind}" for name, kind in _COLUMNS)
                db.execute("BEGIN IMMEDIATE")
                db.execute(f"CREATE TABLE IF NOT EXISTS runs ({columns})")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                db.execute("COMMIT")
            db.execute("SELECT count(*) FROM runs").fetchone()
        except sqlite3.Error as error:
            raise self._error(error) from None
        finally:
            db.close()

    def _error(self, error: BaseException) -> RunStoreError:
        text = str(error)
        if isinstance(error, sqlite3.OperationalError) and "locked" in text:
            return RunStoreError(
                f"The run database {self.path} is locked by another program (another ftstudio "
                f"window or training run) and stayed locked for {BUSY_TIMEOUT_S:g} s. Wait for "
                "it to finish, then try again."
            )
        if isinstance(error, sqlite3.DatabaseError) and (
            "not a database" in text or "malformed" in text or "corrupt" in text
        ):
            return RunStoreError(
                f"The run database {self.path} is damaged ({text}). The runs themselves are "
                f"safe in their folders: rename or delete {self.path.name} and ftstudio builds "
                "a new one (RunStore.rebuild adds the existing runs back)."
            )
        return RunStoreError(f"The run database {self.path} cannot be used: {text}.")


def _check_status(status: Any) -> None:
    if status not in RUN_STATUSES:
        raise ValueError(f"A run's status is one of {', '.join(RUN_STATUSES)}, not {status!r}.")


def _record(row: sqlite3.Row) -> RunRecord:
    return RunRecord(**{key: row[key] for key in row.keys()})  # noqa: SIM118 - Row has no iter


def run_dir_for(project_folder: Path, run_id: str) -> Path:
    """The default folder of a run: ``<project>/runs/<run id>``."""
    return Path(project_folder) / RUNS_FOLDER / run_id


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` is a run folder (it holds ``run.json``)."""
    return (Path(path) / RUN_FILE).is_file()


def find_project_folder(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding ``project.json``, or ``None``."""
    here = Path(start).resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        if (folder / MANIFEST).is_file():
            return folder
    return None
