"""The Statistics panel: how the dataset compares with the guide, and its shape at a glance.

It shows the size-band verdict in plain words, a histogram of example lengths with the
training max length drawn on it, the tag balance, and turns, review and duplicate
counts. Lengths are in tokens once the document has counted them with the base model's
tokenizer (the counts are reused, not measured again), else in characters, with the
max length converted at about :data:`CHARS_PER_TOKEN` characters per token (and said so).

Statistics are recomputed after edits settle (:data:`REFRESH_DELAY_MS`) and only while
the panel is visible; large datasets are measured in a worker thread. pyqtgraph is
imported when the panel is first drawn, so opening the studio does not pay for it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ftstudio.qt.dataset.document import DatasetDocument
from ftstudio.qt.dataset.workers import TaskContext, TaskRunner
from ftstudio.qt.style import readable

REFRESH_DELAY_MS = 800
"""Quiet time after the last change before the statistics are measured again."""
INLINE_RECORDS = 2000
"""Up to this many records, statistics are measured in the GUI thread (milliseconds)."""
CHARS_PER_TOKEN = 4
"""Rough characters per token of English text, to place the max length on a character axis."""
HISTOGRAM_BINS = 30
MAX_TAG_BARS = 10

_BAND_COLOURS = {
    "empty": "#c62828",
    "below_minimum": "#c62828",
    "minimum": "#b26a00",
    "recommended": "#2e7d32",
    "ideal": "#2e7d32",
    "large": "#1565c0",
}


class StatsPanel(QWidget):
    """Size verdict, length histogram with the max length, tag balance, and counts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statsPanel")
        self.document: DatasetDocument | None = None
        self.stats: Any = None
        """The latest ``DatasetStats`` drawn (``None`` before the first)."""
        self.max_length = 2048
        self._stale = True
        self._histogram: Any = None
        self._tag_plot: Any = None
        self.max_line: Any = None
        """The pyqtgraph ``InfiniteLine`` marking the max length on the histogram."""
        self.histogram_bars: Any = None
        self.tag_bars: Any = None
        self._runner = TaskRunner(self)
        self._runner.sig_finished.connect(self._on_runner_finished)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_DELAY_MS)
        self._timer.timeout.connect(self.refresh)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 6, 4, 4)
        layout.setSpacing(8)
        self.verdict_label = QLabel()
        self.verdict_label.setObjectName("statsVerdict")
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.verdict_label)
        self.facts_label = QLabel()
        self.facts_label.setObjectName("statsFacts")
        self.facts_label.setWordWrap(True)
        self.facts_label.setTextFormat(Qt.TextFormat.RichText)
        self.facts_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.facts_label)
        self._plots = QVBoxLayout()
        self._plots.setSpacing(8)
        layout.addLayout(self._plots, 1)
        self.verdict_label.setText("Open a dataset to see its statistics.")

    # ---- Public API
    def set_document(self, document: DatasetDocument | None) -> None:
        """Measure ``document`` (now if visible, else when shown)."""
        signals = (
            "sig_reset",
            "sig_record_changed",
            "sig_rows_inserted",
            "sig_rows_removed",
            "sig_tokens_changed",
        )
        if self.document is not None:
            for name in signals:
                getattr(self.document, name).disconnect(self.refresh_later)
            self.document.sig_issues_changed.disconnect(self.refresh_later)
        self.document = document
        if document is not None:
            for name in signals:
                getattr(document, name).connect(self.refresh_later)
            document.sig_issues_changed.connect(self.refresh_later)
        self.refresh_later()

    def set_max_length(self, max_length: int) -> None:
        """Draw the training max length (tokens) on the histogram."""
        self.max_length = max_length
        if self.stats is not None:
            self._draw_text(self.stats)
            self._draw_histogram(self.stats)

    @Slot()
    def refresh_later(self, *_args: object) -> None:
        """Measure again once edits settle (only while visible)."""
        self._stale = True
        if self.isVisible():
            self._timer.start()

    @Slot()
    def refresh(self) -> None:
        """Measure now (in a worker for large datasets) and redraw."""
        from dataclasses import replace

        from ftstudio.core.dataset.stats import compute_stats

        self._timer.stop()
        self._stale = False
        if self.document is None:
            return
        snapshot = replace(self.document.dataset, records=list(self.document.dataset.records))
        issues = list(self.document.issues)
        if not self.document.is_validated():
            issues = None  # stale: let compute_stats check the records itself
        # Counted tokens are looked up, not tokenised again (an edit is counted at once).
        tokens = self.document.tokens if self.document.tokens_known() else None
        max_length = self.max_length

        def task(context: TaskContext) -> Any:
            context.phase("Measuring the dataset", 0.0, 1.0)
            return compute_stats(
                snapshot,
                issues=issues,
                tokenizer=tokens,
                max_length=max_length if tokens is not None else None,
                progress=context.progress,
                cancel=context.cancelled,
            )

        self._runner.start(task, "Statistics", inline=len(snapshot.records) <= INLINE_RECORDS)

    def shutdown(self) -> None:
        """Stop timers and background work."""
        self._timer.stop()
        self._runner.shutdown()

    # ---- Qt events
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """Measure when first shown or when edits happened while hidden."""
        super().showEvent(event)
        if self._stale:
            self._timer.start(0)

    # ---- Drawing
    @Slot(object)
    def _on_runner_finished(self, stats: Any) -> None:
        self.stats = stats
        self._draw_text(stats)
        self._ensure_plots()
        self._draw_histogram(stats)
        self._draw_tags(stats)

    def _draw_text(self, stats: Any) -> None:
        colour = readable(_BAND_COLOURS.get(stats.band.name, "#444444"), self.palette())
        self.verdict_label.setText(
            f"<span style='color:{colour}; font-weight:600'>{stats.band.verdict}</span>"
        )
        facts = [
            f"{stats.records:,} examples in the file: {stats.usable:,} usable, "
            f"{stats.with_errors:,} with errors, {stats.rejected:,} rejected"
            + (f", {stats.unparseable:,} unreadable" if stats.unparseable else ""),
        ]
        if stats.turns is not None:
            facts.append(
                f"Turns per example: {stats.turns.min:g}–{stats.turns.max:g} "
                f"(median {stats.turns.median:g})"
            )
        if stats.example_tokens is not None and stats.trained_tokens is not None:
            over = sum(1 for count in stats.token_counts if count > self.max_length)
            facts.append(
                f"Length: median {stats.example_tokens.median:,.0f} tokens, "
                f"95% under {stats.example_tokens.p95:,.0f}, longest "
                f"{stats.example_tokens.max:,.0f}; trained tokens: median "
                f"{stats.trained_tokens.median:,.0f}"
                + (f"; {over:,} longer than the max length" if over else "")
            )
        elif stats.example_chars is not None:
            facts.append(
                f"Length: median {stats.example_chars.median:,.0f} characters, "
                f"95% under {stats.example_chars.p95:,.0f}"
            )
        exact = sum(len(group) - 1 for group in stats.exact_duplicates)
        near = sum(len(group) - 1 for group in stats.near_duplicates)
        facts.append(
            f"Duplicates: {exact:,} exact copies, {near:,} near copies"
            if exact or near
            else "No duplicates"
        )
        variants = len(stats.system_prompts)
        facts.append(
            f"System prompts: {variants} variant{'s' if variants != 1 else ''}"
            + (
                f", {stats.no_system_prompt:,} examples without one"
                if stats.no_system_prompt
                else ""
            )
        )
        review = stats.review
        facts.append(
            f"Review: {review.get('approved', 0):,} approved, {review.get('draft', 0):,} draft, "
            f"{review.get('rejected', 0):,} rejected"
        )
        self.facts_label.setText("<br>".join(facts))

    def _ensure_plots(self) -> None:
        if self._histogram is not None:
            return
        import pyqtgraph as pg

        class Plot(pg.PlotWidget):
            """A plot that asks for a modest size (pyqtgraph asks for 640x480)."""

            def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
                return QSize(320, 170)

        self._histogram = Plot(background=None)
        self._histogram.setObjectName("lengthHistogram")
        self._histogram.setMenuEnabled(False)
        self._histogram.setMouseEnabled(x=False, y=False)
        self._histogram.hideButtons()
        self._histogram.setLabel("left", "examples")
        self._tag_plot = Plot(background=None)
        self._tag_plot.setObjectName("tagBalance")
        self._tag_plot.setMenuEnabled(False)
        self._tag_plot.setMouseEnabled(x=False, y=False)
        self._tag_plot.hideButtons()
        self._tag_plot.setTitle("Tag balance")
        self._tag_plot.setLabel("bottom", "examples")
        self._tag_plot.invertY(True)  # the most used tag on top
        for plot in (self._histogram, self._tag_plot):
            plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            plot.setMinimumSize(160, 120)
            self._plots.addWidget(plot, 1)

    def _draw_histogram(self, stats: Any) -> None:
        if self._histogram is None:
            return
        import numpy as np
        import pyqtgraph as pg

        tokens = bool(stats.token_counts)
        values = np.asarray(stats.token_counts if tokens else stats.char_counts, dtype=float)
        unit = "tokens" if tokens else "characters"
        limit = float(self.max_length if tokens else self.max_length * CHARS_PER_TOKEN)
        plot = self._histogram
        plot.clear()
        plot.setTitle(f"Example length in {unit}")
        plot.setLabel("bottom", unit)
        if values.size:
            top = max(float(values.max()), 1.0)
            counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(0.0, top))
            self.histogram_bars = pg.BarGraphItem(
                x0=edges[:-1], x1=edges[1:], height=counts, brush="#5b8def", pen="#3d6fd1"
            )
            plot.addItem(self.histogram_bars)
        label = f"max length {self.max_length:,}" if tokens else f"max length ≈ {int(limit):,}"
        self._histogram.setToolTip(
            f"The red line is the training max length ({self.max_length:,} tokens"
            + (
                ""
                if tokens
                else f", about {int(limit):,} characters at ~{CHARS_PER_TOKEN} per token"
            )
            + "): what lies beyond it is cut off and not learnt."
        )
        self.max_line = pg.InfiniteLine(
            pos=limit,
            angle=90,
            pen=pg.mkPen(readable("#c62828"), width=1, style=Qt.PenStyle.DashLine),
            label=label,
            labelOpts={"position": 0.92, "color": readable("#c62828"), "anchors": [(1, 0), (1, 0)]},
        )
        plot.addItem(self.max_line)
        upper = max(float(values.max()) if values.size else 0.0, limit) * 1.05
        plot.setXRange(0, upper, padding=0)

    def _draw_tags(self, stats: Any) -> None:
        if self._tag_plot is None:
            return
        import pyqtgraph as pg

        plot = self._tag_plot
        plot.clear()
        items = list(stats.tags.items())[:MAX_TAG_BARS]
        if stats.untagged:
            items.append(("(untagged)", stats.untagged))
        if not items:
            plot.setTitle("Tag balance: no tags yet")
            return
        plot.setTitle("Tag balance")
        names = [name for name, _ in items]
        counts = [count for _, count in items]
        # Horizontal bars: tag names stay readable on the left axis.
        self.tag_bars = pg.BarGraphItem(
            x0=0, y=list(range(len(items))), width=counts, height=0.7,
            brush="#7cb342", pen="#558b2f",
        )  # fmt: skip
        plot.addItem(self.tag_bars)
        axis = plot.getAxis("left")
        axis.setTicks([[(n, _short(name)) for n, name in enumerate(names)]])
        plot.setYRange(-0.6, len(items) - 0.4, padding=0)
        plot.setXRange(0, max(counts) * 1.05, padding=0)


def _short(name: str, limit: int = 12) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
