"""The training examples as the trainer gets them: token ids and labels, nothing padded.

Every example goes through the dataset studio's own loss mask
(:class:`~ftstudio.engine.chat_mask.ChatTemplateTokenizer`), so what trains is what
the "What the model learns" preview shows, with any chat template, ``{% generation %}``
markers or not: assistant turns (and their end-of-turn token) carry loss, system and
user text do not, a turn with ``"weight": 0`` does not, and completion data trains
on the completion and EOS. The trainer receives ``input_ids`` and ``labels`` (-100
where no loss), already cut to the max length: trl's padding-free collator does not
truncate (and refuses ``max_length`` without packing), so it is done here.

Which examples train:

- rejected (``"review": "rejected"``) and unreadable examples never do;
- examples with a validation error do not (the error is reported, with its line);
  this includes ``too_long`` examples whose every trained token lies beyond the max
  length; examples that lose only part of their answer are cut and counted;
- the validation examples are the dataset's stored split (``<file>.split.json``)
  when there is one, else :func:`~ftstudio.core.dataset.split.assign_split` with the
  configuration's ``val_fraction`` and ``seed``; ``val_fraction: 0`` holds none back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ftstudio.core.atomic import atomic_write_bytes
from ftstudio.core.dataset.records import Dataset, Issue, Record
from ftstudio.core.dataset.split import SplitFileError, assign_split, load_split
from ftstudio.core.dataset.tokens import MemoTokenizer, TokenizedExample
from ftstudio.core.dataset.validate import validate_dataset
from ftstudio.core.runs import RunPaths
from ftstudio.engine.chat_mask import IGNORE_INDEX, ChatTemplateTokenizer, training_labels


class TrainingDataError(ValueError):
    """The dataset cannot be trained on; the message names the file and the fix."""


class _Indexed(Protocol):
    index: int


class _Examples(Protocol):
    """What :func:`write_example_files` needs: the dataset and its kept examples."""

    dataset: Dataset
    train: list[_Indexed]
    val: list[_Indexed]


@dataclass(frozen=True)
class PreparedExample:
    """One example ready for the trainer.

    Attributes:
        index: the record's index in the dataset.
        line: its 1-based line in the file.
        input_ids: token ids, cut to the max length.
        labels: the id where the token carries loss, -100 elsewhere.
        cut: how many tokens were cut off the end.
    """

    index: int
    line: int
    input_ids: list[int]
    labels: list[int]
    cut: int = 0

    @property
    def trained_tokens(self) -> int:
        """Tokens that carry loss."""
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


@dataclass
class PreparedData:
    """The training and validation examples of a dataset file, and what was left out.

    Attributes:
        dataset: the dataset as loaded.
        train: the training examples, in file order.
        val: the validation examples, in file order.
        excluded: reason -> count of examples left out (``rejected``, ``unreadable``,
            ``errors``).
        issues: the validation errors that kept examples out (first ones first).
        split_source: ``stored`` (the dataset's split file), ``assigned`` or ``none``.
        dataset_sha256: SHA-256 of the dataset file's bytes.
        notes: plain remarks for the user (e.g. examples cut at the max length).
    """

    dataset: Dataset
    train: list[PreparedExample]
    val: list[PreparedExample]
    excluded: dict[str, int] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    split_source: str = "none"
    dataset_sha256: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def train_tokens(self) -> int:
        """Tokens in the training examples (one epoch)."""
        return sum(len(example.input_ids) for example in self.train)

    @property
    def cut_examples(self) -> int:
        """Examples cut at the max length (training and validation)."""
        return sum(1 for example in (*self.train, *self.val) if example.cut)

    def rows(self, which: str = "train") -> list[dict[str, list[int]]]:
        """``[{"input_ids", "labels"}]`` of the ``train`` or ``val`` examples."""
        examples = self.train if which == "train" else self.val
        return [{"input_ids": e.input_ids, "labels": e.labels} for e in examples]


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def prepare_data(
    dataset_path: Path,
    tokenizer: ChatTemplateTokenizer,
    *,
    max_length: int,
    val_fraction: float,
    seed: int,
    cancel: Callable[[], bool] | None = None,
) -> PreparedData:
    """Load, validate, split and tokenise a dataset file for training.

    Args:
        dataset_path: the dataset file (any format ftstudio reads).
        tokenizer: the base model's tokenizer with its chat template.
        max_length: the training max length in tokens.
        val_fraction: share held back for validation when the dataset has no stored
            split (0: none).
        seed: the split's seed when the dataset has no stored split.
        cancel: polled while validating; true stops with :class:`TrainingDataError`.

    Raises:
        TrainingDataError: the file cannot be read, or no example can train.
    """
    path = Path(dataset_path)
    memo = MemoTokenizer(tokenizer)
    selection = select_examples(
        path, memo, max_length=max_length, val_fraction=val_fraction, seed=seed, cancel=cancel
    )
    dataset = selection.dataset
    prepared: dict[str, list[PreparedExample]] = {"train": [], "val": []}
    for which, indices in (("train", selection.train), ("val", selection.val)):
        for index in indices:
            record = dataset.records[index]
            example = memo.tokenize_example(record.data)
            prepared[which].append(_prepare(index, record, example, max_length))
    data = PreparedData(
        dataset=dataset,
        train=prepared["train"],
        val=prepared["val"],
        excluded=selection.excluded,
        issues=selection.issues,
        split_source=selection.source,
        dataset_sha256=file_sha256(path),
        notes=selection.notes,
    )
    if data.cut_examples:
        data.notes.append(
            f"{data.cut_examples} example(s) are longer than the max length of {max_length:,} "
            "tokens and are cut; part of their answers is not learnt. Raise max_length or "
            "shorten them."
        )
    return data


@dataclass
class Selection:
    """Which records of a dataset file train, which validate, and which are left out.

    Attributes:
        dataset: the dataset as loaded.
        train: indices of the training records, in file order.
        val: indices of the validation records, in file order.
        excluded: reason -> count (``rejected``, ``unreadable``, ``errors``).
        issues: the validation errors that kept records out (first ones first).
        source: the split's source: ``stored``, ``assigned`` or ``none``.
        notes: plain remarks for the user (the split, the errors left out).
    """

    dataset: Dataset
    train: list[int]
    val: list[int]
    excluded: dict[str, int]
    issues: list[Issue]
    source: str
    notes: list[str]


def select_examples(
    path: Path,
    tokenizer: MemoTokenizer,
    *,
    max_length: int,
    val_fraction: float,
    seed: int,
    cancel: Callable[[], bool] | None = None,
    kind: str | None = None,
) -> Selection:
    """Load and validate a dataset file and split its usable records (no tokens yet).

    Rejected (``"review": "rejected"``) and unreadable records, and records with a
    validation error, are left out and counted; the split is the dataset's stored
    one, else :func:`~ftstudio.core.dataset.split.assign_split`.

    Args:
        path: the dataset file (any format ftstudio reads).
        tokenizer: renders examples for the token checks (``too_long``, ``template_error``).
        max_length: the training max length in tokens.
        val_fraction: share held back for validation without a stored split (0: none).
        seed: the split's seed without a stored split.
        cancel: polled while validating; true stops with :class:`TrainingDataError`.
        kind: the record shape the training needs (``preference`` for DPO); another
            shape raises :class:`TrainingDataError`.

    Raises:
        TrainingDataError: the file cannot be read, has the wrong shape, or no record
            can train.
    """
    from ftstudio.core.dataset.formats import DatasetReadError
    from ftstudio.core.dataset.validate import ValidationCancelled
    from ftstudio.engine.tabular import load_any

    try:
        dataset = load_any(path)
    except DatasetReadError as error:
        raise TrainingDataError(str(error)) from error
    if kind is not None and dataset.records and dataset.kind != kind:
        raise TrainingDataError(_wrong_kind(path, dataset.kind, kind))
    try:
        issues = validate_dataset(
            dataset, tokenizer=tokenizer, max_length=max_length, cancel=cancel
        )
    except ValidationCancelled as error:
        raise TrainingDataError("Training was cancelled while checking the dataset.") from error
    errors: dict[int, Issue] = {}
    for issue in issues:
        if issue.severity == "error" and issue.record >= 0:
            errors.setdefault(issue.record, issue)
    train_ids, val_ids, source, notes = _split(dataset, path, val_fraction, seed)
    excluded = {"rejected": 0, "unreadable": 0, "errors": 0}
    for record in dataset.records:
        if not record.is_parsed:
            excluded["unreadable"] += 1
        elif record.review == "rejected":
            excluded["rejected"] += 1
    kept_errors: list[Issue] = []
    kept: dict[str, list[int]] = {"train": [], "val": []}
    for which, indices in (("train", train_ids), ("val", val_ids)):
        for index in indices:
            if index in errors:
                excluded["errors"] += 1
                kept_errors.append(errors[index])
            else:
                kept[which].append(index)
    if not kept["train"]:
        raise TrainingDataError(_nothing_to_train(path, dataset, excluded, kept_errors))
    if excluded["errors"]:
        first = kept_errors[0]
        notes.append(
            f"{excluded['errors']} example(s) with errors are left out of training; the first "
            f"is at line {first.line} ({first.code}: {first.message}) Fix them in the Dataset "
            f"page or with: ftstudio data validate {path}"
        )
    return Selection(
        dataset=dataset,
        train=kept["train"],
        val=kept["val"],
        excluded={k: v for k, v in excluded.items() if v},
        issues=kept_errors,
        source=source,
        notes=notes,
    )


def write_example_files(data: PreparedData | _Examples, paths: RunPaths) -> None:
    """Copy the exact training and validation examples into the run folder.

    ``data`` is a :class:`PreparedData` or any object with the same ``dataset``,
    ``train`` and ``val`` (examples with an ``index``), such as DPO's preference pairs.

    A record read from JSON Lines in its own shape and not edited is written as its
    original line, byte for byte; others (imports, edits) as compact JSON of what
    trained.
    """
    records = data.dataset.records
    native = data.dataset.format == data.dataset.kind and not data.dataset.json_array
    for which, target in (("train", paths.train_file), ("val", paths.val_file)):
        examples = data.train if which == "train" else data.val
        if which == "val" and not examples:
            continue
        lines = [_record_line(records[e.index], native) for e in examples]
        atomic_write_bytes(target, "".join(line + "\n" for line in lines).encode("utf-8"))


def _record_line(record: Record, native: bool) -> str:
    if native and not record.edited and record.raw is not None:
        return record.raw
    return json.dumps(record.data, ensure_ascii=False)


def _prepare(
    index: int, record: Record, example: TokenizedExample, max_length: int
) -> PreparedExample:
    labels = training_labels(example)
    ids = list(example.ids)
    cut = max(0, len(ids) - max_length)
    if cut:
        ids, labels = ids[:max_length], labels[:max_length]
    return PreparedExample(index=index, line=record.line, input_ids=ids, labels=labels, cut=cut)


def _split(
    dataset: Dataset, path: Path, val_fraction: float, seed: int
) -> tuple[list[int], list[int], str, list[str]]:
    """(train indices, validation indices, source, notes); rejected/unreadable left out."""
    notes: list[str] = []
    usable = [i for i, r in enumerate(dataset.records) if r.trainable]
    if val_fraction <= 0:
        return usable, [], "none", notes
    try:
        stored = load_split(path)
    except SplitFileError as error:
        raise TrainingDataError(str(error)) from error
    if stored is not None:
        split = stored.apply(dataset)
        source = "stored"
        if abs(stored.val_fraction - val_fraction) > 1e-9:
            notes.append(
                f"The dataset's stored split ({stored.path.name}) holds back "
                f"{stored.val_fraction:g} for validation; it is used instead of the "
                f"configuration's val_fraction of {val_fraction:g}."
            )
    else:
        split = assign_split(dataset, val_fraction, seed)
        source = "assigned"
    if not split.val:
        notes.append(
            "No example fell into the validation share (the dataset is small), so the "
            "validation loss is not measured."
        )
    return list(split.train), list(split.val), source, notes


def _wrong_kind(path: Path, found: str, wanted: str) -> str:
    if wanted == "preference":
        return (
            f"{path} holds {found} examples, but DPO (objective: dpo) trains on preference "
            'pairs: {"prompt": [...], "chosen": [...], "rejected": [...]} per line. Set '
            "dataset to a preference file (e.g. datasets/preferences.jsonl; rate answers in the "
            "playground to build one), or train with objective: sft."
        )
    return f"{path} holds {found} examples; this training needs {wanted} examples."


def _nothing_to_train(
    path: Path, dataset: Dataset, excluded: dict[str, int], errors: list[Issue]
) -> str:
    if not dataset.records:
        return f"{path} has no examples. Add examples, then train."
    parts = [f"{count} {reason}" for reason, count in excluded.items() if count]
    text = f"{path}: no example can train ({', '.join(parts) or 'all held back for validation'})."
    if errors:
        first = errors[0]
        text += (
            f" The first error is at line {first.line}: {first.message} "
            f"Run `ftstudio data validate {path}` for the full list."
        )
    return text
