"""Command-line composition root: ``ftstudio [COMMAND] ...``.

Nothing heavy is imported at module level: ``ftstudio --version`` answers at once,
and torch loads only for commands that build or train a model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import ftstudio

PAGES = ("guide", "dataset", "train", "runs", "export", "wizard")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every ftstudio command."""
    parser = argparse.ArgumentParser(
        prog="ftstudio",
        description="Fine-tune language models on your own GPU. Without a command, the "
        "studio window opens.",
    )
    parser.add_argument("--version", action="version", version=f"ftstudio {ftstudio.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = commands.add_parser("gui", help="open the studio window (the default)")
    gui.add_argument("project", nargs="?", type=Path, help="project folder to open")

    tiny = commands.add_parser(
        "tiny-model",
        help="build a tiny local Llama model and tokenizer (offline, for trying the flow)",
    )
    tiny.add_argument("out_dir", type=Path, help="new or empty folder to write the model to")
    tiny.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    tiny.add_argument("--vocab-size", type=int, default=1024, help="tokenizer vocabulary size")

    shot = commands.add_parser("screenshot", help="render one page offscreen to a PNG file")
    shot.add_argument("out", type=Path, help="PNG file to write")
    shot.add_argument("--page", choices=PAGES, default="dataset", help="page to render")
    shot.add_argument("--project", type=Path, help="project folder (default: the sample)")
    shot.add_argument("--size", default="1200x780", help="window size as WIDTHxHEIGHT")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command in ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    command = args.command or "gui"
    try:
        if command == "gui":
            from ftstudio.app import run_gui
            from ftstudio.qt.style import install_message_filter

            install_message_filter()

            return run_gui(getattr(args, "project", None))
        if command == "tiny-model":
            return _tiny_model(args)
        if command == "screenshot":
            return _screenshot(args, parser)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    parser.error(f"unknown command {command}")
    return 2


def _tiny_model(args: argparse.Namespace) -> int:
    from ftstudio.engine.tiny_model import TinyModelSpec, build_tiny_model

    if args.vocab_size < 300:
        print("ftstudio: --vocab-size must be at least 300 (256 bytes + merges).", file=sys.stderr)
        return 2
    try:
        info = build_tiny_model(
            args.out_dir, TinyModelSpec(seed=args.seed, vocab_size=args.vocab_size)
        )
    except (FileExistsError, ValueError, OSError) as error:
        print(f"ftstudio: {error}", file=sys.stderr)
        return 1
    print(
        f"Built a tiny Llama in {info.path}: {info.parameters:,} parameters, "
        f"vocabulary of {info.vocab_size} tokens, seed {info.spec.seed}.\n"
        "Load it with AutoModelForCausalLM.from_pretrained / AutoTokenizer.from_pretrained."
    )
    return 0


def _screenshot(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        width, height = (int(part) for part in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size must look like 1200x780, not {args.size!r}")
    from ftstudio.core.project import ProjectError
    from ftstudio.qt.screenshot import render_page
    from ftstudio.qt.style import install_message_filter

    install_message_filter()

    try:
        out = render_page(args.out, args.page, args.project, (width, height))
    except (ProjectError, OSError) as error:
        print(f"ftstudio: {error}", file=sys.stderr)
        return 1
    print(f"Wrote {out} ({args.page} page, {width}x{height}).")
    return 0
