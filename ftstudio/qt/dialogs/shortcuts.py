"""Help ▸ Keyboard Shortcuts: every shortcut of the window, grouped, with a filter.

The list is collected from the window when the dialog opens
(:func:`ftstudio.qt.shortcuts.collect_shortcuts`), so it always matches the keys that
really work.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ftstudio.qt.shortcuts import ShortcutEntry


class ShortcutsDialog(QDialog):
    """A non-modal cheat sheet of ``entries``, one group per menu area and page.

    Attributes:
        entries: the shortcuts listed.
        tree: groups (top level) and their shortcuts (keys, what they do).
        filter_edit: shows only the shortcuts whose keys or description match.
    """

    def __init__(self, entries: list[ShortcutEntry], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.setModal(False)
        self.resize(680, 660)
        self.entries = entries
        layout = QVBoxLayout(self)
        note = QLabel(
            "Shortcuts under a page work while that page is shown; the others work "
            "everywhere in the window."
        )
        note.setObjectName("muted")
        note.setWordWrap(True)
        layout.addWidget(note)
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("shortcutFilter")
        self.filter_edit.setPlaceholderText("Filter: a key or a word")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.set_filter)
        layout.addWidget(self.filter_edit)
        self.tree = QTreeWidget()
        self.tree.setObjectName("shortcutTree")
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Keys", "What it does"])
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(12)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(True)
        layout.addWidget(self.tree, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._fill()

    def groups(self) -> list[str]:
        """The group titles, in order."""
        return [self.tree.topLevelItem(i).text(0) for i in range(self.tree.topLevelItemCount())]

    def rows(self, group: str) -> list[tuple[str, str]]:
        """(keys, description) of the shown rows of ``group``."""
        for index in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(index)
            if top.text(0) == group:
                return [
                    (top.child(row).text(0), top.child(row).text(1))
                    for row in range(top.childCount())
                    if not top.child(row).isHidden()
                ]
        return []

    def set_filter(self, text: str) -> None:
        """Show the rows whose keys or description contain ``text`` (any case)."""
        needle = text.casefold().strip()
        for index in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(index)
            shown = 0
            for row in range(top.childCount()):
                child = top.child(row)
                entry: ShortcutEntry = child.data(0, Qt.ItemDataRole.UserRole)
                hay = f"{child.text(0)} {entry.description}".casefold()
                child.setHidden(bool(needle) and needle not in hay)
                shown += not child.isHidden()
            top.setHidden(shown == 0)

    def _fill(self) -> None:
        bold = QFont(self.font())
        bold.setBold(True)
        groups: dict[str, QTreeWidgetItem] = {}
        rows: dict[tuple[str, str], QTreeWidgetItem] = {}
        for entry in self.entries:
            same = rows.get((entry.group, entry.description))
            if same is not None:  # another key for the same command: one row, "A, B"
                same.setText(0, f"{same.text(0)}, {entry.display_keys()}")
                continue
            top = groups.get(entry.group)
            if top is None:
                top = QTreeWidgetItem([entry.group, ""])
                top.setFirstColumnSpanned(True)
                top.setFont(0, bold)
                top.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.tree.addTopLevelItem(top)
                top.setFirstColumnSpanned(True)
                groups[entry.group] = top
            child = QTreeWidgetItem([entry.display_keys(), entry.description])
            rows[(entry.group, entry.description)] = child
            child.setData(0, Qt.ItemDataRole.UserRole, entry)
            child.setToolTip(1, entry.description)
            top.addChild(child)
        self.tree.expandAll()
