"""Where a model's shape comes from: the offline catalogue, a folder, a file, or the hub cache.

The catalogue ships common base models' ``config.json`` values in
``resources/models/`` so that planning works offline. :func:`resolve_model_spec`
turns anything a user may type (a catalogue name, a model folder, a config.json
path, a hub id) into a :class:`ModelSpec`, never touching the network: a hub id
is answered from the catalogue or from the local Hugging Face download cache.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PureWindowsPath
from typing import Any

from ftstudio.core import paths
from ftstudio.core.models.spec import ModelError, ModelSpec, spec_from_config
from ftstudio.core.project import TINY_MODEL

CATALOGUE_FOLDER = "models"
INDEX_FILE = "index.json"
TINY_ENTRY = "ftstudio-tiny"
"""The catalogue entry standing for :data:`ftstudio.core.project.TINY_MODEL`."""

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt")
"""Any one of these in a model folder means it has a tokenizer."""

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class CatalogueEntry:
    """One model of the offline catalogue.

    Attributes:
        name: the short name to type (``llama-3.1-8b``).
        display_name: the name to show (``Llama 3.1 8B``).
        family: the model family (``Llama 3.1``).
        parameters: the published parameter count.
        hub_ids: the hub repositories it stands for (instruct first, then base).
        config_path: the bundled config.json values.
        note: licence or training hints, possibly empty.
    """

    name: str
    display_name: str
    family: str
    parameters: int
    hub_ids: tuple[str, ...]
    config_path: Path
    note: str = ""

    def spec(self, hub_id: str | None = None) -> ModelSpec:
        """The entry's :class:`ModelSpec` (``hub_id``: the repository asked for, if any)."""
        config = read_config_file(self.config_path)
        return spec_from_config(
            config,
            name=self.display_name,
            source="catalogue",
            location=self.name,
            hub_id=hub_id or (self.hub_ids[0] if self.hub_ids else None),
            where=str(self.config_path),
        )


def catalogue_dir() -> Path:
    """The bundled folder holding the catalogue's index and config files."""
    return paths.resource(CATALOGUE_FOLDER)


def load_catalogue() -> tuple[CatalogueEntry, ...]:
    """Every catalogue entry, in the index's order (read once, then cached)."""
    return _load_catalogue(catalogue_dir())


@lru_cache(maxsize=4)
def _load_catalogue(folder: Path) -> tuple[CatalogueEntry, ...]:
    index = json.loads((folder / INDEX_FILE).read_text(encoding="utf-8"))
    return tuple(
        CatalogueEntry(
            name=item["name"],
            display_name=item["display_name"],
            family=item["family"],
            parameters=int(item["parameters"]),
            hub_ids=tuple(item.get("hub_ids", ())),
            config_path=folder / item["config"],
            note=item.get("note", ""),
        )
        for item in index["models"]
    )


def find_entry(value: str) -> CatalogueEntry | None:
    """The catalogue entry named ``value`` or listing it as a hub id (any letter case)."""
    wanted = value.strip().lower()
    if value.strip() == TINY_MODEL:
        wanted = TINY_ENTRY
    for entry in load_catalogue():
        if wanted == entry.name or wanted in (hub.lower() for hub in entry.hub_ids):
            return entry
    return None


def read_config_file(path: Path) -> dict[str, Any]:
    """The JSON object in a ``config.json``; :class:`ModelError` says what is wrong and where."""
    path = Path(path)
    if not path.is_file():
        hint = " (it is a folder; choose the config.json inside)" if path.is_dir() else ""
        raise ModelError(f"{path} does not exist{hint}. Choose a model folder or its config.json.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ModelError(
            f"{path} is not text (not UTF-8). A model's config.json is JSON text; "
            "download it again."
        ) from None
    except OSError as error:
        raise ModelError(f"{path} cannot be read: {error.strerror or error}.") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelError(
            f"{path}, line {error.lineno}, column {error.colno}: {error.msg}. The file is not "
            "valid JSON (damaged or cut short); download the model's config.json again."
        ) from None
    if not isinstance(config, dict):
        raise ModelError(
            f"{path}, line 1: expected a JSON object {{...}} with the model's settings, "
            f"found {_json_kind(config)}."
        )
    return config


def has_tokenizer(folder: Path) -> bool:
    """Whether ``folder`` holds tokenizer files (see :data:`TOKENIZER_FILES`)."""
    return any((Path(folder) / name).is_file() for name in TOKENIZER_FILES)


def read_local_model(folder: Path, *, require_tokenizer: bool = True) -> ModelSpec:
    """The :class:`ModelSpec` of a downloaded model folder (its config.json, offline).

    With ``require_tokenizer``, a folder without tokenizer files is refused (it
    could not be trained). Raises :class:`ModelError` naming the folder or file.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ModelError(
            f"The model folder {folder} does not exist. Choose the folder that holds the "
            "model's config.json and weights."
        )
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelError(
            f"{folder} has no config.json, so it is not a Hugging Face model folder. Choose "
            "the folder that save_pretrained or a hub download wrote."
        )
    if require_tokenizer and not has_tokenizer(folder):
        raise ModelError(
            f"{folder} has no tokenizer (none of {', '.join(TOKENIZER_FILES)}). Copy the "
            "tokenizer files from the model's hub page into the folder, or choose another model."
        )
    return spec_from_config(
        read_config_file(config_path),
        name=folder.name or str(folder),
        source="local",
        location=str(folder),
        where=str(config_path),
    )


def read_model_config(path: Path) -> ModelSpec:
    """The :class:`ModelSpec` of a lone ``config.json`` file (no weights or tokenizer needed)."""
    path = Path(path).expanduser()
    name = path.parent.name if path.name == "config.json" and path.parent.name else path.stem
    return spec_from_config(
        read_config_file(path), name=name, source="config", location=str(path), where=str(path)
    )


def resolve_model_spec(
    value: str, project_folder: Path | None = None, *, require_tokenizer: bool = True
) -> ModelSpec:
    """The :class:`ModelSpec` for what a user typed, without any network access.

    Tried in order: :data:`TINY_MODEL` and catalogue names; a ``.json`` file path; a
    folder (relative paths from ``project_folder``); a hub id listed in the catalogue;
    a hub id in the local Hugging Face cache. A hub id found in neither raises
    :class:`ModelError` saying it is not available offline and what to do.
    """
    text = value.strip()
    if not text:
        raise ModelError("No model given. Choose a catalogue model, a model folder or a hub id.")
    entry = find_entry(text)
    if entry is not None and not _HUB_ID.match(text):
        return entry.spec()
    path = Path(text).expanduser()
    if not path.is_absolute() and project_folder is not None and not path.exists():
        path = Path(project_folder) / path
    if path.suffix.lower() == ".json" or path.is_file():
        return read_model_config(path)
    if path.is_dir():
        return read_local_model(path, require_tokenizer=require_tokenizer)
    if _looks_like_path(text):
        raise ModelError(f"The model folder {path} does not exist. Choose another folder.")
    if entry is not None:
        return entry.spec(hub_id=text)
    if _HUB_ID.match(text):
        cached = _hub_cache_config(text)
        if cached is not None:
            return spec_from_config(
                read_config_file(cached),
                name=text,
                source="hub-cache",
                location=text,
                hub_id=text,
                where=str(cached),
            )
        raise ModelError(
            f"The hub model {text!r} is not available offline: it is not in ftstudio's "
            "catalogue and not in this computer's Hugging Face download cache. Planning does "
            "not download anything; pick a catalogue model of the same size, or download the "
            "model and choose its folder (or just its config.json)."
        )
    names = ", ".join(entry.name for entry in load_catalogue())
    raise ModelError(
        f"{text!r} is not a catalogue model, a model folder, a config.json or a hub id "
        f"(organisation/name). Catalogue models: {names}."
    )


def hub_cache_dir() -> Path:
    """The Hugging Face download cache: ``HF_HUB_CACHE``, ``HF_HOME/hub`` or the default."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "huggingface" / "hub"


def _hub_cache_config(hub_id: str) -> Path | None:
    """The newest cached ``config.json`` of ``hub_id``, or ``None``."""
    snapshots = hub_cache_dir() / f"models--{hub_id.replace('/', '--')}" / "snapshots"
    if not snapshots.is_dir():
        return None
    found = [path for path in snapshots.glob("*/config.json") if path.is_file()]
    return max(found, key=lambda path: path.stat().st_mtime) if found else None


def _looks_like_path(value: str) -> bool:
    return (
        value.startswith(("/", "~", ".", "\\"))
        or bool(PureWindowsPath(value).drive)
        or value.count("/") > 1
        or "\\" in value
    )


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "null"
    return "a number" if isinstance(value, int | float) else type(value).__name__
