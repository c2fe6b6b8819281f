"""App preferences and the recent-projects list, stored as JSON in the user config dir.

Preferences (:class:`AppSettings`) are what the Settings dialog edits; the recent
list and first-run state (:class:`AppState`) are bookkeeping. Both files are
written atomically. A file that cannot be read is never overwritten silently: it
is renamed to ``*.unreadable-<time>`` and the problem is reported.

Some preferences act on the Hugging Face libraries (the model cache folder, offline
mode): :func:`apply_environment` sets their environment variables, in the studio and on
the command line alike. Tokens are never preferences: they live in the OS keyring
(:mod:`ftstudio.core.secrets`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ftstudio.core import paths
from ftstudio.core.atomic import atomic_write_json
from ftstudio.core.fields import ConfigError, from_mapping, option, to_mapping

SETTINGS_FILE = "settings.json"
THEMES = ("system", "light", "dark")
"""The theme choices: follow the desktop, or always light, or always dark."""
STATE_FILE = "state.json"
REMOTE_CODE_POLICIES = ("ask", "never")
"""What to do when a model needs its own code: ask each time, or refuse (never run it)."""


@dataclass(frozen=True)
class AppSettings:
    """User preferences, edited in Project ▸ Settings."""

    projects_dir: str = option(
        "",
        label="Projects folder",
        help="Where new projects are created by default. Empty means Documents/ftstudio.",
        widget="folder",
        placeholder="Documents/ftstudio (default)",
    )
    reopen_last_project: bool = option(
        True,
        label="Reopen the last project on start",
        help="When off, ftstudio starts on the sample project instead.",
    )
    max_recent: int = option(
        10,
        label="Recent projects to remember",
        help="How many projects the Project ▸ Open Recent menu lists.",
        minimum=1,
        maximum=30,
    )
    theme: str = option(
        "system",
        label="Theme",
        help="Light or dark colours; 'system' follows the desktop's setting, also when it "
        "changes. Also in View ▸ Theme.",
        choices=THEMES,
    )
    gpu_memory_gb: float = option(
        0.0,
        label="GPU memory budget",
        help="The GPU memory the training-plan wizard plans for. 0 uses the GPU found on "
        "this computer (24 GB when none is found); another value plans for that much, e.g. "
        "for the GPU of the machine you will train on.",
        minimum=0.0,
        maximum=1024.0,
    )
    model_cache_dir: str = option(
        "",
        label="Model cache folder",
        help="Where models downloaded from the Hugging Face hub are kept. Empty: Hugging "
        "Face's shared cache (HF_HUB_CACHE, else ~/.cache/huggingface/hub), so models other "
        "tools downloaded are reused. Models already downloaded are not moved.",
        widget="folder",
        placeholder="Hugging Face's shared cache (default)",
    )
    offline: bool = option(
        False,
        label="Offline mode: no network at all",
        help="Nothing is downloaded from the Hugging Face hub (models must be on this "
        "computer or in the model cache) and nothing is uploaded to OpenAI.",
    )
    trust_remote_code: str = option(
        "ask",
        label="Custom model code",
        help="Some models ship their own Python code (trust_remote_code). ftstudio never "
        "runs it silently: 'ask' asks each time such a model is loaded, 'never' refuses "
        "these models. On the command line, --trust-remote-code allows it for one command.",
        choices=REMOTE_CODE_POLICIES,
    )

    def effective_projects_dir(self) -> Path:
        """The folder new projects go to, with the default filled in."""
        return (
            Path(self.projects_dir).expanduser()
            if self.projects_dir
            else (paths.default_projects_dir())
        )


@dataclass(frozen=True)
class AppState:
    """Bookkeeping that is not a preference: recent projects and first-run state."""

    recent_projects: tuple[str, ...] = ()
    last_project: str = ""
    sample_installed: bool = False
    tour_shown: bool = False
    """Whether the first-run tour was offered (it starts once, on the sample project)."""

    def with_recent(self, project_dir: Path, limit: int) -> AppState:
        """Put ``project_dir`` first in the recent list (once), keeping ``limit`` entries."""
        entry = str(Path(project_dir).resolve())
        rest = [item for item in self.recent_projects if item != entry]
        return replace(self, recent_projects=tuple([entry, *rest][:limit]), last_project=entry)

    def without_recent(self, project_dir: str | Path) -> AppState:
        """Drop ``project_dir`` from the recent list (e.g. after it was deleted)."""
        entry = str(Path(project_dir).resolve())
        remaining = tuple(item for item in self.recent_projects if item != entry)
        last = "" if self.last_project == entry else self.last_project
        return replace(self, recent_projects=remaining, last_project=last)


@dataclass
class SettingsStore:
    """Reads and writes :class:`AppSettings` and :class:`AppState` in one folder."""

    directory: Path = field(default_factory=paths.config_dir)
    problems: list[str] = field(default_factory=list)
    _unknown: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def settings_path(self) -> Path:
        """The preferences file."""
        return self.directory / SETTINGS_FILE

    @property
    def state_path(self) -> Path:
        """The recent-projects and first-run file."""
        return self.directory / STATE_FILE

    def load_settings(self) -> AppSettings:
        """Read the preferences; defaults when there is no file yet.

        Keys written by a newer ftstudio are kept and written back. An unreadable
        file is moved aside and described in :attr:`problems`.
        """
        data = self._read(self.settings_path)
        if data is None:
            return AppSettings()
        try:
            settings, self._unknown = from_mapping(
                AppSettings, data, source=str(self.settings_path), keep_unknown=True
            )
        except ConfigError as error:
            self._set_aside(self.settings_path, str(error))
            return AppSettings()
        return settings

    def save_settings(self, settings: AppSettings) -> None:
        """Write the preferences atomically, keeping unknown keys from the file."""
        atomic_write_json(self.settings_path, {**self._unknown, **to_mapping(settings)})

    def load_state(self) -> AppState:
        """Read the recent list and first-run state; empty when there is none."""
        data = self._read(self.state_path)
        if data is None:
            return AppState()
        recent = data.get("recent_projects", [])
        last = data.get("last_project", "")
        installed = data.get("sample_installed", False)
        toured = data.get("tour_shown", False)
        valid = (
            isinstance(recent, list)
            and all(isinstance(item, str) for item in recent)
            and isinstance(last, str)
            and isinstance(installed, bool)
            and isinstance(toured, bool)
        )
        if not valid:
            self._set_aside(self.state_path, "it does not have the expected keys and types")
            return AppState()
        return AppState(tuple(recent), last, installed, toured)

    def save_state(self, state: AppState) -> None:
        """Write the recent list and first-run state atomically."""
        atomic_write_json(
            self.state_path,
            {
                "recent_projects": list(state.recent_projects),
                "last_project": state.last_project,
                "sample_installed": state.sample_installed,
                "tour_shown": state.tour_shown,
            },
        )

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            self._set_aside(path, f"it could not be read ({error})")
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            self._set_aside(path, f"line {error.lineno}: {error.msg}")
            return None
        if not isinstance(data, dict):
            self._set_aside(path, "it is not a JSON object")
            return None
        return data

    def _set_aside(self, path: Path, reason: str) -> None:
        stem = f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}"
        backup, number = path.with_name(stem), 2
        while backup.exists():  # never overwrite an earlier backup from the same second
            backup, number = path.with_name(f"{stem}-{number}"), number + 1
        try:
            path.replace(backup)
        except OSError:
            backup = path
        self.problems.append(
            f"{path} could not be used: {reason}. Defaults are in effect; "
            f"the old file was kept as {backup.name}."
        )


# ---------------------------------------------------------------------------- Environment

CACHE_VARIABLE = "HF_HUB_CACHE"
"""Where the Hugging Face libraries keep downloaded models."""
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
"""The Hugging Face libraries' switches that forbid network access."""
OFFLINE_SETTING = "Settings ▸ Privacy ▸ Offline mode"
"""Where the offline switch is, in words (for messages that refuse a download or upload)."""
_TRUE = ("1", "true", "yes", "on")
_before_us: dict[str, str | None] = {}
"""Each variable :func:`apply_environment` set, with its value before (``None``: unset)."""


def apply_environment(settings: AppSettings) -> dict[str, str | None]:
    """Make the Hugging Face libraries follow ``settings``: the model cache and offline mode.

    Sets ``HF_HUB_CACHE`` to :attr:`AppSettings.model_cache_dir` when one is chosen, and
    ``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE`` and ``HF_DATASETS_OFFLINE`` to ``1`` in
    offline mode. A variable set here earlier and no longer wanted gets back the value
    it had before (so values set outside ftstudio are kept); the defaults change nothing.

    Call it before the Hugging Face libraries are imported: ``huggingface_hub`` reads
    these variables once, at import. (ftstudio's own downloads read them again each
    time, so a change made later in Settings applies to the next download.) The studio
    and the command line both call it with the settings file's values.

    Returns:
        The variables this call changed: name → new value (``None``: removed).
    """
    wanted: dict[str, str] = {}
    folder = settings.model_cache_dir.strip()
    if folder:
        wanted[CACHE_VARIABLE] = str(Path(folder).expanduser())
    if settings.offline:
        wanted.update(dict.fromkeys(OFFLINE_VARIABLES, "1"))
    changed: dict[str, str | None] = {}
    for name in [name for name in _before_us if name not in wanted]:
        before = _before_us.pop(name)
        if os.environ.get(name) != before:
            changed[name] = before
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
    for name, value in wanted.items():
        if name not in _before_us:
            _before_us[name] = os.environ.get(name)
        if os.environ.get(name) != value:
            changed[name] = value
        os.environ[name] = value
    return changed


def read_settings(directory: Path | None = None) -> AppSettings:
    """The saved preferences, for the command line: the defaults when there is no file
    or it has problems. Nothing is moved or written (the studio reports such a file)."""
    path = (directory if directory is not None else paths.config_dir()) / SETTINGS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError):
        return AppSettings()
    if not isinstance(data, dict):
        return AppSettings()
    try:
        settings, _unknown = from_mapping(AppSettings, data, source=str(path), keep_unknown=True)
    except ConfigError:
        return AppSettings()
    return settings


def hub_offline() -> bool:
    """Whether downloads from the Hugging Face hub are off (offline mode or the
    ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` variables), read now."""
    return any(os.environ.get(name, "").strip().lower() in _TRUE for name in OFFLINE_VARIABLES[:2])


def model_cache_dir(settings: AppSettings | None = None) -> Path:
    """The folder hub models are downloaded to, read now.

    ``settings``' :attr:`~AppSettings.model_cache_dir` when it names one; else
    ``HF_HUB_CACHE``, ``HF_HOME/hub``, or Hugging Face's default
    (``$XDG_CACHE_HOME/huggingface/hub``, ``~/.cache/huggingface/hub``).
    """
    if settings is not None and settings.model_cache_dir.strip():
        return Path(settings.model_cache_dir.strip()).expanduser()
    return _hf_cache(os.environ)


def default_model_cache_dir() -> Path:
    """Hugging Face's cache as it is without ftstudio's setting (what an empty
    :attr:`AppSettings.model_cache_dir` means), for showing in the Settings dialog."""
    environ = dict(os.environ)
    if CACHE_VARIABLE in _before_us:
        before = _before_us[CACHE_VARIABLE]
        environ.pop(CACHE_VARIABLE, None)
        if before is not None:
            environ[CACHE_VARIABLE] = before
    return _hf_cache(environ)


def _hf_cache(environ: Mapping[str, str]) -> Path:
    if environ.get(CACHE_VARIABLE):
        return Path(environ[CACHE_VARIABLE]).expanduser()
    if environ.get("HF_HOME"):
        return Path(environ["HF_HOME"]).expanduser() / "hub"
    cache = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "huggingface" / "hub"
