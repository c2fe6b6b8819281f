"""Walking through the guide: a pure state machine with back, forward and a result.

A :class:`GuideSession` holds the answers given so far like a browser holds its
history: :meth:`~GuideSession.back` steps back without forgetting, :meth:`~GuideSession.
forward` re-applies the next remembered answer, and a different answer forgets the
remembered ones after it. At an outcome, :attr:`~GuideSession.result` gives the
recommendation with its reasons, and, for fine-tuning, whether the project's data is
enough (:func:`data_readiness`, from the number of usable examples).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ftstudio.core.dataset.stats import MINIMUM, RECOMMENDED, SizeBand, size_band
from ftstudio.core.guide.model import Guide, Outcome, Question

ReadinessLevel = Literal["insufficient", "first_try", "ready"]

BAND_LABELS = {
    "empty": "Empty",
    "below_minimum": "Below the minimum",
    "minimum": "Minimum",
    "recommended": "Recommended",
    "ideal": "Ideal",
    "large": "Large",
}
"""Display names of the size bands of :func:`ftstudio.core.dataset.stats.size_band`."""

SAVED_KEY = "guide"
"""The ``project.json`` key holding the last recommendation (see :meth:`GuideResult.to_json`)."""


class GuideSessionError(ValueError):
    """An answer was given where none is possible, or a saved path does not fit the guide."""


# ---------------------------------------------------------------------------- Data readiness
@dataclass(frozen=True)
class Readiness:
    """Whether the project's dataset is big enough to fine-tune.

    Attributes:
        usable: usable examples (parsed, no error, not rejected).
        band: the size band they fall in (name and plain-words verdict).
        level: ``insufficient`` (below the minimum), ``first_try`` (at the minimum) or
            ``ready`` (recommended size or more).
        headline: the level in a few words.
        advice: what to do, in plain words.
    """

    usable: int
    band: SizeBand
    level: ReadinessLevel
    headline: str
    advice: str

    @property
    def sufficient(self) -> bool:
        """Whether there are enough examples for at least a first training run."""
        return self.level != "insufficient"

    @property
    def band_label(self) -> str:
        """The band's display name, e.g. ``Below the minimum``."""
        return BAND_LABELS.get(self.band.name, self.band.name.replace("_", " ").capitalize())


def data_readiness(usable: int) -> Readiness:
    """How ready ``usable`` examples are for fine-tuning, with what to do next."""
    band = size_band(usable)
    if band.name in ("empty", "below_minimum"):
        return Readiness(
            usable,
            band,
            "insufficient",
            "Not enough data to fine-tune yet",
            f"{band.verdict} Until you have at least {MINIMUM[0]}, prompting is the better "
            "tool: put clear instructions and a few of your best examples into the prompt. "
            "Meanwhile, write or collect examples on the Dataset page: real questions with "
            "exactly the answers you want.",
        )
    if band.name == "minimum":
        return Readiness(
            usable,
            band,
            "first_try",
            "Enough for a first try",
            f"{band.verdict} Expect a first run to show whether training helps; "
            f"{RECOMMENDED[0]}–{RECOMMENDED[1]:,} good examples give dependable results.",
        )
    return Readiness(usable, band, "ready", "Enough data to fine-tune", band.verdict)


# ---------------------------------------------------------------------------- Result
@dataclass(frozen=True)
class Step:
    """One answer given: ``answer_id`` to the question ``question_id``."""

    question_id: str
    answer_id: str

    def to_json(self) -> list[str]:
        """``[question_id, answer_id]``."""
        return [self.question_id, self.answer_id]


@dataclass(frozen=True)
class GuideResult:
    """Where the guide ended, and why.

    Attributes:
        outcome: the recommendation.
        path: the answers that led to it.
        answer_reasons: why each answer led on (in path order).
        readiness: the dataset check, or ``None`` when it is not known.
    """

    outcome: Outcome
    path: tuple[Step, ...]
    answer_reasons: tuple[str, ...]
    readiness: Readiness | None

    @property
    def data_insufficient(self) -> bool:
        """Fine-tuning is recommended but the project has too few usable examples."""
        return (
            self.outcome.kind == "fine_tune"
            and self.readiness is not None
            and not self.readiness.sufficient
        )

    @property
    def data_note(self) -> str:
        """For fine-tuning: what the dataset check says (empty for other outcomes)."""
        if self.outcome.kind != "fine_tune":
            return ""
        if self.readiness is None:
            return (
                "The project's dataset has not been checked yet: open the Dataset page to "
                "see how many usable examples you have."
            )
        r = self.readiness
        if r.level == "insufficient":
            return f"{r.headline} (size band: {r.band_label.lower()}). {r.advice}"
        noun = "example" if r.usable == 1 else "examples"
        if r.level == "first_try":
            return (
                f"Your {r.usable:,} usable {noun} are enough for a first try (size band: "
                f"{r.band_label.lower()}); {RECOMMENDED[0]}–{RECOMMENDED[1]:,} good examples "
                "give dependable results."
            )
        return f"Your {r.usable:,} usable {noun} are enough (size band: {r.band_label.lower()})."

    @property
    def reasons(self) -> tuple[str, ...]:
        """Every reason in plain words: the answers', the outcome's, then the data's."""
        note = (self.data_note,) if self.data_note else ()
        return (*self.answer_reasons, *self.outcome.reasons, *note)

    def to_json(self, decided: datetime | None = None) -> dict[str, Any]:
        """The result as saved under ``project.json``'s ``guide`` key."""
        decided = decided or datetime.now(UTC)
        readiness = self.readiness
        return {
            "outcome": self.outcome.kind,
            "path": [step.to_json() for step in self.path],
            "reasons": list(self.reasons),
            "decided": decided.isoformat(timespec="seconds"),
            "usable_examples": readiness.usable if readiness is not None else None,
            "size_band": readiness.band.name if readiness is not None else None,
            "data_insufficient": self.data_insufficient,
        }


@dataclass(frozen=True)
class SavedDecision:
    """A recommendation read back from ``project.json`` (see :meth:`from_json`)."""

    outcome: str
    path: tuple[Step, ...]
    reasons: tuple[str, ...]
    decided: str

    @classmethod
    def from_json(cls, value: Any) -> SavedDecision | None:
        """Read a saved ``guide`` value; ``None`` when it is missing or malformed."""
        if not isinstance(value, dict):
            return None
        outcome, path = value.get("outcome"), value.get("path")
        reasons, decided = value.get("reasons", []), value.get("decided", "")
        if not isinstance(outcome, str) or not isinstance(path, list):
            return None
        steps = []
        for item in path:
            if not (
                isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)
            ):
                return None
            steps.append(Step(item[0], item[1]))
        if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
            reasons = []
        decided = decided if isinstance(decided, str) else ""
        return cls(outcome, tuple(steps), tuple(reasons), decided)


# ---------------------------------------------------------------------------- Session
class GuideSession:
    """One walk through ``guide``: the current question, history, and the result.

    Args:
        guide: a guide that passed :func:`~ftstudio.core.guide.loader.validate_guide`.
        usable_examples: the project's usable examples, or ``None`` when not known yet.
    """

    def __init__(self, guide: Guide, usable_examples: int | None = None) -> None:
        self.guide = guide
        self._steps: list[Step] = []
        self._position = 0
        self._usable = usable_examples

    @classmethod
    def replay(
        cls, guide: Guide, steps: list[Step] | tuple[Step, ...], usable_examples: int | None = None
    ) -> GuideSession:
        """A session with ``steps`` answered in order.

        Raises:
            GuideSessionError: a step does not fit the guide (it changed since they
                were saved).
        """
        session = cls(guide, usable_examples)
        for step in steps:
            current = session.current
            if current is None or current.id != step.question_id:
                where = current.id if current is not None else "an outcome"
                raise GuideSessionError(
                    f"The saved answers do not fit the guide any more: expected a step at "
                    f"{where!r}, found {step.question_id!r}."
                )
            try:
                session.answer(step.answer_id)
            except KeyError as error:
                raise GuideSessionError(
                    f"The saved answers do not fit the guide any more: {error.args[0]}"
                ) from error
        return session

    # ---- State
    @property
    def path(self) -> tuple[Step, ...]:
        """The answers given up to the current point, in order."""
        return tuple(self._steps[: self._position])

    @property
    def position(self) -> int:
        """How many answers of the history are applied."""
        return self._position

    @property
    def history(self) -> tuple[Step, ...]:
        """Every remembered answer, including those after the current point."""
        return tuple(self._steps)

    @property
    def current(self) -> Question | None:
        """The question to answer now; ``None`` at an outcome."""
        question = self.guide.question(self.guide.start)
        for step in self.path:
            answer = question.answer(step.answer_id)
            if answer.next is None:
                return None
            question = self.guide.question(answer.next)
        return question

    @property
    def outcome(self) -> Outcome | None:
        """The outcome reached, or ``None`` while a question is open."""
        if not self._position or self.current is not None:
            return None
        last = self.path[-1]
        kind = self.guide.question(last.question_id).answer(last.answer_id).outcome
        return self.guide.outcome(kind) if kind is not None else None

    @property
    def finished(self) -> bool:
        """Whether an outcome is reached."""
        return self.outcome is not None

    @property
    def chosen(self) -> str | None:
        """The remembered answer to the current question (after going back), if any."""
        if self._position < len(self._steps):
            return self._steps[self._position].answer_id
        return None

    def can_back(self) -> bool:
        """Whether :meth:`back` would move."""
        return self._position > 0

    def can_forward(self) -> bool:
        """Whether :meth:`forward` would move."""
        return self._position < len(self._steps)

    # ---- Moves
    def answer(self, answer_id: str) -> None:
        """Answer the current question with ``answer_id`` and move on.

        Giving the remembered answer again keeps the answers remembered after it;
        a different answer forgets them.

        Raises:
            GuideSessionError: the guide is already at an outcome.
            KeyError: the current question has no such answer.
        """
        question = self.current
        if question is None:
            raise GuideSessionError("The guide is at a recommendation; go back or start over.")
        question.answer(answer_id)  # raises KeyError for an unknown answer
        step = Step(question.id, answer_id)
        if self._position < len(self._steps) and self._steps[self._position] == step:
            self._position += 1
            return
        del self._steps[self._position :]
        self._steps.append(step)
        self._position += 1

    def back(self) -> bool:
        """Step back one answer (remembering it); ``False`` at the first question."""
        if not self.can_back():
            return False
        self._position -= 1
        return True

    def forward(self) -> bool:
        """Re-apply the next remembered answer; ``False`` when there is none."""
        if not self.can_forward():
            return False
        self._position += 1
        return True

    def go_to(self, position: int) -> None:
        """Jump to the point after ``position`` remembered answers (0: the first question).

        Raises:
            ValueError: ``position`` is outside ``0..len(history)``.
        """
        if not 0 <= position <= len(self._steps):
            raise ValueError(f"position {position} is outside 0..{len(self._steps)}")
        self._position = position

    def restart(self) -> None:
        """Forget every answer and go back to the first question."""
        self._steps.clear()
        self._position = 0

    # ---- Data and result
    @property
    def usable_examples(self) -> int | None:
        """The project's usable examples, or ``None`` when not known."""
        return self._usable

    def set_usable_examples(self, usable: int | None) -> None:
        """Use a new count of usable examples (``None``: not known)."""
        self._usable = usable

    @property
    def readiness(self) -> Readiness | None:
        """The dataset check for the current count, or ``None`` when it is not known."""
        return data_readiness(self._usable) if self._usable is not None else None

    @property
    def result(self) -> GuideResult | None:
        """The recommendation with its reasons; ``None`` while a question is open."""
        outcome = self.outcome
        if outcome is None:
            return None
        reasons = []
        for step in self.path:
            because = self.guide.question(step.question_id).answer(step.answer_id).because
            if because:
                reasons.append(because)
        return GuideResult(outcome, self.path, tuple(reasons), self.readiness)
