"""The model card (``README.md``) and loss plot (``loss.svg``) written into every export.

The card says what the model is and how it was made: the base model, the dataset
(file name, SHA-256, example counts), the training configuration as a table, the
final metrics (final and best validation loss, steps, the evaluation summary when
the run has ``eval/report.json``) and the loss plot. The plot is a hand-written
SVG line chart of ``metrics.jsonl`` (training loss and validation loss against the
step): no plotting library is needed, and it renders on the Hugging Face hub, on
GitHub and in any browser.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

import ftstudio

LOSS_PLOT = "loss.svg"
EVAL_REPORT = Path("eval") / "report.json"
TRAIN_COLOUR = "#2563eb"
EVAL_COLOUR = "#ea580c"

_CONFIG_LABELS = (
    ("method", "Method"),
    ("objective", "Objective"),
    ("r", "LoRA rank"),
    ("alpha", "LoRA alpha"),
    ("dropout", "LoRA dropout"),
    ("target_modules", "Target modules"),
    ("learning_rate", "Learning rate"),
    ("lr_scheduler", "Schedule"),
    ("warmup_ratio", "Warm-up share"),
    ("epochs", "Epochs"),
    ("max_steps", "Max steps"),
    ("per_device_batch_size", "Batch size per device"),
    ("grad_accum", "Gradient accumulation"),
    ("max_length", "Max length (tokens)"),
    ("packing", "Packing"),
    ("assistant_only_loss", "Loss on answers only"),
    ("precision", "Precision"),
    ("optimizer", "Optimizer"),
    ("val_fraction", "Validation share"),
    ("seed", "Seed"),
    ("dpo_beta", "DPO beta"),
)
_FULL_SKIPS = {"r", "alpha", "dropout", "target_modules"}


def read_metrics_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a ``metrics.jsonl`` file; a torn or damaged line is skipped."""
    rows: list[dict[str, Any]] = []
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return rows
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int | float):
            rows.append(row)
    return rows


def loss_plot_svg(rows: Sequence[dict[str, Any]], *, width: int = 640, height: int = 320) -> str:
    """A line chart of the training loss and validation loss against the step, as SVG text.

    Returns ``""`` when ``rows`` hold no finite loss.
    """
    train = _series(rows, "loss")
    val = _series(rows, "eval_loss")
    points = train + val
    if not points:
        return ""
    left, right, top, bottom = 56, 16, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    x_min = min(p[0] for p in points)
    x_max = max(p[0] for p in points)
    y_min = min(p[1] for p in points)
    y_max = max(p[1] for p in points)
    if x_max == x_min:
        x_min, x_max = x_min - 1, x_max + 1
    if y_max == y_min:
        y_min, y_max = y_min - 0.5, y_max + 0.5
    pad = (y_max - y_min) * 0.05
    y_min, y_max = y_min - pad, y_max + pad

    def x_of(step: float) -> float:
        return left + (step - x_min) / (x_max - x_min) * plot_w

    def y_of(loss: float) -> float:
        return top + (y_max - loss) / (y_max - y_min) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        "<title>Training and validation loss</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    for value in _ticks(y_min, y_max):
        y = y_of(value)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            'stroke="#e5e7eb" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#374151">'
            f"{_tick_label(value)}</text>"
        )
    for value in _ticks(x_min, x_max, whole=True):
        x = x_of(value)
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle" fill="#374151">'
            f"{_tick_label(value)}</text>"
        )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#9ca3af" stroke-width="1"/>'
    )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
        'fill="#111827">step</text>'
    )
    parts.append(
        f'<text x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" fill="#111827" '
        f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">loss</text>'
    )
    legend_x = left + 8
    for series, colour, label in (
        (train, TRAIN_COLOUR, "training loss"),
        (val, EVAL_COLOUR, "validation loss"),
    ):
        if not series:
            continue
        coords = " ".join(f"{x_of(s):.1f},{y_of(v):.1f}" for s, v in series)
        parts.append(
            f'<polyline class="{label.split()[0]}" points="{coords}" fill="none" '
            f'stroke="{colour}" stroke-width="2" stroke-linejoin="round"/>'
        )
        if len(series) == 1 or label.startswith("validation"):
            for s, v in series:
                parts.append(
                    f'<circle cx="{x_of(s):.1f}" cy="{y_of(v):.1f}" r="3" fill="{colour}"/>'
                )
        parts.append(
            f'<line x1="{legend_x}" y1="{top - 12}" x2="{legend_x + 18}" y2="{top - 12}" '
            f'stroke="{colour}" stroke-width="3"/>'
        )
        parts.append(f'<text x="{legend_x + 24}" y="{top - 8}" fill="#111827">{label}</text>')
        legend_x += 130
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def model_card(
    info: dict[str, Any],
    config: dict[str, Any],
    metrics: Sequence[dict[str, Any]],
    *,
    export: str = "",
    base_ref: str = "",
    checkpoint: int = 0,
    eval_report: dict[str, Any] | None = None,
    plot_name: str | None = LOSS_PLOT,
) -> str:
    """The ``README.md`` text of an export.

    Args:
        info: the run's ``run.json``.
        config: the training configuration, as a mapping.
        metrics: the rows of ``metrics.jsonl``.
        export: what the export is, in words (``merged (bf16)``, ``gguf (q8_0, …)``).
        base_ref: the base model's hub id or folder (default: the configuration's).
        checkpoint: the checkpoint step exported (0: the final adapter or model).
        eval_report: the run's ``eval/report.json``, if it has one.
        plot_name: the loss plot's file name beside the card (``None``: no plot).
    """
    base = base_ref or str(config.get("base_model") or info.get("base_model") or "")
    name = str(info.get("name") or info.get("id") or "ftstudio model")
    dataset = info.get("dataset") if isinstance(info.get("dataset"), dict) else {}
    lines: list[str] = ["---"]
    if base and not Path(base).is_absolute() and "/" in base:
        lines.append(f"base_model: {base}")
    lines += [
        "library_name: " + ("transformers" if "adapter" not in export else "peft"),
        "tags:",
        "- ftstudio",
        "- fine-tuned",
    ]
    if config.get("method") in ("lora", "qlora"):
        lines.append("- lora")
    lines += ["---", "", f"# {_md(name)}", ""]
    method = str(config.get("method", info.get("method", "")))
    lines.append(
        f"A {_method_words(method)} of **{_md(base or 'an unknown base model')}**, trained with "
        f"ftstudio {ftstudio.__version__}."
    )
    if export:
        step = f" from the checkpoint at step {checkpoint}" if checkpoint else ""
        lines.append(f"This folder is the **{_md(export)}** export{step}.")
    lines.append("")

    lines += ["## Data", ""]
    path = str(dataset.get("path") or config.get("dataset") or "")
    lines += _table(
        ("Dataset", "Value"),
        [
            ("File", f"`{Path(path).name}`" if path else "n/a"),
            ("SHA-256", f"`{dataset['sha256']}`" if dataset.get("sha256") else "n/a"),
            ("Format", str(dataset.get("format") or "n/a")),
            ("Training examples", _count(dataset.get("train_examples"))),
            ("Validation examples", _count(dataset.get("val_examples"))),
            ("Training tokens", _count(dataset.get("train_tokens"))),
        ],
    )
    lines.append("")

    lines += ["## Training configuration", ""]
    rows = []
    for key, label in _CONFIG_LABELS:
        if key not in config or (method == "full" and key in _FULL_SKIPS):
            continue
        if key == "dpo_beta" and config.get("objective") != "dpo":
            continue
        rows.append((label, f"`{_value(config[key])}`"))
    rows.append(("Base model", f"`{base}`" if base else "n/a"))
    lines += _table(("Setting", "Value"), rows)
    lines.append("")

    lines += ["## Results", ""]
    train = _series(metrics, "loss")
    val = _series(metrics, "eval_loss")
    best = min(val, key=lambda p: p[1]) if val else None
    final_loss = info.get("final_loss")
    if final_loss is None and train:
        final_loss = train[-1][1]
    result_rows = [
        ("Status", str(info.get("status") or "n/a")),
        (
            "Steps",
            f"{info.get('step', train[-1][0] if train else 'n/a')}"
            + (f" of {info['total_steps']}" if info.get("total_steps") else ""),
        ),
        ("Final training loss", _loss(final_loss)),
        (
            "Best validation loss",
            f"{_loss(best[1])} (step {int(best[0])})"
            if best
            else _loss(info.get("best_eval_loss")),
        ),
    ]
    if info.get("device"):
        result_rows.append(("Device", str(info["device"])))
    lines += _table(("Metric", "Value"), result_rows)
    lines.append("")
    if plot_name and (train or val):
        lines += [f"![Training and validation loss]({plot_name})", ""]
    if eval_report:
        lines += _eval_lines(eval_report)

    lines += [
        "## Parity",
        "",
        "ftstudio compared this export with the trained model (the base model with the "
        "adapter, in fp32) on validation prompts: logits, greedy tokens, chat template and "
        "stop tokens. The numbers are in `parity.json`.",
        "",
    ]
    return "\n".join(lines)


def card_for_run(
    run_dir: Path,
    info: dict[str, Any],
    *,
    export: str = "",
    checkpoint: int = 0,
    base_ref: str = "",
) -> tuple[str, str]:
    """``(README.md text, loss.svg text)`` for an export of the run in ``run_dir``.

    The SVG is ``""`` when the run logged no loss (and the card then shows no plot).
    """
    from ftstudio.core.fields import to_mapping
    from ftstudio.core.train_config import load_config

    run_dir = Path(run_dir)
    try:
        config = to_mapping(load_config(run_dir / "config.yaml"))
    except (OSError, ValueError):
        config = {}
    metrics = read_metrics_rows(run_dir / "metrics.jsonl")
    report = None
    report_path = run_dir / EVAL_REPORT
    if report_path.is_file():
        try:
            data = json.loads(report_path.read_text(encoding="utf-8"))
            report = data if isinstance(data, dict) else None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            report = None
    svg = loss_plot_svg(metrics)
    card = model_card(
        info,
        config,
        metrics,
        export=export,
        base_ref=base_ref,
        checkpoint=checkpoint,
        eval_report=report,
        plot_name=LOSS_PLOT if svg else None,
    )
    return card, svg


# ---------------------------------------------------------------- helpers


def _eval_lines(report: dict[str, Any]) -> list[str]:
    lines = ["### Evaluation", ""]
    base, tuned = report.get("base"), report.get("tuned")
    rows = []
    for key, label, percent in (
        ("exact_match", "Exact match", True),
        ("rouge_l", "ROUGE-L", False),
        ("bleu", "BLEU", False),
        ("perplexity", "Perplexity", False),
    ):
        b = base.get(key) if isinstance(base, dict) else None
        t = tuned.get(key) if isinstance(tuned, dict) else None
        if b is None and t is None:
            continue
        rows.append((label, _metric(b, percent), _metric(t, percent)))
    examples = report.get("examples")
    count = len(examples) if isinstance(examples, list) else None
    source = report.get("source") or "validation split"
    lines.append(
        f"Base model vs fine-tuned on {_count(count)} examples ({_md(str(source))})."
        if count is not None
        else f"Base model vs fine-tuned ({_md(str(source))})."
    )
    lines.append("")
    if rows:
        lines += _table(("Metric", "Base", "Fine-tuned"), rows)
        lines.append("")
    forgetting = report.get("forgetting")
    if isinstance(forgetting, dict) and forgetting.get("message"):
        lines += [f"Forgetting check: {_md(str(forgetting['message']))}", ""]
    return lines


def _series(rows: Iterable[dict[str, Any]], key: str) -> list[tuple[float, float]]:
    out = []
    for row in rows:
        value, step = row.get(key), row.get("step")
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and math.isfinite(value) and isinstance(step, int | float):
            out.append((float(step), float(value)))
    return out


def _ticks(low: float, high: float, *, whole: bool = False, count: int = 5) -> list[float]:
    span = high - low
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(1.0, round(step))
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + 1e-12 and len(ticks) < 20:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _tick_label(value: float) -> str:
    if value == int(value) and abs(value) >= 1:
        return str(int(value))
    return f"{value:.3g}"


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "n/a"


def _loss(value: Any) -> str:
    if isinstance(value, int | float) and math.isfinite(value):
        return f"{value:.4f}"
    return "n/a"


def _metric(value: Any, percent: bool) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "n/a"
    return f"{value:.1%}" if percent else f"{value:.3f}"


def _method_words(method: str) -> str:
    return {
        "qlora": "QLoRA fine-tune (LoRA adapter on a 4-bit base)",
        "lora": "LoRA fine-tune",
        "full": "full fine-tune",
    }.get(method, "fine-tune")


def _md(text: str) -> str:
    return escape(text, quote=False).replace("|", "\\|")
