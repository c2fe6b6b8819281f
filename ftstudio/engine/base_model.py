"""Turn a project's ``base_model`` value into something ``from_pretrained`` can load."""

from __future__ import annotations

from pathlib import Path

from ftstudio.core import paths
from ftstudio.core.project import classify_base_model
from ftstudio.engine.tiny_model import ensure_tiny_model

TINY_MODEL_FOLDER = "tiny-llama"


def tiny_model_dir() -> Path:
    """Where the tiny model is kept for every project: ``<data dir>/models/tiny-llama``."""
    return paths.data_dir() / "models" / TINY_MODEL_FOLDER


def resolve_base_model(value: str, project_folder: Path | None = None) -> str:
    """The folder (as text) or hub id to pass to ``from_pretrained`` for ``value``.

    The tiny model is built on first use (seconds, offline). A local folder that
    does not exist raises :class:`FileNotFoundError` with the path; a hub id is
    returned as is (downloading is the loader's job, and only when training starts).
    """
    ref = classify_base_model(value, project_folder)
    if ref.kind == "tiny":
        return str(ensure_tiny_model(tiny_model_dir()))
    if ref.kind == "local" and not ref.exists:
        raise FileNotFoundError(
            f"The base model folder {ref.location} does not exist. Choose another folder "
            "or a hub id in the project settings."
        )
    return ref.location
