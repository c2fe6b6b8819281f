"""The Statistics panel: verdict, length histogram with the max length, tag balance."""

from __future__ import annotations

import pytest

from ftstudio.core.dataset.stats import size_band
from ftstudio.qt.dataset.document import DatasetDocument
from ftstudio.qt.dataset.stats_panel import CHARS_PER_TOKEN, StatsPanel
from tests.qt.dataset.data import chat, wait_loaded, write_jsonl


@pytest.fixture
def panel(qtbot, tmp_path) -> StatsPanel:  # noqa: ANN001
    rows = [chat(f"question {n}", "answer " * (n + 1), tags=["vpn"] if n % 3 else ["printing"])
            for n in range(30)]  # fmt: skip
    rows.append(chat("question 0", "answer "))  # an exact copy of the first
    doc = DatasetDocument()
    with qtbot.waitSignal(doc.sig_reset, timeout=20_000):
        doc.open_file(write_jsonl(tmp_path / "thirty.jsonl", rows))
    wait_loaded(qtbot, doc)
    widget = StatsPanel()
    qtbot.addWidget(widget)
    widget.set_document(doc)
    widget.resize(900, 300)
    with qtbot.waitSignal(widget._runner.sig_finished, timeout=10_000):
        widget.show()
    return widget


def test_verdict_and_facts_in_plain_words(panel: StatsPanel) -> None:
    stats = panel.stats
    assert stats.usable == 31
    assert size_band(31).verdict in panel.verdict_label.text()
    facts = panel.facts_label.text()
    assert "31 examples in the file: 31 usable" in facts
    assert "Turns per example: 2–2" in facts
    assert "1 exact copies" in facts


def test_histogram_with_the_max_length_line(panel: StatsPanel) -> None:
    bars = panel.histogram_bars
    heights = bars.opts["height"]
    assert sum(heights) == panel.stats.usable
    assert panel.max_line.value() == panel.max_length * CHARS_PER_TOKEN
    assert "max length" in panel.max_line.label.toPlainText()
    panel.set_max_length(16)
    assert panel.max_line.value() == 16 * CHARS_PER_TOKEN


def test_tag_balance_bars(panel: StatsPanel) -> None:
    widths = list(panel.tag_bars.opts["width"])
    assert widths == [20, 10, 1]  # the copy has no tags
    ticks = panel._tag_plot.getAxis("left")._tickLevels[0]
    assert [name for _, name in ticks] == ["vpn", "printing", "(untagged)"]


def test_redraws_after_edits_settle(panel: StatsPanel, qtbot) -> None:
    doc = panel.document
    doc.remove_records(list(range(10)), "Delete")
    assert panel.stats.usable == 31, "not redrawn on every edit"
    with qtbot.waitSignal(panel._runner.sig_finished, timeout=5000):
        pass
    assert panel.stats.usable == 21
