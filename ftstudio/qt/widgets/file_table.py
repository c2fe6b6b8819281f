"""A read-only table of files or folders (name, size, modified) with an empty state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QStackedLayout,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)


def human_size(size: int) -> str:
    """``1536`` → ``'1.5 KB'``."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def folder_size(path: Path) -> int:
    """Total size of the files under ``path`` (or of ``path`` itself if it is a file)."""
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def relative_text(path: Path, folder: Path | None) -> str:
    """``path`` relative to ``folder`` (``/``-separated) when inside it; else as it is."""
    if folder is None:
        return str(path)
    try:
        return path.resolve().relative_to(Path(folder).resolve()).as_posix()
    except (ValueError, OSError):
        return str(path)


class FileTable(QWidget):
    """Lists paths with extra columns; double-click opens one in the system's file manager.

    Signals:
        sig_activated(Path): a row was double-clicked.
    """

    sig_activated = Signal(object)

    def __init__(self, columns: Sequence[str], empty_text: str, parent: QWidget | None = None):
        super().__init__(parent)
        self._stack = QStackedLayout(self)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(columns))
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setStretchLastSection(False)
        self.tree.itemDoubleClicked.connect(self._on_tree_item_double_clicked)
        self.empty = QLabel(empty_text)
        self.empty.setObjectName("emptyState")
        self.empty.setWordWrap(True)
        self._stack.addWidget(self.empty)
        self._stack.addWidget(self.tree)

    def set_rows(self, rows: Sequence[tuple[Path, Sequence[str]]]) -> None:
        """Show ``rows``: each is a path and the texts of every column."""
        self.tree.clear()
        for path, texts in rows:
            item = QTreeWidgetItem([str(text) for text in texts])
            item.setData(0, Qt.ItemDataRole.UserRole, path)
            item.setToolTip(0, str(path))
            self.tree.addTopLevelItem(item)
        for column in range(1, self.tree.columnCount()):
            self.tree.resizeColumnToContents(column)
        self._stack.setCurrentWidget(self.tree if rows else self.empty)

    def row_count(self) -> int:
        """How many rows are shown."""
        return self.tree.topLevelItemCount()

    def _on_tree_item_double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        path = item.data(0, Qt.ItemDataRole.UserRole)
        self.sig_activated.emit(path)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def modified(path: Path) -> str:
    """The modification time of ``path`` as ``YYYY-MM-DD HH:MM``."""
    return datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
