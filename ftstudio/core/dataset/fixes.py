"""Quick fixes that are safe to apply: strip whitespace, find exact copies, stringify content.

Each fix that changes a record builds new values and stores them with
:meth:`Record.set_data` (so the record is marked edited and an undo stack holding
the old value keeps it intact); it never mutates the record's current data in place.
"""

from __future__ import annotations

import json
from typing import Any

from ftstudio.core.dataset.records import Dataset, Record
from ftstudio.core.dataset.validate import example_signature

MESSAGE_LIST_KEYS = ("messages", "prompt", "chosen", "rejected")
"""Top-level keys whose value may be a list of chat messages (chat and preference kinds)."""


def strip_whitespace(record: Record) -> bool:
    """Strip leading and trailing whitespace from every message's text content.

    Works on chat ``messages`` and on preference ``prompt``/``chosen``/``rejected``
    turns; completion prompts are left alone (their separators can be deliberate).

    Returns:
        Whether anything changed (the record is then marked edited).
    """
    data = record.data
    if not isinstance(data, dict):
        return False
    changed = False
    new = dict(data)
    for key in MESSAGE_LIST_KEYS:
        messages = data.get(key)
        if not isinstance(messages, list):
            continue
        turns = list(messages)
        for position, message in enumerate(turns):
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if isinstance(content, str) and content.strip() != content:
                turns[position] = {**message, "content": content.strip()}
                changed = True
        new[key] = turns
    if changed:
        record.set_data(new)
    return changed


def exact_duplicate_groups(dataset: Dataset) -> list[list[int]]:
    """Groups of indices of examples that are exact copies of each other.

    Two examples are copies when they train the same thing: curation fields (tags,
    review, note, source) and ``id`` are ignored (see
    :func:`~ftstudio.core.dataset.validate.example_signature`). Rejected and
    unparseable records are left out. Each group is in file order and holds at least
    two indices; groups are ordered by their first index. Removing every index of a
    group but the first removes the copies.
    """
    return group_by_key(
        dataset,
        example_signature,
        [i for i, r in enumerate(dataset.records) if r.is_parsed and r.review != "rejected"],
    )


def group_by_key(dataset: Dataset, key: Any, indices: list[int]) -> list[list[int]]:
    """Groups (of two or more, in file order) of ``indices`` whose ``key(data)`` is equal.

    Only hashes are kept for the whole pass (keys of a large dataset held alive make
    the garbage collector slow); hash hits are confirmed by comparing the keys.
    """
    records = dataset.records
    by_hash: dict[int, list[int]] = {}
    for index in indices:
        value = key(records[index].data)
        if value is not None:
            by_hash.setdefault(hash(value), []).append(index)
    groups: list[list[int]] = []
    for members in by_hash.values():
        if len(members) < 2:
            continue
        exact: dict[Any, list[int]] = {}
        for index in members:
            exact.setdefault(key(records[index].data), []).append(index)
        groups.extend(group for group in exact.values() if len(group) > 1)
    groups.sort(key=lambda group: group[0])
    return groups


def stringify_content_preview(record: Record) -> list[tuple[str, str, str]]:
    """What :func:`stringify_content` would change: ``(field, before, after)`` per value.

    ``before`` is the value as JSON text, ``after`` the string it becomes: a number
    or true/false as written in JSON, a list of text parts joined by line breaks (the
    text of ``{"type": "text", "text": ...}`` parts, other items as JSON), an object as
    JSON text. Null content is left alone: there is no text to make from it.
    """
    return [(field, _json(before), after) for field, before, after, _ in _changes(record)]


def stringify_content(record: Record) -> bool:
    """Turn every non-string content into a string (see :func:`stringify_content_preview`).

    Returns:
        Whether anything changed (the record is then marked edited).
    """
    changes = _changes(record)
    if not changes:
        return False
    data = dict(record.data)
    for _field, _before, after, (key, position) in changes:
        if position is None:
            data[key] = after
        else:
            turns = list(data[key]) if data[key] is record.data[key] else data[key]
            turns[position] = {**turns[position], "content": after}
            data[key] = turns
    record.set_data(data)
    return True


def _changes(record: Record) -> list[tuple[str, Any, str, tuple[str, int | None]]]:
    data = record.data
    if not isinstance(data, dict):
        return []
    found: list[tuple[str, Any, str, tuple[str, int | None]]] = []
    for key in MESSAGE_LIST_KEYS:
        messages = data.get(key)
        if not isinstance(messages, list):
            continue
        for position, message in enumerate(messages):
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if content is not None and not isinstance(content, str):
                found.append(
                    (f"{key}[{position}].content", content, _as_text(content), (key, position))
                )
    for key in ("prompt", "completion"):
        value = data.get(key)
        if value is not None and not isinstance(value, str | list):
            found.append((key, value, _as_text(value), (key, None)))
    return found


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                parts.append(_json(part))
        return "\n".join(parts)
    return _json(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
