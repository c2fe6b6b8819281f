"""A read-only table model over a list of rows (frozen core records, one per line)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

Row = TypeVar("Row")

Index = QModelIndex | QPersistentModelIndex


class RowTableModel(QAbstractTableModel, Generic[Row]):
    """Shows :attr:`items`, one a line, under the column titles :attr:`COLUMNS`.

    The whole row is under ``Qt.UserRole`` of each of its cells; a subclass answers the
    other roles in :meth:`cell`.
    """

    COLUMNS: tuple[str, ...] = ()
    """The column titles."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[Row] = []

    def set_items(self, items: Sequence[Row]) -> None:
        """Show ``items`` in the order given."""
        self.beginResetModel()
        self.items = list(items)
        self.endResetModel()

    def item(self, row: int) -> Row:
        """The item shown in line ``row``."""
        return self.items[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        """Items shown."""
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        """Columns."""
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(  # noqa: N802 - Qt API
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """The item under ``Qt.UserRole``; the other roles from :meth:`cell`."""
        if not index.isValid():
            return None
        item = self.items[index.row()]
        if role == Qt.ItemDataRole.UserRole:
            return item
        return self.cell(item, index.row(), index.column(), role)

    def cell(self, item: Row, row: int, column: int, role: int) -> Any:
        """What ``item``'s cell in ``column`` (line ``row``) shows for ``role``."""
        raise NotImplementedError
