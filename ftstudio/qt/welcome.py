"""The welcome view, shown when no project is open."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ftstudio.qt.style import app_icon


class WelcomeView(QWidget):
    """Buttons to create or open a project and the recent-projects list.

    Signals:
        sig_new_requested(): create a project.
        sig_open_requested(): choose a project folder.
        sig_sample_requested(): open the sample project.
        sig_recent_requested(Path): open a recent project.
    """

    sig_new_requested = Signal()
    sig_open_requested = Signal()
    sig_sample_requested = Signal()
    sig_recent_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        column = QVBoxLayout()
        column.addStretch(1)
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(96, 96))
        column.addWidget(icon, alignment=Qt.AlignmentFlag.AlignHCenter)
        title = QLabel("Welcome to ftstudio")
        title.setObjectName("welcomeTitle")
        column.addWidget(title, alignment=Qt.AlignmentFlag.AlignHCenter)
        hint = QLabel("Create a project, open one, or start from the IT-support sample.")
        hint.setObjectName("muted")
        column.addWidget(hint, alignment=Qt.AlignmentFlag.AlignHCenter)
        buttons = QHBoxLayout()
        for text, signal in (
            ("New project…", self.sig_new_requested),
            ("Open project…", self.sig_open_requested),
            ("Open the sample project", self.sig_sample_requested),
        ):
            button = QPushButton(text)
            button.setMinimumHeight(34)
            button.clicked.connect(signal)
            buttons.addWidget(button)
        column.addLayout(buttons)
        self.recent_label = QLabel("Recent projects")
        self.recent_label.setObjectName("cardTitle")
        column.addWidget(self.recent_label)
        self.recent_list = QListWidget()
        self.recent_list.setMaximumHeight(180)
        self.recent_list.itemActivated.connect(self._on_recent_item_activated)
        column.addWidget(self.recent_list)
        column.addStretch(2)
        outer.addLayout(column, 3)
        outer.addStretch(1)

    def set_recent(self, recent: list[str]) -> None:
        """Show the recent projects (missing folders are listed greyed out)."""
        self.recent_list.clear()
        for entry in recent:
            item = QListWidgetItem(entry)
            item.setData(Qt.ItemDataRole.UserRole, Path(entry))
            if not Path(entry).is_dir():
                item.setFlags(Qt.ItemFlag.NoItemFlags)
                item.setToolTip("This folder no longer exists.")
            self.recent_list.addItem(item)
        self.recent_label.setVisible(bool(recent))
        self.recent_list.setVisible(bool(recent))

    def _on_recent_item_activated(self, item: QListWidgetItem) -> None:
        self.sig_recent_requested.emit(item.data(Qt.ItemDataRole.UserRole))
