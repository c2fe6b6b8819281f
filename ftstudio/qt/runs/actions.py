"""What the Runs page does to runs: copy a run's configuration to re-run it, move a run
to the trash. No widgets here: the page asks and reports; these do the work.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QFile, QStandardPaths

from ftstudio.core.fields import ConfigError
from ftstudio.core.runs import DB_NAME, RUNS_FOLDER, RunStore, RunStoreError
from ftstudio.core.runs_compare import RunSummary
from ftstudio.core.train_config import command_path, config_to_yaml, load_config, save_config

CONFIGS_FOLDER = "configs"
"""Where the project's training plans live (the Train page lists ``configs/*.yaml``)."""


class RunActionError(Exception):
    """A run action could not be done; the message says why and what to do."""


def rerun_config_path(run: RunSummary, project_folder: Path) -> Path:
    """Where :func:`save_rerun_config` writes: ``configs/rerun-<run id>.yaml``."""
    return Path(project_folder) / CONFIGS_FOLDER / f"rerun-{run.id}.yaml"


def save_rerun_config(run: RunSummary, project_folder: Path) -> Path:
    """Copy the run's ``config.yaml`` into the project's ``configs/`` as a new plan.

    The copy is ``configs/rerun-<run id>.yaml`` (``-2``, ``-3``… when that name holds
    another file already: a copy the user may have edited is never overwritten). A
    configuration that names an output folder gets an empty one instead, so the new
    run gets a folder of its own rather than writing into the old run's. A file that
    no longer validates is copied as it is: the Train page shows its problems.

    Raises:
        RunActionError: the run has no ``config.yaml``, or the copy cannot be written.
    """
    source = Path(run.path) / "config.yaml"
    if not source.is_file():
        raise RunActionError(
            f"{run.name} cannot be re-run: its folder {run.path} has no config.yaml."
        )
    target = rerun_config_path(run, project_folder)
    try:
        config = load_config(source)
    except ConfigError:
        config = None
    try:
        if config is not None:
            config = dataclasses.replace(config, output_dir="")
            final = config
            target = _free_name(target, lambda path: config_to_yaml(final, name=command_path(path)))
            save_config(config, target)
        else:
            text = source.read_text(encoding="utf-8")
            target = _free_name(target, lambda _path: text)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    except OSError as error:
        raise RunActionError(
            f"Could not write {target}: {error.strerror or error}. Check that the project "
            "folder is writable."
        ) from None
    return target


def _free_name(target: Path, render: Callable[[Path], str]) -> Path:
    """``target``, or the first ``<stem>-N.yaml`` that is free or already holds what
    ``render(candidate)`` would write there."""
    candidate, number = target, 1
    while candidate.exists():
        try:
            if candidate.read_text(encoding="utf-8") == render(candidate):
                return candidate
        except (OSError, UnicodeDecodeError):
            pass
        number += 1
        candidate = target.with_name(f"{target.stem}-{number}{target.suffix}")
    return candidate


def move_run_to_trash(run: RunSummary, project_folder: Path) -> Path | None:
    """Move the run's folder to the system trash and remove its database row.

    Returns where the folder went in the trash (``None`` when the folder was
    already gone: only the row is removed). Never deletes anything for good.

    Raises:
        RunActionError: the run is training, the system has no trash for this
            folder (nothing is deleted), or the database cannot be changed.
    """
    if run.is_running:
        raise RunActionError(
            f"{run.name} is {run.status}: stop it on the Train page before deleting it. "
            "(If no training is going on, the program that ran it ended without saying so; "
            "resume it from the Train page, or remove its folder yourself.)"
        )
    folder = Path(run.path)
    trashed: Path | None = None
    if folder.exists():
        handle = QFile(str(folder))
        if not handle.moveToTrash() and not _retry_with_home_trash(handle):
            raise RunActionError(
                f"Could not move {folder} to the trash: this system offers no trash for that "
                "folder (some network drives and minimal desktops have none). Nothing was "
                "deleted; remove the folder yourself if you want it gone."
            )
        trashed = Path(handle.fileName())
    db = Path(project_folder) / RUNS_FOLDER / DB_NAME
    if db.is_file():
        try:
            RunStore(db).delete(run.id)
        except RunStoreError as error:
            raise RunActionError(
                f"{run.name}'s folder is in the trash, but its row stays in the run database: "
                f"{error}"
            ) from None
    return trashed


def _retry_with_home_trash(handle: QFile) -> bool:
    """Qt's freedesktop trash (Linux) needs ``$XDG_DATA_HOME`` (``~/.local/share``) to
    exist already; a fresh account may lack it. Create it and try once more."""
    data = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
    if not data or Path(data).is_dir():
        return False
    try:
        Path(data).mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return handle.moveToTrash()
