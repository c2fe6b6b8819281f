"""Questions in message boxes: the answer is the button's text; Esc is the safe answer."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from ftstudio.qt.widgets.messages import ask
from tests.qt.helpers import answer_next_box

CHOICES = [
    ("Delete", QMessageBox.ButtonRole.DestructiveRole),
    ("Archive", QMessageBox.ButtonRole.ActionRole),
    ("Keep", QMessageBox.ButtonRole.RejectRole),
]


def ask_parent(qtbot) -> QWidget:  # noqa: ANN001
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    return parent


def test_the_answer_is_the_button_pressed(qtbot) -> None:  # noqa: ANN001
    seen: list[dict[str, Any]] = []
    answer_next_box("Archive", seen)
    answer = ask(ask_parent(qtbot), "askThing", "Title", "Delete it?", "Details.", CHOICES)
    assert answer == "Archive"
    [box] = seen
    assert (box["name"], box["text"], box["informative"]) == ("askThing", "Delete it?", "Details.")
    assert sorted(box["buttons"]) == ["Archive", "Delete", "Keep"]  # in the platform order
    assert box["escape"] == "Keep", "the last choice is the safe one"


def test_escape_gives_the_safe_answer(qtbot) -> None:  # noqa: ANN001
    def press_escape() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, press_escape)
            return
        QTest.keyClick(box, Qt.Key.Key_Escape)

    QTimer.singleShot(0, press_escape)
    assert ask(ask_parent(qtbot), "askThing", "Title", "Delete it?", "", CHOICES) == "Keep"
