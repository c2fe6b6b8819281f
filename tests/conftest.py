"""Shared test setup: offscreen Qt, no network, isolated user folders, one tiny model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Before anything imports Qt or Hugging Face libraries.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Every test gets its own empty config and data folders (never the real ones)."""
    config, data = tmp_path / "user-config", tmp_path / "user-data"
    monkeypatch.setenv("FTSTUDIO_CONFIG_DIR", str(config))
    monkeypatch.setenv("FTSTUDIO_DATA_DIR", str(data))
    return {"config": config, "data": data}


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model, built once per test run from the sample project's text."""
    from ftstudio.engine.tiny_model import build_tiny_model

    out = tmp_path_factory.mktemp("models") / "tiny"
    build_tiny_model(out)
    return out


@pytest.fixture
def sample_project(tmp_path: Path):  # noqa: ANN201 - returns a Project
    """A private copy of the bundled sample project."""
    from ftstudio.core.sample import install_sample

    return install_sample(tmp_path / "projects" / "IT Support Sample")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A finished 6-step LoRA run of the tiny model, shared by the whole test session.

    Its project (``run.parent.parent``) has ``datasets/train.jsonl`` (24 sample chats)
    and ``datasets/preferences.jsonl`` (the sample's preference pairs, registered as
    ``datasets.preferences``). READ-ONLY: copy the project folder before writing to it.
    """
    import dataclasses
    import shutil

    from ftstudio.core.paths import resource
    from ftstudio.core.project import create_project
    from ftstudio.core.train_config import TrainConfig
    from ftstudio.engine.training import run_training

    project = create_project(tmp_path_factory.mktemp("trained") / "project", "Trained")
    sample = resource("sample_project", "datasets")
    lines = (sample / "it_support.jsonl").read_text(encoding="utf-8").splitlines()[:24]
    datasets = project.folder / "datasets"
    (datasets / "train.jsonl").write_text("".join(f"{line}\n" for line in lines), "utf-8")
    shutil.copyfile(sample / "preferences.jsonl", datasets / "preferences.jsonl")
    project.set("datasets", {**project.datasets, "preferences": "datasets/preferences.jsonl"})
    config = dataclasses.replace(
        TrainConfig(),
        base_model=str(tiny_model_dir),
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
    result = run_training(config, project=project.folder)
    assert result.status == "finished", result.message
    assert result.run_dir is not None
    return result.run_dir
