"""The run table: one row per run summary, each column sortable by its value.

:class:`RunTableModel` adapts a list of :class:`~ftstudio.core.runs_compare.RunSummary`
to Qt. Display texts are plain words (``3 min 05 s``, ``0.0002``); :data:`SORT_ROLE`
gives each cell's raw value (seconds, numbers, ISO times), so sorting by a column
orders runs by value, not by text, with unknown values last. A project has tens to
hundreds of runs, so a ``QSortFilterProxyModel`` over :data:`SORT_ROLE` is quick.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFont

from ftstudio.core.runs_compare import RunSummary
from ftstudio.qt.style import readable
from ftstudio.qt.training.text import format_duration, format_loss

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
"""Each cell's raw value for sorting (``None``: unknown, sorted last)."""
RUN_ROLE = Qt.ItemDataRole.UserRole + 2
"""The row's :class:`RunSummary` (any column)."""

STATUS_COLOURS = {
    "finished": "#2e7d32",
    "running": "#1565c0",
    "queued": "#5c6bc0",
    "stopped": "#b26a00",
    "failed": "#c62828",
    "missing": "#757575",
    "unknown": "#757575",
}
"""Text colour of each status (readable on light and dark table backgrounds)."""

STATUS_TIPS = {
    "finished": "Trained all its steps (or stopped early when validation stopped improving).",
    "running": "Training now (or its process ended without a chance to say so).",
    "queued": "Created, waiting to start training.",
    "stopped": "Stopped by you; resume it from the Train page.",
    "failed": "Ended with an error: see the run's details.",
    "missing": "The database lists this run but its folder is gone.",
    "unknown": "The run's run.json cannot be read.",
}

ModelIndex = QModelIndex | QPersistentModelIndex


def local_time(value: str | None) -> str:
    """An ISO time (UTC) as local ``YYYY-MM-DD HH:MM``; ``–`` when unknown."""
    if not value:
        return "–"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return f"{moment:%Y-%m-%d %H:%M}"


def duration_text(seconds: float | None) -> str:
    """Training time in words; ``< 1 s`` for runs shorter than the times' resolution."""
    if seconds is not None and 0 <= seconds < 1:
        return "< 1 s"  # run.json's times are to the second
    return format_duration(seconds)


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def _count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _loss(value: float | None) -> str:
    return "–" if value is None else format_loss(value)


def _epochs(run: RunSummary) -> str:
    if run.epochs is None:
        return "–"
    return f"{run.epochs} (≤{run.max_steps:,} st.)" if run.max_steps else str(run.epochs)


class Column:
    """One column of the table: its header, tooltip, text and sort value."""

    def __init__(
        self,
        key: str,
        header: str,
        tip: str,
        text: Callable[[RunSummary], str],
        value: Callable[[RunSummary], Any],
        *,
        numeric: bool = False,
    ) -> None:
        self.key = key
        self.header = header
        self.tip = tip
        self.text = text
        self.value = value
        self.numeric = numeric


COLUMNS: tuple[Column, ...] = (
    Column(
        "status",
        "Status",
        "How the run ended (or that it is training).",
        lambda r: r.status,
        lambda r: r.status,
    ),
    Column(
        "name",
        "Name",
        "The run's name; its id is the folder name.",
        lambda r: r.name,
        lambda r: r.name.casefold(),
    ),
    Column(
        "created",
        "Created",
        "When the run was made (your local time).",
        lambda r: local_time(r.created),
        lambda r: r.created,
    ),
    Column(
        "duration",
        "Duration",
        "Time spent training, over every session (resumes included).",
        lambda r: duration_text(r.duration_s),
        lambda r: r.duration_s,
        numeric=True,
    ),
    Column(
        "method",
        "Method",
        "QLoRA, LoRA or full fine-tuning, and the objective (SFT or DPO).",
        lambda r: r.method_text or "–",
        lambda r: r.method_text,
    ),
    Column(
        "learning_rate",
        "LR",
        "Peak learning rate.",
        lambda r: _number(r.learning_rate),
        lambda r: r.learning_rate,
        numeric=True,
    ),
    Column(
        "epochs",
        "Epochs",
        "Passes over the data, and the step limit (st.) when one was set.",
        _epochs,
        lambda r: r.epochs,
        numeric=True,
    ),
    Column(
        "r",
        "r",
        "LoRA rank (not used by full fine-tuning).",
        lambda r: "–" if r.method == "full" else _count(r.r),
        lambda r: None if r.method == "full" else r.r,
        numeric=True,
    ),
    Column(
        "batch",
        "Batch",
        "Effective batch: batch size × gradient accumulation (per GPU).",
        lambda r: _count(r.effective_batch),
        lambda r: r.effective_batch,
        numeric=True,
    ),
    Column(
        "best_eval_loss",
        "Best val.",
        "Best validation loss: the lowest measured during the run.",
        lambda r: _loss(r.best_eval_loss),
        lambda r: r.best_eval_loss,
        numeric=True,
    ),
    Column(
        "final_loss",
        "Final",
        "Final training loss: the last one logged.",
        lambda r: _loss(r.final_loss),
        lambda r: r.final_loss,
        numeric=True,
    ),
    Column(
        "data",
        "Data",
        "The training data file and the start of its SHA-256: runs with the same "
        "fingerprint trained on exactly the same file.",
        lambda r: " · ".join(part for part in (r.dataset_name, r.data_hash) if part) or "–",
        lambda r: (r.data_hash, r.dataset_name),
    ),
)
COLUMN_KEYS = tuple(column.key for column in COLUMNS)


def column_index(key: str) -> int:
    """The position of the column called ``key`` (``status``, ``name``, ``learning_rate``…)."""
    return COLUMN_KEYS.index(key)


class RunTableModel(QAbstractTableModel):
    """The runs of a project as a table (see the module docstring)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runs: list[RunSummary] = []
        self._bold = QFont()
        self._bold.setBold(True)

    # ---- Public API
    def set_runs(self, runs: Sequence[RunSummary]) -> None:
        """Show ``runs`` (the whole table is replaced)."""
        self.beginResetModel()
        self.runs = list(runs)
        self.endResetModel()

    def run_at(self, row: int) -> RunSummary:
        """The run of ``row`` (in this model's order)."""
        return self.runs[row]

    # ---- Qt model
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        """Runs (a table has no children)."""
        return 0 if parent.isValid() else len(self.runs)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        """The :data:`COLUMNS`."""
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Text, sort value, colour, alignment and tooltip of one cell."""
        if not index.isValid():
            return None
        run = self.runs[index.row()]
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(run)
        if role == SORT_ROLE:
            return column.value(run)
        if role == RUN_ROLE:
            return run
        if role == Qt.ItemDataRole.ForegroundRole and column.key == "status":
            return QColor(readable(STATUS_COLOURS.get(run.status, "#757575")))
        if role == Qt.ItemDataRole.FontRole and column.key == "status":
            return self._bold
        if role == Qt.ItemDataRole.TextAlignmentRole and column.numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(run, column)
        return None

    def headerData(  # noqa: N802 - Qt override
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles and their explanations."""
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].header
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section].tip
        return None

    # ---- Internals
    def _tooltip(self, run: RunSummary, column: Column) -> str:
        if column.key == "status":
            tip = STATUS_TIPS.get(run.status, run.status)
            return f"{tip}\n{run.message}" if run.message else tip
        if column.key == "name":
            return f"{run.name}\nid {run.id}\n{run.path}"
        if column.key == "data":
            return f"{run.dataset or 'unknown file'}\nSHA-256 {run.dataset_sha256 or 'unknown'}"
        if column.key == "duration" and run.started:
            return f"Started {local_time(run.started)}, ended {local_time(run.ended)}"
        return column.tip


class RunSortProxy(QSortFilterProxyModel):
    """Sorts runs by each column's :data:`SORT_ROLE` value; unknown values go last."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)

    def lessThan(self, left: ModelIndex, right: ModelIndex) -> bool:  # noqa: N802
        """Compare two cells' values (``None`` and NaN after every known value)."""
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        a_unknown, b_unknown = _unknown(a), _unknown(b)
        if a_unknown or b_unknown:
            # Unknown values last in either order. Descending, Qt asks lessThan(right,
            # left) and puts "greater" rows first: so there, unknown is the smallest.
            if a_unknown == b_unknown:
                return False
            descending = self.sortOrder() == Qt.SortOrder.DescendingOrder
            return a_unknown if descending else b_unknown
        try:
            return bool(a < b)
        except TypeError:
            return str(a) < str(b)


def _unknown(value: Any) -> bool:
    if value is None or value == "":
        return True
    return isinstance(value, float) and math.isnan(value)
