"""The studio's look for tables of records (runs, evaluated examples, example losses)."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QTableView

ROW_HEIGHT = 26
"""Height of a table line, in pixels (one line of text)."""


def setup_record_table(
    table: QTableView,
    selection: QAbstractItemView.SelectionMode = QAbstractItemView.SelectionMode.SingleSelection,
) -> QTableView:
    """Make ``table`` a table of records: whole rows selected (``selection`` says how many),
    alternating colours, one line of text a row, no row numbers. Returns it."""
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(selection)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
    return table
