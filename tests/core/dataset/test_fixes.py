"""Quick fixes: strip whitespace, exact duplicate groups, stringify content."""

from __future__ import annotations

import copy
import json
from typing import Any

from ftstudio.core.dataset.fixes import (
    exact_duplicate_groups,
    stringify_content,
    stringify_content_preview,
    strip_whitespace,
)
from ftstudio.core.dataset.records import Dataset, Issue, Record
from ftstudio.core.dataset.validate import validate_record


def record(data: Any) -> Record:
    return Record(data=data, raw=json.dumps(data), line=3)


def test_strip_whitespace_edits_a_copy_and_marks_the_record_edited() -> None:
    data = {
        "messages": [
            {"role": "user", "content": "  Hi?\n"},
            {"role": "assistant", "content": "Hello.", "weight": 1},
            {"role": "assistant", "content": None, "tool_calls": []},
        ],
        "tags": [" keep "],
    }
    original = copy.deepcopy(data)
    rec = record(data)
    assert strip_whitespace(rec) is True
    assert rec.edited
    assert rec.data["messages"][0] == {"role": "user", "content": "Hi?"}
    assert rec.data["messages"][1:] == original["messages"][1:]
    assert rec.data["tags"] == [" keep "]
    assert data == original  # the old value (e.g. held by an undo stack) is untouched
    assert json.loads(rec.text())["messages"][0]["content"] == "Hi?"
    assert strip_whitespace(rec) is False


def test_strip_whitespace_on_clean_or_other_records_changes_nothing() -> None:
    clean = record({"messages": [{"role": "user", "content": "a"}]})
    assert strip_whitespace(clean) is False
    assert not clean.edited
    assert strip_whitespace(record({"prompt": " p ", "completion": " c"})) is False
    assert strip_whitespace(Record(data=None, raw="{")) is False
    pair = record({"prompt": [{"role": "user", "content": "q "}], "chosen": [], "rejected": []})
    assert strip_whitespace(pair) is True
    assert pair.data["prompt"][0]["content"] == "q"


def test_exact_duplicate_groups() -> None:
    def chat(answer: str, **extra: Any) -> dict[str, Any]:
        return {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": answer},
            ],
            **extra,
        }

    broken = Record(data=None, raw="{", parse_error=Issue(1, "invalid_json", "error", "", "x"))
    records = [
        record(chat("a")),
        record(chat("b")),
        record(chat("a", tags=["t"])),
        broken,
        record(chat("b")),
        record(chat("a", review="rejected")),
        record(chat("c")),
        record(chat("a")),
        Record(data=None, raw="{", parse_error=Issue(2, "invalid_json", "error", "", "x")),
    ]
    assert exact_duplicate_groups(Dataset(records=records)) == [[0, 2, 7], [1, 4]]
    assert exact_duplicate_groups(Dataset()) == []


def test_stringify_preview_then_apply() -> None:
    data = {
        "messages": [
            {"role": "user", "content": 42},
            {"role": "assistant", "content": [{"type": "text", "text": "Line one"}, "two", 3]},
            {"role": "user", "content": {"k": "é"}},
            {"role": "assistant", "content": None},
            {"role": "assistant", "content": "fine"},
        ]
    }
    original = copy.deepcopy(data)
    rec = record(data)
    assert stringify_content_preview(rec) == [
        ("messages[0].content", "42", "42"),
        (
            "messages[1].content",
            '[{"type": "text", "text": "Line one"}, "two", 3]',
            "Line one\ntwo\n3",
        ),
        ("messages[2].content", '{"k": "é"}', '{"k": "é"}'),
    ]
    assert not rec.edited  # the preview changes nothing
    assert [i.code for i in validate_record(rec, 0)].count("missing_content") == 4
    assert stringify_content(rec) is True
    assert rec.edited
    assert [m["content"] for m in rec.data["messages"]] == [
        "42",
        "Line one\ntwo\n3",
        '{"k": "é"}',
        None,
        "fine",
    ]
    assert data == original
    assert [i.code for i in validate_record(rec, 0)].count("missing_content") == 1  # the null
    assert stringify_content(rec) is False


def test_stringify_completion_values() -> None:
    rec = record({"prompt": 1.5, "completion": True})
    assert stringify_content_preview(rec) == [
        ("prompt", "1.5", "1.5"),
        ("completion", "true", "true"),
    ]
    assert stringify_content(rec) is True
    assert rec.data == {"prompt": "1.5", "completion": "true"}
