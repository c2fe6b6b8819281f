"""export_run on the tiny model's finished run: every format reloads and passes parity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

import ftstudio.engine.gguf_export as gguf_export
from ftstudio.core.export_config import MARKER, ExportConfig
from ftstudio.core.parity import load_parity
from ftstudio.engine.export import ExportError, ExportResult, export_run
from ftstudio.engine.export.ollama import parse_modelfile
from ftstudio.engine.export.staging import leftovers
from ftstudio.engine.gguf_export import read_gguf_summary

pytestmark = pytest.mark.slow

FAST = {"parity_prompts": 2, "parity_tokens": 8}
HF_TOKENIZER_FILES = {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"}
CARD_FILES = {"README.md", "loss.svg", "parity.json", MARKER}


@pytest.fixture(scope="module")
def exported(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each format exported once (lazily) into a folder outside the read-only run."""
    root = tmp_path_factory.mktemp("exports")
    cache: dict[str, ExportResult] = {}
    progress: dict[str, list[tuple[int, int, str]]] = {}

    def get(name: str, **settings: Any) -> ExportResult:
        if name not in cache:
            steps: list[tuple[int, int, str]] = []
            config = ExportConfig(out=str(root / name), **FAST, **settings)
            cache[name] = export_run(
                trained_run, config, on_progress=lambda *step: steps.append(step)
            )
            progress[name] = steps
        return cache[name]

    return {"get": get, "progress": progress, "root": root}


def test_adapter_of_a_checkpoint_loads_with_peft_and_matches_exactly(
    exported: dict[str, Any], trained_run: Path, tiny_model_dir: Path
) -> None:
    result = exported["get"]("adapter", format="adapter", checkpoint=3)
    out = result.path
    assert set(result.files) == (
        {"adapter_config.json", "adapter_model.safetensors"} | HF_TOKENIZER_FILES | CARD_FILES
    )
    config = json.loads((out / "adapter_config.json").read_text(encoding="utf-8"))
    assert config["base_model_name_or_path"] == str(tiny_model_dir.resolve())
    weights = load_file(out / "adapter_model.safetensors")
    original = load_file(trained_run / "checkpoint-3" / "adapter_model.safetensors")
    assert weights.keys() == original.keys()
    assert all(torch.equal(weights[k], original[k]) for k in weights)
    assert (out / "chat_template.jinja").read_text("utf-8") == AutoTokenizer.from_pretrained(
        tiny_model_dir
    ).chat_template
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, out)  # what vLLM/TGI users do first
    assert model.peft_config["default"].r == 8

    report = result.parity
    assert report.passed, report.summary()
    assert report.max_abs_logit_diff == 0.0
    assert report.tolerance == pytest.approx(1e-4)
    assert report.greedy_equal is True
    assert "checkpoint-3" in report.reference
    assert report.check("base_model").passed
    assert report.check("no_pickles").passed
    assert load_parity(out) == report
    assert "from the checkpoint at step 3" in (out / "README.md").read_text("utf-8")


def test_merged_fp32_reloads_without_peft_and_matches_to_1e_3(
    exported: dict[str, Any], trained_run: Path, tiny_model_dir: Path
) -> None:
    result = exported["get"]("merged", format="merged", dtype="fp32")
    out = result.path
    assert {"config.json", "model.safetensors", "generation_config.json"} <= set(result.files)
    assert set(result.files) >= HF_TOKENIZER_FILES | CARD_FILES
    assert exported["progress"]["merged"][-1] == (4, 4, "Done")
    generation = json.loads((out / "generation_config.json").read_text(encoding="utf-8"))
    assert generation["eos_token_id"] == 1  # <|end|>, the tiny model's end of turn

    # Parity as reported…
    report = result.parity
    assert report.passed, report.summary()
    assert report.max_abs_logit_diff < 1e-3
    assert report.tolerance == pytest.approx(1e-3)
    assert report.greedy_equal is True
    assert report.prompts == 2
    assert {c.name for c in report.checks} >= {
        "logits",
        "greedy",
        "chat_template",
        "eos",
        "stop_tokens",
        "no_pickles",
    }
    # …and measured here independently: plain transformers vs base + run adapter.
    merged = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    trained = PeftModel.from_pretrained(base, trained_run / "adapter").eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "My laptop will not connect to the Wi-Fi."}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )["input_ids"]
    with torch.no_grad():
        difference = (merged(ids).logits - trained(ids).logits).abs().max()
        assert float(difference) < 1e-3
        same = merged.generate(ids, max_new_tokens=8, do_sample=False)
        assert torch.equal(same, trained.generate(input_ids=ids, max_new_tokens=8, do_sample=False))


def test_ollama_q8_0_has_gguf_modelfile_and_passes_parity(exported: dict[str, Any]) -> None:
    result = exported["get"]("ollama", format="ollama", quant="q8_0", dtype="bf16")
    out = result.path
    assert set(result.files) == {"Modelfile", "model-q8_0.gguf"} | CARD_FILES
    assert [step[2] for step in exported["progress"]["ollama"]] == [
        "Checking the run and the free disk space",
        "Merging the adapter into the base model (bf16)",
        "Writing the GGUF file (Q8_0)",
        "Writing the Ollama Modelfile",
        "Writing the model card",
        "Checking parity with the trained model",
        "Done",
    ]
    summary = read_gguf_summary(out / "model-q8_0.gguf")
    assert summary.architecture == "llama"
    assert summary.type_counts() == {"Q8_0": 14, "F16": 2, "F32": 5}
    assert summary.metadata["tokenizer.ggml.eos_token_id"] == 1
    assert summary.metadata["tokenizer.chat_template"].startswith("{{ bos_token }}")
    model = AutoModelForCausalLM.from_pretrained(out, gguf_file="model-q8_0.gguf")
    assert model.config.num_hidden_layers == 2

    modelfile = parse_modelfile(out / "Modelfile")
    assert modelfile["from"] == "./model-q8_0.gguf"
    assert '{{- if eq .Role "user" }}{{ "<|user|>\\n" }}{{ .Content }}' in modelfile["template"]
    assert modelfile["parameters"]["stop"] == ["<|end|>"]
    assert modelfile["parameters"]["temperature"] == ["0.7"]
    text = (out / "Modelfile").read_text(encoding="utf-8")
    assert "writes the same prompts as training did" in text

    report = result.parity
    assert report.passed, report.summary()
    assert report.quant == "q8_0"
    assert report.check("conversion").value < 1e-4  # GGUF == merged model rounded to Q8_0
    assert report.max_abs_logit_diff <= 0.05 * max(report.logit_range, 1.0)
    assert report.top1_agreement >= 0.9
    for name in (
        "gguf_metadata",
        "gguf_tensors",
        "gguf_vocab",
        "gguf_tokenizer",
        "eos",
        "chat_template",
        "modelfile_from",
        "ollama_template",
        "ollama_stop",
    ):
        assert report.check(name).passed, name
    assert report.stop_tokens == ["<|end|>"]
    assert not (out / ".merged").exists()


def test_a_broken_conversion_fails_parity_and_the_export_is_kept(
    trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without llama.cpp's Q/K permutation, transformers' loader (which undoes it)
    # scrambles the attention heads: the conversion check must catch that.
    monkeypatch.setattr(gguf_export, "_permute", lambda weights, heads, kv_heads: weights)
    config = ExportConfig(format="gguf", quant="f16", dtype="fp32", out=str(tmp_path / "g"), **FAST)
    result = export_run(trained_run, config)
    report = result.parity
    assert not report.passed
    assert [c.name for c in report.failed_checks] == ["conversion"]
    assert report.check("conversion").value > 10 * report.check("conversion").limit
    assert (tmp_path / "g" / "model-f16.gguf").is_file()
    assert load_parity(tmp_path / "g").passed is False
    assert "failed: conversion" in report.summary()


def test_disk_full_is_a_plain_error_and_leaves_nothing(trained_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "merged"
    asked: list[Path] = []

    def free_space(path: Path) -> int:
        asked.append(path)
        return 100_000

    with pytest.raises(ExportError) as caught:
        export_run(trained_run, ExportConfig(format="merged", out=str(out)), free_space=free_space)
    assert caught.value.code == "disk_full"
    message = str(caught.value)
    assert message.startswith("Not enough free disk space for the merged (bf16) export")
    assert "needs about" in message
    assert "only 97.7 KB is free" in message
    assert asked == [tmp_path]
    assert not out.exists()
    assert leftovers(out) == []


def test_cancel_after_the_merge_removes_what_was_written(trained_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "merged"
    seen: list[str] = []
    state = {"stop": False}

    def progress(done: int, total: int, message: str) -> None:
        seen.append(message)
        state["stop"] = message == "Writing the model card"

    with pytest.raises(ExportError) as caught:
        export_run(
            trained_run,
            ExportConfig(format="merged", out=str(out), dtype="fp32"),
            on_progress=progress,
            cancel=lambda: state["stop"],
        )
    assert caught.value.code == "cancelled"
    assert "Merging the adapter into the base model (fp32)" in seen
    assert not out.exists()
    assert leftovers(out) == []


def test_refusals_name_the_problem(trained_run: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep", encoding="utf-8")
    cases = [
        (trained_run.parent, ExportConfig(out=str(tmp_path / "a")), "not_a_run"),
        (trained_run, ExportConfig(out=str(mine)), "exists"),
        (trained_run, ExportConfig(checkpoint=99, out=str(tmp_path / "b")), "bad_checkpoint"),
    ]
    for run, config, code in cases:
        with pytest.raises(ExportError) as caught:
            export_run(run, config)
        assert caught.value.code == code
    with pytest.raises(ExportError, match="complete checkpoints: 3, 6"):
        export_run(trained_run, ExportConfig(checkpoint=99, out=str(tmp_path / "b")))
    assert (mine / "notes.txt").is_file()


def test_a_run_without_its_adapter_is_refused(trained_run: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(trained_run.parent.parent, project)
    run = project / "runs" / trained_run.name
    shutil.rmtree(run / "adapter")
    with pytest.raises(ExportError, match="no final adapter folder") as caught:
        export_run(run, ExportConfig(out=str(tmp_path / "x")))
    assert caught.value.code == "no_adapter"
