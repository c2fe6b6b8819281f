"""Dataset statistics: size against the guide's bands, lengths, tags, prompts, duplicates.

Usable examples are those that parsed, have no validation error and are not
rejected. Turns, lengths, tokens, tags and system prompts are measured over the
usable examples plus those whose only errors are ``too_long`` (so that the token
lengths show every example against the max length). Duplicates are looked for among
every parsed example that is not rejected.
"""

from __future__ import annotations

import math
import statistics
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from ftstudio.core.dataset.fixes import MESSAGE_LIST_KEYS, exact_duplicate_groups, group_by_key
from ftstudio.core.dataset.records import REVIEW_STATES, Dataset, Issue
from ftstudio.core.dataset.tokens import ExampleTokenizer
from ftstudio.core.dataset.validate import validate_dataset

MINIMUM = (50, 100)
RECOMMENDED = (500, 1_000)
IDEAL = (1_000, 10_000)
"""The guide's bands for the number of usable examples."""


@dataclass(frozen=True)
class SizeBand:
    """Where a number of usable examples stands against the guide's bands.

    Attributes:
        name: ``empty``, ``below_minimum``, ``minimum``, ``recommended``, ``ideal``
            or ``large``.
        verdict: the same in plain words, with what to do.
    """

    name: str
    verdict: str


def size_band(usable: int) -> SizeBand:
    """The band ``usable`` examples fall in (minimum 50–100, recommended 500–1,000,
    ideal 1,000–10,000), said in plain words."""
    low, high = MINIMUM
    if usable <= 0:
        return SizeBand(
            "empty",
            f"No usable examples yet. Fine-tuning needs at least {low}–{high}; aim for "
            f"{RECOMMENDED[0]}–{RECOMMENDED[1]:,}.",
        )
    noun = "example" if usable == 1 else "examples"
    if usable < low:
        return SizeBand(
            "below_minimum",
            f"{usable:,} usable {noun}: below the minimum of {low}–{high}. Add at least "
            f"{low - usable:,} more; {RECOMMENDED[0]}–{RECOMMENDED[1]:,} is recommended.",
        )
    if usable < high:
        return SizeBand(
            "minimum",
            f"{usable:,} usable examples: at the low end of the minimum of {low}–{high}, "
            f"enough for a first try. Add {high - usable:,} more to pass the minimum; "
            f"{RECOMMENDED[0]}–{RECOMMENDED[1]:,} is recommended.",
        )
    if usable < RECOMMENDED[0]:
        return SizeBand(
            "minimum",
            f"{usable:,} usable examples: above the minimum of {low}–{high}, below the "
            f"recommended {RECOMMENDED[0]}–{RECOMMENDED[1]:,}. Add about "
            f"{RECOMMENDED[0] - usable:,} more for dependable results.",
        )
    if usable < IDEAL[0]:
        return SizeBand(
            "recommended",
            f"{usable:,} usable examples: within the recommended {RECOMMENDED[0]}–"
            f"{RECOMMENDED[1]:,}. {IDEAL[0]:,}–{IDEAL[1]:,} is ideal if you can write more.",
        )
    if usable <= IDEAL[1]:
        return SizeBand(
            "ideal",
            f"{usable:,} usable examples: within the ideal range of {IDEAL[0]:,}–{IDEAL[1]:,}.",
        )
    return SizeBand(
        "large",
        f"{usable:,} usable examples: more than the ideal {IDEAL[0]:,}–{IDEAL[1]:,}. More "
        "examples help less past this point and training takes longer; check them for "
        "quality and near-duplicates, or train on a curated subset.",
    )


@dataclass(frozen=True)
class Summary:
    """Distribution of one measure over the measured examples (see the module docstring)."""

    count: int
    min: float
    mean: float
    median: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary | None:
        """The summary of ``values``; ``None`` when there are none."""
        data = sorted(values)
        if not data:
            return None
        return cls(
            count=len(data),
            min=data[0],
            mean=statistics.fmean(data),
            median=statistics.median(data),
            p95=percentile(data, 95),
            max=data[-1],
        )

    def to_json(self) -> dict[str, float]:
        """Plain dict (mean rounded to 0.1)."""
        out = asdict(self)
        out["mean"] = round(self.mean, 1)
        return out


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q``-th percentile of already sorted values, interpolated linearly (as numpy)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    position = (len(sorted_values) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


@dataclass
class DatasetStats:
    """Statistics of a dataset (see the module docstring for which examples count).

    Duplicate groups hold record indices (0-based, as :attr:`Dataset.records`); the
    ``*_lines`` twins hold the same groups as the records' 1-based file lines.
    ``example_chars`` counts the text of every turn, ``assistant_chars`` the answers
    only (completion: the completion; preference: the chosen answer).
    ``example_tokens``/``trained_tokens`` are filled only with a tokenizer: the token
    ids of the whole training text, and those that carry loss. ``char_counts`` and
    ``token_counts`` hold one value per measured example (for histograms; not in JSON).
    """

    records: int
    parsed: int
    rejected: int
    with_errors: int
    usable: int
    band: SizeBand
    errors: int
    warnings: int
    issue_codes: dict[str, int]
    turns: Summary | None
    example_chars: Summary | None
    assistant_chars: Summary | None
    example_tokens: Summary | None
    trained_tokens: Summary | None
    tags: dict[str, int]
    untagged: int
    system_prompts: list[tuple[str, int]]
    no_system_prompt: int
    exact_duplicates: list[list[int]]
    near_duplicates: list[list[int]]
    review: dict[str, int]
    exact_duplicate_lines: list[list[int]] = field(default_factory=list)
    near_duplicate_lines: list[list[int]] = field(default_factory=list)
    over_max_length: int | None = None
    max_length: int | None = None
    char_counts: list[int] = field(default_factory=list, repr=False)
    token_counts: list[int] = field(default_factory=list, repr=False)

    @property
    def unparseable(self) -> int:
        """Records that could not be read (invalid JSON or encoding)."""
        return self.records - self.parsed

    def to_json(self) -> dict[str, Any]:
        """The statistics as a plain JSON-ready dict."""

        def summary(value: Summary | None) -> dict[str, float] | None:
            return value.to_json() if value is not None else None

        return {
            "records": self.records,
            "parsed": self.parsed,
            "unparseable": self.unparseable,
            "rejected": self.rejected,
            "with_errors": self.with_errors,
            "usable": self.usable,
            "band": {"name": self.band.name, "verdict": self.band.verdict},
            "errors": self.errors,
            "warnings": self.warnings,
            "issue_codes": dict(self.issue_codes),
            "turns": summary(self.turns),
            "example_chars": summary(self.example_chars),
            "assistant_chars": summary(self.assistant_chars),
            "example_tokens": summary(self.example_tokens),
            "trained_tokens": summary(self.trained_tokens),
            "max_length": self.max_length,
            "over_max_length": self.over_max_length,
            "tags": dict(self.tags),
            "untagged": self.untagged,
            "system_prompts": [{"text": t, "count": n} for t, n in self.system_prompts],
            "no_system_prompt": self.no_system_prompt,
            "exact_duplicates": [list(g) for g in self.exact_duplicates],
            "near_duplicates": [list(g) for g in self.near_duplicates],
            "exact_duplicate_lines": [list(g) for g in self.exact_duplicate_lines],
            "near_duplicate_lines": [list(g) for g in self.near_duplicate_lines],
            "review": dict(self.review),
        }


def compute_stats(
    dataset: Dataset,
    *,
    issues: list[Issue] | None = None,
    tokenizer: ExampleTokenizer | None = None,
    max_length: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> DatasetStats:
    """Statistics of ``dataset``.

    Args:
        dataset: the records.
        issues: the dataset's validation issues; ``None`` validates it here (without a
            tokenizer, so ``too_long`` errors do not count unless you pass them).
        tokenizer: when given, token counts are measured too (slow: one chat template
            per example).
        max_length: with a tokenizer, count the examples longer than this.
        progress: ``progress(done, total)`` while tokenising.
        cancel: polled while tokenising; when true, :class:`StatsCancelled` is raised.
    """
    if issues is None:
        issues = validate_dataset(dataset)
    records = dataset.records
    errors = sum(1 for issue in issues if issue.severity == "error")
    bad = {issue.record for issue in issues if issue.severity == "error"}
    malformed = {
        issue.record for issue in issues if issue.severity == "error" and issue.code != "too_long"
    }
    parsed = [i for i, r in enumerate(records) if r.is_parsed]
    live = [i for i in parsed if records[i].review != "rejected"]
    usable = [i for i in live if i not in bad]
    measured = usable if len(bad) == len(malformed) else [i for i in live if i not in malformed]

    review = dict.fromkeys(REVIEW_STATES, 0)
    for index in parsed:
        review[records[index].review] += 1

    turns: list[int] = []
    example_chars: list[int] = []
    assistant_chars: list[int] = []
    tags: Counter[str] = Counter()
    untagged = 0
    systems: Counter[str] = Counter()
    for index in measured:
        record = records[index]
        shape = _shape(record.data)
        turns.append(shape.turns)
        example_chars.append(shape.chars)
        assistant_chars.append(shape.assistant_chars)
        if shape.system is not None:
            systems[shape.system] += 1
        record_tags = record.tags
        if record_tags:
            tags.update(dict.fromkeys(record_tags, 1))  # a tag listed twice counts once
        else:
            untagged += 1

    token_counts: list[int] = []
    trained_counts: list[int] = []
    over: int | None = None
    if tokenizer is not None:
        over = 0 if max_length is not None else None
        for done, index in enumerate(measured):
            if done % 64 == 0:
                if cancel is not None and cancel():
                    raise StatsCancelled("Statistics were cancelled.")
                if progress is not None:
                    progress(done, len(measured))
            try:
                example = tokenizer.tokenize_example(records[index].data)
            except ValueError:
                continue  # reported by validation as template_error
            token_counts.append(len(example.ids))
            trained_counts.append(example.trained_count)
            if over is not None and len(example.ids) > max_length:
                over += 1
        if progress is not None:
            progress(len(measured), len(measured))

    exact = exact_duplicate_groups(dataset)
    exact_of = {index: n for n, group in enumerate(exact) for index in group}
    near = [
        group
        for group in group_by_key(dataset, normalised_text, live)
        if len({exact_of.get(index, -1 - index) for index in group}) > 1
    ]
    return DatasetStats(
        records=len(records),
        parsed=len(parsed),
        rejected=len(parsed) - len(live),
        with_errors=len(live) - len(usable),
        usable=len(usable),
        band=size_band(len(usable)),
        errors=errors,
        warnings=len(issues) - errors,
        issue_codes=dict(Counter(issue.code for issue in issues).most_common()),
        turns=Summary.of(turns),
        example_chars=Summary.of(example_chars),
        assistant_chars=Summary.of(assistant_chars),
        example_tokens=Summary.of(token_counts),
        trained_tokens=Summary.of(trained_counts),
        tags=dict(sorted(tags.items(), key=lambda item: (-item[1], item[0]))),
        untagged=untagged,
        system_prompts=systems.most_common(),
        no_system_prompt=len(measured) - sum(systems.values()),
        exact_duplicates=exact,
        near_duplicates=near,
        exact_duplicate_lines=[[records[i].line for i in group] for group in exact],
        near_duplicate_lines=[[records[i].line for i in group] for group in near],
        review=review,
        over_max_length=over,
        max_length=max_length if over is not None else None,
        char_counts=example_chars,
        token_counts=token_counts,
    )


class StatsCancelled(Exception):
    """Raised by :func:`compute_stats` when its ``cancel`` callback returns true."""


def normalised_text(data: Any) -> str | None:
    """An example's text for near-duplicate detection, or ``None`` if it has none.

    Every turn's role and text, lowercased, with punctuation removed and runs of
    whitespace collapsed to one space; curation fields are ignored.
    """
    if not isinstance(data, dict):
        return None
    parts: list[str] = []
    for key in MESSAGE_LIST_KEYS:
        messages = data.get(key)
        if isinstance(messages, list):
            for message in messages:
                if isinstance(message, dict):
                    parts.append(f"{message.get('role')}: {_text(message.get('content'))}")
    for key in ("prompt", "completion"):
        value = data.get(key)
        if isinstance(value, str):
            parts.append(f"{key}: {value}")
    return normalise("\n".join(parts))


def normalise(text: str) -> str:
    """``text`` lowercased, punctuation removed, whitespace runs collapsed to one space."""
    return " ".join(text.lower().translate(_punctuation_table()).split())


@lru_cache(maxsize=1)
def _punctuation_table() -> dict[int, str]:
    """Every Unicode punctuation character mapped to a space."""
    return {
        code: " "
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)).startswith("P")
    }


@dataclass(frozen=True)
class _Shape:
    turns: int
    chars: int
    assistant_chars: int
    system: str | None


def _shape(data: Any) -> _Shape:
    if not isinstance(data, dict):
        return _Shape(0, 0, 0, None)
    if "messages" in data or "chosen" in data:
        turns = chars = answer = 0
        system = None
        conversation = data.get("messages")
        if not isinstance(conversation, list):
            conversation = [*_messages(data.get("prompt")), *_messages(data.get("chosen"))]
        for position, message in enumerate(conversation):
            if not isinstance(message, dict):
                continue
            turns += 1
            size = len(_text(message.get("content")))
            chars += size
            role = message.get("role")
            if role == "assistant":
                answer += size
            elif role == "system" and position == 0:
                system = _text(message.get("content"))
        return _Shape(turns, chars, answer, system)
    prompt, completion = _text(data.get("prompt")), _text(data.get("completion"))
    return _Shape(2, len(prompt) + len(completion), len(completion), None)


def _messages(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
