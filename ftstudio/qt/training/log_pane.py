"""The training log: one line per notable event, warnings and errors highlighted."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QTextBlockFormat, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from ftstudio.qt.style import readable, readable_background
from ftstudio.qt.training.text import DETAIL, ERROR, INFO, LEVELS, WARNING, LogLine

MAX_LINES = 5000
"""Oldest lines are dropped beyond this (a week-long run stays light)."""

HIGHLIGHT = {
    WARNING: ("#7a4f00", "#fff4d6"),
    ERROR: ("#9b1c1c", "#fde8e8"),
}
"""Text and background colours of highlighted levels on the light theme (the dark theme
uses :func:`~ftstudio.qt.style.readable` versions of them)."""


class LogPane(QPlainTextEdit):
    """Read-only log of a run; :meth:`add` appends a line with its level's look.

    Attributes:
        entries: every line added since the last :meth:`clear`, oldest first (the
            widget itself keeps at most :data:`MAX_LINES`).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingLog")
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setMaximumBlockCount(MAX_LINES)
        self.setPlaceholderText("The run's progress, warnings and errors appear here.")
        self.entries: list[LogLine] = []

    def add(self, line: LogLine) -> None:
        """Append ``line`` (level ``info``, ``warning``, ``error`` or ``detail``)."""
        if line.level not in LEVELS:
            raise ValueError(f"Unknown log level {line.level!r}; use one of {', '.join(LEVELS)}.")
        self.entries.append(line)
        bar = self.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 2  # keep following unless scrolled up
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if not self.document().isEmpty():
            cursor.insertBlock()
        cursor.setBlockFormat(self._block_format(line.level))
        cursor.insertText(line.text, self._char_format(line.level))
        if follow:
            bar.setValue(bar.maximum())

    def add_text(self, text: str, level: str = INFO) -> None:
        """Append plain ``text`` at ``level``."""
        self.add(LogLine(level, text))

    def clear(self) -> None:
        """Empty the log."""
        super().clear()
        self.entries.clear()

    def highlighted(self) -> list[LogLine]:
        """The warnings and errors, oldest first."""
        return [line for line in self.entries if line.level in HIGHLIGHT]

    def _block_format(self, level: str) -> QTextBlockFormat:
        block = QTextBlockFormat()
        if level in HIGHLIGHT:
            block.setBackground(QColor(readable_background(HIGHLIGHT[level][1], self.palette())))
            block.setTopMargin(2)
            block.setBottomMargin(2)
        return block

    def _char_format(self, level: str) -> QTextCharFormat:
        text = QTextCharFormat()
        if level in HIGHLIGHT:
            text.setForeground(QColor(readable(HIGHLIGHT[level][0], self.palette())))
            if level == ERROR:
                text.setFontWeight(QFont.Weight.DemiBold)
        elif level == DETAIL:
            text.setForeground(self.palette().placeholderText())
            text.setFontFamilies(["monospace"])
            text.setFontStyleHint(QFont.StyleHint.Monospace)
        return text
