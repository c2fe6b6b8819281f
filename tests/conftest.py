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
