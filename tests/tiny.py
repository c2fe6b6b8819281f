"""The small training setup shared by the tests: sample chats and a few-step tiny-model run.

``tests/conftest.py`` (``trained_run``) and ``tests/engine/training/conftest.py``
(``small_project``) build on it; tests import :func:`tiny_config`, :func:`sample_lines`
and :func:`write_dataset` from here.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from ftstudio.core.paths import resource
from ftstudio.core.train_config import TrainConfig

SAMPLE = resource("sample_project", "datasets", "it_support.jsonl")
EXAMPLES = 24
"""Examples in the small project: enough for a validation split, fast to tokenise."""


def sample_lines(count: int = EXAMPLES) -> list[str]:
    """The first ``count`` lines of the bundled sample dataset."""
    return SAMPLE.read_text(encoding="utf-8").splitlines()[:count]


def write_dataset(path: Path, rows: list[Any]) -> Path:
    """Write rows (dicts, or lines of text) as JSON Lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def tiny_config(model_dir: Path, **changes: Any) -> TrainConfig:
    """A few-step CPU run on the tiny model (fp32, no checkpointing, short examples)."""
    base = TrainConfig(
        base_model=str(model_dir),
        dataset="datasets/train.jsonl",
        method="lora",
        r=8,
        alpha=16,
        max_steps=6,
        epochs=1,
        per_device_batch_size=2,
        grad_accum=1,
        learning_rate=1e-2,
        warmup_ratio=0.0,
        lr_scheduler="constant",
        max_length=256,
        val_fraction=0.2,
        eval_steps=3,
        save_steps=3,
        early_stopping_patience=0,
        gradient_checkpointing=False,
        precision="fp32",
        optimizer="adamw_torch",
    )
    return dataclasses.replace(base, **changes)
