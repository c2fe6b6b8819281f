"""Helpers shared by the Qt tests: simulated drag-and-drop, isolated app processes, answers
to message boxes, URLs opened instead of a file manager."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QObject, QPoint, QPointF, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget


def drag_enter(widget: QWidget, path: Path) -> QDragEnterEvent:
    """Send a drag of ``path`` entering ``widget``; the event says whether it was accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(
        QPoint(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    enter.ignore()
    widget.dragEnterEvent(enter)
    return enter


def drop(widget: QWidget, path: Path) -> QDropEvent:
    """Drag ``path`` onto ``widget`` and drop it there (the drag must be accepted)."""
    assert drag_enter(widget, path).isAccepted()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    widget.dropEvent(event)
    return event


def run_isolated(script: str, tmp_path: Path, timeout: int = 120) -> dict[str, Any]:
    """Run ``script`` in a fresh offscreen Python with its own user folders; the JSON it
    prints last."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "FTSTUDIO_CONFIG_DIR": str(tmp_path / "config"),
        "FTSTUDIO_DATA_DIR": str(tmp_path / "data"),
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def answer_next_box(
    button_text: str, seen: list[dict[str, Any]] | None = None, *, tries: int | None = 100
) -> None:
    """Click ``button_text`` in the next modal message box as soon as it is shown.

    Looks every 20 ms, ``tries`` times (100: about 2 s; ``None``: until one is shown).
    What the box said goes to ``seen``: its ``name``, ``text``, ``informative`` text,
    ``buttons`` (their texts) and ``escape`` button's text.
    """

    def click() -> None:
        nonlocal tries
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            if tries is not None:
                tries -= 1
            if tries is None or tries > 0:
                QTimer.singleShot(20, click)
            return
        buttons = [button.text() for button in box.buttons()]
        if seen is not None:
            escape = box.escapeButton()
            seen.append(
                {
                    "name": box.objectName(),
                    "text": box.text(),
                    "informative": box.informativeText(),
                    "buttons": buttons,
                    "escape": escape.text() if escape is not None else "",
                }
            )
        matches = [button for button in box.buttons() if button.text() == button_text]
        assert len(matches) == 1, f"no button {button_text!r} in {buttons}"
        matches[0].click()

    QTimer.singleShot(0, click)


class UrlRecorder(QObject):
    """Receives the URLs QDesktopServices would open (instead of a file manager)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        """Record ``url``."""
        self.urls.append(url)


@contextmanager
def recorded_urls(scheme: str = "file") -> Iterator[list[QUrl]]:
    """Within the block, the ``scheme`` URLs the app asks to open are recorded in the list
    yielded instead of being opened."""
    recorder = UrlRecorder()
    QDesktopServices.setUrlHandler(scheme, recorder, "open")
    try:
        yield recorder.urls
    finally:
        QDesktopServices.unsetUrlHandler(scheme)
