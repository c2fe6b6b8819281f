"""The examples table model and its search/filter/sort proxy, over real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QHeaderView, QTableView

from ftstudio.core.dataset.records import Record
from ftstudio.qt.dataset.document import DatasetDocument
from ftstudio.qt.dataset.table_model import (
    ANY_ISSUE,
    COL_FIRST,
    COL_ISSUES,
    COL_LENGTH,
    COL_LINE,
    COL_REVIEW,
    COL_TAGS,
    COL_TURNS,
    ERROR,
    ERRORS_ONLY,
    HEADERS,
    NO_ISSUES,
    SORT_CHUNK,
    UNTAGGED,
    WARNING,
    DatasetTableModel,
    ExampleFilterProxy,
    FilterSpec,
    responsive_sort,
    summarize,
)
from tests.qt.dataset.data import chat, wait_loaded, write_jsonl


def make(qtbot, path: Path) -> tuple[DatasetDocument, DatasetTableModel, ExampleFilterProxy]:  # noqa: ANN001
    doc = DatasetDocument()
    model = DatasetTableModel(doc)
    proxy = ExampleFilterProxy()
    proxy.setSourceModel(model)
    with qtbot.waitSignal(doc.sig_reset, timeout=20_000):
        doc.open_file(path)
    wait_loaded(qtbot, doc)
    return doc, model, proxy


def shown(proxy: ExampleFilterProxy, column: int = COL_FIRST) -> list[str]:
    return [proxy.index(row, column).data() for row in range(proxy.rowCount())]


@pytest.fixture
def curated(tmp_path) -> Path:  # noqa: ANN001
    rows = [
        chat("Reset my password", "Use the reset link.", tags=["accounts"], review="approved"),
        chat("Printer is jammed", "Open tray 2." * 30, tags=["printing"]),
        chat("VPN drops", "Reconnect.", tags=["vpn", "network"], review="rejected"),
        chat("Hello", "Hi! How can I help?"),
        {"messages": [{"role": "assistant", "content": "I speak first"}]},
        "{broken",
    ]
    return write_jsonl(tmp_path / "curated.jsonl", rows)


def test_rows_are_the_examples_with_their_summary(qtbot, sample_project) -> None:
    path = sample_project.folder / "datasets" / "it_support.jsonl"
    doc, model, proxy = make(qtbot, path)
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    assert model.rowCount() == len(lines) == proxy.rowCount() == len(doc)
    first = json.loads(lines[0])
    assert model.index(0, COL_FIRST).data() == first["messages"][1]["content"]
    assert model.index(0, COL_TURNS).data() == len(first["messages"])
    chars = sum(len(m["content"]) for m in first["messages"])
    assert model.index(0, COL_LENGTH).data() == f"{chars:,}"
    assert model.index(0, COL_TAGS).data() == ", ".join(first["tags"])
    assert model.index(0, COL_REVIEW).data() == "draft"
    assert model.index(0, COL_LINE).data() == "1"
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(7)] == list(HEADERS)
    assert "token" in model.headerData(
        COL_LENGTH, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole
    )


def test_issue_column_shows_count_and_worst_severity(qtbot, curated) -> None:
    _doc, model, _proxy = make(qtbot, curated)
    assert model.index(0, COL_ISSUES).data() == ""
    assert model.worst_severity(4) == ERROR
    assert model.index(4, COL_ISSUES).data() == "1"
    assert "role_order" in model.index(4, COL_ISSUES).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(4, COL_ISSUES).data(Qt.ItemDataRole.DecorationRole) is not None
    assert model.index(5, COL_FIRST).data() == "Unreadable line: {broken"
    assert model.index(5, COL_FIRST).data(Qt.ItemDataRole.FontRole).italic()
    assert model.worst_severity(0) == 0


def test_an_edit_updates_its_row_and_issues(qtbot, curated) -> None:
    doc, model, _proxy = make(qtbot, curated)
    with qtbot.waitSignal(model.dataChanged):
        doc.replace_record_data(4, chat("Now the user asks", "and I answer"), "Fix order")
    assert model.index(4, COL_FIRST).data() == "Now the user asks"
    assert model.issue_count(4) == 0
    doc.replace_record_data(0, chat("  padded ", "answer"), "Pad")
    assert model.worst_severity(0) == WARNING


def test_search_filters_and_sort(qtbot, curated) -> None:
    _doc, _model, proxy = make(qtbot, curated)
    proxy.set_filter(FilterSpec(text="TRAY 2"))  # case-insensitive, searches answers too
    assert shown(proxy) == ["Printer is jammed"]
    proxy.set_filter(FilterSpec(text="network"))  # tags are searched
    assert shown(proxy) == ["VPN drops"]
    proxy.set_filter(FilterSpec(review="rejected"))
    assert shown(proxy) == ["VPN drops"]
    proxy.set_filter(FilterSpec(tag=UNTAGGED))
    assert len(shown(proxy)) == 3
    proxy.set_filter(FilterSpec(tag="printing"))
    assert shown(proxy) == ["Printer is jammed"]
    proxy.set_filter(FilterSpec(issue=ERRORS_ONLY))
    assert [proxy.record_at(r) for r in range(proxy.rowCount())] == [4, 5]
    proxy.set_filter(FilterSpec(issue="role_order"))
    assert [proxy.record_at(r) for r in range(proxy.rowCount())] == [4]
    proxy.set_filter(FilterSpec(issue=NO_ISSUES))
    assert [proxy.record_at(r) for r in range(proxy.rowCount())] == [0, 1, 2, 3]
    proxy.set_filter(FilterSpec(issue=ANY_ISSUE, min_chars=5))
    assert [proxy.record_at(r) for r in range(proxy.rowCount())] == [4, 5]
    proxy.set_filter(FilterSpec(min_chars=100))
    assert shown(proxy) == ["Printer is jammed"]
    proxy.set_filter(FilterSpec(max_chars=20))
    assert "Printer is jammed" not in shown(proxy)
    proxy.set_filter(FilterSpec())
    proxy.sort(COL_LENGTH, Qt.SortOrder.DescendingOrder)
    assert shown(proxy)[0] == "Printer is jammed"
    proxy.sort(COL_FIRST)
    assert shown(proxy)[:3] == ["(no user message)", "Hello", "Printer is jammed"]
    proxy.sort(-1)
    assert [proxy.record_at(r) for r in range(proxy.rowCount())] == list(range(6))


def test_rows_added_and_removed_under_a_filter_and_sort(qtbot, curated) -> None:
    doc, _model, proxy = make(qtbot, curated)
    proxy.set_filter(FilterSpec(issue=NO_ISSUES))
    proxy.sort(COL_FIRST)
    assert shown(proxy) == ["Hello", "Printer is jammed", "Reset my password", "VPN drops"]
    doc.insert_records(1, [Record(chat("Added", "now"), edited=True)], "Add")
    assert "Added" in shown(proxy), "new examples stay visible"
    assert proxy.record_at(shown(proxy).index("Reset my password")) == 0
    assert proxy.record_at(shown(proxy).index("Printer is jammed")) == 2
    doc.remove_records([0, 3], "Delete")  # Reset my password, VPN drops
    assert sorted(shown(proxy)) == ["Added", "Hello", "Printer is jammed"]
    for row in range(proxy.rowCount()):
        record = proxy.record_at(row)
        assert proxy.index(row, COL_FIRST).data() == summarize(doc.record(record))[1]
        assert proxy.row_of(record) == row
    doc.undo_stack.undo()
    assert "VPN drops" in shown(proxy)


def test_selection_follows_rows_through_removal(qtbot, curated) -> None:
    doc, _model, proxy = make(qtbot, curated)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.selectionModel().setCurrentIndex(
        proxy.index(3, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    doc.remove_records([0], "Delete")
    current = view.selectionModel().currentIndex()
    assert proxy.record_at(current.row()) == 2
    assert current.siblingAtColumn(COL_FIRST).data() == "Hello"


def test_large_tables_filter_in_the_background(qtbot, tmp_path) -> None:
    rows = [chat(f"question {n}", f"answer {n}", tags=["even" if n % 2 == 0 else "odd"])
            for n in range(300)]  # fmt: skip
    _doc, _model, proxy = make(qtbot, write_jsonl(tmp_path / "many.jsonl", rows))
    proxy.INLINE_LIMIT = 10
    with qtbot.waitSignal(proxy.sig_refiltered, timeout=10_000):
        proxy.set_filter(FilterSpec(text="question 29"))
    assert shown(proxy) == ["question 29"] + [f"question {n}" for n in range(290, 300)]
    with qtbot.waitSignal(proxy.sig_refiltered, timeout=10_000):
        proxy.sort(COL_FIRST, Qt.SortOrder.DescendingOrder)
    assert shown(proxy)[0] == "question 299"


def test_fixed_row_heights_in_a_view(qtbot, sample_project) -> None:
    _doc, _model, proxy = make(qtbot, sample_project.folder / "datasets" / "it_support.jsonl")
    view = QTableView()
    qtbot.addWidget(view)
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    view.verticalHeader().setDefaultSectionSize(22)
    view.setModel(proxy)
    view.resize(600, 300)
    view.show()
    qtbot.waitExposed(view)
    assert {view.rowHeight(row) for row in range(proxy.rowCount())} == {22}


@pytest.mark.parametrize("descending", [False, True])
def test_responsive_sort_matches_a_stable_sort(descending: bool) -> None:
    keys = [(n * 7919) % 97 for n in range(3 * SORT_CHUNK + 5)]  # many ties
    rows = list(range(len(keys)))[::2]
    expected = sorted(rows, key=keys.__getitem__, reverse=descending)
    assert responsive_sort(rows, keys.__getitem__, descending) == expected
