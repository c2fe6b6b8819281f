"""``ftstudio merge`` and ``ftstudio export``: a run's model, checked for parity."""

# ruff: noqa: T201  (a command line prints)

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ftstudio.cli.common import CommandFailed, print_json
from ftstudio.cli.progress import StopOnInterrupt

USAGE_ERRORS = frozenset(
    ("not_a_run", "no_adapter", "bad_checkpoint", "exists", "unsupported_arch", "missing_package")
)
"""Export error codes that mean a bad argument or setup (exit 2), not a failed export (1)."""


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``ftstudio merge`` and ``ftstudio export`` (exports checked for parity)."""
    from ftstudio.core.export_config import DTYPES, FORMATS, QUANTS

    codes = "exit 0: exported and parity passed, 1: export or parity failed, 2: bad arguments"
    merge = commands.add_parser(
        "merge",
        help=f"merge a run's adapter into its base model ({codes})",
        description="Load the run's base model in --dtype (never 4-bit), merge the LoRA "
        "adapter into it and save a Hugging Face folder (safetensors, tokenizer, chat "
        "template, EOS ids), then check it against the trained model (parity.json).",
    )
    export = commands.add_parser(
        "export",
        help=f"export a run as adapter, merged, gguf or ollama ({codes})",
        description="Export a finished run and check that the export behaves like the "
        "trained model: logits and greedy tokens on validation prompts, chat template and "
        "stop tokens (written to parity.json beside the export). The export is written "
        "beside --out and renamed into place when complete; an existing --out is replaced "
        "only when it holds an earlier ftstudio export.",
    )
    for sub in (merge, export):
        sub.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run folder")
        if sub is export:
            sub.add_argument("--format", choices=FORMATS, required=True, help="what to export")
        sub.add_argument(
            "--out",
            type=Path,
            metavar="DIR",
            help="the export folder (default: RUN_DIR/exports/<format>)",
        )
        sub.add_argument(
            "--dtype",
            choices=DTYPES,
            default="bf16",
            help="number type of the merged weights (default bf16; fp32 is exact)",
        )
        if sub is export:
            sub.add_argument(
                "--quant",
                choices=QUANTS,
                default="q8_0",
                help="GGUF weight type for gguf and ollama (default q8_0)",
            )
        sub.add_argument(
            "--checkpoint",
            type=int,
            default=0,
            metavar="STEP",
            help="export the checkpoint saved at STEP instead of the final adapter",
        )
        sub.add_argument(
            "--parity-prompts",
            type=int,
            default=4,
            metavar="N",
            help="validation examples the parity check compares (default 4)",
        )
        sub.add_argument(
            "--json", action="store_true", help="print the result and parity report as JSON"
        )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``ftstudio merge`` / ``ftstudio export``: 0 passed, 1 failed, 2 bad arguments,
    130 cancelled with Ctrl-C."""
    from ftstudio.core.export_config import ExportConfig

    if args.checkpoint < 0 or not 1 <= args.parity_prompts <= 64:
        raise CommandFailed("--checkpoint must be 0 or more, --parity-prompts 1 to 64.", 2)
    config = ExportConfig(
        format=getattr(args, "format", "merged"),
        out=str(args.out) if args.out is not None else "",
        dtype=args.dtype,
        quant=getattr(args, "quant", "q8_0"),
        checkpoint=args.checkpoint,
        parity_prompts=args.parity_prompts,
    )
    progress_stream = sys.stderr if args.json else sys.stdout

    def progress(done: int, total: int, message: str) -> None:
        print(f"[{done}/{total}] {message}", file=progress_stream, flush=True)

    with StopOnInterrupt() as stop:
        from ftstudio.engine.export import ExportError, export_run

        try:
            result = export_run(args.run_dir, config, on_progress=progress, cancel=stop)
        except ExportError as error:
            code = _exit_code(error.code)
            raise CommandFailed(f"export failed ({error.code}): {error}", code) from error
    report = result.parity
    if args.json:
        print_json(
            {
                "path": str(result.path),
                "format": result.format,
                "passed": report.passed,
                "files": result.files,
                "size_bytes": result.size_bytes,
                "elapsed_s": round(result.elapsed_s, 2),
                "parity": report.to_json(),
            }
        )
        return 0 if report.passed else 1
    print(
        f"Exported {result.config.describe()} to {result.path} ({len(result.files)} files, "
        f"{_size(result.size_bytes)}) in {result.elapsed_s:.1f} s."
    )
    print(f"Parity {'PASSED' if report.passed else 'FAILED'} against {report.reference}:")
    for check in report.checks:
        print(f"  {'ok  ' if check.passed else 'FAIL'} {check.name}: {check.message}")
    for note in report.notes:
        print(f"  note: {note}")
    if not report.passed:
        print(
            f"ftstudio: the export does not behave like the trained model; it is kept in "
            f"{result.path} and parity.json says what differs.",
            file=sys.stderr,
        )
        return 1
    return 0


def _exit_code(error_code: str) -> int:
    """130 cancelled with Ctrl-C, 2 a bad argument or setup, else 1 (the export failed)."""
    if error_code == "cancelled":
        return 130
    return 2 if error_code in USAGE_ERRORS else 1


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
