"""Loading the guide: every problem of a bad file at once, with its line and key path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ftstudio.core.guide import (
    Answer,
    Consideration,
    Guide,
    GuideError,
    Outcome,
    Question,
    enumerate_paths,
    load_guide,
    parse_guide,
    validate_guide,
)

OUTCOMES = """\
outcomes:
  fine_tune: {title: Fine-tune, summary: Train it.}
  rag: {title: Retrieval, summary: Look it up.}
  prompting: {title: Prompting, summary: Write a prompt.}
  base_model: {title: Base model, summary: Use it as it is.}
fine_tune_when:
  - {title: A, text: a}
not_necessary_when:
  - {title: B, text: b}
"""

GOOD = (
    """\
version: 1
start: first
questions:
  first:
    title: First
    text: Knowledge?
    answers:
      - {id: "yes", label: "Yes", next: second}
      - {id: "no", label: "No", next: third}
  second:
    title: Second
    text: Static?
    answers:
      - {id: static, label: Static, outcome: fine_tune}
      - {id: changing, label: Changing, outcome: rag}
  third:
    title: Third
    text: Style?
    answers:
      - {id: style, label: Style, outcome: prompting}
      - {id: none, label: None, outcome: base_model}
"""
    + OUTCOMES
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "guide.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    guide = load_guide(_write(tmp_path, GOOD))
    assert guide.start == "first"
    assert [q.id for q in guide.questions] == ["first", "second", "third"]
    assert guide.question("first").answer("yes").next == "second"
    assert guide.fine_tune_when == (Consideration("A", "a"),)
    assert validate_guide(guide) == []


def test_every_problem_is_listed_with_line_and_key(tmp_path: Path) -> None:
    bad = """\
version: 1
start: first
colour: blue
questions:
  first:
    title: First
    text: Knowledge?
    answers:
      - {id: "yes", label: "Yes", next: secnd}
      - {id: no, label: Other, next: third}
  third:
    text: Style?
    answers:
      - {id: style, label: Style, outcome: prompting}
      - {id: loop, label: Again, next: third}
      - {id: none, label: None, outcome: finetune}
  orphan:
    title: Orphan
    text: Never asked?
    answers:
      - {id: end, label: End, outcome: rag}
  orphan:
    title: Twice
    text: Twice?
""" + OUTCOMES.replace("  base_model: {title: Base model, summary: Use it as it is.}\n", "")
    with pytest.raises(GuideError) as caught:
        load_guide(_write(tmp_path, bad))
    problems = caught.value.problems
    text = "\n".join(problems)
    expected = [
        "line 3, colour: unknown key",
        "line 9, questions.first.answers[0].next: 'secnd' is not a question",
        "line 10, questions.first.answers[1].id: YAML read this id as false; put it in quotes",
        "line 11, questions.third.title: missing",
        "line 15, questions.third.answers[1].next: leads back to 'third', a loop",
        "line 16, questions.third.answers[2].outcome: 'finetune' is not an outcome",
        "line 22, questions.orphan: given twice (lines 17 and 22); only the last one counts",
        "outcomes: base_model is not described",
        "line 22, questions.orphan: is never asked",
        "line 22, questions.orphan.answers: no answers, so a path ends here",
        "line 26, outcomes.fine_tune: is never reached",
        "line 27, outcomes.rag: is never reached",
    ]
    for piece in expected:
        assert piece in text, f"missing {piece!r} in:\n{text}"
    assert len(problems) == len(expected), text
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'guide.yaml'}: the decision guide has 12 problems:")
    assert "Fix them in a text editor" in message


def test_dead_ends_and_both_targets_are_reported(tmp_path: Path) -> None:
    bad = GOOD.replace(
        "{id: static, label: Static, outcome: fine_tune}",
        "{id: static, label: Static}",
    ).replace(
        "{id: changing, label: Changing, outcome: rag}",
        "{id: changing, label: Changing, outcome: rag, next: third}",
    )
    with pytest.raises(GuideError) as caught:
        load_guide(_write(tmp_path, bad))
    text = "\n".join(caught.value.problems)
    assert "questions.second.answers[0]: leads nowhere" in text
    assert "questions.second.answers[1]: has both next and outcome" in text
    assert "outcomes.fine_tune: is never reached" in text


def test_shape_problems(tmp_path: Path) -> None:
    bad = """\
    version: 7
    start: first
    questions:
      first:
        title: First
        text: 12
        answers: {id: a}
    outcomes: [fine_tune]
    fine_tune_when: nothing
    """
    with pytest.raises(GuideError) as caught:
        load_guide(_write(tmp_path, bad))
    text = "\n".join(caught.value.problems)
    assert "line 1, version: 7 was written for a newer ftstudio" in text
    assert "line 6, questions.first.text: must be text" in text
    assert "line 7, questions.first.answers: must be a list of answers" in text
    assert "line 8, outcomes: must be a mapping" in text
    assert "line 9, fine_tune_when: must be a list" in text
    assert "not_necessary_when: missing" in text
    # Follow-on problems of the same keys are not repeated.
    assert text.count("questions.first.answers") == 1


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "start: first\nquestions:\n  a: [unclosed\n")
    with pytest.raises(GuideError) as caught:
        load_guide(path)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("line 4, column 1: not valid YAML")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(GuideError, match="does not exist"):
        load_guide(tmp_path / "missing.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"start: \xff\xfe\n")
    with pytest.raises(GuideError, match="not UTF-8"):
        load_guide(binary)
    with pytest.raises(GuideError, match="must be a mapping"):
        parse_guide("- just\n- a list\n")


def _question(qid: str, *answers: Answer) -> Question:
    return Question(qid, qid.title(), f"{qid}?", answers=answers)


def _outcomes() -> tuple[Outcome, ...]:
    return tuple(Outcome(k, k, k) for k in ("fine_tune", "rag", "prompting", "base_model"))


def _guide(*questions: Question, start: str = "a") -> Guide:
    return Guide(
        start=start,
        questions=questions,
        outcomes=_outcomes(),
        fine_tune_when=(Consideration("x", "y"),),
        not_necessary_when=(Consideration("x", "y"),),
    )


def test_validate_guide_built_in_code() -> None:
    sound = _guide(
        _question("a", Answer("1", "One", next="b"), Answer("2", "Two", outcome="rag")),
        _question(
            "b",
            Answer("1", "One", outcome="fine_tune"),
            Answer("2", "Two", outcome="prompting"),
            Answer("3", "Three", outcome="base_model"),
        ),
    )
    assert validate_guide(sound) == []
    assert [p.outcome for p in enumerate_paths(sound)] == [
        "fine_tune",
        "prompting",
        "base_model",
        "rag",
    ]

    broken = _guide(
        _question("a", Answer("1", "One", next="b"), Answer("1", "", outcome="rag")),
        _question("b", Answer("1", "One", next="c")),
        _question("c", Answer("1", "One", next="a")),
        _question("d"),
        start="a",
    )
    problems = validate_guide(broken)
    assert "questions.a.answers[1].id: '1' is used twice in this question" in problems
    assert "questions.a.answers[1].label: is empty" in problems
    assert (
        "questions.c.answers[0].next: leads back to 'a', a loop (a → b → c → a); "
        "every path must end at an outcome" in problems
    )
    assert "questions.d.answers: no answers, so a path ends here without a recommendation" in (
        problems
    )
    assert "questions.d: is never asked: no answer leads to it from start" in problems
    assert "outcomes.fine_tune: is never reached: no answer leads to it" in problems
    loop = [p for p in enumerate_paths(broken) if p.outcome is None]
    assert loop
    assert loop[0].steps == (("a", "1"), ("b", "1"), ("c", "1"))


def test_validate_guide_start_outcomes_and_lists() -> None:
    guide = Guide(
        start="nowhere",
        questions=(_question("a", Answer("1", "One", outcome="rag")),),
        outcomes=(Outcome("rag", "R", "r"), Outcome("rag", "R", "r"), Outcome("magic", "", "")),
    )
    problems = validate_guide(guide)
    assert "start: 'nowhere' is not a question; questions are: a" in problems
    assert "outcomes.rag: defined more than once" in problems
    assert (
        "outcomes.magic: unknown outcome; use one of fine_tune, rag, prompting, base_model"
        in problems
    )
    assert "outcomes.magic.title: is empty" in problems
    assert "outcomes: prompting is not described; the guide needs all four outcomes" in problems
    assert "fine_tune_when: has no entries; the guide page shows this list" in problems
    assert enumerate_paths(guide)[0].outcome is None
