"""Test data for the dataset studio: small real files written to a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BAD_LINES = [
    '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": '
    '"Hello"}], "tags": ["greet"]}',
    "{not json",
    '{"messages": [{"role": "assistant", "content": "first"}]}',
    '"just a string"',
    '{"messages": [{"role": "user", "content": "  pad  "}, {"role": "assistant", "content": '
    '"ok "}]}',
    '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": '
    '"Hello"}], "tags": ["greet"]}',
    '{"messages": [{"role": "user", "content": 42}, {"role": "assistant", "content": '
    '["a", {"type": "text", "text": "b"}]}]}',
]
"""A chat JSONL with one problem per line (lines 2-7): invalid JSON, assistant first,
not an object, surrounding whitespace, a duplicate of line 1, non-string content."""


def chat(user: str, answer: str, **extra: Any) -> dict[str, Any]:
    """A two-turn chat example."""
    return {
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}],
        **extra,
    }


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    """Write ``rows`` as JSON Lines (strings are written verbatim)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wait_loaded(qtbot, document, timeout: int = 20_000) -> None:  # noqa: ANN001
    """Wait until ``document`` has nothing loading or validating."""
    qtbot.waitUntil(
        lambda: not document.loader.is_running() and not document.validator.is_running(),
        timeout=timeout,
    )
