"""What a training run reports while it runs: plain, frozen, JSON-ready events.

The engine (``ftstudio.engine.training.run_training``) calls ``on_event`` with one
of these from the thread or process that trains; a Qt worker forwards them to the
GUI thread, the CLI prints them, and every one is appended to the run's
``events.jsonl``. They hold only numbers, text and paths as text, so they can be
compared, copied between threads and sent between processes.

Order in a run: :class:`Started`, then :class:`StepLogged` at every log step with
:class:`Evaluated` after the steps that evaluate, :class:`CheckpointSaved` when a
checkpoint is complete on disk, :class:`TrainingWarning` whenever something needs
the user's attention; the last event is :class:`Finished` or :class:`Failed`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

RUN_STATUSES = ("queued", "running", "finished", "failed", "stopped")
"""Every status a run can have (``Finished.status`` is ``finished`` or ``stopped``)."""


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class Started:
    """Training has begun (after the data and the model are loaded).

    Attributes:
        run_id: the run's id (its folder name).
        run_dir: the run folder.
        name: the run's display name.
        method: ``qlora``, ``lora`` or ``full``.
        total_steps: optimizer steps the run will take.
        start_step: the first step of this session (above 0 when resuming).
        epochs: passes over the training examples.
        train_examples: training examples after exclusions.
        val_examples: validation examples (0: no evaluation).
        train_tokens: tokens per epoch in the training examples.
        device: where it trains, in words (``cpu``, ``cuda:0 (NVIDIA …)``).
        world_size: processes training together (above 1 under ``accelerate launch``).
        resumed_from: the checkpoint resumed from, or ``""``.
        time: when, as a Unix timestamp.
    """

    kind: ClassVar[str] = "started"
    run_id: str
    run_dir: str
    name: str
    method: str
    total_steps: int
    start_step: int = 0
    epochs: float = 1.0
    train_examples: int = 0
    val_examples: int = 0
    train_tokens: int = 0
    device: str = "cpu"
    world_size: int = 1
    resumed_from: str = ""
    time: float = field(default_factory=_now)

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object, with ``"event": "started"``."""
        return _to_json(self)


@dataclass(frozen=True)
class StepLogged:
    """The metrics of one log step (every optimizer step in ftstudio's runs).

    Attributes:
        step: optimizer steps done.
        total_steps: optimizer steps the run will take.
        epoch: epochs done, fractional.
        loss: the training loss of the step (mean over its micro-batches).
        learning_rate: the learning rate used by the step.
        grad_norm: the gradient norm before clipping (``None`` when not measured).
        tokens_per_second: training tokens (no padding) per second since the last log.
        memory_gb: GPU memory allocated now, or the process's resident memory (RSS)
            on a CPU, in GiB.
        peak_memory_gb: the peak GPU memory allocated, or the peak RSS, in GiB.
        memory_kind: ``gpu`` or ``rss``.
        elapsed_s: seconds since this session started training.
        eta_s: estimated seconds left (``None`` before the first timed step).
        metrics: further named metrics of the step, as the trainer names them (DPO:
            ``rewards/margins``, ``rewards/accuracies``, ``rewards/chosen``,
            ``rewards/rejected``); empty for SFT.
        time: when, as a Unix timestamp.
    """

    kind: ClassVar[str] = "step"
    step: int
    total_steps: int
    epoch: float
    loss: float
    learning_rate: float
    grad_norm: float | None = None
    tokens_per_second: float | None = None
    memory_gb: float | None = None
    peak_memory_gb: float | None = None
    memory_kind: str = "rss"
    elapsed_s: float = 0.0
    eta_s: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    time: float = field(default_factory=_now)

    @property
    def fraction(self) -> float:
        """Share of the run done, 0 to 1."""
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object, with ``"event": "step"``."""
        return _to_json(self)


@dataclass(frozen=True)
class Evaluated:
    """The validation loss after a step.

    Attributes:
        step: optimizer steps done.
        total_steps: optimizer steps the run will take.
        epoch: epochs done, fractional.
        eval_loss: the mean loss over the validation examples' trained tokens.
        best_eval_loss: the lowest validation loss so far (this one included).
        is_best: whether this evaluation is the best so far.
        time: when, as a Unix timestamp.
    """

    kind: ClassVar[str] = "evaluated"
    step: int
    total_steps: int
    epoch: float
    eval_loss: float
    best_eval_loss: float
    is_best: bool = False
    time: float = field(default_factory=_now)

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object, with ``"event": "evaluated"``."""
        return _to_json(self)


@dataclass(frozen=True)
class CheckpointSaved:
    """A checkpoint is complete on disk (renamed into place, manifest written).

    Attributes:
        step: the step it holds.
        path: the checkpoint folder (``<run>/checkpoint-<step>``).
        size_bytes: its size on disk.
        time: when, as a Unix timestamp.
    """

    kind: ClassVar[str] = "checkpoint"
    step: int
    path: str
    size_bytes: int = 0
    time: float = field(default_factory=_now)

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object, with ``"event": "checkpoint"``."""
        return _to_json(self)


@dataclass(frozen=True)
class TrainingWarning:
    """Something the user should know; training goes on.

    Attributes:
        code: a stable name, e.g. ``overfitting``, ``low_disk``, ``cpu_only``,
            ``resume_config_changed``, ``early_stopping``.
        message: plain words: what happened and what to do.
        step: the step it refers to (0: before training).
        time: when, as a Unix timestamp.
    """

    kind: ClassVar[str] = "warning"
    code: str
    message: str
    step: int = 0
    time: float = field(default_factory=_now)

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object, with ``"event": "warning"``."""
        return _to_json(self)


Warning_ = TrainingWarning
"""Alias: the planned name of :class:`TrainingWarning` (``Warning`` is a builtin)."""


@dataclass(frozen=True)
class Finished:
    """The run ended normally: all steps done, stopped by the user, or stopped early.

    Attributes:
        run_id: the run's id.
        run_dir: the run folder.
        status: ``finished`` or ``stopped`` (the user stopped it; it can resume).
        step: the last step done.
        total_steps: steps the run was to take.
        final_loss: the last logged training loss.
        best_eval_loss: the lowest validation loss (``None`` without evaluation).
        adapter_dir: the saved adapter (LoRA, QLoRA) or model (full) folder.
        reason: why it ended, in words (e.g. early stopping).
        elapsed_s: seconds this session trained.
        time: when, as a Unix timestamp.
    """

    kind: ClassVar[str] = "finished"
    run_id: str
    run_dir: str
    status: str
    step: int
    total_steps: int
    final_loss: float | None = None
    best_eval_loss: float | None = None
    adapter_dir: str = ""
    reason: str = ""
    elapsed_s: float = 0.0
    time: float = field(default_factory=_now)

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object, with ``"event": "finished"``."""
        return _to_json(self)


@dataclass(frozen=True)
class Failed:
    """The run could not go on.

    Attributes:
        run_id: the run's id (``""`` when it failed before it had one).
        run_dir: the run folder (``""`` likewise).
        code: a stable name: ``nan_loss``, ``out_of_memory``, ``data``, ``model``,
            ``config``, ``checkpoint``, ``disk_full`` or ``error``.
        message: plain words: what went wrong and how to fix it.
        step: the step it failed at (0: before training).
        last_checkpoint: the last complete checkpoint to resume from, or ``""``.
        detail: technical detail (the traceback of an unexpected error).
        time: when, as a Unix timestamp.
    """

    kind: ClassVar[str] = "failed"
    run_id: str
    run_dir: str
    code: str
    message: str
    step: int = 0
    last_checkpoint: str = ""
    detail: str = ""
    time: float = field(default_factory=_now)

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object, with ``"event": "failed"``."""
        return _to_json(self)


TrainingEvent = (
    Started | StepLogged | Evaluated | CheckpointSaved | TrainingWarning | Finished | Failed
)
"""Any event ``run_training`` reports."""

EVENT_TYPES: dict[str, type] = {
    cls.kind: cls
    for cls in (Started, StepLogged, Evaluated, CheckpointSaved, TrainingWarning, Finished, Failed)
}
"""Event classes by their ``kind`` (the ``"event"`` key of their JSON)."""


def event_from_json(data: dict[str, Any]) -> TrainingEvent:
    """The event a :meth:`to_json` object describes (unknown keys are ignored).

    Raises:
        ValueError: ``data`` names no known event or lacks a required field.
    """
    kind = data.get("event") if isinstance(data, dict) else None
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"Not a training event: {str(data)[:80]!r} (no known 'event' key).")
    names = {f.name for f in dataclasses.fields(cls)}
    try:
        return cls(**{k: v for k, v in data.items() if k in names})
    except TypeError as error:
        raise ValueError(f"A {kind!r} event is missing a field: {error}") from None


def read_events(path: Path) -> list[TrainingEvent]:
    """The events of an ``events.jsonl`` file, in order; lines that cannot be read as an
    event (a line torn by a crash, an event of a newer version) are left out. A missing
    or unreadable file gives ``[]``."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    events = []
    for line in text.splitlines():
        try:
            events.append(event_from_json(json.loads(line)))
        except ValueError:  # json.JSONDecodeError is a ValueError
            continue
    return events


def event_line(event: TrainingEvent) -> str:
    """One line of ``events.jsonl``: the event's JSON, without a newline."""
    return json.dumps(event.to_json(), ensure_ascii=False, allow_nan=True)


def _to_json(event: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"event": event.kind}
    for item in dataclasses.fields(event):
        data[item.name] = getattr(event, item.name)
    return data
