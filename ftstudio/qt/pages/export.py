"""Export page: the project's exports; merge and export build on this page."""

from __future__ import annotations

from pathlib import Path

from ftstudio.qt.pages.base import FolderListPage


class ExportPage(FolderListPage):
    """Exports of the project: adapters, merged models, GGUF files."""

    key = "export"
    title = "Export"
    summary = "Ship a trained model that behaves exactly like the one you evaluated."
    list_title = "Exports"
    name_column = "Export"
    empty_text = (
        "Nothing exported yet. Finished runs can be exported from here to the project's "
        "exports/ folder."
    )
    plans = (
        "Export a LoRA adapter, or merge it into the base model in bf16, fp16 or fp32 (never "
        "into a 4-bit model).",
        "Write GGUF (F16, Q8_0) with the chat template and stop tokens, and an Ollama Modelfile.",
        "Get a parity report proving the export answers like the trained model, and a model card.",
    )

    def entries(self) -> list[Path]:
        """The entries under ``exports/``."""
        return self.project.export_dirs() if self.project else []
