"""``ftstudio plan``: a training run's GPU memory, part by part, against a GPU."""

# ruff: noqa: T201  (a command line prints)

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ftstudio.cli.common import CommandFailed, add_json_option, print_json

if TYPE_CHECKING:  # type hints only: nothing is imported at run time
    from ftstudio.core.memory import MemoryEstimate, MemoryInputs
    from ftstudio.core.models import ModelSpec

PLAN_METHODS = ("qlora", "lora", "full")


def add_commands(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``ftstudio plan``: a training run's GPU memory, part by part, against a GPU."""
    plan = commands.add_parser(
        "plan",
        help="estimate a training run's GPU memory: breakdown, verdict, fixes (exit 1: won't fit)",
    )
    plan.add_argument(
        "--model",
        required=True,
        metavar="MODEL",
        help="a catalogue name (e.g. llama-3.1-8b), a model folder, its config.json, or a hub "
        "id that is in the catalogue or the download cache (nothing is downloaded)",
    )
    plan.add_argument(
        "--method", choices=PLAN_METHODS, default="qlora", help="training method (default qlora)"
    )
    plan.add_argument("--rank", type=int, metavar="R", help="LoRA rank (default 16)")
    plan.add_argument("--max-length", type=int, metavar="N", help="tokens per example (1024)")
    plan.add_argument("--batch", type=int, metavar="B", help="batch size per GPU (default 4)")
    plan.add_argument("--grad-accum", type=int, metavar="G", help="gradient accumulation (8)")
    plan.add_argument(
        "--gradient-checkpointing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="recompute activations: less memory, about 30%% slower (default on)",
    )
    plan.add_argument(
        "--gpu-gb",
        type=float,
        metavar="GB",
        help="the GPU's memory (default: the GPU found through torch, else 24)",
    )
    add_json_option(plan, "a table")
    return plan


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``ftstudio plan``: 0 fits (or tight), 1 won't fit, 2 the model cannot be read."""
    import dataclasses

    from ftstudio.core.memory import MemoryInputs, estimate_memory
    from ftstudio.core.models import ModelError, resolve_model_spec
    from ftstudio.core.train_config import defaults_for

    for name in ("rank", "max_length", "batch", "grad_accum"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, not {value}")
    if args.gpu_gb is not None and not args.gpu_gb > 0:
        parser.error(f"--gpu-gb must be above 0, not {args.gpu_gb}")
    try:
        spec = resolve_model_spec(args.model, Path.cwd(), require_tokenizer=False)
    except ModelError as error:
        raise CommandFailed(str(error), 2) from error
    gpu_gb, gpu_name, notes = _gpu(args.gpu_gb)
    config = defaults_for(args.method)
    inputs = dataclasses.replace(
        MemoryInputs.from_config(config),
        r=args.rank or config.r,
        target_modules=tuple(spec.target_module_presets()["recommended"]),
        max_length=args.max_length or config.max_length,
        batch=args.batch or config.per_device_batch_size,
        grad_accum=args.grad_accum or config.grad_accum,
        gradient_checkpointing=args.gradient_checkpointing,
    )
    estimate = estimate_memory(spec, inputs, gpu_gb)
    if spec.source == "local" and not _has_tokenizer(spec.location):
        notes.append(f"{spec.location} has no tokenizer files yet; training will need them.")
    if args.json:
        report = {
            "model": spec.name,
            "source": spec.source,
            "method": inputs.method,
            "settings": {
                "rank": inputs.r if inputs.method != "full" else None,
                "target_modules": list(inputs.target_modules or ()),
                "max_length": inputs.max_length,
                "batch": inputs.batch,
                "grad_accum": inputs.grad_accum,
                "gradient_checkpointing": inputs.gradient_checkpointing,
                "optimizer": inputs.optimizer,
            },
            "gpu": gpu_name,
            **estimate.to_json(),
        }
        report["caveats"] = [*report["caveats"], *notes]
        print_json(report)
    else:
        print(_table(spec, inputs, estimate, gpu_name, notes))
    return 0 if estimate.fits else 1


def _gpu(gpu_gb: float | None) -> tuple[float, str | None, list[str]]:
    """The GPU's memory, its name when detected, and notes on the choice."""
    if gpu_gb is not None:
        return gpu_gb, None, []
    from ftstudio.engine.hardware import detect_gpus  # imports torch

    gpus = detect_gpus()
    if not gpus:
        return 24.0, None, ["No CUDA GPU found: planned for a 24 GB card (set --gpu-gb)."]
    return gpus[0].total_gb, gpus[0].name, []


def _has_tokenizer(folder: str) -> bool:
    from ftstudio.core.models.catalogue import has_tokenizer

    return has_tokenizer(Path(folder))


def _table(
    spec: ModelSpec,
    inputs: MemoryInputs,
    estimate: MemoryEstimate,
    gpu_name: str | None,
    notes: list[str],
) -> str:
    names = {"qlora": "QLoRA", "lora": "LoRA", "full": "full fine-tuning"}
    adapters = ""
    if inputs.method != "full":
        adapters = f", rank {inputs.r} on {', '.join(inputs.target_modules or ())}"
    lines = [
        f"{spec.name} ({spec.source}): {names[inputs.method]}{adapters}",
        f"max length {inputs.max_length:,} tokens, batch {inputs.batch} × accumulation "
        f"{inputs.grad_accum}, gradient checkpointing "
        f"{'on' if inputs.gradient_checkpointing else 'off'}, {inputs.optimizer}",
        "",
    ]
    width = max(len(label) for _, label, _ in estimate.rows())
    for _, label, gb in estimate.rows():
        lines.append(f"  {label:<{width}}  {gb:7.2f} GB")
    gpu = f" ({gpu_name})" if gpu_name else ""
    lines.append(f"  {'Total':<{width}}  {estimate.total_gb:7.2f} GB")
    lines.append("")
    lines.append(f"{estimate.verdict.capitalize()} on {estimate.gpu_gb:g} GB{gpu}.")
    if estimate.suggestions:
        lines.append("To make it fit, cheapest first:")
        lines += [f"  - {suggestion.text}" for suggestion in estimate.suggestions]
    lines += [f"Note: {caveat}" for caveat in (*estimate.caveats, *notes)]
    return "\n".join(lines)
