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


HUB_FILES = (
    "*.json",
    "*.safetensors",
    "*.jinja",
    "tokenizer*",
    "*.model",
    "*.tiktoken",
    "*.txt",
)
"""What is fetched from the hub: configs, safetensors weights and tokenizer files.
Pickled weights (``*.bin``, ``*.pt``) are never downloaded."""


def download_base_model(hub_id: str, cache_dir: Path | None = None) -> Path:
    """Fetch ``hub_id`` from the Hugging Face hub (or its local cache) and return the folder.

    Only called when training starts with a hub id. Offline (``HF_HUB_OFFLINE``) or
    without a connection, a model already in the cache is used; otherwise
    :class:`ConnectionError` explains what to do. Repositories that only publish
    pickled weights are refused.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    from ftstudio.core.secrets import find_secret, redact

    token = find_secret("huggingface")  # from the OS keyring; None: anonymous (or HF_TOKEN)
    try:
        folder = Path(
            snapshot_download(
                hub_id, allow_patterns=list(HUB_FILES), cache_dir=cache_dir, token=token
            )
        )
    except LocalEntryNotFoundError as error:
        raise ConnectionError(
            f"{hub_id} is not downloaded yet and the hub cannot be reached (offline mode or "
            "no connection). Connect and start again, or download the model on another "
            "machine and set base_model to its folder."
        ) from error
    except HfHubHTTPError as error:
        raise ConnectionError(
            f"The hub refused {hub_id}: {redact(str(error))}. Check the id, and for gated "
            "models accept the licence on the model's page and store your Hugging Face token "
            "in Settings (ftstudio secrets set huggingface)."
        ) from error
    if not any(folder.glob("*.safetensors")):
        raise ConnectionError(
            f"{hub_id} publishes no safetensors weights; ftstudio does not load pickled "
            "weights. Choose another repository or convert the weights first."
        )
    return folder
