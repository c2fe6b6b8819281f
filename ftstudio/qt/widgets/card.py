"""A framed card with a title and a body, the building block of the studio pages."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget


class Card(QFrame):
    """A rounded, framed box with a bold title; add content with :meth:`add`."""

    def __init__(self, title: str, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(16, 12, 16, 14)
        self._layout.setSpacing(6)
        self._layout.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.title_label = QLabel(title)
        self.title_label.setObjectName("cardTitle")
        self._layout.addWidget(self.title_label)
        self.text_label = QLabel(text)
        self.text_label.setWordWrap(True)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text_label.setVisible(bool(text))
        self._layout.addWidget(self.text_label)

    def set_text(self, text: str) -> None:
        """Replace the body text (rich text allowed)."""
        self.text_label.setText(text)
        self.text_label.setVisible(bool(text))

    def add(self, widget: QWidget) -> QWidget:
        """Append ``widget`` below the text and return it."""
        self._layout.addWidget(widget)
        return widget


def bullet_list(items: list[str]) -> str:
    """Rich text for a bulleted list."""
    rows = "".join(f"<li style='margin-bottom:4px'>{item}</li>" for item in items)
    return f"<ul style='margin-left:-20px'>{rows}</ul>"
