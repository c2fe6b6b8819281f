"""Validation: every issue at once, at its line, with the documented codes."""

from __future__ import annotations

import gc
import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftstudio.core.dataset.fixes import exact_duplicate_groups, stringify_content, strip_whitespace
from ftstudio.core.dataset.records import Dataset, Issue, Record
from ftstudio.core.dataset.split import assign_split
from ftstudio.core.dataset.stats import compute_stats
from ftstudio.core.dataset.tokens import TokenizedExample
from ftstudio.core.dataset.validate import (
    KNOWN_MESSAGE_KEYS,
    ValidationCancelled,
    example_signature,
    guess_kind,
    validate_dataset,
    validate_record,
)


def chat(*turns: tuple[str, Any], **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": r, "content": c} for r, c in turns], **extra}


GOOD = chat(("system", "Be brief."), ("user", "Hi?"), ("assistant", "Hello."))


def dataset(*items: Any, kind: str = "chat") -> Dataset:
    """Records from parsed values (Record items are taken as they are)."""
    records = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, Record):
            item.line = item.line or number
            records.append(item)
        else:
            records.append(Record(data=item, raw=json.dumps(item), line=number * 2))
    return Dataset(records=records, kind=kind)  # type: ignore[arg-type]


def codes(issues: list[Issue]) -> list[str]:
    return [issue.code for issue in issues]


def one(data: Any, kind: str | None = "chat", **kw: Any) -> list[Issue]:
    return validate_record(Record(data=data, line=7), 3, kind=kind, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- clean data
def test_a_clean_chat_has_no_issues() -> None:
    assert one(GOOD) == []
    weighted = chat(("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d"))
    weighted["messages"][1]["weight"] = 0
    weighted["messages"][3]["weight"] = 1
    assert one(weighted) == []
    tools = {
        "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
            {"role": "tool", "content": "sunny", "tool_call_id": "1"},
            {"role": "assistant", "content": "It is sunny."},
        ]
    }
    assert one(tools) == []


def test_issue_carries_line_record_field_and_plain_message() -> None:
    data = chat(("user", "Hi"), ("assistant", 42))
    [issue] = one(data)
    assert (issue.line, issue.record, issue.code, issue.severity, issue.field) == (
        7,
        3,
        "missing_content",
        "error",
        "messages[1].content",
    )
    assert "string" in issue.message
    assert issue.to_json() == {
        "line": 7,
        "code": "missing_content",
        "severity": "error",
        "field": "messages[1].content",
        "message": issue.message,
    }


# ---------------------------------------------------------------------------- each code
@pytest.mark.parametrize(
    ("data", "expected", "field"),
    [
        ([1, 2], "data_type", ""),
        (None, "data_type", ""),
        ("text", "data_type", ""),
        ({"prompt": "x"}, "missing_messages_list", "messages"),
        ({"messages": []}, "missing_messages_list", "messages"),
        ({"messages": "hi"}, "missing_messages_list", "messages"),
        (
            {"messages": [{"content": "x"}, {"role": "assistant", "content": "y"}]},
            "message_missing_key",
            "messages[0].role",
        ),
        (
            {"messages": [{"role": "user"}, {"role": "assistant", "content": "y"}]},
            "message_missing_key",
            "messages[0].content",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "x", "lang": "en"},
                    {"role": "assistant", "content": "y"},
                ]
            },
            "message_unrecognized_key",
            "messages[0].lang",
        ),
        (chat(("human", "x"), ("assistant", "y")), "unrecognized_role", "messages[0].role"),
        (chat((["user"], "x"), ("assistant", "y")), "unrecognized_role", "messages[0].role"),
        (chat(({"r": 1}, "x"), ("assistant", "y")), "unrecognized_role", "messages[0].role"),
        (chat(("user", None), ("assistant", "y")), "missing_content", "messages[0].content"),
        (chat(("user", ["a"]), ("assistant", "y")), "missing_content", "messages[0].content"),
        (chat(("system", "s"), ("user", "x")), "example_missing_assistant_message", "messages"),
        (
            chat(("assistant", "y"), ("user", "x"), ("assistant", "z")),
            "role_order",
            "messages[0].role",
        ),
        (chat(("user", "x"), ("user", "x2"), ("assistant", "y")), "role_order", "messages[1].role"),
        (
            chat(("user", "x"), ("system", "s"), ("assistant", "y")),
            "role_order",
            "messages[1].role",
        ),
        ({"messages": ["hi", {"role": "assistant", "content": "y"}]}, "data_type", "messages[0]"),
    ],
)
def test_each_error_code(data: Any, expected: str, field: str) -> None:
    issues = one(data)
    found = [i for i in issues if i.code == expected]
    assert found, issues
    assert found[0].field == field
    assert found[0].severity == "error"
    assert found[0].message.endswith(".")


def test_unrecognized_key_is_an_error_naming_the_known_keys() -> None:
    data = {
        "messages": [
            {"role": "user", "content": "x", "lang": "en", "mood": 1},
            {"role": "assistant", "content": "y"},
        ]
    }
    [issue] = one(data)
    assert issue.severity == "error"
    assert '"lang", "mood"' in issue.message
    for key in KNOWN_MESSAGE_KEYS:
        assert key in issue.message


def test_null_content_is_allowed_with_a_function_call() -> None:
    data = {
        "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "function_call": {"name": "f"}},
        ]
    }
    assert one(data) == []


@pytest.mark.parametrize("content", ["", "   ", "\n\t"])
def test_empty_content_is_a_warning(content: str) -> None:
    [issue] = one(chat(("user", "x"), ("assistant", content)))
    assert (issue.code, issue.severity, issue.field) == (
        "empty_content",
        "warning",
        "messages[1].content",
    )


def test_surrounding_whitespace_and_trailing_user_are_warnings() -> None:
    issues = one(chat(("user", " x"), ("assistant", "y\n"), ("user", "more?")))
    assert [(i.code, i.severity, i.field) for i in issues] == [
        ("surrounding_whitespace", "warning", "messages[0].content"),
        ("surrounding_whitespace", "warning", "messages[1].content"),
        ("last_message_not_assistant", "warning", "messages[2]"),
    ]


@pytest.mark.parametrize("weight", [2, 0.5, "1", None, True, [1]])
def test_weight_must_be_zero_or_one(weight: Any) -> None:
    data = chat(("user", "x"), ("assistant", "y"))
    data["messages"][1]["weight"] = weight
    [issue] = one(data)
    assert (issue.code, issue.severity, issue.field) == (
        "invalid_weight",
        "error",
        "messages[1].weight",
    )


def test_weight_on_a_user_turn_warns_and_all_zero_weights_is_an_error() -> None:
    data = chat(("user", "x"), ("assistant", "y"))
    data["messages"][0]["weight"] = 1
    assert [(i.code, i.severity) for i in one(data)] == [("weight_not_assistant", "warning")]
    data["messages"][0].pop("weight")
    data["messages"][1]["weight"] = 0
    assert [(i.code, i.severity) for i in one(data)] == [("no_trained_message", "error")]


def test_two_system_turns_and_many_problems_are_all_reported() -> None:
    data = {
        "messages": [
            {"role": "system", "content": "a"},
            {"role": "system", "content": "b"},
            {"role": "bot", "content": "c"},
            {"role": "user", "content": 3, "x": 1},
            {"role": "assistant", "content": ""},
        ],
        "tags": "billing",
        "review": "Rejected",
        "note": 5,
    }
    assert codes(one(data)) == [
        "unrecognized_role",
        "message_unrecognized_key",
        "missing_content",
        "empty_content",
        "role_order",
        "invalid_tags",
        "invalid_review",
        "invalid_note",
    ]


def test_curation_fields() -> None:
    good = {**GOOD, "tags": ["a", "b"], "review": "approved", "note": "n", "source": "s"}
    assert one(good) == []
    bad = one({**GOOD, "tags": ["a", 1], "review": None, "source": ["x"]})
    assert [(i.code, i.severity, i.field) for i in bad] == [
        ("invalid_tags", "error", "tags"),
        ("invalid_review", "error", "review"),
        ("invalid_source", "warning", "source"),
    ]
    assert "draft, approved, rejected" in bad[1].message


# ---------------------------------------------------------------------------- other kinds
def test_completion_kind() -> None:
    assert one({"prompt": "p", "completion": "c"}, kind="completion") == []
    assert [(i.code, i.field) for i in one({"prompt": "p"}, kind="completion")] == [
        ("missing_completion_key", "completion")
    ]
    issues = one({"prompt": " ", "completion": "", "tags": []}, kind="completion")
    assert [(i.code, i.severity, i.field) for i in issues] == [
        ("empty_content", "warning", "prompt"),
        ("empty_content", "error", "completion"),
    ]
    assert codes(one({"prompt": 1, "completion": "c"}, kind="completion")) == ["missing_content"]


PAIR = {
    "prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}],
    "chosen": [{"role": "assistant", "content": "good"}],
    "rejected": [{"role": "assistant", "content": "bad"}],
}


def test_preference_kind() -> None:
    assert one(PAIR, kind="preference") == []
    assert [(i.code, i.field) for i in one({"prompt": PAIR["prompt"]}, kind="preference")] == [
        ("missing_preference_key", "chosen"),
        ("missing_preference_key", "rejected"),
    ]
    same = {**PAIR, "rejected": [{"role": "assistant", "content": "good "}]}
    assert codes(one(same, kind="preference")) == [
        "surrounding_whitespace",
        "identical_preference",
    ]
    ends_with_assistant = {
        **PAIR,
        "prompt": [*PAIR["prompt"], {"role": "assistant", "content": "a"}],
    }
    assert [(i.code, i.field) for i in one(ends_with_assistant, kind="preference")] == [
        ("role_order", "prompt[2].role")
    ]
    two = {**PAIR, "chosen": [{"role": "assistant", "content": "a"}] * 2}
    assert codes(one(two, kind="preference")) == ["invalid_preference_answer"]
    user_answer = {**PAIR, "chosen": [{"role": "user", "content": ""}]}
    issues = one(user_answer, kind="preference")
    assert [(i.code, i.severity, i.field) for i in issues] == [
        ("empty_content", "error", "chosen[0].content"),
        ("invalid_preference_answer", "error", "chosen[0].role"),
    ]
    assert codes(one({**PAIR, "chosen": "good"}, kind="preference")) == ["preference_type"]
    assert codes(one({**PAIR, "prompt": []}, kind="preference")) == ["preference_type"]


def test_plain_text_pairs_and_conversational_completions() -> None:
    text_pair = {"prompt": "q", "chosen": "good", "rejected": "bad"}
    assert one(text_pair, kind="preference") == []
    assert [(i.code, i.field) for i in one({**text_pair, "rejected": ""}, kind="preference")] == [
        ("empty_content", "rejected")
    ]
    assert codes(one({**text_pair, "rejected": " good"}, kind="preference")) == [
        "identical_preference"
    ]
    mixed = one({**text_pair, "chosen": PAIR["chosen"]}, kind="preference")
    assert [(i.code, i.field) for i in mixed] == [
        ("preference_type", "prompt"),
        ("preference_type", "rejected"),
    ]
    conversational = {"prompt": PAIR["prompt"], "completion": PAIR["chosen"]}
    assert one(conversational, kind="completion") == []
    wrong = {"prompt": PAIR["prompt"], "completion": [{"role": "user", "content": "x"}]}
    assert [(i.code, i.field) for i in one(wrong, kind="completion")] == [
        ("role_order", "completion[0].role")
    ]


def test_kind_is_guessed_from_keys_when_not_given() -> None:
    assert guess_kind(GOOD) == "chat"
    assert guess_kind({"prompt": "p", "completion": "c"}) == "completion"
    assert guess_kind(PAIR) == "preference"
    assert guess_kind([1]) == "chat"
    assert one({"prompt": "p", "completion": "c"}, kind=None) == []
    assert one(PAIR, kind=None) == []


# ---------------------------------------------------------------------------- whole dataset
def test_dataset_lists_parse_errors_duplicates_and_blank_lines_are_not_issues() -> None:
    broken = Record(
        data=None,
        raw='{"messages": [',
        line=3,
        parse_error=Issue(3, "invalid_json", "error", "", "Not valid JSON: ..."),
    )
    undecodable = Record(
        data=None,
        raw="\ufffd",
        line=5,
        parse_error=Issue(5, "encoding", "error", "", "Not UTF-8 ..."),
    )
    data = dataset(GOOD, broken, undecodable, dict(GOOD, tags=["x"]), GOOD)
    issues = validate_dataset(data)
    assert [(i.line, i.record, i.code) for i in issues] == [
        (3, 1, "invalid_json"),
        (5, 2, "encoding"),
        (8, 3, "duplicate_example"),
        (10, 4, "duplicate_example"),
    ]
    assert all(i.severity == "warning" for i in issues[2:])
    assert "line 2" in issues[2].message  # names the first copy's line


def test_rejected_copies_are_not_duplicates_and_file_issues_come_first() -> None:
    empty = Issue(0, "empty_file", "error", "", "The file is empty.")
    data = dataset(GOOD, dict(GOOD, review="rejected"))
    data.file_issues.append(empty)
    assert validate_dataset(data) == [empty]


def test_duplicates_compare_content_not_curation_or_key_order() -> None:
    reordered = {
        "tags": ["t"],
        "messages": [{"content": m["content"], "role": m["role"]} for m in GOOD["messages"]],
    }
    weighted = json.loads(json.dumps(GOOD))
    weighted["messages"][2]["weight"] = 1
    other = chat(("user", "Hi?"), ("assistant", "Hello!"))
    assert example_signature(reordered) == example_signature(GOOD)
    assert example_signature(weighted) != example_signature(GOOD)
    issues = validate_dataset(dataset(GOOD, reordered, weighted, other, dict(weighted, id=9)))
    assert [(i.record, i.code) for i in issues] == [
        (1, "duplicate_example"),
        (4, "duplicate_example"),
    ]


def test_progress_and_cancel() -> None:
    data = dataset(*[chat(("user", f"q{i}"), ("assistant", "a")) for i in range(5000)])
    seen: list[tuple[int, int]] = []
    assert validate_dataset(data, progress=lambda done, total: seen.append((done, total))) == []
    assert seen[-1] == (5000, 5000)
    assert len(seen) >= 2
    assert all(a[0] < b[0] for a, b in zip(seen, seen[1:], strict=False))
    with pytest.raises(ValidationCancelled):
        validate_dataset(data, cancel=lambda: True)


# ---------------------------------------------------------------------------- tokens
class WordTokenizer:
    """One token per word; assistant words are trained, plus one end-of-turn token each.

    A real tokenizer is tested in the CLI tests; this one makes the counts exact.
    """

    def tokenize_example(self, data: dict[str, Any]) -> TokenizedExample:
        ids: list[int] = []
        trained: list[bool] = []
        for message in data["messages"]:
            if message["role"] == "bad":
                raise ValueError("Conversation roles must alternate user/assistant")
            words = message["content"].split()
            train = message["role"] == "assistant" and message.get("weight", 1) == 1
            ids += [len(w) for w in words] + [0]
            trained += [train] * (len(words) + 1)
        return TokenizedExample(ids, trained)


def test_too_long_error_when_the_whole_answer_is_cut_warning_when_part_is() -> None:
    data = chat(("user", "one two three four"), ("assistant", "five six"))  # 5 + 3 tokens
    tok = WordTokenizer()
    assert one(data, tokenizer=tok, max_length=8) == []
    assert one(data, tokenizer=tok) == []  # no max length: nothing to compare
    [part] = one(data, tokenizer=tok, max_length=6)
    assert (part.code, part.severity) == ("too_long", "warning")
    assert "8 tokens" in part.message
    assert "2 of its 3 trained" in part.message
    [whole] = one(data, tokenizer=tok, max_length=5)
    assert (whole.code, whole.severity) == ("too_long", "error")
    assert "8 tokens" in whole.message
    assert "all 3 trained" in whole.message
    assert "max length of 5" in whole.message


def test_template_errors_are_reported_and_broken_records_are_not_tokenized() -> None:
    class Exploding:
        def tokenize_example(self, data: dict[str, Any]) -> TokenizedExample:
            raise AssertionError("must not be called for a record with errors")

    assert codes(one({"messages": []}, tokenizer=Exploding(), max_length=4)) == [
        "missing_messages_list"
    ]

    class Rejecting:
        def tokenize_example(self, data: dict[str, Any]) -> TokenizedExample:
            raise ValueError("Conversation roles must alternate user/assistant/user/assistant")

    [issue] = one(GOOD, tokenizer=Rejecting(), max_length=4)
    assert issue.code == "template_error"
    assert "alternate" in issue.message


# ---------------------------------------------------------------------------- speed
def test_validating_100k_chat_records_is_fast() -> None:
    system = "You answer IT questions briefly."
    why, it = "why " * 20 + "?", "it " * 60 + "."
    gc.disable()  # building 100k nested dicts is what is slow here, not the validation
    try:
        records = []
        for i in range(100_000):
            messages = [{"role": "system", "content": system}]
            for turn in range(1 + i % 3):
                messages.append({"role": "user", "content": f"Question {i}.{turn}: {why}"})
                messages.append({"role": "assistant", "content": f"Answer {i}.{turn}: {it}"})
            records.append(Record(data={"messages": messages, "tags": ["a"]}, line=i + 1))
    finally:
        gc.enable()
    data = Dataset(records=records)
    seconds = _timed(validate_dataset, data)
    # About 0.45 s on a 2-core box; the bound leaves room for slow, busy machines.
    assert seconds < 1.5, seconds


def _timed(function: Any, *args: Any) -> float:
    start = time.perf_counter()
    assert function(*args) == []
    return time.perf_counter() - start


# ---------------------------------------------------------------------------- any input
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
_messages = st.lists(
    st.dictionaries(
        st.sampled_from(["role", "content", "weight", "name", "tool_calls", "x"]),
        st.sampled_from(["user", "assistant", "system", "tool", "bot", "", " a "]) | _json_values,
        max_size=4,
    )
    | _json_values,
    max_size=4,
)
_records = (
    st.fixed_dictionaries(
        {},
        optional={
            "messages": _messages,
            "prompt": _messages | _json_values,
            "completion": _json_values,
            "chosen": _messages | _json_values,
            "rejected": _messages | _json_values,
            "tags": _json_values,
            "review": st.sampled_from(["draft", "rejected", "x"]) | _json_values,
            "id": _json_values,
        },
    )
    | _json_values
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_records, max_size=6), st.sampled_from(["chat", "completion", "preference"]))
def test_any_json_is_validated_described_split_and_fixed_without_crashing(
    values: list[Any], kind: str
) -> None:
    data = dataset(*values, kind=kind)
    issues = validate_dataset(data)
    assert all(i.line == data.records[i.record].line for i in issues)
    assert all(i.severity in ("error", "warning") for i in issues)
    compute_stats(data, issues=issues).to_json()
    assign_split(data, 0.5, seed=1)
    exact_duplicate_groups(data)
    for record in data.records:
        strip_whitespace(record)
        stringify_content(record)
        assert validate_record(record, 0, kind=kind) is not None
