"""Which runs and which saved models of a run can be compared, read from the run folders.

The GUI lists them without the engine (importing it would load torch): a run folder's
``run.json`` says its name and status, and its sub-folders what it saved:
``adapter/`` (LoRA, QLoRA), ``model/`` (full fine-tuning) and complete checkpoints
``checkpoint-<step>/`` (those holding ftstudio's manifest). The choices and their order match the
engine's ``list_adapters``: the final adapter or model first, then checkpoints,
newest first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ftstudio.core.runs import RunStoreError, read_run_file

CHECKPOINT_MANIFEST = "ftstudio-checkpoint.json"
"""The file that marks a complete checkpoint (see ``engine.training.checkpoints``)."""

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_STATUS_ORDER = {"finished": 0, "stopped": 1, "failed": 2, "running": 3, "queued": 4}


@dataclass(frozen=True)
class AdapterOption:
    """A saved model of a run that the tuned side can load.

    Attributes:
        label: how the picker shows it (``"Final adapter"``, ``"Checkpoint at step 3"``).
        path: its folder.
        step: the training step it holds (``None`` for the final adapter or model).
        kind: ``"adapter"``, ``"model"`` or ``"checkpoint"``.
    """

    label: str
    path: Path
    step: int | None
    kind: str


@dataclass(frozen=True)
class RunChoice:
    """A run of the project that has at least one saved model.

    Attributes:
        run_dir: the run folder.
        run_id: its id (the folder name unless ``run.json`` says otherwise).
        name: its display name.
        status: ``finished``, ``stopped``, ``failed``…
        method: ``lora``, ``qlora`` or ``full``.
        created: when it was made (ISO 8601), for sorting.
        adapters: what the tuned side can load, the final one first.
    """

    run_dir: Path
    run_id: str
    name: str
    status: str
    method: str
    created: str
    adapters: tuple[AdapterOption, ...]

    @property
    def label(self) -> str:
        """``"<name> · finished · lora · 30 Nov 14:23"`` for the run picker."""
        parts = [self.name, self.status]
        if self.method:
            parts.append(self.method)
        when = local_time_text(self.created)
        if when:
            parts.append(when)
        return " · ".join(parts)


def list_adapter_options(run_dir: Path) -> list[AdapterOption]:
    """The saved models of ``run_dir``: final adapter or model, then checkpoints newest first."""
    folder = Path(run_dir)
    options: list[AdapterOption] = []
    adapter = folder / "adapter"
    if _is_adapter_dir(adapter):
        options.append(AdapterOption("Final adapter", adapter, None, "adapter"))
    model = folder / "model"
    if _is_model_dir(model):
        options.append(AdapterOption("Final model", model, None, "model"))
    checkpoints: list[AdapterOption] = []
    if folder.is_dir():
        for path in folder.iterdir():
            match = _CHECKPOINT.match(path.name)
            if (
                match
                and path.is_dir()
                and _complete_checkpoint(path, int(match.group(1)))
                and (_is_adapter_dir(path) or _is_model_dir(path))
            ):
                step = int(match.group(1))
                checkpoints.append(
                    AdapterOption(f"Checkpoint at step {step:,}", path, step, "checkpoint")
                )
    checkpoints.sort(key=lambda option: option.step or 0, reverse=True)
    return options + checkpoints


def list_run_choices(project_folder: Path) -> list[RunChoice]:
    """The project's runs that saved a model: finished first, then newest first."""
    runs_folder = Path(project_folder) / "runs"
    if not runs_folder.is_dir():
        return []
    choices = []
    for run_dir in runs_folder.iterdir():
        if not run_dir.is_dir():
            continue
        try:
            info = read_run_file(run_dir)
        except RunStoreError:
            continue
        adapters = tuple(list_adapter_options(run_dir))
        if not adapters:
            continue
        run_id = str(info.get("id") or run_dir.name)
        choices.append(
            RunChoice(
                run_dir=run_dir,
                run_id=run_id,
                name=str(info.get("name") or run_id),
                status=str(info.get("status") or "unknown"),
                method=str(info.get("method") or ""),
                created=str(info.get("created") or ""),
                adapters=adapters,
            )
        )
    choices.sort(key=lambda c: (c.created, c.run_id), reverse=True)
    choices.sort(key=lambda c: _STATUS_ORDER.get(c.status, len(_STATUS_ORDER)))
    return choices


def run_count(project_folder: Path) -> int:
    """How many run folders the project has (with or without a saved model)."""
    runs_folder = Path(project_folder) / "runs"
    if not runs_folder.is_dir():
        return 0
    return sum(1 for path in runs_folder.iterdir() if (path / "run.json").is_file())


def _is_adapter_dir(folder: Path) -> bool:
    return (folder / "adapter_config.json").is_file() and (
        (folder / "adapter_model.safetensors").is_file() or (folder / "adapter_model.bin").is_file()
    )


def _is_model_dir(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def _complete_checkpoint(path: Path, step: int) -> bool:
    try:
        data = json.loads((path / CHECKPOINT_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and data.get("step") == step


def local_time_text(created: str, pattern: str = "%d %b %H:%M") -> str:
    """An ISO time as local time in ``pattern``; ``""`` when it is not a time."""
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime(pattern)
