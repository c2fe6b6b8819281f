"""Recommendations from the data and the GPU, each with its reason, and range warnings."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from ftstudio.core.dataset.records import Dataset, Record
from ftstudio.core.dataset.stats import DatasetStats, compute_stats
from ftstudio.core.dataset.tokens import TokenizedExample
from ftstudio.core.models import find_entry
from ftstudio.core.recommend import (
    LEARNING_RATE_RANGES,
    format_rate,
    learning_rate_advice,
    max_length_advice,
    range_warnings,
    rank_advice,
    recommend,
)
from ftstudio.core.train_config import TrainConfig, defaults_for

LLAMA = find_entry("llama-3.1-8b").spec()
PHI = find_entry("phi-3-mini-4k").spec()
QWEN_SMALL = find_entry("qwen2.5-0.5b").spec()


class CharTokenizer:
    """One token per character of every turn; the assistant's characters are trained."""

    def tokenize_example(self, data: dict[str, Any]) -> TokenizedExample:
        ids: list[int] = []
        trained: list[bool] = []
        for message in data["messages"]:
            ids += [ord(c) % 256 for c in message["content"]]
            trained += [message["role"] == "assistant"] * len(message["content"])
        return TokenizedExample(ids, trained)


def chats(lengths: list[int]) -> Dataset:
    """One chat per length: a short question and an answer of that many characters."""
    records = []
    for line, length in enumerate(lengths, start=1):
        data = {
            "messages": [
                {"role": "user", "content": f"Question {line}?"},
                {"role": "assistant", "content": "a" * length},
            ]
        }
        records.append(Record(data=data, raw=json.dumps(data), line=line))
    return Dataset(records=records)


def stats_of(lengths: list[int], *, tokens: bool = True) -> DatasetStats:
    tokenizer = CharTokenizer() if tokens else None
    return compute_stats(chats(lengths), tokenizer=tokenizer)


def usable_only(count: int) -> DatasetStats:
    """Statistics of ``count`` usable examples (lengths do not matter here)."""
    return dataclasses.replace(stats_of([100] * 10), usable=count)


@pytest.mark.parametrize("method", ["qlora", "lora", "full"])
def test_learning_rate_is_inside_the_method_range(method: str) -> None:
    advice = learning_rate_advice(method)
    low, high = LEARNING_RATE_RANGES[("sft", method)]
    assert low <= advice.value <= high
    assert format_rate(low) in advice.why
    assert format_rate(high) in advice.why


def test_learning_rate_ranges_are_the_guides() -> None:
    assert LEARNING_RATE_RANGES[("sft", "full")] == (1e-6, 5e-5)
    assert LEARNING_RATE_RANGES[("sft", "lora")] == (1e-4, 3e-4)
    assert LEARNING_RATE_RANGES[("sft", "qlora")] == (2e-4, 5e-4)
    assert learning_rate_advice("qlora", "dpo").value < 1e-4
    assert format_rate(2e-4) == "2e-4"
    assert format_rate(1.5e-5) == "1.5e-5"


@pytest.mark.parametrize(
    ("usable", "rank"), [(80, 8), (999, 8), (1_000, 16), (9_999, 16), (50_000, 32), (200_000, 64)]
)
def test_rank_by_dataset_size_with_alpha_twice_rank(usable: int, rank: int) -> None:
    assert rank_advice(usable).value == rank
    rec = recommend(LLAMA, "qlora", usable_only(usable), 24)
    assert rec.get("r").value == rank
    assert rec.get("alpha").value == 2 * rank
    assert f"{usable:,} examples" in rec.get("r").why


def test_knowledge_tasks_get_one_rank_step_and_every_linear_layer() -> None:
    assert rank_advice(500, "knowledge").value == 16
    assert rank_advice(200_000, "knowledge").value == 64
    rec = recommend(PHI, "lora", usable_only(300), 24, task="knowledge")
    assert rec.get("target_modules").value == ("qkv_proj", "o_proj", "gate_up_proj", "down_proj")
    with pytest.raises(ValueError, match="task must be one of"):
        recommend(PHI, "lora", None, 24, task="poetry")


def test_target_modules_use_the_models_own_names() -> None:
    small = recommend(PHI, "qlora", usable_only(300), 24)
    assert small.get("target_modules").value == ("qkv_proj", "o_proj")
    large = recommend(LLAMA, "qlora", usable_only(5_000), 24)
    assert large.get("target_modules").value[-3:] == ("gate_proj", "up_proj", "down_proj")


@pytest.mark.parametrize(("usable", "epochs"), [(60, 5), (500, 3), (5_000, 2), (20_000, 1)])
def test_epochs_by_dataset_size(usable: int, epochs: int) -> None:
    rec = recommend(LLAMA, "qlora", usable_only(usable), 24)
    assert rec.get("epochs").value == epochs
    assert 1 <= epochs <= 5


def test_max_length_comes_from_the_datas_own_p99() -> None:
    # 100 answers of 100..1,090 characters, one token each plus the question's ~12.
    lengths = list(range(100, 1100, 10))
    stats = stats_of(lengths)
    advice = max_length_advice(LLAMA, stats)
    p99 = sorted(stats.token_counts)[98]
    assert advice.value % 64 == 0
    assert p99 <= advice.value < p99 + 64 + 10
    assert advice.value != 2048
    assert "99 % of your examples fit in" in advice.why
    assert sum(count > advice.value for count in stats.token_counts) <= 1


def test_max_length_from_characters_says_it_is_estimated() -> None:
    stats = stats_of([700] * 50, tokens=False)
    advice = max_length_advice(LLAMA, stats)
    assert advice.value == 256  # (700 + 11) characters / 3.5 ≈ 203 tokens → 256
    assert "Estimated from characters" in advice.why


def test_max_length_is_capped_at_the_models_context() -> None:
    advice = max_length_advice(PHI, stats_of([9000] * 20))
    assert advice.value == 4096
    assert "capped at the model's context of 4,096" in advice.why


def test_without_data_the_defaults_say_why() -> None:
    rec = recommend(LLAMA, "qlora", None, 24)
    assert rec.get("max_length").value == 1024
    assert "No measured examples yet" in rec.get("max_length").why
    assert rec.get("r").value == 16
    assert rec.get("epochs").value == 3


def test_effective_batch_is_32_to_128_and_fits_the_gpu() -> None:
    for usable in (300, 20_000, 500_000):
        rec = recommend(LLAMA, "qlora", usable_only(usable), 24)
        values = rec.values()
        effective = values["per_device_batch_size"] * values["grad_accum"]
        assert 32 <= effective <= 128
        assert rec.memory.verdict == "fits"
        assert f"effective batch of {effective}" in rec.get("grad_accum").why
    two_gpus = recommend(LLAMA, "qlora", usable_only(300), 24, devices=2).values()
    assert two_gpus["per_device_batch_size"] * two_gpus["grad_accum"] * 2 >= 32


def test_batch_shrinks_on_a_small_gpu_and_checkpointing_goes_off_when_not_needed() -> None:
    big = recommend(QWEN_SMALL, "qlora", usable_only(300), 80).values()
    long_chats = dataclasses.replace(stats_of([2000] * 20), usable=300)
    small = recommend(LLAMA, "qlora", long_chats, 12).values()
    assert big["gradient_checkpointing"] is False  # fits without it: faster
    assert small["max_length"] == 2048
    assert small["per_device_batch_size"] < 16
    assert small["per_device_batch_size"] * small["grad_accum"] == 32
    assert small["gradient_checkpointing"] is True


def test_too_big_a_model_says_so() -> None:
    rec = recommend(LLAMA, "full", usable_only(300), 24)
    assert rec.get("per_device_batch_size").value == 1
    assert rec.get("per_device_batch_size").why.startswith("Even batch 1 needs")
    assert rec.memory.suggestions
    assert rec.get("r") is None  # no LoRA advice for full fine-tuning


def test_apply_gives_a_config_without_warnings() -> None:
    stats = stats_of(list(range(100, 1100, 10)))
    for method in ("qlora", "lora", "full"):
        rec = recommend(LLAMA, method, stats, 80)
        config = rec.apply(TrainConfig())
        assert config.method == method
        assert config.optimizer == defaults_for(method).optimizer
        assert range_warnings(config, spec=LLAMA, stats=stats) == [], method
        assert all(item.why.endswith(".") for item in rec.advice)


def test_range_warnings_flag_every_value_out_of_range() -> None:
    stats = stats_of(list(range(100, 1100, 10)))
    config = dataclasses.replace(
        TrainConfig(),
        learning_rate=1e-3,
        r=4,
        alpha=32,
        dropout=0.3,
        epochs=10,
        per_device_batch_size=1,
        grad_accum=8,
        max_length=256,
        target_modules=("q_proj", "v_proj"),
    )
    warnings = {
        warning.field: warning.message for warning in range_warnings(config, spec=PHI, stats=stats)
    }
    assert set(warnings) == {
        "learning_rate", "r", "alpha", "dropout", "epochs", "grad_accum", "max_length",
        "target_modules",
    }  # fmt: skip
    assert warnings["learning_rate"].startswith("1e-3 is outside QLoRA's usual 2e-4 to 5e-4")
    assert "effective batch 1 × 8 = 8" in warnings["grad_accum"]
    assert "Phi-3 mini 4k has no q_proj, v_proj" in warnings["target_modules"]
    assert "cuts" in warnings["max_length"]


def test_range_warnings_for_full_skip_lora_fields_and_check_context() -> None:
    config = dataclasses.replace(defaults_for("full"), r=2, alpha=1, max_length=8192)
    warnings = {w.field: w.message for w in range_warnings(config, spec=PHI)}
    assert set(warnings) == {"max_length"}
    assert "longer than Phi-3 mini 4k's context of 4,096" in warnings["max_length"]
    high = dataclasses.replace(defaults_for("full"), learning_rate=1e-4)
    assert "Full fine-tuning's usual 1e-6 to 5e-5" in str(range_warnings(high)[0])
