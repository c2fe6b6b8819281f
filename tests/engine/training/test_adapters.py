"""``init_adapter``: which folder it names, and whether the adapter fits the base model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ftstudio.engine.training.adapters import (
    AdapterError,
    check_adapter_base,
    resolve_init_adapter,
    settings_note,
)


def test_a_run_folder_names_its_final_adapter(trained_run: Path) -> None:
    project = trained_run.parent.parent
    adapter = trained_run / "adapter"
    relative = f"runs/{trained_run.name}"
    assert resolve_init_adapter(relative, project) == adapter
    assert resolve_init_adapter(str(trained_run), Path("/elsewhere")) == adapter
    assert resolve_init_adapter(f"{relative}/adapter", project) == adapter
    assert resolve_init_adapter(f"{relative}/adapter/adapter_config.json", project) == adapter
    checkpoint = trained_run / "checkpoint-6"
    assert resolve_init_adapter(str(checkpoint), project) == checkpoint


def test_folders_without_an_adapter_are_explained(tmp_path: Path, trained_run: Path) -> None:
    with pytest.raises(AdapterError, match="does not exist"):
        resolve_init_adapter("runs/nothing-here", tmp_path)
    (tmp_path / "plain").mkdir()
    with pytest.raises(AdapterError, match="holds no LoRA adapter"):
        resolve_init_adapter("plain", tmp_path)
    unfinished = shutil.copytree(trained_run, tmp_path / "unfinished")
    shutil.rmtree(unfinished / "adapter")
    with pytest.raises(AdapterError, match="did not finish") as caught:
        resolve_init_adapter(str(unfinished), tmp_path)
    assert str(unfinished / "checkpoint-6") in str(caught.value)
    full = tmp_path / "full"
    (full / "model").mkdir(parents=True)
    shutil.copyfile(trained_run / "run.json", full / "run.json")
    with pytest.raises(AdapterError, match="full fine-tuning run") as caught:
        resolve_init_adapter(str(full), tmp_path)
    assert f"Set base_model to {full / 'model'}" in str(caught.value)


def test_the_adapter_must_fit_the_base_model(
    tmp_path: Path, trained_run: Path, tiny_model_dir: Path
) -> None:
    adapter = shutil.copytree(trained_run / "adapter", tmp_path / "adapter")
    config_path = adapter / "adapter_config.json"
    assert json.loads(config_path.read_text())["base_model_name_or_path"] == str(tiny_model_dir)
    assert check_adapter_base(adapter, str(tiny_model_dir), str(tiny_model_dir)) == ""
    # A copy of the base model's folder is the same model.
    copy = shutil.copytree(tiny_model_dir, tmp_path / "copy-of-tiny")
    assert check_adapter_base(adapter, str(copy), "models/copy-of-tiny") == ""

    def recorded(base: str) -> None:
        data = json.loads(config_path.read_text())
        config_path.write_text(json.dumps({**data, "base_model_name_or_path": base}))

    recorded("someorg/other-model")
    with pytest.raises(AdapterError, match="was trained on someorg/other-model") as caught:
        check_adapter_base(adapter, str(tiny_model_dir), "ftstudio:tiny")
    assert "set base_model to someorg/other-model" in str(caught.value)
    # The same hub id, or its hub cache folder, fits.
    snapshot = "/cache/hub/models--someorg--other-model/snapshots/0123abcd"
    assert check_adapter_base(adapter, snapshot, "someorg/other-model") == ""
    # A folder on another computer cannot be checked: a warning, not an error.
    recorded("/home/someone/models/llama")
    warning = check_adapter_base(adapter, str(tiny_model_dir), "ftstudio:tiny")
    assert "not on this computer" in warning
    config_path.write_text("{ not json")
    with pytest.raises(AdapterError, match="cannot be read"):
        check_adapter_base(adapter, str(tiny_model_dir), "ftstudio:tiny")


def test_the_adapter_keeps_its_own_lora_settings(trained_run: Path) -> None:
    adapter = trained_run / "adapter"
    targets = ("v_proj", "q_proj", "k_proj", "o_proj")
    assert settings_note(adapter, 8, 16, targets) == ""
    note = settings_note(adapter, 16, 32, targets)
    assert "keeps its own settings (r=8, alpha=16, target modules: k_proj, o_proj" in note
    assert "the configuration's r, alpha and target modules do not apply" in note
