"""The training configuration: help and bounds on every field, YAML that round-trips,
and every problem of a bad file listed at once, by key and line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from ftstudio.core.fields import ConfigError, check_value, field_specs
from ftstudio.core.train_config import (
    METHODS,
    OPTIMIZERS,
    TrainConfig,
    config_problems,
    config_to_yaml,
    defaults_for,
    load_config,
    save_config,
)

REQUIRED_FIELDS = {
    "base_model",
    "dataset",
    "val_fraction",
    "method",
    "objective",
    "r",
    "alpha",
    "dropout",
    "target_modules",
    "learning_rate",
    "lr_scheduler",
    "warmup_ratio",
    "epochs",
    "max_steps",
    "per_device_batch_size",
    "grad_accum",
    "max_length",
    "gradient_checkpointing",
    "packing",
    "assistant_only_loss",
    "precision",
    "optimizer",
    "eval_steps",
    "early_stopping_patience",
    "save_steps",
    "seed",
    "output_dir",
}


def test_every_field_has_help_and_a_valid_default() -> None:
    specs = field_specs(TrainConfig)
    assert {spec.name for spec in specs} >= REQUIRED_FIELDS
    for spec in specs:
        assert len(spec.help) > 20, spec.name
        assert check_value(spec, spec.default) is None, spec.name
        numeric = spec.type in (int, float)
        assert not numeric or (spec.minimum is not None and spec.maximum is not None), spec.name
    choices = {spec.name: spec.choices for spec in specs}
    assert choices["method"] == ("qlora", "lora", "full")
    assert choices["objective"] == ("sft", "dpo")
    assert choices["precision"] == ("bf16", "fp16", "fp32")
    assert set(choices["optimizer"]) == set(OPTIMIZERS)
    assert choices["lr_scheduler"] == ("cosine", "linear", "constant")


def test_defaults_are_qlora_with_a_paged_optimizer() -> None:
    config = TrainConfig()
    assert config.method == "qlora"
    assert config.optimizer.startswith("paged_adamw")
    assert config.alpha == 2 * config.r
    assert config.effective_batch == 32
    assert config_problems(config) == []


@pytest.mark.parametrize(
    ("method", "low", "high"), [("qlora", 2e-4, 5e-4), ("lora", 1e-4, 3e-4), ("full", 1e-6, 5e-5)]
)
def test_per_method_defaults_sit_in_the_method_range(method: str, low: float, high: float):
    config = defaults_for(method)
    assert config.method == method
    assert low <= config.learning_rate <= high
    assert config_problems(config) == []


def test_full_uses_an_8bit_optimizer_and_dpo_a_smaller_rate() -> None:
    assert defaults_for("full").optimizer == "paged_adamw_8bit"
    assert defaults_for("lora").optimizer == "adamw_torch"
    dpo = defaults_for("qlora", "dpo")
    assert dpo.objective == "dpo"
    assert dpo.learning_rate < defaults_for("qlora").learning_rate
    assert dpo.epochs == 1
    with pytest.raises(ValueError, match="Unknown method 'prefix'"):
        defaults_for("prefix")


@pytest.mark.parametrize("method", METHODS)
def test_save_and_load_round_trip(tmp_path: Path, method: str) -> None:
    config = dataclasses.replace(
        defaults_for(method),
        base_model="meta-llama/Llama-3.1-8B-Instruct",
        dataset="datasets/support chats.jsonl",
        target_modules=("qkv_proj", "o_proj"),
        learning_rate=1.5e-5,
        output_dir="",
    )
    path = save_config(config, tmp_path / "run.yaml")
    assert load_config(path) == config
    assert not [p for p in tmp_path.iterdir() if p.name != "run.yaml"]  # no temp file left


def test_saved_file_has_a_header_and_each_key_under_its_help(tmp_path: Path) -> None:
    text = save_config(TrainConfig(), tmp_path / "plan.yaml").read_text(encoding="utf-8")
    assert text.startswith("# ftstudio training configuration")
    assert "# Run it with: ftstudio train plan.yaml" in text
    lines = text.splitlines()
    at = lines.index("learning_rate: 0.0002")
    assert lines[at - 2].startswith("# Learning rate: How big each update step is")
    assert "target_modules: [q_proj, k_proj, v_proj, o_proj]" in lines
    assert all(len(line) <= 100 for line in lines)
    # Plain YAML readers get the same values.
    assert yaml.safe_load(text)["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]


def test_hand_written_file_with_exponent_rates_and_method_defaults(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("method: full\nepochs: 2\nwarmup_ratio: 1e-1\n", encoding="utf-8")
    config = load_config(path)
    assert config.warmup_ratio == 0.1  # YAML 1.1 would read "1e-1" as text
    assert config.learning_rate == defaults_for("full").learning_rate
    assert config.optimizer == "paged_adamw_8bit"
    assert config.epochs == 2
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    assert load_config(empty) == TrainConfig()


def test_every_problem_is_listed_at_once_by_key_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "method: lora\n"
        "learning_rate: 2e-4\n"
        "lerning_rate: 3e-4\n"
        "r: -3\n"
        "precision: fp8\n"
        "epochs: two\n"
        "target_modules: q_proj\n"
        "packing: yes please\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = {problem.key: problem.message for problem in caught.value.problems}
    assert set(problems) == {
        "lerning_rate",
        "r",
        "precision",
        "epochs",
        "target_modules",
        "packing",
    }
    assert problems["lerning_rate"].startswith("line 3: unknown key")
    assert problems["r"] == "line 4: -3 is below the minimum 1"
    assert problems["precision"] == "line 5: 'fp8' is not one of 'bf16', 'fp16', 'fp32'"
    assert problems["epochs"] == 'line 6: expected a whole number, got text "two"'
    assert problems["target_modules"].startswith("line 7: expected a list of text")
    assert problems["packing"].startswith("line 8: expected true or false")
    assert str(path) in str(caught.value)


def test_contradicting_settings_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "dpo.yaml"
    path.write_text(
        "objective: dpo\npacking: true\nval_fraction: 0\ntarget_modules: []\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = {problem.key: problem.message for problem in caught.value.problems}
    assert problems["packing"].startswith("line 2: DPO trains on chosen/rejected pairs")
    assert "needs val_fraction above 0" in problems["early_stopping_patience"]
    assert "at least one target module" in problems["target_modules"]


def test_keys_given_twice_and_yaml_syntax_errors(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text("r: 8\nalpha: 16\nr: 32\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"r: given twice \(lines 1 and 3\)"):
        load_config(path)
    path.write_text("method: lora\n  r: [8\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems[0].key == "(file)"
    assert caught.value.problems[0].message.startswith("line 2, column 4:")
    path.write_text("- method: lora\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected keys and values"):
        load_config(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\(file\): does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_yaml_text_never_wraps_long_values() -> None:
    config = dataclasses.replace(TrainConfig(), dataset="datasets/" + "x" * 150 + ".jsonl")
    text = config_to_yaml(config)
    assert f"dataset: {config.dataset}" in text.splitlines()
