"""Links to an example (from the Evaluate page): the main window shows the Dataset page,
opens the file and selects the record at that physical line, in the table and the editor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from ftstudio.core.settings import SettingsStore
from ftstudio.qt.main_window import MainWindow
from ftstudio.qt.pages.dataset import DatasetPage
from tests.qt.dataset.data import chat, wait_loaded, write_jsonl

LINE = 70
"""A line far down datasets/it_support.jsonl (77 chats): the table has to scroll."""


@pytest.fixture
def window(qtbot, user_dirs, sample_project):  # noqa: ANN001, ANN201
    from ftstudio.qt.dataset.workers import wait_for_all_threads

    win = MainWindow(SettingsStore(user_dirs["config"]), remember=False)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.set_project(sample_project)
    win.show()
    qtbot.waitExposed(win)
    win.show_page("guide")
    yield win
    win.dataset_page.shutdown()
    wait_for_all_threads(30_000)


def support_file(project) -> Path:  # noqa: ANN001
    return project.folder / "datasets" / "it_support.jsonl"


def preferences_file(project) -> Path:  # noqa: ANN001
    return project.folder / "datasets" / "preferences.jsonl"


def assert_revealed(qtbot, page: DatasetPage, path: Path, line: int) -> None:  # noqa: ANN001
    """The record starting at ``line`` of ``path`` is selected, in view and in the editor."""
    text = path.read_text(encoding="utf-8").splitlines()[line - 1]
    assert page.document.path == path
    record = page.current_record
    assert record is not None
    assert page.document.record(record).line == line
    assert page.document.record(record).data == json.loads(text)
    assert page.selected_records() == [record]
    table = page.table
    current = table.selectionModel().currentIndex()
    assert page.proxy.record_at(current.row()) == record
    assert table.viewport().rect().intersects(table.visualRect(current))  # scrolled to
    assert page.side_tabs.currentWidget() is page.editor
    qtbot.waitUntil(lambda: page.editor.index == record)
    assert page.editor.title_label.text().endswith(f"line {line}")


def test_reveal_opens_the_file_and_selects_the_line(qtbot, window, sample_project) -> None:  # noqa: ANN001
    page = window.dataset_page
    assert page.open_path(preferences_file(sample_project))  # another file is open
    wait_loaded(qtbot, page.document)
    path = support_file(sample_project)
    assert window.reveal_example(path, LINE)
    assert window.current_page() is page
    assert_revealed(qtbot, page, path, LINE)
    # Already open: only the selection moves.
    assert window.reveal_example(path, 3)
    assert_revealed(qtbot, page, path, 3)


def test_filters_that_hide_the_example_are_cleared(qtbot, window, sample_project) -> None:  # noqa: ANN001
    page = window.dataset_page
    page.review_filter.setCurrentIndex(page.review_filter.findData("rejected"))
    assert page.proxy.rowCount() == 0
    path = support_file(sample_project)
    assert window.reveal_example(path, LINE)
    assert_revealed(qtbot, page, path, LINE)


def test_unsaved_edits_of_a_project_file_are_saved_before_switching(
    qtbot,  # noqa: ANN001
    window,  # noqa: ANN001
    sample_project,  # noqa: ANN001
) -> None:
    page = window.dataset_page
    preferences = preferences_file(sample_project)
    page.open_path(preferences)
    data = dict(page.document.record(0).data)
    data["source"] = "edited before the link was followed"
    page.document.replace_record_data(0, data, "Edit")
    assert page.document.is_dirty()
    path = support_file(sample_project)
    assert window.reveal_example(path, LINE)
    assert "edited before the link was followed" in preferences.read_text(encoding="utf-8")
    assert_revealed(qtbot, page, path, LINE)


def test_unsaved_edits_elsewhere_are_asked_about(
    qtbot,  # noqa: ANN001
    window,  # noqa: ANN001
    sample_project,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    page = window.dataset_page
    outside = write_jsonl(tmp_path / "mine.jsonl", [chat("hi", "hello"), chat("bye", "see you")])
    page.open_path(outside)
    page.document.replace_record_data(0, chat("hi there", "hello"), "Edit")
    answers: list[str] = []

    def answer(button: QMessageBox.StandardButton) -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        answers.append(box.text())
        box.button(button).click()

    path = support_file(sample_project)
    QTimer.singleShot(0, lambda: answer(QMessageBox.StandardButton.Cancel))
    assert not window.reveal_example(path, LINE)  # the user kept the open file
    assert page.document.path == outside
    assert page.document.is_dirty()
    QTimer.singleShot(0, lambda: answer(QMessageBox.StandardButton.Discard))
    assert window.reveal_example(path, LINE)
    assert len(answers) == 2
    assert "mine.jsonl" in answers[0]
    assert_revealed(qtbot, page, path, LINE)
    assert "hi there" not in outside.read_text(encoding="utf-8")


def test_a_file_loading_in_the_background_is_revealed_once_loaded(
    qtbot,  # noqa: ANN001
    window,  # noqa: ANN001
    sample_project,  # noqa: ANN001
) -> None:
    page = window.dataset_page
    page.open_path(preferences_file(sample_project))
    page.document.inline_load_bytes = 0  # every file loads in a worker thread
    path = support_file(sample_project)
    assert window.reveal_example(path, LINE)
    assert page.document.path != path  # still loading
    assert page.document.loader.is_running()
    qtbot.waitUntil(lambda: page.document.path == path and page.current_record == LINE - 1)
    wait_loaded(qtbot, page.document)
    assert_revealed(qtbot, page, path, LINE)


def test_a_line_without_an_example_is_said(qtbot, window, sample_project) -> None:  # noqa: ANN001
    path = support_file(sample_project)
    assert not window.reveal_example(path, 500)
    page = window.dataset_page
    assert page.document.path == path
    assert page.status_label.text().startswith("No example at line 500 of it_support.jsonl")
    assert window.statusBar().currentMessage() == page.status_label.text()


def test_a_line_appended_since_the_file_was_opened_is_read(
    qtbot,  # noqa: ANN001
    window,  # noqa: ANN001
    sample_project,  # noqa: ANN001
) -> None:
    path = support_file(sample_project)
    page = window.dataset_page
    assert page.document.path == path  # the training file opens with the project
    lines = path.read_text(encoding="utf-8").splitlines()
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(chat("A question added later?", "An answer.")) + "\n")
    assert window.reveal_example(path, len(lines) + 1)
    assert_revealed(qtbot, page, path, len(lines) + 1)


def test_the_evaluate_pages_links_reveal_examples(qtbot, window, sample_project) -> None:  # noqa: ANN001
    evaluate = next((page for page in window.pages if page.key == "evaluate"), None)
    if evaluate is None:
        pytest.skip("the Evaluate page is not in the navigation yet")
    path = support_file(sample_project)
    evaluate.sig_reveal_example.emit(path, LINE)
    assert window.current_page() is window.dataset_page
    assert_revealed(qtbot, window.dataset_page, path, LINE)
