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
    with pytest.raises(ConnectionError) as caught:
        download_base_model("Qwen/Qwen2.5-0.5B-Instruct", cache_dir=tmp_path / "hub-cache")
    message = str(caught.value)
    assert message.startswith("Qwen/Qwen2.5-0.5B-Instruct is not downloaded yet")
    assert "offline mode is on (Settings ▸ Privacy ▸ Offline mode" in message
    assert str(tmp_path / "hub-cache") in message


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


# ---------------------------------------------------------------------------- settings


@pytest.fixture
def settings_environment(monkeypatch):  # noqa: ANN001, ANN201
    """Whatever apply_environment sets is undone after the test."""
    from ftstudio.core.settings import AppSettings, apply_environment

    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    yield apply_environment
    apply_environment(AppSettings())


def cache_holding(cache: Path, hub_id: str, model_dir: Path) -> Path:
    """``model_dir`` laid out in ``cache`` as the hub client stores ``hub_id``."""
    import shutil

    repo = cache / f"models--{hub_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / ("0" * 40)
    shutil.copytree(model_dir, snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    return snapshot


def test_the_settings_cache_folder_is_where_models_are_found(
    tmp_path, tiny_model_dir, settings_environment
) -> None:
    from ftstudio.core.settings import AppSettings
    from ftstudio.engine.base_model import download_base_model

    snapshot = cache_holding(tmp_path / "chosen-cache", "acme/tiny", tiny_model_dir)
    with pytest.raises(ConnectionError, match="not in the model cache"):
        download_base_model("acme/tiny")  # Hugging Face's default cache does not hold it
    settings_environment(AppSettings(model_cache_dir=str(tmp_path / "chosen-cache")))
    assert download_base_model("acme/tiny") == snapshot


def test_offline_mode_from_the_settings_refuses_downloads_by_name(
    tmp_path, monkeypatch, settings_environment
) -> None:
    from ftstudio.core.settings import AppSettings
    from ftstudio.engine.base_model import download_base_model

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    settings_environment(AppSettings(offline=True, model_cache_dir=str(tmp_path / "empty-cache")))
    with pytest.raises(ConnectionError) as caught:
        download_base_model("acme/never-downloaded")
    message = str(caught.value)
    assert message.startswith("acme/never-downloaded is not downloaded yet")
    assert "offline mode is on (Settings ▸ Privacy ▸ Offline mode" in message
    assert "Turn offline mode off" in message


# ---------------------------------------------------------------------------- custom code

CONFIGURATION_CODE = """
from transformers import LlamaConfig


class AcmeConfig(LlamaConfig):
    model_type = "acme_llama"
"""
MODELING_CODE = """
import os
from pathlib import Path

from transformers import LlamaForCausalLM

from .configuration_acme import AcmeConfig


class AcmeForCausalLM(LlamaForCausalLM):
    config_class = AcmeConfig

    def __init__(self, config):
        if os.environ.get("ACME_MARKER"):  # proves this code ran (at every load)
            Path(os.environ["ACME_MARKER"]).write_text("ran", encoding="utf-8")
        super().__init__(config)
"""


def custom_code_model(model_dir: Path, out: Path) -> Path:
    """A copy of the tiny model that needs its own code: an architecture transformers does
    not know (model_type ``acme_llama``), mapped to classes in its own Python files."""
    import json
    import shutil

    shutil.copytree(model_dir, out)
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    config["model_type"] = "acme_llama"
    config["architectures"] = ["AcmeForCausalLM"]
    config["auto_map"] = {
        "AutoConfig": "configuration_acme.AcmeConfig",
        "AutoModelForCausalLM": "modeling_acme.AcmeForCausalLM",
    }
    (out / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (out / "configuration_acme.py").write_text(CONFIGURATION_CODE, encoding="utf-8")
    (out / "modeling_acme.py").write_text(MODELING_CODE, encoding="utf-8")
    return out


@pytest.fixture
def modules_cache(tmp_path, monkeypatch) -> Path:  # noqa: ANN001
    """transformers copies a model's own code here (not into the user's cache); the code
    writes a marker file when it runs."""
    import sys

    import transformers.dynamic_module_utils as dynamic

    folder = tmp_path / "hf-modules"
    monkeypatch.setattr(dynamic, "HF_MODULES_CACHE", str(folder))
    # transformers imports the copied code as the package ``transformers_modules`` from
    # that folder (added to sys.path): start from a fresh package, undone afterwards.
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in [n for n in sys.modules if n.split(".")[0] == "transformers_modules"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setenv("ACME_MARKER", str(tmp_path / "acme-ran"))
    return tmp_path / "acme-ran"


def test_which_folders_need_their_own_code(tmp_path, tiny_model_dir) -> None:
    import json
    import shutil

    from ftstudio.engine.base_model import needs_remote_code

    assert not needs_remote_code(tiny_model_dir)
    custom = custom_code_model(tiny_model_dir, tmp_path / "custom")
    assert needs_remote_code(custom)
    # Code shipped for an architecture transformers knows is not needed: it loads without.
    known = tmp_path / "known"
    shutil.copytree(custom, known)
    config = json.loads((known / "config.json").read_text(encoding="utf-8"))
    config["model_type"] = "llama"
    (known / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert not needs_remote_code(known)


def test_a_model_needing_its_code_is_refused_with_a_plain_message(
    tmp_path, tiny_model_dir, modules_cache
) -> None:
    from ftstudio.engine.base_model import RemoteCodeError, check_remote_code

    custom = custom_code_model(tiny_model_dir, tmp_path / "custom")
    with pytest.raises(RemoteCodeError) as caught:
        check_remote_code(custom, False, name="acme/custom")
    message = str(caught.value)
    assert message.startswith("acme/custom needs its own Python code to load")
    assert "modeling_acme.AcmeForCausalLM" in message
    assert "model_type 'acme_llama'" in message
    assert "--trust-remote-code" in message
    assert "Settings ▸ Privacy" in message
    code = check_remote_code(custom, True)
    assert code is not None
    assert code.files == ("configuration_acme.py", "modeling_acme.py")
    assert not modules_cache.exists(), "checking runs no code"


@pytest.mark.slow
def test_training_runs_a_models_code_only_when_allowed(
    tmp_path, tiny_model_dir, modules_cache
) -> None:
    from ftstudio.core.events import Failed
    from ftstudio.core.project import create_project
    from ftstudio.engine.training import run_training
    from tests.tiny import sample_lines, tiny_config, write_dataset

    project = create_project(tmp_path / "project", "Custom code").folder
    write_dataset(project / "datasets" / "train.jsonl", sample_lines(8))
    custom = custom_code_model(tiny_model_dir, tmp_path / "custom")
    config = tiny_config(custom, max_steps=1, eval_steps=0, save_steps=1, val_fraction=0.0)
    events: list = []
    refused = run_training(config, events.append, project=project)
    assert refused.status == "failed"
    assert refused.code == "model"
    assert "needs its own Python code to load" in refused.message
    assert isinstance(events[-1], Failed)
    assert not modules_cache.exists(), "nothing of the model's code ran"

    allowed = run_training(config, project=project, trust_remote_code=True)
    assert allowed.status == "finished", allowed.message
    assert modules_cache.read_text(encoding="utf-8") == "ran"


def test_inference_loads_a_models_code_only_when_allowed(
    tmp_path, tiny_model_dir, modules_cache
) -> None:
    from ftstudio.engine.inference import ChatModel, InferenceError

    custom = custom_code_model(tiny_model_dir, tmp_path / "custom")
    with pytest.raises(InferenceError, match="needs its own Python code to load"):
        ChatModel.load_base(str(custom))
    assert not modules_cache.exists()
    model = ChatModel.load_base(str(custom), trust_remote_code=True)
    assert type(model._model).__name__ == "AcmeForCausalLM"
    assert modules_cache.read_text(encoding="utf-8") == "ran"
