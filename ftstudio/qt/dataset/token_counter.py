"""Token counts of a dataset with the project's base-model tokenizer, off the GUI thread.

:func:`count_tokens_task` is a :class:`~ftstudio.qt.dataset.workers.TaskRunner` task:
it finds the base model's tokenizer (building the tiny model on first use), loads it
with its chat template (:mod:`ftstudio.engine.chat_mask`) and tokenises every parsed
record, with progress and cancel. The engine (torch, transformers) is imported inside
the task only, so opening the studio never loads it.

The result is kept in a :class:`TokenCache`: per record data, the total and trained
token counts and where the trained tokens are (:class:`TokenSummary`, a few numbers
instead of the token ids). The cache is also the document's
:class:`~ftstudio.core.dataset.tokens.ExampleTokenizer`, so validation (``too_long``)
and statistics reuse the counts instead of rendering every example again; a record
the cache has not seen (an edit) is tokenised on demand, one record at a time.

Records are keyed by the identity of their ``data``: the document never changes a
record's data in place (every edit puts a new value in), so an unchanged identity
means unchanged content, and undo brings back the very object that was counted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftstudio.core.dataset.records import Record
from ftstudio.core.project import classify_base_model
from ftstudio.qt.dataset.workers import TaskContext, collector_paused

UNKNOWN = -1
"""Token count of a record not counted yet."""
NOT_COUNTED = -2
"""Token count of a record that cannot be tokenised (unreadable line, template error)."""
LOAD_SHARE = 0.05
"""Share of the progress bar for finding and loading the tokenizer."""


class TokenCountError(Exception):
    """Tokens cannot be counted (no tokenizer on this computer, no chat template…).

    The message is plain words for the user: what is missing and what to do.
    """


class TokenSummary:
    """What the studio keeps of a tokenised example: counts, not token ids.

    It answers the questions :func:`~ftstudio.core.dataset.validate.validate_dataset`
    and :func:`~ftstudio.core.dataset.stats.compute_stats` ask of a
    :class:`~ftstudio.core.dataset.tokens.TokenizedExample` (``len(ids)``,
    ``trained_count``, ``truncated_trained``) from a few integers.

    Attributes:
        total: tokens of the whole training text.
        trained_count: tokens that carry loss.
        spans: ``(start, end)`` token positions of each run of trained tokens.
    """

    __slots__ = ("spans", "total", "trained_count")

    def __init__(self, total: int, trained_count: int, spans: tuple[tuple[int, int], ...]):
        self.total = total
        self.trained_count = trained_count
        self.spans = spans

    @classmethod
    def of(cls, trained: Sequence[bool]) -> TokenSummary:
        """The summary of a token list given by its loss flags."""
        spans: list[tuple[int, int]] = []
        start = -1
        for position, flag in enumerate(trained):
            if flag and start < 0:
                start = position
            elif not flag and start >= 0:
                spans.append((start, position))
                start = -1
        if start >= 0:
            spans.append((start, len(trained)))
        return cls(len(trained), sum(end - begin for begin, end in spans), tuple(spans))

    @property
    def ids(self) -> range:
        """Stands for the token ids, which are not kept: only ``len()`` is meaningful."""
        return range(self.total)

    @property
    def trained(self) -> list[bool]:
        """One loss flag per token (rebuilt from :attr:`spans`)."""
        flags = [False] * self.total
        for start, end in self.spans:
            flags[start:end] = [True] * (end - start)
        return flags

    def truncated_trained(self, max_length: int) -> int:
        """How many loss-carrying tokens fall beyond ``max_length``."""
        return sum(end - max(start, max_length) for start, end in self.spans if end > max_length)

    def __repr__(self) -> str:
        return f"TokenSummary(total={self.total}, trained_count={self.trained_count})"


class TokenCache:
    """Token summaries per record data, and the tokenizer that makes them (thread-safe).

    Implements :class:`~ftstudio.core.dataset.tokens.ExampleTokenizer`: a known example
    is answered from the cache, any other is tokenised and remembered. A Hugging Face
    tokenizer must not run in two threads at once, so tokenising holds a lock; the
    background count (:meth:`count` with ``background=True``) steps aside between
    examples while another thread waits, so an edit in the GUI thread is never stuck
    behind a long count.

    Attributes:
        source: ``(base_model, project_folder)`` the tokenizer was loaded for.
        location: the folder the tokenizer was read from.
    """

    def __init__(self, encoder: Any, source: tuple[str, Path | None], location: str) -> None:
        self.encoder = encoder
        self.source = source
        self.location = location
        self._known: dict[int, tuple[Any, TokenSummary | str]] = {}
        self._lock = threading.Lock()
        self._urgent_lock = threading.Lock()
        self._urgent = 0

    # ---- ExampleTokenizer
    def tokenize_example(self, data: dict[str, Any]) -> TokenSummary:
        """The summary of ``data`` (counted now if new).

        Raises:
            ValueError: the chat template cannot write this example (the reason).
        """
        found = self.count(data)
        if isinstance(found, str):
            raise ValueError(found)
        return found

    # ---- Public API
    def lookup(self, data: Any) -> TokenSummary | str | None:
        """What is known of ``data``: its summary, why it cannot be tokenised, or ``None``."""
        entry = self._known.get(id(data))
        return entry[1] if entry is not None and entry[0] is data else None

    def count(self, data: Any, *, background: bool = False) -> TokenSummary | str:
        """The summary of ``data``, or the reason it cannot be tokenised (counted if new)."""
        known = self.lookup(data)
        if known is not None:
            return known
        if background:
            while self._urgent:  # someone else (an edit, validation) waits for the tokenizer
                time.sleep(0.001)
            with self._lock:
                result = self._encode(data)
        else:
            with self._urgent_lock:
                self._urgent += 1
            try:
                with self._lock:
                    result = self._encode(data)
            finally:
                with self._urgent_lock:
                    self._urgent -= 1
        # The data object is kept with its entry, so its id cannot be reused meanwhile.
        self._known[id(data)] = (data, result)
        return result

    def summary(self, record: Record) -> TokenSummary | str | None:
        """:meth:`lookup` for a record (unreadable lines are never tokenised: ``None``)."""
        return self.lookup(record.data) if record.is_parsed else None

    def columns(self, records: Iterable[Record]) -> tuple[list[int], list[int]]:
        """Per record: total tokens and trained tokens (:data:`UNKNOWN`, :data:`NOT_COUNTED`)."""
        totals: list[int] = []
        trained: list[int] = []
        for record in records:
            total, learnt = cells(self.summary(record), record)
            totals.append(total)
            trained.append(learnt)
        return totals, trained

    def missing(self, records: Iterable[Record]) -> int:
        """How many parsed records of ``records`` are not counted yet."""
        return sum(1 for r in records if r.is_parsed and self.lookup(r.data) is None)

    def forget_others(self, records: Sequence[Record]) -> None:
        """Drop what is known of data no longer in ``records`` (when the cache grew large).

        Data still held by the undo history is counted again if it comes back.
        """
        if len(self._known) <= 2 * len(records) + 1024:
            return
        keep = {id(r.data) for r in records}
        self._known = {key: entry for key, entry in self._known.items() if key in keep}

    def clear(self) -> None:
        """Forget every count (another dataset is open); the tokenizer stays loaded."""
        self._known = {}

    def _encode(self, data: Any) -> TokenSummary | str:
        if not isinstance(data, dict):
            return "The example is not an object."
        try:
            example = self.encoder.tokenize_example(data)
        except ValueError as error:
            return str(error)
        return TokenSummary.of(example.trained)


def cells(found: TokenSummary | str | None, record: Record) -> tuple[int, int]:
    """The table's (total, trained) for a record given what the cache knows of it."""
    if not record.is_parsed or isinstance(found, str):
        return NOT_COUNTED, NOT_COUNTED
    if found is None:
        return UNKNOWN, UNKNOWN
    return found.total, found.trained_count


@dataclass
class TokenCounts:
    """What the counting task hands to the GUI thread.

    Attributes:
        cache: the loaded tokenizer with every counted example.
        totals: per record of the snapshot, its tokens (or :data:`NOT_COUNTED`).
        trained: per record, its trained tokens (or :data:`NOT_COUNTED`).
        generation: the document's edit generation the snapshot was taken at.
        token_sum: tokens of all counted records together.
        trained_sum: trained tokens of all counted records together.
    """

    cache: TokenCache
    totals: list[int]
    trained: list[int]
    generation: int
    token_sum: int = 0
    trained_sum: int = 0


def counts_automatically(base_model: str, project_folder: Path | None) -> bool:
    """Whether tokens are counted on their own: the tiny model or a local model folder.

    A hub model may not be downloaded yet; the user asks for its count ("Count tokens").
    """
    ref = classify_base_model(base_model, project_folder)
    return ref.kind == "tiny" or (ref.kind == "local" and ref.exists)


def load_token_cache(base_model: str, project_folder: Path | None, task: TaskContext) -> TokenCache:
    """Find and load ``base_model``'s tokenizer (worker thread; builds the tiny model once).

    Raises:
        TokenCountError: no tokenizer on this computer, or it has no chat template.
    """
    source = (base_model, project_folder)
    ref = classify_base_model(base_model, project_folder)
    task.phase("Loading the tokenizer", 0.0, LOAD_SHARE)
    if ref.kind == "hub":
        _check_downloaded(base_model)  # fast, before importing torch
    try:
        from ftstudio.engine.base_model import tiny_model_dir
        from ftstudio.engine.chat_mask import ChatTemplateTokenizer, load_tokenizer
        from ftstudio.engine.tiny_model import MARKER_FILE
        from ftstudio.qt.dataset.preview_worker import tokenizer_folder

        if ref.kind == "tiny" and not (tiny_model_dir() / MARKER_FILE).is_file():
            task.phase("Building the tiny model (first time only, a few seconds)", 0.0, LOAD_SHARE)
        task.check()
        try:
            folder = tokenizer_folder(base_model, project_folder)
        except OSError:
            if ref.kind != "tiny" or not (tiny_model_dir() / MARKER_FILE).is_file():
                raise
            folder = tokenizer_folder(base_model, project_folder)  # built by another thread
        task.phase("Loading the tokenizer", 0.0, LOAD_SHARE)
        encoder = ChatTemplateTokenizer(load_tokenizer(folder))
    except (ValueError, FileNotFoundError) as error:
        raise TokenCountError(f"Lengths stay in characters: {error}") from error
    return TokenCache(encoder, source, str(folder))


def _check_downloaded(model_id: str) -> None:
    from huggingface_hub import try_to_load_from_cache

    for name in ("tokenizer_config.json", "tokenizer.json"):
        if isinstance(try_to_load_from_cache(model_id, name), str):
            return
    raise TokenCountError(
        f"Lengths stay in characters: the tokenizer of {model_id} is not on this computer "
        "yet (it is downloaded when training starts). To count tokens now, download the "
        "model or choose a local model folder as the project's base model."
    )


def count_tokens_task(
    source: tuple[str, Path | None],
    cache: TokenCache | None,
    records: list[Record],
    generation: int,
    task: TaskContext,
) -> TokenCounts:
    """Tokenise every parsed record of ``records`` (a task; loads the tokenizer if needed).

    ``cache`` is reused when it was loaded for the same ``source``; records it already
    knows cost a dictionary lookup.

    The garbage collector is paused meanwhile (:func:`~ftstudio.qt.dataset.workers.
    collector_paused`): importing torch and transformers and counting 100,000 examples
    create millions of objects, and each full collection would freeze the window.
    """
    with collector_paused():
        return _count_tokens(source, cache, records, generation, task)


def _count_tokens(
    source: tuple[str, Path | None],
    cache: TokenCache | None,
    records: list[Record],
    generation: int,
    task: TaskContext,
) -> TokenCounts:
    if cache is None or cache.source != source:
        cache = load_token_cache(source[0], source[1], task)
    task.phase("Counting tokens", LOAD_SHARE, 1.0)
    total = len(records)
    totals: list[int] = []
    trained: list[int] = []
    for index, record in enumerate(records):
        if index % 32 == 0:
            task.check()
            task.progress(index, total)
        found = cache.count(record.data, background=True) if record.is_parsed else None
        count, learnt = cells(found, record)
        totals.append(count)
        trained.append(learnt)
    task.progress(total, total)
    cache.forget_others(records)
    token_sum = sum(count for count in totals if count > 0)
    trained_sum = sum(count for count in trained if count > 0)
    return TokenCounts(cache, totals, trained, generation, token_sum, trained_sum)
