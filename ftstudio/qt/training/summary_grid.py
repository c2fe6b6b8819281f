"""A compact grid of (label, value) pairs: the key values of a training plan."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget


class SummaryGrid(QWidget):
    """Shows rows of (label, value): the first ``wide`` rows across, the rest two per line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 4, 0, 0)
        self._grid.setHorizontalSpacing(12)
        self._grid.setVerticalSpacing(3)
        self._grid.setColumnStretch(1, 1)
        self._grid.setColumnStretch(3, 1)
        self.rows: list[tuple[str, str]] = []

    def set_rows(self, rows: list[tuple[str, str]], wide: int = 2) -> None:
        """Replace the rows shown."""
        while self._grid.count():
            item = self._grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()  # gone at once, not only when the deferred delete runs
                widget.deleteLater()
        self.rows = list(rows)
        line = 0
        for index, (label, value) in enumerate(rows):
            if index < wide:
                self._add(line, 0, label, value, span=3)
                line += 1
                continue
            column = 0 if (index - wide) % 2 == 0 else 2
            self._add(line, column, label, value)
            if column == 2 or index == len(rows) - 1:
                line += 1
        self.setVisible(bool(rows))

    def _add(self, line: int, column: int, label: str, value: str, span: int = 1) -> None:
        name = QLabel(label)
        name.setStyleSheet("font-weight: 600;")
        name.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        text = QLabel(value)
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.PlainText)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self._grid.addWidget(name, line, column)
        self._grid.addWidget(text, line, column + 1, 1, span)
