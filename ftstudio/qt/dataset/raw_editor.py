"""Editing an example as text: a line that does not parse, or JSON of an unexpected shape.

The text is checked as the user types (is it valid JSON yet?) and applied with the
Apply button or Ctrl+Return, so the view does not switch to the conversation editor
halfway through a fix.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ftstudio.qt.dataset.text_fields import GrowingTextEdit
from ftstudio.qt.dataset.widget_sync import set_style_property, set_text


def json_problem(text: str) -> str:
    """``""`` when ``text`` is valid JSON, else where and why it is not, in plain words."""
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return f"Not valid JSON yet: {error.msg} (line {error.lineno}, column {error.colno})."
    return ""


class TextRecordEditor(QWidget):
    """A text field for a whole record, its problem, and an Apply button.

    Signals:
        sig_apply_requested(str text): the user asked to apply the text.
    """

    sig_apply_requested = Signal(str)

    def __init__(self, apply_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.intro_label = QLabel()
        self.intro_label.setObjectName("rawIntro")
        self.intro_label.setWordWrap(True)
        layout.addWidget(self.intro_label)
        self.text_edit = GrowingTextEdit(min_lines=4, max_lines=24)
        self.text_edit.setObjectName("rawText")
        self.text_edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text_edit.textChanged.connect(self._on_text_edit_changed)
        layout.addWidget(self.text_edit)
        self.status_label = QLabel()
        self.status_label.setObjectName("rawStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status_label)
        row = QHBoxLayout()
        self.apply_button = QPushButton(apply_text)
        self.apply_button.setObjectName("rawApply")
        self.apply_button.setToolTip("Apply the text (Ctrl+Return)")
        self.apply_button.clicked.connect(self._on_apply_button_clicked)
        row.addWidget(self.apply_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(1)
        shortcut = QShortcut(QKeySequence("Ctrl+Return"), self.text_edit)
        shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        shortcut.setWhatsThis("Apply the text of an example edited as raw JSON")
        shortcut.activated.connect(self._on_apply_button_clicked)

    def set_undo_stack(self, stack: QUndoStack | None) -> None:
        """Let Ctrl+Z in the text field undo through ``stack``."""
        self.text_edit.undo_stack = stack

    def set_content(self, intro: str, text: str, problem: str) -> None:
        """Show ``text`` with an explanation and the current problem (``""``: none)."""
        set_text(self.intro_label, intro)
        self.text_edit.set_text_keeping_cursor(text)
        self._show_problem(problem)

    def text(self) -> str:
        """The text as typed."""
        return self.text_edit.toPlainText()

    def _show_problem(self, problem: str) -> None:
        set_text(self.status_label, f"⚠ {problem}" if problem else "✓ Valid JSON: Apply to use it.")
        set_style_property(self.status_label, "problem", bool(problem))

    def _on_text_edit_changed(self) -> None:
        self._show_problem(json_problem(self.text()))

    def _on_apply_button_clicked(self) -> None:
        self.sig_apply_requested.emit(self.text())


def pretty_json(data: Any) -> str:
    """``data`` as indented JSON for editing by hand."""
    return json.dumps(data, ensure_ascii=False, indent=2)
