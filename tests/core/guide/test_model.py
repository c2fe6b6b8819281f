"""The guide's dataclasses: lookups and answer targets."""

from __future__ import annotations

import dataclasses

import pytest

from ftstudio.core.guide import Answer, Guide, Outcome, Question


def _guide() -> Guide:
    return Guide(
        start="q",
        questions=(
            Question("q", "Q", "Which?", answers=(Answer("a", "A", next="r"),)),
            Question("r", "R", "Then?", answers=(Answer("b", "B", outcome="rag"),)),
        ),
        outcomes=(Outcome("rag", "Retrieval", "Look it up."),),
    )


def test_lookups_and_targets() -> None:
    guide = _guide()
    assert guide.question("r").text == "Then?"
    assert guide.outcome("rag").title == "Retrieval"
    assert guide.has_question("q")
    assert not guide.has_question("x")
    assert guide.has_outcome("rag")
    assert not guide.has_outcome("fine_tune")
    assert guide.question("q").answer("a").target == "question:r"
    assert guide.question("r").answer("b").target == "outcome:rag"
    assert Answer("c", "C").target == ""


def test_unknown_names_raise_with_what_exists() -> None:
    guide = _guide()
    with pytest.raises(KeyError, match="no question 'x'"):
        guide.question("x")
    with pytest.raises(KeyError, match="no outcome 'prompting'"):
        guide.outcome("prompting")
    with pytest.raises(KeyError, match=r"no answer 'z' \(it has: a\)"):
        guide.question("q").answer("z")


def test_objects_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        _guide().start = "r"  # type: ignore[misc]
