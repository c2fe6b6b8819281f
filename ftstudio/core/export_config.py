"""What to export from a finished run: the format, the number format, the folder.

:class:`ExportConfig` is what the Export page's form edits and what
``ftstudio export`` / ``ftstudio merge`` build from their options. The engine
(:func:`ftstudio.engine.export.export_run`) does the work; every export ends with
a parity check (:mod:`ftstudio.core.parity`).

Formats:

==========  =====================================================================
``adapter`` the run's LoRA adapter (safetensors), its ``adapter_config.json``
            pointing at the base model, the tokenizer and chat template: loads
            with peft, and vLLM / TGI serve it on top of the base model
``merged``  the adapter merged into the base model, saved as a plain Hugging Face
            model folder (safetensors, tokenizer, chat template, EOS ids)
``gguf``    the merged model as one GGUF file (F16 or Q8_0) for llama.cpp
``ollama``  the GGUF file plus an Ollama ``Modelfile`` (template, stop tokens)
==========  =====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ftstudio.core.fields import option

FORMATS = ("adapter", "merged", "gguf", "ollama")
DTYPES = ("bf16", "fp16", "fp32")
QUANTS = ("f16", "q8_0")
EXPORTS_FOLDER = "exports"
"""Exports go to ``<run>/exports/<name>`` unless another folder is given."""
MARKER = "ftstudio-export.json"
"""Written into every export folder; an existing folder holding it may be replaced."""
BYTES_PER_PARAMETER = {"bf16": 2, "fp16": 2, "fp32": 4}
GGUF_BYTES_PER_PARAMETER = {"f16": 2.0, "q8_0": 34 / 32}
"""Q8_0 stores 32 weights in 34 bytes (32 int8 + one fp16 scale)."""


@dataclass(frozen=True)
class ExportConfig:
    """One export of a run (see the module docstring for the formats)."""

    format: str = option(
        "merged",
        label="Format",
        help="adapter: the small LoRA adapter, for peft, vLLM or TGI on top of the base "
        "model. merged: the adapter merged into the base model, a plain Hugging Face folder. "
        "gguf: one file for llama.cpp and LM Studio. ollama: the GGUF file with a Modelfile "
        "(chat template and stop tokens) for `ollama create`.",
        choices=FORMATS,
    )
    out: str = option(
        "",
        label="Output folder",
        help="A new or empty folder for the export; empty means <run>/exports/<format>. "
        "A folder holding an earlier ftstudio export is replaced once the new export is "
        "complete.",
        widget="folder",
        placeholder="<run>/exports/<format>",
    )
    dtype: str = option(
        "bf16",
        label="Merge precision",
        help="Number format of the merged weights (merged, gguf and ollama). The base model "
        "is loaded in it and the adapter merged there, never in 4 bits. bf16: half the size "
        "of fp32 and safe for models trained in bf16 (most recent ones). fp16: for older "
        "GPUs and tools without bf16. fp32: exact (the parity check then allows only 1e-3), "
        "twice the size.",
        choices=DTYPES,
    )
    quant: str = option(
        "q8_0",
        label="GGUF type",
        help="Weight type of the GGUF file (gguf and ollama). f16: 16-bit floats, closest to "
        "the merged model. q8_0: 8-bit blocks, about half the size of f16 with a small loss. "
        "Norms and tensors whose rows are not a multiple of 32 stay in float, as in "
        "llama.cpp.",
        choices=QUANTS,
    )
    checkpoint: int = option(
        0,
        label="Checkpoint",
        help="Export the adapter saved at this step (a checkpoint-<step> folder of the run) "
        "instead of the final one; 0 exports the final adapter.",
        minimum=0,
        advanced=True,
    )
    parity_prompts: int = option(
        4,
        label="Parity prompts",
        help="How many validation examples (training ones when the run kept none back) the "
        "parity check runs through the export and through the trained model to compare "
        "their outputs.",
        minimum=1,
        maximum=64,
        advanced=True,
    )
    parity_tokens: int = option(
        12,
        label="Greedy tokens",
        help="How many tokens each parity prompt generates greedily in both models; they must "
        "be the same tokens.",
        minimum=1,
        maximum=64,
        advanced=True,
    )

    def folder_name(self) -> str:
        """The default folder name of this export: ``merged-bf16``, ``gguf-q8_0`` …"""
        if self.format == "adapter":
            return "adapter"
        if self.format == "merged":
            return f"merged-{self.dtype}"
        return f"{self.format}-{self.quant}"

    def out_dir(self, run_dir: Path) -> Path:
        """Where the export is written: ``out``, or ``<run>/exports/<folder_name()>``."""
        if self.out:
            return Path(self.out).expanduser()
        return Path(run_dir) / EXPORTS_FOLDER / self.folder_name()

    def describe(self) -> str:
        """One line for logs and the CLI: ``gguf (q8_0, merged in bf16)`` …"""
        if self.format == "adapter":
            return "adapter"
        if self.format == "merged":
            return f"merged ({self.dtype})"
        return f"{self.format} ({self.quant}, merged in {self.dtype})"


def estimate_export_bytes(
    config: ExportConfig, parameters: int, *, adapter_bytes: int = 0, tokenizer_bytes: int = 0
) -> int:
    """Disk space ``config``'s export needs at its peak, before the safety margin.

    Args:
        config: the export.
        parameters: the base model's parameter count.
        adapter_bytes: the size of the adapter folder's weights.
        tokenizer_bytes: the size of the tokenizer files.

    The GGUF formats hold the merged folder (in ``dtype``) and the GGUF file at
    the same time, until the merged folder is removed.
    """
    extra = tokenizer_bytes + 64 * 1024  # the model card, plot, configs and parity.json
    if config.format == "adapter":
        return adapter_bytes + extra
    merged = parameters * BYTES_PER_PARAMETER[config.dtype]
    if config.format == "merged":
        return merged + extra
    gguf = int(parameters * GGUF_BYTES_PER_PARAMETER[config.quant])
    return merged + gguf + 2 * extra


SPACE_MARGIN = 1.1
"""The free space asked for is the estimate × this (headers, rounding, other writers)."""
