"""Helpers shared by the Qt tests: simulated drag-and-drop, isolated app processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QWidget


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
