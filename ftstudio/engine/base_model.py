"""Turn a project's ``base_model`` value into something ``from_pretrained`` can load.

- :func:`resolve_base_model`: the tiny model (built on first use), a local folder or a
  hub id.
- :func:`download_base_model`: a hub id's files, from the model cache or the hub, as
  the settings say (the cache folder, offline mode; read at each call).
- :func:`needs_remote_code` / :func:`check_remote_code`: whether a model folder can only
  load by running its own Python code (``trust_remote_code``), which ftstudio does
  only when the user allowed it for this load.

Nothing heavy is imported at module level (the studio's window may ask these questions).
"""

from __future__ import annotations

from pathlib import Path

from ftstudio.core import paths
from ftstudio.core.project import classify_base_model
from ftstudio.core.remote_code import CustomCode, custom_code
from ftstudio.core.settings import OFFLINE_SETTING, hub_offline, model_cache_dir

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
        from ftstudio.engine.tiny_model import ensure_tiny_model  # imports torch

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
CODE_FILES = ("*.py",)
"""Also fetched when the user allowed the model's own code (``trust_remote_code``)."""


class RemoteCodeError(ValueError):
    """A model needs its own code to load and running it was not allowed (plain message)."""


def download_base_model(
    hub_id: str, cache_dir: Path | None = None, *, trust_remote_code: bool = False
) -> Path:
    """Fetch ``hub_id`` from the Hugging Face hub (or the model cache) and return the folder.

    Only called when a hub id is loaded. The cache is ``cache_dir``, else the settings'
    model cache folder (``HF_HUB_CACHE``, see :func:`ftstudio.core.settings.apply_environment`),
    read now. In offline mode (:func:`ftstudio.core.settings.hub_offline`) only the cache
    is used; a model not in it raises :class:`ConnectionError` naming the setting. Without
    a connection likewise. Repositories that only publish pickled weights are refused.
    The model's Python files are fetched only with ``trust_remote_code``.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    from ftstudio.core.secrets import find_secret, redact

    cache = Path(cache_dir) if cache_dir is not None else model_cache_dir()
    offline = hub_offline()
    patterns = [*HUB_FILES, *(CODE_FILES if trust_remote_code else ())]
    # From the OS keyring; None: anonymous (or HF_TOKEN). Offline, the keyring is not touched.
    token = None if offline else find_secret("huggingface")
    try:
        folder = Path(
            snapshot_download(
                hub_id,
                allow_patterns=patterns,
                cache_dir=cache,
                token=token,
                local_files_only=offline,
            )
        )
    except LocalEntryNotFoundError as error:
        if offline:
            raise ConnectionError(
                f"{hub_id} is not downloaded yet and the hub cannot be reached: offline mode "
                f"is on ({OFFLINE_SETTING}, or HF_HUB_OFFLINE=1), and the model is not in the "
                f"model cache ({cache}). Turn offline mode off to download it, or set "
                "base_model to a model folder on this computer."
            ) from error
        raise ConnectionError(
            f"{hub_id} is not downloaded yet and the hub cannot be reached (no connection). "
            "Connect and start again, or download the model on another machine and set "
            "base_model to its folder."
        ) from error
    except HfHubHTTPError as error:
        raise ConnectionError(
            f"The hub refused {hub_id}: {redact(str(error))}. Check the id, and for gated "
            "models accept the licence on the model's page and store your Hugging Face token "
            "in Settings ▸ Accounts (or ftstudio secrets set huggingface)."
        ) from error
    if not any(folder.glob("*.safetensors")):
        raise ConnectionError(
            f"{hub_id} publishes no safetensors weights; ftstudio does not load pickled "
            "weights. Choose another repository or convert the weights first."
        )
    return folder


# ---------------------------------------------------------------------------- Custom code


def needs_remote_code(model_path: Path | str) -> bool:
    """Whether the model folder can only load by running its own Python code.

    True when its ``config.json`` or ``tokenizer_config.json`` maps classes to its own
    code (``auto_map``) and transformers has no implementation of its own for them (an
    unknown ``model_type``, or a tokenizer class it does not have). A folder that ships
    code for an architecture transformers knows loads without it.
    """
    return _needed(custom_code(model_path), Path(model_path))


def check_remote_code(
    model_path: Path | str, trust_remote_code: bool, *, name: str | None = None
) -> CustomCode | None:
    """Refuse a model that needs its own code unless ``trust_remote_code`` allows it.

    Returns the code the folder declares (``None``: none), so callers can say what runs.

    Raises:
        RemoteCodeError: the model needs its code and ``trust_remote_code`` is false; the
            message names the model, the code and how to allow it.
    """
    code = custom_code(model_path)
    if trust_remote_code or code is None or not _needed(code, Path(model_path)):
        return code
    label = name or str(model_path)
    kind = f"model_type {code.model_type!r}" if code.model_type else "this model"
    raise RemoteCodeError(
        f"{label} needs its own Python code to load: {code.describe()}, and transformers "
        f"has no built-in implementation of {kind}. ftstudio runs a model's code only when "
        'you allow it, because it runs with your permissions: in the studio, choose "Run '
        'its code" when asked (Settings ▸ Privacy ▸ Custom model code: ask); on the command '
        "line, add --trust-remote-code. Only allow it for repositories you trust."
    )


def _needed(code: CustomCode | None, folder: Path) -> bool:
    if code is None:
        return False
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    known_type = code.model_type in CONFIG_MAPPING_NAMES
    model_code = any(not item.startswith("AutoTokenizer") for item in code.classes)
    if model_code and not known_type:
        return True
    if not any(item.startswith("AutoTokenizer") for item in code.classes):
        return False
    from transformers.models.auto.tokenization_auto import (
        TOKENIZER_MAPPING_NAMES,
        tokenizer_class_from_name,
    )

    from ftstudio.core.remote_code import read_config

    tokenizer_class = read_config(folder / "tokenizer_config.json").get("tokenizer_class")
    if isinstance(tokenizer_class, str) and tokenizer_class:
        return tokenizer_class_from_name(tokenizer_class) is None
    return code.model_type not in TOKENIZER_MAPPING_NAMES
