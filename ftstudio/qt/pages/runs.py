"""Runs page: every training run of the project."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from ftstudio.qt.pages.base import Page
from ftstudio.qt.widgets.card import Card, bullet_list
from ftstudio.qt.widgets.file_table import FileTable, folder_size, human_size, modified


class RunsPage(Page):
    """The project's run folders; comparison and curves build on this page."""

    key = "runs"
    title = "Runs"
    summary = "Find, compare and reproduce every training run of this project."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        card = Card("Run history", "")
        self.table = FileTable(
            ["Run", "Modified", "Size"],
            "No runs yet. Start one on the Train page; each run gets its own folder "
            "under runs/ with its config, metrics and checkpoints.",
        )
        self.table.setMinimumHeight(170)
        card.add(self.table)
        self.body.addWidget(card)
        self.body.addWidget(
            Card(
                "What you will do here",
                bullet_list(
                    [
                        "See each run's status, method, key settings, best validation loss "
                        "and data fingerprint.",
                        "Overlay the loss curves of several runs and diff two configurations.",
                        "Re-run a configuration, open a run's folder, or move a run to the trash.",
                    ]
                ),
            )
        )
        self.body.addStretch(1)

    def refresh(self) -> None:
        """List the run folders."""
        runs = self.project.run_dirs() if self.project else []
        self.table.set_rows(
            [(path, [path.name, modified(path), human_size(folder_size(path))]) for path in runs]
        )
