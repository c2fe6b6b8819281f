"""A parity report as a checklist: a verdict banner, each check with its numbers, notes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.parity import ParityCheck, ParityReport
from ftstudio.qt.style import readable, readable_background

PASS_COLOUR = "#2e7d32"
FAIL_COLOUR = "#c62828"
BANNER_STYLE = (
    "QLabel {{ background: {background}; color: {colour}; border: 1px solid {colour}; "
    "border-radius: 6px; padding: 8px 12px; font-weight: 600; }}"
)
CHECK_NAMES = {
    "logits": "Logits match",
    "conversion": "GGUF reads back exactly",
    "greedy": "Same greedy tokens",
    "top1": "Same most likely token",
    "no_pickles": "Safetensors only",
    "tokenizer": "Tokenizer loads",
    "eos": "End-of-sequence token",
    "base_model": "Base model named",
    "stop_tokens": "Stop tokens",
    "chat_template": "Chat template",
    "gguf_metadata": "GGUF metadata",
    "gguf_tensors": "GGUF tensor types",
    "gguf_vocab": "GGUF vocabulary",
    "gguf_tokenizer": "GGUF tokenizer",
    "modelfile": "Ollama Modelfile",
    "modelfile_from": "Modelfile FROM",
    "ollama_template": "Ollama template",
    "ollama_stop": "Ollama stop tokens",
}
"""Plain names for the checks the engine runs; others show their own name."""


def check_title(check: ParityCheck) -> str:
    """A check's plain name (``logits`` → ``Logits match``)."""
    return CHECK_NAMES.get(check.name, check.name.replace("_", " ").capitalize())


def number(value: float | None) -> str:
    """A measured value: small ones in scientific notation (``3.1e-06``)."""
    if value is None:
        return ""
    if value != 0 and abs(value) < 1e-2:
        return f"{value:.2e}"
    return f"{value:.4g}"


def value_text(check: ParityCheck) -> str:
    """The measured value against its limit, in the check's terms; ``""`` without one.

    ``greedy`` counts prompts (``4 of 4 prompts``), other counts read ``3 of 4``,
    ``top1`` is a share that must
    reach its limit (``97.5%, needs 90%``), the others a difference that must stay
    within it (``3.10e-06, limit 1.00e-03``).
    """
    value, limit = check.value, check.limit
    if value is None:
        return ""
    if limit is None:
        return number(value)
    if check.name == "greedy":
        return f"{value:g} of {limit:g} prompts"
    if float(value).is_integer() and float(limit).is_integer() and limit >= 1:
        return f"{value:g} of {limit:g}"  # a count: examples that matched
    if check.name == "top1":
        return f"{value:.1%}, needs {limit:.0%}"
    return f"{number(value)}, limit {number(limit)}"


class ParityView(QWidget):
    """Shows one :class:`~ftstudio.core.parity.ParityReport`.

    Attributes:
        report: the report shown (``None``: the placeholder text).
        banner: the verdict line, green when every check passed, red otherwise.
        checks: one row per check: mark, name, value against limit, message.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: ParityReport | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.banner = QLabel()
        self.banner.setObjectName("parityVerdict")
        self.banner.setWordWrap(True)
        layout.addWidget(self.banner)
        self.numbers = QLabel()
        self.numbers.setWordWrap(True)
        self.numbers.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.numbers)
        self.checks = QTreeWidget()
        self.checks.setObjectName("parityChecks")
        self.checks.setHeaderLabels(["", "Check", "Measured", "What was found"])
        self.checks.setRootIsDecorated(False)
        self.checks.setAlternatingRowColors(True)
        self.checks.setUniformRowHeights(False)
        self.checks.setWordWrap(True)
        self.checks.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.checks.setStyleSheet("QTreeWidget::item { padding: 3px 6px 3px 2px; }")
        header = self.checks.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.checks)
        self.notes = QLabel()
        self.notes.setObjectName("muted")
        self.notes.setWordWrap(True)
        layout.addWidget(self.notes)
        self.set_report(None)

    def set_report(self, report: ParityReport | None, placeholder: str = "") -> None:
        """Show ``report`` (``None``: ``placeholder`` alone)."""
        self.report = report
        self.checks.clear()
        if report is None:
            self.banner.setVisible(False)
            self.checks.setVisible(False)
            self.notes.setVisible(False)
            self.numbers.setText(placeholder)
            self.numbers.setObjectName("muted")
            self.numbers.setVisible(bool(placeholder))
            return
        colour = PASS_COLOUR if report.passed else FAIL_COLOUR
        colour = readable(colour, self.palette())
        background = readable_background("#e8f5e9" if report.passed else "#fdecea", self.palette())
        failed = report.failed_checks
        if report.passed:
            verdict = (
                f"Parity passed: the {report.format} export answers like the trained model "
                f"({len(report.checks)} of {len(report.checks)} checks)."
            )
        else:
            names = ", ".join(check_title(check) for check in failed) or "the verdict"
            verdict = (
                f"Parity FAILED: {len(failed)} of {len(report.checks)} checks failed ({names}). "
                "The export is kept; read the checks below before using it."
            )
        self.banner.setText(verdict)
        self.banner.setStyleSheet(BANNER_STYLE.format(background=background, colour=colour))
        self.banner.setVisible(True)
        self.numbers.setObjectName("")
        self.numbers.setText(self._numbers_text(report))
        self.numbers.setVisible(True)
        for check in report.checks:
            mark = "✓" if check.passed else "✗"
            item = QTreeWidgetItem([mark, check_title(check), value_text(check), check.message])
            item.setForeground(0, QColor(readable(PASS_COLOUR if check.passed else FAIL_COLOUR)))
            item.setTextAlignment(0, Qt.AlignmentFlag.AlignCenter)
            item.setToolTip(1, check.name)
            item.setToolTip(3, check.message)
            item.setData(0, Qt.ItemDataRole.UserRole, check.passed)
            self.checks.addTopLevelItem(item)
        self.checks.setVisible(bool(report.checks))
        rows = max(1, len(report.checks))
        row = self.checks.fontMetrics().height() + 7
        header = self.checks.header().sizeHint().height()
        self.checks.setFixedHeight(min(400, header + rows * row + 6))
        self.notes.setText("\n".join(f"Note: {note}" for note in report.notes))
        self.notes.setVisible(bool(report.notes))

    def rows(self) -> list[tuple[str, str, str, str]]:
        """The checklist as text rows (mark, check, measured, message)."""
        return [
            tuple(self.checks.topLevelItem(i).text(c) for c in range(4))  # type: ignore[misc]
            for i in range(self.checks.topLevelItemCount())
        ]

    @staticmethod
    def _numbers_text(report: ParityReport) -> str:
        parts = []
        if report.reference:
            parts.append(f"Compared with {report.reference}")
        if report.prompts:
            parts.append(f"{report.prompts} prompt{'s' if report.prompts != 1 else ''}")
        if report.max_abs_logit_diff is not None:
            limit = f" (limit {number(report.tolerance)})" if report.tolerance is not None else ""
            parts.append(f"largest logit difference {number(report.max_abs_logit_diff)}{limit}")
        if report.greedy_equal is not None:
            parts.append("greedy tokens " + ("identical" if report.greedy_equal else "differ"))
        if report.top1_agreement is not None:
            parts.append(f"top-1 agreement {report.top1_agreement:.0%}")
        if report.stop_tokens:
            parts.append("stops at " + ", ".join(report.stop_tokens))
        return " · ".join(parts)
