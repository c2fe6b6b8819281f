"""The model card (README.md) and the hand-written loss plot (loss.svg)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from ftstudio.core.model_card import (
    LOSS_PLOT,
    card_for_run,
    loss_plot_svg,
    model_card,
    read_metrics_rows,
)
from ftstudio.core.runs import write_run_file
from ftstudio.core.train_config import TrainConfig, save_config

SVG = "{http://www.w3.org/2000/svg}"
ROWS = [
    {"step": 1, "loss": 2.0},
    {"step": 2, "loss": 1.5, "eval_loss": 1.8},
    {"step": 3, "loss": 1.2},
    {"step": 4, "loss": 1.0, "eval_loss": 1.4},
]
INFO = {
    "id": "20261130-101010-ab12",
    "name": "Helpdesk v1",
    "status": "finished",
    "method": "lora",
    "base_model": "Qwen/Qwen2.5-0.5B-Instruct",
    "step": 4,
    "total_steps": 4,
    "final_loss": 1.0,
    "best_eval_loss": 1.4,
    "dataset": {
        "path": "/p/datasets/helpdesk.jsonl",
        "sha256": "ab" * 32,
        "format": "chat",
        "train_examples": 90,
        "val_examples": 10,
        "train_tokens": 12345,
    },
}


def _polyline(svg: str, kind: str) -> list[tuple[float, float]]:
    root = ET.fromstring(svg)
    line = next(p for p in root.iter(f"{SVG}polyline") if p.get("class") == kind)
    return [tuple(map(float, pair.split(","))) for pair in line.get("points", "").split()]


def test_loss_plot_is_valid_svg_with_one_point_per_logged_loss() -> None:
    svg = loss_plot_svg(ROWS)
    train = _polyline(svg, "training")
    val = _polyline(svg, "validation")
    assert len(train) == 4
    assert len(val) == 2
    xs = [x for x, _ in train]
    assert xs == sorted(xs)
    ys = [y for _, y in train]
    assert ys == sorted(ys)  # the loss falls, so the line goes down (SVG y grows downwards)
    assert "training loss" in svg
    assert "validation loss" in svg


def test_loss_plot_without_losses_is_empty_and_one_point_still_draws() -> None:
    assert loss_plot_svg([]) == ""
    assert loss_plot_svg([{"step": 1, "loss": float("nan")}]) == ""
    svg = loss_plot_svg([{"step": 1, "loss": 3.0}])
    assert len(_polyline(svg, "training")) == 1
    ET.fromstring(svg)


def test_card_has_base_model_data_hash_config_and_results() -> None:
    config = {
        "base_model": "Qwen/Qwen2.5-0.5B-Instruct",
        "method": "lora",
        "r": 16,
        "alpha": 32,
        "learning_rate": 2e-4,
        "target_modules": ["q_proj", "v_proj"],
        "objective": "sft",
        "dpo_beta": 0.1,
    }
    card = model_card(INFO, config, ROWS, export="merged (bf16)")
    assert card.startswith("---\nbase_model: Qwen/Qwen2.5-0.5B-Instruct\n")
    assert "# Helpdesk v1" in card
    assert "**Qwen/Qwen2.5-0.5B-Instruct**" in card
    assert "**merged (bf16)** export" in card
    assert "| File | `helpdesk.jsonl` |" in card
    assert f"| SHA-256 | `{'ab' * 32}` |" in card
    assert "| Training examples | 90 |" in card
    assert "| Validation examples | 10 |" in card
    assert "| LoRA rank | `16` |" in card
    assert "| Target modules | `q_proj, v_proj` |" in card
    assert "DPO beta" not in card  # an sft run
    assert "| Final training loss | 1.0000 |" in card
    assert "| Best validation loss | 1.4000 (step 4) |" in card
    assert f"![Training and validation loss]({LOSS_PLOT})" in card
    assert "parity.json" in card


def test_card_of_a_local_base_has_no_hub_metadata_and_full_runs_no_lora_rows() -> None:
    card = model_card(
        {**INFO, "method": "full"},
        {"method": "full", "r": 16},
        [],
        base_ref="/models/llama",
        plot_name=None,
    )
    assert "base_model:" not in card.split("---")[1]
    assert "LoRA rank" not in card
    assert "loss.svg" not in card


def test_card_for_run_reads_the_run_folder_and_the_eval_report(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    save_config(TrainConfig(base_model="org/model", method="qlora", r=8), run / "config.yaml")
    write_run_file(run, INFO)
    lines = [json.dumps(row) for row in ROWS] + ['{"step": 5, "loss": 0.9']  # a torn last line
    (run / "metrics.jsonl").write_text("\n".join(lines), encoding="utf-8")
    (run / "eval").mkdir()
    report = {
        "source": "validation split",
        "base": {"exact_match": 0.1, "rouge_l": 0.2, "bleu": 5.0, "perplexity": 20.0},
        "tuned": {"exact_match": 0.5, "rouge_l": 0.6, "bleu": 30.0, "perplexity": 4.0},
        "forgetting": {"message": "General answers are as good as before."},
        "examples": [{}, {}, {}],
    }
    (run / "eval" / "report.json").write_text(json.dumps(report), encoding="utf-8")
    assert len(read_metrics_rows(run / "metrics.jsonl")) == 4
    card, svg = card_for_run(run, INFO, export="adapter", checkpoint=3)
    assert "QLoRA" in card
    assert "from the checkpoint at step 3" in card
    assert "| LoRA rank | `8` |" in card
    assert "### Evaluation" in card
    assert "on 3 examples" in card
    assert "| Exact match | 10.0% | 50.0% |" in card
    assert "Forgetting check: General answers are as good as before." in card
    assert len(_polyline(svg, "training")) == 4
