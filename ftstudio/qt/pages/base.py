"""Common frame of a studio page: title, one-line summary, scrollable body."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from ftstudio.core.project import Project


class Page(QWidget):
    """A page of the studio. Subclasses set the class attributes and fill :attr:`body`.

    Attributes:
        key: short id used by the CLI (``--page``) and in saved state.
        title: the navigation label and page heading.
        summary: one sentence under the heading.
    """

    key = ""
    title = ""
    summary = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"page-{self.key}")
        self.project: Project | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        outer.addWidget(scroll)
        content = QWidget()
        scroll.setWidget(content)
        self.body = QVBoxLayout(content)
        self.body.setContentsMargins(28, 22, 28, 22)
        self.body.setSpacing(14)
        heading = QLabel(self.title)
        heading.setObjectName("pageTitle")
        self.body.addWidget(heading)
        subtitle = QLabel(self.summary)
        subtitle.setObjectName("pageSubtitle")
        subtitle.setWordWrap(True)
        self.body.addWidget(subtitle)

    def set_project(self, project: Project | None) -> None:
        """Show ``project`` (``None`` when no project is open)."""
        self.project = project
        self.refresh()

    def refresh(self) -> None:
        """Re-read what the page shows from the project folder."""
