"""Table models of the Evaluate page: evaluated examples and per-example losses.

Adapters over the core's frozen rows (:class:`~ftstudio.core.evaluation.results.EvalExample`,
:class:`~ftstudio.core.evaluation.example_loss.ExampleLoss`); the full row is under
``Qt.UserRole``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QFont

from ftstudio.core.evaluation.example_loss import (
    FLAG_DUPLICATE,
    FLAG_LEAKAGE,
    FLAG_OUTLIER,
    ExampleLoss,
)
from ftstudio.core.evaluation.results import EvalExample
from ftstudio.qt.widgets.row_model import Index, RowTableModel

CELL_CHARS = 160
"""How much of a text a table cell shows (the detail pane shows it all)."""
TOOLTIP_CHARS = 1200

BETTER = QColor(46, 160, 67, 55)
"""Background of the better value (translucent green: readable on light and dark themes)."""

FLAG_LABELS = {
    FLAG_OUTLIER: "outlier",
    FLAG_DUPLICATE: "near-duplicate",
    FLAG_LEAKAGE: "leakage",
}
"""How the flags read in the table."""

FLAG_COLOURS = {
    FLAG_OUTLIER: QColor(220, 53, 69, 70),
    FLAG_LEAKAGE: QColor(111, 66, 193, 70),
    FLAG_DUPLICATE: QColor(245, 158, 11, 80),
}
"""Background of a flagged row's Flags cell, by its most serious flag (this order)."""


def one_line(text: str, limit: int = CELL_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def last_user_message(prompt: Sequence[dict[str, Any]]) -> str:
    """The content of the last user message of ``prompt`` (``""`` if none)."""
    for message in reversed(prompt):
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return ""


def format_metric(name: str, value: float | None) -> str:
    """A summary value as shown: exact match in %, ROUGE-L 0–1, BLEU 0–100, loss, perplexity."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "∞"
    if name == "exact_match":
        return f"{value * 100:.1f} %"
    if name == "rouge_l":
        return f"{value:.3f}"
    if name == "bleu":
        return f"{value:.1f}"
    if name == "loss":
        return f"{value:.4f}"
    return f"{value:,.2f}"


HIGHER_IS_BETTER = {
    "exact_match": True,
    "rouge_l": True,
    "bleu": True,
    "loss": False,
    "perplexity": False,
}
"""Each summary metric, and whether a higher value is the better one."""


def better_side(name: str, base: float | None, tuned: float | None) -> str | None:
    """``"base"``, ``"tuned"`` or ``None`` (a tie, or a value missing)."""
    if base is None or tuned is None or math.isnan(base) or math.isnan(tuned) or base == tuned:
        return None
    higher = HIGHER_IS_BETTER[name]
    return "tuned" if (tuned > base) == higher else "base"


class EvalExamplesModel(RowTableModel[EvalExample]):
    """The evaluated examples: prompt, reference, both answers and their ROUGE-L."""

    COLUMNS = (
        "#",
        "Line",
        "Prompt",
        "Reference",
        "Base answer",
        "Tuned answer",
        "ROUGE-L\nbase",
        "ROUGE-L\ntuned",
    )
    TEXT_COLUMNS = (2, 3, 4, 5)

    @property
    def examples(self) -> list[EvalExample]:
        """The examples shown."""
        return self.items

    def set_examples(self, examples: Sequence[EvalExample]) -> None:
        """Show ``examples``."""
        self.set_items(examples)

    def example(self, row: int) -> EvalExample:
        """The example in ``row``."""
        return self.item(row)

    def cell(self, example: EvalExample, row: int, column: int, role: int) -> Any:
        """Cells: short texts, scores; the better ROUGE-L highlighted."""
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(example, column)
        if role == Qt.ItemDataRole.ToolTipRole and column in self.TEXT_COLUMNS:
            return one_line(self._text(example, column), TOOLTIP_CHARS)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (0, 1, 6, 7):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole and column in (6, 7):
            side = better_side("rouge_l", example.base.get("rouge_l"), example.tuned.get("rouge_l"))
            if side == ("base" if column == 6 else "tuned"):
                return BETTER
        return None

    def _display(self, example: EvalExample, column: int) -> str:
        if column == 0:
            return str(example.index + 1)
        if column == 1:
            return str(example.line) if example.line else ""
        if column in self.TEXT_COLUMNS:
            return one_line(self._text(example, column))
        scores = example.base if column == 6 else example.tuned
        value = scores.get("rouge_l")
        return "" if value is None else f"{value:.3f}"

    @staticmethod
    def _text(example: EvalExample, column: int) -> str:
        if column == 2:
            return last_user_message(example.prompt)
        if column == 3:
            return example.reference
        return example.base_answer if column == 4 else example.tuned_answer


class ExampleLossModel(RowTableModel[ExampleLoss]):
    """Per-example losses, ranked by loss (highest first), flags coloured."""

    COLUMNS = ("Rank", "Split", "Line", "Loss", "Tokens", "Flags", "Why / preview")

    @property
    def rows(self) -> list[ExampleLoss]:
        """The rows shown, in order."""
        return self.items

    def set_rows(self, rows: Sequence[ExampleLoss]) -> None:
        """Show ``rows`` in the order given (the core ranks them)."""
        self.set_items(rows)

    def loss_row(self, row: int) -> ExampleLoss:
        """The row at ``row``."""
        return self.item(row)

    def cell(self, item: ExampleLoss, row: int, column: int, role: int) -> Any:
        """Cells; the Flags cell coloured by its most serious flag."""
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(item, row, column)
        if role == Qt.ItemDataRole.ToolTipRole and column in (5, 6):
            parts = [item.detail] if item.detail else []
            parts.append(item.preview)
            return "\n\n".join(part for part in parts if part)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (0, 2, 3, 4):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole and column == 5:
            for flag in (FLAG_OUTLIER, FLAG_LEAKAGE, FLAG_DUPLICATE):
                if flag in item.flags:
                    return FLAG_COLOURS[flag]
        if role == Qt.ItemDataRole.FontRole and column == 5 and item.flags:
            font = QFont()
            font.setBold(True)
            return font
        return None

    def _display(self, item: ExampleLoss, row: int, column: int) -> str:
        if column == 0:
            return str(row + 1)
        if column == 1:
            return "validation" if item.split == "val" else "training"
        if column == 2:
            return str(item.line) if item.line else ""
        if column == 3:
            return "n/a" if math.isnan(item.loss) else f"{item.loss:.4f}"
        if column == 4:
            return f"{item.tokens:,}"
        if column == 5:
            return ", ".join(FLAG_LABELS.get(flag, flag) for flag in item.flags)
        if item.detail:
            return one_line(f"{item.detail} · {item.preview}")
        return one_line(item.preview)


class FlaggedFilter(QSortFilterProxyModel):
    """Shows every row, or only flagged ones."""

    def __init__(self) -> None:
        super().__init__()
        self.flagged_only = False

    def set_flagged_only(self, flagged_only: bool) -> None:
        """Show only flagged rows (or all)."""
        self.beginFilterChange()
        self.flagged_only = flagged_only
        self.endFilterChange()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802
        """Whether the row passes the filter."""
        if not self.flagged_only:
            return True
        model = self.sourceModel()
        assert isinstance(model, ExampleLossModel)
        return bool(model.loss_row(source_row).flags)
