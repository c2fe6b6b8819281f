"""Dataset files: read and write them without losing anything.

Formats (:data:`FORMATS`):

- ``chat``: JSON Lines of ``{"messages": [...]}`` (OpenAI chat, multi-turn, ``weight``
  0/1 on assistant messages);
- ``completion``: JSON Lines of ``{"prompt", "completion"}``;
- ``preference``: JSON Lines of ``{"prompt", "chosen", "rejected"}``;
- ``alpaca``: ``{"instruction", "input", "output", "system"?}``, a JSON array or JSON Lines;
- ``sharegpt``: ``{"conversations": [{"from", "value"}, ...]}``, a JSON array or JSON Lines;
- ``csv``: a header row naming ``user`` and ``assistant`` (and optionally ``system``)
  columns, then one example per row (quoted fields may hold commas, quotes and
  newlines). Other columns become top-level keys; an empty cell means "no value" (the
  key is absent, and an empty ``system`` cell means no system message); a ``tags`` cell
  holding a JSON list becomes that list, and non-text values are written as JSON. CSV
  holds single-turn chats only;
- ``parquet`` / ``arrow``: read and written by :mod:`ftstudio.engine.tabular`.

Any JSON format may also be one JSON array (``json_array``). Alpaca, ShareGPT, CSV and
tabular rows become chat records on load; their unknown keys stay at the top level and
a ``source`` naming the file is added unless the example already has one.

Lossless rules:

- every record keeps its original text (``raw``: the JSON line, the exact text of the
  array element, or the exact CSV row) and the 1-based line where it starts;
- a record that is not edited and is saved in the format it came from is written back
  from ``raw``, byte for byte; anything else is converted from ``data``;
- an unparseable record (``data is None``: bad JSON, bad UTF-8, a broken CSV row) is
  kept, and written back verbatim in its own format; converting it is refused;
- a UTF-8 byte-order mark and CRLF line endings are kept; invalid UTF-8 is reported at
  its line and its bytes are written back unchanged.

Blank lines (only spaces and tabs) are not records: they are dropped on save, and a
saved file always ends with a line ending.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ftstudio.core.atomic import atomic_write_bytes
from ftstudio.core.dataset.records import Dataset, Issue, Kind, Record

FORMATS = ("chat", "completion", "preference", "alpaca", "sharegpt", "csv", "parquet", "arrow")
"""Every dataset format ftstudio reads and writes."""
TEXT_FORMATS = FORMATS[:6]
"""Formats read and written here; ``parquet`` and ``arrow`` live in ``engine.tabular``."""
TABULAR_FORMATS = ("parquet", "arrow")
JSON_FORMATS = ("chat", "completion", "preference", "alpaca", "sharegpt")
"""Formats stored as JSON Lines or as one JSON array."""
KIND_OF_FORMAT: dict[str, Kind] = {
    "chat": "chat",
    "completion": "completion",
    "preference": "preference",
    "alpaca": "chat",
    "sharegpt": "chat",
    "csv": "chat",
}
"""The shape of ``record.data`` after loading each row format."""

MAX_BYTES: int | None = None
"""Largest file to load; ``None``: a third of the memory available (see :func:`memory_limit`)."""
BINARY_PROBE = 8192
"""How many leading bytes are checked for NUL bytes (a file that has them is not text)."""
PROGRESS_CALLS = 200
"""About how many times a load reports progress."""

OPENAI_MESSAGE_KEYS = (
    "role",
    "content",
    "name",
    "weight",
    "tool_calls",
    "tool_call_id",
    "function_call",
    "refusal",
)
"""Message keys kept by :func:`export_openai`."""
OPENAI_TOP_KEYS = ("messages", "tools", "functions", "parallel_tool_calls")
"""Top-level keys kept by :func:`export_openai` (the function-calling keys OpenAI accepts)."""

_BOM = b"\xef\xbb\xbf"
_BLANK = " \t\r"
_JSON_WS = re.compile(r"[ \t\n\r]*")
_SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "model": "assistant",
    "system": "system",
}
_SHAREGPT_FROM = {"user": "human", "assistant": "gpt", "system": "system"}
_CSV_CORE = ("system", "user", "assistant")


class DatasetReadError(Exception):
    """A dataset file cannot be read; the message names the file, says why and what to do."""

    def __init__(self, path: Path | str, why: str, fix: str = "") -> None:
        self.path = Path(path)
        self.why = why
        self.fix = fix
        super().__init__(f"Cannot read {self.path}: {why}" + (f" {fix}" if fix else ""))


class DatasetWriteError(ValueError):
    """A dataset cannot be written in the requested format; the message names the lines."""


class LoadCancelled(Exception):
    """Raised by a load when its ``cancel()`` callback returned true."""


# ---------------------------------------------------------------- Checks


def memory_limit() -> int | None:
    """The largest file :func:`load_dataset` accepts, in bytes (``None``: no limit known).

    :data:`MAX_BYTES` when set; otherwise a third of the memory available now, since a
    loaded dataset holds each line's text and its parsed value (about three times the
    file's size).
    """
    if MAX_BYTES is not None:
        return MAX_BYTES
    available = _available_memory()
    return None if available is None else available // 3


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if sys.platform == "win32":
        import ctypes

        class _Status(ctypes.Structure):
            _fields_ = [
                ("length", ctypes.c_ulong),
                ("load", ctypes.c_ulong),
                ("total_phys", ctypes.c_ulonglong),
                ("avail_phys", ctypes.c_ulonglong),
                ("total_page", ctypes.c_ulonglong),
                ("avail_page", ctypes.c_ulonglong),
                ("total_virtual", ctypes.c_ulonglong),
                ("avail_virtual", ctypes.c_ulonglong),
                ("avail_extended", ctypes.c_ulonglong),
            ]

        status = _Status()
        status.length = ctypes.sizeof(_Status)
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
            return int(status.avail_phys)
        return None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_file(path: Path, max_bytes: int | None = None) -> int:
    """Check that ``path`` is a readable file small enough to load; return its size.

    Raises:
        DatasetReadError: missing, a folder, not a regular file, permission denied,
            or larger than ``max_bytes`` (default :func:`memory_limit`).
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DatasetReadError(
            path, "the file does not exist.", "Check the name and folder."
        ) from None
    except PermissionError:
        raise DatasetReadError(
            path, "permission denied.", "Ask for read access, or copy the file somewhere you can."
        ) from None
    except OSError as error:
        raise DatasetReadError(path, f"{error.strerror or error}.") from None
    if path.is_dir():
        raise DatasetReadError(
            path, "this is a folder, not a file.", "Choose the dataset file inside it."
        )
    if not path.is_file():
        raise DatasetReadError(path, "this is not a regular file.", "Choose a dataset file.")
    limit = memory_limit() if max_bytes is None else max_bytes
    if limit is not None and info.st_size > limit:
        raise DatasetReadError(
            path,
            f"the file is {_size(info.st_size)}, more than this computer can hold in memory "
            f"({_size(limit)} at most now).",
            "Split it into smaller files (for example 100,000 lines each), or close other "
            "programs and try again.",
        )
    return info.st_size


def _size(count: int) -> str:
    if count < 1000:
        return f"{count} bytes"
    value, unit = count / 1000, "KB"
    for bigger in ("MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f} {unit}"


def _open(path: Path) -> io.BufferedReader:
    try:
        return open(path, "rb")  # noqa: SIM115 - returned to the caller's with-block
    except PermissionError:
        raise DatasetReadError(
            path, "permission denied.", "Ask for read access, or copy the file somewhere you can."
        ) from None
    except IsADirectoryError:
        raise DatasetReadError(
            path, "this is a folder, not a file.", "Choose the dataset file inside it."
        ) from None
    except OSError as error:
        raise DatasetReadError(path, f"{error.strerror or error}.") from None


def _check_text(path: Path, head: bytes) -> None:
    if b"\x00" in head:
        why = "it is not a text file (it contains NUL bytes)."
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            why = "it is UTF-16 text; ftstudio reads UTF-8."
        elif head.startswith(b"PAR1"):
            why = "it is a Parquet file, which is opened as the `parquet` format."
        raise DatasetReadError(
            path, why, "Save it as UTF-8 JSON Lines or CSV, or choose the right format."
        )


# ---------------------------------------------------------------- Detection


def row_format(row: Any) -> str | None:
    """The format one parsed example is in, from its keys (``None``: not recognised).

    ``messages`` → chat; ``chosen`` + ``rejected`` → preference; ``prompt`` +
    ``completion`` → completion; ``conversations`` → sharegpt; ``instruction`` →
    alpaca; ``user`` + ``assistant`` → csv (the CSV column shape, e.g. in Parquet).
    """
    if not isinstance(row, dict):
        return None
    if "messages" in row:
        return "chat"
    if "chosen" in row and "rejected" in row:
        return "preference"
    if "prompt" in row and "completion" in row:
        return "completion"
    if "conversations" in row:
        return "sharegpt"
    if "instruction" in row:
        return "alpaca"
    if "user" in row and "assistant" in row:
        return "csv"
    return None


def detect_format(path: Path) -> str:
    """Guess a file's format from its extension and first examples.

    ``.csv`` → csv; ``.parquet`` / ``.arrow`` (or their magic bytes) → parquet / arrow;
    otherwise the first parseable examples' keys decide (see :func:`row_format`). A
    file that cannot be told apart is read as ``chat``, so every line is kept and
    validation explains what is wrong. Always overridable by passing a format.

    Raises:
        DatasetReadError: the file is missing, a folder, unreadable or not text.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    check_file(path, max_bytes=sys.maxsize)  # missing, folder, permission: say so now
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".arrow", ".feather"):
        return "arrow"
    with _open(path) as handle:
        head = handle.read(BINARY_PROBE)
        if head.startswith(b"PAR1"):
            return "parquet"
        if head.startswith((b"ARROW1", b"\xff\xff\xff\xff")):
            return "arrow"
        _check_text(path, head)
        handle.seek(0)
        start = head.removeprefix(_BOM).lstrip()
        if start.startswith(b"[") and (
            path.suffix.lower() == ".json" or not _first_line_parses(handle)
        ):
            return _detect_array(handle)
        return _detect_lines(handle)


def _detect_lines(handle: io.BufferedReader) -> str:
    first_line = ""
    for seen, chunk in enumerate(handle):
        text = chunk.removeprefix(_BOM).decode("utf-8", "replace").strip()
        if not text:
            continue
        first_line = first_line or text
        try:
            found = row_format(json.loads(text))
        except (ValueError, RecursionError):
            found = None
        if found is not None:
            return found
        if seen > 50:
            break
    if not first_line.startswith(("{", "[")):
        header = next(csv.reader([first_line]), [])
        if "user" in header and "assistant" in header:
            return "csv"
    return "chat"


def _detect_array(handle: io.BufferedReader) -> str:
    data = b""
    size = 1 << 16
    decoder = json.JSONDecoder()
    while True:
        chunk = handle.read(size)
        data += chunk
        text = data.removeprefix(_BOM).decode("utf-8", "replace")
        start = _JSON_WS.match(text, text.index("[") + 1).end()
        try:
            value, _ = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            if not chunk:
                return "chat"
            size *= 2
            continue
        return row_format(value) or "chat"


# ---------------------------------------------------------------- Row conversion (to chat)


def _add_source(out: dict[str, Any], source: str | None) -> dict[str, Any]:
    if source is not None and "source" not in out:
        out["source"] = source
    return out


def _alpaca_to_chat(row: Any, source: str | None) -> Any:
    if not isinstance(row, dict) or not ("instruction" in row or "output" in row):
        return row
    messages: list[dict[str, Any]] = []
    system = row.get("system")
    if system not in (None, ""):
        messages.append({"role": "system", "content": system})
    instruction, extra = row.get("instruction", ""), row.get("input")
    if isinstance(instruction, str) and isinstance(extra, str) and extra:
        instruction = f"{instruction}\n\n{extra}" if instruction else extra
    messages.append({"role": "user", "content": instruction})
    messages.append({"role": "assistant", "content": row.get("output", "")})
    out: dict[str, Any] = {"messages": messages}
    for key, value in row.items():
        if key not in ("instruction", "input", "output", "system"):
            out[key] = value
    return _add_source(out, source)


def _sharegpt_to_chat(row: Any, source: str | None) -> Any:
    if not isinstance(row, dict) or not isinstance(row.get("conversations"), list):
        return row
    messages: list[Any] = []
    system = row.get("system")
    turns = row["conversations"]
    has_system = any(isinstance(t, dict) and t.get("from") == "system" for t in turns)
    use_system = isinstance(system, str) and system != "" and not has_system
    if use_system:
        messages.append({"role": "system", "content": system})
    for turn in turns:
        if not isinstance(turn, dict):
            messages.append(turn)
            continue
        message: dict[str, Any] = {}
        for key, value in turn.items():
            if key == "from":
                message["role"] = (
                    _SHAREGPT_ROLES.get(value, value) if isinstance(value, str) else value
                )
            elif key == "value":
                message["content"] = value
            else:
                message[key] = value
        messages.append(message)
    out: dict[str, Any] = {"messages": messages}
    for key, value in row.items():
        if key != "conversations" and not (key == "system" and use_system):
            out[key] = value
    return _add_source(out, source)


def _csv_to_chat(row: dict[str, Any], source: str | None) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    system = row.get("system")
    if system not in (None, ""):
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": row.get("user", "")})
    messages.append({"role": "assistant", "content": row.get("assistant", "")})
    out: dict[str, Any] = {"messages": messages}
    for key, value in row.items():
        if key not in _CSV_CORE:
            out[key] = value
    return _add_source(out, source)


def _csv_cell_tags(value: str) -> Any:
    """A ``tags`` cell holding a JSON list (as ftstudio writes it) becomes that list."""
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        if isinstance(parsed, list):
            return parsed
    return value


_ROW_TO_CHAT: dict[str, Callable[[Any, str | None], Any]] = {
    "alpaca": _alpaca_to_chat,
    "sharegpt": _sharegpt_to_chat,
    "csv": lambda row, source: _csv_to_chat(row, source) if isinstance(row, dict) else row,
}


def records_from_rows(
    rows: Iterable[Any], format: str, *, source: str | None = None, first_line: int = 1
) -> list[Record]:
    """Records from already-parsed rows (e.g. Parquet), converted like the text readers.

    Args:
        rows: one value per example, in ``format``'s shape (chat, completion,
            preference, alpaca, sharegpt, or csv: ``system``/``user``/``assistant``).
        format: the rows' shape; alpaca, sharegpt and csv rows become chat records.
        source: added as ``source`` to converted records that have none.
        first_line: the ``line`` of the first row (rows are numbered from it).

    Returns:
        One record per row, with ``raw`` ``None`` (there is no original text).
    """
    convert = _ROW_TO_CHAT.get(format)
    if convert is None:
        if format not in KIND_OF_FORMAT:
            raise ValueError(f"Unknown row format {format!r}; use one of {list(KIND_OF_FORMAT)}.")
        return [Record(row, None, i) for i, row in enumerate(rows, first_line)]
    return [Record(convert(row, source), None, i) for i, row in enumerate(rows, first_line)]


# ---------------------------------------------------------------- Loading


def load_dataset(
    path: Path,
    format: str | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    max_bytes: int | None = None,
) -> Dataset:
    """Read a dataset file losslessly (see the module docstring).

    Args:
        path: the file.
        format: one of :data:`TEXT_FORMATS`; ``None`` detects it (:func:`detect_format`).
        progress: called as ``progress(done, total)`` a few hundred times at most.
        cancel: polled while loading; when it returns true, :class:`LoadCancelled`.
        max_bytes: refuse larger files (default :func:`memory_limit`).

    Returns:
        The dataset. An empty file (or one with only blank lines) gives an empty
        dataset with an ``empty_file`` warning in ``file_issues``.

    Raises:
        DatasetReadError: the file cannot be read (missing, folder, permission, not
            text, too large, a broken JSON array, a CSV without the needed columns),
            or the format is parquet/arrow (use ``ftstudio.engine.tabular.load_any``).
        LoadCancelled: ``cancel()`` returned true.
    """
    path = Path(path)
    size = check_file(path, max_bytes)
    if format is None:
        format = detect_format(path)
    if format in TABULAR_FORMATS:
        raise DatasetReadError(
            path,
            f"{format} files are read by the engine.",
            "Use ftstudio.engine.tabular.load_any (the studio and CLI do this for you).",
        )
    if format not in TEXT_FORMATS:
        raise DatasetReadError(
            path, f"unknown format {format!r}.", f"Use one of: {', '.join(FORMATS)}."
        )
    report = _Progress(size, progress, cancel)
    # Loading makes millions of long-lived objects and no reference cycles; the cyclic
    # collector would rescan the growing heap again and again (over half the load time
    # on 100,000 chats), so it is paused while reading.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with _open(path) as handle:
            head = handle.read(BINARY_PROBE)
            _check_text(path, head)
            handle.seek(0)
            stripped = head.removeprefix(_BOM).lstrip()
            dataset: Dataset | None = None
            if format == "csv":
                dataset = _read_csv(path, handle, report)
            elif stripped.startswith(b"["):
                dataset = _try_array(path, handle, format, report)
            if dataset is None:
                handle.seek(0)
                dataset = _read_jsonl(path, handle, format, _Progress(size, progress, cancel))
    finally:
        if collecting:
            gc.enable()
    dataset.path = path
    dataset.format = format
    dataset.kind = KIND_OF_FORMAT[format]
    if not dataset.records:
        what = "is empty" if size == 0 else "has no examples (only blank lines)"
        dataset.file_issues.append(
            Issue(
                1,
                "empty_file",
                "warning",
                "",
                f"The file {what}. Add examples, or open another file.",
            )
        )
    report.finish()
    return dataset


class _Progress:
    """Throttled progress and cancel checks, by position in the file."""

    def __init__(
        self,
        total: int,
        progress: Callable[[int, int], None] | None,
        cancel: Callable[[], bool] | None,
    ) -> None:
        self.total = total
        self.progress = progress
        self.cancel = cancel
        self.step = max(total // PROGRESS_CALLS, 1 << 16)
        self.next = self.step

    def update(self, done: int) -> None:
        self.next = done + self.step
        if self.cancel is not None and self.cancel():
            raise LoadCancelled("Loading was cancelled.")
        if self.progress is not None:
            self.progress(min(done, self.total), self.total)

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(self.total, self.total)


def _encoding_issue(error: UnicodeDecodeError, line: int, index: int) -> Issue:
    """``error`` decoding one line's bytes: the issue, at that line."""
    bad = error.object[error.start]
    return Issue(
        line,
        "encoding",
        "error",
        "",
        f"Not valid UTF-8: byte 0x{bad:02x} at byte {error.start + 1} of the line cannot be "
        "read as text. Save the file as UTF-8, or retype or delete this line.",
        index,
    )


def _escaped_issue(text: str, line: int, index: int) -> Issue | None:
    """The encoding issue of surrogate-escaped ``text`` starting at ``line``, if it has one."""
    for offset, part in enumerate(text.split("\n")):
        try:
            part.encode("utf-8", "surrogateescape").decode()
        except UnicodeDecodeError as error:
            return _encoding_issue(error, line + offset, index)
    return None


def _json_issue(error: ValueError | RecursionError, line: int, index: int) -> Issue:
    if isinstance(error, json.JSONDecodeError):
        why = f"{error.msg} (column {error.colno})"
    elif isinstance(error, RecursionError):
        why = "it is nested too deeply"
    else:
        why = str(error)
    return Issue(
        line,
        "invalid_json",
        "error",
        "",
        f"Not valid JSON: {why}. Fix the line or delete it.",
        index,
    )


def _try_array(
    path: Path, handle: io.BufferedReader, format: str, report: _Progress
) -> Dataset | None:
    """Read a file starting with ``[`` as one JSON array; ``None``: it is JSON Lines.

    A ``.json`` file is tried as an array first; any other name only when its first
    line is not a JSON value by itself (as in a pretty-printed array), since a JSON
    Lines file may start with a record that is an array. A broken array is reported
    (with its line and column) only when JSON Lines is not plausible either.
    """
    named_json = path.suffix.lower() == ".json"
    first_parses = _first_line_parses(handle)
    if not named_json and first_parses:
        return None
    try:
        return _read_json_array(path, handle, format, report)
    except DatasetReadError:
        if named_json and not first_parses:
            raise
        return None


def _first_line_parses(handle: io.BufferedReader) -> bool:
    """Whether the first non-blank line is a whole JSON value by itself (rewinds)."""
    handle.seek(0)
    first = b""
    for chunk in handle:
        if chunk.strip():
            first = chunk.removeprefix(_BOM)
            break
    handle.seek(0)
    try:
        json.loads(first)
    except (ValueError, RecursionError):
        return False
    return True


def _read_jsonl(path: Path, handle: io.BufferedReader, format: str, report: _Progress) -> Dataset:
    """Stream JSON Lines: one record per non-blank line (the hot path: keep it lean)."""
    convert = _ROW_TO_CHAT.get(format)
    source = path.name if convert is not None else None
    records: list[Record] = []
    append = records.append
    loads = json.loads
    bom = False
    newline = ""
    done = 0
    mark = report.next
    first = True
    try:
        for line_no, chunk in enumerate(handle, 1):
            done += len(chunk)
            if done >= mark:
                report.update(done)
                mark = report.next
            if first:
                first = False
                if chunk.startswith(_BOM):
                    bom, chunk = True, chunk[3:]
            if chunk.endswith(b"\n"):
                if chunk.endswith(b"\r\n"):
                    chunk = chunk[:-2]
                    newline = newline or "\r\n"
                else:
                    chunk = chunk[:-1]
                    newline = newline or "\n"
            try:
                text = chunk.decode()
            except UnicodeDecodeError as error:
                text = chunk.decode("utf-8", "surrogateescape")
                issue = _encoding_issue(error, line_no, len(records))
                append(Record(None, text, line_no, issue))
                continue
            try:
                data = loads(text)
            except (ValueError, RecursionError) as error:
                if not text.strip(_BLANK):
                    continue  # a blank line is not a record
                append(Record(None, text, line_no, _json_issue(error, line_no, len(records))))
                continue
            if convert is not None:
                data = convert(data, source)
            append(Record(data, text, line_no))
    except OSError as error:
        raise DatasetReadError(path, f"{error.strerror or error}.") from None
    return Dataset(records=records, bom=bom, newline=newline or "\n")


def _decode_whole(data: bytes) -> tuple[str, bool]:
    """The text of ``data`` (surrogate-escaped where not UTF-8) and whether that happened."""
    try:
        return data.decode(), False
    except UnicodeDecodeError:
        return data.decode("utf-8", "surrogateescape"), True


def _newline_of(text: str) -> str:
    at = text.find("\n")
    return "\r\n" if at > 0 and text[at - 1] == "\r" else "\n"


def _read_json_array(
    path: Path, handle: io.BufferedReader, format: str, report: _Progress
) -> Dataset:
    """One JSON array: each element is a record; ``raw`` is the element's exact text."""
    try:
        data = handle.read()
    except OSError as error:
        raise DatasetReadError(path, f"{error.strerror or error}.") from None
    bom = data.startswith(_BOM)
    text, escaped = _decode_whole(data.removeprefix(_BOM))
    del data
    convert = _ROW_TO_CHAT.get(format)
    source = path.name if convert is not None else None
    decoder = json.JSONDecoder()
    at = _JSON_WS.match(text).end() + 1  # just past "["
    line, counted = 1, 0
    records: list[Record] = []
    scale = report.total / max(len(text), 1)

    def broken(position: int, why: str) -> DatasetReadError:
        row = text.count("\n", 0, position) + 1
        column = position - text.rfind("\n", 0, position)
        return DatasetReadError(
            path,
            f"the JSON array is broken at line {row}, column {column}: {why}.",
            "Fix it in a text editor, or save the examples as JSON Lines (one per line) so "
            "that a broken example does not stop the others from loading.",
        )

    at = _JSON_WS.match(text, at).end()
    if text.startswith("]", at):
        at += 1
    else:
        while True:
            at = _JSON_WS.match(text, at).end()
            try:
                value, end = decoder.raw_decode(text, at)
            except json.JSONDecodeError as error:
                raise broken(error.pos, error.msg) from None
            except RecursionError:
                raise broken(at, "an example is nested too deeply") from None
            line += text.count("\n", counted, at)
            counted = at
            raw = text[at:end]
            issue = _escaped_issue(raw, line, len(records)) if escaped else None
            if issue is not None:
                records.append(Record(None, raw, line, issue))
            else:
                records.append(Record(convert(value, source) if convert else value, raw, line))
            if end * scale >= report.next:
                report.update(int(end * scale))
            at = _JSON_WS.match(text, end).end()
            if text.startswith(",", at):
                at += 1
            elif text.startswith("]", at):
                at += 1
                break
            else:
                raise broken(at, "expected ',' or ']' after an example")
    at = _JSON_WS.match(text, at).end()
    if at < len(text):
        raise broken(at, "extra text after the closing ']'")
    return Dataset(records=records, bom=bom, newline=_newline_of(text), json_array=True)


def _physical_lines(data: bytes) -> Iterator[tuple[str, UnicodeDecodeError | None]]:
    """Each physical line of ``data`` with its ending, and its UTF-8 error if any."""
    start = 0
    size = len(data)
    while start < size:
        end = data.find(b"\n", start)
        end = size if end < 0 else end + 1
        chunk = data[start:end]
        try:
            yield chunk.decode(), None
        except UnicodeDecodeError as error:
            yield chunk.decode("utf-8", "surrogateescape"), error
        start = end


def _strip_ending(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def _read_csv(path: Path, handle: io.BufferedReader, report: _Progress) -> Dataset:
    """CSV with a header row; ``raw`` is each row's exact text (several lines if quoted)."""
    try:
        data = handle.read()
    except OSError as error:
        raise DatasetReadError(path, f"{error.strerror or error}.") from None
    bom = data.startswith(_BOM)
    data = data.removeprefix(_BOM)
    lines = list(_physical_lines(data))
    del data
    newline = _newline_of(lines[0][0]) if lines else "\n"
    source = path.name
    texts = [text for text, _ in lines]
    records: list[Record] = []
    header: list[str] | None = None
    header_raw: str | None = None
    source_column = False
    consumed = 0
    scale = report.total / max(len(texts), 1)
    old_limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        remaining = iter(texts)
        while consumed < len(texts):
            reader = csv.reader(remaining, strict=True)
            start = consumed
            try:
                fields = next(reader)
                error: str | None = None
            except StopIteration:
                break
            except csv.Error as exc:
                fields, error = [], str(exc)
            consumed = start + reader.line_num
            if consumed * scale >= report.next:
                report.update(int(consumed * scale))
            raw = _strip_ending("".join(texts[start:consumed]))
            line = start + 1
            if not raw.strip(_BLANK):
                continue
            bad = next((i for i in range(start, consumed) if lines[i][1] is not None), None)
            index = len(records)
            if header is None:
                if error is not None or bad is not None:
                    raise DatasetReadError(
                        path,
                        "the header row (the first line) cannot be read"
                        + (f": {error}." if error else " as UTF-8."),
                        "The first line must name the columns, e.g. system,user,assistant.",
                    )
                header, header_raw = [f.strip() for f in fields], raw
                _check_header(path, header)
                source_column = "source" in header
                continue
            if bad is not None:
                issue = _encoding_issue(lines[bad][1], bad + 1, index)  # type: ignore[arg-type]
                records.append(Record(None, raw, line, issue))
                continue
            if error is not None or len(fields) > len(header):
                why = (
                    f"this row has {len(fields)} values but the header names {len(header)} "
                    "columns. Put quotes around values that contain commas"
                    if error is None
                    else f"{error}. Put quotes around values that contain commas, quotes or "
                    'line breaks, and double the quotes inside them ("" for ")'
                )
                issue = Issue(
                    line, "invalid_csv", "error", "", f"Not a valid CSV row: {why}.", index
                )
                records.append(Record(None, raw, line, issue))
                continue
            row = dict(zip(header, fields, strict=False))
            for column in header[len(fields) :]:
                row[column] = ""
            for column in header:  # every row has every column: an empty one is absent
                if column not in _CSV_CORE and row[column] == "":
                    del row[column]
            if "tags" in row:
                row["tags"] = _csv_cell_tags(row["tags"])
            records.append(Record(_csv_to_chat(row, None if source_column else source), raw, line))
    finally:
        csv.field_size_limit(old_limit)
    return Dataset(records=records, bom=bom, newline=newline, csv_header=header_raw)


def _check_header(path: Path, header: list[str]) -> None:
    missing = [c for c in ("user", "assistant") if c not in header]
    if missing:
        raise DatasetReadError(
            path,
            f"the CSV header has no {' or '.join(repr(c) for c in missing)} column "
            f"(its columns are: {', '.join(header) or 'none'}).",
            "The first line must name the columns: system (optional), user, assistant; "
            "rename them and open the file again.",
        )
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise DatasetReadError(
                path, f"the CSV header names the column {column!r} twice.", "Rename one of them."
            )
        seen.add(column)


# ---------------------------------------------------------------- Conversion (for writing)


class _Refused(Exception):
    """One record cannot be converted; the text says why."""


def _require_dict(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _Refused("it is not a JSON object")
    return data


def _chat_messages(data: Any) -> list[dict[str, Any]]:
    messages = _require_dict(data).get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise _Refused("it has no valid 'messages' list")
    return messages


def _single_turn(data: Any, target: str) -> tuple[str | None, Any, Any]:
    """(system, user, assistant) of a one-question-one-answer chat, else refused."""
    messages = _chat_messages(data)
    roles = [m.get("role") for m in messages]
    if roles not in (["user", "assistant"], ["system", "user", "assistant"]):
        answers = sum(1 for r in roles if r == "assistant")
        shape = (
            f"{answers} answers"
            if answers > 1
            else f"the turns {', '.join(map(str, roles))}"
            if roles
            else "no turns"
        )
        raise _Refused(
            f"{target} holds one question and one answer (system optional), but this example "
            f"has {shape}; save it as chat JSONL or ShareGPT instead, or split it"
        )
    system = messages[0].get("content") if roles[0] == "system" else None
    return system, messages[-2].get("content"), messages[-1].get("content")


def _extras(data: dict[str, Any], skip: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in skip}


def _completion_to_chat(data: Any) -> dict[str, Any]:
    row = _require_dict(data)
    if "prompt" not in row or "completion" not in row:
        raise _Refused("it has no 'prompt' and 'completion'")
    messages: list[Any] = []
    for key, role in (("prompt", "user"), ("completion", "assistant")):
        value = row[key]
        if isinstance(value, list):
            messages.extend(value)
        else:
            messages.append({"role": role, "content": value})
    return {"messages": messages, **_extras(row, ("prompt", "completion", "messages"))}


def _to_chat(data: Any, kind: str) -> Any:
    if kind == "chat":
        return data
    if kind == "completion":
        return _completion_to_chat(data)
    raise _Refused("a preference pair (prompt/chosen/rejected) can only be saved as preference")


def _chat_to_alpaca(data: Any) -> dict[str, Any]:
    system, user, assistant = _single_turn(data, "Alpaca")
    out: dict[str, Any] = {"instruction": user, "input": "", "output": assistant}
    if system is not None:
        out["system"] = system
    out.update(_extras(data, ("messages", "instruction", "input", "output", "system")))
    return out


def _chat_to_sharegpt(data: Any) -> dict[str, Any]:
    turns = []
    for message in _chat_messages(data):
        turn: dict[str, Any] = {}
        for key, value in message.items():
            if key == "role":
                turn["from"] = _SHAREGPT_FROM.get(value, value) if isinstance(value, str) else value
            elif key == "content":
                turn["value"] = value
            else:
                turn[key] = value
        turns.append(turn)
    return {"conversations": turns, **_extras(data, ("messages", "conversations"))}


def _chat_to_csv_row(data: Any) -> dict[str, Any]:
    system, user, assistant = _single_turn(data, "CSV")
    row: dict[str, Any] = {}
    if system is not None:
        row["system"] = system
    row["user"], row["assistant"] = user, assistant
    row.update(_extras(data, ("messages", *_CSV_CORE)))
    return row


def _chat_to_completion(data: Any, plain: bool) -> dict[str, Any]:
    messages = _chat_messages(data)
    if not messages or messages[-1].get("role") != "assistant":
        raise _Refused("a completion needs the chat to end with an assistant answer")
    if plain:
        prompt: Any = messages[0].get("content")
        completion: Any = messages[-1].get("content")
    else:
        prompt, completion = messages[:-1], messages[-1:]
    return {"prompt": prompt, "completion": completion, **_extras(data, ("messages",))}


def _is_plain_pair(data: Any) -> bool:
    messages = data.get("messages") if isinstance(data, dict) else None
    return (
        isinstance(messages, list)
        and [m.get("role") if isinstance(m, dict) else None for m in messages]
        == ["user", "assistant"]
        and all(
            set(m) <= {"role", "content"} and isinstance(m.get("content"), str) for m in messages
        )
    )


def _converter(dataset: Dataset, target: str) -> Callable[[Any], Any]:
    """A function turning one record's ``data`` into ``target``'s shape (or ``_Refused``)."""
    kind = dataset.kind
    if KIND_OF_FORMAT.get(target) == kind and target in ("chat", "completion", "preference"):
        return lambda data: data
    if target == "preference" or kind == "preference":
        return lambda data: _to_chat(data, "preference")  # always refused
    if target == "completion":
        plain = all(_is_plain_pair(r.data) for r in dataset.records if r.data is not None)
        return lambda data: _chat_to_completion(_to_chat(data, kind), plain)
    to_target: dict[str, Callable[[Any], Any]] = {
        "chat": lambda data: data,
        "alpaca": _chat_to_alpaca,
        "sharegpt": _chat_to_sharegpt,
        "csv": _chat_to_csv_row,
    }
    step = to_target[target]
    return lambda data: step(_to_chat(data, kind))


def _refusal(path: Path | None, target: str, problems: list[tuple[int, str]]) -> DatasetWriteError:
    where = f" {path}" if path is not None else ""
    shown = "; ".join(
        f"line {line}: {why}" if line else f"a new example: {why}" for line, why in problems[:10]
    )
    more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
    return DatasetWriteError(
        f"Cannot save{where} as {target}: {len(problems)} example(s) cannot be converted. "
        f"{shown}{more}."
    )


# ---------------------------------------------------------------- Saving


def save_dataset(
    dataset: Dataset,
    path: Path | None = None,
    format: str | None = None,
    *,
    json_array: bool | None = None,
) -> Path:
    """Write ``dataset`` atomically; the dataset object itself is not changed.

    Unedited records saved in their source format are written from ``raw`` (byte for
    byte); everything else is converted from ``data``. The file keeps the dataset's
    byte-order mark and line ending.

    Args:
        dataset: what to write.
        path: where (default: ``dataset.path``).
        format: one of :data:`TEXT_FORMATS` (default: ``dataset.format``).
        json_array: write one JSON array instead of JSON Lines (JSON formats only).
            Default: as the source file when saving over it, else a ``.json`` name
            gives an array and any other name JSON Lines.

    Returns:
        The path written.

    Raises:
        DatasetWriteError: some records cannot be converted (the message names their
            lines: unparseable records, multi-turn chats for Alpaca or CSV, preference
            pairs for other formats...), or the format is not a text format.
        OSError: the file cannot be written.
    """
    target_path = Path(path) if path is not None else dataset.path
    if target_path is None:
        raise DatasetWriteError("Cannot save: the dataset has no file yet; choose where to save.")
    target = format or dataset.format
    if target in TABULAR_FORMATS:
        raise DatasetWriteError(
            f"Cannot save {target_path} as {target} here; use ftstudio.engine.tabular.save_tabular."
        )
    if target not in TEXT_FORMATS:
        raise DatasetWriteError(f"Unknown format {target!r}; use one of: {', '.join(FORMATS)}.")
    same_file = dataset.path is not None and _same_path(target_path, dataset.path)
    if json_array is None:
        json_array = dataset.json_array if same_file else target_path.suffix.lower() == ".json"
    data = render_dataset(dataset, target, json_array=json_array, path=target_path)
    atomic_write_bytes(target_path, data)
    return target_path


def _same_path(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b


def render_dataset(
    dataset: Dataset,
    format: str | None = None,
    *,
    json_array: bool = False,
    path: Path | None = None,
) -> bytes:
    """The bytes :func:`save_dataset` would write (see there); ``path`` only names errors."""
    target = format or dataset.format
    if target not in TEXT_FORMATS:
        raise DatasetWriteError(f"Cannot render {target!r} as text; use one of {TEXT_FORMATS}.")
    same = target == dataset.format
    marker = dataset.path.name if dataset.path is not None else None
    # The ``source`` an import added is not written back into the file it came from
    # (unless that file has a column or key of its own for it).
    drop_marker = same and target in _ROW_TO_CHAT and marker is not None
    if drop_marker and target == "csv" and dataset.csv_header is not None:
        header = next(csv.reader([dataset.csv_header]), [])
        drop_marker = "source" not in (c.strip() for c in header)
    convert = _converter(dataset, target)
    pieces: list[tuple[int, str | None, Any]] = []  # (line, raw text, converted data)
    problems: list[tuple[int, str]] = []
    # JSON Lines holds one record per line: a pretty-printed array element is converted
    # from its data instead (an unparseable one is written as it is, line breaks and all).
    multiline = json_array or target == "csv"
    for record in dataset.records:
        raw = record.raw
        if (
            same
            and raw is not None
            and (not record.edited or record.data is None)
            and (multiline or record.data is None or "\n" not in raw)
        ):
            pieces.append((record.line, raw, None))
            continue
        if record.data is None:
            problems.append((record.line, "it could not be read (fix or delete it first)"))
            continue
        data = record.data
        if (
            drop_marker
            and isinstance(data, dict)
            and data.get("source") == marker
            and (record.raw is None or '"source"' not in record.raw)
        ):
            data = {k: v for k, v in data.items() if k != "source"}
        try:
            pieces.append((record.line, None, convert(data)))
        except _Refused as why:
            problems.append((record.line, str(why)))
    if problems:
        raise _refusal(path, target, problems)
    newline = dataset.newline if dataset.newline in ("\n", "\r\n") else "\n"
    if target == "csv":
        header = dataset.csv_header if same and dataset.format == "csv" else None
        body = _render_csv(pieces, header, newline)
    elif json_array:
        body = _render_array(pieces, newline)
    else:
        body = _render_lines(pieces, newline)
    return (_BOM if dataset.bom else b"") + body


def _dumps(data: Any) -> bytes:
    text = json.dumps(data, ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:  # lone surrogates (from \\ud800 escapes): keep them escaped
        return json.dumps(data).encode()


def _raw_bytes(raw: str) -> bytes:
    try:
        return raw.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # typed in the editor: not from the file's bytes
        return raw.encode("utf-8", "backslashreplace")


def _render_lines(pieces: list[tuple[int, str | None, Any]], newline: str) -> bytes:
    end = newline.encode()
    out = [_raw_bytes(raw) if raw is not None else _dumps(data) for _, raw, data in pieces]
    return end.join(out) + end if out else b""


def _render_array(pieces: list[tuple[int, str | None, Any]], newline: str) -> bytes:
    """``json.dump(..., indent=2)`` layout, so such files round-trip byte for byte."""
    end = newline.encode()
    indent = end + b"  "
    items = []
    for _, raw, data in pieces:
        if raw is not None:
            items.append(b"  " + _raw_bytes(raw))
            continue
        text = json.dumps(data, ensure_ascii=False, indent=2)
        try:
            encoded = text.encode()
        except UnicodeEncodeError:
            encoded = json.dumps(data, indent=2).encode()
        items.append(b"  " + encoded.replace(b"\n", indent))
    if not items:
        return b"[]" + end
    return b"[" + end + (b"," + end).join(items) + end + b"]" + end


def _csv_cell(value: Any) -> str:
    if value is None or value == []:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _render_csv(
    pieces: list[tuple[int, str | None, Any]], header_raw: str | None, newline: str
) -> bytes:
    columns: list[str] = []
    if header_raw is not None:
        columns = next(csv.reader([header_raw]), [])
        columns = [c.strip() for c in columns]
    original = len(columns)
    if not columns:
        columns = list(_CSV_CORE)
    known = set(columns)
    for _, _, row in pieces:
        if row is not None:
            for key in row:
                if key not in known:
                    known.add(key)
                    columns.append(key)
    buffer = io.StringIO()
    # "\r\n" makes the writer quote any field holding "\r" or "\n" (it quotes only the
    # terminator's characters); the terminator itself is cut off below.
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line_of(fields: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate(0)
        writer.writerow(fields)
        return _strip_ending(buffer.getvalue())

    if header_raw is not None and original:
        header = header_raw
        if len(columns) > original:
            header += "," + line_of(columns[original:])
    else:
        header = line_of(columns)
    out = [_raw_bytes(header)]
    for line, raw, row in pieces:
        if raw is not None:
            out.append(_raw_bytes(raw))
            continue
        text = line_of([_csv_cell(row.get(c)) for c in columns])
        try:
            out.append(text.encode())
        except UnicodeEncodeError:
            raise DatasetWriteError(
                f"Cannot save as csv: line {line} holds a character UTF-8 cannot store "
                "(a lone surrogate). Remove it, or save as chat JSONL."
            ) from None
    end = newline.encode()
    return end.join(out) + end


# ---------------------------------------------------------------- Backup and export


def backup_original(path: Path) -> Path:
    """Copy ``path`` to ``<stem>.orig<suffix>`` beside it, once; return the backup's path.

    An existing backup is never overwritten (it is the user's original file). The copy
    is made under a temporary name and renamed, so a crash leaves no half backup.
    """
    path = Path(path)
    backup = path.with_name(f"{path.stem}.orig{path.suffix}")
    if backup.exists():
        return backup
    fd, tmp_name = tempfile.mkstemp(prefix=f".{backup.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        shutil.copy2(path, tmp_name)
        if backup.exists():  # made meanwhile by someone else: keep theirs
            os.unlink(tmp_name)
            return backup
        os.replace(tmp_name, backup)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return backup


def export_openai(dataset: Dataset, path: Path) -> int:
    """Write OpenAI fine-tuning chat JSONL; return how many examples were written.

    Each line holds ``messages`` (message keys limited to :data:`OPENAI_MESSAGE_KEYS`,
    ``weight`` kept) plus the function-calling keys in :data:`OPENAI_TOP_KEYS`; curation
    and unknown keys are stripped. Rejected, unparseable and malformed examples (no
    messages list) are skipped. Completion records are turned into chats.

    Raises:
        DatasetWriteError: a preference dataset (OpenAI's chat format has no pairs).
    """
    if dataset.kind == "preference":
        raise DatasetWriteError(
            "Cannot export preference pairs as OpenAI chat JSONL: it holds one answer per "
            "example. Export a chat dataset instead."
        )
    lines: list[bytes] = []
    for record in dataset.records:
        if not record.is_parsed or record.review == "rejected":
            continue
        try:
            chat = _to_chat(record.data, dataset.kind)
            messages = _chat_messages(chat)
        except _Refused:
            continue
        out: dict[str, Any] = {
            "messages": [{k: v for k, v in m.items() if k in OPENAI_MESSAGE_KEYS} for m in messages]
        }
        for key in OPENAI_TOP_KEYS[1:]:
            if key in chat:
                out[key] = chat[key]
        lines.append(_dumps(out))
    atomic_write_bytes(Path(path), b"".join(line + b"\n" for line in lines))
    return len(lines)
