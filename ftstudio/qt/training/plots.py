"""Live training curves: loss (train and validation), learning rate, grad norm, speed, memory.

A DPO run also reports preference rewards: a third row then shows the reward margin
(chosen minus rejected) and the reward accuracy (share of pairs whose chosen answer
scores higher, on a fixed 0–1 axis). The row appears with the first step that reports
them and stays hidden for SFT runs (:meth:`LivePlots.rewards_shown`).

Each curve is created once; a ``QTimer`` redraws at about 10 Hz with ``setData`` from
the :class:`~ftstudio.qt.training.metrics.MetricsHistory` buffers, and only when they
changed, so a step costs the GUI thread nothing but an append. ``clipToView`` and
``peak`` downsampling keep a redraw cheap at any run length (1M points: ~9 ms;
../shared/notes/performance-reliability.md §1.7); pens stay 1 px wide, since wider
pens are slow in Qt's raster engine.

While a run goes on, the plots are not painted by the event loop: a redraw renders a
plot into an image (``QWidget.grab``) that a plain ``QLabel`` on top of it shows.
Painting pyqtgraph calls Python from C++ for every item (paint, boundingRect…), and
each call must take the GIL back from the training thread, waiting up to the 5 ms
switch interval: painted by the event loop, one redraw stalled the GUI for 70–190 ms
while the tiny model trained (its loop is Python-bound). ``grab`` called from Python
keeps the GIL for the whole render (3–7 ms per plot on a slow CPU), and each timer
tick draws the changed plots that fit in :data:`TICK_BUDGET_MS`, the longest-waiting
first. When the run ends, the interactive plots (zoom, pan) are shown again.

pyqtgraph costs ~0.25 s to import, so the Train page imports this module when the
plots are first shown, not at startup.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPixmap, QResizeEvent
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QStackedLayout, QWidget

from ftstudio.qt.training.metrics import (
    REWARD_ACCURACIES,
    REWARD_MARGINS,
    MetricsHistory,
)

REDRAW_MS = 100
"""Redraw interval of the live curves (10 Hz)."""
REWARDS_MIN_HEIGHT = 600
"""The plots' least height with the rewards row: three rows of readable plots."""
TICK_BUDGET_MS = 12.0
"""Time one redraw tick may spend on plots (at least one is drawn): the GUI stays lively."""

PLOT_CURVES = {
    "loss": ("loss", "eval_loss"),
    "learning_rate": ("learning_rate",),
    "grad_norm": ("grad_norm",),
    "tokens_per_second": ("tokens_per_second",),
    "memory": ("memory_gb", "peak_memory_gb"),
    "reward_margin": (REWARD_MARGINS,),
    "reward_accuracy": (REWARD_ACCURACIES,),
}
"""The curves of each plot."""
REWARD_PLOTS = ("reward_margin", "reward_accuracy")
"""The plots of the rewards row, shown only for runs that report rewards (DPO)."""

COLORS = {
    "loss": "#3d6fd1",
    "eval_loss": "#e07b00",
    "learning_rate": "#2e7d32",
    "grad_norm": "#8e24aa",
    "tokens_per_second": "#00838f",
    "memory_gb": "#c62828",
    "peak_memory_gb": "#ef9a9a",
    REWARD_MARGINS: "#d81b60",
    REWARD_ACCURACIES: "#558b2f",
}
REFERENCE_COLOR = "#9e9e9e"
"""The dashed reference lines: margin 0 and accuracy 0.5 (a coin toss)."""

MEMORY_TITLES = {"gpu": "GPU memory (GiB)", "rss": "Process memory, RSS (GiB)"}


class LivePlots(QWidget):
    """Five live plots over one :class:`MetricsHistory`, and two more for DPO's rewards.

    Attributes:
        history: the buffers drawn.
        plots: the pyqtgraph ``PlotWidget`` per plot (``loss``, ``learning_rate``,
            ``grad_norm``, ``tokens_per_second``, ``memory``, and in the rewards row
            ``reward_margin`` and ``reward_accuracy``).
        snapshots: the ``QLabel`` per plot that shows it while :attr:`live`.
        cells: the widget holding each plot and its snapshot (hidden: not drawn).
        curves: the ``PlotDataItem`` per metric name of
            :data:`~ftstudio.qt.training.metrics.SERIES` and
            :data:`~ftstudio.qt.training.metrics.REWARD_SERIES`.
        timer: the redraw timer (runs while :attr:`live`).
        live: whether a run goes on (snapshots shown, redrawn by :attr:`timer`).
        redraws: how many plot redraws drew new data (for tests and benchmarks).

    Signals:
        sig_rewards_shown(bool): the rewards row was shown (a run reports rewards) or
            hidden again; the widget's minimum height changed with it.
    """

    sig_rewards_shown = Signal(bool)

    def __init__(self, history: MetricsHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("livePlots")
        self.history = history
        self.redraws = 0
        self.live = False
        self.plots: dict[str, Any] = {}
        self.snapshots: dict[str, QLabel] = {}
        self.cells: dict[str, QWidget] = {}
        self.curves: dict[str, Any] = {}
        self._stacks: dict[str, QStackedLayout] = {}
        self._drawn: dict[str, tuple[Any, ...]] = {}
        self._ages: dict[str, int] = {}
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        specs = (
            ("loss", "Loss (train and validation)", 0, 0, 2),
            ("learning_rate", "Learning rate", 0, 1, 1),
            ("grad_norm", "Gradient norm", 0, 2, 1),
            ("tokens_per_second", "Speed (tokens/s)", 1, 1, 1),
            ("memory", MEMORY_TITLES["rss"], 1, 2, 1),
            ("reward_margin", "Reward margin (chosen − rejected)", 2, 0, 1),
            ("reward_accuracy", "Reward accuracy (chosen preferred)", 2, 1, 1),
        )
        background = self.palette().base().color()
        for key, title, row, column, rows in specs:
            plot = _Plot(background=background)
            plot.setObjectName(f"plot-{key}")
            plot.setTitle(title, size="10pt")
            plot.setLabel("bottom", "step")
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
            snapshot = QLabel()
            snapshot.setObjectName(f"snapshot-{key}")
            snapshot.setAutoFillBackground(True)
            snapshot.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
            snapshot.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            snapshot.setMinimumSize(1, 1)
            cell = QWidget()
            cell.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            cell.setMinimumSize(200, 140)
            stack = QStackedLayout(cell)
            stack.setStackingMode(QStackedLayout.StackingMode.StackAll)  # both laid out
            stack.addWidget(plot)
            stack.addWidget(snapshot)
            stack.setCurrentWidget(plot)
            layout.addWidget(cell, row, column, rows, 2 if key == "reward_accuracy" else 1)
            self.cells[key] = cell
            self.plots[key] = plot
            self.snapshots[key] = snapshot
            self._stacks[key] = stack
            self._ages[key] = 0
        layout.setRowStretch(0, 1)
        layout.setRowStretch(1, 1)
        layout.setColumnStretch(0, 3)
        layout.setColumnStretch(1, 2)
        layout.setColumnStretch(2, 2)
        self.plots["loss"].addLegend(offset=(-10, 10))
        self.plots["memory"].addLegend(offset=(-10, -10))  # memory grows: bottom right is free

        def curve(name: str, plot: str, label: str | None = None, **style: Any) -> None:
            pen = pg.mkPen(COLORS[name], width=1, style=style.pop("line", Qt.PenStyle.SolidLine))
            self.curves[name] = self.plots[plot].plot(
                name=label, pen=pen, antialias=True, connect="finite", **style
            )

        curve("loss", "loss", "train")
        curve(
            "eval_loss",
            "loss",
            "validation",
            symbol="o",
            symbolSize=6,
            symbolBrush=COLORS["eval_loss"],
            symbolPen=COLORS["eval_loss"],
        )
        curve("learning_rate", "learning_rate")
        curve("grad_norm", "grad_norm")
        curve("tokens_per_second", "tokens_per_second")
        curve("memory_gb", "memory", "now")
        curve("peak_memory_gb", "memory", "peak", line=Qt.PenStyle.DashLine)
        self._build_reward_plots()

        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self._on_tick)

    def _build_reward_plots(self) -> None:
        """The rewards row: margin around a line at 0, accuracy on a fixed 0–1 axis
        around a line at 0.5 (a coin toss). Hidden until a run reports rewards."""
        reference = pg.mkPen(REFERENCE_COLOR, width=1, style=Qt.PenStyle.DashLine)
        for key, name, level in (
            ("reward_margin", REWARD_MARGINS, 0.0),
            ("reward_accuracy", REWARD_ACCURACIES, 0.5),
        ):
            plot = self.plots[key]
            plot.addItem(pg.InfiniteLine(pos=level, angle=0, pen=reference), ignoreBounds=True)
            self.curves[name] = plot.plot(
                pen=pg.mkPen(COLORS[name], width=1), antialias=True, connect="finite"
            )
        accuracy = self.plots["reward_accuracy"]
        accuracy.setYRange(-0.05, 1.08, padding=0)  # room for the labels of 0 and 1
        accuracy.enableAutoRange(axis="y", enable=False)
        accuracy.setLimits(yMin=-0.1, yMax=1.1)
        accuracy.getPlotItem().getAxis("left").setTicks(
            [[(v, f"{v:g}") for v in (0.0, 0.25, 0.5, 0.75, 1.0)]]
        )
        self._show_rewards(False)

    # ---- Public API
    def rewards_shown(self) -> bool:
        """Whether the rewards row is shown (the run reports rewards: DPO)."""
        return not self.cells["reward_margin"].isHidden()

    def start(self) -> None:
        """Live mode: each plot is shown as an image, redrawn from the timer."""
        self.live = True
        self._drawn.clear()  # snapshot every plot once
        self.redraw()
        for key, stack in self._stacks.items():
            stack.setCurrentWidget(self.snapshots[key])
        self.timer.start()

    def stop(self) -> None:
        """Back to the interactive plots (zoom, pan) after a last redraw."""
        self.timer.stop()
        self.live = False
        self.redraw()
        for key, stack in self._stacks.items():
            stack.setCurrentWidget(self.plots[key])

    def redraw(self) -> None:
        """Draw every plot whose data changed since it was last drawn."""
        self._sync_rows()
        for key in self._dirty():
            self._draw(key)

    def point_count(self, name: str) -> int:
        """How many points curve ``name`` holds (as last drawn)."""
        x, _y = self.curves[name].getOriginalDataset()
        return 0 if x is None else len(x)

    def export_png(self, path: Path) -> Path:
        """Save the plots as they look now to ``path`` (PNG); returns ``path``.

        Raises:
            OSError: the image could not be written.
        """
        self.redraw()
        image = QPixmap(self.size() * self.devicePixelRatioF())
        image.setDevicePixelRatio(self.devicePixelRatioF())
        image.fill(self.palette().window().color())
        painter = QPainter(image)
        for key, plot in self.plots.items():
            cell = self.cells[key]
            if not cell.isHidden():
                painter.drawPixmap(cell.pos(), plot.grab())
        painter.end()
        path = Path(path)
        if not image.save(str(path), "PNG"):
            raise OSError(
                f"Could not write the image {path}: check that the folder exists and is writable."
            )
        return path

    # ---- Qt events
    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        """Draw the snapshots again at the new size (while live)."""
        super().resizeEvent(event)
        if self.live:
            self._drawn.clear()

    # ---- Internals
    def _on_tick(self) -> None:
        """Redraw changed plots, the longest-waiting first, within a time budget per tick."""
        started = time.perf_counter()
        self._sync_rows()
        for key in sorted(self._dirty(), key=lambda k: self._ages[k]):
            self._draw(key)
            if (time.perf_counter() - started) * 1000 >= TICK_BUDGET_MS:
                break

    def _signature(self, key: str) -> tuple[Any, ...]:
        names = PLOT_CURVES[key]
        history = self.history
        sizes = tuple(len(history.series[name]) for name in names)
        size = (self.plots[key].width(), self.plots[key].height())
        return (history.generation, history.memory_kind, *sizes, *size)

    def _dirty(self) -> list[str]:
        return [
            key
            for key in self.plots
            if not self.cells[key].isHidden() and self._drawn.get(key) != self._signature(key)
        ]

    def _sync_rows(self) -> None:
        """Show the rewards row when the run reports rewards, hide it when not."""
        wanted = self.history.has_rewards()
        if wanted != self.rewards_shown():
            self._show_rewards(wanted)

    def _show_rewards(self, shown: bool) -> None:
        for key in REWARD_PLOTS:
            self.cells[key].setVisible(shown)
            self._drawn.pop(key, None)
        layout = self.layout()
        assert isinstance(layout, QGridLayout)
        layout.setRowStretch(2, 1 if shown else 0)
        self.setMinimumHeight(REWARDS_MIN_HEIGHT if shown else 0)
        self.sig_rewards_shown.emit(shown)

    def _draw(self, key: str) -> None:
        history = self.history
        if key == "memory":
            title = MEMORY_TITLES.get(history.memory_kind, MEMORY_TITLES["rss"])
            self.plots[key].setTitle(title, size="10pt")
        for name in PLOT_CURVES[key]:
            series = history.series[name]
            self.curves[name].setData(series.x, series.y)
        self._drawn[key] = self._signature(key)
        self._ages[key] = self.redraws
        self.redraws += 1
        if self.live:
            # Rendered from this Python call, the plot keeps the GIL throughout.
            self.snapshots[key].setPixmap(self.plots[key].grab())


class _Plot(pg.PlotWidget):
    """A plot that asks for a modest size (pyqtgraph asks for 640x480)."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(300, 180)
