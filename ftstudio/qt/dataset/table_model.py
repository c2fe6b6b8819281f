"""The examples table: one row per record, and the search, filter and sort on top of it.

:class:`DatasetTableModel` adapts a :class:`DatasetDocument` to Qt: row ``i`` is record
``i``. It shows a short summary per record (line, first user message, turns, length,
tags, review state, issues), computed once per record when a file loads (in the loading
worker) or when that record changes, so :meth:`DatasetTableModel.data` only reads a tuple.
The length is in characters until the document has counted tokens, then in tokens of
the base model's tokenizer; the token counts arrive as whole columns from the counting
worker and are kept beside the summaries, like the issue counts.

:class:`ExampleFilterProxy` searches, filters and sorts. It is a ``QAbstractProxyModel``
holding the visible rows as a list, not a ``QSortFilterProxyModel``: that class calls
Python once per row to filter and once per comparison to sort (about 1.7 million calls
to sort 100,000 rows), which would freeze the window. Here a filter or sort is one pass
over the summaries, run in a worker thread for large files, and the view only asks
for the rows on screen.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractProxyModel,
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QBrush, QColor, QFont, QIcon
from PySide6.QtWidgets import QApplication, QStyle

from ftstudio.core.dataset.records import REVIEW_STATES, Dataset, Issue, Record
from ftstudio.qt.dataset.document import DatasetDocument
from ftstudio.qt.dataset.token_counter import NOT_COUNTED, UNKNOWN, cells
from ftstudio.qt.dataset.workers import TaskCancelled, TaskContext, TaskRunner
from ftstudio.qt.style import readable_colour

# ---------------------------------------------------------------------------- Columns
COL_LINE, COL_FIRST, COL_TURNS, COL_LENGTH, COL_TAGS, COL_REVIEW, COL_ISSUES = range(7)
HEADERS = ("Line", "First user message", "Turns", "Characters", "Tags", "Review", "Issues")
HEADER_TIPS = (
    "Line of the example in the file (new: added here, not saved yet).",
    "The first thing the user says in the conversation.",
    "Number of messages (system, user and assistant turns).",
    "Length of all turns in characters. Token counts depend on the base model's "
    "tokenizer: see 'What the model learns' and the Statistics tab.",
    "Your tags.",
    "Review state: draft, approved, or rejected (kept, but not trained on).",
    "Problems found in the example; the colour is the worst one.",
)
TOKENS_HEADER = "Tokens"
"""The length column's title once tokens are counted (``HEADERS`` has "Characters")."""
TOKENS_TIP = (
    "Length of the example in tokens of the base model's tokenizer: the whole "
    "conversation written through its chat template, as training sees it. Point at a "
    "cell for the tokens that carry loss (the answers the model learns)."
)
FIRST_TEXT_LIMIT = 240
"""Characters of the first user message kept for the table (the view elides the rest)."""

# Summary tuple fields (a plain tuple per record: small and fast to build).
S_LINE, S_FIRST, S_TURNS, S_CHARS, S_TAGS, S_REVIEW, S_PARSED = range(7)
Summary = tuple[int, str, int, int, tuple[str, ...], str, bool]

NO_ISSUE, WARNING, ERROR = 0, 1, 2

ModelIndex = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()
"""The invalid index (the table's root), shared as a default argument."""


def _one_line(text: str) -> str:
    text = text[: FIRST_TEXT_LIMIT * 2]
    return " ".join(text.split())[:FIRST_TEXT_LIMIT]


def _content_chars(messages: Any) -> tuple[int, int, str | None]:
    """(turns, characters, first user text) of a message list (malformed items skipped)."""
    if isinstance(messages, str):
        return 1, len(messages), messages
    if not isinstance(messages, list):
        return 0, 0, None
    turns = chars = 0
    first = None
    for message in messages:
        if type(message) is not dict:
            continue
        turns += 1
        content = message.get("content")
        if type(content) is str:
            chars += len(content)
            if first is None and message.get("role") == "user":
                first = content
    return turns, chars, first


def summarize(record: Record) -> Summary:
    """The table's summary of one record (safe on any malformed data)."""
    data = record.data
    if record.parse_error is not None or data is None or type(data) is not dict:
        text = record.raw if record.raw is not None else repr(data)
        return (record.line, _one_line(text), 0, len(text), (), "draft", False)
    if "messages" in data:
        turns, chars, first = _content_chars(data["messages"])
    elif "chosen" in data or "rejected" in data:
        turns, chars, first = _content_chars(data.get("prompt"))
        if isinstance(data.get("prompt"), list):  # the last user turn asks the question
            users = [
                m.get("content")
                for m in data["prompt"]
                if type(m) is dict and m.get("role") == "user" and type(m.get("content")) is str
            ]
            first = users[-1] if users else first
        more_turns, more_chars, _ = _content_chars(data.get("chosen"))
        turns, chars = turns + more_turns, chars + more_chars
    else:
        turns, chars, first = _content_chars(data.get("prompt"))
        more_turns, more_chars, _ = _content_chars(data.get("completion"))
        turns, chars = turns + more_turns, chars + more_chars
    tags = data.get("tags")
    tag_tuple = tuple(t for t in tags if type(t) is str) if type(tags) is list else ()
    review = data.get("review")
    return (
        record.line,
        _one_line(first) if first else "",
        turns,
        chars,
        tag_tuple,
        review if review in REVIEW_STATES else "draft",
        True,
    )


def summarize_dataset(
    dataset: Dataset, _issues: list[Issue] | None = None, task: TaskContext | None = None
) -> list[Summary]:
    """Summaries of every record (a load step: runs in the loading worker)."""
    out: list[Summary] = []
    append = out.append
    records = dataset.records
    total = len(records)
    for index, record in enumerate(records):
        if task is not None and index % 4096 == 0:
            task.check()
            task.progress(index, total)
        append(summarize(record))
    return out


def dataset_tags(
    dataset: Dataset, _issues: list[Issue] | None = None, _task: TaskContext | None = None
) -> set[str]:
    """Every tag used in ``dataset`` (a load step: runs in the loading worker)."""
    return {tag for record in dataset.records for tag in record.tags}


def issue_slice(issues: Sequence[Issue], record: int) -> tuple[int, int]:
    """Bounds of ``record``'s issues in ``issues`` (sorted by record)."""
    key = _record_of
    return bisect_left(issues, record, key=key), bisect_right(issues, record, key=key)


def _record_of(issue: Issue) -> int:
    return issue.record


_ICONS: dict[int, QIcon] = {}


def _severity_icon(worst: int) -> QIcon:
    if worst not in _ICONS:
        pixmap = (
            QStyle.StandardPixmap.SP_MessageBoxCritical
            if worst == ERROR
            else QStyle.StandardPixmap.SP_MessageBoxWarning
        )
        _ICONS[worst] = QApplication.style().standardIcon(pixmap)
    return _ICONS[worst]


ERROR_COLOUR = QColor("#c62828")
WARNING_COLOUR = QColor("#b26a00")


# ---------------------------------------------------------------------------- Table model
class DatasetTableModel(QAbstractTableModel):
    """Row ``i`` shows record ``i`` of the document (see the module docstring)."""

    LOAD_STEP = "table-summaries"
    TAGS_STEP = "table-tags"

    def __init__(self, document: DatasetDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._summaries: list[Summary] = []
        self._counts: list[int] = []
        self._worst: list[int] = []
        self._muted = QBrush(QApplication.palette().placeholderText())
        self._italic = QFont()
        self._italic.setItalic(True)
        self._tags: set[str] | None = None
        self._tokens: list[int] = []
        self._trained: list[int] = []
        self._tokens_known = False
        self._token_sum = 0
        self._trained_sum = 0
        document.add_load_step(self.LOAD_STEP, summarize_dataset)
        document.add_load_step(self.TAGS_STEP, dataset_tags)
        document.sig_reset.connect(self._on_document_reset)
        document.sig_record_changed.connect(self._on_document_record_changed)
        document.sig_rows_inserted.connect(self._on_document_rows_inserted)
        document.sig_rows_removed.connect(self._on_document_rows_removed)
        document.sig_issues_changed.connect(self._on_document_issues_changed)
        document.sig_tokens_changed.connect(self._on_document_tokens_changed)
        self._on_document_reset()

    # ---- Public API
    def summary(self, row: int) -> Summary:
        """The summary tuple of record ``row``."""
        return self._summaries[row]

    def summaries(self) -> list[Summary]:
        """Every summary (do not change the list)."""
        return self._summaries

    def tags(self) -> list[str]:
        """Every tag in use, sorted (a tag removed by an edit stays until the next load)."""
        if self._tags is None:
            self._tags = {tag for summary in self._summaries for tag in summary[S_TAGS]}
        return sorted(self._tags)

    def issue_count(self, row: int) -> int:
        """How many issues record ``row`` has."""
        return self._counts[row]

    def worst_severity(self, row: int) -> int:
        """``NO_ISSUE``, ``WARNING`` or ``ERROR`` for record ``row``."""
        return self._worst[row]

    def issue_columns(self) -> tuple[list[int], list[int]]:
        """Per-record issue counts and worst severities (do not change the lists)."""
        return self._counts, self._worst

    def tokens_known(self) -> bool:
        """Whether the length column shows tokens (else characters)."""
        return self._tokens_known

    def token_columns(self) -> tuple[list[int], list[int]]:
        """Per record: tokens and trained tokens (do not change the lists).

        ``token_counter.UNKNOWN`` before counting, ``NOT_COUNTED`` for what cannot be
        tokenised (an unreadable line, a chat template error).
        """
        return self._tokens, self._trained

    def token_totals(self) -> tuple[int, int]:
        """Tokens and trained tokens of all counted examples together."""
        return self._token_sum, self._trained_sum

    def record_issues(self, row: int) -> list[Issue]:
        """The document's issues for record ``row``."""
        issues = self.document.issues
        low, high = issue_slice(issues, row)
        return issues[low:high]

    # ---- Qt model interface
    def rowCount(self, parent: ModelIndex = ROOT) -> int:  # noqa: N802 - Qt override
        """One row per record."""
        return 0 if parent.isValid() else len(self._summaries)

    def columnCount(self, parent: ModelIndex = ROOT) -> int:  # noqa: N802 - Qt override
        """The columns in :data:`HEADERS`."""
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(  # noqa: N802 - Qt override
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles and their explanations."""
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(HEADERS):
            return None
        tokens = section == COL_LENGTH and self._tokens_known
        if role == Qt.ItemDataRole.DisplayRole:
            return TOKENS_HEADER if tokens else HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            if tokens:
                return (
                    f"{TOKENS_TIP}\nAll examples: {self._token_sum:,} tokens, "
                    f"{self._trained_sum:,} of them trained."
                )
            return HEADER_TIPS[section]
        return None

    def data(
        self,
        index: ModelIndex,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        """What a cell shows (reads the precomputed summary only)."""
        return self.cell_data(index.row(), index.column(), role)

    def cell_data(self, row: int, column: int, role: int) -> Any:
        """:meth:`data` for (``row``, ``column``) without building a model index."""
        if not 0 <= row < len(self._summaries):
            return None
        summary = self._summaries[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column, summary)
        if role == Qt.ItemDataRole.UserRole:
            return row
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if column in (COL_LINE, COL_TURNS, COL_LENGTH):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return None
        if role == Qt.ItemDataRole.DecorationRole:
            if column == COL_ISSUES and self._worst[row]:
                return _severity_icon(self._worst[row])
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(row, column, summary)
        if role == Qt.ItemDataRole.FontRole:
            return self._italic if not summary[S_PARSED] and column == COL_FIRST else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column, summary)
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        """Selectable, not editable in place (the editor edits)."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    # ---- Cell contents
    def _display(self, row: int, column: int, summary: Summary) -> Any:
        if column == COL_FIRST:
            if not summary[S_PARSED]:
                return f"Unreadable line: {summary[S_FIRST]}"
            return summary[S_FIRST] or "(no user message)"
        if column == COL_LINE:
            return str(summary[S_LINE]) if summary[S_LINE] else "new"
        if column == COL_TURNS:
            return summary[S_TURNS] if summary[S_PARSED] else "—"
        if column == COL_LENGTH:
            if not self._tokens_known:
                return f"{summary[S_CHARS]:,}"
            tokens = self._tokens[row]
            if tokens >= 0:
                return f"{tokens:,}"
            return "…" if tokens == UNKNOWN else "—"
        if column == COL_TAGS:
            return ", ".join(summary[S_TAGS])
        if column == COL_REVIEW:
            return summary[S_REVIEW] if summary[S_PARSED] else ""
        if column == COL_ISSUES:
            count = self._counts[row]
            return str(count) if count else ""
        return None

    def _foreground(self, row: int, column: int, summary: Summary) -> Any:
        if column == COL_ISSUES and self._worst[row]:
            return readable_colour(ERROR_COLOUR if self._worst[row] == ERROR else WARNING_COLOUR)
        if not summary[S_PARSED]:
            return readable_colour(ERROR_COLOUR)
        if summary[S_REVIEW] == "rejected":
            return self._muted
        return None

    def _tooltip(self, row: int, column: int, summary: Summary) -> Any:
        if column == COL_ISSUES or (column == COL_FIRST and not summary[S_PARSED]):
            issues = self.record_issues(row)
            if not issues:
                return None
            lines = [f"{i.severity}: {i.code} {i.field} — {i.message}".strip() for i in issues]
            more = f"\n… and {len(lines) - 8} more" if len(lines) > 8 else ""
            return "\n".join(lines[:8]) + more
        if column == COL_FIRST:
            return summary[S_FIRST] or None
        if column == COL_LENGTH:
            return self._length_tip(row, summary)
        if column == COL_REVIEW and summary[S_REVIEW] == "rejected":
            return "Rejected: kept in the file, left out of training."
        return None

    def _length_tip(self, row: int, summary: Summary) -> str:
        if not self._tokens_known:
            return (
                f"{summary[S_CHARS]:,} characters (token counts follow once the base "
                "model's tokenizer has counted them)"
            )
        tokens, trained = self._tokens[row], self._trained[row]
        if tokens == UNKNOWN:
            return "Counting the tokens of this example…"
        if tokens == NOT_COUNTED:
            return (
                "Not tokenised: the line cannot be read or the chat template cannot write "
                "it (see its issues)."
            )
        return (
            f"{tokens:,} tokens, {trained:,} of them trained (the answers the model "
            f"learns); {summary[S_CHARS]:,} characters"
        )

    def _token_cells(self, record: Record) -> tuple[int, int]:
        if not self._tokens_known:
            return UNKNOWN, UNKNOWN
        return cells(self.document.token_summary(record), record)

    def _set_token_cells(self, row: int, total: int, trained: int) -> None:
        self._token_sum += max(0, total) - max(0, self._tokens[row])
        self._trained_sum += max(0, trained) - max(0, self._trained[row])
        self._tokens[row], self._trained[row] = total, trained

    # ---- Document slots
    @Slot()
    def _on_document_reset(self) -> None:
        self.beginResetModel()
        prepared = self.document.prepared.get(self.LOAD_STEP)
        tags = self.document.prepared.get(self.TAGS_STEP)
        if isinstance(prepared, list) and len(prepared) == len(self.document.dataset.records):
            self._summaries = prepared
            self._tags = tags if isinstance(tags, set) else None
        else:
            self._summaries = summarize_dataset(self.document.dataset)
            self._tags = None
        self._rebuild_issue_columns()
        self._tokens_known = self.document.tokens_known()
        if self._tokens_known:  # records inserted or removed in many places at once
            self._tokens, self._trained = self._count_columns()
            self._sum_tokens()
        else:
            self._tokens = [UNKNOWN] * len(self._summaries)
            self._trained = [UNKNOWN] * len(self._summaries)
            self._token_sum = self._trained_sum = 0
        self.endResetModel()

    def _count_columns(self) -> tuple[list[int], list[int]]:
        totals: list[int] = []
        trained: list[int] = []
        for record in self.document.dataset.records:
            total, learnt = self._token_cells(record)
            totals.append(total)
            trained.append(learnt)
        return totals, trained

    def _sum_tokens(self) -> None:
        self._token_sum = sum(t for t in self._tokens if t > 0)
        self._trained_sum = sum(t for t in self._trained if t > 0)

    @Slot()
    def _on_document_tokens_changed(self) -> None:
        counts = self.document.token_counts
        known = self._tokens_known
        self._tokens_known = True
        if counts is not None and len(counts.totals) == len(self._summaries):
            # Whole columns and sums from the worker: no per-row work in the GUI thread.
            self._tokens, self._trained = counts.totals, counts.trained
            self._token_sum, self._trained_sum = counts.token_sum, counts.trained_sum
        else:
            self._tokens, self._trained = self._count_columns()
            self._sum_tokens()
        if not known:
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, COL_LENGTH, COL_LENGTH)
        if self._summaries:
            last = len(self._summaries) - 1
            self.dataChanged.emit(self.index(0, COL_LENGTH), self.index(last, COL_LENGTH))

    @Slot(int)
    def _on_document_record_changed(self, index: int) -> None:
        if 0 <= index < len(self._summaries):
            record = self.document.dataset.records[index]
            self._summaries[index] = summarize(record)
            self._set_token_cells(index, *self._token_cells(record))
            if self._tags is not None:
                self._tags.update(self._summaries[index][S_TAGS])
            self.dataChanged.emit(self.index(index, 0), self.index(index, len(HEADERS) - 1))

    @Slot(int, int)
    def _on_document_rows_inserted(self, first: int, last: int) -> None:
        records = self.document.dataset.records
        self.beginInsertRows(QModelIndex(), first, last)
        added = [summarize(records[i]) for i in range(first, last + 1)]
        self._summaries[first:first] = added
        if self._tags is not None:
            self._tags.update(tag for summary in added for tag in summary[S_TAGS])
        count = last - first + 1
        self._counts[first:first] = [0] * count
        self._worst[first:first] = [0] * count
        cells_added = [self._token_cells(records[i]) for i in range(first, last + 1)]
        self._tokens[first:first] = [total for total, _ in cells_added]
        self._trained[first:first] = [trained for _, trained in cells_added]
        self._token_sum += sum(max(0, total) for total, _ in cells_added)
        self._trained_sum += sum(max(0, trained) for _, trained in cells_added)
        self.endInsertRows()

    @Slot(int, int)
    def _on_document_rows_removed(self, first: int, last: int) -> None:
        self.beginRemoveRows(QModelIndex(), first, last)
        del self._summaries[first : last + 1]
        del self._counts[first : last + 1]
        del self._worst[first : last + 1]
        self._token_sum -= sum(t for t in self._tokens[first : last + 1] if t > 0)
        self._trained_sum -= sum(t for t in self._trained[first : last + 1] if t > 0)
        del self._tokens[first : last + 1]
        del self._trained[first : last + 1]
        self.endRemoveRows()

    @Slot()
    def _on_document_issues_changed(self) -> None:
        changed = self.document.issues_changed_records
        if changed is not None and len(self._counts) == len(self._summaries):
            issues = self.document.issues
            for row in changed:
                if 0 <= row < len(self._counts):
                    low, high = issue_slice(issues, row)
                    self._counts[row] = high - low
                    self._worst[row] = _worst(issues[low:high])
                    cell = self.index(row, COL_ISSUES)
                    self.dataChanged.emit(self.index(row, COL_FIRST), cell)
            return
        self._rebuild_issue_columns()
        if self._summaries:
            last = len(self._summaries) - 1
            self.dataChanged.emit(self.index(0, COL_FIRST), self.index(last, COL_ISSUES))

    def _rebuild_issue_columns(self) -> None:
        count = len(self._summaries)
        counts = [0] * count
        worst = [0] * count
        for issue in self.document.issues:
            row = issue.record
            if 0 <= row < count:
                counts[row] += 1
                level = ERROR if issue.severity == "error" else WARNING
                if level > worst[row]:
                    worst[row] = level
        self._counts, self._worst = counts, worst


def _worst(issues: Sequence[Issue]) -> int:
    if not issues:
        return NO_ISSUE
    return ERROR if any(i.severity == "error" for i in issues) else WARNING


# ---------------------------------------------------------------------------- Filters
ANY_ISSUE = "*any"
ERRORS_ONLY = "*errors"
NO_ISSUES = "*none"
UNTAGGED = "*untagged"


@dataclass(frozen=True)
class FilterSpec:
    """What the table shows.

    Attributes:
        text: case-insensitive text to find in any message, tag or note.
        issue: ``""`` (any example), :data:`ANY_ISSUE`, :data:`ERRORS_ONLY`,
            :data:`NO_ISSUES`, or an issue code such as ``role_order``.
        tag: ``""`` (any), :data:`UNTAGGED`, or a tag.
        review: ``""`` (any), ``draft``, ``approved`` or ``rejected``.
        min_chars: shortest length shown (characters of all turns, or tokens with
            ``in_tokens``).
        max_chars: longest length shown; ``0`` for no limit.
        in_tokens: the lengths are tokens (once counted); an example that has no token
            count is then left out by a length limit.
    """

    text: str = ""
    issue: str = ""
    tag: str = ""
    review: str = ""
    min_chars: int = 0
    max_chars: int = 0
    in_tokens: bool = False

    def is_active(self) -> bool:
        """Whether anything is filtered out."""
        return replace(self, in_tokens=False) != FilterSpec()


@dataclass
class _FilterInput:
    """A snapshot of what filtering needs, safe to read in a worker thread."""

    summaries: list[Summary]
    counts: list[int]
    worst: list[int]
    records: list[Record]
    issues: list[Issue]
    tokens: list[int] | None = None
    """Per record token counts when known (length filter and sort use them)."""


def search_text(record: Record) -> str:
    """All the text of a record that search looks at, case-folded."""
    data = record.data
    if record.parse_error is not None or type(data) is not dict:
        return (record.raw or "").casefold()
    parts: list[str] = []
    for key in ("messages", "prompt", "chosen", "rejected", "completion"):
        value = data.get(key)
        if type(value) is str:
            parts.append(value)
        elif type(value) is list:
            for message in value:
                if type(message) is dict and type(message.get("content")) is str:
                    parts.append(message["content"])
    for key in ("note", "source"):
        if type(data.get(key)) is str:
            parts.append(data[key])
    tags = data.get("tags")
    if type(tags) is list:
        parts.extend(t for t in tags if type(t) is str)
    return "\n".join(parts).casefold()


def filter_rows(
    source: _FilterInput,
    spec: FilterSpec,
    sort_column: int,
    descending: bool,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[int] | None:
    """The record indices to show, in display order; ``None`` means all, in file order.

    Raises:
        TaskCancelled: ``cancelled()`` returned true (polled every few milliseconds).
    """
    summaries = source.summaries
    rows: list[int] | range = range(len(summaries))
    if spec.review:
        rows = [i for i in rows if summaries[i][S_REVIEW] == spec.review and summaries[i][S_PARSED]]
    if spec.tag == UNTAGGED:
        rows = [i for i in rows if not summaries[i][S_TAGS]]
    elif spec.tag:
        rows = [i for i in rows if spec.tag in summaries[i][S_TAGS]]
    tokens = source.tokens if spec.in_tokens else None
    if tokens is not None and (spec.min_chars or spec.max_chars):
        low, high = spec.min_chars, spec.max_chars or float("inf")
        rows = [i for i in rows if tokens[i] >= 0 and low <= tokens[i] <= high]
    else:
        if spec.min_chars:
            rows = [i for i in rows if summaries[i][S_CHARS] >= spec.min_chars]
        if spec.max_chars:
            rows = [i for i in rows if summaries[i][S_CHARS] <= spec.max_chars]
    if spec.issue == ANY_ISSUE:
        rows = [i for i in rows if source.counts[i]]
    elif spec.issue == ERRORS_ONLY:
        rows = [i for i in rows if source.worst[i] == ERROR]
    elif spec.issue == NO_ISSUES:
        rows = [i for i in rows if not source.counts[i]]
    elif spec.issue:
        having = {issue.record for issue in source.issues if issue.code == spec.issue}
        rows = [i for i in rows if i in having]
    if spec.text.strip():
        needle = spec.text.strip().casefold()
        records = source.records
        found = []
        for position, i in enumerate(rows):
            if position % 256 == 0 and cancelled():
                raise TaskCancelled
            if needle in search_text(records[i]):
                found.append(i)
        rows = found
    if sort_column >= 0:
        rows = responsive_sort(list(rows), _sort_key(source, sort_column), descending, cancelled)
    elif isinstance(rows, range):
        return None
    return list(rows)


SORT_CHUNK = 8192
"""Rows sorted by one C call at most; larger sorts merge sorted chunks (see below)."""


def responsive_sort(
    rows: list[int],
    key: Callable[[int], Any],
    descending: bool,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[int]:
    """``rows`` ordered by ``key``, ties in file order, without holding the GIL for long.

    One ``sorted`` call over 100,000 strings holds the GIL for ~50 ms, freezing the GUI
    thread that long; sorting chunks of :data:`SORT_CHUNK` and merging them keeps every
    GIL hold to a few milliseconds, for a little more total time in the worker. Polls
    ``cancelled`` between chunks and raises :class:`TaskCancelled`.
    """
    if len(rows) <= SORT_CHUNK:
        return sorted(rows, key=key, reverse=descending)
    sign = -1 if descending else 1
    chunks = []
    for start in range(0, len(rows), SORT_CHUNK):
        if cancelled():
            raise TaskCancelled
        # (key, ±index): the index breaks ties so equal keys keep their file order.
        keyed = [(key(i), sign * i) for i in rows[start : start + SORT_CHUNK]]
        keyed.sort(reverse=descending)
        chunks.append(keyed)
    order = []
    for count, (_key, i) in enumerate(heapq.merge(*chunks, reverse=descending)):
        if count % SORT_CHUNK == 0 and cancelled():
            raise TaskCancelled
        order.append(sign * i)
    return order


def _sort_key(source: _FilterInput, column: int) -> Callable[[int], Any]:
    summaries = source.summaries
    if column == COL_FIRST:
        return lambda i: summaries[i][S_FIRST].casefold()
    if column == COL_TURNS:
        return lambda i: summaries[i][S_TURNS]
    if column == COL_LENGTH:
        tokens = source.tokens
        if tokens is not None:
            return lambda i: tokens[i]
        return lambda i: summaries[i][S_CHARS]
    if column == COL_TAGS:
        return lambda i: ", ".join(summaries[i][S_TAGS]).casefold()
    if column == COL_REVIEW:
        order = {state: n for n, state in enumerate(REVIEW_STATES)}
        return lambda i: order.get(summaries[i][S_REVIEW], 0)
    if column == COL_ISSUES:
        counts, worst = source.counts, source.worst
        return lambda i: (worst[i], counts[i])
    return lambda i: i


class ExampleFilterProxy(QAbstractProxyModel):
    """Search, filter and sort over :class:`DatasetTableModel` (see the module docstring).

    Rows added while a filter is on stay visible until the filter changes; edited
    rows are not re-filtered while the user works on them.

    Signals:
        sig_busy(bool): filtering or sorting runs in the background (large files).
        sig_refiltered(): a new filter or sort result is shown.
    """

    sig_busy = Signal(bool)
    sig_refiltered = Signal()

    INLINE_LIMIT = 3000
    """Up to this many records, filtering runs at once in the GUI thread (a few ms)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[int] | None = None  # None: every source row, in file order
        self._inverse: dict[int, int] | None = None
        self._spec = FilterSpec()
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._pending_insert: tuple[int, int, int] | None = None
        self._generation = 0
        self._runner = TaskRunner(self)
        self._runner.sig_finished.connect(self._on_runner_finished)
        self._runner.sig_failed.connect(self._on_runner_failed)

    # ---- Public API
    @property
    def spec(self) -> FilterSpec:
        """The filter in force."""
        return self._spec

    def set_filter(self, spec: FilterSpec) -> None:
        """Show only the records matching ``spec`` (inline or in the background)."""
        if spec != self._spec:
            self._spec = spec
            self.refresh()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by ``column`` (``-1``: file order)."""
        self._sort_column, self._sort_order = column, order
        self.refresh()

    def sort_column(self) -> int:
        """The column sorted by, or ``-1``."""
        return self._sort_column

    def is_busy(self) -> bool:
        """Whether a background filter is running."""
        return self._runner.is_running()

    def source_rows(self) -> list[int]:
        """The visible record indices in display order."""
        if self._rows is None:
            return list(range(self._source_count()))
        return list(self._rows)

    def refresh(self) -> None:
        """Apply the filter and sort again."""
        model = self.sourceModel()
        if not isinstance(model, DatasetTableModel):
            return
        if not self._spec.is_active() and self._sort_column < 0:
            self._runner.cancel()
            self._apply(None)
            return
        snapshot = _FilterInput(
            list(model.summaries()),
            list(model.issue_columns()[0]),
            list(model.issue_columns()[1]),
            list(model.document.dataset.records),
            list(model.document.issues),
            list(model.token_columns()[0]) if model.tokens_known() else None,
        )
        spec, column = self._spec, self._sort_column
        descending = self._sort_order == Qt.SortOrder.DescendingOrder
        if len(snapshot.summaries) <= self.INLINE_LIMIT:
            self._runner.cancel()
            self._apply(filter_rows(snapshot, spec, column, descending))
            return
        generation = self._generation

        def task(context: TaskContext) -> tuple[int, list[int] | None]:
            return generation, filter_rows(snapshot, spec, column, descending, context.cancelled)

        self.sig_busy.emit(True)
        self._runner.start(task, "Filtering")

    def shutdown(self) -> None:
        """Stop a background filter (before the proxy goes away)."""
        self._runner.shutdown()

    # ---- QAbstractProxyModel
    def setSourceModel(self, model: QAbstractItemModel) -> None:  # noqa: N802 - Qt override
        """Use ``model`` (a :class:`DatasetTableModel`)."""
        self.beginResetModel()
        old = self.sourceModel()
        if old is not None:
            for signal, slot in self._connections(old):
                signal.disconnect(slot)
        super().setSourceModel(model)
        for signal, slot in self._connections(model):
            signal.connect(slot)
        self._rows, self._inverse = None, None
        self.endResetModel()

    def _connections(self, model: QAbstractItemModel) -> list[tuple[Any, Any]]:
        return [
            (model.dataChanged, self._on_source_data_changed),
            (model.headerDataChanged, self.headerDataChanged),
            (model.rowsAboutToBeInserted, self._on_source_rows_about_to_be_inserted),
            (model.rowsInserted, self._on_source_rows_inserted),
            (model.rowsAboutToBeRemoved, self._on_source_rows_about_to_be_removed),
            (model.rowsRemoved, self._on_source_rows_removed),
            (model.modelAboutToBeReset, self._on_source_about_to_be_reset),
            (model.modelReset, self._on_source_reset),
        ]

    def rowCount(self, parent: ModelIndex = ROOT) -> int:  # noqa: N802 - Qt override
        """Visible rows."""
        if parent.isValid():
            return 0
        return self._source_count() if self._rows is None else len(self._rows)

    def columnCount(self, parent: ModelIndex = ROOT) -> int:  # noqa: N802 - Qt override
        """The source's columns."""
        model = self.sourceModel()
        return 0 if parent.isValid() or model is None else model.columnCount()

    def index(
        self,
        row: int,
        column: int,
        parent: ModelIndex = ROOT,
    ) -> QModelIndex:
        """A flat table index."""
        if parent.isValid() or not 0 <= row < self.rowCount() or not 0 <= column < len(HEADERS):
            return QModelIndex()
        return self.createIndex(row, column)

    def parent(self, child: Any = None) -> Any:  # a table: no parents
        """No item has a parent (called without argument: the QObject parent)."""
        if child is None:
            return super().parent()
        return QModelIndex()

    def sibling(self, row: int, column: int, index: ModelIndex) -> Any:
        """The cell at (``row``, ``column``)."""
        return self.index(row, column)

    def hasChildren(self, parent: ModelIndex = ROOT) -> bool:  # noqa: N802 - Qt override
        """Only the root has children."""
        return not parent.isValid() and self.rowCount() > 0

    def mapToSource(self, proxy: ModelIndex) -> QModelIndex:  # noqa: N802
        """The record's cell for a visible cell."""
        model = self.sourceModel()
        if model is None or not proxy.isValid():
            return QModelIndex()
        row = proxy.row()
        if self._rows is not None:
            if row >= len(self._rows):
                return QModelIndex()
            row = self._rows[row]
        return model.index(row, proxy.column())

    def mapFromSource(self, source: ModelIndex) -> QModelIndex:  # noqa: N802
        """The visible cell of a record's cell (invalid when filtered out)."""
        if not source.isValid():
            return QModelIndex()
        row = self.row_of(source.row())
        return QModelIndex() if row < 0 else self.createIndex(row, source.column())

    def row_of(self, record: int) -> int:
        """The visible row of record ``record``, or ``-1`` when it is filtered out."""
        if self._rows is None:
            return record if 0 <= record < self._source_count() else -1
        if self._inverse is None:
            self._inverse = {source: row for row, source in enumerate(self._rows)}
        return self._inverse.get(record, -1)

    def record_at(self, row: int) -> int:
        """The record index shown at visible row ``row``."""
        return row if self._rows is None else self._rows[row]

    def data(
        self,
        index: ModelIndex,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        """The source's data for the record shown at ``index`` (called per visible cell)."""
        model = self.sourceModel()
        if not isinstance(model, DatasetTableModel) or not index.isValid():
            return None
        row = index.row()
        if self._rows is not None:
            if row >= len(self._rows):
                return None
            row = self._rows[row]
        return model.cell_data(row, index.column(), role)

    def headerData(  # noqa: N802 - Qt override
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """The source's column titles."""
        model = self.sourceModel()
        if model is None or orientation != Qt.Orientation.Horizontal:
            return None
        return model.headerData(section, orientation, role)

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        """Selectable, not editable in place (as every row of the source)."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    # ---- Source slots
    def _on_source_data_changed(
        self, top_left: QModelIndex, bottom_right: QModelIndex, roles: Sequence[int] = ()
    ) -> None:
        first, last = top_left.row(), bottom_right.row()
        left, right = top_left.column(), bottom_right.column()
        if self._rows is None:
            self.dataChanged.emit(self.index(first, left), self.index(last, right), roles)
            return
        if last - first > 64:  # a big change: let the view repaint what it shows
            if self._rows:
                end = len(self._rows) - 1
                self.dataChanged.emit(self.index(0, left), self.index(end, right), roles)
            return
        for record in range(first, last + 1):
            row = self.row_of(record)
            if row >= 0:
                self.dataChanged.emit(self.index(row, left), self.index(row, right), roles)

    @Slot(QModelIndex, int, int)
    def _on_source_rows_about_to_be_inserted(self, _parent: QModelIndex, first: int, last: int):
        self._generation += 1
        count = last - first + 1
        if self._rows is None:
            self.beginInsertRows(QModelIndex(), first, last)
            return
        # New records show up beside their neighbour in file order (and stay visible).
        position = sum(1 for row in self._rows if row < first)
        if self._sort_column >= 0:
            position = len(self._rows)
        self._pending_insert = (position, first, count)
        self.beginInsertRows(QModelIndex(), position, position + count - 1)

    @Slot(QModelIndex, int, int)
    def _on_source_rows_inserted(self, _parent: QModelIndex, first: int, last: int) -> None:
        if self._rows is not None and self._pending_insert is not None:
            position, first, count = self._pending_insert
            self._pending_insert = None
            shifted = [row + count if row >= first else row for row in self._rows]
            shifted[position:position] = range(first, first + count)
            self._rows, self._inverse = shifted, None
        self.endInsertRows()

    @Slot(QModelIndex, int, int)
    def _on_source_rows_about_to_be_removed(
        self, _parent: QModelIndex, first: int, last: int
    ) -> None:
        self._generation += 1
        if self._rows is None:
            self.beginRemoveRows(QModelIndex(), first, last)
            return
        positions = [n for n, row in enumerate(self._rows) if first <= row <= last]
        for low, high in reversed(_runs(positions)):
            self.beginRemoveRows(QModelIndex(), low, high)
            del self._rows[low : high + 1]
            self._inverse = None
            self.endRemoveRows()

    @Slot(QModelIndex, int, int)
    def _on_source_rows_removed(self, _parent: QModelIndex, first: int, last: int) -> None:
        if self._rows is None:
            self.endRemoveRows()
            return
        count = last - first + 1
        self._rows = [row - count if row > last else row for row in self._rows]
        self._inverse = None

    @Slot()
    def _on_source_about_to_be_reset(self) -> None:
        self._generation += 1
        self.beginResetModel()
        self._rows, self._inverse = None, None

    @Slot()
    def _on_source_reset(self) -> None:
        self.endResetModel()
        if self._spec.is_active() or self._sort_column >= 0:
            self.refresh()

    # ---- Results
    @Slot(object)
    def _on_runner_finished(self, result: tuple[int, list[int] | None]) -> None:
        generation, rows = result
        self.sig_busy.emit(False)
        if generation != self._generation:
            self.refresh()  # records were added or removed meanwhile: filter again
            return
        self._apply(rows)

    @Slot(str)
    def _on_runner_failed(self, _message: str) -> None:
        self.sig_busy.emit(False)

    def _apply(self, rows: list[int] | None) -> None:
        if rows is None and self._rows is None:
            self.sig_refiltered.emit()
            return
        self.beginResetModel()
        self._rows, self._inverse = rows, None
        self.endResetModel()
        self.sig_refiltered.emit()

    def _source_count(self) -> int:
        model = self.sourceModel()
        return 0 if model is None else model.rowCount()


def _runs(positions: list[int]) -> list[tuple[int, int]]:
    """Sorted positions as (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for position in positions:
        if runs and runs[-1][1] == position - 1:
            runs[-1] = (runs[-1][0], position)
        else:
            runs.append((position, position))
    return runs
