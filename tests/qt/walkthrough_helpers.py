"""What a user does with the mouse and keyboard, for the walkthrough test.

Each helper acts on a widget the way a person would: clicks the sidebar entry, the tab,
the radio button's circle, the combo box's list item; selects a field's text with
Ctrl+A and types over it. Nothing here calls a page's own methods.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QEvent, QEventLoop, QPoint, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QDialog,
    QMainWindow,
    QPushButton,
    QTabWidget,
    QWidget,
)

LEFT = Qt.MouseButton.LeftButton
SHOTS_ENV = "FTSTUDIO_WALKTHROUGH_SHOTS"
"""Set to a folder to save a screenshot of every step there (``NN-step.png``)."""
SETTLE_MS = 150
"""How long the event loop runs before a screenshot."""


class Screenshots:
    """Saves numbered pictures of the steps when :data:`SHOTS_ENV` names a folder."""

    def __init__(self) -> None:
        folder = os.environ.get(SHOTS_ENV, "")
        self.folder = Path(folder) if folder else None
        self.count = 0

    def __call__(self, widget: QWidget, step: str) -> None:
        """Save ``widget`` as it looks now (nothing happens when the variable is unset)."""
        if self.folder is None:
            return
        # What the event loop does between two user actions: layouts settle, and widgets
        # replaced with deleteLater() are gone from the picture.
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        loop = QEventLoop()
        QTimer.singleShot(SETTLE_MS, loop.quit)
        loop.exec()
        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(self.folder / f"{self.count:02d}-{step}.png"))


def menu_action(window: QMainWindow, menu: str, text: str) -> QAction:
    """The item ``text`` of the menu bar's menu ``menu`` (mnemonics ignored)."""
    for entry in window.menuBar().actions():
        if entry.text().replace("&", "") != menu:
            continue
        for action in entry.menu().actions():
            if action.text().replace("&", "") == text:
                assert action.isEnabled(), f"{menu} ▸ {text} is disabled"
                return action
    raise AssertionError(f"No menu item {menu} ▸ {text}")


def button(parent: QWidget, text: str) -> QPushButton:
    """The one visible push button labelled ``text`` inside ``parent``."""
    found = [b for b in parent.findChildren(QPushButton) if b.text() == text and b.isVisible()]
    assert len(found) == 1, f"{len(found)} visible buttons {text!r} in {parent!r}"
    return found[0]


def click(qtbot, widget: QAbstractButton) -> None:  # noqa: ANN001
    """Click an enabled button in its middle."""
    assert widget.isVisible(), f"{widget.text()!r} is not visible"
    assert widget.isEnabled(), f"{widget.text()!r} is disabled"
    qtbot.mouseClick(widget, LEFT)


def click_option(qtbot, widget: QAbstractButton) -> None:  # noqa: ANN001
    """Click a radio button or check box where it reacts: its indicator, at the left."""
    assert widget.isEnabled(), f"{widget.text()!r} is disabled"
    qtbot.waitUntil(lambda: widget.isVisible() and widget.height() > 0)
    qtbot.mouseClick(widget, LEFT, pos=QPoint(8, widget.height() // 2))
    assert widget.isChecked(), f"{widget.text()!r} did not react to the click"


def go_to_page(qtbot, window: QMainWindow, title: str) -> None:  # noqa: ANN001
    """Click the page ``title`` in the sidebar."""
    navigation = window.navigation  # type: ignore[attr-defined]
    items = navigation.findItems(title, Qt.MatchFlag.MatchExactly)
    assert len(items) == 1, f"No sidebar entry {title!r}"
    rect = navigation.visualItemRect(items[0])
    qtbot.mouseClick(navigation.viewport(), LEFT, pos=rect.center())
    assert window.current_page().title == title  # type: ignore[attr-defined]


def click_tab(qtbot, tabs: QTabWidget, title: str) -> None:  # noqa: ANN001
    """Click the tab whose title starts with ``title``."""
    bar = tabs.tabBar()
    titles = [tabs.tabText(index) for index in range(tabs.count())]
    matches = [index for index, text in enumerate(titles) if text.startswith(title)]
    assert len(matches) == 1, f"No tab {title!r} in {titles}"
    qtbot.mouseClick(bar, LEFT, pos=bar.tabRect(matches[0]).center())
    assert tabs.currentIndex() == matches[0]


def choose(qtbot, combo: QComboBox, text: str) -> None:  # noqa: ANN001
    """Pick the item that starts with ``text`` with the arrow keys, as from the keyboard
    (the list's popup cannot open on the offscreen platform without warnings)."""
    index = combo.findText(text, Qt.MatchFlag.MatchStartsWith)
    items = [combo.itemText(i) for i in range(combo.count())]
    assert index >= 0, f"{text!r} is not offered; the list has {items}"
    assert combo.isEnabled()
    combo.setFocus()
    for _ in range(combo.count()):
        if combo.currentIndex() == index:
            break
        key = Qt.Key.Key_Down if combo.currentIndex() < index else Qt.Key.Key_Up
        qtbot.keyClick(combo, key)
    assert combo.currentIndex() == index, f"{text!r} was not chosen; {combo.currentText()!r} is"


def type_over(qtbot, editor: QWidget, text: str, *, enter: bool = False) -> None:  # noqa: ANN001
    """Select the field's text (Ctrl+A) and type ``text`` over it, then Enter if asked."""
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(editor, text)
    if enter:
        qtbot.keyClick(editor, Qt.Key.Key_Return)


def wait_for(qtbot, condition, timeout_ms: int, shown) -> None:  # noqa: ANN001
    """Wait until ``condition()`` holds; on timeout fail with what ``shown()`` says is on
    screen (the status line, say)."""
    try:
        qtbot.waitUntil(condition, timeout=timeout_ms)
    except qtbot.TimeoutError:
        raise AssertionError(f"Still waiting after {timeout_ms / 1000:g} s: {shown()}") from None


def open_dialog(window: QWidget, title: str) -> QDialog:
    """The one visible dialog of ``window`` titled ``title``."""
    found = [d for d in window.findChildren(QDialog) if d.windowTitle() == title and d.isVisible()]
    assert len(found) == 1, f"{len(found)} dialogs {title!r} are open"
    return found[0]
