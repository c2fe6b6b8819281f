"""Parquet and Arrow datasets, read and written through Hugging Face ``datasets``.

Each row is a dict in any shape the text formats know (chat, completion, preference,
alpaca, sharegpt, or CSV's ``system``/``user``/``assistant`` columns); rows are converted
like the text readers do (:func:`ftstudio.core.dataset.formats.records_from_rows`), so
alpaca, sharegpt and CSV-shaped rows become chat records with a ``source``.

Arrow gives every row every column: a key missing from some rows reads back as null.
Those nulls (at the top level and inside messages) are dropped on load, so a chat saved
to Parquet and read back has the same records. A record's ``line`` is its 1-based row
number; ``raw`` is ``None`` (rows have no text). ``datasets`` and ``pyarrow`` are imported
only when a tabular file is actually read or written, so text files load fast.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftstudio.core.dataset.formats import (
    KIND_OF_FORMAT,
    TABULAR_FORMATS,
    DatasetReadError,
    DatasetWriteError,
    LoadCancelled,
    check_file,
    detect_format,
    load_dataset,
    records_from_rows,
    row_format,
    save_dataset,
)
from ftstudio.core.dataset.records import Dataset, Issue

_SHAPE_KEYS = frozenset(
    {
        "messages",
        "prompt",
        "completion",
        "chosen",
        "rejected",
        "conversations",
        "instruction",
        "output",
        "user",
        "assistant",
        "role",
        "content",
        "from",
        "value",
    }
)
_CANCEL_EVERY = 10_000


def tabular_format(path: Path) -> str | None:
    """``parquet`` or ``arrow`` from the file name, else ``None``."""
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".arrow", ".feather"):
        return "arrow"
    return None


def load_any(
    path: Path,
    format: str | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    max_bytes: int | None = None,
) -> Dataset:
    """Load any dataset file: Parquet/Arrow here, text formats with ``load_dataset``.

    Args and errors as :func:`ftstudio.core.dataset.formats.load_dataset`.
    """
    path = Path(path)
    if format is None:
        format = detect_format(path)
    if format in TABULAR_FORMATS:
        return load_tabular(path, format, progress=progress, cancel=cancel, max_bytes=max_bytes)
    return load_dataset(path, format, progress=progress, cancel=cancel, max_bytes=max_bytes)


def load_tabular(
    path: Path,
    format: str | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    max_bytes: int | None = None,
) -> Dataset:
    """Read a Parquet or Arrow (IPC stream or file, as ``datasets`` writes) dataset.

    Raises:
        DatasetReadError: missing, unreadable, too large, or not a valid file.
        LoadCancelled: ``cancel()`` returned true.
    """
    path = Path(path)
    check_file(path, max_bytes)
    format = format or tabular_format(path) or detect_format(path)
    if format not in TABULAR_FORMATS:
        raise DatasetReadError(path, f"{format!r} is not a tabular format (parquet, arrow).")
    if cancel is not None and cancel():
        raise LoadCancelled("Loading was cancelled.")
    table = _read_table(path, format)
    rows = [_strip_nulls(row) for row in table.to_pylist()]
    del table
    if progress is not None:
        progress(0, len(rows))
    shape = next((found for row in rows if (found := row_format(row)) is not None), "chat")
    records = []
    for start in range(0, len(rows), _CANCEL_EVERY):
        if cancel is not None and cancel():
            raise LoadCancelled("Loading was cancelled.")
        chunk = rows[start : start + _CANCEL_EVERY]
        records.extend(records_from_rows(chunk, shape, source=path.name, first_line=start + 1))
        if progress is not None:
            progress(min(start + _CANCEL_EVERY, len(rows)), len(rows))
    dataset = Dataset(records=records, kind=KIND_OF_FORMAT[shape], format=format, path=path)
    if not records:
        dataset.file_issues.append(
            Issue(1, "empty_file", "warning", "", "The file has no rows. Add examples.")
        )
    if progress is not None:
        progress(len(rows), len(rows))
    return dataset


def _read_table(path: Path, format: str) -> Any:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if format == "parquet":
            return pq.read_table(path)
        try:  # the IPC stream format, as ``datasets`` writes its .arrow files
            return datasets.Dataset.from_file(str(path), in_memory=True).data.table
        except (pa.ArrowInvalid, OSError, ValueError):
            with pa.memory_map(str(path)) as source:  # the IPC file format (Feather v2)
                return pa.ipc.open_file(source).read_all()
    except PermissionError:
        raise DatasetReadError(
            path, "permission denied.", "Ask for read access, or copy the file somewhere you can."
        ) from None
    except (pa.ArrowException, OSError, ValueError) as error:
        raise DatasetReadError(
            path,
            f"it is not a valid {format} file ({error}).",
            "Check that the file is complete, or choose its real format.",
        ) from None


def _strip_nulls(row: Any) -> Any:
    """Drop the nulls Arrow adds for keys a row (or message) never had."""
    if not isinstance(row, dict):
        return row
    out = {}
    for key, value in row.items():
        if value is None and key not in _SHAPE_KEYS:
            continue
        if isinstance(value, list):
            value = [_strip_nulls(item) if isinstance(item, dict) else item for item in value]
        out[key] = value
    return out


def save_tabular(dataset: Dataset, path: Path, format: str | None = None) -> Path:
    """Write ``dataset`` (its records' ``data``, in its kind's shape) as Parquet or Arrow.

    The file is written to a temporary name beside ``path`` and renamed, so a crash
    leaves the old file or the new one. ``format`` defaults to the file name's.

    Raises:
        DatasetWriteError: unparseable or non-object records (named by line), values
            Arrow cannot store in one column (e.g. text in some rows, lists in others),
            or an unknown format.
    """
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    format = format or tabular_format(path)
    if format not in TABULAR_FORMATS:
        raise DatasetWriteError(f"Cannot save {path} as a table: use a .parquet or .arrow name.")
    bad = [r.line for r in dataset.records if not isinstance(r.data, dict)]
    if bad:
        shown = ", ".join(map(str, bad[:20])) + (" …" if len(bad) > 20 else "")
        raise DatasetWriteError(
            f"Cannot save {path} as {format}: {len(bad)} example(s) could not be read or are "
            f"not JSON objects (lines {shown}). Fix or delete them first."
        )
    # ``from_list`` takes its columns from the first row only: give every row every key.
    columns = list(dict.fromkeys(key for r in dataset.records for key in r.data))
    rows = [{key: r.data.get(key) for key in columns} for r in dataset.records]
    try:
        table = datasets.Dataset.from_list(rows).data.table
    except (pa.ArrowException, TypeError, ValueError) as error:
        raise DatasetWriteError(
            f"Cannot save {path} as {format}: the examples do not fit one table ({error}). "
            "Make each field the same type in every example (e.g. content always text), "
            "or save as JSON Lines."
        ) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if format == "parquet":
            pq.write_table(table, tmp_name)
        else:
            with pa.OSFile(tmp_name, "wb") as sink, pa.ipc.new_stream(sink, table.schema) as out:
                out.write_table(table)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return path


def save_any(dataset: Dataset, path: Path | None = None, format: str | None = None) -> Path:
    """Save in any format: Parquet/Arrow here, text formats with ``save_dataset``."""
    target = Path(path) if path is not None else dataset.path
    if format is None:
        format = tabular_format(target) if target is not None else None
    if format is None:  # a text file: the source format, or the rows' shape for a table
        format = dataset.kind if dataset.format in TABULAR_FORMATS else dataset.format
    if format in TABULAR_FORMATS:
        if target is None:
            raise DatasetWriteError("Cannot save: the dataset has no file yet; choose where.")
        return save_tabular(dataset, target, format)
    return save_dataset(dataset, target, format)
