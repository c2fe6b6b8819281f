"""Model shapes from config.json values: sizes, parameter counts, real layer names."""

from __future__ import annotations

from typing import Any

import pytest

from ftstudio.core.models import (
    ModelError,
    preset_of,
    spec_from_config,
    target_module_presets,
    unknown_target_modules,
)


def llama_like(**overrides: Any) -> dict[str, Any]:
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
        "vocab_size": 32000,
        "tie_word_embeddings": False,
    }
    config.update(overrides)
    return config


def test_llama_2_7b_counts_its_published_6_74b_parameters() -> None:
    spec = spec_from_config(llama_like(), name="Llama-2-7B")
    assert spec.parameters == 6_738_415_616  # Llama-2-7b-hf's model.num_parameters()
    assert spec.linear_parameters == 6_476_005_376
    assert spec.known
    assert spec.caveat is None


def test_llama_family_has_separate_projections_with_gqa_shapes() -> None:
    spec = spec_from_config(llama_like(num_key_value_heads=8, intermediate_size=14336), name="x")
    shapes = {layer.name: (layer.d_in, layer.d_out) for layer in spec.linear_layers()}
    assert shapes == {
        "q_proj": (4096, 4096),
        "k_proj": (4096, 1024),
        "v_proj": (4096, 1024),
        "o_proj": (4096, 4096),
        "gate_proj": (4096, 14336),
        "up_proj": (4096, 14336),
        "down_proj": (14336, 4096),
    }


def test_phi3_presets_use_its_fused_layers() -> None:
    spec = spec_from_config(
        llama_like(model_type="phi3", architectures=["Phi3ForCausalLM"], hidden_size=3072),
        name="phi",
    )
    presets = target_module_presets(spec)
    assert presets == {
        "minimum": ["qkv_proj"],
        "recommended": ["qkv_proj", "o_proj"],
        "full": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
    }
    qkv = spec.linear_layers()[0]
    assert (qkv.name, qkv.d_out) == ("qkv_proj", 3 * 3072)
    assert unknown_target_modules(spec, ["q_proj", "o_proj"]) == ["q_proj"]


def test_llama_presets_and_preset_of() -> None:
    spec = spec_from_config(llama_like(), name="x")
    presets = target_module_presets(spec)
    assert presets["minimum"] == ["q_proj", "v_proj"]
    assert presets["recommended"] == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert presets["full"][4:] == ["gate_proj", "up_proj", "down_proj"]
    assert preset_of(spec, ("v_proj", "q_proj")) == "minimum"
    assert preset_of(spec, ["q_proj"]) is None


def test_unknown_architecture_is_read_llama_style_with_a_caveat() -> None:
    config = {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "n_embd": 768,
        "n_layer": 12,
        "n_head": 12,
        "vocab_size": 50257,
    }
    spec = spec_from_config(config, name="gpt2")
    assert (spec.hidden_size, spec.num_layers, spec.num_heads, spec.num_kv_heads) == (
        768,
        12,
        12,
        12,
    )
    assert spec.intermediate_size == 4 * 768  # the usual MLP width when the config has none
    assert spec.tie_word_embeddings  # transformers' default for unknown families
    assert not spec.known
    assert "GPT2LMHeadModel" in spec.caveat
    assert "±15 %" in spec.caveat


def test_multimodal_configs_are_read_from_text_config() -> None:
    config = {
        "architectures": ["SomethingForConditionalGeneration"],
        "model_type": "something_vl",
        "text_config": llama_like(model_type="qwen2"),
    }
    spec = spec_from_config(config, name="vl")
    assert spec.model_type == "qwen2"
    assert spec.hidden_size == 4096
    assert spec.known


def test_family_defaults_fill_a_missing_tie_word_embeddings() -> None:
    gemma = llama_like(model_type="gemma2")
    del gemma["tie_word_embeddings"]
    assert spec_from_config(gemma, name="g").tie_word_embeddings
    llama = llama_like()
    del llama["tie_word_embeddings"]
    assert not spec_from_config(llama, name="l").tie_word_embeddings


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"hidden_size": None}, "has no 'hidden_size' (nor 'n_embd', 'd_model')"),
        ({"num_hidden_layers": "32"}, "'num_hidden_layers' must be a positive whole number"),
        ({"vocab_size": 0}, "'vocab_size' must be a positive whole number, not 0"),
        ({"num_attention_heads": True}, "'num_attention_heads' must be a positive whole number"),
    ],
)
def test_missing_or_wrong_sizes_name_the_file_and_key(change: dict, words: str) -> None:
    config = llama_like(**change)
    if change.get("hidden_size", 1) is None:
        del config["hidden_size"]
    with pytest.raises(ModelError) as caught:
        spec_from_config(config, name="x", where="/models/x/config.json")
    assert str(caught.value).startswith("/models/x/config.json")
    assert words in str(caught.value)
