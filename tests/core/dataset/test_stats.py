"""Statistics: the size band in plain words, distributions, tags, prompts, duplicates."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ftstudio.core.dataset.records import Dataset, Issue, Record
from ftstudio.core.dataset.stats import (
    Summary,
    compute_stats,
    normalise,
    normalised_text,
    percentile,
    size_band,
)
from ftstudio.core.dataset.tokens import TokenizedExample


def chat(user: str, answer: str, *, system: str | None = None, **extra: Any) -> dict[str, Any]:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return {"messages": messages, **extra}


def dataset(*items: Any) -> Dataset:
    records = []
    for line, item in enumerate(items, start=1):
        if isinstance(item, Record):
            records.append(item)
        else:
            records.append(Record(data=item, raw=json.dumps(item), line=line))
    return Dataset(records=records)


@pytest.mark.parametrize(
    ("usable", "name", "words"),
    [
        (0, "empty", "No usable examples yet"),
        (1, "below_minimum", "1 usable example: below the minimum of 50–100. Add at least 49"),
        (49, "below_minimum", "49 usable examples: below the minimum of 50–100. Add at least 1"),
        (77, "minimum", "77 usable examples: at the low end of the minimum of 50–100, enough"),
        (100, "minimum", "above the minimum of 50–100, below the recommended 500–1,000"),
        (320, "minimum", "Add about 180 more"),
        (500, "recommended", "within the recommended 500–1,000"),
        (1_000, "ideal", "1,000 usable examples: within the ideal range of 1,000–10,000"),
        (10_000, "ideal", "ideal range"),
        (25_000, "large", "25,000 usable examples: more than the ideal 1,000–10,000"),
    ],
)
def test_size_bands_in_plain_words(usable: int, name: str, words: str) -> None:
    band = size_band(usable)
    assert band.name == name
    assert words in band.verdict


def test_summary_and_percentile_match_numpy_linear() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 95) == 10
    assert percentile(list(range(101)), 95) == 95
    assert percentile([0, 10], 95) == pytest.approx(9.5)
    summary = Summary.of([5, 1, 3, 2, 4])
    assert summary == Summary(count=5, min=1, mean=3, median=3, p95=4.8, max=5)
    assert Summary.of([]) is None
    assert summary.to_json()["p95"] == pytest.approx(4.8)


def test_normalised_text_ignores_case_punctuation_whitespace_and_curation() -> None:
    a = chat("Hello,   World!", "Fine — thanks.", tags=["x"])
    b = chat("hello world", "fine thanks", review="approved")
    assert normalised_text(a) == normalised_text(b) == "user hello world assistant fine thanks"
    assert normalise("  ¿Qué\tTAL?  ") == "qué tal"
    assert normalised_text("not an object") is None


def test_statistics_of_a_small_dataset() -> None:
    broken = Record(
        data=None, raw="{", line=9, parse_error=Issue(9, "invalid_json", "error", "", "bad")
    )
    items = [
        chat("How do I reset my password?", "Use the portal.", system="Be brief.", tags=["acc"]),
        chat("How do I reset my password?", "Use the portal.", system="Be brief.", tags=["acc"]),
        chat("how do i reset my password", "use the portal", system="Be brief.", tags=["acc"]),
        chat("VPN drops.", "Restart the client.", system="Be kind.", tags=["net", "acc"]),
        chat("Printer?", "Which floor?"),
        chat("Rejected one", "No.", review="rejected", tags=["acc"]),
        chat("Approved one", "Yes.", review="approved", tags=["net"]),
        {"messages": [{"role": "user", "content": "no answer"}]},  # an error: not usable
        broken,
    ]
    stats = compute_stats(dataset(*items))
    assert (stats.records, stats.parsed, stats.unparseable, stats.rejected) == (9, 8, 1, 1)
    assert (stats.with_errors, stats.usable) == (1, 6)
    assert stats.band.name == "below_minimum"
    assert stats.band.verdict.startswith("6 usable examples")
    assert stats.errors == 2  # missing assistant + invalid JSON
    assert stats.issue_codes["duplicate_example"] == 1
    assert stats.turns == Summary(6, 2, 8 / 3, 3, 3, 3)
    assert stats.assistant_chars.min == len("Yes.")
    assert stats.assistant_chars.max == len("Restart the client.")
    expected = len("Be brief.") + len("How do I reset my password?") + len("Use the portal.")
    assert stats.example_chars.max == expected
    assert stats.tags == {"acc": 4, "net": 2}  # rejected and erroneous examples not counted
    assert stats.untagged == 1
    assert stats.system_prompts == [("Be brief.", 3), ("Be kind.", 1)]
    assert stats.no_system_prompt == 2
    assert stats.exact_duplicates == [[0, 1]]
    assert stats.near_duplicates == [[0, 1, 2]]
    assert stats.exact_duplicate_lines == [[1, 2]]
    assert stats.near_duplicate_lines == [[1, 2, 3]]
    assert stats.review == {"draft": 6, "approved": 1, "rejected": 1}
    assert stats.example_tokens is None
    assert stats.token_counts == []
    assert len(stats.char_counts) == 6

    as_json = json.loads(json.dumps(stats.to_json()))
    assert as_json["usable"] == 6
    assert as_json["band"] == {"name": "below_minimum", "verdict": stats.band.verdict}
    assert as_json["system_prompts"][0] == {"text": "Be brief.", "count": 3}
    assert as_json["turns"]["mean"] == 2.7
    assert "char_counts" not in as_json


def test_given_issues_decide_what_is_usable() -> None:
    data = dataset(chat("a", "b"), chat("c", "d"))
    too_long = Issue(2, "too_long", "error", "", "cut", record=1)
    assert compute_stats(data).usable == 2
    stats = compute_stats(data, issues=[too_long])
    assert stats.usable == 1
    assert stats.turns.count == 2  # an example that is only too long is still measured
    missing = Issue(2, "missing_content", "error", "messages[0].content", "x", record=1)
    assert compute_stats(data, issues=[too_long, missing]).turns.count == 1


class CharTokenizer:
    """One token per character; the assistant's characters are trained."""

    def tokenize_example(self, data: dict[str, Any]) -> TokenizedExample:
        ids: list[int] = []
        trained: list[bool] = []
        for message in data["messages"]:
            if message["content"] == "boom":
                raise ValueError("template says no")
            ids += [ord(c) for c in message["content"]]
            trained += [message["role"] == "assistant"] * len(message["content"])
        return TokenizedExample(ids, trained)


def test_token_statistics_with_a_tokenizer() -> None:
    data = dataset(chat("abc", "de"), chat("a", "bcdefgh"), chat("x", "boom"))
    calls: list[tuple[int, int]] = []
    stats = compute_stats(
        data, tokenizer=CharTokenizer(), max_length=5, progress=lambda d, t: calls.append((d, t))
    )
    tokens = stats.example_tokens
    assert (tokens.count, tokens.min, tokens.mean, tokens.median, tokens.max) == (2, 5, 6.5, 6.5, 8)
    assert tokens.p95 == pytest.approx(7.85)
    assert stats.trained_tokens.max == 7
    assert stats.token_counts == [5, 8]  # the example the template rejects is skipped
    assert stats.over_max_length == 1
    assert stats.to_json()["max_length"] == 5
    assert calls[-1] == (3, 3)
    without_limit = compute_stats(data, tokenizer=CharTokenizer())
    assert (without_limit.over_max_length, without_limit.max_length) == (None, None)
