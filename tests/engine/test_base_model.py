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


def test_a_hub_model_offline_and_not_cached_gets_a_plain_error(tmp_path, monkeypatch) -> None:
    from ftstudio.engine.base_model import download_base_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConnectionError, match="not downloaded yet and the hub cannot be reached"):
        download_base_model("Qwen/Qwen2.5-0.5B-Instruct", cache_dir=tmp_path / "hub-cache")


def test_a_cached_hub_model_is_used_offline(tmp_path, monkeypatch, tiny_model_dir) -> None:
    """A snapshot already in the cache (laid out as the hub client does) is found offline."""
    import shutil

    from ftstudio.engine.base_model import download_base_model

    cache = tmp_path / "hub-cache"
    repo = cache / "models--acme--tiny"
    snapshot = repo / "snapshots" / ("0" * 40)
    shutil.copytree(tiny_model_dir, snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert download_base_model("acme/tiny", cache_dir=cache) == snapshot
