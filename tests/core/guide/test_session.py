"""Walking through the guide: answer, back, forward, path, result and the data check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ftstudio.core.guide import (
    Guide,
    GuideSession,
    GuideSessionError,
    SavedDecision,
    Step,
    data_readiness,
    load_guide,
)


@pytest.fixture(scope="module")
def guide() -> Guide:
    return load_guide()


def test_answer_back_forward_and_path(guide: Guide) -> None:
    session = GuideSession(guide)
    assert session.current is not None
    assert session.current.id == "knowledge"
    assert not session.can_back()
    assert not session.can_forward()
    assert session.result is None

    session.answer("general_knowledge")
    assert session.current.id == "style"
    session.answer("needs_style")
    assert session.current.id == "prompting"
    assert session.path == (Step("knowledge", "general_knowledge"), Step("style", "needs_style"))

    assert session.back()
    assert session.current.id == "style"
    assert session.chosen == "needs_style"  # the remembered answer
    assert session.path == (Step("knowledge", "general_knowledge"),)
    assert session.can_forward()
    assert session.forward()
    assert session.current.id == "prompting"
    assert not session.forward()

    session.answer("prompt_fails")
    assert session.current is None
    assert session.finished
    assert session.outcome.kind == "fine_tune"
    with pytest.raises(GuideSessionError, match="at a recommendation"):
        session.answer("prompt_works")


def test_same_answer_keeps_the_rest_different_answer_forgets_it(guide: Guide) -> None:
    session = GuideSession(guide)
    for answer in ("general_knowledge", "needs_style", "prompt_works"):
        session.answer(answer)
    session.go_to(0)
    assert session.current.id == "knowledge"
    session.answer("general_knowledge")  # the same as before
    assert len(session.history) == 3
    assert session.can_forward()
    session.go_to(1)
    session.answer("any_style")  # different: what came after is forgotten
    assert session.outcome.kind == "base_model"
    assert session.history == (Step("knowledge", "general_knowledge"), Step("style", "any_style"))
    assert not session.can_forward()
    with pytest.raises(ValueError, match="outside"):
        session.go_to(5)


def test_unknown_answer_and_restart(guide: Guide) -> None:
    session = GuideSession(guide)
    with pytest.raises(KeyError, match="no answer 'maybe'"):
        session.answer("maybe")
    assert session.path == ()
    session.answer("needs_knowledge")
    session.restart()
    assert session.current.id == "knowledge"
    assert session.history == ()


@pytest.mark.parametrize(
    ("answers", "kind"),
    [
        (["needs_knowledge", "stable"], "fine_tune"),
        (["needs_knowledge", "changing"], "rag"),
        (["general_knowledge", "needs_style", "prompt_works"], "prompting"),
        (["general_knowledge", "needs_style", "not_tried"], "prompting"),
        (["general_knowledge", "needs_style", "prompt_fails"], "fine_tune"),
        (["general_knowledge", "any_style"], "base_model"),
    ],
)
def test_result_reasons_follow_the_answers(guide: Guide, answers: list[str], kind: str) -> None:
    session = GuideSession(guide, usable_examples=600)
    for answer in answers:
        session.answer(answer)
    result = session.result
    assert result.outcome.kind == kind
    assert [s.answer_id for s in result.path] == answers
    given = [guide.question(p.question_id).answer(p.answer_id) for p in result.path]
    assert list(result.reasons[: len(answers)]) == [a.because for a in given]
    assert result.reasons[len(answers) : len(answers) + len(result.outcome.reasons)] == (
        result.outcome.reasons
    )
    assert not result.data_insufficient
    if kind == "fine_tune":
        assert result.reasons[-1] == (
            "Your 600 usable examples are enough (size band: recommended)."
        )
    else:
        assert result.data_note == ""
        assert len(result.reasons) == len(answers) + len(result.outcome.reasons)


@pytest.mark.parametrize(
    ("usable", "band", "level", "label"),
    [
        (0, "empty", "insufficient", "Empty"),
        (30, "below_minimum", "insufficient", "Below the minimum"),
        (77, "minimum", "first_try", "Minimum"),
        (600, "recommended", "ready", "Recommended"),
    ],
)
def test_data_readiness_bands(usable: int, band: str, level: str, label: str) -> None:
    readiness = data_readiness(usable)
    assert readiness.usable == usable
    assert readiness.band.name == band
    assert readiness.level == level
    assert readiness.band_label == label
    assert readiness.sufficient == (level != "insufficient")
    assert readiness.band.verdict in readiness.advice


@pytest.mark.parametrize("usable", [0, 30, 77, 600])
def test_fine_tune_result_with_each_dataset_size(guide: Guide, usable: int) -> None:
    session = GuideSession(guide)
    session.answer("needs_knowledge")
    session.answer("stable")
    assert session.result.readiness is None
    assert "has not been checked yet" in session.result.data_note
    session.set_usable_examples(usable)
    result = session.result
    insufficient = usable < 50
    assert result.data_insufficient == insufficient
    note = result.reasons[-1]
    if insufficient:
        assert note.startswith("Not enough data to fine-tune yet (size band: ")
        assert "prompting is the better tool" in note
        assert "Dataset page" in note
        assert ("empty" if usable == 0 else "below the minimum") in note
        if usable == 30:
            assert "Add at least 20 more" in note
    elif usable == 77:
        assert note.startswith("Your 77 usable examples are enough for a first try")
        assert "size band: minimum" in note
    else:
        assert note == "Your 600 usable examples are enough (size band: recommended)."


def test_insufficient_data_does_not_change_other_outcomes(guide: Guide) -> None:
    session = GuideSession(guide, usable_examples=0)
    session.answer("needs_knowledge")
    session.answer("changing")
    assert session.result.outcome.kind == "rag"
    assert not session.result.data_insufficient
    assert session.readiness.level == "insufficient"


def test_saved_json_round_trip_and_replay(guide: Guide) -> None:
    session = GuideSession(guide, usable_examples=30)
    session.answer("needs_knowledge")
    session.answer("stable")
    decided = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    saved = session.result.to_json(decided)
    assert saved == {
        "outcome": "fine_tune",
        "path": [["knowledge", "needs_knowledge"], ["knowledge_changes", "stable"]],
        "reasons": list(session.result.reasons),
        "decided": "2026-11-29T12:00:00+00:00",
        "usable_examples": 30,
        "size_band": "below_minimum",
        "data_insufficient": True,
    }
    back = SavedDecision.from_json(saved)
    assert back.outcome == "fine_tune"
    assert back.decided == "2026-11-29T12:00:00+00:00"
    replayed = GuideSession.replay(guide, back.path, usable_examples=30)
    assert replayed.result == session.result


def test_replay_refuses_paths_that_no_longer_fit(guide: Guide) -> None:
    with pytest.raises(GuideSessionError, match="expected a step at 'knowledge'"):
        GuideSession.replay(guide, [Step("style", "any_style")])
    with pytest.raises(GuideSessionError, match="no answer 'perhaps'"):
        GuideSession.replay(guide, [Step("knowledge", "perhaps")])
    with pytest.raises(GuideSessionError, match="'an outcome'"):
        GuideSession.replay(
            guide,
            [
                Step("knowledge", "general_knowledge"),
                Step("style", "any_style"),
                Step("style", "any_style"),
            ],
        )


@pytest.mark.parametrize(
    "value",
    [
        None,
        "fine_tune",
        {"outcome": 3, "path": []},
        {"outcome": "rag", "path": "knowledge"},
        {"outcome": "rag", "path": [["knowledge"]]},
        {"outcome": "rag", "path": [["knowledge", 1]]},
    ],
)
def test_malformed_saved_values_are_ignored(value: object) -> None:
    assert SavedDecision.from_json(value) is None


def test_saved_value_tolerates_bad_optional_fields() -> None:
    saved = SavedDecision.from_json({"outcome": "rag", "path": [], "reasons": 5, "decided": 1})
    assert saved == SavedDecision("rag", (), (), "")
