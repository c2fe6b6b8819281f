"""Per-example loss after training: ranking, outliers, near-duplicates and leakage.

The engine measures the tuned model's loss on each training and validation example
(``ftstudio.engine.example_loss``); this module ranks the rows and flags the ones
worth a look:

- :data:`FLAG_OUTLIER`: a loss far above the others of its split, which often means
  the reference answer is wrong, off-topic or inconsistent with the rest. Each split
  is judged on its own (validation losses are normally higher than training ones).
  With 10 or more losses the robust z-score ``0.6745 × (loss − median) / MAD`` (MAD:
  the median absolute deviation; Iglewicz and Hoaglin's rule) must exceed 3.5; with
  fewer, or when the MAD is 0, the loss must be above ``Q3 + 3 × IQR`` (Tukey's far
  fence). Fewer than 4 losses are never flagged. Only high losses are flagged.
- :data:`FLAG_DUPLICATE`: another example of the same split has the same text once
  normalised as the dataset studio does for its near-duplicates
  (:func:`ftstudio.core.dataset.stats.normalise`: lower case, punctuation removed,
  whitespace collapsed).
- :data:`FLAG_LEAKAGE`: a training and a validation example have the same normalised
  text, so the validation loss is flattered (the model has seen that example).

The rows are saved with the run as ``<run>/eval/example_losses.jsonl``, one
:class:`ExampleLoss` a line.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ftstudio.core.atomic import atomic_write_text
from ftstudio.core.dataset.stats import normalise, percentile
from ftstudio.core.evaluation.results import EVAL_FOLDER

FLAG_OUTLIER = "outlier"
FLAG_DUPLICATE = "near_duplicate"
FLAG_LEAKAGE = "leakage"
FLAGS = (FLAG_OUTLIER, FLAG_DUPLICATE, FLAG_LEAKAGE)
LOSSES_FILE = "example_losses.jsonl"
SPLITS = ("train", "val")
ROBUST_Z = 3.5
"""Robust z-score above which a loss is an outlier (with enough rows)."""
IQR_FACTOR = 3.0
"""With few rows: a loss above Q3 + this × IQR is an outlier."""
MIN_ROWS_FOR_MAD = 10
MIN_ROWS_FOR_OUTLIERS = 4
_SPLIT_NAMES = {"train": "training", "val": "validation"}


@dataclass(frozen=True)
class ExampleLoss:
    """The tuned model's loss on one example.

    Attributes:
        index: 0-based index of the example within its split's file.
        line: 1-based line of the example in ``dataset`` (0: unknown).
        split: ``"train"`` or ``"val"``.
        loss: mean cross-entropy per trained token.
        tokens: the number of trained tokens.
        preview: the start of the example's text, for the table.
        flags: some of :data:`FLAGS`.
        detail: why it is flagged, in plain words (``""`` when not flagged).
        dataset: the file ``line`` refers to (absolute path; ``""`` if unknown), so the
            row can be opened in the dataset editor.
    """

    index: int
    line: int
    split: str
    loss: float
    tokens: int
    preview: str
    flags: tuple[str, ...] = ()
    detail: str = ""
    dataset: str = ""

    def to_json(self) -> dict[str, Any]:
        """A plain JSON-ready dict (a non-finite loss as ``"inf"``/``"nan"``)."""
        out = asdict(self)
        out["flags"] = list(self.flags)
        if not math.isfinite(self.loss):
            out["loss"] = str(self.loss)
        return out

    @classmethod
    def from_json(cls, data: Any) -> ExampleLoss:
        """The row saved by :meth:`to_json` (``ValueError`` naming the bad key)."""
        if not isinstance(data, dict):
            raise ValueError("the row must be a JSON object")
        for key, kind in (("index", int), ("line", int), ("tokens", int), ("split", str)):
            if not isinstance(data.get(key), kind) or isinstance(data.get(key), bool):
                raise ValueError(f'"{key}" is missing or not {_KIND_NAMES[kind]}')
        loss = data.get("loss")
        if isinstance(loss, str) and loss in ("inf", "-inf", "nan"):
            loss = float(loss)
        if not isinstance(loss, int | float) or isinstance(loss, bool):
            raise ValueError('"loss" is missing or not a number')
        flags = data.get("flags", [])
        if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
            raise ValueError('"flags" must be a list of text')
        for key in ("preview", "detail", "dataset"):
            if not isinstance(data.get(key, ""), str):
                raise ValueError(f'"{key}" must be text')
        return cls(
            index=data["index"],
            line=data["line"],
            split=data["split"],
            loss=float(loss),
            tokens=data["tokens"],
            preview=data.get("preview", ""),
            flags=tuple(flags),
            detail=data.get("detail", ""),
            dataset=data.get("dataset", ""),
        )


_KIND_NAMES = {int: "a whole number", str: "text"}


def analyse_losses(
    rows: Sequence[ExampleLoss], texts: Mapping[tuple[str, int], str]
) -> list[ExampleLoss]:
    """``rows`` ranked by loss (highest first) with their flags and details set.

    Args:
        rows: one per example (flags and details already there are replaced).
        texts: the text of each example, keyed by ``(split, index)``; for instance
            :func:`ftstudio.core.dataset.stats.normalised_text` of its record. Rows
            without a text are not checked for duplicates or leakage.

    Returns:
        New rows, sorted by loss descending (NaN losses last; ties in split then
        index order).
    """
    notes: dict[int, list[tuple[str, str]]] = {n: [] for n in range(len(rows))}
    for split in SPLITS:
        members = [n for n, row in enumerate(rows) if row.split == split]
        for n, why in _outliers(rows, members):
            notes[n].append((FLAG_OUTLIER, why))
    for n, why in _duplicates(rows, texts):
        notes[n].append(why)
    out = [
        replace(
            row,
            flags=tuple(dict.fromkeys(flag for flag, _ in notes[n])),
            detail="; ".join(why for _, why in notes[n]),
        )
        for n, row in enumerate(rows)
    ]
    out.sort(key=_rank_key)
    return out


def _rank_key(row: ExampleLoss) -> tuple[bool, float, int, int]:
    split = SPLITS.index(row.split) if row.split in SPLITS else len(SPLITS)
    return (math.isnan(row.loss), -row.loss if not math.isnan(row.loss) else 0.0, split, row.index)


def _outliers(rows: Sequence[ExampleLoss], members: list[int]) -> list[tuple[int, str]]:
    losses = sorted(rows[n].loss for n in members if math.isfinite(rows[n].loss))
    if len(losses) < MIN_ROWS_FOR_OUTLIERS:
        return []
    median = statistics.median(losses)
    mad = statistics.median(abs(loss - median) for loss in losses)
    if len(losses) >= MIN_ROWS_FOR_MAD and mad > 0:
        limit = median + ROBUST_Z * mad / 0.6745
    else:
        q1, q3 = percentile(losses, 25), percentile(losses, 75)
        if q3 - q1 <= 0:
            return []
        limit = q3 + IQR_FACTOR * (q3 - q1)
    split = _SPLIT_NAMES.get(rows[members[0]].split, rows[members[0]].split) if members else ""
    found: list[tuple[int, str]] = []
    for n in members:
        loss = rows[n].loss
        if loss > limit:  # inf included, NaN never
            found.append(
                (
                    n,
                    f"loss {loss:.2f} is far above the {split} median {median:.2f}: check this "
                    "answer for mistakes",
                )
            )
    return found


def _duplicates(
    rows: Sequence[ExampleLoss], texts: Mapping[tuple[str, int], str]
) -> Iterable[tuple[int, tuple[str, str]]]:
    groups: dict[str, list[int]] = {}
    for n, row in enumerate(rows):
        text = texts.get((row.split, row.index))
        if text:
            key = normalise(text)
            if key:
                groups.setdefault(key, []).append(n)
    for members in groups.values():
        if len(members) < 2:
            continue
        for n in members:
            row = rows[n]
            same = [rows[m] for m in members if m != n and rows[m].split == row.split]
            other = [rows[m] for m in members if rows[m].split != row.split]
            if same:
                yield n, (FLAG_DUPLICATE, f"near-duplicate of {_lines(same)}")
            if other:
                if row.split == "val":
                    why = (
                        f"same as {_lines(other, with_split=True)}: the model trained on it, so "
                        "the validation loss is flattered"
                    )
                else:
                    why = (
                        f"same as {_lines(other, with_split=True)}: the validation loss is "
                        "flattered"
                    )
                yield n, (FLAG_LEAKAGE, why)


def _lines(rows: list[ExampleLoss], *, with_split: bool = False) -> str:
    split = rows[0].split
    prefix = f"{_SPLIT_NAMES.get(split, split)} " if with_split else ""
    places = [str(row.line) if row.line else f"example {row.index + 1}" for row in rows]
    noun = "line" if len(rows) == 1 else "lines"
    if all(row.line for row in rows):
        return f"{prefix}{noun} {', '.join(places)}"
    return f"{prefix}{', '.join(places)}"


def losses_path(run_dir: Path) -> Path:
    """``<run>/eval/example_losses.jsonl``."""
    return Path(run_dir) / EVAL_FOLDER / LOSSES_FILE


def save_losses(rows: Sequence[ExampleLoss], run_dir: Path) -> Path:
    """Write ``rows`` (one JSON object a line) atomically; returns the file's path."""
    path = losses_path(run_dir)
    text = "".join(json.dumps(row.to_json(), ensure_ascii=False) + "\n" for row in rows)
    atomic_write_text(path, text)
    return path


def load_losses(run_dir: Path) -> list[ExampleLoss] | None:
    """The run's saved per-example losses, in file order; ``None`` when there are none.

    Raises:
        ValueError: the file is broken; the message names the file and line.
    """
    path = losses_path(run_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{path} could not be read ({error}). Compute the example losses again."
        ) from error
    rows: list[ExampleLoss] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(ExampleLoss.from_json(json.loads(line)))
        except ValueError as error:  # JSONDecodeError included
            raise ValueError(
                f"{path}, line {number}: {error}. The file is damaged; compute the example "
                "losses again."
            ) from error
    return rows
