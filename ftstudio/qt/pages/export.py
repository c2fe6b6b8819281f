"""Export page: the project's exports; merge and export build on this page."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from ftstudio.qt.pages.base import Page
from ftstudio.qt.widgets.card import Card, bullet_list
from ftstudio.qt.widgets.file_table import FileTable, folder_size, human_size, modified


class ExportPage(Page):
    """Exports of the project: adapters, merged models, GGUF files."""

    key = "export"
    title = "Export"
    summary = "Ship a trained model that behaves exactly like the one you evaluated."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        card = Card("Exports", "")
        self.table = FileTable(
            ["Export", "Modified", "Size"],
            "Nothing exported yet. Finished runs can be exported from here to the project's "
            "exports/ folder.",
        )
        self.table.setMinimumHeight(170)
        card.add(self.table)
        self.body.addWidget(card)
        self.body.addWidget(
            Card(
                "What you will do here",
                bullet_list(
                    [
                        "Export a LoRA adapter, or merge it into the base model in bf16, fp16 "
                        "or fp32 (never into a 4-bit model).",
                        "Write GGUF (F16, Q8_0) with the chat template and stop tokens, and "
                        "an Ollama Modelfile.",
                        "Get a parity report proving the export answers like the trained "
                        "model, and a model card.",
                    ]
                ),
            )
        )
        self.body.addStretch(1)

    def refresh(self) -> None:
        """List the exports."""
        exports = self.project.export_dirs() if self.project else []
        self.table.set_rows(
            [(path, [path.name, modified(path), human_size(folder_size(path))]) for path in exports]
        )
