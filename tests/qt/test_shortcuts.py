"""Keyboard shortcuts: collected from the window, without clashes, in the cheat sheet."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication

from ftstudio.core.settings import SettingsStore
from ftstudio.qt.dialogs.shortcuts import ShortcutsDialog
from ftstudio.qt.main_window import MainWindow
from ftstudio.qt.shortcuts import EVERYWHERE, ShortcutEntry, add_shortcut, conflicts


@pytest.fixture
def window(qtbot, user_dirs, sample_project):  # noqa: ANN001, ANN201
    win = MainWindow(SettingsStore(user_dirs["config"]))
    qtbot.addWidget(win)
    win.set_project(sample_project)
    win.dataset_page.flush_selection()  # the editor shows the first example's turns
    return win


def _keys(entries: list[ShortcutEntry], group: str) -> dict[str, str]:
    return {e.keys: e.description for e in entries if e.group == group}


def test_every_shortcut_is_unique_where_it_works(window) -> None:
    entries = window.shortcut_entries()
    assert conflicts(entries) == []
    for entry in entries:
        assert entry.description, f"{entry.keys} in {entry.group} says nothing"
        assert not QKeySequence(entry.keys).isEmpty()
    # One menu shortcut per key everywhere.
    menu_keys = [e.keys for e in entries if e.group == EVERYWHERE]
    assert len(menu_keys) == len(set(menu_keys))


def test_the_list_has_navigation_help_and_the_pages_keys(window) -> None:
    entries = window.shortcut_entries()
    everywhere = _keys(entries, EVERYWHERE)
    for index, page in enumerate(window.pages, start=1):
        assert everywhere[f"Ctrl+{index}"] == f"Show the {page.title} page"
    assert "F1" in everywhere
    assert "Ctrl+/" in everywhere
    assert everywhere["Ctrl+Shift+P"] == "Plan a Training Run"
    assert "Ctrl+Z" in everywhere
    assert "Ctrl+Shift+Z" in everywhere
    assert "Ctrl+Q" in everywhere
    evaluate = [e for e in entries if e.group == "Evaluate"]
    assert ("Ctrl+Return", "Send the prompt to both models") in {
        (e.keys, e.description) for e in evaluate
    }
    dataset = _keys(entries, "Dataset")
    assert dataset["Ctrl+F"] == "Search the examples"
    assert "Del" in dataset
    assert "Alt+Up" in dataset  # a turn of the editor: move it up
    assert _keys(entries, "Train")["Ctrl+Return"] == "Start training"
    assert _keys(entries, "Export")["Ctrl+Return"] == "Export"
    assert "Del" in _keys(entries, "Runs")
    assert "Alt+Left" in _keys(entries, "Guide")


def test_a_clash_is_found(window) -> None:
    """The check can fail: a page shortcut on a menu's keys clashes."""
    add_shortcut(window.page("runs"), "Ctrl+1", "Something else", lambda: None)
    found = conflicts(window.shortcut_entries())
    assert [(a.keys, b.keys) for a, b in found] == [("Ctrl+1", "Ctrl+1")]
    # The same keys on two pages do not clash (one page is shown at a time) …
    entries = [
        ShortcutEntry("Train", "Ctrl+Return", "a", "train"),
        ShortcutEntry("Export", "Ctrl+Return", "b", "export"),
    ]
    assert conflicts(entries) == []
    # … nor in two tabs (each works while the focus is in its own tab).
    playground, eval_view = window.page("evaluate").playground, window.page("evaluate").eval_view
    entries = [
        ShortcutEntry("Evaluate", "Esc", "a", "evaluate", playground),
        ShortcutEntry("Evaluate", "Esc", "b", "evaluate", eval_view),
    ]
    assert conflicts(entries) == []
    entries.append(ShortcutEntry("Evaluate", "Esc", "c", "evaluate", None))
    assert len(conflicts(entries)) == 2


def test_the_cheat_sheet_lists_them_grouped(window, qtbot) -> None:
    window.shortcuts_action.trigger()
    dialog = window.shortcuts_dialog
    assert isinstance(dialog, ShortcutsDialog)
    assert dialog.isVisible()
    assert not dialog.isModal()
    assert window.shortcuts_action.shortcut().toString() == "Ctrl+/"
    groups = dialog.groups()
    assert groups[0] == EVERYWHERE
    assert {"Dataset", "Train", "Evaluate", "Runs", "Export"} <= set(groups)
    navigation = [row for row in dialog.rows(EVERYWHERE) if row[1].startswith("Show the")]
    assert len(navigation) == 6
    native = QKeySequence.SequenceFormat.NativeText
    send = ", ".join(QKeySequence(k).toString(native) for k in ("Ctrl+Return", "Ctrl+Enter"))
    assert (send, "Send the prompt to both models") in dialog.rows("Evaluate")
    redo = next(keys for keys, what in dialog.rows(EVERYWHERE) if what == "Redo")
    assert "Ctrl+Shift+Z" in redo  # a command with two keys: one row
    qtbot.keyClicks(dialog.filter_edit, "send")
    assert dialog.rows(EVERYWHERE) == []
    assert dialog.rows("Evaluate") == [(send, "Send the prompt to both models")]
    dialog.filter_edit.clear()
    assert len(dialog.rows(EVERYWHERE)) > 10
    window.shortcuts_action.trigger()  # opened again: read from the window again
    assert window.shortcuts_dialog is not dialog


def test_ctrl_f_puts_the_cursor_in_the_dataset_search(window, qtbot) -> None:
    window.show()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    window.show_page("dataset")
    window.dataset_page.search_edit.setText("vpn")
    window.dataset_page.table.setFocus()
    qtbot.keyClick(window.dataset_page.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.dataset_page.search_edit.hasFocus()
    assert window.dataset_page.search_edit.selectedText() == "vpn"


def test_ctrl_enter_sends_in_the_playground(window) -> None:
    """The playground's send keys are real shortcuts, active while the focus is in it."""
    playground = window.page("evaluate").playground
    found = {
        shortcut.key().toString(): shortcut
        for shortcut in playground.findChildren(QShortcut)
        if shortcut.whatsThis() == "Send the prompt to both models"
    }
    assert set(found) == {"Ctrl+Return", "Ctrl+Enter"}
    for shortcut in found.values():
        assert shortcut.context() == Qt.ShortcutContext.WidgetWithChildrenShortcut
        assert shortcut.parent() is playground
