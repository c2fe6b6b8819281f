"""Read the decision guide from YAML, and check that it holds together.

:func:`load_guide` reports every problem of a file at once, each with the line and the
key path where it is (``questions.style.answers[1].next``), so a broken guide is fixed
in one pass. :func:`validate_guide` checks a :class:`~ftstudio.core.guide.model.Guide`
however it was made: every answer leads to a known question or outcome, no loop, every
question and outcome reachable from the start, all four outcomes described.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftstudio.core.guide.model import (
    OUTCOME_KINDS,
    Answer,
    Consideration,
    Guide,
    Outcome,
    Question,
)
from ftstudio.core.paths import resource

FORMAT_VERSION = 1
"""The newest guide file format this version reads."""

_TOP_KEYS = ("version", "start", "questions", "outcomes", "fine_tune_when", "not_necessary_when")
_QUESTION_KEYS = ("title", "text", "help", "answers")
_ANSWER_KEYS = ("id", "label", "because", "next", "outcome")
_OUTCOME_KEYS = ("title", "summary", "reasons", "next_steps")
_CONSIDERATION_KEYS = ("title", "text")

Problem = tuple[str, str]
"""(key path, what is wrong and how to fix it)."""


class GuideError(Exception):
    """The guide file cannot be used; :attr:`problems` lists every reason, one per line."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = list(problems)
        count = len(self.problems)
        listed = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"{self.path}: the decision guide has {count} problem{'s' if count != 1 else ''}:"
            f"\n{listed}\nFix them in a text editor (the bundled guide is restored by "
            "reinstalling ftstudio)."
        )


def default_guide_path() -> Path:
    """The bundled guide, ``resources/guide/decision_guide.yaml``."""
    return resource("guide", "decision_guide.yaml")


# ---------------------------------------------------------------------------- Loading
def load_guide(path: Path | None = None) -> Guide:
    """Read and check the guide in ``path`` (default: the bundled one).

    Raises:
        GuideError: the file is missing, unreadable, not valid YAML, or has problems;
            every problem is listed with its line and key path.
    """
    path = Path(path) if path is not None else default_guide_path()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as error:
        raise GuideError(path, ["the file does not exist"]) from error
    except UnicodeDecodeError as error:
        raise GuideError(path, ["the file is not UTF-8 text; save it as UTF-8"]) from error
    except OSError as error:
        raise GuideError(path, [f"the file cannot be read ({error.strerror})"]) from error
    return parse_guide(text, path)


def parse_guide(text: str, path: Path | str = "<guide>") -> Guide:
    """Build and check a guide from YAML ``text``; ``path`` is only used in messages.

    Raises:
        GuideError: as :func:`load_guide`.
    """
    import yaml  # imported here: only the guide needs it, and not at startup

    # libyaml's loader when PyYAML has it (several times faster); the same results.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = getattr(error, "problem", None) or str(error)
        raise GuideError(
            path, [f"{where}not valid YAML ({what}); check the indentation and quotes there"]
        ) from error
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    found: list[str] = []
    if node is not None:
        _map_lines(node, "", lines, found)
    builder = _Builder()
    guide = builder.guide(data)
    problems = list(builder.problems)
    reported = {key for key, _ in problems}
    for key, message in _graph_problems(guide):
        # A problem already named at this key, or inside a value that could not be
        # used at all, is not repeated.
        if key not in reported and not any(_within(key, b) for b in builder.unusable):
            problems.append((key, message))
    found.extend(_with_line(key, message, lines) for key, message in problems)
    if found:
        raise GuideError(path, found)
    return guide


def _within(key: str, prefix: str) -> bool:
    """Whether ``key`` is ``prefix`` or lies inside it."""
    return key == prefix or key.startswith((f"{prefix}.", f"{prefix}["))


def _with_line(key: str, message: str, lines: dict[str, int]) -> str:
    probe = key
    while probe and probe not in lines:
        probe = probe.rpartition(".")[0] if "." in probe else ""
    line = lines.get(probe)
    where = f"line {line}, " if line is not None else ""
    return f"{where}{key or 'the file'}: {message}"


def _map_lines(node: Any, path: str, lines: dict[str, int], found: list[str]) -> None:
    """Record the 1-based line of every key path; report keys given twice in a mapping
    (YAML would silently keep the last one)."""
    import yaml

    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            line = key_node.start_mark.line + 1
            if key in seen:
                found.append(
                    f"line {line}, {child}: given twice (lines {seen[key]} and {line}); only "
                    "the last one counts, so keep one of them"
                )
                # YAML keeps the last value: its lines are the ones to name.
                for stale in [k for k in lines if _within(k, child)]:
                    del lines[stale]
            seen[key] = line
            lines[child] = line
            _map_lines(value_node, child, lines, found)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _map_lines(item, f"{path}[{index}]", lines, found)


class _Builder:
    """Turns the parsed YAML into dataclasses, noting every shape problem on the way."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.unusable: list[str] = []
        """Keys whose whole value had the wrong shape (problems inside are not repeated)."""

    def problem(self, key: str, message: str, *, unusable: bool = False) -> None:
        self.problems.append((key, message))
        if unusable:
            self.unusable.append(key)

    def guide(self, data: Any) -> Guide:
        if not isinstance(data, dict):
            self.problem(
                "", "the file must be a mapping with start, questions, outcomes…", unusable=True
            )
            return Guide(start="", questions=(), outcomes=())
        self.unknown_keys(data, "", _TOP_KEYS)
        version = data.get("version", FORMAT_VERSION)
        if not isinstance(version, int) or isinstance(version, bool):
            self.problem("version", f"must be a whole number ({FORMAT_VERSION})")
            version = FORMAT_VERSION
        elif version > FORMAT_VERSION:
            self.problem("version", f"{version} was written for a newer ftstudio; update ftstudio")
        start = self.text(data, "start", "", required=True)
        questions = [
            self.question(qid, value, f"questions.{qid}")
            for qid, value in self.mapping(data, "questions", "")
        ]
        outcomes = [
            self.outcome(kind, value, f"outcomes.{kind}")
            for kind, value in self.mapping(data, "outcomes", "")
        ]
        return Guide(
            start=start,
            questions=tuple(q for q in questions if q is not None),
            outcomes=tuple(o for o in outcomes if o is not None),
            fine_tune_when=self.considerations(data, "fine_tune_when"),
            not_necessary_when=self.considerations(data, "not_necessary_when"),
            version=version,
        )

    def question(self, qid: Any, value: Any, key: str) -> Question | None:
        if not self.is_id(qid, key):
            return None
        if not isinstance(value, dict):
            self.problem(key, "must be a mapping with title, text, help and answers", unusable=True)
            return Question(id=qid, title="", text="")
        self.unknown_keys(value, key, _QUESTION_KEYS)
        answers: list[Answer] = []
        raw = value.get("answers")
        if raw is not None and not isinstance(raw, list):
            self.problem(
                f"{key}.answers", "must be a list of answers (lines starting with -)", unusable=True
            )
        for index, item in enumerate(raw if isinstance(raw, list) else []):
            answers.append(self.answer(item, f"{key}.answers[{index}]", index))
        return Question(
            id=qid,
            title=self.text(value, "title", key, required=True),
            text=self.text(value, "text", key, required=True),
            help=self.text(value, "help", key),
            answers=tuple(answers),
        )

    def answer(self, value: Any, key: str, index: int) -> Answer:
        if not isinstance(value, dict):
            self.problem(key, "must be a mapping with id, label and next or outcome", unusable=True)
            # A placeholder keeps the answers' positions as in the file.
            return Answer(id=f"#{index}", label="")
        self.unknown_keys(value, key, _ANSWER_KEYS)
        answer_id = value.get("id")
        if answer_id is None:
            self.problem(f"{key}.id", "missing; give the answer an id")
            answer_id = f"#{index}"
        elif not self.is_id(answer_id, f"{key}.id"):
            answer_id = f"#{index}"
        return Answer(
            id=answer_id,
            label=self.text(value, "label", key, required=True),
            because=self.text(value, "because", key),
            next=self.text(value, "next", key) or None,
            outcome=self.text(value, "outcome", key) or None,
        )

    def outcome(self, kind: Any, value: Any, key: str) -> Outcome | None:
        if not self.is_id(kind, key):
            return None
        if not isinstance(value, dict):
            self.problem(
                key, "must be a mapping with title, summary, reasons and next_steps", unusable=True
            )
            return Outcome(kind=kind, title="", summary="")
        self.unknown_keys(value, key, _OUTCOME_KEYS)
        return Outcome(
            kind=kind,
            title=self.text(value, "title", key, required=True),
            summary=self.text(value, "summary", key, required=True),
            reasons=self.texts(value, "reasons", key),
            next_steps=self.texts(value, "next_steps", key),
        )

    def considerations(self, data: dict[str, Any], name: str) -> tuple[Consideration, ...]:
        raw = data.get(name)
        if raw is None:
            self.problem(name, "missing; list the situations, each with a title and a text")
            return ()
        if not isinstance(raw, list):
            self.problem(name, "must be a list (lines starting with -)", unusable=True)
            return ()
        out = []
        for index, item in enumerate(raw):
            key = f"{name}[{index}]"
            if not isinstance(item, dict):
                self.problem(key, "must be a mapping with title and text")
                continue
            self.unknown_keys(item, key, _CONSIDERATION_KEYS)
            title = self.text(item, "title", key, required=True)
            text = self.text(item, "text", key, required=True)
            out.append(Consideration(title=title, text=text))
        return tuple(out)

    # ---- Field helpers
    def mapping(self, data: dict[str, Any], name: str, parent: str) -> Iterator[tuple[Any, Any]]:
        key = f"{parent}.{name}" if parent else name
        value = data.get(name)
        if value is None:
            self.problem(key, "missing", unusable=True)
            return iter(())
        if not isinstance(value, dict):
            self.problem(key, "must be a mapping of ids to entries", unusable=True)
            return iter(())
        return iter(value.items())

    def is_id(self, value: Any, key: str) -> bool:
        if isinstance(value, bool):
            self.problem(
                key,
                f"YAML read this id as {str(value).lower()}; put it in quotes "
                f"('{'yes' if value else 'no'}') or choose another word",
            )
            return False
        if not isinstance(value, str) or not value.strip():
            self.problem(key, "the id must be a word (letters, digits, _)")
            return False
        return True

    def text(self, data: dict[str, Any], name: str, parent: str, *, required: bool = False) -> str:
        key = f"{parent}.{name}" if parent else name
        value = data.get(name)
        if value is None:
            if required:
                self.problem(key, "missing")
            return ""
        if isinstance(value, bool):
            self.problem(key, f"YAML read this as {str(value).lower()}; put the text in quotes")
            return ""
        if not isinstance(value, str):
            self.problem(key, "must be text")
            return ""
        if required and not value.strip():
            self.problem(key, "is empty")
        return value.strip()

    def texts(self, data: dict[str, Any], name: str, parent: str) -> tuple[str, ...]:
        key = f"{parent}.{name}"
        value = data.get(name, [])
        if not isinstance(value, list):
            self.problem(key, "must be a list of texts (lines starting with -)")
            return ()
        out = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.problem(f"{key}[{index}]", "must be non-empty text")
            else:
                out.append(item.strip())
        return tuple(out)

    def unknown_keys(self, data: dict[str, Any], parent: str, known: tuple[str, ...]) -> None:
        for name in data:
            if name not in known:
                key = f"{parent}.{name}" if parent else str(name)
                self.problem(key, f"unknown key; the keys here are {', '.join(known)}")


# ---------------------------------------------------------------------------- Checking
def validate_guide(guide: Guide) -> list[str]:
    """Every problem of ``guide`` as ``"key.path: what is wrong"`` lines; empty when sound.

    Checked: the start question exists; every question has a title, a text and answers;
    every answer has a label and leads to exactly one known question or outcome; answer
    ids are unique within a question; no loop; every question and outcome is reachable
    from the start; the four outcomes are each described once; both lists have entries.
    """
    return [f"{key}: {message}" if key else message for key, message in _graph_problems(guide)]


def _graph_problems(guide: Guide) -> list[Problem]:
    problems: list[Problem] = []
    question_ids = [q.id for q in guide.questions]
    known_questions = ", ".join(question_ids) or "none"
    outcome_kinds = [o.kind for o in guide.outcomes]

    for qid in sorted({q for q in question_ids if question_ids.count(q) > 1}):
        problems.append((f"questions.{qid}", "defined more than once; ids must be unique"))
    for kind in sorted({k for k in outcome_kinds if outcome_kinds.count(k) > 1}):
        problems.append((f"outcomes.{kind}", "defined more than once"))
    for outcome in guide.outcomes:
        key = f"outcomes.{outcome.kind}"
        if outcome.kind not in OUTCOME_KINDS:
            problems.append((key, f"unknown outcome; use one of {', '.join(OUTCOME_KINDS)}"))
        if not outcome.title:
            problems.append((f"{key}.title", "is empty"))
        if not outcome.summary:
            problems.append((f"{key}.summary", "is empty"))
    for kind in OUTCOME_KINDS:
        if kind not in outcome_kinds:
            problems.append(
                ("outcomes", f"{kind} is not described; the guide needs all four outcomes")
            )

    if not guide.start:
        problems.append(("start", "missing; name the first question"))
    elif not guide.has_question(guide.start):
        problems.append(
            ("start", f"{guide.start!r} is not a question; questions are: {known_questions}")
        )

    for question in guide.questions:
        key = f"questions.{question.id}"
        if not question.title:
            problems.append((f"{key}.title", "is empty"))
        if not question.text:
            problems.append((f"{key}.text", "is empty"))
        if not question.answers:
            problems.append(
                (f"{key}.answers", "no answers, so a path ends here without a recommendation")
            )
        seen: set[str] = set()
        for index, answer in enumerate(question.answers):
            akey = f"{key}.answers[{index}]"
            if answer.id in seen:
                problems.append((f"{akey}.id", f"{answer.id!r} is used twice in this question"))
            seen.add(answer.id)
            if not answer.label:
                problems.append((f"{akey}.label", "is empty"))
            problems.extend(_target_problems(guide, answer, akey, known_questions))

    problems.extend(_loop_problems(guide))
    problems.extend(_reach_problems(guide))
    for name in ("fine_tune_when", "not_necessary_when"):
        if not getattr(guide, name):
            problems.append((name, "has no entries; the guide page shows this list"))
    return problems


def _target_problems(guide: Guide, answer: Answer, key: str, known: str) -> list[Problem]:
    if answer.next is not None and answer.outcome is not None:
        return [(key, "has both next and outcome; an answer leads to one of them")]
    if answer.next is None and answer.outcome is None:
        return [
            (key, "leads nowhere: give next (a question id) or outcome, so the path ends at one")
        ]
    if answer.next is not None and not guide.has_question(answer.next):
        return [(f"{key}.next", f"{answer.next!r} is not a question; questions are: {known}")]
    if answer.outcome is not None:
        if answer.outcome not in OUTCOME_KINDS:
            return [
                (
                    f"{key}.outcome",
                    f"{answer.outcome!r} is not an outcome; use one of {', '.join(OUTCOME_KINDS)}",
                )
            ]
        if not guide.has_outcome(answer.outcome):
            return [(f"{key}.outcome", f"{answer.outcome!r} is not described under outcomes")]
    return []


def _successors(guide: Guide, question: Question) -> Iterator[tuple[int, str]]:
    """(answer index, next question id) for each answer leading to a known question."""
    for index, answer in enumerate(question.answers):
        if answer.next is not None and guide.has_question(answer.next):
            yield index, answer.next


def _loop_problems(guide: Guide) -> list[Problem]:
    """One problem per answer that closes a loop (depth-first search, back edges)."""
    problems: list[Problem] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    stack: list[str] = []

    def visit(qid: str) -> None:
        state[qid] = 1
        stack.append(qid)
        question = guide.question(qid)
        for index, target in _successors(guide, question):
            if state.get(target) == 1:
                loop = [*stack[stack.index(target) :], target]
                problems.append(
                    (
                        f"questions.{qid}.answers[{index}].next",
                        f"leads back to {target!r}, a loop ({' → '.join(loop)}); "
                        "every path must end at an outcome",
                    )
                )
            elif target not in state:
                visit(target)
        stack.pop()
        state[qid] = 2

    for question in guide.questions:
        if question.id not in state:
            visit(question.id)
    return problems


def _reach_problems(guide: Guide) -> list[Problem]:
    if not guide.has_question(guide.start):
        return []
    seen_questions: set[str] = set()
    seen_outcomes: set[str] = set()
    todo = [guide.start]
    while todo:
        qid = todo.pop()
        if qid in seen_questions:
            continue
        seen_questions.add(qid)
        question = guide.question(qid)
        for answer in question.answers:
            if answer.outcome is not None and answer.next is None:
                seen_outcomes.add(answer.outcome)
        todo.extend(target for _, target in _successors(guide, question))
    problems: list[Problem] = []
    for question in guide.questions:
        if question.id not in seen_questions:
            problems.append(
                (f"questions.{question.id}", "is never asked: no answer leads to it from start")
            )
    for outcome in guide.outcomes:
        if outcome.kind in OUTCOME_KINDS and outcome.kind not in seen_outcomes:
            problems.append((f"outcomes.{outcome.kind}", "is never reached: no answer leads to it"))
    return problems


# ---------------------------------------------------------------------------- Paths
@dataclass(frozen=True)
class GuidePath:
    """One way through the guide: the (question id, answer id) steps and where it ends.

    ``outcome`` is ``None`` when the path stops without a recommendation (a dead end or
    a loop); a sound guide has none of those.
    """

    steps: tuple[tuple[str, str], ...]
    outcome: str | None


def enumerate_paths(guide: Guide, limit: int = 10_000) -> list[GuidePath]:
    """Every path from the start question, each followed until an outcome, a dead end or
    a loop; at most ``limit`` paths."""
    paths: list[GuidePath] = []
    if not guide.has_question(guide.start):
        return [GuidePath((), None)]

    def walk(qid: str, steps: tuple[tuple[str, str], ...], visited: frozenset[str]) -> None:
        if len(paths) >= limit:
            return
        question = guide.question(qid)
        if not question.answers:
            paths.append(GuidePath(steps, None))
            return
        for answer in question.answers:
            taken = (*steps, (qid, answer.id))
            if answer.next is None:
                ok = answer.outcome is not None and guide.has_outcome(answer.outcome)
                paths.append(GuidePath(taken, answer.outcome if ok else None))
            elif not guide.has_question(answer.next) or answer.next in visited:
                paths.append(GuidePath(taken, None))
            else:
                walk(answer.next, taken, visited | {answer.next})

    walk(guide.start, (), frozenset({guide.start}))
    return paths
