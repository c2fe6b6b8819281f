"""The general prompts and the forgetting check's threshold."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ftstudio.core.dataset.formats import load_dataset
from ftstudio.core.dataset.validate import validate_dataset
from ftstudio.core.evaluation.forgetting import (
    FORGETTING_THRESHOLD,
    GENERAL_PROMPTS,
    forgetting_check,
    general_prompts,
)
from ftstudio.core.paths import resource


def test_general_prompts_are_valid_chats_with_answers() -> None:
    path = resource(*GENERAL_PROMPTS)
    dataset = load_dataset(path)
    assert dataset.kind == "chat"
    assert validate_dataset(dataset) == []  # not even a warning
    conversations = general_prompts()
    assert len(conversations) == len(dataset.records) >= 15
    for messages in conversations:
        assert messages[-2]["role"] == "user"
        assert messages[-1]["role"] == "assistant"
        assert len(messages[-1]["content"]) >= 20


def test_general_prompts_differ_from_each_other() -> None:
    questions = [messages[-2]["content"] for messages in general_prompts()]
    assert len(set(questions)) == len(questions)


def test_general_prompts_are_packaged() -> None:
    # The wheel ships resources/eval as ftstudio/_resources/eval (see pyproject.toml).
    pyproject = Path(__file__).resolve().parents[3] / "pyproject.toml"
    assert '"resources/eval" = "ftstudio/_resources/eval"' in pyproject.read_text(encoding="utf-8")


def test_threshold_logic() -> None:
    assert FORGETTING_THRESHOLD == 0.2
    fine = forgetting_check(10.0, 11.0)
    assert fine.change == pytest.approx(0.1)
    assert not fine.degraded
    assert "No sign of forgetting" in fine.message
    assert "10% higher" in fine.message

    worse = forgetting_check(10.0, 13.0)
    assert worse.change == pytest.approx(0.3)
    assert worse.degraded
    assert worse.threshold == 0.2
    assert "30% higher" in worse.message
    for advice in ("fewer epochs", "learning rate", "general chat examples"):
        assert advice in worse.message

    better = forgetting_check(10.0, 8.0)
    assert better.change == pytest.approx(-0.2)
    assert not better.degraded
    assert "20% lower" in better.message


def test_threshold_is_a_parameter_and_strict() -> None:
    assert forgetting_check(10.0, 11.0, threshold=0.05).degraded
    assert not forgetting_check(10.0, 15.0, threshold=0.5).degraded
    assert not forgetting_check(4.0, 5.0, threshold=0.25).degraded  # exactly at the line
    assert forgetting_check(4.0, 5.01, threshold=0.25).degraded


def test_infinite_or_unknown_perplexities() -> None:
    exploded = forgetting_check(10.0, math.inf)
    assert exploded.degraded
    assert "infinite" in exploded.message
    broken_base = forgetting_check(math.inf, 12.0)
    assert not broken_base.degraded
    assert math.isnan(broken_base.change)
    assert "could not compare" in broken_base.message


def test_damaged_prompts_file_names_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "eval" / "general_prompts.jsonl"
    bad.parent.mkdir()
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}]})
    bad.write_text(good + "\n\n{oops\n", encoding="utf-8")
    monkeypatch.setattr(
        "ftstudio.core.evaluation.forgetting.resource", lambda *parts: tmp_path.joinpath(*parts)
    )
    with pytest.raises(ValueError, match=r"general_prompts.jsonl, line 3: not valid JSON"):
        general_prompts()
