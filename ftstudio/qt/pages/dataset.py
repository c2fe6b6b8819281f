"""Dataset page: the project's dataset files; the full editor builds on this page."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from ftstudio.qt.pages.base import Page
from ftstudio.qt.widgets.card import Card
from ftstudio.qt.widgets.file_table import FileTable, human_size, modified

# Counting lines reads the whole file; above this size the count waits for the editor,
# which loads in a worker thread.
_COUNT_LIMIT_BYTES = 8 * 1024 * 1024


def count_records(path: Path) -> str:
    """Non-blank lines of a JSONL file (cheap), or '—' for other or very large files."""
    if path.suffix.lower() != ".jsonl" or path.stat().st_size > _COUNT_LIMIT_BYTES:
        return "—"
    with path.open("rb") as handle:
        return str(sum(1 for line in handle if line.strip()))


class DatasetPage(Page):
    """The project's datasets: which files, their roles and sizes."""

    key = "dataset"
    title = "Dataset"
    summary = "Curate the examples your model learns from: every problem shown at its line."
    plans = (
        "Open chat JSONL (multi-turn, with per-turn training toggles) or "
        "completion JSONL, or import Alpaca, ShareGPT and CSV.",
        "See every problem at its line, with a plain fix; lines that do not "
        "parse are kept and shown, never dropped.",
        "Edit conversations turn by turn, tag and review them, with undo.",
        "Compare your example count with the recommended size bands, and see "
        "exactly which tokens the model is trained on.",
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        files_card = Card("Dataset files", "")
        self.table = FileTable(
            ["File", "Role", "Examples", "Size", "Modified"],
            "This project has no dataset yet. Put a chat JSONL, Alpaca, ShareGPT or CSV file "
            "in the project's datasets folder.",
        )
        self.table.setMinimumHeight(170)
        files_card.add(self.table)
        buttons = QWidget()
        row = QHBoxLayout(buttons)
        row.setContentsMargins(0, 0, 0, 0)
        self.open_folder_button = QPushButton("Show datasets folder")
        self.open_folder_button.clicked.connect(self._on_open_folder_clicked)
        row.addWidget(self.open_folder_button)
        row.addStretch(1)
        files_card.add(buttons)
        self.body.addWidget(files_card)
        self.add_plans()

    def refresh(self) -> None:
        """List the dataset files of the open project."""
        if self.project is None:
            self.table.set_rows([])
            self.open_folder_button.setEnabled(False)
            return
        self.open_folder_button.setEnabled(True)
        roles = {
            (self.project.folder / relative).resolve(): role
            for role, relative in self.project.datasets.items()
        }
        rows = []
        for path in self.project.dataset_files():
            relative = path.relative_to(self.project.folder / "datasets")
            role = roles.get(path.resolve(), "")
            size = human_size(path.stat().st_size)
            rows.append((path, [str(relative), role, count_records(path), size, modified(path)]))
        self.table.set_rows(rows)

    def _on_open_folder_clicked(self) -> None:
        if self.project is not None:
            folder = self.project.folder / "datasets"
            folder.mkdir(exist_ok=True)
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
