"""Shared setup of the Train page tests: a small project on the tiny model, a saved plan."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from ftstudio.core.paths import resource
from ftstudio.core.project import Project, create_project
from ftstudio.core.train_config import TrainConfig, save_config

SAMPLE = resource("sample_project", "datasets", "it_support.jsonl")
EXAMPLES = 24


def tiny_config(model_dir: Path, **changes: Any) -> TrainConfig:
    """A few-step CPU LoRA run on the tiny model (fp32, no checkpointing, short examples)."""
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


def save_plan(project: Project, name: str, config: TrainConfig) -> Path:
    """Save ``config`` as ``configs/<name>.yaml`` and list it in ``project.json``, as the wizard."""
    path = save_config(config, project.folder / "configs" / f"{name}.yaml")
    configs = dict(project.manifest.get("configs", {}))
    configs[name] = f"configs/{name}.yaml"
    project.set("configs", configs)
    return path


@pytest.fixture
def small_project(tmp_path: Path) -> Project:
    """A project whose datasets/train.jsonl holds 24 sample conversations."""
    project = create_project(tmp_path / "project", "Small")
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[:EXAMPLES]
    train = project.folder / "datasets" / "train.jsonl"
    train.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    project.manifest["datasets"] = {"train": "datasets/train.jsonl"}
    project.save()
    return project
