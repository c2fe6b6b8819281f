"""Exporting a finished run: adapter, merged model, GGUF and Ollama, each checked for parity.

Usage::

    from ftstudio.core.export_config import ExportConfig
    from ftstudio.engine.export import export_run

    result = export_run(run_dir, ExportConfig(format="gguf", quant="q8_0", out="out/gguf"),
                        on_progress=lambda done, total, text: print(done, total, text))
    print(result.path, result.parity.summary())
"""

from __future__ import annotations

from ftstudio.engine.export.errors import ERROR_CODES, ExportError
from ftstudio.engine.export.exporter import ExportResult, export_run, gguf_name, merge_run

__all__ = ["ERROR_CODES", "ExportError", "ExportResult", "export_run", "gguf_name", "merge_run"]
