"""Keyboard shortcuts: one way to add them, and the list the cheat sheet shows.

The cheat sheet (Help ▸ Keyboard Shortcuts) is made from what the window really holds,
so it cannot go stale: the menu actions, and in each page its ``QShortcut`` objects
(described by their ``whatsThis``, see :func:`add_shortcut`), its actions with a
shortcut, its buttons with a shortcut, and the keys a widget handles itself, which it
declares with :func:`declare_shortcut`.

Conflicts: two shortcuts with the same keys clash when both can fire at the same
moment. Menu shortcuts work everywhere; a page's shortcuts work only while the page is
shown, and one bound to a widget only while that widget (or a child) has the focus.
:func:`conflicts` finds the clashes.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractButton, QMainWindow, QMenu, QToolButton, QWidget

EVERYWHERE = "Everywhere"
"""The cheat sheet's group of the menu shortcuts."""

_declared: weakref.WeakKeyDictionary[QWidget, list[tuple[str, str]]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ShortcutEntry:
    """One shortcut as the cheat sheet lists it.

    Attributes:
        group: ``Everywhere`` (menus) or the page's title.
        keys: the key sequence in portable text (``Ctrl+Shift+P``).
        description: what it does.
        page: the page key it belongs to (``""`` for the menus: everywhere).
        scope: the widget that must hold the focus, or ``None`` (the whole page, or
            everywhere).
    """

    group: str
    keys: str
    description: str
    page: str = ""
    scope: QWidget | None = field(default=None, compare=False, repr=False)

    def display_keys(self) -> str:
        """The keys as this platform writes them (``⌘P`` on macOS)."""
        return QKeySequence(self.keys).toString(QKeySequence.SequenceFormat.NativeText)


def add_shortcut(
    parent: QWidget,
    keys: str | Qt.Key | QKeySequence | QKeySequence.StandardKey,
    description: str,
    slot: Callable[[], object],
    context: Qt.ShortcutContext = Qt.ShortcutContext.WindowShortcut,
) -> QShortcut:
    """A shortcut on ``parent`` that calls ``slot``, described for the cheat sheet.

    With ``WindowShortcut`` (the default) it works while ``parent`` is shown (for a page:
    while the page is on screen); with ``WidgetWithChildrenShortcut`` only while the
    focus is inside ``parent``.
    """
    shortcut = QShortcut(QKeySequence(keys), parent)
    shortcut.setContext(context)
    shortcut.setWhatsThis(description)
    shortcut.activated.connect(slot)
    return shortcut


def declare_shortcut(widget: QWidget, keys: str, description: str) -> None:
    """List keys that ``widget`` handles itself (in ``keyPressEvent`` or an event filter)."""
    _declared.setdefault(widget, []).append((QKeySequence(keys).toString(), description))


def collect_shortcuts(window: QMainWindow, pages: Iterable[QWidget] = ()) -> list[ShortcutEntry]:
    """Every shortcut of ``window``'s menus, then of each page (each page widget needs
    ``key`` and ``title`` attributes), without repeats."""
    entries: list[ShortcutEntry] = []
    for action in window.menuBar().actions():
        menu = action.menu()
        if isinstance(menu, QMenu):
            entries += _menu_entries(menu, EVERYWHERE)
    for page in pages:
        entries += page_shortcuts(page, str(page.key), str(page.title))  # type: ignore[attr-defined]
    return _unique(entries)


def page_shortcuts(page: QWidget, key: str, title: str) -> list[ShortcutEntry]:
    """The shortcuts that work in ``page`` (see the module docstring)."""
    entries: list[ShortcutEntry] = []
    for shortcut in page.findChildren(QShortcut):
        description = shortcut.whatsThis() or shortcut.objectName()
        scope = _scope(shortcut.context(), shortcut.parent(), page)
        for sequence in _sequences(shortcut.keys()):
            entries.append(ShortcutEntry(title, sequence, description, key, scope))
    for action in page.findChildren(QAction):
        if action.menu() is not None:
            continue
        description = _clean(action.whatsThis() or action.text())
        scope = _scope(action.shortcutContext(), action.parent(), page)
        for sequence in _sequences(action.shortcuts()):
            entries.append(ShortcutEntry(title, sequence, description, key, scope))
    for button in page.findChildren(QAbstractButton):
        if button.shortcut().isEmpty() or isinstance(button, QToolButton):
            continue  # a tool button's shortcut is its action's, listed above
        description = _clean(button.toolTip().split(" (")[0] or button.text())
        for sequence in _sequences([button.shortcut()]):
            entries.append(ShortcutEntry(title, sequence, description, key, None))
    for widget in [page, *page.findChildren(QWidget)]:
        for keys, description in _declared.get(widget, ()):
            entries.append(ShortcutEntry(title, keys, description, key, widget))
    return _unique(entries)


def conflicts(entries: Iterable[ShortcutEntry]) -> list[tuple[ShortcutEntry, ShortcutEntry]]:
    """The pairs of entries with the same keys that can fire at the same moment."""
    listed = list(entries)
    found = []
    for index, first in enumerate(listed):
        for second in listed[index + 1 :]:
            if _normal(first.keys) == _normal(second.keys) and _overlap(first, second):
                found.append((first, second))
    return found


# ---- Internals
def _menu_entries(menu: QMenu, group: str) -> Iterator[ShortcutEntry]:
    for action in menu.actions():
        submenu = action.menu()
        if isinstance(submenu, QMenu):
            yield from _menu_entries(submenu, group)
            continue
        description = _clean(action.whatsThis() or action.text())
        for sequence in _sequences(action.shortcuts()):
            yield ShortcutEntry(group, sequence, description)


def _sequences(sequences: Iterable[QKeySequence]) -> list[str]:
    return [text for sequence in sequences if (text := sequence.toString())]


def _clean(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def _scope(context: Qt.ShortcutContext, parent: QObject | None, page: QWidget) -> QWidget | None:
    """The widget that must have the focus; ``None`` when the whole page counts."""
    if context in (Qt.ShortcutContext.WindowShortcut, Qt.ShortcutContext.ApplicationShortcut):
        return None
    if isinstance(parent, QWidget) and parent is not page:
        return parent
    return None


def _normal(keys: str) -> str:
    return QKeySequence(keys).toString()


def _overlap(first: ShortcutEntry, second: ShortcutEntry) -> bool:
    if not first.page or not second.page:
        return True  # a menu shortcut works on every page
    if first.page != second.page:
        return False
    if first.scope is None or second.scope is None:
        return True
    return _contains(first.scope, second.scope) or _contains(second.scope, first.scope)


def _contains(outer: QWidget, inner: QWidget) -> bool:
    widget: QWidget | None = inner
    while widget is not None:
        if widget is outer:
            return True
        widget = widget.parentWidget()
    return False


def _unique(entries: list[ShortcutEntry]) -> list[ShortcutEntry]:
    """Drop repeats of one shortcut (e.g. the same command on every turn of the editor)."""
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for entry in entries:
        marker = (entry.group, _normal(entry.keys), entry.description)
        if marker not in seen:
            seen.add(marker)
            unique.append(entry)
    return unique
