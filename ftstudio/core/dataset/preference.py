"""Preference pairs from ratings: build a pair and append it to the project's file.

When an expert compares two answers (in the playground or the evaluation table) and
picks the better one, or edits one into a better answer, the choice becomes a DPO
pair in TRL's conversational preference format::

    {"prompt": [...messages, ending with the user's turn...],
     "chosen": [{"role": "assistant", "content": "..."}],
     "rejected": [{"role": "assistant", "content": "..."}],
     "source": "..."}

The pair is appended to the project's preference dataset (``datasets.preferences`` in
``project.json``), which the dataset studio opens, validates and edits like any other.
Appending never rewrites what is already in the file: its bytes are kept as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ftstudio.core.atomic import atomic_write_bytes
from ftstudio.core.dataset.records import Record
from ftstudio.core.dataset.validate import validate_record
from ftstudio.core.project import Project

PREFERENCES_ROLE = "preferences"
"""The ``datasets`` role of the preference file in ``project.json``."""
DEFAULT_PREFERENCES = "datasets/preferences.jsonl"
"""Where a project's preference pairs go when it names no preference file."""
_BOM = b"\xef\xbb\xbf"


def preference_record(
    prompt: Sequence[Mapping[str, Any]], chosen: str, rejected: str, *, source: str = ""
) -> dict[str, Any]:
    """A conversational preference pair, checked with the dataset studio's rules.

    Args:
        prompt: the conversation before the answers (system and user/assistant turns),
            ending with the user's turn. The messages are copied as they are.
        chosen: the better answer. Surrounding whitespace is removed.
        rejected: the worse answer. Surrounding whitespace is removed.
        source: where the pair comes from (e.g. ``"playground, run 2026-…"``); stored
            as the ``source`` curation field when not empty.

    Raises:
        ValueError: the pair would not be a valid preference record (an empty answer,
            both answers the same, a prompt that does not end with the user's turn…);
            the message says what is wrong, in plain words.
    """
    for answer, which in ((chosen, "chosen (better)"), (rejected, "rejected (worse)")):
        if not answer.strip():
            raise ValueError(
                f"This pair cannot be saved: the {which} answer is empty. Write it; a "
                "preference pair needs two real answers to compare."
            )
    record: dict[str, Any] = {
        "prompt": [dict(message) for message in prompt],
        "chosen": [{"role": "assistant", "content": chosen.strip()}],
        "rejected": [{"role": "assistant", "content": rejected.strip()}],
    }
    if source:
        record["source"] = source
    issues = validate_record(Record(record), 0, kind="preference")
    errors = [issue.message for issue in issues if issue.severity == "error"]
    if errors:
        raise ValueError("This pair cannot be saved: " + " ".join(errors))
    return record


def append_preference(path: Path, record: Mapping[str, Any]) -> int:
    """Append ``record`` as one JSON line to ``path``; returns its 1-based line.

    The file's existing bytes are kept exactly; a line ending (the file's own, ``\\n``
    or ``\\r\\n``) is added first when the file does not end with one. The write is
    atomic (the whole file is written to a temporary file, fsynced, then renamed).
    The file and its folder are created when missing.

    Raises:
        ValueError: the file is a JSON array (``[...]``), to which a line cannot be
            appended, or it cannot be read or written; the message names the file.
    """
    path = Path(path)
    try:
        existing = path.read_bytes()
    except FileNotFoundError:
        existing = b""
    except OSError as error:
        raise ValueError(f"{path} could not be read: {error.strerror}.") from error
    body = existing.removeprefix(_BOM)
    if body.lstrip().startswith(b"["):
        raise ValueError(
            f"{path} is one JSON array, not JSON Lines, so a pair cannot be appended to it. "
            "Open it in the dataset studio and save it as JSON Lines (.jsonl), or choose "
            "another preference file."
        )
    newline = b"\r\n" if _uses_crlf(body) else b"\n"
    prefix = b""
    if body and not body.endswith(b"\n"):
        prefix = newline
    line = json.dumps(dict(record), ensure_ascii=False).encode("utf-8", "backslashreplace")
    data = existing + prefix + line + newline
    try:
        atomic_write_bytes(path, data)
    except OSError as error:
        raise ValueError(f"{path} could not be written: {error.strerror}.") from error
    return (existing + prefix).count(b"\n") + 1


def _uses_crlf(data: bytes) -> bool:
    end = data.find(b"\n")
    return end > 0 and data[end - 1 : end] == b"\r"


def preferences_path(project: Project) -> Path:
    """The project's preference file (``datasets.preferences`` in ``project.json``).

    When the project names none, ``datasets/preferences.jsonl`` is registered under
    that role and the manifest saved; the file itself is not created (the first
    :func:`append_preference` does that).
    """
    existing = project.dataset_path(PREFERENCES_ROLE)
    if existing is not None:
        return existing
    datasets = dict(project.datasets)
    datasets[PREFERENCES_ROLE] = DEFAULT_PREFERENCES
    project.set("datasets", datasets)
    return project.folder / DEFAULT_PREFERENCES
