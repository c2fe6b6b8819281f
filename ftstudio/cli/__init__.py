"""Command-line composition root: ``ftstudio [COMMAND] ...``.

One module per command group builds its sub-parser (``add_commands``) and runs it;
``build_parser`` and ``main`` put them together. Nothing heavy is imported at module
level: ``ftstudio --version`` answers at once, and torch loads only for commands that
build or train a model.

Modules: ``common`` (failures, settings, formats), ``progress`` (terminal progress,
Ctrl-C), ``app_cmd`` (gui, screenshot, tiny-model), ``data``, ``plan``, ``train``,
``runs`` (list, show), ``evaluate`` (eval, losses), ``openai_cmd``, ``secrets_cmd``
and ``export`` (merge, export).
"""

# ruff: noqa: T201  (a command line prints)

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import ftstudio
from ftstudio.cli import (
    app_cmd,
    data,
    evaluate,
    export,
    openai_cmd,
    plan,
    runs,
    secrets_cmd,
    train,
)
from ftstudio.cli.app_cmd import PAGES
from ftstudio.cli.common import CommandFailed, apply_settings
from ftstudio.cli.data import DATA_FORMATS
from ftstudio.cli.evaluate import eval_summary_lines
from ftstudio.cli.secrets_cmd import SECRET_CHOICES

__all__ = [
    "DATA_FORMATS",
    "PAGES",
    "SECRET_CHOICES",
    "build_parser",
    "eval_summary_lines",
    "main",
]

Handler = Callable[[argparse.Namespace, argparse.ArgumentParser], int]

HANDLERS: dict[str, Handler] = {
    "gui": app_cmd.run_gui,
    "tiny-model": app_cmd.run_tiny_model,
    "screenshot": app_cmd.run_screenshot,
    "data": data.run,
    "plan": plan.run,
    "train": train.run,
    "runs": runs.run,
    "eval": evaluate.run_eval,
    "losses": evaluate.run_losses,
    "openai": openai_cmd.run,
    "secrets": secrets_cmd.run,
    "merge": export.run,
    "export": export.run,
}
"""Each command's function: it returns the exit code or raises :class:`CommandFailed`."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every ftstudio command."""
    parser = argparse.ArgumentParser(
        prog="ftstudio",
        description="Fine-tune language models on your own GPU. Without a command, the "
        "studio window opens.",
    )
    parser.add_argument("--version", action="version", version=f"ftstudio {ftstudio.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in (app_cmd, data, plan, train, runs, evaluate, openai_cmd, secrets_cmd, export):
        group.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command in ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    command = args.command or "gui"
    apply_settings()
    handler = HANDLERS.get(command)
    if handler is None:
        parser.error(f"unknown command {command}")
    try:
        return handler(args, parser)
    except CommandFailed as failure:
        print(f"ftstudio: {failure}", file=sys.stderr)
        return failure.code
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
