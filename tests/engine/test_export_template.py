"""Chat-template shapes: learnt by rendering, checked by re-assembly, made Ollama templates."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import PreTrainedTokenizerFast

from ftstudio.engine.chat_mask import load_tokenizer
from ftstudio.engine.export.ollama import choose_template, render_mistral
from ftstudio.engine.export.template import (
    TemplateShape,
    analyse_template,
    family,
    ollama_template,
    stop_strings,
    stop_token_ids,
)
from tests.engine.templates import FAMILIES
from tests.engine.test_chat_mask import build_tokenizer

CONVERSATIONS = [
    [{"role": "user", "content": "My printer is offline."}],
    [
        {"role": "system", "content": "You are the helpdesk."},
        {"role": "user", "content": "VPN drops."},
        {"role": "assistant", "content": "Restart the client."},
        {"role": "user", "content": "Still drops."},
    ],
]


@pytest.fixture(scope="module")
def by_family() -> dict[str, PreTrainedTokenizerFast]:
    return {f.name: build_tokenizer(f) for f in FAMILIES}


def test_tiny_model_template_shape(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    shape = analyse_template(tokenizer)
    assert shape == TemplateShape(
        bos="<s>",
        system_prefix="<|system|>\n",
        system_suffix="<|end|>",
        user_prefix="<|user|>\n",
        user_suffix="<|end|>",
        assistant_prefix="<|assistant|>\n",
        assistant_suffix="<|end|>",
        generation_prompt="<|assistant|>\n",
        supports_system=True,
        verified=True,
    )
    assert stop_strings(shape, tokenizer) == ["<|end|>"]
    assert stop_token_ids(shape, tokenizer, extra=[1, 7]) == [1, 7]
    template = ollama_template(shape, with_bos=True)
    assert template.startswith('{{ "<s>" }}\n{{- if .System }}{{ "<|system|>\\n" }}{{ .System }}')
    assert '{{- if eq .Role "user" }}{{ "<|user|>\\n" }}{{ .Content }}{{ "<|end|>" }}' in template
    assert '{{- if not $last }}{{ "<|end|>" }}{{ end }}' in template
    assert "<s>" not in ollama_template(shape, with_bos=False)


@pytest.mark.parametrize(
    ("name", "how", "stops"),
    [
        ("llama3", "checked", ["<|eot_id|>", "<|end_of_text|>"]),
        ("llama3.1", "checked", ["<|eot_id|>"]),
        ("qwen2.5", "checked", ["<|im_end|>"]),
        ("mistral-v0.1", "checked", ["</s>"]),
        ("mistral-v0.3", "family", ["</s>"]),
        ("gemma2", "checked", ["<end_of_turn>", "<eos>"]),
        ("phi3", "checked", ["<|end|>", "<|endoftext|>"]),
    ],
)
def test_each_family_translates_to_the_same_prompts(
    by_family: dict[str, PreTrainedTokenizerFast], name: str, how: str, stops: list[str]
) -> None:
    tokenizer = by_family[name]
    shape = analyse_template(tokenizer)
    template, made, problem = choose_template(tokenizer, shape, with_bos=True)
    assert made == how, problem
    assert stop_strings(shape, tokenizer) == stops
    if how == "family":
        assert family(tokenizer.chat_template) == "mistral"
        assert "[INST]" in template
    for messages in CONVERSATIONS:
        try:
            expected = tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        except Exception:  # no system role: training folds it into the first user message
            folded = [dict(m) for m in messages if m["role"] != "system"]
            folded[0]["content"] = "You are the helpdesk.\n\n" + folded[0]["content"]
            expected = tokenizer.apply_chat_template(
                folded, tokenize=False, add_generation_prompt=True
            )
        got = shape.render(messages) if how == "checked" else render_mistral(messages, shape.bos)
        assert got == expected


def test_qwen_default_system_block_appears_only_without_a_system_prompt(
    by_family: dict[str, PreTrainedTokenizerFast],
) -> None:
    shape = analyse_template(by_family["qwen2.5"])
    assert shape.default_system.startswith("<|im_start|>system\nYou are Qwen")
    template = ollama_template(shape, with_bos=True)
    assert '{{- else }}{{ "<|im_start|>system\\nYou are Qwen' in template


def test_templates_without_a_system_turn_fold_it_into_the_first_user_message(
    by_family: dict[str, PreTrainedTokenizerFast],
) -> None:
    shape = analyse_template(by_family["gemma2"])
    assert not shape.supports_system
    template = ollama_template(shape, with_bos=True)
    assert "{{- $system := .System }}" in template
    assert '{{ $system }}{{ "\\n\\n" }}{{- $system = "" }}' in template


def test_no_template_and_a_broken_template_are_reported(
    by_family: dict[str, PreTrainedTokenizerFast],
) -> None:
    tokenizer = by_family["llama3"]
    tokenizer = tokenizer.__class__(tokenizer_object=tokenizer.backend_tokenizer)
    assert analyse_template(tokenizer).problem == "The tokenizer has no chat template."
    tokenizer.chat_template = "{{ messages[0]['content'] }}"  # drops every other message
    shape = analyse_template(tokenizer)
    assert not shape.verified
    assert "could not be analysed" in shape.problem
    template, how, problem = choose_template(tokenizer, shape, with_bos=True)
    assert how == "unchecked"
    assert template == "{{ .Prompt }}"
    assert problem == shape.problem
