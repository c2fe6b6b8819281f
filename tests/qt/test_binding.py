"""The Qt binding must not corrupt Python's reference counts (PySide6 6.12.0 did)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QLabel


def test_void_qt_calls_keep_none_alive(qapp) -> None:
    """Each call returning nothing must not take a reference from ``None``.

    PySide6 6.12.0 on Python 3.11 lost one per call, and the interpreter aborted with
    ``none_dealloc`` after a few thousand calls — minutes of normal use.
    """
    point, label = QPoint(), QLabel()
    before = sys.getrefcount(None)
    for _ in range(500):
        point.setX(1)
        label.setText("x")
    assert sys.getrefcount(None) >= before - 5
