"""What the command modules share: failures, settings, option helpers and number formats.

Nothing heavy is imported here; the command modules import their libraries inside
the functions that need them.
"""

# ruff: noqa: T201  (a command line prints)

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type hints only: nothing is imported at run time
    from ftstudio.core.settings import AppSettings


class CommandFailed(Exception):
    """Ends a command: ``main`` prints ``ftstudio: MESSAGE`` on stderr and exits with ``code``."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def apply_settings() -> AppSettings:
    """The saved settings (Project ▸ Settings in the studio), with the model cache folder
    and offline mode applied to the environment before any Hugging Face library loads."""
    from ftstudio.core.settings import apply_environment, read_settings

    settings = read_settings()
    apply_environment(settings)
    return settings


def add_json_option(parser: argparse.ArgumentParser, instead: str = "text") -> None:
    """``--json``: print JSON instead of ``instead`` (text, a table)."""
    parser.add_argument("--json", action="store_true", help=f"print JSON instead of {instead}")


def print_json(data: object, default: Callable[[Any], Any] | None = None) -> None:
    """``data`` as indented JSON (``default`` turns other objects into JSON)."""
    import json

    print(json.dumps(data, ensure_ascii=False, indent=2, default=default))


def count(n: int, noun: str) -> str:
    """``1 example``, ``1,024 examples``."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def duration(seconds: float) -> str:
    """``H:MM:SS``."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def print_table(rows: Sequence[Sequence[str]], *, pad_last: bool = True) -> None:
    """``rows`` (the header first) in left-aligned columns two spaces apart.

    Without ``pad_last`` the last column is not padded (it is free text of any length).
    """
    padded = len(rows[0]) if pad_last else len(rows[0]) - 1
    widths = [max(len(row[i]) for row in rows) for i in range(padded)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:padded], widths, strict=True)]
        print("  ".join([*cells, *row[padded:]]))
