"""``ftstudio plan``: the memory estimate on the command line, in process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ftstudio.cli import main

REPO = Path(__file__).resolve().parent.parent


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def model_folder(tmp_path: Path, config: str, *, tokenizer: bool = True) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(config, encoding="utf-8")
    if tokenizer:
        (folder / "tokenizer.json").write_text("{}", encoding="utf-8")
    return folder


def test_json_report_for_a_catalogue_model(capsys) -> None:
    code, out, err = run(capsys, "plan", "--model", "llama-3.1-8b", "--gpu-gb", "24", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert {"total_gb", "gpu_gb", "fits", "breakdown", "suggestions"} <= set(report)
    assert report["gpu_gb"] == 24
    assert report["fits"] is True
    assert report["model"] == "Llama 3.1 8B"
    assert report["method"] == "qlora"
    assert report["settings"]["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert report["breakdown"]["weights"] > 3
    assert report["total_gb"] == pytest.approx(sum(report["breakdown"].values()), abs=0.05)


def test_options_change_the_estimate(capsys) -> None:
    def total(*extra: str) -> float:
        code, out, _ = run(
            capsys, "plan", "--model", "qwen2.5-1.5b", "--gpu-gb", "80", "--json", *extra
        )
        assert code == 0
        return json.loads(out)["total_gb"]

    base = total()
    assert total("--no-gradient-checkpointing") > base
    assert total("--max-length", "4096") > base
    assert total("--batch", "16") > base
    assert total("--rank", "64") > base
    assert total("--method", "full") > total("--method", "lora") > base
    assert total("--grad-accum", "64") == base


def test_table_without_json(capsys) -> None:
    code, out, _ = run(capsys, "plan", "--model", "phi-3-mini-4k", "--gpu-gb", "24")
    assert code == 0
    assert out.startswith("Phi-3 mini 4k (catalogue): QLoRA, rank 16 on qkv_proj, o_proj")
    assert "Linear-layer weights (4-bit NF4)" in out
    assert "Fits on 24 GB." in out
    total = next(line for line in out.splitlines() if line.strip().startswith("Total"))
    assert total.rstrip().endswith("GB")


def test_wont_fit_exits_1_with_suggestions(capsys) -> None:
    code, out, _ = run(
        capsys, "plan", "--model", "llama-3.1-8b", "--method", "lora", "--max-length", "4096",
        "--batch", "8", "--gpu-gb", "24", "--json",
    )  # fmt: skip
    assert code == 1
    report = json.loads(out)
    assert report["fits"] is False
    assert report["verdict"] == "won't fit"
    assert report["suggestions"][0].startswith("Batch 1 with gradient accumulation 64")


def test_local_folder_and_config_file(capsys, tmp_path: Path) -> None:
    config = json.dumps(
        {
            "architectures": ["Qwen2ForCausalLM"],
            "model_type": "qwen2",
            "hidden_size": 896,
            "intermediate_size": 4864,
            "num_hidden_layers": 24,
            "num_attention_heads": 14,
            "num_key_value_heads": 2,
            "vocab_size": 151936,
            "tie_word_embeddings": True,
        }
    )
    folder = model_folder(tmp_path, config, tokenizer=False)
    code, out, _ = run(capsys, "plan", "--model", str(folder), "--gpu-gb", "8", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["source"] == "local"
    assert any("no tokenizer files" in caveat for caveat in report["caveats"])
    code, out, _ = run(capsys, "plan", "--model", str(folder / "config.json"), "--gpu-gb", "8")
    assert code == 0
    assert out.startswith("model (config): QLoRA")


def test_garbled_config_json_is_a_clear_error(capsys, tmp_path: Path) -> None:
    folder = model_folder(tmp_path, '{"model_type": "llama",\n "hidden_size": 4096,,\n}')
    code, out, err = run(capsys, "plan", "--model", str(folder), "--gpu-gb", "24")
    assert code == 2
    assert out == ""
    assert err.startswith(f"ftstudio: {folder / 'config.json'}, line 2, column 22:")
    assert "Traceback" not in err


def test_missing_model_and_unknown_hub_id(capsys, tmp_path: Path, monkeypatch) -> None:
    code, _, err = run(capsys, "plan", "--model", str(tmp_path / "absent"), "--gpu-gb", "24")
    assert code == 2
    assert "does not exist" in err
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    code, _, err = run(capsys, "plan", "--model", "acme/secret-13b", "--gpu-gb", "24")
    assert code == 2
    assert "not available offline" in err


def test_unknown_architecture_is_estimated_with_a_caveat(capsys, tmp_path: Path) -> None:
    config = json.dumps(
        {
            "architectures": ["FancyForCausalLM"],
            "model_type": "fancy",
            "hidden_size": 1024,
            "num_hidden_layers": 8,
            "num_attention_heads": 8,
            "vocab_size": 32000,
        }
    )
    folder = model_folder(tmp_path, config)
    code, out, _ = run(capsys, "plan", "--model", str(folder), "--gpu-gb", "24")
    assert code == 0
    assert "Note: ftstudio does not know the architecture FancyForCausalLM" in out


def test_bad_numbers_are_usage_errors(capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["plan", "--model", "llama-3.2-1b", "--batch", "0"])
    assert caught.value.code == 2
    assert "--batch must be at least 1" in capsys.readouterr().err


def test_without_gpu_gb_the_gpu_is_detected_or_24_is_assumed(capsys) -> None:
    import torch

    code, out, _ = run(capsys, "plan", "--model", "llama-3.2-1b", "--json")
    assert code == 0
    report = json.loads(out)
    if torch.cuda.is_available():
        assert report["gpu"]
    else:
        assert report["gpu_gb"] == 24
        assert any("No CUDA GPU found" in caveat for caveat in report["caveats"])


def test_plan_help_names_every_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ftstudio", "plan", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    for option in ("--model", "--method", "--rank", "--max-length", "--batch", "--grad-accum",
                   "--gradient-checkpointing", "--no-gradient-checkpointing", "--gpu-gb",
                   "--json"):  # fmt: skip
        assert option in result.stdout
