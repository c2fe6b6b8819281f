"""What an export starts from: a finished run's folder, its base model and its adapter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftstudio.core.project import classify_base_model
from ftstudio.core.runs import RunPaths, RunStoreError, read_run_file
from ftstudio.core.train_config import TrainConfig, load_config
from ftstudio.engine.export.errors import ExportError
from ftstudio.engine.training.checkpoints import (
    CheckpointError,
    checkpoint_dir,
    list_checkpoints,
    read_checkpoint,
)

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "chat_template.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
)


@dataclass(frozen=True)
class RunSource:
    """A run as an export sees it.

    Attributes:
        run_dir: the run folder.
        info: its ``run.json``.
        config: the configuration that ran.
        project: the project folder (relative paths resolve from it).
        weights_dir: the adapter folder (LoRA/QLoRA) or the model folder (full
            fine-tuning) being exported: the final one or a checkpoint's.
        step: the checkpoint's step (0: the final adapter or model).
        is_full: whether the run fine-tuned every weight (``weights_dir`` is a model).
        base_model: the configuration's base model as written (hub id, path or
            ``ftstudio:tiny``).
        base_ref: what adapters should name as their base: the hub id, or the local
            folder's absolute path.
    """

    run_dir: Path
    info: dict[str, Any]
    config: TrainConfig
    project: Path
    weights_dir: Path
    step: int
    is_full: bool
    base_model: str
    base_ref: str

    @property
    def paths(self) -> RunPaths:
        """The run folder's layout."""
        return RunPaths(self.run_dir)

    @property
    def name(self) -> str:
        """The run's display name."""
        return str(self.info.get("name") or self.run_dir.name)

    @property
    def tokenizer_dir(self) -> Path:
        """The folder whose tokenizer trained: the adapter's copy, else the base model's."""
        if any((self.weights_dir / name).is_file() for name in TOKENIZER_FILES[:2]):
            return self.weights_dir
        return self.base_path()

    def base_path(self) -> Path:
        """The base model's folder on this computer (the hub cache for a hub id).

        Raises:
            ExportError: (``base_model``) it is not on this computer.
        """
        from ftstudio.engine.base_model import download_base_model, resolve_base_model

        try:
            location = resolve_base_model(self.base_model, self.project)
            if not Path(location).is_dir():
                location = str(download_base_model(location))
        except (FileNotFoundError, ConnectionError) as error:
            raise ExportError(
                "base_model", f"The run's base model is not available: {error}"
            ) from None
        return Path(location)


def open_run(run_dir: Path, checkpoint: int = 0) -> RunSource:
    """Read a run folder for export.

    Args:
        run_dir: the run folder (with ``run.json`` and ``config.yaml``).
        checkpoint: export ``checkpoint-<step>`` instead of the final adapter (0).

    Raises:
        ExportError: ``not_a_run`` (no run, or it has not finished), ``no_adapter``
            (no final adapter or model), ``bad_checkpoint``.
    """
    run_dir = Path(run_dir).expanduser().resolve()
    try:
        info = read_run_file(run_dir)
    except RunStoreError as error:
        raise ExportError(
            "not_a_run", f"{error} Give a run folder, e.g. <project>/runs/20261130-142301-ab12."
        ) from None
    paths = RunPaths(run_dir)
    try:
        config = load_config(paths.config)
    except (OSError, ValueError) as error:
        raise ExportError(
            "not_a_run", f"The run's configuration {paths.config} cannot be read: {error}"
        ) from None
    project = Path(str(info.get("project") or run_dir.parent.parent))
    is_full = config.method == "full"
    if checkpoint:
        weights = checkpoint_dir(run_dir, checkpoint)
        try:
            read_checkpoint(weights, verify=True)
        except CheckpointError as error:
            steps = ", ".join(str(c.step) for c in list_checkpoints(run_dir)) or "none"
            raise ExportError(
                "bad_checkpoint", f"{error} The run's complete checkpoints: {steps}."
            ) from None
    else:
        weights = paths.model_dir if is_full else paths.adapter_dir
        status = info.get("status")
        if not weights.is_dir():
            raise ExportError(
                "no_adapter" if status == "finished" else "not_a_run",
                f"{run_dir} has no final {'model' if is_full else 'adapter'} folder "
                f"({weights.name}/): the run is {status or 'unfinished'}. Export one of its "
                "checkpoints (--checkpoint STEP) or let the run finish.",
            )
    if not is_full and not (weights / ADAPTER_FILES[0]).is_file():
        raise ExportError(
            "no_adapter", f"{weights} holds no LoRA adapter (adapter_config.json is missing)."
        )
    if not is_full and not (weights / ADAPTER_FILES[1]).is_file():
        raise ExportError(
            "no_adapter",
            f"{weights} holds no adapter_model.safetensors; ftstudio exports safetensors "
            "adapters only.",
        )
    ref = classify_base_model(config.base_model, project)
    base_ref = ref.location
    if ref.kind == "tiny":
        from ftstudio.engine.base_model import tiny_model_dir

        base_ref = str(tiny_model_dir())
    elif ref.kind == "local":
        base_ref = str(Path(ref.location).resolve())
    return RunSource(
        run_dir=run_dir,
        info=info,
        config=config,
        project=project,
        weights_dir=weights,
        step=checkpoint,
        is_full=is_full,
        base_model=config.base_model,
        base_ref=base_ref,
    )
