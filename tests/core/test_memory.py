"""The memory estimate against published measured peaks, its parts, verdicts and fixes,
and the time estimate against published throughput."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftstudio.core.memory import (
    GIB,
    LABELS,
    MemoryInputs,
    estimate_memory,
    estimate_time,
    flops_per_token,
    format_duration,
    gpu_class_for,
    lora_parameters,
    verdict_for,
)
from ftstudio.core.models import find_entry, spec_from_config
from ftstudio.core.train_config import defaults_for

TOLERANCE = 0.15

# Llama-2-7B's config.json (meta-llama/Llama-2-7b-hf): MHA, 32k vocabulary.
LLAMA_2_7B = spec_from_config(
    {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
        "vocab_size": 32000,
        "tie_word_embeddings": False,
    },
    name="Llama-2-7B",
)
LLAMA_31_8B = find_entry("llama-3.1-8b").spec()
ALL_LINEAR = tuple(LLAMA_31_8B.target_module_presets()["full"])


# LLaMA-Factory wiki, "Performance comparison" (github.com/hiyouga/LLaMA-Factory/wiki),
# quoted in ../shared/notes/performance-reliability.md §1.3: LLaMA2-7B, 4-bit (bitsandbytes),
# LoRA rank 8 on all modules, batch 1, FlashAttention-2, GPU memory in GB by sequence length.
# LLaMA-Factory trains with transformers' own loss and does not call PEFT's
# prepare_model_for_kbit_training, so: loss_kernel "standard", kbit_upcast False. Its
# figures are the GPU's usage, so they are compared with the total (context included).
@pytest.mark.parametrize(
    ("tokens", "measured_gb"),
    [(1024, 6), (2048, 7), (4096, 9), (8192, 12), (16384, 19), (32768, 32)],
)
def test_llama_factory_4bit_memory_by_length(tokens: int, measured_gb: float) -> None:
    inputs = MemoryInputs(
        method="qlora",
        r=8,
        target_modules=tuple(LLAMA_2_7B.target_module_presets()["full"]),
        max_length=tokens,
        batch=1,
        attention="flash_attention_2",
        kbit_upcast=False,
        loss_kernel="standard",
    )
    estimate = estimate_memory(LLAMA_2_7B, inputs, gpu_gb=80)
    assert estimate.total_gb == pytest.approx(measured_gb, rel=TOLERANCE)


# torchtune README, "Memory and training speed" (github.com/pytorch/torchtune), quoted in
# the notes §1.3: Llama 3.1 8B QLoRA on one RTX 4090, batch 2, dataset packed to 2048
# tokens, torch.compile: peak 7.4 GiB. Its config (llama3_1/8B_qlora_single_device.yaml):
# rank 8 on q/k/v/output and the MLP, activation checkpointing, chunked cross-entropy
# (CEWithChunkedOutputLoss), no PEFT upcast. torchtune logs PyTorch's allocator peak
# (training.get_memory_stats), which leaves out the CUDA context and cached blocks, so it is
# compared with allocated_gb.
def test_torchtune_llama_31_8b_qlora_peak() -> None:
    inputs = MemoryInputs(
        method="qlora",
        r=8,
        target_modules=ALL_LINEAR,
        max_length=2048,
        batch=2,
        optimizer="adamw_torch",
        kbit_upcast=False,
        loss_kernel="chunked",
    )
    estimate = estimate_memory(LLAMA_31_8B, inputs, gpu_gb=24)
    assert estimate.allocated_gb == pytest.approx(7.4, rel=TOLERANCE)
    assert estimate.allocated_gb < estimate.total_gb


# ftstudio's own engine on an NVIDIA H200 (tests/bench/gpu_check.py, 2026-11-30): a
# randomly initialised Llama-3-8B shape, QLoRA (NF4, double quantisation, bf16 compute,
# PEFT's upcast), r 16 on q/k/v/o, batch 2 × 2048 tokens, gradient checkpointing, sdpa,
# paged AdamW, trl 1.16's fused LM head: torch.cuda.max_memory_allocated 11.22 GiB;
# 7.46 GiB allocated between steps (weights, adapters, optimizer state).
def test_ftstudio_engine_qlora_peak_measured_on_an_h200() -> None:
    inputs = MemoryInputs(method="qlora", r=16, max_length=2048, batch=2)
    estimate = estimate_memory(LLAMA_31_8B, inputs, gpu_gb=139.8)
    assert estimate.allocated_gb == pytest.approx(11.22, rel=0.05)
    steady = (
        sum(
            estimate.breakdown[key]
            for key in ("weights", "quant_constants", "embeddings", "fp32_upcast", "adapters")
        )
        + estimate.breakdown["gradients"]
        + estimate.breakdown["optimizer"]
    )
    assert steady == pytest.approx(7.46, rel=0.05)


def test_worked_example_of_the_notes_and_the_128k_logits() -> None:
    # Notes §1.5 worked example: Llama-3-8B, r16 all linear, 2048 tokens, batch 4, FA2:
    # 4-bit weights + constants 3.60 GB, embeddings + lm_head 2.10 GB, LoRA 41.9M params,
    # logits 10.5 GB (decimal GB), total 20.7–22.8 → OOM risk on 24 GB with the standard loss.
    inputs = MemoryInputs(
        r=16,
        target_modules=ALL_LINEAR,
        max_length=2048,
        batch=4,
        attention="flash_attention_2",
        kbit_upcast=False,
        loss_kernel="standard",
    )
    estimate = estimate_memory(LLAMA_31_8B, inputs, gpu_gb=24)
    parts = {key: value * GIB / 1e9 for key, value in estimate.breakdown.items()}
    assert parts["weights"] + parts["quant_constants"] == pytest.approx(3.60, abs=0.01)
    assert parts["embeddings"] == pytest.approx(2.10, abs=0.01)
    assert lora_parameters(LLAMA_31_8B, 16, ALL_LINEAR) == 41_943_040
    assert parts["logits"] == pytest.approx(10.5, abs=0.05)
    assert estimate.verdict == "tight"
    assert max(estimate.breakdown, key=estimate.breakdown.get) == "logits"
    # TRL's fused LM head (the loss ftstudio trains with) never holds the full logits.
    fused = estimate_memory(LLAMA_31_8B, dataclasses.replace(inputs, loss_kernel="fused"), 24)
    assert fused.breakdown["logits"] < 1.0
    assert fused.verdict == "fits"


def test_qlora_parts() -> None:
    base = MemoryInputs(target_modules=ALL_LINEAR, kbit_upcast=False)
    plain = estimate_memory(LLAMA_31_8B, base).breakdown
    single = estimate_memory(LLAMA_31_8B, dataclasses.replace(base, double_quant=False)).breakdown
    upcast = estimate_memory(LLAMA_31_8B, dataclasses.replace(base, kbit_upcast=True)).breakdown
    linear = LLAMA_31_8B.linear_parameters
    assert plain["weights"] == pytest.approx(linear * 0.5 / GIB)
    # Double quantisation: 0.127 instead of 0.5 bit per weight for the constants.
    assert plain["quant_constants"] == pytest.approx(linear * 0.127 / 8 / GIB, rel=0.01)
    assert single["quant_constants"] == pytest.approx(linear * 0.5 / 8 / GIB)
    # prepare_model_for_kbit_training casts embeddings, lm_head and norms to fp32 (+2.1 GB).
    assert upcast["fp32_upcast"] * GIB / 1e9 == pytest.approx(2.10, abs=0.01)
    assert plain["fp32_upcast"] == 0
    # LoRA: fp32 weight + fp32 gradient + two fp32 Adam states.
    lora = lora_parameters(LLAMA_31_8B, 16, ALL_LINEAR)
    assert plain["adapters"] == plain["gradients"] == pytest.approx(lora * 4 / GIB)
    assert plain["optimizer"] == pytest.approx(lora * 8 / GIB)


def test_full_fine_tuning_counts_every_weight() -> None:
    spec = find_entry("qwen2.5-0.5b").spec()
    inputs = dataclasses.replace(MemoryInputs.from_config(defaults_for("full")), batch=1)
    parts = estimate_memory(spec, inputs).breakdown
    assert parts["weights"] + parts["embeddings"] == pytest.approx(spec.parameters * 2 / GIB)
    assert parts["gradients"] == pytest.approx(spec.parameters * 2 / GIB)
    assert parts["optimizer"] == pytest.approx(spec.parameters * 2 / GIB)  # 8-bit Adam
    torch_adam = estimate_memory(spec, dataclasses.replace(inputs, optimizer="adamw_torch"))
    assert torch_adam.breakdown["optimizer"] == pytest.approx(spec.parameters * 4 / GIB)
    assert parts["quant_constants"] == parts["adapters"] == 0


def test_checkpointing_and_attention_kernels() -> None:
    inputs = MemoryInputs(max_length=4096, batch=1)
    on = estimate_memory(LLAMA_31_8B, inputs, 80).breakdown
    off = estimate_memory(
        LLAMA_31_8B, dataclasses.replace(inputs, gradient_checkpointing=False), 80
    ).breakdown
    assert off["activations"] > 10 * on["activations"]
    assert off["recompute"] == 0 < on["recompute"]
    eager = estimate_memory(LLAMA_31_8B, dataclasses.replace(inputs, attention="eager"), 80)
    # One layer's s² score matrices at checkpointing, in fp32 (QLoRA's upcast stream).
    scores = 5 * 32 * 4096**2 * 2 / GIB
    assert eager.breakdown["recompute"] - on["recompute"] == pytest.approx(scores)


def test_dpo_doubles_the_sequences_and_full_dpo_keeps_a_reference() -> None:
    sft = estimate_memory(LLAMA_31_8B, MemoryInputs(batch=2)).breakdown
    dpo = estimate_memory(LLAMA_31_8B, MemoryInputs(batch=2, objective="dpo")).breakdown
    assert dpo["activations"] == pytest.approx(2 * sft["activations"])
    assert dpo["reference"] == 0  # the adapter-free base is the reference
    full = MemoryInputs(method="full", objective="dpo", optimizer="adamw_8bit")
    reference = estimate_memory(LLAMA_31_8B, full).breakdown["reference"]
    assert reference == pytest.approx(LLAMA_31_8B.parameters * 2 / GIB)


def test_verdicts() -> None:
    assert verdict_for(20.0, 0.0, 24.0) == "fits"
    assert verdict_for(23.0, 0.0, 24.0) == "tight"
    assert verdict_for(26.0, 3.0, 24.0) == "tight"  # paged states move to CPU memory
    assert verdict_for(26.0, 0.0, 24.0) == "won't fit"


def test_suggestions_are_checked_by_estimating_again() -> None:
    inputs = MemoryInputs(
        method="lora", optimizer="adamw_torch", r=64, max_length=4096, batch=8, grad_accum=4
    )
    estimate = estimate_memory(LLAMA_31_8B, inputs, gpu_gb=24)
    assert estimate.verdict == "won't fit"
    assert not estimate.fits
    assert estimate.suggestions
    kinds = [suggestion.kind for suggestion in estimate.suggestions]
    assert kinds[0] == "batch"  # the cheapest: same effective batch, no quality change
    for suggestion in estimate.suggestions:
        changed = dataclasses.replace(inputs, **suggestion.changes)
        again = estimate_memory(LLAMA_31_8B, changed, gpu_gb=24)
        assert again.verdict == "fits", suggestion.text
        assert again.total_gb == pytest.approx(suggestion.total_gb)
    batch = estimate.suggestions[0]
    assert batch.changes["batch"] * batch.changes["grad_accum"] == 8 * 4
    assert batch.text.startswith("Batch ")
    assert "GB of 24 GB" in batch.text


def test_suggestion_turns_on_checkpointing_and_switches_method() -> None:
    inputs = MemoryInputs(
        method="lora", optimizer="adamw_torch", batch=1, grad_accum=32, max_length=1024,
        gradient_checkpointing=False,
    )  # fmt: skip
    estimate = estimate_memory(LLAMA_31_8B, inputs, gpu_gb=24)
    by_kind = {suggestion.kind: suggestion for suggestion in estimate.suggestions}
    # QLoRA is not offered: its fp32 activations (PEFT's upcast) without checkpointing
    # would need more than LoRA's bf16 ones save.
    assert list(by_kind) == ["checkpointing", "length"]
    assert by_kind["checkpointing"].changes == {"gradient_checkpointing": True}
    assert by_kind["length"].changes["max_length"] < 1024
    # On 20 GB no single change is enough for "fits"; checkpointing alone lets it start.
    small = estimate_memory(LLAMA_31_8B, inputs, gpu_gb=20)
    assert [suggestion.kind for suggestion in small.suggestions] == ["checkpointing"]
    # Short examples: the 4-bit weights' saving outweighs the activations, so QLoRA helps.
    short = estimate_memory(LLAMA_31_8B, dataclasses.replace(inputs, max_length=256), 20)
    by_kind = {suggestion.kind: suggestion for suggestion in short.suggestions}
    assert list(by_kind) == ["checkpointing", "method"]
    assert by_kind["method"].changes == {"method": "qlora", "optimizer": "paged_adamw_32bit"}
    assert by_kind["method"].text.startswith("QLoRA instead of LoRA: ")


def test_hopeless_run_gets_one_combined_suggestion() -> None:
    inputs = MemoryInputs(method="full", optimizer="adamw_torch", batch=4, max_length=8192)
    estimate = estimate_memory(LLAMA_31_8B, inputs, gpu_gb=12)
    assert len(estimate.suggestions) == 1
    combined = estimate.suggestions[0]
    assert combined.kind == "batch+optimizer+length+method"
    assert combined.changes["method"] == "qlora"
    assert combined.changes["batch"] == 1
    again = estimate_memory(LLAMA_31_8B, dataclasses.replace(inputs, **combined.changes), 12)
    assert again.fits
    assert again.total_gb == pytest.approx(combined.total_gb)
    # An 8B model cannot train on 8 GB with any of the changes: the suggestion says so.
    hopeless = estimate_memory(LLAMA_31_8B, inputs, gpu_gb=8).suggestions
    assert hopeless[0].text.endswith("still too much; choose a smaller model or a larger GPU.")


def test_unknown_architecture_still_gets_an_estimate_with_a_caveat() -> None:
    spec = spec_from_config(
        {"model_type": "mystery", "hidden_size": 2048, "num_hidden_layers": 24,
         "num_attention_heads": 16, "vocab_size": 50000},
        name="Mystery",
    )  # fmt: skip
    estimate = estimate_memory(spec, MemoryInputs(), 24)
    assert estimate.total_gb > 0
    assert any("does not know the architecture mystery" in caveat for caveat in estimate.caveats)


def test_unknown_target_modules_are_a_caveat() -> None:
    phi = find_entry("phi-3-mini-4k").spec()
    estimate = estimate_memory(phi, MemoryInputs(target_modules=("q_proj", "qkv_proj")))
    assert any("q_proj is not among" in caveat for caveat in estimate.caveats)


def test_json_and_rows() -> None:
    estimate = estimate_memory(LLAMA_31_8B, MemoryInputs(), 24)
    report = estimate.to_json()
    assert set(report) == {"total_gb", "gpu_gb", "fits", "verdict", "breakdown", "suggestions",
                           "caveats"}  # fmt: skip
    assert set(report["breakdown"]) == set(LABELS)
    assert report["total_gb"] == pytest.approx(sum(report["breakdown"].values()), abs=0.05)
    rows = estimate.rows()
    assert rows[0][1] == "Linear-layer weights (4-bit NF4)"
    assert all(gb > 0 for _, _, gb in rows)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="batch must be at least 1"):
        estimate_memory(LLAMA_31_8B, MemoryInputs(batch=0))
    with pytest.raises(ValueError, match="method must be one of"):
        estimate_memory(LLAMA_31_8B, MemoryInputs(method="prefix"))
    with pytest.raises(ValueError, match="above 0 GB"):
        estimate_memory(LLAMA_31_8B, MemoryInputs(), gpu_gb=0)


def test_train_config_is_accepted_directly() -> None:
    config = defaults_for("lora")
    assert estimate_memory(LLAMA_31_8B, config).total_gb == pytest.approx(
        estimate_memory(LLAMA_31_8B, MemoryInputs.from_config(config)).total_gb
    )


MODELS = [entry.spec() for entry in (find_entry(name) for name in ("llama-3.1-8b", "phi-3-mini-4k",
                                                                   "gemma-2-2b"))]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    method=st.sampled_from(("qlora", "lora", "full")),
    objective=st.sampled_from(("sft", "dpo")),
    checkpointing=st.booleans(),
    attention=st.sampled_from(("sdpa", "eager")),
    loss=st.sampled_from(("fused", "standard", "chunked")),
    length=st.integers(16, 16384),
    batch=st.integers(1, 16),
    r=st.integers(1, 128),
    more_length=st.integers(0, 4096),
    more_batch=st.integers(0, 8),
    more_r=st.integers(0, 64),
)
def test_more_length_batch_or_rank_never_lowers_the_estimate(
    model, method, objective, checkpointing, attention, loss, length, batch, r,
    more_length, more_batch, more_r,
) -> None:  # fmt: skip
    inputs = MemoryInputs(
        method=method,
        objective=objective,
        gradient_checkpointing=checkpointing,
        attention=attention,
        loss_kernel=loss,
        max_length=length,
        batch=batch,
        r=r,
        target_modules=tuple(model.target_module_presets()["full"]),
    )
    before = estimate_memory(model, inputs, 1000).total_gb
    for change in (
        {"max_length": length + more_length},
        {"batch": batch + more_batch},
        {"r": r + more_r},
        {"max_length": length + more_length, "batch": batch + more_batch, "r": r + more_r},
    ):
        after = estimate_memory(model, dataclasses.replace(inputs, **change), 1000).total_gb
        assert after >= before


# ---------------------------------------------------------------------------- time


def test_gpu_classes_from_driver_names() -> None:
    assert gpu_class_for("NVIDIA GeForce RTX 4090") == "RTX 4090"
    assert gpu_class_for("NVIDIA A100-SXM4-80GB") == "A100"
    assert gpu_class_for("NVIDIA L4") == "L4"
    assert gpu_class_for("NVIDIA L40S") is None  # not an L4
    assert gpu_class_for("NVIDIA H200") == "H200"


def test_flops_per_token_anchors() -> None:
    # Notes §1.4: N ≈ 7.5B matmul weights for Llama-3-8B (lm_head included); 4N for LoRA.
    assert flops_per_token(LLAMA_31_8B, "qlora") / 4 == pytest.approx(7.5e9, rel=0.01)
    assert flops_per_token(LLAMA_31_8B, "full") == pytest.approx(
        1.5 * flops_per_token(LLAMA_31_8B, "lora")
    )
    assert flops_per_token(LLAMA_31_8B, "lora", "dpo") == 1.5 * flops_per_token(LLAMA_31_8B, "lora")


def test_time_range_holds_the_published_hf_bitsandbytes_throughput() -> None:
    # LLaMA-Factory wiki (notes §1.3): HF + bitsandbytes 4-bit on an A100, LLaMA2-7B:
    # 2,415 tokens per GPU per second.
    estimate = estimate_time(2415 * 3600, 1, LLAMA_2_7B, "qlora", "A100")
    slow, fast = estimate.tokens_per_s
    assert slow <= 2415 <= fast
    assert estimate.low_s <= 3600 <= estimate.high_s


def test_time_for_the_notes_example_on_a_4090() -> None:
    # Notes §1.4: 2,000 chats × 600 tokens × 3 epochs ≈ 36 min on a 4090 at 30 % MFU.
    estimate = estimate_time(2000 * 600, 3, LLAMA_31_8B, "qlora", "RTX 4090")
    assert estimate.low_s <= 36 * 60 <= estimate.high_s
    assert estimate.tokens == 3_600_000
    assert estimate.text().startswith("about ")
    assert " to " in estimate.text()
    assert not estimate.caveats


def test_unknown_gpu_is_assumed_a_3090_and_said_so() -> None:
    estimate = estimate_time(1_000_000, 1, LLAMA_31_8B, "lora", "Mystery GPU")
    assert estimate.gpu_class == "RTX 3090"
    assert "not in ftstudio's table" in estimate.caveats[0]
    faster = estimate_time(1_000_000, 1, LLAMA_31_8B, "lora", "H100")
    assert faster.high_s < estimate.low_s


def test_format_duration() -> None:
    assert format_duration(10) == "1 min"
    assert format_duration(45 * 60) == "45 min"
    assert format_duration(150 * 60) == "2.5 h"
