"""``ftstudio gui``, ``ftstudio screenshot`` and ``ftstudio tiny-model``."""

# ruff: noqa: T201  (a command line prints)

from __future__ import annotations

import argparse
from pathlib import Path

from ftstudio.cli.common import CommandFailed

PAGES = ("guide", "dataset", "train", "evaluate", "runs", "export", "wizard")


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``ftstudio gui``, ``ftstudio tiny-model`` and ``ftstudio screenshot``."""
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
    shot.add_argument(
        "--theme", choices=("light", "dark"), default="light", help="colour theme to render"
    )
    shot.add_argument(
        "--showcase",
        action="store_true",
        help="show the project's content as a user would after a few clicks: every run "
        "selected on Runs, the Evaluation tab on Evaluate, the newest export's parity check",
    )


def run_gui(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``ftstudio [gui [PROJECT]]``: the studio window; its exit code."""
    from ftstudio.app import run_gui
    from ftstudio.qt.style import install_message_filter

    install_message_filter()

    return run_gui(getattr(args, "project", None))


def run_tiny_model(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``ftstudio tiny-model OUT_DIR``: 0 built, 1 not written, 2 bad vocabulary size."""
    from ftstudio.engine.tiny_model import TinyModelSpec, build_tiny_model

    if args.vocab_size < 300:
        raise CommandFailed("--vocab-size must be at least 300 (256 bytes + merges).", 2)
    try:
        info = build_tiny_model(
            args.out_dir, TinyModelSpec(seed=args.seed, vocab_size=args.vocab_size)
        )
    except (FileExistsError, ValueError, OSError) as error:
        raise CommandFailed(str(error), 1) from error
    print(
        f"Built a tiny Llama in {info.path}: {info.parameters:,} parameters, "
        f"vocabulary of {info.vocab_size} tokens, seed {info.spec.seed}.\n"
        "Load it with AutoModelForCausalLM.from_pretrained / AutoTokenizer.from_pretrained."
    )
    return 0


def run_screenshot(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``ftstudio screenshot OUT``: 0 written, 1 the project or the file failed."""
    try:
        width, height = (int(part) for part in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size must look like 1200x780, not {args.size!r}")
    from ftstudio.core.project import ProjectError
    from ftstudio.qt.screenshot import render_page
    from ftstudio.qt.style import install_message_filter

    install_message_filter()

    try:
        out = render_page(
            args.out, args.page, args.project, (width, height), args.theme, args.showcase
        )
    except (ProjectError, OSError) as error:
        raise CommandFailed(str(error), 1) from error
    print(f"Wrote {out} ({args.page} page, {width}x{height}, {args.theme} theme).")
    return 0
