"""The live memory bar: the estimate's parts stacked against the GPU, with the verdict.

The bar shows five groups of the core's breakdown (model weights; adapters, gradients
and optimizer; activations; logits and loss; CUDA and allocator overhead) against the
GPU's memory, with a tick where "fits" ends (90 %). Its tooltip lists every part. The
verdict (fits / tight / won't fit) and the cheapest change that makes the run fit sit
beside it, and the GPU chooser picks the card: the detected one, or a size.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.memory import FITS_SHARE, MemoryEstimate, Suggestion
from ftstudio.qt.wizard.gpu import GpuReport
from ftstudio.qt.wizard.values import (
    DEFAULT_GPU,
    GPU_CHOICES,
    GpuChoice,
    budget_choice,
    escape,
)

GROUPS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "Model weights",
        ("weights", "quant_constants", "embeddings", "fp32_upcast", "reference"),
        "#4e79a7",
    ),
    ("Training state", ("adapters", "gradients", "optimizer"), "#f28e2b"),
    ("Activations", ("activations", "recompute"), "#59a14f"),
    ("Logits and loss", ("logits",), "#b07aa1"),
    ("CUDA overhead", ("cuda_context", "allocator"), "#9d9d9d"),
)
"""(label, breakdown keys, colour) of the bar's segments, in drawing order."""
VERDICT_COLOURS = {"fits": "#2e7d32", "tight": "#b26a00", "won't fit": "#c62828"}
VERDICT_WORDS = {"fits": "Fits", "tight": "Tight", "won't fit": "Won't fit"}


def grouped(estimate: MemoryEstimate) -> list[tuple[str, float, str]]:
    """``(label, GiB, colour)`` of each segment group of ``estimate``."""
    return [
        (label, sum(estimate.breakdown.get(key, 0.0) for key in keys), colour)
        for label, keys, colour in GROUPS
    ]


def capacity_text(gb: float) -> str:
    """A GPU's memory as its maker says it: ``24 GB`` for the 23.99 GiB torch reports."""
    return f"{gb:.0f} GB" if gb >= 10 else f"{gb:.1f} GB"


def gb_text(gb: float) -> str:
    """GiB for the legend: ``12 GB``, ``1.2 GB``, ``<0.1 GB``."""
    if gb >= 10:
        return f"{gb:.0f} GB"
    return f"{gb:.1f} GB" if gb >= 0.05 else "<0.1 GB"


class StackedBar(QWidget):
    """A horizontal bar: coloured segments against a capacity, with a 90 % tick."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.segments: list[tuple[str, float, str]] = []
        self.capacity = 0.0
        self.setMinimumHeight(20)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_segments(self, segments: list[tuple[str, float, str]], capacity: float) -> None:
        """Show ``segments`` (label, value, colour) against ``capacity``."""
        self.segments, self.capacity = segments, capacity
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """Wide and thin."""
        return QSize(400, 20)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        """Draw the track, the segments, the 90 % tick and (when over) the GPU's end."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        total = sum(value for _, value, _ in self.segments)
        scale = max(self.capacity, total, 1e-9)
        clip = QPainterPath()
        clip.addRoundedRect(rect, 4, 4)
        painter.fillPath(clip, self.palette().midlight())
        painter.setClipPath(clip)
        x = rect.left()
        for _, value, colour in self.segments:
            width = rect.width() * value / scale
            painter.fillRect(QRectF(x, rect.top(), width, rect.height()), QColor(colour))
            x += width
        painter.setClipping(False)
        if self.capacity > 0:
            tick = rect.left() + rect.width() * FITS_SHARE * self.capacity / scale
            pen = QPen(self.palette().text().color(), 1, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawLine(int(tick), int(rect.top()), int(tick), int(rect.bottom()))
            if total > self.capacity:
                end = rect.left() + rect.width() * self.capacity / scale
                painter.setPen(QPen(QColor(VERDICT_COLOURS["won't fit"]), 2))
                painter.drawLine(int(end), int(rect.top()), int(end), int(rect.bottom()))
        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.drawRoundedRect(rect, 4, 4)
        painter.end()


class MemoryBar(QFrame):
    """The estimate against the GPU, the verdict, the fix, and the GPU chooser.

    Signals:
        sig_gpu_changed(object): the user picked another :class:`GpuChoice`.
        sig_apply_requested(object): the user asked to apply a memory
            :class:`~ftstudio.core.memory.Suggestion`.
    """

    sig_gpu_changed = Signal(object)
    sig_apply_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.estimate: MemoryEstimate | None = None
        self.suggestion: Suggestion | None = None
        self.budget_gb = 0.0
        self._report: GpuReport | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(6)

        top = QHBoxLayout()
        top.setSpacing(10)
        title = QLabel("GPU memory")
        title.setObjectName("cardTitle")
        top.addWidget(title)
        self.total_label = QLabel()
        top.addWidget(self.total_label)
        self.verdict_label = QLabel()
        self.verdict_label.setObjectName("memoryVerdict")
        top.addWidget(self.verdict_label)
        top.addStretch(1)
        self.gpu_status = QLabel("Looking for a GPU…")
        self.gpu_status.setObjectName("muted")
        top.addWidget(self.gpu_status)
        self.gpu_combo = QComboBox()
        self.gpu_combo.setToolTip(
            "The GPU to plan for: the one found on this computer, or the card you will train on."
        )
        self.gpu_combo.setAccessibleName("GPU to plan for")
        self.gpu_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        top.addWidget(self.gpu_combo)
        layout.addLayout(top)

        self.bar = StackedBar()
        layout.addWidget(self.bar)
        self.legend_label = QLabel()
        self.legend_label.setWordWrap(True)
        self.legend_label.setToolTip(
            "Model weights: the base model (4-bit under QLoRA) with its 16-bit embeddings. "
            "Training state: what learns (the adapters, or every weight in full "
            "fine-tuning), its gradients and optimizer states. Activations: kept for the "
            "backward pass. Logits and loss: the output layer's scores. CUDA overhead: the "
            "CUDA context and the allocator's caching. Hover the bar for every part."
        )
        layout.addWidget(self.legend_label)

        fix = QHBoxLayout()
        fix.setSpacing(8)
        self.suggestion_label = QLabel()
        self.suggestion_label.setWordWrap(True)
        fix.addWidget(self.suggestion_label, 1)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Make this change to the settings")
        self.apply_button.clicked.connect(self._on_apply_clicked)
        fix.addWidget(self.apply_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(fix)
        self.note_label = QLabel()
        self.note_label.setObjectName("muted")
        self.note_label.setWordWrap(True)
        layout.addWidget(self.note_label)

        for label in (
            self.total_label,
            self.verdict_label,
            self.legend_label,
            self.suggestion_label,
            self.note_label,
        ):
            label.setTextFormat(Qt.TextFormat.RichText)
        self.set_gpus(None)
        self.gpu_combo.currentIndexChanged.connect(self._on_gpu_index_changed)
        self.set_estimate(None)

    # ---- Public API
    def gpu(self) -> GpuChoice:
        """The GPU chosen now."""
        choice = self.gpu_combo.currentData()
        return choice if isinstance(choice, GpuChoice) else DEFAULT_GPU

    def set_budget(self, memory_gb: float) -> None:
        """Plan for ``memory_gb`` of GPU memory (Settings ▸ Models & GPU) unless the user
        picks another GPU; 0 plans for the detected GPU (24 GB when none is found)."""
        self.budget_gb = max(0.0, float(memory_gb))
        self.set_gpus(self._report)

    def set_gpus(self, report: GpuReport | None) -> None:
        """Offer the settings' budget (and choose it), then the detected GPUs (choosing
        the first when there is no budget), then the usual sizes.

        ``None``: detection is still running.
        """
        self._report = report
        detected = list(report.gpus) if report is not None else []
        budget = [budget_choice(self.budget_gb)] if self.budget_gb > 0 else []
        if report is None:
            status = "Looking for a GPU…"
        elif report.error:
            status = "GPU not detected; choose yours:"
        elif detected:
            status = "Detected:"
        else:
            status = "No CUDA GPU found; plan for:"
        self.gpu_status.setText(status)
        self.gpu_status.setToolTip(report.error if report is not None else "")
        previous = self.gpu()
        self.gpu_combo.blockSignals(True)
        self.gpu_combo.clear()
        for choice in (*budget, *detected, *GPU_CHOICES):
            self.gpu_combo.addItem(choice.label, choice)
        keep = previous if report is None or not detected else detected[0]
        if budget:
            keep = budget[0]
        index = self._index_of(keep)
        self.gpu_combo.setCurrentIndex(index if index >= 0 else self._index_of(DEFAULT_GPU))
        self.gpu_combo.blockSignals(False)
        if self.gpu() != previous:
            self.sig_gpu_changed.emit(self.gpu())

    def set_estimate(self, estimate: MemoryEstimate | None, note: str = "") -> None:
        """Show ``estimate`` (``None``: no model to estimate, with ``note`` saying why)."""
        self.estimate = estimate
        if estimate is None:
            self.total_label.setText("—")
            self.verdict_label.setText("")
            self.bar.set_segments([], self.gpu().memory_gb)
            self.bar.setToolTip("")
            self.legend_label.setText("")
            self.legend_label.setVisible(False)
            self._show_fix(None, note or "Choose a model to estimate the memory.")
            return
        verdict = estimate.verdict
        self.total_label.setText(
            f"<b>{estimate.total_gb:.1f} GB</b> of {capacity_text(estimate.gpu_gb)}"
        )
        colour = VERDICT_COLOURS[verdict]
        self.verdict_label.setText(
            f"<span style='color:white; background:{colour}'>&nbsp;{VERDICT_WORDS[verdict]}"
            "&nbsp;</span>"
        )
        self.verdict_label.setAccessibleName(f"Verdict: {VERDICT_WORDS[verdict]}")
        segments = grouped(estimate)
        self.bar.set_segments(segments, estimate.gpu_gb)
        rows = "".join(
            f"<tr><td>{escape(label)}</td><td align='right'>&nbsp;{gb:.2f} GB</td></tr>"
            for _, label, gb in estimate.rows()
        )
        self.bar.setToolTip(
            f"<table>{rows}<tr><td><b>Total</b></td><td align='right'><b>&nbsp;"
            f"{estimate.total_gb:.2f} GB</b></td></tr></table>"
        )
        self.legend_label.setVisible(True)
        self.legend_label.setText(
            " &nbsp; ".join(
                f"<span style='white-space:nowrap'><span style='color:{colour}'>■</span> "
                f"{escape(label)} {escape(gb_text(gb))}</span>"
                for label, gb, colour in segments
                if gb > 0
            )
        )
        suggestion = estimate.suggestions[0] if estimate.suggestions else None
        notes = [note] if note else []
        notes += list(estimate.caveats)
        self._show_fix(suggestion, " ".join(notes))

    # ---- Internals
    def _show_fix(self, suggestion: Suggestion | None, note: str) -> None:
        self.suggestion = suggestion
        if suggestion is not None:
            self.suggestion_label.setText(
                f"<b>Cheapest change that fits:</b> {escape(suggestion.text)}"
            )
        self.suggestion_label.setVisible(suggestion is not None)
        self.apply_button.setVisible(suggestion is not None)
        self.note_label.setText(escape(note))
        self.note_label.setVisible(bool(note))

    def _index_of(self, choice: GpuChoice) -> int:
        for index in range(self.gpu_combo.count()):
            if self.gpu_combo.itemData(index) == choice:
                return index
        return -1

    @Slot(int)
    def _on_gpu_index_changed(self, _index: int) -> None:
        self.sig_gpu_changed.emit(self.gpu())

    @Slot()
    def _on_apply_clicked(self) -> None:
        if self.suggestion is not None:
            self.sig_apply_requested.emit(self.suggestion)
