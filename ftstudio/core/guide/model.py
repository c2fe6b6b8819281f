"""The decision guide as data: questions, answers, the four outcomes and the two lists.

The guide is a small flowchart. Each :class:`Question` has answers; each :class:`Answer`
leads either to another question (:attr:`Answer.next`) or to one of the four
:class:`Outcome` kinds (:attr:`Answer.outcome`). The objects are frozen; whether they
fit together (no unknown targets, no loops, nothing unreachable) is checked by
:func:`ftstudio.core.guide.loader.validate_guide`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OutcomeKind = Literal["fine_tune", "rag", "prompting", "base_model"]
OUTCOME_KINDS: tuple[OutcomeKind, ...] = ("fine_tune", "rag", "prompting", "base_model")
"""The four recommendations the guide can end at, in display order."""


@dataclass(frozen=True)
class Answer:
    """One choice offered by a question.

    Attributes:
        id: stable name, unique within its question (saved in the project).
        label: the choice as the user reads it.
        because: why this answer leads where it does; shown among the result's reasons.
        next: id of the question asked next, or ``None`` when the answer ends the guide.
        outcome: the outcome kind this answer ends at, or ``None`` when a question follows.
    """

    id: str
    label: str
    because: str = ""
    next: str | None = None
    outcome: str | None = None

    @property
    def target(self) -> str:
        """``question:<id>`` or ``outcome:<kind>`` (``""`` when it leads nowhere)."""
        if self.next is not None:
            return f"question:{self.next}"
        if self.outcome is not None:
            return f"outcome:{self.outcome}"
        return ""


@dataclass(frozen=True)
class Question:
    """One step of the guide.

    Attributes:
        id: stable name (saved in the project).
        title: a few words, used in the path taken (the breadcrumb).
        text: the question itself.
        help: what the question means, with examples; may be empty.
        answers: the choices, in display order.
    """

    id: str
    title: str
    text: str
    help: str = ""
    answers: tuple[Answer, ...] = ()

    def answer(self, answer_id: str) -> Answer:
        """The answer with ``answer_id``.

        Raises:
            KeyError: the question has no such answer (the message lists the ones it has).
        """
        for answer in self.answers:
            if answer.id == answer_id:
                return answer
        known = ", ".join(a.id for a in self.answers) or "none"
        raise KeyError(f"Question {self.id!r} has no answer {answer_id!r} (it has: {known}).")


@dataclass(frozen=True)
class Outcome:
    """A recommendation the guide ends at.

    Attributes:
        kind: one of :data:`OUTCOME_KINDS`.
        title: its name as shown (``Fine-tune``, ``Retrieval (RAG)``…).
        summary: one or two sentences saying what to do.
        reasons: why this is a good choice in general (the answers add their own).
        next_steps: what to do now, in order.
    """

    kind: str
    title: str
    summary: str
    reasons: tuple[str, ...] = ()
    next_steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class Consideration:
    """One entry of the "fine-tune when" or "not necessary when" lists."""

    title: str
    text: str


@dataclass(frozen=True)
class Guide:
    """The whole decision guide.

    Attributes:
        start: id of the first question.
        questions: every question, in file order.
        outcomes: every outcome, in file order.
        fine_tune_when: situations in which fine-tuning pays off.
        not_necessary_when: situations in which it is not needed.
        version: format version of the file it was read from.
    """

    start: str
    questions: tuple[Question, ...]
    outcomes: tuple[Outcome, ...]
    fine_tune_when: tuple[Consideration, ...] = ()
    not_necessary_when: tuple[Consideration, ...] = ()
    version: int = 1

    def question(self, question_id: str) -> Question:
        """The question with ``question_id``.

        Raises:
            KeyError: no such question.
        """
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(f"The guide has no question {question_id!r}.")

    def outcome(self, kind: str) -> Outcome:
        """The outcome of ``kind``.

        Raises:
            KeyError: no such outcome.
        """
        for outcome in self.outcomes:
            if outcome.kind == kind:
                return outcome
        raise KeyError(f"The guide has no outcome {kind!r}.")

    def has_question(self, question_id: str) -> bool:
        """Whether a question with ``question_id`` exists."""
        return any(q.id == question_id for q in self.questions)

    def has_outcome(self, kind: str) -> bool:
        """Whether an outcome of ``kind`` exists."""
        return any(o.kind == kind for o in self.outcomes)
