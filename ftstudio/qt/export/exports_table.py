"""The project's exports with their parity verdicts; double-click opens one's folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from ftstudio.core.runs_compare import ExportInfo
from ftstudio.qt.export.parity_view import FAIL_COLOUR, PASS_COLOUR
from ftstudio.qt.runs.table_model import local_time
from ftstudio.qt.style import readable
from ftstudio.qt.widgets.file_table import relative_text

VERDICTS = {
    "passed": ("✓ passed", PASS_COLOUR),
    "failed": ("✗ failed", FAIL_COLOUR),
    "unreadable": ("? unreadable", FAIL_COLOUR),
    "unchecked": ("– not checked", "#757575"),
}


class ExportsTable(QTreeWidget):
    """One row per export: folder, format, run, date, parity verdict.

    Signals:
        sig_export_selected(object): the current export changed (an
            :class:`~ftstudio.core.runs_compare.ExportInfo`, or ``None``).
    """

    sig_export_selected = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportsTable")
        self.exports: list[ExportInfo] = []
        self.setHeaderLabels(["Export", "Format", "Run", "Created", "Parity"])
        self.setRootIsDecorated(False)
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.currentItemChanged.connect(self._on_current_item_changed)
        self.itemDoubleClicked.connect(self._on_item_double_clicked)

    def set_exports(self, exports: Sequence[ExportInfo], project_folder: Path | None) -> None:
        """Show ``exports`` (paths shown relative to ``project_folder``)."""
        current = self.current_export()
        keep = current.path if current is not None else None
        self.blockSignals(True)
        self.clear()
        self.exports = list(exports)
        for info in self.exports:
            text, colour = VERDICTS[info.verdict]
            item = QTreeWidgetItem(
                [
                    relative_text(info.path, project_folder),
                    info.description or info.format or "?",
                    info.run_id or "?",
                    local_time(info.created or None),
                    text,
                ]
            )
            item.setForeground(4, QColor(readable(colour, self.palette())))
            item.setToolTip(0, str(info.path))
            tip = info.parity.summary() if info.parity is not None else info.parity_error
            item.setToolTip(4, tip or "This export has no parity.json.")
            item.setData(0, Qt.ItemDataRole.UserRole, info)
            self.addTopLevelItem(item)
            if keep is not None and info.path == keep:
                self.setCurrentItem(item)
        for column in range(1, self.columnCount()):
            self.resizeColumnToContents(column)
        self.blockSignals(False)
        self.sig_export_selected.emit(self.current_export())

    def current_export(self) -> ExportInfo | None:
        """The export of the current row, if any."""
        item = self.currentItem()
        return None if item is None else item.data(0, Qt.ItemDataRole.UserRole)

    def select_path(self, path: Path) -> bool:
        """Make the export in ``path`` current; ``False`` if it is not listed."""
        for index in range(self.topLevelItemCount()):
            item = self.topLevelItem(index)
            if item.data(0, Qt.ItemDataRole.UserRole).path == Path(path):
                self.setCurrentItem(item)
                return True
        return False

    def _on_current_item_changed(self, _current: object, _previous: object) -> None:
        self.sig_export_selected.emit(self.current_export())

    def _on_item_double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        info = item.data(0, Qt.ItemDataRole.UserRole)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(info.path)))
