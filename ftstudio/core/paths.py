"""Where ftstudio keeps things: user config/data dirs and the bundled resources.

The user directories come from platformdirs. Tests and portable installs may
override them with ``FTSTUDIO_CONFIG_DIR`` and ``FTSTUDIO_DATA_DIR``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "ftstudio"
CONFIG_DIR_ENV = "FTSTUDIO_CONFIG_DIR"
DATA_DIR_ENV = "FTSTUDIO_DATA_DIR"


def config_dir() -> Path:
    """The folder for app settings and the recent-projects list."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """The folder for user data: the sample project copy, built models, caches."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_projects_dir() -> Path:
    """Where new projects are proposed by default: ``~/Documents/ftstudio``."""
    return Path(platformdirs.user_documents_dir()) / APP_NAME


def resources_dir() -> Path:
    """The bundled, read-only resources folder.

    In a wheel it is packaged as ``ftstudio/_resources``; in a source checkout
    (editable install) it is the top-level ``resources/`` folder; in a frozen
    application (PyInstaller, ``packaging/pyinstaller/ftstudio.spec``) it is
    ``ftstudio/_resources`` inside the bundle's folder, ``sys._MEIPASS``.
    """
    package = Path(__file__).resolve().parent.parent
    candidates = [package / "_resources", package.parent / "resources"]
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        candidates.insert(0, Path(bundle) / "ftstudio" / "_resources")
    for candidate in candidates:
        if (candidate / "sample_project").is_dir():
            return candidate
    looked = ", ".join(str(candidate) for candidate in candidates)
    raise FileNotFoundError(
        f"ftstudio's resources folder is missing (looked in {looked}); reinstall ftstudio."
    )


def resource(*parts: str) -> Path:
    """Path of one bundled resource, e.g. ``resource("icons", "ftstudio.svg")``."""
    return resources_dir().joinpath(*parts)
