"""The Issues panel: the list, its filters, and the quick fixes with undo."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from ftstudio.core.dataset.formats import load_dataset
from ftstudio.qt.dataset.document import DatasetDocument
from ftstudio.qt.dataset.issues_panel import IssuesPanel, StringifyPreviewDialog
from tests.qt.dataset.data import BAD_LINES, wait_loaded


@pytest.fixture
def panel(qtbot, bad_file: Path, sample_project) -> IssuesPanel:  # noqa: ANN001
    doc = DatasetDocument(project_folder=sample_project.folder)
    doc.autosave_delay_ms = 60_000
    with qtbot.waitSignal(doc.sig_reset, timeout=20_000):
        doc.open_file(bad_file)
    wait_loaded(qtbot, doc)
    widget = IssuesPanel()
    qtbot.addWidget(widget)
    widget.set_document(doc)
    return widget


def rows(panel: IssuesPanel) -> list[tuple[str, str, str, str]]:
    model = panel.model
    return [
        tuple(model.index(r, c).data() for c in range(4))  # type: ignore[misc]
        for r in range(model.rowCount())
    ]


def test_every_issue_is_listed_with_line_and_field(panel: IssuesPanel) -> None:
    assert rows(panel) == [
        ("2", "error", "invalid_json", ""),
        ("3", "error", "role_order", "messages[0].role"),
        ("4", "error", "data_type", ""),
        ("5", "warning", "surrounding_whitespace", "messages[0].content"),
        ("5", "warning", "surrounding_whitespace", "messages[1].content"),
        ("6", "warning", "duplicate_example", ""),
        ("7", "error", "missing_content", "messages[0].content"),
        ("7", "error", "missing_content", "messages[1].content"),
    ]
    assert panel.summary_label.text() == "5 errors · 3 warnings"
    assert "line 1" in panel.model.index(5, 4).data()


def test_filters_by_severity_and_code(panel: IssuesPanel) -> None:
    panel.set_filter(severity="warning")
    assert [r[2] for r in rows(panel)] == ["surrounding_whitespace"] * 2 + ["duplicate_example"]
    panel.set_filter(code="missing_content")
    assert [r[0] for r in rows(panel)] == ["7", "7"]
    panel.set_filter()
    assert len(rows(panel)) == 8


def test_activating_an_issue_names_its_example_and_field(panel: IssuesPanel, qtbot) -> None:
    with qtbot.waitSignal(panel.sig_issue_activated) as activated:
        panel.activate_row(1)
    assert activated.args == [2, "messages[0].role"]


def test_strip_whitespace_is_one_undo_step(panel: IssuesPanel) -> None:
    doc = panel.document
    assert panel.strip_button.isEnabled()
    panel.strip_button.click()
    messages = doc.record(4).data["messages"]
    assert [m["content"] for m in messages] == ["pad", "ok"]
    assert "surrounding_whitespace" not in [r[2] for r in rows(panel)]
    assert not panel.strip_button.isEnabled()
    assert doc.undo_stack.count() == 1
    doc.undo_stack.undo()
    assert [m["content"] for m in doc.record(4).data["messages"]] == ["  pad  ", "ok "]
    assert not doc.record(4).edited, "undo restores the original line exactly"


def test_remove_duplicates_asks_first(panel: IssuesPanel, bad_file: Path) -> None:
    doc = panel.document
    panel.duplicates_button.click()
    box = panel.last_dialog
    assert isinstance(box, QMessageBox)
    assert "Remove 1 example that repeats an earlier example exactly" in box.text()
    assert "Lines removed: 6" in box.informativeText()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert len(doc) == len(BAD_LINES)
    panel.duplicates_button.click()
    remove = next(b for b in panel.last_dialog.buttons() if b.text() == "Remove")
    remove.click()
    assert len(doc) == len(BAD_LINES) - 1
    doc.save()
    assert BAD_LINES[5] not in bad_file.read_text().splitlines()[1:]
    doc.undo_stack.undo()
    assert len(doc) == len(BAD_LINES)
    assert doc.record(5).raw == BAD_LINES[5]


def test_stringify_shows_before_and_after_then_applies(panel: IssuesPanel, bad_file) -> None:
    doc = panel.document
    panel.stringify_button.click()
    dialog = panel.last_dialog
    assert isinstance(dialog, StringifyPreviewDialog)
    table = dialog.table
    shown = [[table.item(r, c).text() for c in range(4)] for r in range(table.rowCount())]
    assert shown == [
        ["7", "messages[0].content", "42", "42"],
        ["7", "messages[1].content", '["a", {"type": "text", "text": "b"}]', "a\nb"],
    ]
    dialog.reject()
    assert doc.record(6).data["messages"][0]["content"] == 42
    panel.stringify_button.click()
    panel.last_dialog.apply_button.click()
    assert [m["content"] for m in doc.record(6).data["messages"]] == ["42", "a\nb"]
    assert "missing_content" not in [r[2] for r in rows(panel)]
    doc.save()
    saved = load_dataset(bad_file).records[6].data["messages"]
    assert [m["content"] for m in saved] == ["42", "a\nb"]
    doc.undo_stack.undo()
    assert doc.record(6).data["messages"][0]["content"] == 42
