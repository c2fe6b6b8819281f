"""App preferences and the recent-projects list, stored as JSON in the user config dir.

Preferences (:class:`AppSettings`) are what the Settings dialog edits; the recent
list and first-run state (:class:`AppState`) are bookkeeping. Both files are
written atomically. A file that cannot be read is never overwritten silently: it
is renamed to ``*.unreadable-<time>`` and the problem is reported.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ftstudio.core import paths
from ftstudio.core.atomic import atomic_write_json
from ftstudio.core.fields import ConfigError, from_mapping, option, to_mapping

SETTINGS_FILE = "settings.json"
STATE_FILE = "state.json"


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
        valid = (
            isinstance(recent, list)
            and all(isinstance(item, str) for item in recent)
            and isinstance(last, str)
            and isinstance(installed, bool)
        )
        if not valid:
            self._set_aside(self.state_path, "it does not have the expected keys and types")
            return AppState()
        return AppState(tuple(recent), last, installed)

    def save_state(self, state: AppState) -> None:
        """Write the recent list and first-run state atomically."""
        atomic_write_json(
            self.state_path,
            {
                "recent_projects": list(state.recent_projects),
                "last_project": state.last_project,
                "sample_installed": state.sample_installed,
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
