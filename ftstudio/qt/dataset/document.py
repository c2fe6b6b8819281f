"""The open dataset file: its records, undo history, issues, saving and autosave.

:class:`DatasetDocument` is the one owner of a loaded :class:`Dataset`. Every change
goes through one of its methods, each pushing one ``QUndoCommand`` on
:attr:`DatasetDocument.undo_stack`, so every edit can be undone and the document
knows when it differs from the file (the stack's clean state).

Files:

- A chat, completion or preference JSONL file is edited in place. Before the first
  overwrite of a file the user brought, a copy is kept beside it
  (``name.orig.jsonl``, see ``formats.backup_original``).
- Anything else (Alpaca, ShareGPT, CSV, Parquet, Arrow, a JSON array) is *imported*:
  it becomes a new chat JSONL in the project's ``datasets/`` folder and the original
  is never written to.
- Saving is atomic. A dirty document inside the project folder is saved
  automatically a few seconds after the last edit; files elsewhere wait for Ctrl+S.

Validation: an edited record is re-checked at once (``validate_record``); the whole
file (duplicates and all) is re-checked in a worker thread shortly after the edits stop.

Tokens: :meth:`DatasetDocument.count_tokens` counts every record's tokens with the base
model's tokenizer in a worker (:mod:`ftstudio.qt.dataset.token_counter`). Once they are
known, validation uses the counts (``too_long`` against :attr:`DatasetDocument.max_length`),
and an edited record is tokenised again at once (a bulk edit in the background).
"""

from __future__ import annotations

import copy
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QUndoCommand, QUndoStack

from ftstudio.core.dataset.records import Dataset, Issue, Record
from ftstudio.core.dataset.tokens import ExampleTokenizer
from ftstudio.qt.dataset.token_counter import (
    TokenCache,
    TokenCounts,
    TokenSummary,
    count_tokens_task,
)
from ftstudio.qt.dataset.workers import TaskContext, TaskRunner, collector_paused, plain_error

AUTOSAVE_DELAY_MS = 3000
"""Quiet time after the last edit before a project file is saved on its own."""
REVALIDATE_DELAY_MS = 600
"""Quiet time after the last edit before the whole file is validated again."""
INLINE_LOAD_BYTES = 256 * 1024
"""Files up to this size load in the GUI thread (a few milliseconds), larger ones in a worker."""
INLINE_VALIDATE_RECORDS = 2000
"""Datasets up to this many records are re-validated in the GUI thread (a few milliseconds)."""
BULK_RANGES = 64
"""A change spread over more separate ranges than this is announced as ``sig_reset``."""
TABULAR_SUFFIXES = (".parquet", ".pq", ".arrow", ".feather")
"""Read through pyarrow/``datasets`` (seconds to import): always in the worker thread."""
IN_PLACE_FORMATS = ("chat", "completion", "preference")
"""Formats saved back into the file they came from (when it is a ``.jsonl`` file)."""
INLINE_TOKENIZE_RECORDS = 32
"""Edited records tokenised at once in the GUI thread (about half a millisecond each);
a larger edit is counted in the background."""

_MERGE_ID = 0x46_54_53  # any constant: QUndoCommand ids only need to match each other

LoadStep = Callable[[Dataset, list[Issue], TaskContext], Any]


@dataclass
class LoadResult:
    """What the loading worker hands to the GUI thread."""

    dataset: Dataset
    issues: list[Issue]
    source: Path
    source_format: str
    prepared: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Snapshot:
    """Everything an edit may change in a record, to put it back on undo."""

    data: Any
    raw: str | None
    edited: bool
    parse_error: Issue | None

    @classmethod
    def of(cls, record: Record) -> _Snapshot:
        return cls(record.data, record.raw, record.edited, record.parse_error)

    def restore(self, record: Record) -> None:
        record.data, record.raw = self.data, self.raw
        record.edited, record.parse_error = self.edited, self.parse_error


def is_import(dataset_format: str) -> bool:
    """Whether a file in ``dataset_format`` becomes a new chat JSONL instead of being edited."""
    return dataset_format not in IN_PLACE_FORMATS


def as_import(dataset: Dataset) -> Dataset:
    """Turn a loaded Alpaca/ShareGPT/CSV/Parquet dataset into a chat JSONL dataset.

    The records already hold chat data; the source text of each parsed record is
    dropped so that saving writes chat lines (a line that did not parse keeps its text,
    shown as an ``invalid_json`` issue until fixed). Runs before any undo history.
    """
    for record in dataset.records:
        if record.data is not None:
            record.raw = None
    dataset.format = dataset.kind
    dataset.json_array = False
    dataset.csv_header = None
    return dataset


def import_target(source: Path, folder: Path) -> Path:
    """A new ``.jsonl`` name in ``folder`` for an import of ``source`` (never an existing file)."""
    stem = source.stem
    candidate = folder / f"{stem}.jsonl"
    number = 2
    while candidate.exists() or candidate == source:
        candidate = folder / f"{stem}-{number}.jsonl"
        number += 1
    return candidate


def load_dataset_task(
    path: Path,
    data_format: str | None,
    tokenizer: ExampleTokenizer | None,
    max_length: int | None,
    steps: dict[str, LoadStep],
    task: TaskContext,
) -> LoadResult:
    """Read ``path`` (any supported format), validate it and run ``steps`` (worker thread).

    The garbage collector is paused meanwhile and the loaded objects are then frozen
    (``gc.freeze``): otherwise its first pass after loading walks millions of new
    objects while holding the GIL, freezing the GUI thread for 100 ms or more. Records
    are still freed by reference counting when the dataset goes away.
    """
    with collector_paused():
        return _load_dataset_task(path, data_format, tokenizer, max_length, steps, task)


def _load_dataset_task(
    path: Path,
    data_format: str | None,
    tokenizer: ExampleTokenizer | None,
    max_length: int | None,
    steps: dict[str, LoadStep],
    task: TaskContext,
) -> LoadResult:
    from ftstudio.core.dataset.validate import validate_dataset
    from ftstudio.engine.tabular import load_any  # light: pyarrow loads only for Parquet

    task.phase(f"Reading {path.name}", 0.0, 0.6)
    dataset = load_any(path, data_format, progress=task.progress, cancel=task.cancelled)
    source_format = dataset.format
    if is_import(source_format):
        as_import(dataset)
    task.check()
    task.phase("Checking every example", 0.6, 0.92)
    issues = validate_dataset(
        dataset,
        tokenizer=tokenizer,
        max_length=max_length,
        progress=task.progress,
        cancel=task.cancelled,
    )
    prepared: dict[str, Any] = {}
    task.phase("Preparing the table", 0.92, 1.0)
    for name, step in steps.items():
        task.check()
        prepared[name] = step(dataset, issues, task)
    task.progress(1, 1)
    issues.sort(key=_issue_record)  # stable: file issues first, then by record
    return LoadResult(dataset, issues, path, source_format, prepared)


class DatasetDocument(QObject):
    """One open dataset file, with undo, validation, saving and autosave.

    Attributes:
        dataset: the records in memory (never changed except through this class).
        undo_stack: one command per edit; its clean state is "saved".
        issues: the latest validation result.
        path: where :meth:`save` writes (``None`` before a file is opened).
        source_path: the file that was opened (differs from ``path`` for an import).
        source_format: the format that file was read in (``alpaca`` for an Alpaca import).
        project_folder: the open project's folder; only files in it are autosaved.
        prepared: results of load steps for the dataset being installed (see
            :meth:`add_load_step`); filled just before :attr:`sig_reset`.
        issues_changed_records: while :attr:`sig_issues_changed` is emitted, the only
            records whose issues changed (their indices), or ``None`` for any.
        last_saved: when the file was last written, and whether by autosave.
        tokens: the base model's tokenizer with the token counts of the records (``None``
            before the first count); see :meth:`count_tokens`.
        token_counts: while :attr:`sig_tokens_changed` is emitted, the counting task's
            result: per record the total and trained tokens, and their sums.
        token_problem: why tokens could not be counted (plain words), or ``""``.
        token_runner: runs the count (progress, ETA and cancel like :attr:`loader`).

    Signals:
        sig_reset(): a new dataset was loaded (everything changed).
        sig_record_changed(int): the record at this index changed.
        sig_rows_inserted(int, int): records first..last (inclusive) were inserted.
        sig_rows_removed(int, int): records first..last (inclusive, old indices) were removed.
            Several ranges come last-first. An insert or removal spread over more than
            :data:`BULK_RANGES` ranges is announced as ``sig_reset`` instead.
        sig_issues_changed(): :attr:`issues` was replaced.
        sig_dirty_changed(bool): the document now differs (or no longer) from its file.
        sig_saved(object): the file was written at this path.
        sig_autosaved(object): an autosave wrote this path (after :attr:`sig_saved`).
        sig_save_failed(str): saving failed; plain words.
        sig_load_failed(str): a file could not be opened; plain words naming the file.
        sig_imported(object, object): the source file was imported as this new file.
        sig_tokens_changed(): the token counts of every record are known (again).
        sig_tokens_failed(str): tokens cannot be counted; plain words (also
            :attr:`token_problem`).
    """

    sig_reset = Signal()
    sig_record_changed = Signal(int)
    sig_rows_inserted = Signal(int, int)
    sig_rows_removed = Signal(int, int)
    sig_issues_changed = Signal()
    sig_dirty_changed = Signal(bool)
    sig_saved = Signal(object)
    sig_autosaved = Signal(object)
    sig_save_failed = Signal(str)
    sig_load_failed = Signal(str)
    sig_imported = Signal(object, object)
    sig_tokens_changed = Signal()
    sig_tokens_failed = Signal(str)

    def __init__(self, parent: QObject | None = None, *, project_folder: Path | None = None):
        super().__init__(parent)
        self.dataset = Dataset()
        self.undo_stack = QUndoStack(self)
        self.issues: list[Issue] = []
        self.path: Path | None = None
        self.source_path: Path | None = None
        self.source_format = ""
        self.project_folder = project_folder
        self.tokenizer: ExampleTokenizer | None = None
        self.max_length: int | None = None
        self.autosave_delay_ms = AUTOSAVE_DELAY_MS
        self.inline_load_bytes = INLINE_LOAD_BYTES
        self.prepared: dict[str, Any] = {}
        self.issues_changed_records: list[int] | None = None
        self.last_saved: tuple[datetime, bool] | None = None
        self._load_steps: dict[str, LoadStep] = {}
        self._never_saved = False
        self._backed_up: set[Path] = set()
        self._created: set[Path] = set()
        self._generation = 0
        self._validated_generation = 0
        self._dirty = False
        self.loader = TaskRunner(self)
        self.loader.sig_finished.connect(self._on_loader_finished)
        self.loader.sig_failed.connect(self._on_loader_failed)
        self.validator = TaskRunner(self)
        self.validator.sig_finished.connect(self._on_validator_finished)
        self.tokens: TokenCache | None = None
        self.token_counts: TokenCounts | None = None
        self.token_problem = ""
        self._tokens_known = False
        self._token_source: tuple[str, Path | None] | None = None
        self.token_runner = TaskRunner(self)
        self.token_runner.sig_finished.connect(self._on_token_runner_finished)
        self.token_runner.sig_failed.connect(self._on_token_runner_failed)
        self._recount_timer = QTimer(self)
        self._recount_timer.setSingleShot(True)
        self._recount_timer.setInterval(REVALIDATE_DELAY_MS)
        self._recount_timer.timeout.connect(self._recount)
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.timeout.connect(self._on_autosave_timeout)
        self._validate_timer = QTimer(self)
        self._validate_timer.setSingleShot(True)
        self._validate_timer.setInterval(REVALIDATE_DELAY_MS)
        self._validate_timer.timeout.connect(self.revalidate)
        self.undo_stack.indexChanged.connect(self._on_undo_index_changed)
        self.undo_stack.cleanChanged.connect(self._on_undo_clean_changed)

    # ---- Reading
    def add_load_step(self, name: str, step: LoadStep) -> None:
        """Run ``step(dataset, issues, task)`` in the loading worker for every file opened.

        Its result is in ``prepared[name]`` while :attr:`sig_reset` is emitted, so views
        can take precomputed data instead of working through the records in the GUI thread.
        """
        self._load_steps[name] = step

    def open_file(self, path: Path, data_format: str | None = None) -> None:
        """Load ``path``; :attr:`sig_reset` or :attr:`sig_load_failed` follows.

        A file up to :attr:`inline_load_bytes` loads at once (milliseconds); a larger one
        in a worker thread, with progress and cancel through :attr:`loader`.
        """
        path = Path(path)
        # Token counts belong to the records of the open file: the new one is counted anew.
        tokenizer = None if isinstance(self.tokenizer, TokenCache) else self.tokenizer
        task = partial(
            load_dataset_task,
            path,
            data_format,
            tokenizer,
            self.max_length,
            dict(self._load_steps),
        )
        tabular = path.suffix.lower() in TABULAR_SUFFIXES or data_format in ("parquet", "arrow")
        try:
            small = path.stat().st_size <= self.inline_load_bytes and not tabular
        except OSError:
            small = True  # the reader explains what is wrong with the path
        self.loader.start(task, f"Opening {path.name}", inline=small)

    def set_dataset(
        self,
        dataset: Dataset,
        issues: list[Issue] | None = None,
        *,
        source: Path | None = None,
        source_format: str | None = None,
        prepared: dict[str, Any] | None = None,
    ) -> None:
        """Show ``dataset`` (a new file: the undo history starts over).

        An import (see :func:`is_import`; ``source_format`` is the format it was read
        in, default ``dataset.format``) gets a new ``.jsonl`` path in the project's
        ``datasets/`` folder and is saved there at once.
        """
        self._stop_background()
        self._forget_tokens()
        source = Path(source) if source is not None else dataset.path
        source_format = source_format or dataset.format
        self.dataset = dataset
        self.source_path = source
        self.source_format = source_format
        self.issues = list(issues) if issues is not None else []
        self._never_saved = False
        self.path = source
        if source is not None and is_import(source_format):
            as_import(dataset)
            folder = self.project_folder / "datasets" if self.project_folder else source.parent
            self.path = import_target(source, folder)
            self._never_saved = True
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self._generation += 1
        self._validated_generation = self._generation if issues is not None else -1
        self.prepared = dict(prepared or {})
        self.sig_reset.emit()
        self.prepared = {}
        self.sig_issues_changed.emit()
        self._update_dirty()
        if issues is None:
            self.revalidate()
        imported = self._never_saved and self.path is not None and self.in_project()
        if imported and self._save_or_report(self.path):
            self.sig_imported.emit(source, self.path)

    def record(self, index: int) -> Record:
        """The record at ``index``."""
        return self.dataset.records[index]

    def __len__(self) -> int:
        return len(self.dataset.records)

    # ---- Edits (one undo step each)
    def replace_record_data(
        self, index: int, data: Any, description: str, merge_key: str | None = None
    ) -> None:
        """Replace record ``index``'s data; calls with the same ``merge_key`` merge (typing)."""
        self.undo_stack.push(_ReplaceCommand(self, {index: data}, description, merge_key))

    def replace_many(self, changes: dict[int, Any], description: str) -> None:
        """Replace the data of several records as one undo step (a bulk edit)."""
        if changes:
            self.undo_stack.push(_ReplaceCommand(self, changes, description, None))

    def set_raw_text(self, index: int, text: str, description: str) -> None:
        """Replace the text of record ``index`` (fixing a line that does not parse)."""
        self.undo_stack.push(_RawTextCommand(self, index, text, description))

    def insert_records(self, index: int, records: list[Record], description: str) -> None:
        """Insert ``records`` before position ``index``."""
        if records:
            self.undo_stack.push(_InsertCommand(self, index, records, description))

    def remove_records(self, indices: list[int], description: str) -> None:
        """Remove the records at ``indices`` (any order; duplicates ignored)."""
        wanted = sorted({i for i in indices if 0 <= i < len(self.dataset.records)})
        if wanted:
            self.undo_stack.push(_RemoveCommand(self, wanted, description))

    # ---- Saving
    def is_dirty(self) -> bool:
        """Whether the document holds changes its file does not have."""
        return self._never_saved or not self.undo_stack.isClean()

    def in_project(self, path: Path | None = None) -> bool:
        """Whether ``path`` (default: :attr:`path`) lies in the project folder."""
        target = path or self.path
        if target is None or self.project_folder is None:
            return False
        try:
            return Path(target).resolve().is_relative_to(Path(self.project_folder).resolve())
        except (OSError, ValueError):
            return False

    def save(self, path: Path | None = None) -> Path:
        """Write the dataset atomically to ``path`` (default: :attr:`path`) and return it.

        The user's own file is copied aside before it is first overwritten.

        Raises:
            ValueError: no path is known.
            OSError, DatasetReadError: the file could not be written (message says why).
        """
        return self._write(Path(path) if path is not None else self.path, auto=False)

    def flush(self) -> bool:
        """Save now if an autosave is due (a dirty project file); ``False`` if saving failed."""
        self._autosave_timer.stop()
        if self.is_dirty() and self.in_project():
            return self._save_or_report(self.path, auto=True)
        return True

    # ---- Validation
    def set_validation_options(
        self, tokenizer: ExampleTokenizer | None, max_length: int | None
    ) -> None:
        """Check token lengths with ``tokenizer`` and ``max_length`` from now on."""
        self.tokenizer, self.max_length = tokenizer, max_length
        self.revalidate()

    def revalidate(self) -> None:
        """Validate the whole dataset again in a worker; :attr:`sig_issues_changed` follows."""
        from ftstudio.core.dataset.validate import validate_dataset

        self._validate_timer.stop()
        snapshot = replace(self.dataset, records=list(self.dataset.records))
        generation = self._generation
        tokenizer, max_length = self.tokenizer, self.max_length

        def task(context: TaskContext) -> tuple[int, list[Issue]]:
            context.phase("Checking every example", 0.0, 1.0)
            with collector_paused(freeze=False):  # keeps the window smooth meanwhile
                found = validate_dataset(
                    snapshot,
                    tokenizer=tokenizer,
                    max_length=max_length,
                    progress=context.progress,
                    cancel=context.cancelled,
                )
            found.sort(key=_issue_record)
            return generation, found

        # A chat template per example is slow: with a tokenizer, only tiny files inline
        # (counted tokens are looked up, so then the usual limit applies).
        records = snapshot.records
        if tokenizer is None:
            inline = len(records) <= INLINE_VALIDATE_RECORDS
        elif isinstance(tokenizer, TokenCache) and len(records) <= INLINE_VALIDATE_RECORDS:
            inline = tokenizer.missing(records) <= 20
        else:
            inline = len(records) <= 20
        self.validator.start(task, "Checking every example", inline=inline)

    def is_validated(self) -> bool:
        """Whether :attr:`issues` reflects the current records (no check pending)."""
        return self._validated_generation == self._generation

    def set_max_length(self, max_length: int | None) -> None:
        """The training max length in tokens; ``too_long`` is re-checked shortly after."""
        if max_length == self.max_length:
            return
        self.max_length = max_length
        if self.tokenizer is not None:
            self._validate_timer.start()  # a spin box sends every step: wait for the last

    # ---- Tokens
    def count_tokens(self, base_model: str, project_folder: Path | None) -> None:
        """Count every record's tokens with ``base_model``'s tokenizer, in a worker.

        The tokenizer is found and loaded first (the tiny model is built on first use);
        a tokenizer loaded before for the same model is reused. :attr:`sig_tokens_changed`
        or :attr:`sig_tokens_failed` follows; :attr:`token_runner` reports progress.
        """
        source = (base_model, Path(project_folder) if project_folder is not None else None)
        self._token_source = source
        self.token_problem = ""
        self._recount_timer.stop()
        cache = self.tokens if self.tokens is not None and self.tokens.source == source else None
        task = partial(
            count_tokens_task, source, cache, list(self.dataset.records), self._generation
        )
        label = "Counting tokens" if cache is not None else "Loading the tokenizer"
        self.token_runner.start(task, label)

    def tokens_known(self) -> bool:
        """Whether every record's token count is known (edits are counted as they happen)."""
        return self._tokens_known

    def token_summary(self, record: Record) -> TokenSummary | str | None:
        """The token counts of ``record``, why it cannot be tokenised, or ``None`` (unknown)."""
        if self.tokens is None or not self._tokens_known:
            return None
        return self.tokens.summary(record)

    def shutdown(self) -> None:
        """Stop timers and background work (before the document goes away)."""
        self._stop_background()
        self.token_runner.cancel()

    # ---- Internals used by the commands
    def _apply_data(self, index: int, data: Any) -> None:
        self.dataset.records[index].set_data(data)

    def _record_edited(self, indices: list[int], *, announce: bool = True) -> None:
        """Re-check edited records at once and tell the views (``announce``: per record)."""
        from ftstudio.core.dataset.validate import validate_record

        changed = sorted(set(indices))
        wanted = set(changed)
        tokenizer = self.tokenizer
        if isinstance(tokenizer, TokenCache) and not self._count_records(changed):
            tokenizer = None  # counted in the background, then the whole file is re-checked
        # Duplicates are a whole-file check: kept until the worker re-checks the file.
        issues = [
            issue
            for issue in self.issues
            if issue.record not in wanted or issue.code == "duplicate_example"
        ]
        fresh = [
            found
            for index in changed
            for found in validate_record(
                self.dataset.records[index],
                index,
                tokenizer=tokenizer,
                max_length=self.max_length,
                kind=self.dataset.kind,
            )
        ]
        if len(fresh) <= 32:
            for issue in fresh:  # issues stay ordered by record (cheap for typing)
                issues.insert(bisect_right(issues, issue.record, key=_issue_record), issue)
        else:
            issues.extend(fresh)
            issues.sort(key=_issue_record)
        self.issues = issues
        if announce:
            for index in changed:
                self.sig_record_changed.emit(index)
        self._announce_issues(changed)

    def _records_inserted(self, ranges: list[tuple[int, int]]) -> None:
        """Records now sit at ``ranges`` ((first, last), ascending, final indices)."""
        added = [index for first, last in ranges for index in range(first, last + 1)]
        self._count_records(added)  # before the views summarise the new rows
        # Where each range starts in the old numbering, and how many records come
        # before an old index: an old index r moves by cumulative[bisect(starts, r)].
        starts: list[int] = []
        cumulative = [0]
        for first, last in ranges:
            starts.append(first - cumulative[-1])
            cumulative.append(cumulative[-1] + last - first + 1)
        issues = []
        for issue in self.issues:
            if issue.record >= 0:
                shift = cumulative[bisect_right(starts, issue.record)]
                if shift:
                    issue = replace(issue, record=issue.record + shift)
            issues.append(issue)
        self.issues = issues
        if len(ranges) > BULK_RANGES:
            self.sig_reset.emit()
        else:
            for first, last in ranges:
                self.sig_rows_inserted.emit(first, last)
        self._record_edited(added, announce=False)

    def _records_removed(self, ranges: list[tuple[int, int]], removed: list[int]) -> None:
        """``ranges``: (first, last) removed, in descending order; ``removed``: sorted indices."""
        gone = set(removed)
        issues = []
        for issue in self.issues:
            if issue.record in gone:
                continue
            if issue.record >= 0:
                shift = bisect_left(removed, issue.record)
                issue = replace(issue, record=issue.record - shift) if shift else issue
            issues.append(issue)
        self.issues = issues
        if len(ranges) > BULK_RANGES:
            self.sig_reset.emit()
        else:
            for first, last in ranges:
                self.sig_rows_removed.emit(first, last)
        self._announce_issues([])

    def _count_records(self, indices: list[int]) -> bool:
        """Tokenise edited records now; ``False`` when too many (counted in the background)."""
        cache = self.tokens
        if cache is None or not self._tokens_known:
            return True
        records = self.dataset.records
        new = [records[i].data for i in indices if records[i].is_parsed]
        new = [data for data in new if cache.lookup(data) is None]  # undo brings back known data
        if len(new) > INLINE_TOKENIZE_RECORDS:
            self._recount_timer.start()
            return False
        for data in new:
            cache.count(data)
        if new:
            cache.forget_others(records)
        return True

    def _forget_tokens(self) -> None:
        """Another dataset: its tokens are unknown (the loaded tokenizer is kept)."""
        self.token_runner.cancel()
        self._recount_timer.stop()
        self._tokens_known = False
        if self.tokens is not None:
            if self.tokenizer is self.tokens:
                self.tokenizer = None
            self.tokens.clear()

    @Slot()
    def _recount(self) -> None:
        if self._token_source is not None and self._tokens_known:
            self.count_tokens(*self._token_source)

    def _announce_issues(self, records: list[int] | None) -> None:
        self.issues_changed_records = records
        try:
            self.sig_issues_changed.emit()
        finally:
            self.issues_changed_records = None

    # ---- Slots
    @Slot(object)
    def _on_loader_finished(self, result: LoadResult) -> None:
        self.set_dataset(
            result.dataset,
            result.issues,
            source=result.source,
            source_format=result.source_format,
            prepared=result.prepared,
        )

    @Slot(str)
    def _on_loader_failed(self, message: str) -> None:
        self.sig_load_failed.emit(message)

    @Slot(object)
    def _on_validator_finished(self, result: tuple[int, list[Issue]]) -> None:
        generation, issues = result
        if generation != self._generation:
            return  # the records changed while checking; a new check is scheduled
        self.issues = issues
        self._validated_generation = generation
        self.sig_issues_changed.emit()

    @Slot(object)
    def _on_token_runner_finished(self, result: TokenCounts) -> None:
        self.tokens = result.cache
        if result.generation != self._generation:
            # Records changed while counting: count again (known ones are looked up).
            self.count_tokens(*result.cache.source)
            return
        self._tokens_known = True
        self.tokenizer = result.cache
        self.token_counts = result
        try:
            self.sig_tokens_changed.emit()
        finally:
            self.token_counts = None
        self.revalidate()

    @Slot(str)
    def _on_token_runner_failed(self, message: str) -> None:
        self.token_problem = message
        self.sig_tokens_failed.emit(message)

    @Slot(int)
    def _on_undo_index_changed(self, _index: int) -> None:
        self._generation += 1
        self._validate_timer.start()
        if self.in_project():
            self._autosave_timer.start(self.autosave_delay_ms)
        self._update_dirty()

    @Slot(bool)
    def _on_undo_clean_changed(self, _clean: bool) -> None:
        self._update_dirty()

    @Slot()
    def _on_autosave_timeout(self) -> None:
        if self.is_dirty() and self.in_project():
            self._save_or_report(self.path, auto=True)

    def _write(self, target: Path | None, *, auto: bool) -> Path:
        from ftstudio.core.dataset.formats import backup_original, save_dataset

        if target is None:
            raise ValueError("This dataset has no file yet; choose where to save it.")
        existed = target.is_file()
        if existed and target not in self._backed_up and target not in self._created:
            backup_original(target)  # the user's own file, before its first overwrite
            self._backed_up.add(target)
        save_format = self.dataset.format if self.dataset.format in IN_PLACE_FORMATS else "chat"
        written = Path(save_dataset(self.dataset, target, save_format))
        if not existed:
            self._created.add(written)
        self.path = written
        self.dataset.path = written
        self.dataset.format = save_format
        self._never_saved = False
        self.undo_stack.setClean()
        self.last_saved = (datetime.now(), auto)
        self._autosave_timer.stop()
        self._update_dirty()
        self.sig_saved.emit(written)
        if auto:
            self.sig_autosaved.emit(written)
        return written

    def _save_or_report(self, path: Path | None, *, auto: bool = False) -> bool:
        try:
            self._write(path, auto=auto)
        except Exception as error:  # shown to the user; the edits stay in memory
            self.sig_save_failed.emit(
                f"Could not save {path}: {plain_error(error)} Your changes are still here; "
                "free some space or fix the permissions, then press Ctrl+S."
            )
            return False
        return True

    def _update_dirty(self) -> None:
        dirty = self.is_dirty()
        if dirty != self._dirty:
            self._dirty = dirty
            self.sig_dirty_changed.emit(dirty)

    def _stop_background(self) -> None:
        self._autosave_timer.stop()
        self._validate_timer.stop()
        self.validator.cancel()


def _issue_record(issue: Issue) -> int:
    return issue.record


# ---------------------------------------------------------------------------- Commands
class _ReplaceCommand(QUndoCommand):
    """New data for one or more records; typing into one record merges by key."""

    def __init__(
        self,
        document: DatasetDocument,
        changes: dict[int, Any],
        description: str,
        merge_key: str | None,
    ) -> None:
        super().__init__(description)
        self._document = document
        # A copy: the caller may go on changing its own value after this call.
        self._after = {index: copy.deepcopy(data) for index, data in changes.items()}
        self._before = {index: _Snapshot.of(document.dataset.records[index]) for index in changes}
        self._merge_key = merge_key

    def id(self) -> int:
        """Commands with a merge key may merge with the previous one."""
        return _MERGE_ID if self._merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt override
        """Absorb ``other`` when it edits the same record with the same merge key."""
        if (
            not isinstance(other, _ReplaceCommand)
            or other._merge_key != self._merge_key
            or other._after.keys() != self._after.keys()
        ):
            return False
        self._after = other._after
        return True

    def redo(self) -> None:
        """Put the new data in."""
        for index, data in self._after.items():
            # Shared with the record: nothing changes a record's data in place.
            self._document._apply_data(index, data)
        self._document._record_edited(list(self._after))

    def undo(self) -> None:
        """Put the records back as they were (text, parse state and all)."""
        for index, snapshot in self._before.items():
            snapshot.restore(self._document.dataset.records[index])
        self._document._record_edited(list(self._before))


class _RawTextCommand(QUndoCommand):
    """New text for a record (an unparseable line being fixed)."""

    def __init__(self, document: DatasetDocument, index: int, text: str, description: str):
        super().__init__(description)
        self._document = document
        self._index = index
        self._text = text
        self._before = _Snapshot.of(document.dataset.records[index])

    def redo(self) -> None:
        """Set the text (it may or may not parse)."""
        self._document.dataset.records[self._index].set_raw(self._text)
        self._document._record_edited([self._index])

    def undo(self) -> None:
        """Put the old text back."""
        self._before.restore(self._document.dataset.records[self._index])
        self._document._record_edited([self._index])


class _InsertCommand(QUndoCommand):
    """New records at a position."""

    def __init__(
        self, document: DatasetDocument, index: int, records: list[Record], description: str
    ):
        super().__init__(description)
        self._document = document
        self._index = max(0, min(index, len(document.dataset.records)))
        self._records = list(records)

    def redo(self) -> None:
        """Insert the records."""
        records = self._document.dataset.records
        records[self._index : self._index] = self._records
        first = self._index
        self._document._records_inserted([(first, first + len(self._records) - 1)])

    def undo(self) -> None:
        """Take them out again."""
        first, count = self._index, len(self._records)
        del self._document.dataset.records[first : first + count]
        self._document._records_removed(
            [(first, first + count - 1)], list(range(first, first + count))
        )


class _RemoveCommand(QUndoCommand):
    """Records removed (any set of indices); undo puts each back at its place."""

    def __init__(self, document: DatasetDocument, indices: list[int], description: str):
        super().__init__(description)
        self._document = document
        self._indices = indices  # sorted, unique
        self._records = [document.dataset.records[i] for i in indices]
        self._ranges = _ranges(indices)

    def redo(self) -> None:
        """Remove the records, last range first so earlier indices stay valid."""
        records = self._document.dataset.records
        descending = list(reversed(self._ranges))
        for first, last in descending:
            del records[first : last + 1]
        self._document._records_removed(descending, self._indices)

    def undo(self) -> None:
        """Insert the records back, first range first."""
        records = self._document.dataset.records
        position = 0
        for first, last in self._ranges:
            count = last - first + 1
            records[first:first] = self._records[position : position + count]
            position += count
        self._document._records_inserted(self._ranges)


def _ranges(indices: list[int]) -> list[tuple[int, int]]:
    """Sorted indices as (first, last) runs: ``[1, 2, 3, 7]`` → ``[(1, 3), (7, 7)]``."""
    runs: list[tuple[int, int]] = []
    for index in indices:
        if runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs
