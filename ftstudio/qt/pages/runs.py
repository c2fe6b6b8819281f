"""Runs page: every training run of the project."""

from __future__ import annotations

from pathlib import Path

from ftstudio.qt.pages.base import FolderListPage


class RunsPage(FolderListPage):
    """The project's run folders; comparison and curves build on this page."""

    key = "runs"
    title = "Runs"
    summary = "Find, compare and reproduce every training run of this project."
    list_title = "Run history"
    name_column = "Run"
    empty_text = (
        "No runs yet. Start one on the Train page; each run gets its own folder under runs/ "
        "with its config, metrics and checkpoints."
    )
    plans = (
        "See each run's status, method, key settings, best validation loss and data fingerprint.",
        "Overlay the loss curves of several runs and diff two configurations.",
        "Re-run a configuration, open a run's folder, or move a run to the trash.",
    )

    def entries(self) -> list[Path]:
        """The run folders under ``runs/``."""
        return self.project.run_dirs() if self.project else []
