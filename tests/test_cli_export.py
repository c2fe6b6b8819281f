"""``ftstudio merge`` and ``ftstudio export``, in process: progress, summary, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ftstudio.engine.gguf_export as gguf_export
from ftstudio.cli import main
from ftstudio.core.parity import load_parity

pytestmark = pytest.mark.slow


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_merge_bf16_prints_progress_and_the_parity_verdict(
    capsys: pytest.CaptureFixture[str], trained_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "merged"
    code, text, err = run(
        capsys,
        "merge",
        str(trained_run),
        "--out",
        str(out),
        "--dtype",
        "bf16",
        "--parity-prompts",
        "1",
    )
    assert code == 0, err
    lines = text.splitlines()
    assert lines[0] == "[0/4] Checking the run and the free disk space"
    assert "[1/4] Merging the adapter into the base model (bf16)" in lines
    assert "[4/4] Done" in lines
    assert any(line.startswith(f"Exported merged (bf16) to {out} (") for line in lines)
    assert "Parity PASSED against the base model in fp32 with the final adapter" in text
    assert "  ok   logits: max |logit difference|" in text
    assert "storing the base model in bf16 alone makes" in text
    report = load_parity(out)
    assert report is not None
    assert report.passed
    assert report.dtype == "bf16"
    assert report.tolerance > 1e-3  # 1e-3 plus twice what bf16 storage alone changes
    assert report.max_abs_logit_diff <= report.tolerance


def test_export_gguf_f16_as_json(
    capsys: pytest.CaptureFixture[str], trained_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "gguf"
    code, text, err = run(
        capsys,
        "export",
        str(trained_run),
        "--format",
        "gguf",
        "--quant",
        "f16",
        "--dtype",
        "fp32",
        "--out",
        str(out),
        "--parity-prompts",
        "1",
        "--json",
    )
    assert code == 0, err
    assert "[2/5] Writing the GGUF file (F16)" in err  # progress goes to stderr with --json
    data = json.loads(text)
    assert data["passed"] is True
    assert data["format"] == "gguf"
    assert "model-f16.gguf" in data["files"]
    parity = data["parity"]
    assert parity["quant"] == "f16"
    checks = {check["name"]: check for check in parity["checks"]}
    assert checks["gguf_tensors"]["message"].startswith("tensor types: 16 F16, 5 F32")
    assert checks["conversion"]["value"] < 1e-4
    assert parity["max_abs_logit_diff"] <= 0.02 * max(parity["logit_range"], 1.0)


def test_a_failed_parity_exits_1_and_keeps_the_export(
    capsys: pytest.CaptureFixture[str],
    trained_run: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gguf_export, "_permute", lambda weights, heads, kv_heads: weights)
    out = tmp_path / "broken"
    code, text, err = run(
        capsys,
        "export",
        str(trained_run),
        "--format",
        "gguf",
        "--quant",
        "f16",
        "--dtype",
        "fp32",
        "--out",
        str(out),
        "--parity-prompts",
        "1",
    )
    assert code == 1
    assert "Parity FAILED" in text
    assert "  FAIL conversion:" in text
    assert "does not behave like the trained model" in err
    assert (out / "model-f16.gguf").is_file()


def test_bad_runs_and_folders_exit_2(
    capsys: pytest.CaptureFixture[str], trained_run: Path, tmp_path: Path
) -> None:
    code, _, err = run(capsys, "merge", str(tmp_path), "--out", str(tmp_path / "m"))
    assert code == 2
    assert "export failed (not_a_run)" in err
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine", encoding="utf-8")
    code, _, err = run(
        capsys, "export", str(trained_run), "--format", "adapter", "--out", str(taken)
    )
    assert code == 2
    assert "already holds other files" in err
    with pytest.raises(SystemExit) as caught:
        main(["export", str(trained_run), "--format", "onnx"])
    assert caught.value.code == 2
