"""The offline catalogue, local folders, config files and hub ids, all without a network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftstudio.core.models import (
    ModelError,
    find_entry,
    load_catalogue,
    read_local_model,
    resolve_model_spec,
)
from ftstudio.core.project import TINY_MODEL

REQUIRED = {
    "llama-3.1-8b",
    "llama-3.2-1b",
    "llama-3.2-3b",
    "mistral-7b-v0.3",
    "qwen2.5-0.5b",
    "qwen2.5-1.5b",
    "qwen2.5-3b",
    "qwen2.5-7b",
    "gemma-2-2b",
    "gemma-2-9b",
    "phi-3-mini-4k",
}


def write_model(folder: Path, config: dict | str, *, tokenizer: bool = True) -> Path:
    folder.mkdir(parents=True)
    text = config if isinstance(config, str) else json.dumps(config, indent=2)
    (folder / "config.json").write_text(text, encoding="utf-8")
    if tokenizer:
        (folder / "tokenizer.json").write_text("{}", encoding="utf-8")
    return folder


def small_config() -> dict:
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 500,
        "tie_word_embeddings": True,
    }


def test_catalogue_covers_the_required_models() -> None:
    names = {entry.name for entry in load_catalogue()}
    assert names >= REQUIRED


@pytest.mark.parametrize("entry", load_catalogue(), ids=lambda entry: entry.name)
def test_each_config_reproduces_the_published_parameter_count(entry) -> None:
    # The index's counts are the published ones (model cards / num_parameters());
    # computing them from the shipped config values checks every size in the file.
    spec = entry.spec()
    assert spec.known
    assert spec.parameters == entry.parameters
    assert spec.source == "catalogue"
    assert spec.location == entry.name


def test_catalogue_configs_are_real_config_json_files() -> None:
    for entry in load_catalogue():
        config = json.loads(entry.config_path.read_text(encoding="utf-8"))
        assert config["architectures"][0].endswith("ForCausalLM"), entry.name
        assert isinstance(config["vocab_size"], int)


def test_known_sizes_of_three_families() -> None:
    llama = find_entry("llama-3.1-8b").spec()
    assert (llama.hidden_size, llama.num_layers, llama.num_kv_heads, llama.vocab_size) == (
        4096,
        32,
        8,
        128256,
    )
    assert not llama.tie_word_embeddings
    gemma = find_entry("gemma-2-2b").spec()
    assert gemma.head_dim == 256
    assert gemma.q_dim == 2048
    assert gemma.tie_word_embeddings
    assert gemma.final_logit_softcapping == 30.0
    phi = find_entry("phi-3-mini-4k").spec()
    assert phi.linear_names == ("qkv_proj", "o_proj", "gate_up_proj", "down_proj")
    assert phi.max_position_embeddings == 4096


def test_resolve_catalogue_name_hub_id_and_tiny_model() -> None:
    assert resolve_model_spec("qwen2.5-7b").name == "Qwen2.5 7B"
    by_hub = resolve_model_spec("Qwen/Qwen2.5-7B-Instruct")
    assert by_hub.hub_id == "Qwen/Qwen2.5-7B-Instruct"
    assert by_hub.hidden_size == 3584
    assert resolve_model_spec("meta-llama/llama-3.2-1b").num_layers == 16  # any letter case
    tiny = resolve_model_spec(TINY_MODEL)
    assert tiny.hidden_size == 64
    assert tiny.num_layers == 2


def test_tiny_entry_matches_the_model_ftstudio_builds(tiny_model_dir: Path) -> None:
    built = read_local_model(tiny_model_dir)
    entry = resolve_model_spec(TINY_MODEL)
    for size in ("hidden_size", "num_layers", "num_heads", "num_kv_heads", "intermediate_size"):
        assert getattr(built, size) == getattr(entry, size), size
    assert built.vocab_size <= entry.vocab_size


def test_unknown_hub_id_is_not_available_offline(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelError) as caught:
        resolve_model_spec("some-org/some-model-7b")
    message = str(caught.value)
    assert "'some-org/some-model-7b' is not available offline" in message
    assert "choose its folder" in message


def test_hub_id_in_the_download_cache_is_read_offline(tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "hub"
    snapshot = cache / "models--some-org--tiny-qwen" / "snapshots" / "abc123"
    write_model(snapshot, small_config(), tokenizer=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    spec = resolve_model_spec("some-org/tiny-qwen")
    assert spec.source == "hub-cache"
    assert spec.hidden_size == 64
    assert spec.hub_id


def test_local_folder_and_config_file(tmp_path: Path) -> None:
    folder = write_model(tmp_path / "my-model", small_config())
    spec = resolve_model_spec(str(folder))
    assert (spec.source, spec.name, spec.location) == ("local", "my-model", str(folder))
    by_file = resolve_model_spec(str(folder / "config.json"))
    assert by_file.source == "config"
    assert by_file.name == "my-model"


def test_relative_folder_is_found_in_the_project(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_model(project / "models" / "base", small_config())
    spec = resolve_model_spec("models/base", project)
    assert spec.location == str(project / "models" / "base")


def test_folder_without_tokenizer(tmp_path: Path) -> None:
    folder = write_model(tmp_path / "no-tok", small_config(), tokenizer=False)
    with pytest.raises(ModelError, match="has no tokenizer"):
        read_local_model(folder)
    assert read_local_model(folder, require_tokenizer=False).hidden_size == 64


def test_garbled_config_json_names_file_line_and_column(tmp_path: Path) -> None:
    text = '{\n  "model_type": "llama",\n  "hidden_size": 4096\n  "vocab_size": 32000\n}\n'
    folder = write_model(tmp_path / "broken", text)
    with pytest.raises(ModelError) as caught:
        read_local_model(folder)
    message = str(caught.value)
    assert message.startswith(f"{folder / 'config.json'}, line 4, column 3:")
    assert "download the model's config.json again" in message


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[1, 2]", "line 1: expected a JSON object"),
        ("", "line 1, column 1: Expecting value"),
        (b"\xff\xfe\x00garbage", r"is not text \(not UTF-8\)"),
    ],
)
def test_config_that_is_not_an_object_or_not_text(tmp_path: Path, content, words: str) -> None:
    path = tmp_path / "config.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ModelError, match=words):
        resolve_model_spec(str(path))


def test_missing_folder_and_missing_config(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model_spec(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="has no config.json"):
        resolve_model_spec(str(tmp_path / "empty"))
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model_spec(str(tmp_path / "missing" / "config.json"))


def test_nonsense_value_lists_the_catalogue() -> None:
    with pytest.raises(ModelError, match="Catalogue models: llama-3.2-1b"):
        resolve_model_spec("not a model")
    with pytest.raises(ModelError, match="No model given"):
        resolve_model_spec("  ")
