"""OpenAI fine-tuning data: rules, problems at their lines, tokens, epochs and the file."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from ftstudio.core.dataset.formats import load_dataset
from ftstudio.core.openai_data import (
    DEFAULT_TOKEN_LIMIT,
    ESTIMATE,
    MIN_EXAMPLES,
    OPENAI_EXAMPLE_KEYS,
    OPENAI_MESSAGE_KEYS,
    OPENAI_MODELS,
    OpenAIDataError,
    TokenCounter,
    auto_epochs,
    check_openai_dataset,
    estimate_tokens,
    example_tokens,
    openai_jsonl,
    openai_model,
    token_counter,
    write_openai_file,
)
from ftstudio.core.paths import resource

SAMPLE = resource("sample_project", "datasets", "it_support.jsonl")


def chat(question: str, answer: str, **extra: object) -> dict:
    return {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ],
        **extra,
    }


def write_lines(path: Path, rows: list[object]) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def good_rows(count: int) -> list[dict]:
    return [chat(f"Question number {i}?", f"Answer number {i}.") for i in range(count)]


def test_sample_dataset_is_usable_for_gpt_4o_mini() -> None:
    report = check_openai_dataset(SAMPLE)
    assert report.ok
    assert report.model == "gpt-4o-mini-2024-07-18"
    assert report.token_limit == 65_536
    assert len(report.usable) == report.examples == 77
    assert report.epochs == 3
    assert report.auto
    assert report.tokens == sum(report.example_tokens) > 77 * 50
    assert report.billed_tokens == report.tokens * 3
    assert not report.errors


@pytest.mark.parametrize(
    ("examples", "epochs"),
    [
        (1, 25),  # 100 // 1 = 100, capped at 25
        (5, 20),
        (10, 10),
        (20, 5),
        (33, 3),  # 99 < 100: 100 // 33 = 3
        (34, 3),
        (8_333, 3),  # 24,999 ≤ 25,000
        (8_334, 2),  # 25,002 > 25,000: 25,000 // 8,334 = 2
        (30_000, 1),  # 25,000 // 30,000 = 0, at least 1
    ],
)
def test_auto_epochs_follows_the_cookbook_rule(examples: int, epochs: int) -> None:
    assert auto_epochs(examples) == epochs


def test_each_problem_is_reported_at_its_line_with_a_fix(tmp_path: Path) -> None:
    rows: list[object] = good_rows(MIN_EXAMPLES)
    rows += [
        {"messages": [{"role": "user", "content": "No answer here"}]},  # line 11
        {"messages": [{"role": "bot", "content": "Hi"}, {"role": "assistant", "content": "Hi"}]},
        chat("Empty answer?", ""),  # line 13
        chat("Rejected?", "Yes.", review="rejected"),  # line 14
        '{"messages": [',  # line 15: not JSON
        chat("Long?", "x" * 700),  # line 16: too long with the counter below
        {"messages": [{"role": "user", "content": "Q", "comment": "c"}, {"role": "assistant"}]},
    ]
    path = write_lines(tmp_path / "mixed.jsonl", rows)
    counter = TokenCounter(lambda text: len(text) * 100, "test: 100 tokens per character")
    report = check_openai_dataset(path, counter=counter)
    by_line = {(issue.line, issue.code): issue for issue in report.issues}
    assert by_line[(11, "example_missing_assistant_message")].severity == "error"
    assert "Add the answer" in by_line[(11, "example_missing_assistant_message")].message
    assert by_line[(12, "unrecognized_role")].field == "messages[0].role"
    empty = by_line[(13, "empty_content")]
    assert empty.severity == "error"  # a warning locally; OpenAI refuses empty messages
    assert "OpenAI refuses" in empty.message
    assert by_line[(15, "invalid_json")].severity == "error"
    too_long = by_line[(16, "too_long")]
    assert "65,536" in too_long.message
    assert "split" in too_long.message
    assert by_line[(17, "message_unrecognized_key")].field == "messages[0].comment"
    assert (17, "message_missing_key") in by_line
    assert (0, "rejected_left_out") in by_line
    assert report.usable == tuple(range(MIN_EXAMPLES))
    assert report.rejected == 1
    assert report.left_out == 7
    assert report.ok  # example errors only leave those examples out
    assert report.token_method == "test: 100 tokens per character"


def test_too_few_examples_blocks_the_file(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "small.jsonl", good_rows(MIN_EXAMPLES - 1))
    report = check_openai_dataset(path)
    assert not report.ok
    [blocking] = report.blocking
    assert blocking.code == "too_few_examples"
    assert "at least 10" in blocking.message
    assert "Add 1 more" in blocking.message
    with pytest.raises(OpenAIDataError, match="at least 10"):
        write_openai_file(load_dataset(path), tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()
    # A validation file has no minimum.
    assert check_openai_dataset(path, role="validation").ok


def test_preference_dataset_is_refused() -> None:
    report = check_openai_dataset(resource("sample_project", "datasets", "preferences.jsonl"))
    assert [issue.code for issue in report.blocking] == ["not_chat"]
    assert not report.usable


def test_written_file_holds_only_what_openai_takes(tmp_path: Path) -> None:
    rows: list[object] = good_rows(MIN_EXAMPLES)
    rows.append(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Draft answer", "weight": 0},
                {"role": "user", "content": "Again"},
                {"role": "assistant", "content": "Final answer", "weight": 1},
            ],
            "tags": ["greeting"],
            "review": "approved",
            "note": "keep",
            "source": "manual",
            "id": "ex-11",
            "tools": [{"type": "function", "function": {"name": "lookup"}}],
        }
    )
    rows.append(chat("Rejected one", "No.", review="rejected"))
    dataset = load_dataset(write_lines(tmp_path / "in.jsonl", rows))
    report = check_openai_dataset(dataset)
    out = write_openai_file(dataset, tmp_path / "openai.jsonl", report=report)
    data = out.read_bytes()
    assert data == openai_jsonl(dataset, report.usable)
    lines = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    assert len(lines) == MIN_EXAMPLES + 1  # the rejected example is left out
    for line in lines:
        assert set(line) <= set(OPENAI_EXAMPLE_KEYS)
        for message in line["messages"]:
            assert set(message) <= set(OPENAI_MESSAGE_KEYS)
    last = lines[-1]
    assert last["tools"] == [{"type": "function", "function": {"name": "lookup"}}]
    assert [m.get("weight") for m in last["messages"]] == [None, None, 0, None, 1]
    assert b"greeting" not in data
    assert b"Rejected one" not in data
    assert b"ex-11" not in data


def test_completion_records_become_chats(tmp_path: Path) -> None:
    rows = [{"prompt": f"Q{i}", "completion": f"A{i}"} for i in range(MIN_EXAMPLES)]
    dataset = load_dataset(write_lines(tmp_path / "c.jsonl", rows), "completion")
    report = check_openai_dataset(dataset)
    assert report.ok
    assert len(report.usable) == MIN_EXAMPLES
    first = json.loads(openai_jsonl(dataset, report.usable).splitlines()[0])
    assert first == {
        "messages": [{"role": "user", "content": "Q0"}, {"role": "assistant", "content": "A0"}]
    }


def test_indices_restrict_the_check(tmp_path: Path) -> None:
    dataset = load_dataset(write_lines(tmp_path / "d.jsonl", good_rows(15)))
    report = check_openai_dataset(dataset, indices=[0, 2, 4], role="validation")
    assert report.usable == (0, 2, 4)
    assert report.examples == 3


def test_requested_epochs_and_token_cap() -> None:
    counter = TokenCounter(lambda text: len(text) * 1000, "huge")
    report = check_openai_dataset(SAMPLE, n_epochs=2, counter=counter)
    assert report.epochs == 2
    assert not report.auto
    # Every example is over the limit here, so none is usable.
    assert not report.usable
    assert not report.ok


def test_token_estimate_is_documented_and_high() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("日本語") == 3  # one token per non-ASCII character
    example = chat("abcd", "abcdefgh")
    # The cookbook's count: 3 per message, 3 for the answer's priming, and every value
    # (roles too): "user" 1, "abcd" 1, "assistant" 3, "abcdefgh" 2.
    assert example_tokens(example, estimate_tokens) == 3 * 2 + 3 + 1 + 1 + 3 + 2


def test_token_counter_falls_back_to_the_estimate() -> None:
    counter = token_counter("gpt-4o-mini-2024-07-18")
    if importlib.util.find_spec("tiktoken") is None:
        assert counter is ESTIMATE
        assert counter.method.startswith("estimated")
    else:  # installed: either usable, or (offline, no encoding file) the estimate
        assert counter.method.startswith(("counted with tiktoken", "estimated"))


def test_models_and_their_limits() -> None:
    alias = openai_model("gpt-4o-mini")  # an alias keeps its name, with its snapshot's limit
    assert (alias.name, alias.token_limit) == ("gpt-4o-mini", 65_536)
    assert openai_model("gpt-4o").source == OPENAI_MODELS["gpt-4o-2024-08-06"].source
    assert openai_model("gpt-3.5-turbo").token_limit == 16_385
    tuned = openai_model("ft:gpt-4o-mini-2024-07-18:acme::abc123")
    assert tuned.token_limit == 65_536
    assert tuned.verified
    unknown = openai_model("some-future-model")
    assert unknown.token_limit == DEFAULT_TOKEN_LIMIT
    assert not unknown.verified
    assert all(model.source for model in OPENAI_MODELS.values())
    assert min(m.token_limit for m in OPENAI_MODELS.values()) == DEFAULT_TOKEN_LIMIT
