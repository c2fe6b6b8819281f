"""Window state (geometry, splitters, table columns, last page) in an INI file beside the
app settings.

:func:`remember_splitter` and :func:`remember_header` restore a splitter's sizes or a
table header's columns right away and save them whenever the user changes them (a
moment after the last change, and again by :func:`save_remembered` when the window
closes).
"""

from __future__ import annotations

import weakref
from pathlib import Path

import shiboken6
from PySide6.QtCore import QByteArray, QObject, QSettings, QTimer
from PySide6.QtWidgets import QHeaderView, QSplitter, QWidget

from ftstudio.core import paths

SAVE_DELAY_MS = 400
"""Pause after the last move of a splitter or column before it is saved."""

_remembered: weakref.WeakSet[_Memory] = weakref.WeakSet()


def ui_state() -> QSettings:
    """The QSettings holding window layout; lives in the ftstudio config dir."""
    return QSettings(str(state_file()), QSettings.Format.IniFormat)


def state_file() -> Path:
    """The INI file of :func:`ui_state`."""
    return paths.config_dir() / "window.ini"


class _Memory(QObject):
    """Saves one splitter's or header's state under a key, a moment after it changes."""

    def __init__(self, target: QSplitter | QHeaderView, key: str) -> None:
        super().__init__(target)
        self.setObjectName(f"memory:{key}")
        self.target = target
        self.key = key
        self.file = str(state_file())  # the config dir of the window, even if it changes
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(SAVE_DELAY_MS)
        self.timer.timeout.connect(self.save)
        _remembered.add(self)

    def restore(self) -> bool:
        """Apply the saved state; ``False`` when there is none (or it does not fit)."""
        value = self._settings().value(self.key)
        return isinstance(value, QByteArray) and bool(self.target.restoreState(value))

    def save(self) -> None:
        """Write the state now."""
        self.timer.stop()
        state = self._settings()
        state.setValue(self.key, self.target.saveState())
        state.sync()

    def _settings(self) -> QSettings:
        return QSettings(self.file, QSettings.Format.IniFormat)

    def schedule(self, *_args: object) -> None:
        """Save in a moment (moves come many per second while dragging)."""
        self.timer.start()


def _remember(target: QSplitter | QHeaderView, key: str) -> _Memory:
    if not key or "/" not in key:
        raise ValueError(f"Use a key like 'page/name' for the saved layout, not {key!r}.")
    if not target.objectName():
        target.setObjectName(key.replace("/", "-"))
    return _Memory(target, key)


def remember_splitter(splitter: QSplitter, key: str) -> bool:
    """Restore ``splitter``'s sizes saved under ``key`` (``"page/name"``) and save them
    whenever the user moves it. Call it once the splitter holds its widgets.

    Returns whether saved sizes were restored (else set the default sizes yourself).
    """
    memory = _remember(splitter, key)
    restored = memory.restore()
    splitter.splitterMoved.connect(memory.schedule)
    return restored


def remember_header(header: QHeaderView, key: str) -> bool:
    """Restore the column widths, order and sorting of ``header`` saved under ``key`` and
    save them whenever the user changes them. Call it once the columns are set up (their
    defaults are what is used when nothing was saved).

    Returns whether a saved state was restored.
    """
    memory = _remember(header, key)
    restored = memory.restore()
    header.sectionResized.connect(memory.schedule)
    header.sectionMoved.connect(memory.schedule)
    header.sortIndicatorChanged.connect(memory.schedule)
    return restored


def save_remembered(window: QWidget | None = None) -> None:
    """Save the remembered splitters and headers inside ``window`` now (all of them when
    ``None``), e.g. when the window closes."""
    for memory in list(_remembered):
        if not shiboken6.isValid(memory):  # its splitter or header is gone already
            continue
        if window is None or window is memory.target or window.isAncestorOf(memory.target):
            memory.save()
