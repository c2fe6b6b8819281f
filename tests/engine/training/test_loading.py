"""Device plan and model loading: CPU fallbacks, 4-bit layers without the CPU repack."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ftstudio.core.train_config import TrainConfig
from ftstudio.engine.training.loading import (
    disable_cpu_repack,
    load_model,
    lora_config,
    plan_device,
)

CPU_ONLY = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallbacks")


@CPU_ONLY
def test_the_cpu_plan_says_what_it_changed() -> None:
    plan = plan_device(TrainConfig(precision="bf16", optimizer="paged_adamw_32bit"))
    assert (plan.device, plan.precision, plan.optimizer) == ("cpu", "fp32", "adamw_torch")
    assert plan.dtype == torch.float32
    assert not plan.bf16
    assert not plan.fp16
    assert any("fp32 instead of bf16" in note for note in plan.notes)
    assert any("paged_adamw_32bit needs a GPU" in note for note in plan.notes)
    quiet = plan_device(TrainConfig(precision="fp32", optimizer="adamw_torch"))
    assert quiet.notes == ()
    flash = plan_device(TrainConfig(precision="fp32", attn_implementation="flash_attention_2"))
    assert flash.attention == "sdpa"


def test_lora_settings() -> None:
    assert lora_config(TrainConfig(method="full")) is None
    lora = lora_config(TrainConfig(method="qlora", r=8, alpha=16, dropout=0.1))
    assert (lora.r, lora.lora_alpha, lora.lora_dropout) == (8, 16, 0.1)
    assert set(lora.target_modules) == {"q_proj", "k_proj", "v_proj", "o_proj"}


@CPU_ONLY
def test_qlora_loads_4_bit_layers_without_the_cpu_repack(tiny_model_dir: Path) -> None:
    import bitsandbytes as bnb

    config = TrainConfig(method="qlora", precision="fp32", gradient_checkpointing=False)
    model = load_model(str(tiny_model_dir), config, plan_device(config))
    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(layers) == 14  # 2 layers × (q, k, v, o, gate, up, down)
    assert all(layer.support_avx512bf16_for_cpu is False for layer in layers)
    assert all(layer.weight.quant_state.quant_type == "nf4" for layer in layers)
    assert layers[0].weight.quant_state.nested  # double quantisation
    assert model.config.use_cache is False
    assert disable_cpu_repack(model) == 14
