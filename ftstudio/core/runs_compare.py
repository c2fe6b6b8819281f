"""Run history: one summary per run, the metrics a run logged, and the diff of two configs.

What the Runs page, ``ftstudio runs show`` and model cards need to know about past
runs, read from the run folders (``run.json``, ``config.yaml``, ``metrics.jsonl``;
see :mod:`ftstudio.core.runs`) and the project's run database:

- :func:`run_summary`: status, dates, duration, method and key hyperparameters, best
  validation and final loss, the dataset's name and fingerprint;
- :func:`project_runs`: every run of a project, from the database and from run
  folders the database does not list (copied in, or indexed by an older version);
- :func:`read_metrics`: the logged rows, tolerant of a last line cut short by a
  crash (the engine appends while training);
- :func:`config_diff`: what changed between two configurations, key by key, with the
  labels the forms show;
- :func:`project_exports`: the project's exports with their parity verdicts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from ftstudio.core.export_config import MARKER as EXPORT_MARKER
from ftstudio.core.fields import ConfigError, field_specs, from_mapping, to_mapping
from ftstudio.core.parity import PARITY_FILE, ParityFileError, ParityReport, load_parity
from ftstudio.core.runs import (
    DB_NAME,
    RUNS_FOLDER,
    RunPaths,
    RunRecord,
    RunStore,
    RunStoreError,
    is_run_dir,
    read_run_file,
)
from ftstudio.core.train_config import (
    TrainConfig,
    defaults_for,
    load_config,
    method_defaults,
)

SHORT_HASH = 8
"""Hex digits of the dataset's SHA-256 shown as its fingerprint."""
CHECKPOINT_PREFIX = "checkpoint-"
CHECKPOINT_MANIFEST = "ftstudio-checkpoint.json"
"""A checkpoint folder's prefix and the file that marks it complete (engine.training)."""
EXPORTS_FOLDER = "exports"
EVAL_FOLDER = "eval"
"""Where a run's evaluation reports go (``<run>/eval/``, see core.evaluation.results)."""

_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML has it (about 20× faster), else the Python one."""

ConfigSource = TrainConfig | Mapping[str, Any] | Path | str
"""What :func:`config_diff` compares: a config, a mapping of its keys, or a YAML file."""


# ---------------------------------------------------------------------------- config diff


@dataclass(frozen=True)
class ConfigChange:
    """One key whose value differs between two configurations.

    Attributes:
        key: the YAML key (``learning_rate``).
        label: what the forms call it (``Learning rate``).
        old: the value in the first configuration (``None``: not set there).
        new: the value in the second configuration (``None``: not set there).
    """

    key: str
    label: str
    old: Any
    new: Any

    @property
    def old_text(self) -> str:
        """:attr:`old` as the diff view shows it."""
        return format_value(self.old)

    @property
    def new_text(self) -> str:
        """:attr:`new` as the diff view shows it."""
        return format_value(self.new)

    def __str__(self) -> str:
        return f"{self.label}: {self.old_text} → {self.new_text}"


def config_values(source: ConfigSource) -> dict[str, Any]:
    """Every key of a configuration with its value as YAML writes it (lists, not tuples).

    A file or mapping is read as ``ftstudio train`` reads it, so keys left out take
    their (per-method) defaults. A file or mapping that is not a valid configuration
    any more (written by another version, edited by hand) is still compared, key by
    key as written.

    Raises:
        FileNotFoundError: ``source`` is a path that does not exist.
        ValueError: the file is not YAML keys and values.
    """
    if isinstance(source, TrainConfig):
        return to_mapping(source)
    if isinstance(source, Path | str):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"The configuration {path} does not exist.")
        try:
            return to_mapping(load_config(path))
        except ConfigError:
            return _lenient_values(_raw_yaml(path))
    data = {str(key): value for key, value in source.items()}
    method, objective = data.get("method", "qlora"), data.get("objective", "sft")
    try:
        defaults = method_defaults(method, objective)
        config, _ = from_mapping(TrainConfig, {**defaults, **data}, source="configuration")
    except (ConfigError, ValueError, TypeError):
        return _lenient_values(data)
    return to_mapping(config)


def config_diff(a: ConfigSource, b: ConfigSource) -> list[ConfigChange]:
    """The keys whose values differ from ``a`` to ``b``, in the forms' order.

    Keys only one side has (an older or newer version's) come last, sorted; their
    missing side is ``None``.

    Example:
        >>> [str(c) for c in config_diff(TrainConfig(), TrainConfig(learning_rate=1e-4))]
        ['Learning rate: 0.0002 → 0.0001']
    """
    old, new = config_values(a), config_values(b)
    labels = {spec.name: spec.label for spec in field_specs(TrainConfig)}
    keys = [key for key in labels if key in old or key in new]
    keys += sorted((set(old) | set(new)) - set(labels))
    changes = []
    for key in keys:
        before, after = old.get(key), new.get(key)
        if not _same(before, after):
            label = labels.get(key, key.replace("_", " ").capitalize())
            changes.append(ConfigChange(key, label, before, after))
    return changes


def format_value(value: Any) -> str:
    """A config value in plain text: ``2e-04`` → ``0.0002``, lists comma-separated."""
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(format_value(item) for item in value) or "(none)"
    if value == "":
        return "(empty)"
    return str(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def _lenient_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a configuration that does not validate, as written, over the defaults
    of its method (so that keys left out do not show as changes)."""
    try:
        base = to_mapping(defaults_for(data.get("method", "qlora"), data.get("objective", "sft")))
    except (ValueError, TypeError):
        base = to_mapping(TrainConfig())
    return {**base, **{str(key): _plain(value) for key, value in data.items()}}


def _raw_yaml(path: Path) -> dict[str, Any]:
    """A configuration file's keys as written (numbers like ``2e-4`` read as numbers:
    YAML 1.1 wants ``2.0e-4``, so the number fields' text values are converted)."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_FAST_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"{path} cannot be read as YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a configuration (expected keys and values).")
    floats = {spec.name for spec in field_specs(TrainConfig) if spec.type is float}
    values = {}
    for key, value in data.items():
        if key in floats and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        values[str(key)] = _plain(value)
    return values


# ---------------------------------------------------------------------------- metrics


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of a run's ``metrics.jsonl`` (one per logged step), in file order.

    Rows carry ``step`` and ``loss``, ``learning_rate``… and ``eval_loss`` on
    evaluation steps (an evaluation may also have a row of its own). A line that is
    not a JSON object with a whole-number ``step`` is skipped: the last line may be
    cut short when training was killed while writing it. A missing file gives ``[]``.
    """
    path = RunPaths(Path(run_dir)).metrics
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return []
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a crash (normally only the last)
        step = row.get("step") if isinstance(row, dict) else None
        if isinstance(step, int) and not isinstance(step, bool):
            rows.append(row)
    return rows


def metric_series(rows: Sequence[Mapping[str, Any]], name: str) -> tuple[list[float], list[float]]:
    """The (steps, values) of metric ``name`` in ``rows``: finite numbers only."""
    steps: list[float] = []
    values: list[float] = []
    for row in rows:
        value = row.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            steps.append(float(row["step"]))
            values.append(float(value))
    return steps, values


# ---------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class RunSummary:
    """What the run history shows about one run.

    Attributes:
        id: the run's id (its folder name by default).
        name: its display name.
        path: the run folder.
        status: ``queued``, ``running``, ``finished``, ``failed`` or ``stopped``;
            ``missing`` when the database lists a folder that is gone, ``unknown``
            when the folder's ``run.json`` cannot be read.
        created, started, ended: ISO 8601 times (UTC); ``None`` when unknown.
        duration_s: seconds spent training, over every session (resumes included).
        method, objective: ``qlora``/``lora``/``full`` and ``sft``/``dpo``.
        base_model: the configuration's base model.
        learning_rate, epochs, max_steps, r, alpha, batch_size, grad_accum, max_length:
            key hyperparameters of ``config.yaml`` (``None`` when it cannot be read).
        step, total_steps: optimizer steps done and planned.
        best_eval_loss: the lowest validation loss.
        final_loss: the last logged training loss.
        dataset: the training data file (as the run recorded it).
        dataset_sha256: the SHA-256 of that file when the run started (``""``: unknown).
        train_examples, val_examples: examples trained on and held back.
        message: how the run ended, or its error.
        in_database: whether the project's run database has a row for it.
    """

    id: str
    name: str
    path: Path
    status: str
    created: str | None = None
    started: str | None = None
    ended: str | None = None
    duration_s: float | None = None
    method: str = ""
    objective: str = ""
    base_model: str = ""
    learning_rate: float | None = None
    epochs: int | None = None
    max_steps: int | None = None
    r: int | None = None
    alpha: int | None = None
    batch_size: int | None = None
    grad_accum: int | None = None
    max_length: int | None = None
    step: int = 0
    total_steps: int = 0
    best_eval_loss: float | None = None
    final_loss: float | None = None
    dataset: str = ""
    dataset_sha256: str = ""
    train_examples: int | None = None
    val_examples: int | None = None
    message: str = ""
    in_database: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def dataset_name(self) -> str:
        """The data file's name (``train.jsonl``), or ``""``."""
        return Path(self.dataset).name if self.dataset else ""

    @property
    def data_hash(self) -> str:
        """The data fingerprint: the first :data:`SHORT_HASH` hex digits of its SHA-256."""
        return self.dataset_sha256[:SHORT_HASH]

    @property
    def effective_batch(self) -> int | None:
        """Examples per optimizer step: batch size × gradient accumulation."""
        if self.batch_size is None or self.grad_accum is None:
            return None
        return self.batch_size * self.grad_accum

    @property
    def method_text(self) -> str:
        """``LoRA · SFT``."""
        names = {"qlora": "QLoRA", "lora": "LoRA", "full": "Full"}
        parts = [names.get(self.method, self.method), self.objective.upper()]
        return " · ".join(part for part in parts if part)

    @property
    def length_text(self) -> str:
        """``3 epochs`` or ``1 epoch, max 6 steps``."""
        if self.epochs is None:
            return ""
        text = f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}"
        if self.max_steps:
            text += f", max {self.max_steps:,} steps"
        return text

    @property
    def is_running(self) -> bool:
        """Whether the run says it is training (or waiting to)."""
        return self.status in ("running", "queued")

    def to_json(self) -> dict[str, Any]:
        """The summary as ``ftstudio runs show --json`` prints it."""
        return {
            "id": self.id,
            "name": self.name,
            "path": str(self.path),
            "status": self.status,
            "created": self.created,
            "started": self.started,
            "ended": self.ended,
            "duration_s": self.duration_s,
            "method": self.method,
            "objective": self.objective,
            "base_model": self.base_model,
            "learning_rate": self.learning_rate,
            "epochs": self.epochs,
            "max_steps": self.max_steps,
            "r": self.r,
            "alpha": self.alpha,
            "batch_size": self.batch_size,
            "grad_accum": self.grad_accum,
            "effective_batch": self.effective_batch,
            "max_length": self.max_length,
            "step": self.step,
            "total_steps": self.total_steps,
            "best_eval_loss": self.best_eval_loss,
            "final_loss": self.final_loss,
            "dataset": self.dataset,
            "dataset_sha256": self.dataset_sha256,
            "data_hash": self.data_hash,
            "train_examples": self.train_examples,
            "val_examples": self.val_examples,
            "message": self.message,
            "in_database": self.in_database,
        }


def run_summary(source: Path | str | RunRecord) -> RunSummary:
    """The summary of a run, from its folder (or its database row and folder).

    ``run.json`` is the truth where it says something; the database row fills in
    what it lacks (a run folder that is gone keeps its row's values, with status
    ``missing``). Hyperparameters come from ``config.yaml``; losses that ``run.json``
    lacks (a run that crashed) from ``metrics.jsonl``. Never raises for a damaged
    or partial folder: what cannot be read stays empty.
    """
    record = source if isinstance(source, RunRecord) else None
    folder = Path(record.path if record is not None else source)  # type: ignore[arg-type]
    try:
        info = read_run_file(folder)
    except RunStoreError:
        info = {}
    row = record.to_json() if record is not None else {}

    def pick(key: str, default: Any = None) -> Any:
        value = info.get(key)
        return value if value is not None else row.get(key, default)

    status = str(pick("status", "") or "")
    if not folder.is_dir():
        status = "missing"
    elif not status:
        status = "unknown"  # run.json unreadable, and no database row
    config = _read_config(folder / "config.yaml")
    dataset_info = info.get("dataset") if isinstance(info.get("dataset"), dict) else {}
    final_loss, best_eval = _finite(pick("final_loss")), _finite(pick("best_eval_loss"))
    if final_loss is None or best_eval is None:
        rows = read_metrics(folder)
        if final_loss is None:
            losses = metric_series(rows, "loss")[1]
            final_loss = losses[-1] if losses else None
        if best_eval is None:
            evals = metric_series(rows, "eval_loss")[1]
            best_eval = min(evals) if evals else None
    return RunSummary(
        id=str(pick("id") or folder.name),
        name=str(pick("name") or pick("id") or folder.name),
        path=folder,
        status=status,
        created=pick("created"),
        started=pick("started"),
        ended=pick("ended"),
        duration_s=_duration(info, row, status),
        method=str(pick("method") or (config or {}).get("method", "")),
        objective=str(info.get("objective") or (config or {}).get("objective", "")),
        base_model=str(pick("base_model") or (config or {}).get("base_model", "")),
        learning_rate=_get(config, "learning_rate"),
        epochs=_get(config, "epochs"),
        max_steps=_get(config, "max_steps"),
        r=_get(config, "r"),
        alpha=_get(config, "alpha"),
        batch_size=_get(config, "per_device_batch_size"),
        grad_accum=_get(config, "grad_accum"),
        max_length=_get(config, "max_length"),
        step=int(max(info.get("step") or 0, row.get("step") or 0)),
        total_steps=int(pick("total_steps", 0) or 0),
        best_eval_loss=best_eval,
        final_loss=final_loss,
        dataset=str(
            dataset_info.get("path") or row.get("dataset") or (config or {}).get("dataset", "")
        ),
        dataset_sha256=str(dataset_info.get("sha256") or ""),
        train_examples=dataset_info.get("train_examples"),
        val_examples=dataset_info.get("val_examples"),
        message=str(info.get("message") or pick("error", "") or ""),
        in_database=record is not None,
        extra={"run": info, "config": config},
    )


@dataclass(frozen=True)
class RunListing:
    """Every run of a project (see :func:`project_runs`).

    Attributes:
        runs: one summary per run, oldest first.
        warning: why the run database could not be read (``""`` when it could); the
            runs are then listed from their folders alone.
    """

    runs: list[RunSummary]
    warning: str = ""


def project_runs(project_folder: Path) -> RunListing:
    """Every run of the project: the database's rows, then run folders it lacks.

    A folder of ``runs/`` is a run when it holds ``run.json`` or ``config.yaml``. The
    database is only read, never created: a project without ``runs/runs.sqlite``
    lists its run folders. Runs are sorted by creation time, then id.
    """
    runs_folder = Path(project_folder) / RUNS_FOLDER
    summaries: list[RunSummary] = []
    warning = ""
    db = runs_folder / DB_NAME
    if db.is_file():
        try:
            records = RunStore(db).list()
        except RunStoreError as error:
            warning = str(error)
        else:
            summaries = [run_summary(_local(record, runs_folder)) for record in records]
    known_ids = {summary.id for summary in summaries}
    known_paths = {_resolved(summary.path) for summary in summaries}
    if runs_folder.is_dir():
        for folder in sorted(p for p in runs_folder.iterdir() if _looks_like_run(p)):
            if _resolved(folder) in known_paths:
                continue
            summary = run_summary(folder)
            if summary.id in known_ids:
                continue
            summaries.append(summary)
    summaries.sort(key=lambda s: (s.created or "", s.id))
    return RunListing(summaries, warning)


def _looks_like_run(folder: Path) -> bool:
    """A run folder: it has ``run.json``, or at least the ``config.yaml`` that ran (a run
    whose ``run.json`` was lost; listed with status ``unknown``)."""
    return is_run_dir(folder) or (folder / "config.yaml").is_file()


def _local(record: RunRecord, runs_folder: Path) -> RunRecord:
    """The record with its folder in this project when the project was moved or copied.

    The database stores absolute paths: in a copied project they still name the
    original's folders, in a moved one folders that are gone. ``runs/<id>`` of this
    project is the run's folder then (a run written outside the project keeps its path).
    """
    local = runs_folder / record.id
    recorded = Path(record.path)
    try:
        inside = recorded.resolve().is_relative_to(runs_folder.resolve())
    except OSError:
        inside = False
    if (
        not inside
        and is_run_dir(local)
        and (not recorded.exists() or recorded.parent.name == RUNS_FOLDER)
    ):
        return dataclasses.replace(record, path=str(local.resolve()))
    return record


def find_run(runs: Sequence[RunSummary], key: str) -> RunSummary | None:
    """The run whose id or name is ``key``, else the only one whose id starts with it."""
    for summary in runs:
        if key in (summary.id, summary.name):
            return summary
    matches = [summary for summary in runs if summary.id.startswith(key)]
    return matches[0] if len(matches) == 1 else None


# ---------------------------------------------------------------------------- run contents


def checkpoints(run_dir: Path) -> list[Path]:
    """The run's complete checkpoints (``checkpoint-<step>/`` with ftstudio's marker),
    by step."""
    folder = Path(run_dir)
    found = [
        path
        for path in folder.glob(f"{CHECKPOINT_PREFIX}*")
        if (path / CHECKPOINT_MANIFEST).is_file()
        and path.name.removeprefix(CHECKPOINT_PREFIX).isdigit()
    ]
    return sorted(found, key=lambda path: int(path.name.removeprefix(CHECKPOINT_PREFIX)))


@dataclass(frozen=True)
class ExportInfo:
    """One export of a project's run, as its folder describes it.

    Attributes:
        path: the export folder.
        format: ``adapter``, ``merged``, ``gguf`` or ``ollama`` (``""``: unknown).
        run_id: the id of the run it was made from (``""``: unknown).
        run_dir: that run's folder, as the export recorded it (``""``: unknown).
        created: when it was made (ISO 8601, UTC; ``""``: unknown).
        checkpoint: the checkpoint's step (0: the final adapter or model).
        description: the export's settings in words (``merged (bf16)`` …).
        parity: its parity report (``None``: none, or unreadable).
        parity_error: why ``parity.json`` cannot be read (``""`` when it can, or is absent).
    """

    path: Path
    format: str = ""
    run_id: str = ""
    run_dir: str = ""
    created: str = ""
    checkpoint: int = 0
    description: str = ""
    parity: ParityReport | None = None
    parity_error: str = ""

    @property
    def verdict(self) -> str:
        """``passed``, ``failed``, ``unreadable`` or ``unchecked`` (no parity.json)."""
        if self.parity is not None:
            return "passed" if self.parity.passed else "failed"
        return "unreadable" if self.parity_error else "unchecked"


def read_export(folder: Path) -> ExportInfo:
    """What an export folder says about itself (``ftstudio-export.json``, ``parity.json``).

    Never raises: what cannot be read stays empty.
    """
    folder = Path(folder)
    marker: dict[str, Any] = {}
    try:
        data = json.loads((folder / EXPORT_MARKER).read_text(encoding="utf-8"))
        if isinstance(data, dict):
            marker = data
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        pass
    parity: ParityReport | None = None
    error = ""
    try:
        parity = load_parity(folder)
    except ParityFileError as problem:
        error = str(problem)
    config = marker.get("config") if isinstance(marker.get("config"), dict) else {}
    kind = str(marker.get("format") or (parity.format if parity else "") or "")
    description = kind
    if kind in ("merged", "gguf", "ollama"):
        settings = [str(config.get("quant", ""))] if kind != "merged" else []
        if config.get("dtype"):
            settings.append(f"merged in {config['dtype']}" if kind != "merged" else config["dtype"])
        settings = [item for item in settings if item]
        if settings:
            description = f"{kind} ({', '.join(settings)})"
    checkpoint = marker.get("checkpoint")
    return ExportInfo(
        path=folder,
        format=kind,
        run_id=str(marker.get("run_id") or ""),
        run_dir=str(marker.get("run") or ""),
        created=str(marker.get("created") or (parity.created if parity else "") or ""),
        checkpoint=checkpoint if isinstance(checkpoint, int) else 0,
        description=description,
        parity=parity,
        parity_error=error,
    )


def is_export_dir(path: Path) -> bool:
    """Whether ``path`` is a finished export (it holds the export marker or a parity report).

    Half-written exports (``<name>.partial-*`` and ``.old-*`` folders) are not.
    """
    path = Path(path)
    if path.name.startswith(".") or ".partial-" in path.name or ".old-" in path.name:
        return False
    return path.is_dir() and ((path / EXPORT_MARKER).is_file() or (path / PARITY_FILE).is_file())


def project_exports(project_folder: Path) -> list[ExportInfo]:
    """Every export of the project: in ``exports/`` and in each run's ``exports/``,
    newest first."""
    project = Path(project_folder)
    folders = [project / EXPORTS_FOLDER]
    runs_folder = project / RUNS_FOLDER
    if runs_folder.is_dir():
        folders += sorted(run / EXPORTS_FOLDER for run in runs_folder.iterdir() if run.is_dir())
    found = []
    for folder in folders:
        if folder.is_dir():
            found += [read_export(path) for path in sorted(folder.iterdir()) if is_export_dir(path)]
    found.sort(key=lambda info: (info.created, str(info.path)), reverse=True)
    return found


def run_exports(run_dir: Path, project_folder: Path | None = None) -> list[Path]:
    """The exports made from this run: those whose marker names it, ``exports/<run id>-*``
    entries of the project, and the run's own ``exports/`` folder.

    ``project_folder`` defaults to the folder two levels above ``run_dir``.
    """
    run_dir = Path(run_dir)
    project = Path(project_folder) if project_folder is not None else run_dir.parent.parent
    found: set[Path] = set()
    for info in project_exports(project):
        inside = info.path.parent == run_dir / EXPORTS_FOLDER
        if inside or info.run_id == run_dir.name or info.path.name.startswith(f"{run_dir.name}-"):
            found.add(info.path)
    folder = project / EXPORTS_FOLDER
    if folder.is_dir():
        found.update(p for p in folder.iterdir() if p.name.startswith(f"{run_dir.name}-"))
    return sorted(found)


def eval_files(run_dir: Path) -> list[Path]:
    """The files of the run's evaluation reports (``eval/``), by name."""
    folder = Path(run_dir) / EVAL_FOLDER
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_file())


def final_metrics(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The last logged value of every metric (``eval_loss`` from the last evaluation),
    with ``step`` the last step logged."""
    final: dict[str, Any] = {}
    for row in sorted(rows, key=lambda row: row["step"]):
        final.update({key: value for key, value in row.items() if value is not None})
    return final


def run_details(summary: RunSummary, project_folder: Path | None = None) -> dict[str, Any]:
    """Everything ``ftstudio runs show`` prints about a run, JSON-ready: the summary,
    the configuration's values, the final metrics, checkpoints, exports (with their
    parity verdicts) and evaluation reports."""
    folder = Path(summary.path)
    project = Path(project_folder) if project_folder is not None else folder.parent.parent
    config = summary.extra.get("config")
    exports = []
    for path in run_exports(folder, project):
        info = read_export(path)
        exports.append(
            {
                "path": str(path),
                "format": info.format,
                "description": info.description,
                "parity": info.verdict,
            }
        )
    return {
        "summary": summary.to_json(),
        "config": config,
        "final_metrics": final_metrics(read_metrics(folder)),
        "checkpoints": [str(path) for path in checkpoints(folder)],
        "exports": exports,
        "eval": [str(path) for path in eval_files(folder)],
    }


# ---------------------------------------------------------------------------- internals


def _read_config(path: Path) -> dict[str, Any] | None:
    """A run's ``config.yaml`` as values (``None`` when missing or unreadable).

    Read as :func:`config_values` reads a mapping (method defaults for keys left out,
    as written when it does not validate), with libyaml when available: a run history
    reads every run's configuration, and the pure-Python parser takes ~5 ms per file.
    Results are kept per file, size and modification time (a run's config never
    changes).
    """
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    cached = _CONFIG_CACHE.get(key)
    if cached is None:
        try:
            cached = config_values(_raw_yaml(path))
        except ValueError:
            return None
        if len(_CONFIG_CACHE) >= CONFIG_CACHE_SIZE:
            _CONFIG_CACHE.clear()
        _CONFIG_CACHE[key] = cached
    return dict(cached)


_CONFIG_CACHE: dict[tuple[str, int, int], dict[str, Any]] = {}
CONFIG_CACHE_SIZE = 4096


def _get(config: Mapping[str, Any] | None, key: str) -> Any:
    return None if config is None else config.get(key)


def _finite(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _duration(info: Mapping[str, Any], row: Mapping[str, Any], status: str) -> float | None:
    """Seconds of training over every session; a session still running counts until now."""
    sessions = info.get("sessions")
    spans: list[tuple[Any, Any]] = []
    if isinstance(sessions, list) and sessions:
        for index, session in enumerate(sessions):
            if not isinstance(session, dict):
                continue
            end = session.get("ended")
            if end is None and status == "running" and index == len(sessions) - 1:
                end = datetime.now(UTC).isoformat()
            spans.append((session.get("started"), end))
    else:
        started = info.get("started") or row.get("started")
        ended = info.get("ended") or row.get("ended")
        if ended is None and status == "running":
            ended = datetime.now(UTC).isoformat()
        spans.append((started, ended))
    total, counted = 0.0, False
    for start, end in spans:
        begin, finish = _time(start), _time(end)
        if begin is not None and finish is not None:
            total += max(0.0, (finish - begin).total_seconds())
            counted = True
    return total if counted else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _resolved(path: Path) -> Path:
    try:
        return Path(path).resolve()
    except OSError:
        return Path(path)
