"""The Issues panel: every problem of the open dataset, and the quick fixes that are safe.

Each row is one issue (line, severity, code, field, message), filterable by severity
and code. Activating a row asks the page to show that example and field. Three quick
fixes work on the whole file, each as one undoable step:

- strip surrounding whitespace from every message that has some;
- remove exact duplicates, after a confirmation that says how many;
- turn non-string content into text, after a preview of every change (before/after).

Dialogs are window-modal and opened without blocking (``open()``), so the window and
tests keep running; :attr:`IssuesPanel.last_dialog` is the one on screen.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.dataset.records import Issue, Record
from ftstudio.qt.dataset.document import DatasetDocument
from ftstudio.qt.dataset.table_model import ERROR_COLOUR, ROOT, WARNING_COLOUR, ModelIndex
from ftstudio.qt.style import readable_colour

HEADERS = ("Line", "Severity", "Code", "Field", "Message")
PREVIEW_ROWS = 500
"""At most this many changes are listed in the stringify preview (all are applied)."""
IMMEDIATE_ISSUES = 5000
"""Up to this many issues the list follows every change at once; more wait for a pause."""
REFRESH_DELAY_MS = 250
WHITESPACE_CODE = "surrounding_whitespace"
DUPLICATE_CODE = "duplicate_example"
CONTENT_CODE = "missing_content"


class IssuesModel(QAbstractTableModel):
    """The issues of a document that pass the severity and code filter, in file order."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._all: list[Issue] = []
        self._rows: list[Issue] = []
        self._severity = ""
        self._code = ""

    # ---- Public API
    def set_issues(self, issues: list[Issue]) -> None:
        """Show ``issues`` (filtered as set)."""
        self._all = issues
        self._refilter()

    def set_filter(self, severity: str = "", code: str = "") -> None:
        """Show only ``severity`` (``error``/``warning``; ``""`` all) and ``code`` (``""`` all)."""
        self._severity, self._code = severity, code
        self._refilter()

    def issue(self, row: int) -> Issue:
        """The issue on row ``row``."""
        return self._rows[row]

    def row_of(self, issue: Issue) -> int:
        """The row showing ``issue``, or ``-1``."""
        for row, candidate in enumerate(self._rows):
            if candidate is issue:
                return row
        return -1

    # ---- Qt model interface
    def rowCount(self, parent: ModelIndex = ROOT) -> int:  # noqa: N802 - Qt override
        """Issues shown."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = ROOT) -> int:  # noqa: N802 - Qt override
        """The columns of :data:`HEADERS`."""
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(  # noqa: N802 - Qt override
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section] if 0 <= section < len(HEADERS) else None
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """What a cell shows."""
        if not 0 <= index.row() < len(self._rows):
            return None
        issue = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return str(issue.line) if issue.line else "—"
            return (None, issue.severity, issue.code, issue.field, issue.message)[column]
        if role == Qt.ItemDataRole.ToolTipRole and column in (3, 4):
            return issue.message
        if role == Qt.ItemDataRole.ForegroundRole and column == 1:
            return readable_colour(ERROR_COLOUR if issue.severity == "error" else WARNING_COLOUR)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        """Selectable rows."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def _refilter(self) -> None:
        self.beginResetModel()
        severity, code = self._severity, self._code
        if not severity and not code:
            self._rows = self._all
        else:
            self._rows = [
                issue
                for issue in self._all
                if (not severity or issue.severity == severity) and (not code or issue.code == code)
            ]
        self.endResetModel()


class IssuesPanel(QWidget):
    """Lists a document's issues and offers the safe quick fixes.

    Signals:
        sig_issue_activated(int record, str field): the user picked an issue; show
            that example (``-1``: the file as a whole) and field.
    """

    sig_issue_activated = Signal(int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("issuesPanel")
        self.document: DatasetDocument | None = None
        self.last_dialog: QDialog | None = None
        self.model = IssuesModel(self)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self._refresh)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(6)
        top = QHBoxLayout()
        self.summary_label = QLabel()
        self.summary_label.setObjectName("issuesSummary")
        self.summary_label.setMinimumWidth(60)
        top.addWidget(self.summary_label, 1)
        self.severity_combo = QComboBox()
        self.severity_combo.setObjectName("issueSeverityFilter")
        for text, value in (("All severities", ""), ("Errors", "error"), ("Warnings", "warning")):
            self.severity_combo.addItem(text, value)
        self.severity_combo.setToolTip("Show errors, warnings or both")
        self.severity_combo.currentIndexChanged.connect(self._on_filter_changed)
        top.addWidget(self.severity_combo)
        self.code_combo = QComboBox()
        self.code_combo.setObjectName("issueCodeFilter")
        self.code_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.code_combo.setMinimumContentsLength(10)
        self.code_combo.addItem("All problems", "")
        self.code_combo.currentIndexChanged.connect(self._on_filter_changed)
        top.addWidget(self.code_combo)
        layout.addLayout(top)

        fixes = QHBoxLayout()
        self.strip_button = QPushButton("Strip whitespace")
        self.strip_button.setObjectName("quickFixStrip")
        self.strip_button.setToolTip(
            "Remove spaces and line breaks at the start and end of every message that has "
            "them (one undo step)."
        )
        self.strip_button.clicked.connect(self.strip_whitespace)
        self.duplicates_button = QPushButton("Remove duplicates…")
        self.duplicates_button.setToolTip(
            "Remove examples that are exact copies of an earlier one; the first copy stays."
        )
        self.duplicates_button.clicked.connect(self.remove_duplicates)
        self.stringify_button = QPushButton("Make content text…")
        self.stringify_button.setToolTip(
            "Turn numbers, lists and objects in message content into text, after a preview."
        )
        self.stringify_button.clicked.connect(self.stringify_content)
        for button in (self.strip_button, self.duplicates_button, self.stringify_button):
            fixes.addWidget(button)
        fixes.addStretch(1)
        layout.addLayout(fixes)

        self.view = QTableView()
        self.view.setObjectName("issuesTable")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setWordWrap(False)
        self.view.setShowGrid(False)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().hide()
        rows = self.view.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.view.horizontalHeader()
        header.setStretchLastSection(True)
        for column, width in enumerate((48, 64, 150, 120)):
            header.resizeSection(column, width)
        self.view.clicked.connect(self._on_view_activated)
        self.view.activated.connect(self._on_view_activated)
        layout.addWidget(self.view, 1)
        self._update_summary()

    # ---- Public API
    def set_document(self, document: DatasetDocument | None) -> None:
        """List the issues of ``document``."""
        if self.document is not None:
            self.document.sig_issues_changed.disconnect(self._on_document_issues_changed)
        self.document = document
        if document is not None:
            document.sig_issues_changed.connect(self._on_document_issues_changed)
        self._on_document_issues_changed()

    def activate_row(self, row: int) -> None:
        """Act as if the user clicked row ``row`` (jump to its example and field)."""
        self._on_view_activated(self.model.index(row, 0))

    def set_filter(self, severity: str = "", code: str = "") -> None:
        """Show only issues of ``severity`` and ``code`` (``""``: all)."""
        self.severity_combo.setCurrentIndex(max(0, self.severity_combo.findData(severity)))
        self.code_combo.setCurrentIndex(max(0, self.code_combo.findData(code)))

    # ---- Quick fixes
    def whitespace_changes(self) -> dict[int, Any]:
        """New data for every record whose messages have surrounding whitespace."""
        from ftstudio.core.dataset.fixes import strip_whitespace

        changes: dict[int, Any] = {}
        for index in self._records_with(WHITESPACE_CODE):
            copy = _scratch(self.document.dataset.records[index])  # type: ignore[union-attr]
            if strip_whitespace(copy):
                changes[index] = copy.data
        return changes

    def strip_whitespace(self) -> int:
        """Strip surrounding whitespace everywhere (one undo step); returns records changed."""
        if self.document is None:
            return 0
        changes = self.whitespace_changes()
        if changes:
            self.document.replace_many(changes, f"Strip whitespace in {_examples(len(changes))}")
        return len(changes)

    def remove_duplicates(self) -> None:
        """Ask, then remove every exact copy of an earlier example (one undo step)."""
        from ftstudio.core.dataset.fixes import exact_duplicate_groups

        if self.document is None:
            return
        groups = exact_duplicate_groups(self.document.dataset)
        copies = [index for group in groups for index in group[1:]]
        if not copies:
            self._show(
                QMessageBox(
                    QMessageBox.Icon.Information,
                    "No duplicates",
                    "No example is an exact copy of another one.",
                    QMessageBox.StandardButton.Ok,
                    self,
                )
            )
            return
        lines = ", ".join(str(self.document.dataset.records[i].line or "new") for i in copies[:12])
        more = " …" if len(copies) > 12 else ""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Remove duplicates",
            f"Remove {_examples(len(copies))} that "
            f"{'repeats' if len(copies) == 1 else 'repeat'} an earlier example exactly "
            f"({len(groups)} group{'s' if len(groups) != 1 else ''})?",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setInformativeText(
            f"The first example of each group stays. Lines removed: {lines}{more}. "
            "Tags, review state and notes are not compared. You can undo this (Ctrl+Z)."
        )
        remove = box.addButton("Remove", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)

        def finished() -> None:
            if box.clickedButton() is remove and self.document is not None:
                self.document.remove_records(copies, f"Remove {_examples(len(copies))} (copies)")

        box.finished.connect(finished)
        self._show(box)

    def stringify_changes(self) -> tuple[dict[int, Any], list[tuple[int, str, str, str]]]:
        """New data per record with non-string content, and (line, field, before, after) rows."""
        from ftstudio.core.dataset.fixes import stringify_content, stringify_content_preview

        changes: dict[int, Any] = {}
        rows: list[tuple[int, str, str, str]] = []
        for index in self._records_with(CONTENT_CODE):
            record = self.document.dataset.records[index]  # type: ignore[union-attr]
            preview = stringify_content_preview(record)
            if not preview:
                continue
            copy = _scratch(record)
            if stringify_content(copy):
                changes[index] = copy.data
                rows.extend((record.line, field, before, after) for field, before, after in preview)
        return changes, rows

    def stringify_content(self) -> None:
        """Preview, then turn non-string content into text (one undo step)."""
        if self.document is None:
            return
        changes, rows = self.stringify_changes()
        if not changes:
            self._show(
                QMessageBox(
                    QMessageBox.Icon.Information,
                    "Nothing to change",
                    "Every message content is already text.",
                    QMessageBox.StandardButton.Ok,
                    self,
                )
            )
            return
        dialog = StringifyPreviewDialog(rows, len(changes), self)

        def finished(result: int) -> None:
            if result == QDialog.DialogCode.Accepted and self.document is not None:
                self.document.replace_many(
                    changes, f"Make content text in {_examples(len(changes))}"
                )

        dialog.finished.connect(finished)
        self._show(dialog)

    # ---- Internals
    def _records_with(self, code: str) -> list[int]:
        if self.document is None:
            return []
        count = len(self.document.dataset.records)
        return sorted(
            {i.record for i in self.document.issues if i.code == code and 0 <= i.record < count}
        )

    def _show(self, dialog: QDialog) -> None:
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.last_dialog = dialog
        dialog.open()

    @Slot()
    def _on_document_issues_changed(self) -> None:
        issues = self.document.issues if self.document is not None else []
        if len(issues) > IMMEDIATE_ISSUES and self.document is not None:
            self._refresh_timer.start()  # many issues: once typing pauses, not per key
            return
        self._refresh()

    @Slot()
    def _refresh(self) -> None:
        self._refresh_timer.stop()
        issues = self.document.issues if self.document is not None else []
        self.model.set_issues(issues)
        codes = Counter(issue.code for issue in issues)
        current = self.code_combo.currentData()
        blocked = self.code_combo.blockSignals(True)
        self.code_combo.clear()
        self.code_combo.addItem("All problems", "")
        for code, count in sorted(codes.items()):
            self.code_combo.addItem(f"{code} ({count})", code)
        self.code_combo.setCurrentIndex(max(0, self.code_combo.findData(current)))
        self.code_combo.blockSignals(blocked)
        self._on_filter_changed()
        self.strip_button.setEnabled(codes[WHITESPACE_CODE] > 0)
        self.duplicates_button.setEnabled(codes[DUPLICATE_CODE] > 0)
        self.stringify_button.setEnabled(codes[CONTENT_CODE] > 0)
        self._update_summary(codes)

    @Slot()
    def _on_filter_changed(self) -> None:
        self.model.set_filter(self.severity_combo.currentData(), self.code_combo.currentData())

    @Slot(QModelIndex)
    def _on_view_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            issue = self.model.issue(index.row())
            self.view.selectRow(index.row())
            self.sig_issue_activated.emit(issue.record, issue.field)

    def _update_summary(self, codes: Counter[str] | None = None) -> None:
        issues = self.document.issues if self.document is not None else []
        errors = sum(1 for issue in issues if issue.severity == "error")
        warnings = len(issues) - errors
        if self.document is None or not self.document.dataset.records and not issues:
            self.summary_label.setText("")
        elif not issues:
            self.summary_label.setText("No problems found.")
        else:
            self.summary_label.setText(
                f"{errors:,} error{'s' if errors != 1 else ''} · "
                f"{warnings:,} warning{'s' if warnings != 1 else ''}"
            )


class StringifyPreviewDialog(QDialog):
    """Before/after of every content value that would become text; Apply or Cancel."""

    def __init__(
        self, rows: list[tuple[int, str, str, str]], examples: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Make content text")
        self.resize(760, 420)
        layout = QVBoxLayout(self)
        shown = rows[:PREVIEW_ROWS]
        more = f" The first {len(shown):,} are listed." if len(rows) > len(shown) else ""
        intro = QLabel(
            f"{len(rows):,} content value{'s' if len(rows) != 1 else ''} in "
            f"{_examples(examples)} will become text.{more} You can undo this (Ctrl+Z)."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = QTableWidget(len(shown), 4)
        self.table.setHorizontalHeaderLabels(["Line", "Field", "Before", "After"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        for row, (line, field, before, after) in enumerate(shown):
            for column, text in enumerate((str(line or "new"), field, before, after)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
        header = self.table.horizontalHeader()
        header.resizeSection(0, 50)
        header.resizeSection(1, 160)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.apply_button = self.buttons.addButton("Apply", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)


def _scratch(record: Record) -> Record:
    """A copy of ``record`` that a fix may change (fixes build new values, never mutate)."""
    return Record(record.data, record.raw, record.line, record.parse_error, record.edited)


def _examples(count: int) -> str:
    return f"{count:,} example{'s' if count != 1 else ''}"
