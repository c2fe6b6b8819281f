"""A run's metrics as growing numpy buffers (what the live plots draw), and their CSV.

Besides the fields every run logs, a step may carry further named metrics
(``StepLogged.metrics``): a DPO run reports ``rewards/margins``,
``rewards/accuracies``, ``rewards/chosen`` and ``rewards/rejected``. Each name gets a
series and a CSV column once a step reports it, so an SFT run's table keeps exactly
:data:`CSV_COLUMNS`.

Appending is amortised O(1): each :class:`Series` doubles its arrays when full, and
the plots read views of the filled part, so nothing is copied per step. Steps are
``float64``: pyqtgraph's ``clipToView`` searches x with ``searchsorted``, which is
~10,000× slower on int32/float32 arrays (../shared/notes/performance-reliability.md §1.7).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from ftstudio.core.atomic import atomic_write_text
from ftstudio.core.events import Evaluated, StepLogged, TrainingEvent

SERIES = (
    "loss",
    "eval_loss",
    "learning_rate",
    "grad_norm",
    "tokens_per_second",
    "memory_gb",
    "peak_memory_gb",
)
"""Every metric kept, by its ``StepLogged`` / ``Evaluated`` field name."""

REWARD_MARGINS = "rewards/margins"
REWARD_ACCURACIES = "rewards/accuracies"
REWARD_SERIES = (REWARD_MARGINS, REWARD_ACCURACIES)
"""The preference metrics drawn live (DPO): the mean reward margin (chosen minus
rejected) and the share of pairs whose chosen answer gets the higher reward."""
KNOWN_METRICS = (
    *REWARD_SERIES,
    "rewards/chosen",
    "rewards/rejected",
    "logps/chosen",
    "logps/rejected",
)
"""Named metrics whose CSV columns come first, in this order (others follow as first seen)."""

CSV_COLUMNS = ("step", "epoch", "elapsed_s", *SERIES)
"""The CSV columns of every run; named metrics a run reports follow them."""


class Series:
    """Points (step, value) in float64 arrays that double when full."""

    def __init__(self, capacity: int = 256) -> None:
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, x: float, y: float) -> None:
        """Add one point (the arrays double first when full)."""
        if self._size == self._x.size:
            self._x = np.concatenate([self._x, np.empty_like(self._x)])
            self._y = np.concatenate([self._y, np.empty_like(self._y)])
        self._x[self._size] = x
        self._y[self._size] = y
        self._size += 1

    @property
    def x(self) -> np.ndarray:
        """The steps (a view: valid until the next append)."""
        return self._x[: self._size]

    @property
    def y(self) -> np.ndarray:
        """The values (a view: valid until the next append)."""
        return self._y[: self._size]

    def clear(self) -> None:
        """Forget every point (the capacity stays)."""
        self._size = 0


class MetricsHistory:
    """Every metric of one run, fed with events in the GUI thread.

    Attributes:
        series: one :class:`Series` per name in :data:`SERIES` and
            :data:`REWARD_SERIES` (empty unless the run reports them), and one per
            further named metric the run reported.
        metric_names: the named metrics the run reported (``StepLogged.metrics``), in
            CSV column order.
        latest_metrics: the named metrics of the latest step that reported any.
        memory_kind: ``gpu`` or ``rss``, from the latest step.
        version: increases with every change.
        generation: increases with every :meth:`clear` (a new run).
    """

    def __init__(self) -> None:
        self.series = {name: Series() for name in (*SERIES, *REWARD_SERIES)}
        self.metric_names: list[str] = []
        self.latest_metrics: dict[str, float] = {}
        self.memory_kind = "rss"
        self.version = 0
        self.generation = 0
        self._rows: dict[int, dict[str, float | None]] = {}

    def add(self, event: TrainingEvent) -> bool:
        """Record a ``StepLogged`` or ``Evaluated`` event; other events are ignored.

        Returns whether anything was recorded.
        """
        if isinstance(event, StepLogged):
            row = self._row(event.step)
            row["epoch"] = event.epoch
            row["elapsed_s"] = event.elapsed_s
            self.memory_kind = event.memory_kind
            for name in SERIES:
                if name == "eval_loss":
                    continue
                value = getattr(event, name)
                row[name] = value
                if value is not None:
                    self.series[name].append(float(event.step), float(value))
            self._add_metrics(event.step, row, event.metrics)
        elif isinstance(event, Evaluated):
            row = self._row(event.step)
            row["epoch"] = event.epoch
            row["eval_loss"] = event.eval_loss
            self.series["eval_loss"].append(float(event.step), float(event.eval_loss))
        else:
            return False
        self.version += 1
        return True

    def clear(self) -> None:
        """Forget every point (a new run starts)."""
        for name in [name for name in self.series if name not in (*SERIES, *REWARD_SERIES)]:
            del self.series[name]
        for series in self.series.values():
            series.clear()
        self.metric_names.clear()
        self.latest_metrics = {}
        self._rows.clear()
        self.version += 1
        self.generation += 1

    def has_rewards(self) -> bool:
        """Whether the run reported preference rewards (a DPO run): the reward plots apply."""
        return any(len(self.series[name]) for name in REWARD_SERIES)

    def columns(self) -> tuple[str, ...]:
        """The CSV columns: :data:`CSV_COLUMNS`, then the named metrics the run reported."""
        return (*CSV_COLUMNS, *self.metric_names)

    def rows(self) -> list[dict[str, float | None]]:
        """One dict per logged step, in step order, with a value or ``None`` for every
        column of :data:`CSV_COLUMNS` (named metrics only where the step reported them)."""
        return [self._rows[step] for step in sorted(self._rows)]

    def to_csv(self) -> str:
        """The metrics as CSV text: a header, then a row per step (empty cells: not measured)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        columns = self.columns()
        writer.writerow(columns)
        for row in self.rows():
            writer.writerow([_cell(row.get(column)) for column in columns])
        return out.getvalue()

    def write_csv(self, path: Path) -> Path:
        """Write :meth:`to_csv` to ``path`` atomically; returns ``path``."""
        path = Path(path)
        atomic_write_text(path, self.to_csv())
        return path

    def _add_metrics(
        self, step: int, row: dict[str, float | None], metrics: dict[str, float]
    ) -> None:
        """Record a step's named metrics: in its row, and as points of their series."""
        if not metrics:
            return
        latest: dict[str, float] = {}
        for name, raw in metrics.items():
            try:
                value = float(raw)
            except (TypeError, ValueError):
                continue  # not a number: nothing to draw or tabulate
            if name not in self.series:
                self.series[name] = Series()
            if name not in self.metric_names:
                self.metric_names.append(name)
                order = {known: index for index, known in enumerate(KNOWN_METRICS)}
                first_seen = {known: index for index, known in enumerate(self.metric_names)}
                self.metric_names.sort(key=lambda n: (order.get(n, len(order)), first_seen[n]))
            row[name] = value
            latest[name] = value
            self.series[name].append(float(step), value)
        if latest:
            self.latest_metrics = latest

    def _row(self, step: int) -> dict[str, float | None]:
        row = self._rows.get(step)
        if row is None:
            row = self._rows[step] = dict.fromkeys(CSV_COLUMNS)
            row["step"] = step
        return row


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)  # nan, inf: spreadsheet tools read these
    return f"{value:.8g}"
