"""Values as the wizard shows and reads them, the GPUs it plans for, and small estimates.

Pure Python (no Qt), shared by :mod:`ftstudio.qt.wizard.plan` and the step widgets.
"""

from __future__ import annotations

import html
import math
import os
import re
from dataclasses import dataclass
from typing import Any

from ftstudio.core.dataset.stats import DatasetStats
from ftstudio.core.fields import FieldSpec, check_value
from ftstudio.core.memory import DEFAULT_GPU_CLASS
from ftstudio.core.models.catalogue import hub_cache_dir
from ftstudio.core.recommend import CHARS_PER_TOKEN, format_rate

MODEL_KINDS = ("catalogue", "folder", "hub")
"""How the base model was chosen: from the catalogue, as a local folder, or as a hub id."""
TASK_LABELS = {"style": "Style and format", "knowledge": "New domain knowledge"}
"""The kinds of task :func:`ftstudio.core.recommend.recommend` tells apart."""
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
"""What a Hugging Face hub id looks like: ``organisation/name``."""
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class GpuChoice:
    """The GPU to plan for: detected, or picked by the user.

    Attributes:
        label: what the GPU chooser shows.
        memory_gb: its memory in GiB.
        gpu_class: the time estimate's throughput class (``RTX 4090``…), if known.
        detected: whether torch reported this GPU on this computer.
    """

    label: str
    memory_gb: float
    gpu_class: str | None = None
    detected: bool = False


DEFAULT_GPU = GpuChoice("24 GB (RTX 3090 class)", 24.0, DEFAULT_GPU_CLASS)
"""The card planned for when no GPU is detected."""


def budget_choice(memory_gb: float) -> GpuChoice:
    """The GPU memory budget of Settings ▸ Models & GPU, as a choice of the GPU chooser."""
    return GpuChoice(f"{memory_gb:g} GB · budget from Settings", float(memory_gb))


GPU_CHOICES = (
    GpuChoice("8 GB", 8.0),
    GpuChoice("12 GB", 12.0),
    GpuChoice("16 GB", 16.0),
    DEFAULT_GPU,
    GpuChoice("24 GB · RTX 4090", 24.0, "RTX 4090"),
    GpuChoice("24 GB · L4", 24.0, "L4"),
    GpuChoice("40 GB · A100", 40.0, "A100"),
    GpuChoice("48 GB", 48.0),
    GpuChoice("80 GB · A100", 80.0, "A100"),
    GpuChoice("80 GB · H100", 80.0, "H100"),
    GpuChoice("141 GB · H200", 141.0, "H200"),
)
"""Cards the user can plan for without one (the throughput class sets the time estimate)."""


def hub_offline_by_setting() -> bool:
    """Whether Hugging Face's offline switch (``HF_HUB_OFFLINE``…) is on."""
    return any(
        os.environ.get(name, "").strip().lower() in _TRUE
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_cached(hub_id: str) -> bool:
    """Whether ``hub_id`` has files in this computer's Hugging Face download cache."""
    folder = hub_cache_dir() / f"models--{hub_id.replace('/', '--')}" / "snapshots"
    return folder.is_dir() and any(folder.iterdir())


def escape(text: str) -> str:
    """``text`` for a rich-text label: ``<``, ``>`` and ``&`` escaped, quotes kept."""
    return html.escape(text, quote=False)


def format_value(value: Any) -> str:
    """A field value as the wizard shows it in a text box (``2e-4``, ``0.05``, ``16``)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        if value and abs(value) < 1e-3:
            return format_rate(value)
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return ", ".join(str(item) for item in value)
    return str(value)


def parse_text(spec: FieldSpec, text: str) -> tuple[Any, str | None]:
    """``text`` typed for ``spec`` as a value, and the problem with it (``None`` if valid)."""
    stripped = text.strip()
    if spec.type is int:
        cleaned = stripped.replace(",", "").replace("_", "").replace(" ", "")
        try:
            value: Any = int(cleaned)
        except ValueError:
            example = spec.default if spec.default else 1
            if not stripped:
                return None, f"enter a whole number, e.g. {example}"
            return None, f"{stripped!r} is not a whole number; enter one, e.g. {example}"
    elif spec.type is float:
        try:
            value = float(stripped.replace("_", ""))
        except ValueError:
            example = format_value(spec.default)
            if not stripped:
                return None, f"enter a number, e.g. {example}"
            hint = " (use a point, not a comma)" if "," in stripped else ""
            return None, f"{stripped!r} is not a number{hint}; enter one, e.g. {example}"
        if not math.isfinite(value):
            return None, f"{stripped!r} is not a finite number"
    else:
        value = stripped
    return value, value_problem(spec, value)


def value_problem(spec: FieldSpec, value: Any) -> str | None:
    """What is wrong with ``value`` for ``spec`` in plain words, or ``None``."""
    problem = check_value(spec, value)
    if problem is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        low, high = spec.minimum, spec.maximum
        if low is not None and high is not None and not low <= value <= high:
            return (
                f"{format_value(value)} is out of range: enter a value from "
                f"{format_value(low)} to {format_value(high)}"
            )
    return problem


def parameters_text(count: int) -> str:
    """A parameter count as people say it: ``8.0 B``, ``494 M``, ``224 K``."""
    if count >= 1e9:
        return f"{count / 1e9:.1f} B"
    if count >= 1e6:
        return f"{count / 1e6:.0f} M"
    return f"{count / 1e3:.0f} K"


def tokens_per_epoch(
    stats: DatasetStats | None, max_length: int, val_fraction: float, objective: str = "sft"
) -> int | None:
    """Training tokens in one pass over the data: each example cut at ``max_length``.

    Token counts come from the tokenizer when the data was measured with one, else
    from characters ÷ 3.5. The validation share is left out; DPO processes the chosen
    and the rejected answer, so twice the tokens. ``None`` without measured examples.
    """
    if stats is None:
        return None
    counts = stats.token_counts or [count / CHARS_PER_TOKEN for count in stats.char_counts]
    if not counts:
        return None
    total = sum(min(count, max_length) for count in counts) * (1 - val_fraction)
    return int(total * (2 if objective == "dpo" else 1))
