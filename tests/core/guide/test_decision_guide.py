"""The bundled decision guide (resources/guide/decision_guide.yaml) as data.

The paths are walked here with plain recursion over the model objects, independently of
the loader's own checks, so a loader bug cannot hide a broken guide.
"""

from __future__ import annotations

import pytest

from ftstudio.core.guide import (
    OUTCOME_KINDS,
    Guide,
    default_guide_path,
    load_guide,
    validate_guide,
)


@pytest.fixture(scope="module")
def guide() -> Guide:
    return load_guide()


def _walk(guide: Guide) -> list[tuple[list[tuple[str, str]], str | None]]:
    """Every path from the start: (steps, outcome kind or None when it does not end at one)."""
    ids = {q.id: q for q in guide.questions}
    kinds = {o.kind for o in guide.outcomes}
    found: list[tuple[list[tuple[str, str]], str | None]] = []

    def go(qid: str, steps: list[tuple[str, str]]) -> None:
        assert len(steps) <= len(ids), f"a loop: {steps}"
        question = ids[qid]
        assert question.answers, f"{qid} has no answers"
        for answer in question.answers:
            taken = [*steps, (qid, answer.id)]
            if answer.next is not None:
                assert answer.outcome is None
                assert answer.next in ids, f"{qid}.{answer.id} -> unknown {answer.next}"
                go(answer.next, taken)
            else:
                found.append((taken, answer.outcome if answer.outcome in kinds else None))

    go(guide.start, [])
    return found


def test_the_bundled_guide_loads_and_validates(guide: Guide) -> None:
    assert default_guide_path().name == "decision_guide.yaml"
    assert validate_guide(guide) == []
    assert guide.version == 1


def test_every_path_from_the_start_ends_at_an_outcome(guide: Guide) -> None:
    paths = _walk(guide)
    assert len(paths) >= 4
    assert all(outcome is not None for _, outcome in paths), paths


def test_all_four_outcomes_exist_and_are_reachable(guide: Guide) -> None:
    assert sorted(o.kind for o in guide.outcomes) == sorted(OUTCOME_KINDS)
    assert {outcome for _, outcome in _walk(guide)} == set(OUTCOME_KINDS)


def test_every_question_is_asked_on_some_path(guide: Guide) -> None:
    asked = {qid for steps, _ in _walk(guide) for qid, _ in steps}
    assert asked == {q.id for q in guide.questions}


def test_the_flowchart_of_the_guide(guide: Guide) -> None:
    """Specialised knowledge? static → fine-tune, changing → RAG; otherwise consistent
    style? no → base model; yes → can prompting do it? yes → prompting, no → fine-tune."""
    by_path = {tuple(a for _, a in steps): outcome for steps, outcome in _walk(guide)}
    assert by_path[("needs_knowledge", "stable")] == "fine_tune"
    assert by_path[("needs_knowledge", "changing")] == "rag"
    assert by_path[("general_knowledge", "any_style")] == "base_model"
    assert by_path[("general_knowledge", "needs_style", "prompt_works")] == "prompting"
    assert by_path[("general_knowledge", "needs_style", "prompt_fails")] == "fine_tune"
    first = guide.question(guide.start)
    assert "knowledge" in first.text.lower() or "know" in first.text.lower()


def test_every_text_is_there_for_the_reader(guide: Guide) -> None:
    for question in guide.questions:
        assert question.title, question.id
        assert question.text.endswith("?"), question.id
        assert question.help, question.id
        for answer in question.answers:
            assert answer.label, (question.id, answer.id)
            assert answer.because, (question.id, answer.id)
    for outcome in guide.outcomes:
        assert outcome.title, outcome.kind
        assert outcome.summary, outcome.kind
        assert len(outcome.reasons) >= 2, outcome.kind
        assert len(outcome.next_steps) >= 2, outcome.kind
    assert len(guide.fine_tune_when) == 5
    assert len(guide.not_necessary_when) == 5
    for item in (*guide.fine_tune_when, *guide.not_necessary_when):
        assert item.title
        assert item.text
    titles = " ".join(i.title.lower() for i in guide.not_necessary_when)
    assert "data" in titles
    assert "prompt" in titles
