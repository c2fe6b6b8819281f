"""Resolving a project's base model: tiny (built on demand), local folder, hub id."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from ftstudio.core.project import TINY_MODEL
from ftstudio.engine.base_model import resolve_base_model, tiny_model_dir


def test_the_sample_projects_base_model_is_built_and_loads(sample_project, user_dirs) -> None:
    assert sample_project.base_model == TINY_MODEL
    location = resolve_base_model(sample_project.base_model, sample_project.folder)
    assert Path(location) == tiny_model_dir()
    assert Path(location).is_relative_to(user_dirs["data"])
    model = AutoModelForCausalLM.from_pretrained(location)
    tokenizer = AutoTokenizer.from_pretrained(location)
    assert model.config.vocab_size == len(tokenizer)
    stamp = (Path(location) / "model.safetensors").stat().st_mtime_ns
    resolve_base_model(TINY_MODEL)  # second time: reused, not rebuilt
    assert (Path(location) / "model.safetensors").stat().st_mtime_ns == stamp


def test_local_folders_relative_to_the_project(tmp_path: Path) -> None:
    (tmp_path / "models" / "mine").mkdir(parents=True)
    assert resolve_base_model("models/mine", tmp_path) == str(tmp_path / "models" / "mine")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_base_model("./models/gone", tmp_path)


def test_hub_ids_pass_through(tmp_path: Path) -> None:
    assert (
        resolve_base_model("Qwen/Qwen2.5-0.5B-Instruct", tmp_path) == "Qwen/Qwen2.5-0.5B-Instruct"
    )
