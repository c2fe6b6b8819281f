"""Window state (geometry, splitters, last page) in an INI file beside the app settings."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from ftstudio.core import paths


def ui_state() -> QSettings:
    """The QSettings holding window layout; lives in the ftstudio config dir."""
    return QSettings(str(paths.config_dir() / "window.ini"), QSettings.Format.IniFormat)
