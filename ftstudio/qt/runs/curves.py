"""Loss curves of several runs in one plot: one colour per run, validation dashed.

pyqtgraph costs ~0.25 s to import, so the Runs page imports this module when the
plot is first needed, not at startup. Runs are few and their metrics files small
(one row per logged step), so each :meth:`RunCurves.set_runs` redraws from scratch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ftstudio.core.runs_compare import RunSummary, metric_series, read_metrics

RUN_COLOURS = (
    "#3d6fd1",
    "#e07b00",
    "#2e7d32",
    "#c62828",
    "#8e24aa",
    "#00838f",
    "#6d4c41",
    "#ad1457",
    "#558b2f",
    "#283593",
)
"""One colour per selected run, in selection order (repeats after ten runs)."""


def run_colour(position: int) -> str:
    """The colour of the ``position``-th run shown."""
    return RUN_COLOURS[position % len(RUN_COLOURS)]


class RunCurves(QWidget):
    """Training loss (solid) and validation loss (dashed, dots) of each run shown.

    Attributes:
        plot: the pyqtgraph ``PlotWidget``.
        curves: per run id, its training-loss curve.
        eval_curves: per run id, its validation-loss curve (runs that measured one).
        colours: per run id, its colour.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runCurves")
        self.curves: dict[str, Any] = {}
        self.eval_curves: dict[str, Any] = {}
        self.colours: dict[str, str] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = _Plot(background=self.palette().base().color())
        self.plot.setObjectName("runCurvesPlot")
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.legend = self.plot.addLegend(offset=(-10, 10))
        layout.addWidget(self.plot)

    def set_runs(self, runs: Sequence[RunSummary]) -> None:
        """Draw the curves of ``runs`` (replacing what was shown)."""
        self.plot.clear()  # removes the items and their legend entries
        self.curves.clear()
        self.eval_curves.clear()
        self.colours.clear()
        for position, run in enumerate(runs):
            colour = run_colour(position)
            self.colours[run.id] = colour
            rows = read_metrics(Path(run.path))
            steps, losses = metric_series(rows, "loss")
            self.curves[run.id] = self.plot.plot(
                steps,
                losses,
                name=f"{run.name} · train",
                pen=pg.mkPen(colour, width=2),
                antialias=True,
            )
            eval_steps, eval_losses = metric_series(rows, "eval_loss")
            if eval_steps:
                self.eval_curves[run.id] = self.plot.plot(
                    eval_steps,
                    eval_losses,
                    name=f"{run.name} · validation",
                    pen=pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine),
                    symbol="o",
                    symbolSize=6,
                    symbolBrush=colour,
                    symbolPen=colour,
                    antialias=True,
                )
        self.plot.enableAutoRange()

    def point_count(self, run_id: str, *, validation: bool = False) -> int:
        """How many points the run's (validation) loss curve holds."""
        curve = (self.eval_curves if validation else self.curves).get(run_id)
        if curve is None:
            return 0
        x, _y = curve.getOriginalDataset()
        return 0 if x is None else len(x)

    def legend_names(self) -> list[str]:
        """The legend's entries, top to bottom."""
        return [label.text for _sample, label in self.legend.items]


class _Plot(pg.PlotWidget):
    """A plot that asks for a modest size (pyqtgraph asks for 640x480)."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(400, 260)
