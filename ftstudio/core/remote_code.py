"""Models that ship their own Python code (``trust_remote_code``), found without running it.

A model folder can name Python classes of its own in the ``auto_map`` of its
``config.json`` (the model, its configuration) or ``tokenizer_config.json`` (the
tokenizer). Loading such a model with ``trust_remote_code=True`` imports and runs that
code, with the user's permissions. ftstudio never does so silently: the studio asks
each time (the ``trust_remote_code`` setting, "ask" or "never"), the command line needs
``--trust-remote-code``.

This module only reads the two JSON files, so the studio can ask before a run starts
(it imports no ML library). Whether the model can also load *without* its code (when
the Hugging Face libraries have their own implementation of its ``model_type``) is
decided by ``ftstudio.engine.base_model.needs_remote_code``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_FILES = ("config.json", "tokenizer_config.json")
"""The files whose ``auto_map`` names custom classes."""


@dataclass(frozen=True)
class CustomCode:
    """The custom code a model folder declares.

    Attributes:
        folder: the model folder.
        model_type: ``config.json``'s ``model_type`` (``""`` when it has none).
        classes: ``"AutoModelForCausalLM → modeling_x.XForCausalLM"`` for each class the
            ``auto_map`` entries name.
        files: the Python files in the folder (they are what would run).
    """

    folder: Path
    model_type: str
    classes: tuple[str, ...]
    files: tuple[str, ...] = ()

    def describe(self) -> str:
        """The classes and files in one plain sentence."""
        files = f" (files: {', '.join(self.files)})" if self.files else ""
        return f"its auto_map names {'; '.join(self.classes)}{files}"


def custom_code(folder: Path | str) -> CustomCode | None:
    """The custom code ``folder`` declares in its ``auto_map``, or ``None`` when none.

    Unreadable or missing files count as declaring nothing (loading reports them).
    """
    folder = Path(folder)
    classes: list[str] = []
    model_type = ""
    for name in CONFIG_FILES:
        data = read_config(folder / name)
        if name == "config.json" and isinstance(data.get("model_type"), str):
            model_type = data["model_type"]
        auto_map = data.get("auto_map")
        if not isinstance(auto_map, dict):
            continue
        for key, value in auto_map.items():
            targets = value if isinstance(value, list | tuple) else [value]
            for target in targets:
                if isinstance(target, str) and target:
                    classes.append(f"{key} → {target}")
    if not classes:
        return None
    files = tuple(sorted(path.name for path in folder.glob("*.py") if path.is_file()))
    return CustomCode(folder, model_type, tuple(dict.fromkeys(classes)), files)


def cached_snapshot(hub_id: str, cache_dir: Path) -> Path | None:
    """The newest snapshot folder of ``hub_id`` in the Hugging Face cache ``cache_dir``
    that holds a ``config.json``, or ``None`` (not downloaded yet)."""
    snapshots = Path(cache_dir) / f"models--{hub_id.replace('/', '--')}" / "snapshots"
    if not snapshots.is_dir():
        return None
    found = [path.parent for path in snapshots.glob("*/config.json") if path.is_file()]
    return max(found, key=lambda path: path.stat().st_mtime) if found else None


def read_config(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; empty when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
