"""A project is a folder: ``project.json`` plus ``datasets/``, ``runs/`` and ``exports/``.

The manifest is read with every problem named by file, line and key; keys this
version does not know are kept and written back, so a project edited by a newer
ftstudio loses nothing here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PureWindowsPath
from typing import Any

from ftstudio.core.atomic import atomic_write_json

MANIFEST = "project.json"
FORMAT_KEY = "ftstudio_project"
FORMAT_VERSION = 1
SUBFOLDERS = ("datasets", "runs", "exports")
DATASET_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet", ".arrow")
TINY_MODEL = "ftstudio:tiny"
"""``base_model`` value naming the small Llama that ftstudio builds locally (offline)."""

_NAME_BAD = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


class ProjectError(Exception):
    """A project could not be created, opened or saved; the message says why and what to do."""


@dataclass
class Project:
    """An open project folder and its manifest."""

    folder: Path
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    # ---- Manifest values
    @property
    def manifest_path(self) -> Path:
        """``<folder>/project.json``."""
        return self.folder / MANIFEST

    @property
    def name(self) -> str:
        """The display name."""
        return str(self.manifest["name"])

    @property
    def description(self) -> str:
        """A free-text description, possibly empty."""
        return str(self.manifest.get("description", ""))

    @property
    def base_model(self) -> str:
        """Local folder, hub id, or :data:`TINY_MODEL`."""
        return str(self.manifest.get("base_model", TINY_MODEL))

    @property
    def datasets(self) -> dict[str, str]:
        """Dataset roles (``train``, ``preferences``…) to paths relative to the folder."""
        return dict(self.manifest.get("datasets", {}))

    def dataset_path(self, role: str) -> Path | None:
        """Absolute path of the dataset with ``role``, or ``None`` if the project has none."""
        relative = self.datasets.get(role)
        return self.folder / relative if relative else None

    # ---- Folder contents
    def dataset_files(self) -> list[Path]:
        """Every dataset-like file under ``datasets/``, sorted by name."""
        folder = self.folder / "datasets"
        if not folder.is_dir():
            return []
        return sorted(
            path
            for path in folder.rglob("*")
            if path.is_file() and path.suffix.lower() in DATASET_SUFFIXES
        )

    def run_dirs(self) -> list[Path]:
        """Every run folder under ``runs/``, newest name last."""
        folder = self.folder / "runs"
        if not folder.is_dir():
            return []
        return sorted(path for path in folder.iterdir() if path.is_dir())

    def export_dirs(self) -> list[Path]:
        """Every export under ``exports/``."""
        folder = self.folder / "exports"
        if not folder.is_dir():
            return []
        return sorted(path for path in folder.iterdir() if not path.name.startswith("."))

    # ---- Persistence
    def save(self) -> None:
        """Write the manifest atomically (unknown keys included)."""
        atomic_write_json(self.manifest_path, self.manifest)

    def set(self, key: str, value: Any) -> None:
        """Change one manifest value and save."""
        self.manifest[key] = value
        self.save()


def create_project(
    folder: Path, name: str, *, base_model: str = TINY_MODEL, description: str = ""
) -> Project:
    """Create a new, empty project in ``folder`` (which must not hold a project already)."""
    name = name.strip()
    if not name:
        raise ProjectError("A project needs a name.")
    if _NAME_BAD.search(name):
        raise ProjectError(
            f"The name {name!r} contains characters that cannot be used in a folder name "
            '(< > : " / \\ | ? *). Choose another name.'
        )
    folder = Path(folder).expanduser()
    if (folder / MANIFEST).exists():
        raise ProjectError(f"{folder} already holds a project. Open it instead, or pick a folder.")
    if folder.exists() and not folder.is_dir():
        raise ProjectError(f"{folder} is a file, not a folder. Choose another name or location.")
    if folder.exists() and any(folder.iterdir()):
        raise ProjectError(
            f"{folder} is not empty. Choose an empty or new folder so no file of yours is mixed "
            "into the project."
        )
    try:
        for sub in SUBFOLDERS:
            (folder / sub).mkdir(parents=True, exist_ok=True)
        project = Project(
            folder=folder.resolve(),
            manifest={
                FORMAT_KEY: FORMAT_VERSION,
                "name": name,
                "description": description,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "base_model": base_model,
                "datasets": {},
            },
        )
        project.save()
    except OSError as error:
        raise ProjectError(
            f"Could not create the project in {folder}: {error.strerror}."
        ) from error
    return project


def open_project(location: Path) -> Project:
    """Open the project in ``location`` (its folder, or its ``project.json``).

    Raises :class:`ProjectError` naming the file, line and key of every problem.
    Missing sub-folders and dataset files are reported in :attr:`Project.warnings`.
    """
    location = Path(location).expanduser()
    folder = location.parent if location.name == MANIFEST else location
    manifest_path = folder / MANIFEST
    if not folder.is_dir():
        raise ProjectError(f"{folder} does not exist or is not a folder.")
    try:
        raw = manifest_path.read_bytes()
    except FileNotFoundError as error:
        raise ProjectError(
            f"{folder} is not an ftstudio project: it has no {MANIFEST}. "
            "Use Project ▸ New to make one."
        ) from error
    except OSError as error:
        raise ProjectError(f"{manifest_path} could not be read: {error.strerror}.") from error
    manifest = parse_manifest(raw, manifest_path)
    project = Project(folder=folder.resolve(), manifest=manifest)
    for sub in SUBFOLDERS:
        if not (folder / sub).is_dir():
            project.warnings.append(f"The {sub}/ folder is missing; it will be made when needed.")
    for role, relative in project.datasets.items():
        if not (folder / relative).is_file():
            project.warnings.append(
                f"{MANIFEST}: datasets.{role} names {relative}, which does not exist."
            )
    return project


def parse_manifest(raw: bytes, path: Path) -> dict[str, Any]:
    """Decode and check a manifest; every problem is listed in one :class:`ProjectError`."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ProjectError(
            f"{path}, line {line}: the file is not valid UTF-8 text. Re-save it as UTF-8."
        ) from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProjectError(
            f"{path}, line {error.lineno}, column {error.colno}: not valid JSON ({error.msg}). "
            "Fix the file in a text editor, or create a new project and move your datasets."
        ) from error
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: the manifest must be a JSON object ({{...}}).")
    problems = _manifest_problems(data)
    if problems:
        listed = "\n".join(f"  - {_line_of(text, key)}{key}: {msg}" for key, msg in problems)
        raise ProjectError(f"{path} has {len(problems)} problem(s):\n{listed}")
    return data


def _manifest_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    version = data.get(FORMAT_KEY)
    if version is None:
        problems.append((FORMAT_KEY, f'missing; an ftstudio manifest has "{FORMAT_KEY}": 1'))
    elif not isinstance(version, int) or isinstance(version, bool):
        problems.append((FORMAT_KEY, "must be a whole number"))
    elif version > FORMAT_VERSION:
        problems.append(
            (FORMAT_KEY, f"version {version} was written by a newer ftstudio; please update")
        )
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(("name", "must be non-empty text"))
    for key in ("description", "base_model", "created"):
        if key in data and not isinstance(data[key], str):
            problems.append((key, "must be text"))
    datasets = data.get("datasets", {})
    if not isinstance(datasets, dict):
        problems.append(("datasets", "must be an object mapping a role to a file path"))
    else:
        for role, relative in datasets.items():
            key = f"datasets.{role}"
            if not isinstance(relative, str) or not relative:
                problems.append((key, "must be a file path relative to the project folder"))
            elif _escapes_folder(relative):
                problems.append((key, f"{relative!r} must stay inside the project folder"))
    return problems


def _escapes_folder(relative: str) -> bool:
    """True for an absolute path or one with ``..``, whether spelled with / or a backslash."""
    path = PureWindowsPath(relative)
    return bool(path.anchor) or ".." in path.parts


def _line_of(text: str, key: str) -> str:
    """'line N: ' for the first line that mentions the top-level part of ``key``."""
    needle = f'"{key.split(".")[0]}"'
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return f"line {number}, "
    return ""


@dataclass(frozen=True)
class BaseModelRef:
    """What a ``base_model`` value names.

    Attributes:
        kind: ``"tiny"`` (built locally), ``"local"`` (a folder) or ``"hub"`` (a hub id).
        location: the folder for ``local``, the id for ``hub``, :data:`TINY_MODEL` for ``tiny``.
        exists: for ``local``: whether the folder is there.
    """

    kind: str
    location: str
    exists: bool = True


def classify_base_model(value: str, project_folder: Path | None = None) -> BaseModelRef:
    """Tell a tiny-model, local-folder or hub-id ``base_model`` value apart.

    A value that looks like a path (absolute, ``~``, ``./`` or an existing folder,
    relative paths taken from the project folder) is local; ``org/name`` is a hub id.
    """
    if value == TINY_MODEL:
        return BaseModelRef("tiny", TINY_MODEL)
    path = Path(value).expanduser()
    if not path.is_absolute() and project_folder is not None:
        path = project_folder / path
    looks_like_path = value.startswith(("/", "~", ".", "\\")) or bool(PureWindowsPath(value).drive)
    if path.is_dir() or looks_like_path:
        return BaseModelRef("local", str(path), exists=path.is_dir())
    return BaseModelRef("hub", value)


def describe_base_model(value: str, project_folder: Path | None = None) -> str:
    """Plain words for a ``base_model`` value: the tiny model, a local folder, or a hub id."""
    ref = classify_base_model(value, project_folder)
    if ref.kind == "tiny":
        return (
            "ftstudio tiny model: a small Llama built on this computer, for trying the whole "
            "flow offline in minutes (its answers are not meant to be good)."
        )
    if ref.kind == "local":
        if not ref.exists:
            return f"Local model folder {ref.location}, which does not exist (yet)."
        return f"Local model folder {ref.location}."
    return f"Hub model {value!r}: downloaded when training starts (not needed for planning)."
