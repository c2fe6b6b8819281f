"""ExportConfig: choices, default folders, descriptions and the disk-space estimate."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftstudio.core.export_config import (
    DTYPES,
    FORMATS,
    QUANTS,
    ExportConfig,
    estimate_export_bytes,
)
from ftstudio.core.fields import ConfigError, field_specs, from_mapping


def test_fields_carry_help_and_choices_for_forms() -> None:
    specs = {spec.name: spec for spec in field_specs(ExportConfig)}
    assert specs["format"].choices == FORMATS == ("adapter", "merged", "gguf", "ollama")
    assert specs["dtype"].choices == DTYPES == ("bf16", "fp16", "fp32")
    assert specs["quant"].choices == QUANTS == ("f16", "q8_0")
    assert specs["out"].widget == "folder"
    assert specs["parity_prompts"].minimum == 1
    assert all(spec.help for spec in specs.values())


def test_from_mapping_reports_a_bad_choice_by_key() -> None:
    with pytest.raises(ConfigError) as caught:
        from_mapping(ExportConfig, {"format": "onnx", "quant": "q4"}, source="export")
    keys = {problem.key for problem in caught.value.problems}
    assert keys == {"format", "quant"}


@pytest.mark.parametrize(
    ("config", "folder", "words"),
    [
        (ExportConfig(format="adapter"), "adapter", "adapter"),
        (ExportConfig(format="merged", dtype="fp16"), "merged-fp16", "merged (fp16)"),
        (ExportConfig(format="gguf", quant="f16"), "gguf-f16", "gguf (f16, merged in bf16)"),
        (ExportConfig(format="ollama"), "ollama-q8_0", "ollama (q8_0, merged in bf16)"),
    ],
)
def test_default_folder_and_description(config: ExportConfig, folder: str, words: str) -> None:
    run = Path("/projects/p/runs/r1")
    assert config.out_dir(run) == run / "exports" / folder
    assert config.describe() == words


def test_an_explicit_folder_wins(tmp_path: Path) -> None:
    config = ExportConfig(out=str(tmp_path / "mine"))
    assert config.out_dir(Path("/elsewhere")) == tmp_path / "mine"


def test_estimate_counts_bytes_per_parameter_and_the_merged_copy_of_gguf() -> None:
    params = 1_000_000
    merged16 = estimate_export_bytes(ExportConfig(format="merged", dtype="bf16"), params)
    merged32 = estimate_export_bytes(ExportConfig(format="merged", dtype="fp32"), params)
    assert merged32 - merged16 == 2 * params
    q8 = estimate_export_bytes(ExportConfig(format="gguf", quant="q8_0", dtype="bf16"), params)
    f16 = estimate_export_bytes(ExportConfig(format="gguf", quant="f16", dtype="bf16"), params)
    # The GGUF formats hold the merged folder and the file at once: 2 + 2 (F16) or 2 + 34/32.
    assert f16 > 4 * params
    assert 3 * params < q8 < f16
    adapter = estimate_export_bytes(
        ExportConfig(format="adapter"), params, adapter_bytes=5000, tokenizer_bytes=100
    )
    assert 5100 <= adapter < 5100 + 100_000
