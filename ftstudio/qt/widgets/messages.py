"""Message boxes: non-blocking warnings, and questions with named answers."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


def show_warning(parent: QWidget, title: str, text: str) -> QMessageBox:
    """Open a window-modal warning with selectable text and return it (not blocking)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.open()
    return box


def ask(
    parent: QWidget | None,
    name: str,
    title: str,
    text: str,
    informative: str,
    choices: Sequence[tuple[str, QMessageBox.ButtonRole]],
    *,
    icon: QMessageBox.Icon = QMessageBox.Icon.Question,
) -> str:
    """Ask a question in a modal box named ``name``; returns the text of the button pressed.

    ``choices`` are the buttons (text and role), in order; the last one is the safe
    answer, chosen by Enter, Esc and closing the box. Blocks until answered: events
    keep arriving meanwhile (a task may end while the box is open).
    """
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName(name)
    box.setInformativeText(informative)
    buttons = [box.addButton(label, role) for label, role in choices]
    box.setDefaultButton(buttons[-1])
    box.setEscapeButton(buttons[-1])
    box.exec()
    clicked = box.clickedButton()
    box.deleteLater()
    for (label, _role), button in zip(choices, buttons, strict=True):
        if button is clicked:
            return label
    return ""
