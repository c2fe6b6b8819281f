"""The wizard's planner, without widgets: choices, recommendations, edits, problems, saving."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ftstudio.core.dataset.formats import load_dataset
from ftstudio.core.dataset.stats import compute_stats
from ftstudio.core.fields import field_specs
from ftstudio.core.memory import estimate_memory
from ftstudio.core.project import TINY_MODEL, Project
from ftstudio.core.train_config import TrainConfig, load_config
from ftstudio.qt.wizard.plan import CONFIGS_KEY, HPARAM_FIELDS, STEP_FIELDS, Planner
from ftstudio.qt.wizard.values import GPU_CHOICES, GpuChoice
from tests.qt.wizard.conftest import drop_preferences


def _planner(project: Project) -> Planner:
    planner = Planner(project)
    planner.set_stats(compute_stats(load_dataset(project.dataset_path("train"))))
    return planner


def test_every_config_field_is_on_exactly_one_step() -> None:
    names = [spec.name for spec in field_specs(TrainConfig)]
    placed = [name for fields in STEP_FIELDS.values() for name in fields]
    assert sorted(placed) == sorted(names)


def test_the_project_model_and_data_are_the_starting_point(sample_project) -> None:  # noqa: ANN001
    planner = _planner(sample_project)
    assert planner.model_kind == "catalogue"
    assert planner.model_value == TINY_MODEL
    assert planner.spec is not None
    assert planner.spec.num_layers == 2
    config = planner.config()
    assert config.base_model == TINY_MODEL
    assert config.dataset == "datasets/it_support.jsonl"
    assert config.method == "qlora"
    # 77 usable examples: rank 8, alpha 16, 5 epochs, a max length from the data.
    assert (config.r, config.alpha, config.epochs) == (8, 16, 5)
    assert config.max_length == planner.advice("max_length").value < 1024
    assert planner.problems() == {}


def test_edits_stay_and_partners_follow(sample_project) -> None:  # noqa: ANN001
    planner = _planner(sample_project)
    recommended = planner.config()
    assert planner.set_text("r", "32") is None
    config = planner.config()
    assert (config.r, config.alpha) == (32, 64)  # alpha follows 2 × r while untouched
    planner.set_text("per_device_batch_size", "4")
    effective = recommended.per_device_batch_size * recommended.grad_accum
    assert planner.config().effective_batch == effective  # accumulation keeps the batch
    planner.set_method("lora")
    assert planner.config().r == 32  # the edit survives a method change
    assert planner.config().optimizer == "adamw_torch"  # unedited values follow the method
    planner.reset_to_recommended()
    assert planner.config().r == recommended.r


def test_an_invalid_text_is_kept_and_blocks_its_step(sample_project) -> None:  # noqa: ANN001
    planner = _planner(sample_project)
    before = planner.config()
    problem = planner.set_text("learning_rate", "0.5")
    assert "out of range" in problem
    assert planner.config() == before  # the last valid value stays in the configuration
    assert planner.step_problems("hyperparameters") == {"learning_rate": problem}
    assert planner.first_blocked_step() == 3
    assert planner.step_problems("model") == {}
    planner.set_text("learning_rate", "3e-4")
    assert planner.problems() == {}
    assert planner.config().learning_rate == 3e-4


def test_contradictions_are_problems_of_their_field(sample_project) -> None:  # noqa: ANN001
    planner = _planner(sample_project)
    planner.set_value("eval_steps", 0)
    assert "early stopping" in planner.step_problems("hyperparameters")["early_stopping_patience"]
    planner.set_value("early_stopping_patience", 0)
    planner.set_target_choice(())
    assert "target module" in planner.step_problems("model")["target_modules"]


def test_range_warnings_by_field(sample_project) -> None:  # noqa: ANN001
    planner = _planner(sample_project)
    assert planner.warnings() == {}
    planner.set_text("learning_rate", "1e-3")
    planner.set_text("alpha", "8")
    warnings = planner.warnings()
    assert "outside QLoRA's usual" in warnings["learning_rate"][0]
    assert "not 2 × r" in warnings["alpha"][0]


def test_target_presets_use_the_models_own_names(sample_project) -> None:  # noqa: ANN001
    planner = _planner(sample_project)
    planner.set_target_choice("minimum")
    assert planner.config().target_modules == ("q_proj", "v_proj")
    planner.choose_model("phi-3-mini-4k")
    assert planner.config().target_modules == ("qkv_proj",)
    planner.set_target_choice("full")
    assert planner.config().target_modules == ("qkv_proj", "o_proj", "gate_up_proj", "down_proj")
    planner.set_target_choice(("qkv_proj", "down_proj"))
    planner.choose_model(TINY_MODEL)  # Llama names: only what the new model has is kept
    assert planner.target_modules() == ("down_proj",)
    planner.set_target_choice(("qkv_proj",))
    planner.choose_model("phi-3-mini-4k")
    planner.choose_model(TINY_MODEL)  # nothing left: back to the recommendation
    assert planner.target_choice is None
    assert planner.target_modules() == ("q_proj", "k_proj", "v_proj", "o_proj")


def test_models_from_folder_hub_and_catalogue(sample_project, model_folder: Path) -> None:  # noqa: ANN001
    planner = Planner(sample_project)
    planner.choose_model(str(model_folder), "folder")
    assert planner.model_error == ""
    assert planner.spec.name == "my-qwen"
    assert "nothing is downloaded" in planner.model_note
    (model_folder / "tokenizer.json").unlink()
    planner.choose_model(str(model_folder), "folder")
    assert "has no tokenizer" in planner.model_error
    assert planner.step_problems("model")["base_model"] == planner.model_error
    (model_folder / "config.json").write_text('{"hidden_size": 64,')
    planner.choose_model(str(model_folder.parent), "folder")
    assert "has no config.json" in planner.model_error
    planner.choose_model("not an id", "hub")
    assert "organisation/name" in planner.model_error


def test_hub_models_offline_and_online(sample_project, monkeypatch) -> None:  # noqa: ANN001
    planner = Planner(sample_project)
    assert planner.offline is True  # the test suite runs with HF_HUB_OFFLINE=1
    planner.choose_model("Qwen/Qwen2.5-7B-Instruct", "hub")
    assert "You are offline" in planner.model_error
    assert planner.spec is not None  # still planned from the catalogue's sizes
    planner.choose_model("Qwen/Qwen2.5-7B-Instruct", "catalogue")
    assert planner.model_error == ""
    assert "you are offline now" in planner.model_note
    planner.choose_model("someone/unknown-model", "hub")
    assert "not available offline" in planner.model_error
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE")
    planner.set_offline(False)
    planner.choose_model("Qwen/Qwen2.5-7B-Instruct", "hub")
    assert planner.model_error == ""
    assert "only when training starts" in planner.model_note


def test_dpo_needs_preference_pairs(sample_project) -> None:  # noqa: ANN001
    planner = Planner(sample_project)
    assert planner.has_preferences()
    planner.set_objective("dpo")
    assert planner.config().dataset == "datasets/preferences.jsonl"
    assert planner.config().epochs == 1
    planner.set_objective("sft")
    drop_preferences(sample_project)
    planner = Planner(sample_project)
    assert not planner.has_preferences()
    with pytest.raises(ValueError, match="preference pairs"):
        planner.set_objective("dpo")


def test_missing_data_blocks_the_data_step(tmp_path, sample_project) -> None:  # noqa: ANN001
    sample_project.set("datasets", {})
    planner = Planner(sample_project)
    assert "no training examples" in planner.step_problems("data")["dataset"]
    assert Planner(None).step_problems("data") == {"dataset": "No project is open."}


def test_memory_follows_settings_and_gpu(sample_project) -> None:  # noqa: ANN001
    planner = _planner(sample_project)
    planner.choose_model("llama-3.1-8b")
    small = planner.memory()
    assert small.total_gb == pytest.approx(
        estimate_memory(planner.spec, planner.config(), 24.0).total_gb
    )
    planner.set_text("max_length", "4096")
    assert planner.memory().total_gb > small.total_gb
    planner.set_method("full")
    assert planner.memory().verdict == "won't fit"
    suggestion = planner.memory().suggestions[0]
    planner.set_gpu(GpuChoice("141 GB · H200", 141.0, "H200"))
    assert planner.memory().gpu_gb == 141.0
    planner.set_gpu(GPU_CHOICES[0])
    planner.set_method("qlora")
    planner.set_text("per_device_batch_size", "16")
    planner.set_value("gradient_checkpointing", False)
    estimate = planner.memory()
    assert estimate.verdict != "fits"
    suggestion = estimate.suggestions[0]
    planner.apply_suggestion(suggestion)
    assert planner.memory().total_gb == pytest.approx(suggestion.total_gb)


def test_time_estimate_needs_model_and_data(sample_project) -> None:  # noqa: ANN001
    planner = Planner(sample_project)
    assert planner.time_estimate() is None
    planner = _planner(sample_project)
    planner.choose_model("llama-3.1-8b")
    estimate = planner.time_estimate()
    assert estimate is not None
    assert 0 < estimate.low_s < estimate.high_s
    planner.set_value("max_steps", 1)
    assert planner.time_estimate().high_s < estimate.high_s


def test_save_writes_yaml_and_lists_it_in_the_project(sample_project) -> None:  # noqa: ANN001
    planner = _planner(sample_project)
    planner.set_text("r", "16")
    before = json.loads(sample_project.manifest_path.read_text())
    path = planner.save("first-run")
    assert path == sample_project.folder / "configs" / "first-run.yaml"
    assert load_config(path) == planner.config()
    after = json.loads(sample_project.manifest_path.read_text())
    assert after[CONFIGS_KEY] == {"first-run": "configs/first-run.yaml"}
    assert {k: v for k, v in after.items() if k != CONFIGS_KEY} == before
    planner.save("second")
    listed = json.loads(sample_project.manifest_path.read_text())[CONFIGS_KEY]
    assert listed == {"first-run": "configs/first-run.yaml", "second": "configs/second.yaml"}


def test_save_refuses_bad_names_problems_and_no_project(sample_project) -> None:  # noqa: ANN001
    planner = _planner(sample_project)
    with pytest.raises(ValueError, match="letters, digits"):
        planner.save("../escape")
    planner.set_text("epochs", "0")
    with pytest.raises(ValueError, match="Fix Epochs"):
        planner.save("bad")
    assert not (sample_project.folder / "configs").exists()
    with pytest.raises(ValueError, match="No project"):
        Planner(None).save("x")
    planner.reset_to_recommended()
    sample_project.set(CONFIGS_KEY, ["a list"])
    with pytest.raises(ValueError, match="rename that key"):
        planner.save("ok")


def test_reset_covers_only_the_hyperparameters(sample_project) -> None:  # noqa: ANN001
    planner = _planner(sample_project)
    planner.set_text("val_fraction", "0.2")
    for field in ("r", "epochs", "seed"):
        planner.set_text(field, "3")
    planner.reset_to_recommended()
    assert planner.config().val_fraction == 0.2
    assert not set(planner.edits) & set(HPARAM_FIELDS)
    assert dataclasses.replace(planner.config(), val_fraction=0.1) == dataclasses.replace(
        _planner(sample_project).config(), val_fraction=0.1
    )
