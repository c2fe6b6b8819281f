"""Starting a run from an earlier run's LoRA adapter (``init_adapter``).

``init_adapter`` names a run folder (its final ``adapter/`` is used), an adapter
folder (one with ``adapter_config.json``: a run's ``adapter/`` or one of its
checkpoints) or that folder's ``adapter_config.json``; relative to the project
folder or absolute. The adapter must have been trained on the run's base model: the
base recorded in ``adapter_config.json`` (``base_model_name_or_path``) is compared
with the run's where that means something (the same local folder, a copy of it, or
the same hub id); an adapter whose base cannot be checked here (a folder on another
computer) is accepted with a warning.

SFT continues training the adapter; DPO trains it too, against a frozen copy of it
as the reference model (trl's ``DPOTrainer`` adds that copy as the ``ref`` adapter).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ftstudio.core.runs import is_run_dir
from ftstudio.engine.training.checkpoints import list_checkpoints

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_FOLDER = "adapter"
MODEL_FOLDER = "model"
_SNAPSHOT = re.compile(r"models--([^/\\]+)--([^/\\]+)[/\\]snapshots[/\\]")
_SAMPLE = 1 << 20
"""Bytes read from each end of a weights file to tell copies of a model apart."""


class AdapterError(ValueError):
    """``init_adapter`` cannot be used; the message names the folder and the fix."""


def resolve_init_adapter(value: str, project: Path) -> Path:
    """The adapter folder ``init_adapter`` names (see the module docstring).

    Raises:
        AdapterError: the path does not exist or holds no adapter (a full fine-tuning
            run, a run that did not finish, any other folder).
    """
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = Path(project) / path
    path = path.resolve()
    if path.is_file() and path.name == ADAPTER_CONFIG:
        path = path.parent
    if not path.exists():
        raise AdapterError(
            f"init_adapter: {path} does not exist. Choose a finished LoRA or QLoRA run folder "
            "(runs/<run id>) or its adapter folder, or leave init_adapter empty to start from "
            "the base model."
        )
    if (path / ADAPTER_CONFIG).is_file():
        return path
    if is_run_dir(path):
        adapter = path / ADAPTER_FOLDER
        if (adapter / ADAPTER_CONFIG).is_file():
            return adapter
        if (path / MODEL_FOLDER).is_dir():
            raise AdapterError(
                f"init_adapter: {path} is a full fine-tuning run: it saved a whole model "
                f"({MODEL_FOLDER}/), not an adapter. Set base_model to {path / MODEL_FOLDER} "
                "and leave init_adapter empty."
            )
        done = [c for c in list_checkpoints(path) if (c.path / ADAPTER_CONFIG).is_file()]
        if done:
            raise AdapterError(
                f"init_adapter: {path} has no final adapter (the run did not finish). Resume "
                f"it first, or set init_adapter to one of its checkpoints, e.g. {done[-1].path}."
            )
        raise AdapterError(
            f"init_adapter: {path} holds no adapter: the run saved neither {ADAPTER_FOLDER}/ "
            "nor a checkpoint. Choose a finished LoRA or QLoRA run."
        )
    raise AdapterError(
        f"init_adapter: {path} holds no LoRA adapter (no {ADAPTER_CONFIG}). Choose a finished "
        "LoRA or QLoRA run folder or its adapter folder."
    )


def check_adapter_base(adapter: Path, model_path: str, base_model: str) -> str:
    """Check that ``adapter`` was trained on this run's base model.

    Args:
        adapter: the adapter folder (holding ``adapter_config.json``).
        model_path: the base model's folder as loaded (or its hub id).
        base_model: the configuration's ``base_model`` value.

    Returns:
        ``""``, or a warning when the adapter's base cannot be checked here.

    Raises:
        AdapterError: the adapter config cannot be read, or names another base model.
    """
    config_path = Path(adapter) / ADAPTER_CONFIG
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AdapterError(f"init_adapter: {config_path} cannot be read ({error}).") from None
    if not isinstance(config, dict):
        raise AdapterError(f"init_adapter: {config_path} is not an adapter configuration.")
    recorded = str(config.get("base_model_name_or_path") or "").strip()
    if not recorded:
        return ""
    if _same_model(recorded, model_path, base_model):
        return ""
    theirs = Path(recorded).expanduser()
    if theirs.is_absolute() and not theirs.is_dir() and _hub_id(recorded) is None:
        return (
            f"The adapter {adapter} was trained on {recorded}, which is not on this computer, "
            f"so ftstudio cannot check that it fits the base model {base_model}. If the "
            "training fails or the answers look broken, choose an adapter trained on this base."
        )
    raise AdapterError(
        f"init_adapter: {adapter} was trained on {recorded}, but this run's base model is "
        f"{base_model} ({model_path}). An adapter fits only the model it was trained on: set "
        f"base_model to {recorded}, or choose an adapter trained on {base_model}."
    )


def settings_note(adapter: Path, r: int, alpha: int, target_modules: Sequence[str]) -> str:
    """A note when the adapter's own LoRA settings differ from the configuration's, else ``""``.

    The adapter keeps its rank, alpha and target modules; the configuration's do not apply.
    """
    try:
        config = json.loads((Path(adapter) / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return ""
    theirs = (config.get("r"), config.get("lora_alpha"), config.get("target_modules"))
    targets = theirs[2]
    if isinstance(targets, list):
        targets = sorted(targets)
    if (theirs[0], theirs[1], targets) == (r, alpha, sorted(target_modules)):
        return ""
    shown = ", ".join(targets) if isinstance(targets, list) else str(targets)
    return (
        f"The run continues the adapter in {adapter}, which keeps its own settings (r={theirs[0]}, "
        f"alpha={theirs[1]}, target modules: {shown}); the configuration's r, alpha and target "
        "modules do not apply."
    )


def load_adapter(model: Any, adapter: Path) -> Any:
    """``model`` with the adapter in ``adapter`` loaded as the trainable ``default`` adapter."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter), is_trainable=True)


# ---------------------------------------------------------------- model identity


def _same_model(recorded: str, model_path: str, base_model: str) -> bool:
    """Whether ``recorded`` names the same model as ``model_path`` / ``base_model``."""
    ours = _names(model_path) | _names(base_model)
    if _names(recorded) & ours:
        return True
    theirs, here = Path(recorded).expanduser(), Path(model_path)
    return theirs.is_dir() and here.is_dir() and _same_folder(theirs, here)


def _names(value: str) -> set[str]:
    """The names a model goes by: the text, its resolved folder, its hub id."""
    text = value.strip().rstrip("/\\")
    if not text:
        return set()
    names = {text}
    path = Path(text).expanduser()
    if path.is_dir():
        names.add(str(path.resolve()))
    hub = _hub_id(text if not path.is_dir() else str(path.resolve()))
    if hub is not None:
        names.add(hub)
    return names


def _hub_id(value: str) -> str | None:
    """``org/name`` for a hub id or a hub cache snapshot folder, else ``None``."""
    match = _SNAPSHOT.search(value)
    if match:
        return f"{match.group(1)}/{match.group(2)}"
    if re.fullmatch(r"[\w.-]+/[\w.-]+", value) and not Path(value).expanduser().exists():
        return value
    return None


def _same_folder(a: Path, b: Path) -> bool:
    """Whether two model folders hold the same model (a copy): config and weights alike."""
    if _config(a) != _config(b):
        return False
    weights_a, weights_b = _weights(a), _weights(b)
    return bool(weights_a) and weights_a == weights_b


def _config(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(data, dict):
        for key in ("_name_or_path", "transformers_version"):
            data.pop(key, None)
    return data


def _weights(folder: Path) -> dict[str, tuple[int, str]]:
    """Each weights file's size and a hash of its first and last MiB."""
    found = {}
    for path in sorted(folder.glob("*.safetensors")):
        size = path.stat().st_size
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            digest.update(handle.read(_SAMPLE))
            if size > 2 * _SAMPLE:
                handle.seek(size - _SAMPLE)
                digest.update(handle.read(_SAMPLE))
        found[path.name] = (size, digest.hexdigest())
    return found
