"""Common frame of a studio page: title, one-line summary, scrollable body, plans card."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QToolButton, QVBoxLayout, QWidget

from ftstudio.core.project import Project
from ftstudio.qt.widgets.card import Card, bullet_list
from ftstudio.qt.widgets.file_table import FileTable, folder_size, human_size, modified


class Page(QWidget):
    """A page of the studio. Subclasses set the class attributes and fill :attr:`body`.

    Signals:
        sig_help_requested(str): the page's "?" button asks for the advice on page ``key``.

    Attributes:
        key: short id used by the CLI (``--page``) and in saved state.
        title: the navigation label and page heading.
        summary: one sentence under the heading.
        plans: what the user will be able to do here, listed by :meth:`add_plans`.
    """

    key = ""
    title = ""
    summary = ""
    plans: tuple[str, ...] = ()

    sig_help_requested = Signal(str)
    """The "?" button was pressed: show the advice for the page with this key."""

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
        heading_row = QHBoxLayout()
        heading_row.setContentsMargins(0, 0, 0, 0)
        heading_row.addWidget(heading)
        heading_row.addStretch(1)
        self.help_button = QToolButton()
        self.help_button.setObjectName("pageHelp")
        self.help_button.setText("?")
        self.help_button.setToolTip(f"Advice for the {self.title} page (F1)")
        self.help_button.setAutoRaise(True)
        self.help_button.clicked.connect(lambda: self.sig_help_requested.emit(self.key))
        heading_row.addWidget(self.help_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.body.addLayout(heading_row)
        subtitle = QLabel(self.summary)
        subtitle.setObjectName("pageSubtitle")
        subtitle.setWordWrap(True)
        self.body.addWidget(subtitle)

    def add_plans(self) -> None:
        """End the page with the 'What you will do here' card and a stretch."""
        if self.plans:
            self.body.addWidget(Card("What you will do here", bullet_list(list(self.plans))))
        self.body.addStretch(1)

    def set_project(self, project: Project | None) -> None:
        """Show ``project`` (``None`` when no project is open)."""
        self.project = project
        self.refresh()

    def refresh(self) -> None:
        """Re-read what the page shows from the project folder."""


class FolderListPage(Page):
    """A page listing the entries of one project sub-folder (runs, exports…)."""

    list_title = ""
    name_column = ""
    empty_text = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        card = Card(self.list_title, "")
        self.table = FileTable([self.name_column, "Modified", "Size"], self.empty_text)
        self.table.setMinimumHeight(170)
        card.add(self.table)
        self.body.addWidget(card)
        self.add_plans()

    def entries(self) -> list[Path]:
        """The folder entries to list; empty when no project is open."""
        raise NotImplementedError

    def refresh(self) -> None:
        """List the entries with their modification time and size."""
        self.table.set_rows(
            [
                (path, [path.name, modified(path), human_size(folder_size(path))])
                for path in (self.entries() if self.project else [])
            ]
        )
