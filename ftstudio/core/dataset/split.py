"""Train/validation split: seeded, stratified by tag, stable when examples are added.

How an example is assigned:

1. Its **key**: ``"id:<id>"`` when the record has an ``id`` field, otherwise a
   SHA-256 of its normalised first user message and first assistant answer (lowercase,
   punctuation removed, whitespace collapsed), so fixing a typo in the spacing or
   adding a tag does not move it. Completion examples use prompt and completion,
   preference pairs the last user message and the chosen answer.
2. A number ``u`` in [0, 1) from a SHA-256 of ``(seed, stratum, key)``, where the
   stratum is the example's first tag (``""`` untagged, or always ``""`` without
   ``stratify``). The example goes to validation when ``u < val_fraction``.

The assignment of an example therefore depends on nothing but its own key, its first
tag and the seed: adding, removing or reordering other examples never moves it, and
copies with the same key always land on the same side (no train/validation leak).
Each tag is split on its own draws, so every tag gets close to the fraction (within a
few points for a tag of a few hundred examples); exact per-tag quotas would have to
move examples when data is added, which stability rules out. A tag with fewer than
``1 / val_fraction`` examples may get no validation example.

Rejected and unparseable examples are excluded. The split is stored beside the dataset
in ``<dataset file>.split.json`` (:func:`save_split`, :func:`load_split`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftstudio.core.atomic import atomic_write_json
from ftstudio.core.dataset.records import Dataset, Record
from ftstudio.core.dataset.stats import normalise

SPLIT_SUFFIX = ".split.json"
SPLIT_FORMAT = 1


class SplitFileError(ValueError):
    """A split file that cannot be read; the message names the file and the fix."""


@dataclass(frozen=True)
class Split:
    """A train/validation split of a dataset's records.

    Attributes:
        val_fraction: the share of examples meant for validation (0 < f < 1).
        seed: the seed of the hash draws.
        stratify: whether each first tag was split on its own draws.
        train: indices of training examples, in file order.
        val: indices of validation examples, in file order.
        excluded: indices of rejected and unparseable records.
        keys: the example key of each record (``""`` for excluded ones).
        strata: per stratum (first tag, ``""`` untagged): ``(train count, val count)``.
    """

    val_fraction: float
    seed: int
    stratify: bool
    train: tuple[int, ...]
    val: tuple[int, ...]
    excluded: tuple[int, ...]
    keys: tuple[str, ...]
    strata: dict[str, tuple[int, int]]

    @property
    def val_keys(self) -> list[str]:
        """Sorted, distinct keys of the validation examples."""
        return sorted({self.keys[i] for i in self.val})

    def to_json(self) -> dict[str, Any]:
        """The split as stored in the split file."""
        return {
            "ftstudio_split": SPLIT_FORMAT,
            "seed": self.seed,
            "val_fraction": self.val_fraction,
            "stratify": self.stratify,
            "key": "id, else sha256 of the normalised first user and assistant messages",
            "counts": {
                "train": len(self.train),
                "val": len(self.val),
                "excluded": len(self.excluded),
            },
            "strata": {name: {"train": t, "val": v} for name, (t, v) in self.strata.items()},
            "val_keys": self.val_keys,
        }


@dataclass(frozen=True)
class StoredSplit:
    """What a split file holds: the settings and the validation keys."""

    seed: int
    val_fraction: float
    stratify: bool
    val_keys: frozenset[str]
    path: Path

    def apply(self, dataset: Dataset) -> Split:
        """The split of ``dataset`` with these settings (same seed, fraction, stratify)."""
        return assign_split(dataset, self.val_fraction, self.seed, stratify=self.stratify)


def assign_split(
    dataset: Dataset, val_fraction: float, seed: int, *, stratify: bool = True
) -> Split:
    """Split ``dataset`` into training and validation examples (see the module docstring).

    Raises:
        ValueError: ``val_fraction`` is not between 0 and 1 (exclusive).
    """
    if not 0 < val_fraction < 1:
        raise ValueError(
            f"The validation fraction must be between 0 and 1 (e.g. 0.1), not {val_fraction}."
        )
    train: list[int] = []
    val: list[int] = []
    excluded: list[int] = []
    keys: list[str] = []
    strata: dict[str, list[int]] = {}
    for index, record in enumerate(dataset.records):
        if not record.is_parsed or record.review == "rejected":
            excluded.append(index)
            keys.append("")
            continue
        key = example_key(record)
        keys.append(key)
        tags = record.tags
        stratum = tags[0] if stratify and tags else ""
        counts = strata.setdefault(stratum, [0, 0])
        if _draw(seed, stratum, key) < val_fraction:
            val.append(index)
            counts[1] += 1
        else:
            train.append(index)
            counts[0] += 1
    return Split(
        val_fraction=val_fraction,
        seed=seed,
        stratify=stratify,
        train=tuple(train),
        val=tuple(val),
        excluded=tuple(excluded),
        keys=tuple(keys),
        strata={name: (t, v) for name, (t, v) in sorted(strata.items())},
    )


def example_key(record: Record) -> str:
    """The stable key of an example (see the module docstring)."""
    data = record.data
    if isinstance(data, dict) and data.get("id") not in (None, ""):
        ident = data["id"]
        return f"id:{ident if isinstance(ident, str) else json.dumps(ident, sort_keys=True)}"
    question, answer = _first_exchange(data)
    text = f"{normalise(question)}\x00{normalise(answer)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def split_path(dataset_path: Path) -> Path:
    """Where the split of ``dataset_path`` is stored: ``<dataset file>.split.json``."""
    return dataset_path.with_name(dataset_path.name + SPLIT_SUFFIX)


def save_split(dataset_path: Path, split: Split) -> Path:
    """Store ``split`` beside ``dataset_path`` (atomically); returns the split file's path."""
    path = split_path(Path(dataset_path))
    atomic_write_json(path, split.to_json())
    return path


def load_split(dataset_path: Path) -> StoredSplit | None:
    """The split stored beside ``dataset_path``, or ``None`` when there is none.

    Raises:
        SplitFileError: the file exists but cannot be read or is not a split file.
    """
    path = split_path(Path(dataset_path))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise SplitFileError(
            f"{path}: cannot read the split file ({error}). Delete it and split again."
        ) from error
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("ftstudio_split") != SPLIT_FORMAT:
            raise ValueError("not an ftstudio split file")
        seed, fraction, stratify = data["seed"], data["val_fraction"], data["stratify"]
        val_keys = data["val_keys"]
        if (
            not isinstance(seed, int)
            or not isinstance(fraction, int | float)
            or not 0 < fraction < 1
            or not isinstance(stratify, bool)
            or not isinstance(val_keys, list)
            or not all(isinstance(key, str) for key in val_keys)
        ):
            raise ValueError("a setting has the wrong type")
    except (ValueError, KeyError) as error:
        raise SplitFileError(
            f"{path}: not a valid split file ({error}). Delete it and split again."
        ) from error
    return StoredSplit(seed, float(fraction), stratify, frozenset(val_keys), path)


def _draw(seed: int, stratum: str, key: str) -> float:
    digest = hashlib.sha256(f"{seed}\x00{stratum}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _first_exchange(data: Any) -> tuple[str, str]:
    """(first user message, first assistant answer) of any kind of example."""
    if not isinstance(data, dict):
        return "", ""
    if isinstance(data.get("prompt"), str) or isinstance(data.get("completion"), str):
        return _text(data.get("prompt")), _text(data.get("completion"))
    if "chosen" in data:
        prompt = [m for m in _list(data.get("prompt")) if isinstance(m, dict)]
        users = [m for m in prompt if m.get("role") == "user"]
        question = _text(users[-1].get("content")) if users else ""
        chosen = [m for m in _list(data.get("chosen")) if isinstance(m, dict)]
        return question, _text(chosen[0].get("content")) if chosen else ""
    question = answer = None
    for message in _list(data.get("messages")):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "user" and question is None:
            question = _text(message.get("content"))
        elif role == "assistant" and answer is None:
            answer = _text(message.get("content"))
        if question is not None and answer is not None:
            break
    return question or "", answer or ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
