"""Finding a model folder's own code (auto_map) without running or importing anything."""

from __future__ import annotations

import json
from pathlib import Path

from ftstudio.core.remote_code import cached_snapshot, custom_code


def folder_with(tmp_path: Path, config: dict, tokenizer: dict | None = None) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    if tokenizer is not None:
        (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    return folder


def test_a_folder_without_auto_map_declares_no_code(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, {"model_type": "llama"}, {"tokenizer_class": "X"})
    assert custom_code(folder) is None
    assert custom_code(tmp_path / "missing") is None


def test_the_model_and_tokenizer_classes_and_files_are_named(tmp_path: Path) -> None:
    folder = folder_with(
        tmp_path,
        {
            "model_type": "acme",
            "auto_map": {
                "AutoConfig": "configuration_acme.AcmeConfig",
                "AutoModelForCausalLM": "modeling_acme.AcmeForCausalLM",
            },
        },
        {"auto_map": {"AutoTokenizer": ["tokenization_acme.AcmeTokenizer", None]}},
    )
    (folder / "modeling_acme.py").write_text("# code\n", encoding="utf-8")
    code = custom_code(folder)
    assert code is not None
    assert code.model_type == "acme"
    assert code.classes == (
        "AutoConfig → configuration_acme.AcmeConfig",
        "AutoModelForCausalLM → modeling_acme.AcmeForCausalLM",
        "AutoTokenizer → tokenization_acme.AcmeTokenizer",
    )
    assert code.files == ("modeling_acme.py",)
    assert "modeling_acme.AcmeForCausalLM" in code.describe()
    assert "files: modeling_acme.py" in code.describe()


def test_an_unreadable_config_declares_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{broken", encoding="utf-8")
    assert custom_code(folder) is None


def test_the_newest_cached_snapshot_is_found(tmp_path: Path) -> None:
    import os

    cache = tmp_path / "hub"
    assert cached_snapshot("acme/model", cache) is None
    old = cache / "models--acme--model" / "snapshots" / ("a" * 40)
    new = cache / "models--acme--model" / "snapshots" / ("b" * 40)
    for snapshot in (old, new):
        snapshot.mkdir(parents=True)
        (snapshot / "config.json").write_text("{}", encoding="utf-8")
    os.utime(old / "config.json", (1_000_000, 1_000_000))
    assert cached_snapshot("acme/model", cache) == new
