"""The Dataset page in the main window: files, table, filters, saving, drops, progress."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from ftstudio.core.dataset.formats import load_dataset
from ftstudio.core.settings import SettingsStore
from ftstudio.qt.dataset.table_model import COL_FIRST, COL_LENGTH
from ftstudio.qt.main_window import MainWindow
from ftstudio.qt.pages.dataset import DatasetPage
from tests.qt.dataset.data import BAD_LINES, chat, wait_loaded, write_jsonl
from tests.qt.helpers import drop


@pytest.fixture
def window(qtbot, user_dirs, sample_project):  # noqa: ANN001, ANN201
    win = MainWindow(SettingsStore(user_dirs["config"]), remember=False)
    qtbot.addWidget(win)
    win.set_project(sample_project)
    win.show_page("dataset")
    yield win
    win.dataset_page.shutdown()


def shown_texts(page: DatasetPage) -> list[str]:
    return [page.proxy.index(r, COL_FIRST).data() for r in range(page.proxy.rowCount())]


def test_the_training_dataset_opens_with_the_project(window, qtbot, sample_project) -> None:
    page = window.dataset_page
    path = sample_project.folder / "datasets" / "it_support.jsonl"
    examples = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert page.document.path == path
    assert page.table.model().rowCount() == len(examples)
    assert page.count_label.text() == f"{len(examples)} examples"
    items = [page.file_combo.itemText(i) for i in range(page.file_combo.count())]
    assert items == ["it_support.jsonl  (train)", "preferences.jsonl  (preferences)"]
    assert page.current_record == 0
    qtbot.waitUntil(lambda: page.editor.index == 0)  # the editor follows the selection
    assert page.status_label.text() == "Saved"


def test_switching_files_with_the_combo(window, qtbot, sample_project) -> None:
    page = window.dataset_page
    page.file_combo.setCurrentIndex(1)
    page.file_combo.activated.emit(1)
    wait_loaded(qtbot, page.document)
    preferences = sample_project.folder / "datasets" / "preferences.jsonl"
    assert page.document.path == preferences
    assert page.document.dataset.kind == "preference"
    assert page.proxy.rowCount() == len(load_dataset(preferences))


def test_search_filter_and_sort_controls(window, qtbot) -> None:
    page = window.dataset_page
    total = page.proxy.rowCount()
    qtbot.keyClicks(page.search_edit, "vpn")
    qtbot.waitUntil(lambda: page.proxy.rowCount() < total)
    assert all(
        "vpn" in json.dumps(page.document.record(page.proxy.record_at(r)).data).lower()
        for r in range(page.proxy.rowCount())
    )
    assert page.count_label.text().endswith(f"{page.proxy.rowCount()} shown")
    page.review_filter.setCurrentIndex(page.review_filter.findData("rejected"))
    assert page.proxy.rowCount() == 0
    page.clear_filters()
    assert page.proxy.rowCount() == total
    page.refresh_filter_choices()  # what opening the list does
    tags = [page.tag_filter.itemData(i) for i in range(page.tag_filter.count())]
    assert "vpn" in tags
    page.tag_filter.setCurrentIndex(tags.index("vpn"))
    assert 0 < page.proxy.rowCount() < total
    page.clear_filters()
    header = page.table.horizontalHeader()
    x = header.sectionViewportPosition(COL_LENGTH) + 5
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    assert page.proxy.sort_column() == COL_LENGTH
    lengths = [
        int(page.proxy.index(r, COL_LENGTH).data().replace(",", ""))
        for r in range(page.proxy.rowCount())
    ]
    assert lengths == sorted(lengths) or lengths == sorted(lengths, reverse=True)


def test_a_file_with_bad_lines_shows_them_and_issues_navigate(window, qtbot, bad_file) -> None:
    page = window.dataset_page
    page.open_path(bad_file)
    wait_loaded(qtbot, page.document)
    assert page.proxy.rowCount() == len(BAD_LINES), "no line is dropped"
    assert page.proxy.index(1, COL_FIRST).data() == "Unreadable line: {not json"
    assert page.bottom_tabs.tabText(0) == "Issues (8)"
    panel = page.issues_panel
    codes = [panel.model.issue(r).code for r in range(panel.model.rowCount())]
    assert codes[:3] == ["invalid_json", "role_order", "data_type"]
    row = codes.index("missing_content")
    panel.view.show()
    rect = panel.view.visualRect(panel.model.index(row, 2))
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert page.current_record == 6
    assert page.side_tabs.currentWidget() is page.editor
    assert page.editor.index == 6
    page.review_filter.setCurrentIndex(page.review_filter.findData("approved"))
    assert page.proxy.row_of(2) < 0
    panel.activate_row(codes.index("role_order"))
    assert page.current_record == 2, "a filter hiding the example is cleared"
    assert page.proxy.rowCount() == len(BAD_LINES)


def test_ctrl_s_and_the_edit_menu(window, qtbot, sample_project) -> None:
    page = window.dataset_page
    doc = page.document
    doc.autosave_delay_ms = 60_000
    data = json.loads(json.dumps(doc.record(3).data))
    data["tags"] = ["edited-here"]
    doc.replace_record_data(3, data, "Tag")
    assert page.status_label.text().startswith("Unsaved changes")
    assert window.undo_action.isEnabled()
    assert window.undo_action.text() == "&Undo Tag"
    window.undo_action.trigger()
    assert "edited-here" not in json.dumps(doc.record(3).data)
    window.redo_action.trigger()
    assert doc.record(3).data["tags"] == ["edited-here"]
    window.show()
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow())
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert not doc.is_dirty()
    path = sample_project.folder / "datasets" / "it_support.jsonl"
    assert load_dataset(path).records[3].data["tags"] == ["edited-here"]
    assert page.status_label.text().startswith("Saved at ")
    assert path.with_name("it_support.orig.jsonl").is_file()
    items = [page.file_combo.itemText(i) for i in range(page.file_combo.count())]
    assert not any(".orig." in item for item in items), "backups are not offered"
    qtbot.keyClick(page.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "edited-here" not in json.dumps(doc.record(3).data), "Ctrl+Z undoes"
    assert doc.is_dirty()


def test_reload_keeps_the_open_file_and_saves_first(window, qtbot, bad_file) -> None:
    page = window.dataset_page
    page.open_path(bad_file)
    doc = page.document
    doc.set_raw_text(1, json.dumps(chat("fixed", "now")), "Fix line")
    window.reload_action.trigger()
    assert doc.path == bad_file
    assert not doc.is_dirty()
    assert json.loads(bad_file.read_text().splitlines()[1])["messages"][0]["content"] == "fixed"


def test_new_and_delete_examples_are_undoable(window) -> None:
    page = window.dataset_page
    total = len(page.document)
    page.select_record(4)
    page.add_example()
    assert len(page.document) == total + 1
    assert page.current_record == 5
    assert page.proxy.index(5, COL_FIRST).data() == "(no user message)"
    page.delete_selected()
    assert len(page.document) == total
    page.document.undo_stack.undo()
    page.document.undo_stack.undo()
    assert len(page.document) == total


@pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent.*:DeprecationWarning")
def test_dropping_a_csv_imports_it(window, qtbot, tmp_path, sample_project) -> None:
    csv = tmp_path / "faq.csv"
    csv.write_text(
        'system,user,assistant\nBe brief.,"Where is the printer, please?","Room 3, by the door."\n',
        encoding="utf-8",
    )
    window.show_page("guide")
    drop(window, csv)
    wait_loaded(qtbot, window.dataset_page.document)
    page = window.dataset_page
    target = sample_project.folder / "datasets" / "faq.jsonl"
    assert window.current_page() is page
    assert page.document.path == target
    assert page.proxy.index(0, COL_FIRST).data() == "Where is the printer, please?"
    assert page.status_label.text() == "Imported faq.csv as datasets/faq.jsonl"
    assert page.file_combo.currentText() == "faq.jsonl"
    row = json.loads(target.read_text().splitlines()[0])
    assert row["messages"][2] == {"role": "assistant", "content": "Room 3, by the door."}


def test_an_unreadable_file_is_explained(window, tmp_path) -> None:
    page = window.dataset_page
    before = page.document.path
    page.open_path(tmp_path / "nowhere.jsonl")
    box = page.last_message_box
    assert box is not None
    assert box.isVisible()
    assert "nowhere.jsonl" in box.text()
    assert page.document.path == before, "the open file stays open"
    box.done(QMessageBox.StandardButton.Ok)


def test_progress_and_cancel_while_a_large_file_loads(window, qtbot, tmp_path) -> None:
    page = window.dataset_page
    before = len(page.document)
    rows = [chat(f"question {n} " * 30 + "?", f"answer {n} " * 60 + ".") for n in range(6000)]
    big = write_jsonl(tmp_path / "big.jsonl", rows)
    page.document.inline_load_bytes = 0
    window.show()
    with qtbot.waitSignal(page.document.loader.sig_cancelled, timeout=20_000):
        page.open_path(big)
        assert page.progress_row.isVisible()
        assert page.progress_label.text().startswith("Opening big.jsonl")
        qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.progress_row.isVisible())
    assert len(page.document) == before


def test_splitters_are_remembered(qtbot, window) -> None:
    page = window.dataset_page
    page.splitter.setSizes([700, 300])
    page.left_splitter.setSizes([350, 250])
    page.save_layout()
    wanted = (page.splitter.sizes(), page.left_splitter.sizes())
    again = DatasetPage()
    qtbot.addWidget(again)
    assert (again.splitter.sizes(), again.left_splitter.sizes()) == wanted
    again.shutdown()


def test_the_page_renders_the_table(window, qtbot) -> None:
    window.resize(1200, 780)
    window.show()
    qtbot.waitExposed(window)
    page = window.dataset_page
    assert page.table.isVisible()
    assert page.editor.isVisible()
    image: QImage = page.table.viewport().grab().toImage()
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), 5) for y in range(0, image.height(), 5)
    }
    assert len(colours) > 10, "the table shows text, not an empty view"
    assert page.table.rowAt(0) == 0
    assert page.table.columnWidth(COL_FIRST) > 120, "the first message column is readable"
