"""The in-memory dataset: lossless records and the issues found in them.

Every record remembers the exact text it was read from (``raw``) and the
1-based physical line where it starts. A record the user has not edited is
written back from ``raw``, byte for byte, so loading and saving without edits
reproduces every record; an unparseable line stays a record (``data is None``)
with its text kept, shown and editable.

Record shapes (``Dataset.kind``):

- ``chat``: ``{"messages": [{"role", "content", "weight"?}, ...], ...}``, the OpenAI
  chat format. Imports (Alpaca, ShareGPT, CSV, Parquet/Arrow) are converted to it.
- ``completion``: ``{"prompt": str, "completion": str, ...}``.
- ``preference``: ``{"prompt": [messages], "chosen": [messages], "rejected": [messages]}``.

Curation fields live at the top level of a record: ``tags`` (list of text),
``review`` (``draft``/``approved``/``rejected``), ``note`` and ``source``.
Rejected examples stay in the file but are excluded from training.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Severity = Literal["error", "warning"]
Kind = Literal["chat", "completion", "preference"]

ROLES = ("system", "user", "assistant")
"""Roles a chat message may have (OpenAI also accepts ``function``/``tool``; see validate)."""
REVIEW_STATES = ("draft", "approved", "rejected")
CURATION_KEYS = ("tags", "review", "note", "source")
"""Top-level keys ftstudio uses for curation; stripped when exporting to OpenAI."""


@dataclass(frozen=True)
class Issue:
    """One problem in a dataset, at a physical line.

    Attributes:
        line: 1-based physical line where the record starts (0: not from a file).
        code: stable machine name, e.g. ``invalid_json`` or ``role_order``.
        severity: ``error`` (blocks training) or ``warning``.
        field: path inside the record, e.g. ``messages[2].content``; ``""`` for the line.
        message: plain-language explanation with the fix.
        record: index of the record in :attr:`Dataset.records` (-1: the whole file).
    """

    line: int
    code: str
    severity: Severity
    field: str
    message: str
    record: int = -1

    def to_json(self) -> dict[str, Any]:
        """The issue as printed by ``ftstudio data validate --json``."""
        return {
            "line": self.line,
            "code": self.code,
            "severity": self.severity,
            "field": self.field,
            "message": self.message,
        }


@dataclass
class Record:
    """One example, kept losslessly.

    Attributes:
        data: the parsed value (normally a dict in the dataset's kind), or ``None``
            when the text could not be parsed.
        raw: the original text, verbatim, without its line ending; ``None`` for a
            record created in ftstudio or converted from another shape.
        line: 1-based physical line where the record starts in its file (0: new).
        parse_error: ``invalid_json`` or ``encoding`` issue when ``data`` is ``None``.
        edited: true once changed; an edited record is written from ``data``.
    """

    data: Any
    raw: str | None = None
    line: int = 0
    parse_error: Issue | None = None
    edited: bool = False

    # ---- Shape helpers (all tolerate malformed data and return empty values)
    @property
    def is_parsed(self) -> bool:
        """Whether ``data`` holds a parsed value."""
        return self.parse_error is None and self.data is not None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages, or ``[]`` when the record has none (or is malformed)."""
        if isinstance(self.data, dict) and isinstance(self.data.get("messages"), list):
            return [m for m in self.data["messages"] if isinstance(m, dict)]
        return []

    @property
    def tags(self) -> list[str]:
        """The record's tags (text items only)."""
        tags = self.data.get("tags") if isinstance(self.data, dict) else None
        return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []

    @property
    def review(self) -> str:
        """``draft`` (the default), ``approved`` or ``rejected``."""
        value = self.data.get("review") if isinstance(self.data, dict) else None
        return value if value in REVIEW_STATES else "draft"

    @property
    def note(self) -> str:
        """Free-text note of the curator."""
        value = self.data.get("note") if isinstance(self.data, dict) else None
        return value if isinstance(value, str) else ""

    @property
    def source(self) -> str:
        """Where the example came from (file, import, rating…)."""
        value = self.data.get("source") if isinstance(self.data, dict) else None
        return value if isinstance(value, str) else ""

    @property
    def trainable(self) -> bool:
        """Parsed and not rejected (validation errors are checked separately)."""
        return self.is_parsed and self.review != "rejected"

    # ---- Serialisation
    def text(self) -> str:
        """The line to write: ``raw`` when untouched, else compact UTF-8 JSON of ``data``."""
        if (not self.edited or self.data is None) and self.raw is not None:
            return self.raw
        return json.dumps(self.data, ensure_ascii=False)

    def set_data(self, data: Any) -> None:
        """Replace the parsed value (an edit)."""
        self.data = data
        self.parse_error = None
        self.edited = True

    def set_raw(self, text: str) -> bool:
        """Replace the record's text (fixing an unparseable line); returns whether it parses.

        Text that still does not parse is kept as the new ``raw`` and will be written
        back as typed.
        """
        self.raw = text
        try:
            self.data = json.loads(text)
        except json.JSONDecodeError as error:
            self.data = None
            self.parse_error = Issue(
                self.line,
                "invalid_json",
                "error",
                "",
                f"Not valid JSON: {error.msg} (column {error.colno}). Fix the line or delete it.",
            )
            self.edited = False
            return False
        self.parse_error = None
        self.edited = False  # raw now is exactly what the user typed and it parses
        return True


@dataclass
class Dataset:
    """A dataset file in memory.

    Attributes:
        records: every non-blank line (or row, or array element) in file order.
        kind: the shape of ``record.data`` (``chat``, ``completion``, ``preference``).
        format: the file format it was read from (``chat``, ``completion``, ``alpaca``,
            ``sharegpt``, ``csv``, ``parquet``, ``arrow``, ``preference``).
        path: the file it was read from, if any.
        bom: the file started with a UTF-8 byte-order mark (kept on save).
        newline: the file's line ending, ``"\\n"`` or ``"\\r\\n"`` (kept on save).
        file_issues: problems with the file as a whole (e.g. empty file).
        json_array: the file was one JSON array rather than JSON Lines (kept on save).
        csv_header: CSV only: the header row as read, verbatim (kept on save so that
            unedited rows, which are written back byte for byte, keep their columns).
    """

    records: list[Record] = field(default_factory=list)
    kind: Kind = "chat"
    format: str = "chat"
    path: Path | None = None
    bom: bool = False
    newline: str = "\n"
    file_issues: list[Issue] = field(default_factory=list)
    json_array: bool = False
    csv_header: str | None = None

    def __len__(self) -> int:
        return len(self.records)

    def parsed(self) -> list[tuple[int, Record]]:
        """(index, record) of every record that parsed."""
        return [(i, r) for i, r in enumerate(self.records) if r.is_parsed]
