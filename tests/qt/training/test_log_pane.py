"""The training log: lines in order, warnings and errors highlighted."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor

from ftstudio.qt.training.log_pane import HIGHLIGHT, MAX_LINES, LogPane
from ftstudio.qt.training.text import ERROR, INFO, WARNING, LogLine


@pytest.fixture
def pane(qtbot) -> LogPane:  # noqa: ANN001
    widget = LogPane()
    qtbot.addWidget(widget)
    return widget


def block_background(pane: LogPane, number: int) -> QColor:
    return pane.document().findBlockByNumber(number).blockFormat().background().color()


def test_lines_appear_in_order_and_warnings_are_highlighted(pane: LogPane) -> None:
    pane.add(LogLine(INFO, "Training started"))
    pane.add(LogLine(WARNING, "Warning: the validation loss rises"))
    pane.add(LogLine(ERROR, "The run failed: out of memory"))
    assert pane.toPlainText().splitlines() == [
        "Training started",
        "Warning: the validation loss rises",
        "The run failed: out of memory",
    ]
    assert block_background(pane, 0) != QColor(HIGHLIGHT[WARNING][1])
    assert block_background(pane, 1) == QColor(HIGHLIGHT[WARNING][1])
    assert block_background(pane, 2) == QColor(HIGHLIGHT[ERROR][1])
    assert [line.level for line in pane.highlighted()] == [WARNING, ERROR]


def test_clear_and_limits(pane: LogPane) -> None:
    pane.add_text("one")
    pane.clear()
    assert pane.toPlainText() == ""
    assert pane.entries == []
    with pytest.raises(ValueError, match="Unknown log level"):
        pane.add(LogLine("loud", "x"))
    assert pane.maximumBlockCount() == MAX_LINES
    assert pane.isReadOnly()
