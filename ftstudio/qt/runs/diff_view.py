"""The settings that differ between two runs' configurations, side by side."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.fields import field_specs
from ftstudio.core.runs_compare import ConfigChange
from ftstudio.core.train_config import TrainConfig


class ConfigDiffView(QWidget):
    """A table of changed settings: label, the first run's value, the second run's.

    Attributes:
        changes: the changes shown.
        tree: the table (one row per change; the key in the first column's tooltip).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.changes: list[ConfigChange] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.heading = QLabel()
        self.heading.setObjectName("muted")
        self.heading.setWordWrap(True)
        layout.addWidget(self.heading)
        self.tree = QTreeWidget()
        self.tree.setObjectName("configDiff")
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.tree.setColumnCount(3)
        self.tree.setUniformRowHeights(True)
        self.tree.setStyleSheet("QTreeWidget::item { padding: 4px 10px 4px 2px; }")
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(True)
        self.tree.header().setMinimumSectionSize(110)
        layout.addWidget(self.tree)
        self._help = {spec.name: spec.help for spec in field_specs(TrainConfig)}

    def set_changes(self, changes: Sequence[ConfigChange], old_name: str, new_name: str) -> None:
        """Show ``changes`` from the run ``old_name`` to the run ``new_name``."""
        self.changes = list(changes)
        self.tree.clear()
        self.tree.setHeaderLabels(["Setting", old_name, f"→ {new_name}"])
        for change in self.changes:
            item = QTreeWidgetItem([change.label, change.old_text, change.new_text])
            tip = f"{change.key}: {self._help.get(change.key, 'not a setting of this version')}"
            item.setToolTip(0, tip)
            for column in (1, 2):
                item.setToolTip(column, item.text(column))
            item.setData(0, Qt.ItemDataRole.UserRole, change.key)
            self.tree.addTopLevelItem(item)
        count = len(self.changes)
        if count:
            noun = "setting differs" if count == 1 else "settings differ"
            self.heading.setText(
                f"{count} {noun} between {old_name} and {new_name}; every other setting is "
                "the same."
            )
        else:
            self.heading.setText(
                f"{old_name} and {new_name} ran with the same settings: any difference in "
                "their results comes from the data or chance."
            )
        self.tree.setVisible(bool(count))
        rows = max(1, count)
        row_height = self.tree.sizeHintForRow(0) if count else 24
        header = self.tree.header().sizeHint().height()
        self.tree.setFixedHeight(min(420, header + rows * max(row_height, 20) + 8))

    def rows(self) -> list[tuple[str, str, str]]:
        """The rows shown, as (label, old, new) texts."""
        return [
            tuple(self.tree.topLevelItem(i).text(c) for c in range(3))  # type: ignore[misc]
            for i in range(self.tree.topLevelItemCount())
        ]
