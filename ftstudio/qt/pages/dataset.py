"""Dataset page: the dataset studio (table, editor, issues, statistics, training preview).

Layout: a file bar (which project dataset is open, Open…, Import…, Save, save status),
a progress bar while a large file loads or is checked, then a splitter: on the left the
examples table with its search and filters above the Issues list, on the right tabs for
the example editor, the "What the model learns" preview and the Statistics. Both
splitters are remembered between sessions.

Files in the project's ``datasets/`` folder are saved automatically a few seconds after
an edit; Alpaca, ShareGPT, CSV and Parquet files are imported as a new chat JSONL in that
folder (see :class:`~ftstudio.qt.dataset.document.DatasetDocument`).

Tokens: once a dataset is open, its tokens are counted with the project's base-model
tokenizer in a worker (progress in the same bar as loading). That starts on its own,
shortly after the page is shown, when the base model is the tiny model or a local
folder; for a hub model the user presses "Count tokens" (it must be downloaded). Then
the length column shows tokens, ``too_long`` is checked against the max length and the
statistics count tokens. The max length is one value for the whole page: the preview's
spin box, starting at the project's saved training configuration (or 1,024).
"""

from __future__ import annotations

import copy
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QHideEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.dataset.records import REVIEW_STATES, Dataset, Record
from ftstudio.core.project import Project
from ftstudio.qt.dataset.document import DatasetDocument
from ftstudio.qt.dataset.editor import ConversationEditor
from ftstudio.qt.dataset.issues_panel import IssuesPanel
from ftstudio.qt.dataset.preview_panel import DEFAULT_MAX_LENGTH, LearnPreview
from ftstudio.qt.dataset.stats_panel import StatsPanel
from ftstudio.qt.dataset.table_model import (
    ANY_ISSUE,
    COL_FIRST,
    COL_ISSUES,
    COL_LENGTH,
    COL_LINE,
    COL_REVIEW,
    COL_TAGS,
    COL_TURNS,
    ERROR,
    ERRORS_ONLY,
    NO_ISSUES,
    UNTAGGED,
    DatasetTableModel,
    ExampleFilterProxy,
    FilterSpec,
)
from ftstudio.qt.dataset.token_counter import counts_automatically
from ftstudio.qt.pages.base import Page
from ftstudio.qt.shortcuts import add_shortcut
from ftstudio.qt.ui_state import remember_header, remember_splitter, ui_state
from ftstudio.qt.widgets.messages import show_warning

SEARCH_DELAY_MS = 250
"""Pause in typing before the search runs."""
BACKUP_MARK = ".orig."
"""Backups (``name.orig.jsonl``) are not offered in the file list."""
IMPORT_FILTERS = {
    "Any dataset (*.jsonl *.json *.csv *.parquet *.pq *.arrow *.feather)": None,
    "Alpaca JSON or JSONL (*.json *.jsonl)": "alpaca",
    "ShareGPT JSON or JSONL (*.json *.jsonl)": "sharegpt",
    "CSV with system, user and assistant columns (*.csv)": "csv",
    "Parquet (*.parquet *.pq)": "parquet",
    "Arrow (*.arrow *.feather)": "arrow",
}
NEW_EXAMPLE = {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": ""}]}
AUTO_COUNT_DELAY_MS = 1500
"""Pause (page shown, no scrolling, typing, filtering or selecting) before tokens are
counted on their own. The window paints first, and the ML stack loads while the user
is not busy: importing torch holds Python's lock for a moment now and then (loading
its libraries), which would show as hitches in a table being scrolled."""


def project_max_length(project: Project | None) -> int:
    """The max length of the project's newest saved training configuration, else 1,024.

    Configurations are listed in ``project.json`` under ``configs``; one that cannot be
    read is skipped (the Train page explains it).
    """
    configs = project.manifest.get("configs") if project is not None else None
    if project is None or not isinstance(configs, dict):
        return DEFAULT_MAX_LENGTH
    files = [project.folder / value for value in configs.values() if isinstance(value, str)]
    files = [path for path in files if path.is_file()]
    if not files:
        return DEFAULT_MAX_LENGTH
    from ftstudio.core.fields import ConfigError
    from ftstudio.core.train_config import load_config

    try:
        return load_config(max(files, key=lambda path: path.stat().st_mtime)).max_length
    except (ConfigError, OSError):
        return DEFAULT_MAX_LENGTH


class _LazyCombo(QComboBox):
    """A combo box that refills itself just before its list opens."""

    def __init__(self, fill: object, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fill = fill

    def showPopup(self) -> None:  # noqa: N802 - Qt override
        """Refill, then open."""
        self._fill()  # type: ignore[operator]
        super().showPopup()


class DatasetPage(Page):
    """The dataset studio for the open project (see the module docstring)."""

    key = "dataset"
    title = "Dataset"
    summary = "Curate the examples your model learns from: every problem shown at its line."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.body.setContentsMargins(16, 14, 16, 10)
        self.body.setSpacing(8)
        self.last_message_box: QMessageBox | None = None
        self.current_record: int | None = None
        self._pending_select: int | None = None
        self._reveal_pending: tuple[Path, int] | None = None
        self._tokenizer_source: tuple[str, Path] | None = None
        self._outside_files: list[Path] = []
        self._count_pending = False
        self._count_stopped = False
        self.auto_count_delay_ms = AUTO_COUNT_DELAY_MS
        """How long the page is shown before tokens are counted on their own."""
        self.document = DatasetDocument(self)
        self.model = DatasetTableModel(self.document, self)
        self.proxy = ExampleFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.body.addWidget(self._build_file_bar())
        self.body.addWidget(self._build_progress_row())
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("datasetSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.left_splitter = QSplitter(Qt.Orientation.Vertical)
        self.left_splitter.setObjectName("datasetLeftSplitter")
        self.left_splitter.setChildrenCollapsible(False)
        self.left_splitter.addWidget(self._build_table_area())
        self.bottom_tabs = QTabWidget()
        self.bottom_tabs.setObjectName("datasetBottomTabs")
        self.issues_panel = IssuesPanel()
        self.stats_panel = StatsPanel()
        self.bottom_tabs.addTab(self.issues_panel, "Issues")
        self.left_splitter.addWidget(self.bottom_tabs)
        self.left_splitter.setStretchFactor(0, 3)
        self.left_splitter.setStretchFactor(1, 2)
        self.splitter.addWidget(self.left_splitter)
        self.side_tabs = QTabWidget()
        self.side_tabs.setObjectName("datasetSideTabs")
        self.editor = ConversationEditor()
        self.preview = LearnPreview()
        self.side_tabs.addTab(self.editor, "Editor")
        self.side_tabs.addTab(self.preview, "What the model learns")
        stats_scroll = QScrollArea()  # the charts never make the page taller than the window
        stats_scroll.setWidgetResizable(True)
        stats_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        stats_scroll.setWidget(self.stats_panel)
        self.side_tabs.addTab(stats_scroll, "Statistics")
        self.splitter.addWidget(self.side_tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.body.addWidget(self.splitter, 1)
        self._restore_layout()

        self.editor.set_document(self.document)
        self.preview.set_document(self.document)
        self.issues_panel.set_document(self.document)
        self.stats_panel.set_document(self.document)
        self._connect()
        self._on_preview_max_length_changed(self.preview.max_length())
        self._update_status()
        self._update_counts()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._on_app_about_to_quit)

    # ---- Building
    def _build_file_bar(self) -> QWidget:
        bar = QWidget()
        row = QHBoxLayout(bar)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("File:"))
        self.file_combo = QComboBox()
        self.file_combo.setObjectName("datasetFileCombo")
        self.file_combo.setMinimumContentsLength(24)
        self.file_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.file_combo.setToolTip("The dataset file shown below (files in the project's datasets)")
        row.addWidget(self.file_combo)
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip(
            "Open a chat or completion JSONL file (or import another format)"
        )
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip(
            "Import Alpaca, ShareGPT, CSV or Parquet: saved as a new chat JSONL in the "
            "project's datasets folder; your file is never changed."
        )
        self.save_button = QPushButton("Save")
        self.save_button.setToolTip("Save now (Ctrl+S)")
        self.tokens_button = QPushButton("Count tokens")
        self.tokens_button.setObjectName("countTokens")
        self.tokens_button.setToolTip(
            "Count every example's tokens with the base model's tokenizer: the table then "
            "shows tokens, and examples longer than the max length are reported."
        )
        for button in (self.open_button, self.import_button, self.save_button):
            row.addWidget(button)
        row.addWidget(self.tokens_button)
        self.status_label = QLabel()
        self.status_label.setObjectName("saveStatus")
        row.addWidget(self.status_label, 1)
        return bar

    def _build_progress_row(self) -> QWidget:
        self.progress_row = QWidget()
        row = QHBoxLayout(self.progress_row)
        row.setContentsMargins(0, 0, 0, 0)
        self.progress_label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumHeight(14)
        self.cancel_button = QPushButton("Cancel")
        row.addWidget(self.progress_label)
        row.addWidget(self.progress_bar, 1)
        row.addWidget(self.cancel_button)
        self.progress_row.hide()
        return self.progress_row

    def _build_table_area(self) -> QWidget:
        area = QWidget()
        layout = QVBoxLayout(area)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        filters = QHBoxLayout()
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("datasetSearch")
        self.search_edit.setPlaceholderText("Search messages, tags and notes…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMinimumWidth(100)
        filters.addWidget(self.search_edit, 3)
        self.issue_filter = _LazyCombo(self._fill_issue_filter)
        self.issue_filter.setObjectName("issueFilter")
        self.issue_filter.setToolTip("Show examples by their problems (all by default)")
        self._fill_issue_filter()
        self.tag_filter = _LazyCombo(self._fill_tag_filter)
        self.tag_filter.setObjectName("tagFilter")
        self.tag_filter.setToolTip("Show examples with a tag (all by default)")
        self._fill_tag_filter()
        self.review_filter = QComboBox()
        self.review_filter.setObjectName("reviewFilter")
        self.review_filter.setToolTip("Show draft, approved or rejected examples (all by default)")
        self.review_filter.addItem("Review", "")
        for state in REVIEW_STATES:
            self.review_filter.addItem(state.capitalize(), state)
        self.min_length_filter = QSpinBox()
        self.max_length_filter = QSpinBox()
        for spin, text in ((self.min_length_filter, "min"), (self.max_length_filter, "max")):
            spin.setRange(0, 999_999)
            spin.setSingleStep(100)
            spin.setSpecialValueText(text)
            spin.setAccelerated(True)
        self._update_length_units()
        for combo in (self.issue_filter, self.tag_filter, self.review_filter):
            # Shrink with the window instead of forcing the splitter wider.
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(4)
            combo.setMinimumWidth(70)
            filters.addWidget(combo, 1)
        for spin in (self.min_length_filter, self.max_length_filter):
            spin.setMinimumWidth(62)
            spin.setMaximumWidth(96)
            filters.addWidget(spin)
        layout.addLayout(filters)
        self.token_message = QLabel()
        self.token_message.setObjectName("tokenMessage")
        self.token_message.setWordWrap(True)
        self.token_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.token_message.setStyleSheet("color: palette(placeholder-text);")
        self.token_message.hide()
        layout.addWidget(self.token_message)

        self.table = QTableView()
        self.table.setObjectName("examplesTable")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        rows = self.table.verticalHeader()
        rows.hide()
        # Fixed row heights: the view never measures rows (100,000 rows stay instant).
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_FIRST, QHeaderView.ResizeMode.Stretch)
        widths = {
            COL_LINE: 44,
            COL_TURNS: 46,
            COL_LENGTH: 74,
            COL_TAGS: 96,
            COL_REVIEW: 66,
            COL_ISSUES: 54,
        }
        for column, width in widths.items():
            header.resizeSection(column, width)
        header.setSortIndicatorClearable(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.setMinimumHeight(140)
        self.delete_action = QAction("Delete Examples", self.table)
        self.delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.delete_action.setWhatsThis("Delete the selected examples (in the table)")
        self.table.addAction(self.delete_action)
        add_shortcut(self, QKeySequence.StandardKey.Find, "Search the examples", self.focus_search)
        layout.addWidget(self.table, 1)

        below = QHBoxLayout()
        self.count_label = QLabel()
        self.count_label.setObjectName("exampleCount")
        # Its text never widens the table's side of the splitter (the tool tip has it all).
        self.count_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        below.addWidget(self.count_label, 1)
        self.new_button = QPushButton("New example")
        self.new_button.setToolTip(
            "Add an empty conversation after the selected example (Ctrl+Shift+N)"
        )
        self.new_button.setShortcut(QKeySequence("Ctrl+Shift+N"))
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected examples (Del; undo with Ctrl+Z)")
        self.system_button = QPushButton("System prompt…")
        self.system_button.setToolTip("Set the system prompt of every selected example at once")
        for button in (self.new_button, self.delete_button, self.system_button):
            below.addWidget(button)
        layout.addLayout(below)
        return area

    def _connect(self) -> None:
        doc = self.document
        doc.sig_reset.connect(self._on_document_reset)
        doc.sig_rows_inserted.connect(self._on_document_rows_changed)
        doc.sig_rows_removed.connect(self._on_document_rows_changed)
        doc.sig_issues_changed.connect(self._update_counts)
        doc.sig_dirty_changed.connect(self._update_status)
        doc.sig_saved.connect(self._update_status)
        doc.sig_save_failed.connect(self._on_document_save_failed)
        doc.sig_load_failed.connect(self._on_document_load_failed)
        doc.sig_imported.connect(self._on_document_imported)
        doc.sig_tokens_changed.connect(self._on_document_tokens_changed)
        doc.sig_tokens_failed.connect(self._on_document_tokens_failed)
        doc.token_runner.sig_cancelled.connect(self._on_token_count_cancelled)
        for runner in (doc.loader, doc.validator, doc.token_runner):
            runner.sig_started.connect(self._on_task_started)
            runner.sig_progress.connect(self._on_task_progress)
            runner.sig_idle.connect(self._on_task_idle)
        self.cancel_button.clicked.connect(self.cancel_tasks)
        self.tokens_button.clicked.connect(self.count_tokens)
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.timeout.connect(self._on_count_timer_timeout)
        activity = (
            self.table.verticalScrollBar().valueChanged,
            self.search_edit.textChanged,
            self.proxy.sig_refiltered,
            doc.sig_record_changed,
            self.table.selectionModel().currentRowChanged,
        )
        for signal in activity:
            signal.connect(self._on_user_activity)
        self.file_combo.activated.connect(self._on_file_combo_activated)
        self.open_button.clicked.connect(self.choose_file)
        self.import_button.clicked.connect(self.choose_import)
        self.save_button.clicked.connect(self.save)
        self._show_timer = QTimer(self)
        self._show_timer.setSingleShot(True)
        self._show_timer.setInterval(0)
        self._show_timer.timeout.connect(self._on_show_timer_timeout)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.apply_filters)
        self.search_edit.textChanged.connect(self._search_timer.start)
        self.search_edit.returnPressed.connect(self.apply_filters)
        for combo in (self.issue_filter, self.tag_filter, self.review_filter):
            combo.currentIndexChanged.connect(self.apply_filters)
        for spin in (self.min_length_filter, self.max_length_filter):
            spin.valueChanged.connect(self._search_timer.start)
        self.proxy.sig_refiltered.connect(self._on_proxy_refiltered)
        self.proxy.sig_busy.connect(self._on_proxy_busy)
        selection = self.table.selectionModel()
        selection.currentRowChanged.connect(self._on_current_row_changed)
        selection.selectionChanged.connect(self._update_selection_buttons)
        self.issues_panel.sig_issue_activated.connect(self.show_issue)
        self.editor.sig_focus_requested.connect(self._on_editor_focus_requested)
        self.side_tabs.currentChanged.connect(self._on_side_tab_changed)
        self.preview.sig_max_length_changed.connect(self._on_preview_max_length_changed)
        self.new_button.clicked.connect(self.add_example)
        self.delete_button.clicked.connect(self.delete_selected)
        self.delete_action.triggered.connect(self.delete_selected)
        self.system_button.clicked.connect(self.set_system_prompt)

    # ---- Project
    def refresh(self) -> None:
        """Show the open project's datasets.

        Reopens the file that was open when it belongs to this project (Reload), else
        the project's training dataset, else its first dataset file.
        """
        doc = self.document
        previous = doc.path if doc.path is not None and doc.in_project() else None
        if not doc.flush() or (doc.is_dirty() and not doc.in_project()):
            self._ask_save_before_switching()
        folder = self.project.folder if self.project is not None else None
        if folder != doc.project_folder:
            self._outside_files = []
            previous = None
        doc.project_folder = folder
        doc.token_problem = ""
        self._tokenizer_source = None
        self.set_max_length(project_max_length(self.project))
        for widget in (self.open_button, self.import_button):
            widget.setEnabled(self.project is not None)
        self._fill_file_combo()
        if self.project is None:
            doc.set_dataset(Dataset())
            return
        if self.side_tabs.currentWidget() is self.preview:
            self._start_preview()
        files = self.project_files()
        train = self.project.dataset_path("train")
        first = train if train is not None and train.is_file() else (files[0] if files else None)
        if previous is not None and previous.is_file():
            first = previous
        if first is None:
            doc.set_dataset(Dataset())
        else:
            doc.open_file(first)

    def focus_search(self) -> None:
        """Put the cursor in the search field, its text selected (Ctrl+F)."""
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def project_files(self) -> list[Path]:
        """The project's dataset files offered in the file list (backups left out)."""
        if self.project is None:
            return []
        return [p for p in self.project.dataset_files() if BACKUP_MARK not in p.name]

    # ---- Files
    def open_path(self, path: Path, data_format: str | None = None) -> bool:
        """Open (or import) ``path``; ``False`` if the user kept the current file instead."""
        if not self._leave_document():
            return False
        path = Path(path)
        self.status_label.setText(f"Opening {path.name}…")
        self.document.open_file(path, data_format)
        return True

    def choose_file(self) -> None:
        """Ask for a dataset file and open it."""
        start = str(self._dialog_folder())
        name, _ = QFileDialog.getOpenFileName(
            self,
            "Open a dataset",
            start,
            "Datasets (*.jsonl *.json *.csv *.parquet *.pq *.arrow *.feather);;All files (*)",
        )
        if name:
            self.open_path(Path(name))

    def choose_import(self) -> None:
        """Ask for an Alpaca, ShareGPT, CSV or Parquet file and import it."""
        start = str(self._dialog_folder())
        name, chosen = QFileDialog.getOpenFileName(
            self, "Import a dataset", start, ";;".join(IMPORT_FILTERS)
        )
        if name:
            self.open_path(Path(name), IMPORT_FILTERS.get(chosen))

    def save(self) -> bool:
        """Save the open dataset now (Ctrl+S); explains a failure."""
        if self.document.path is None:
            return False
        try:
            self.document.save()
        except Exception as error:  # explained to the user; the edits stay in memory
            from ftstudio.qt.dataset.workers import plain_error

            self._warn(
                "Could not save",
                f"Could not save {self.document.path}: {plain_error(error)} "
                "Your changes are still here.",
            )
            return False
        return True

    def cancel_tasks(self) -> None:
        """Stop loading, checking or counting tokens (the Cancel button)."""
        self.document.loader.cancel()
        self.document.validator.cancel()
        self._count_stopped = self.document.token_runner.is_running()
        self.document.token_runner.cancel()

    def shutdown(self) -> None:
        """Save what autosave would save and stop background work (before closing)."""
        self._count_timer.stop()
        self._count_pending = False
        self.document.flush()
        self.document.shutdown()
        self.document.loader.shutdown()
        self.document.validator.shutdown()
        self.document.token_runner.shutdown()
        self.proxy.shutdown()
        self.stats_panel.shutdown()
        self.preview.shutdown()

    def maybe_save(self) -> bool:
        """Before closing: save project files, ask about others; ``False`` to stay open."""
        return self._leave_document()

    # ---- Tokens and max length
    def count_tokens(self) -> None:
        """Count every example's tokens with the project's base model ("Count tokens")."""
        self._count_timer.stop()
        self._count_pending = False
        if self.project is None or self.document.path is None:
            return
        self.tokens_button.setEnabled(False)
        self._show_token_message("")
        self.document.count_tokens(self.project.base_model, self.project.folder)

    def max_length(self) -> int:
        """The training max length in tokens the page checks against (the preview's)."""
        return self.preview.max_length()

    def set_max_length(self, value: int) -> None:
        """Use ``value`` tokens as the max length in the preview, statistics and checks."""
        self.preview.set_max_length(value)
        self._on_preview_max_length_changed(self.preview.max_length())

    def _schedule_token_count(self) -> None:
        """After a dataset loads: count tokens soon (tiny or local model), else offer to."""
        self._count_timer.stop()
        self._count_pending = False
        doc = self.document
        if self.project is None or doc.path is None or not len(doc):
            self.tokens_button.setEnabled(False)
            self._show_token_message("")
            return
        base, folder = self.project.base_model, self.project.folder
        loaded = doc.tokens is not None and doc.tokens.source == (base, folder)
        self._update_tokens_button()
        if loaded or counts_automatically(base, folder):
            self._show_token_message("")
            self._count_pending = True
            if self.isVisible():
                self._count_timer.start(self.auto_count_delay_ms)
        elif doc.token_problem:
            self._show_token_message(doc.token_problem)
        else:
            self._show_token_message(
                f"Lengths are in characters. Count tokens uses the tokenizer of {base}, "
                "which must be downloaded."
            )

    def _update_tokens_button(self) -> None:
        doc = self.document
        idle = not doc.token_runner.is_running() and not doc.tokens_known()
        self.tokens_button.setEnabled(idle and self.project is not None and doc.path is not None)

    def _show_token_message(self, text: str) -> None:
        self.token_message.setText(text)
        self.token_message.setVisible(bool(text))

    # ---- Examples and selection
    def select_record(self, index: int) -> bool:
        """Select example ``index`` in the table (clearing filters that hide it)."""
        if not 0 <= index < len(self.document):
            return False
        row = self.proxy.row_of(index)
        if row < 0 and self.proxy.spec.is_active():
            self.clear_filters()
            row = self.proxy.row_of(index)
        if row < 0:
            self._pending_select = index  # a background sort is running
            return False
        target = self.proxy.index(row, COL_FIRST)
        flags = (
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows
        )
        self.table.selectionModel().setCurrentIndex(target, flags)
        self.table.scrollTo(target)
        return True

    def reveal_line(self, path: Path, line: int) -> bool:
        """Show the example at physical ``line`` (1-based) of the dataset file ``path``.

        Opens ``path`` when another file is open (saving or asking about unsaved changes
        first, as switching files does; a file that changed on disk since it was opened
        is read again when it holds no unsaved edits), then selects the example that
        starts at ``line`` (in a JSON array file, the one whose text spans it), scrolls
        the table to it and shows it in the editor. Filters that hide it are cleared.

        Returns whether the example was found: it is selected now, or as soon as a file
        loading in the background is ready. ``False`` when the user kept the open file,
        the file could not be opened (explained), or no example is at that line (said
        in the status line).
        """
        path = Path(path)
        self._reveal_pending_cancel()
        if not self._shows_file(path):
            if not self.open_path(path):
                return False
        elif self._record_at_line(line) is None and not self.document.is_dirty():
            self.document.open_file(path)  # written since it was opened (a rating appended)
        if self.document.loader.is_running():  # a large file loads in the background
            self._reveal_pending = (path, line)
            self.document.sig_reset.connect(self._on_reveal_reset)
            return True
        if not self._shows_file(path):  # it could not be opened (explained)
            return False
        return self._select_line(line)

    def _shows_file(self, path: Path) -> bool:
        """Whether the open document is the file ``path`` (as opened or as saved)."""
        wanted = path.resolve()
        doc = self.document
        return any(p is not None and p.resolve() == wanted for p in (doc.path, doc.source_path))

    def _record_at_line(self, line: int) -> int | None:
        """The index of the record starting at ``line``; in a JSON array, spanning it."""
        records = self.document.dataset.records
        for index, record in enumerate(records):
            if record.line == line:
                return index
        if not self.document.dataset.json_array:
            return None
        before = [(r.line, i) for i, r in enumerate(records) if 0 < r.line <= line]
        return max(before)[1] if before else None

    def _select_line(self, line: int) -> bool:
        index = self._record_at_line(line)
        name = self.document.path.name if self.document.path is not None else "this file"
        if index is None:
            self.status_label.setText(
                f"No example at line {line} of {name}: the file may have changed since."
            )
            return False
        self.side_tabs.setCurrentWidget(self.editor)
        if not self.select_record(index):
            return self._pending_select == index  # selected once the table is sorted
        current = self.table.selectionModel().currentIndex()
        self.table.scrollTo(current, QAbstractItemView.ScrollHint.PositionAtCenter)
        self.flush_selection()
        return True

    def _reveal_pending_cancel(self) -> None:
        if self._reveal_pending is not None:
            self._reveal_pending = None
            self.document.sig_reset.disconnect(self._on_reveal_reset)

    @Slot()
    def _on_reveal_reset(self) -> None:
        """A file opened by :meth:`reveal_line` has loaded: select the line asked for."""
        pending = self._reveal_pending
        self._reveal_pending_cancel()
        if pending is not None and self._shows_file(pending[0]):
            self._select_line(pending[1])

    def selected_records(self) -> list[int]:
        """The selected examples' indices, in file order."""
        rows = self.table.selectionModel().selectedRows()
        return sorted(self.proxy.record_at(index.row()) for index in rows)

    def show_issue(self, record: int, field: str) -> None:
        """Show the example and field an issue is about (from the Issues panel)."""
        if record < 0:
            self.status_label.setText("This problem is about the file as a whole.")
            return
        self.select_record(record)
        self.flush_selection()
        self.side_tabs.setCurrentWidget(self.editor)
        self.editor.show_field(record, field)

    def add_example(self) -> None:
        """Insert an empty conversation after the current example and select it."""
        position = (self.current_record + 1) if self.current_record is not None else 0
        position = min(position, len(self.document))
        self.document.insert_records(
            position, [Record(copy.deepcopy(NEW_EXAMPLE), edited=True)], "New example"
        )
        self.select_record(position)

    def delete_selected(self) -> None:
        """Delete the selected examples (one undo step)."""
        indices = self.selected_records()
        if indices:
            noun = "example" if len(indices) == 1 else "examples"
            self.document.remove_records(indices, f"Delete {len(indices)} {noun}")

    def set_system_prompt(self) -> None:
        """Set the system prompt of every selected example (asks for the text)."""
        indices = self.selected_records()
        if indices:
            self.editor.ask_system_prompt(indices)

    # ---- Filters
    def filter_spec(self) -> FilterSpec:
        """The filter the controls describe."""
        return FilterSpec(
            text=self.search_edit.text(),
            issue=self.issue_filter.currentData() or "",
            tag=self.tag_filter.currentData() or "",
            review=self.review_filter.currentData() or "",
            min_chars=self.min_length_filter.value(),
            max_chars=self.max_length_filter.value(),
            in_tokens=self.model.tokens_known(),
        )

    @Slot()
    def apply_filters(self) -> None:
        """Filter the table as the controls say."""
        self._search_timer.stop()
        self.proxy.set_filter(self.filter_spec())
        self._update_counts()

    def clear_filters(self) -> None:
        """Show every example again."""
        widgets = (
            self.search_edit,
            self.issue_filter,
            self.tag_filter,
            self.review_filter,
            self.min_length_filter,
            self.max_length_filter,
        )
        for widget in widgets:
            widget.blockSignals(True)
        self.search_edit.clear()
        for combo in (self.issue_filter, self.tag_filter, self.review_filter):
            combo.setCurrentIndex(0)
        self.min_length_filter.setValue(0)
        self.max_length_filter.setValue(0)
        for widget in widgets:
            widget.blockSignals(False)
        self.apply_filters()

    def refresh_filter_choices(self) -> None:
        """List the current issue codes and tags in the filters (done when they open)."""
        self._fill_issue_filter()
        self._fill_tag_filter()

    def _fill_issue_filter(self) -> None:
        from collections import Counter

        current = self.issue_filter.currentData()
        codes = Counter(issue.code for issue in self.document.issues if issue.record >= 0)
        blocked = self.issue_filter.blockSignals(True)
        self.issue_filter.clear()
        for text, value in (
            ("Issues", ""),
            ("With a problem", ANY_ISSUE),
            ("With errors", ERRORS_ONLY),
            ("Without problems", NO_ISSUES),
        ):
            self.issue_filter.addItem(text, value)
        for code, count in sorted(codes.items()):
            self.issue_filter.addItem(f"{code} ({count:,})", code)
        if current and self.issue_filter.findData(current) < 0:
            self.issue_filter.addItem(f"{current} (0)", current)
        self.issue_filter.setCurrentIndex(max(0, self.issue_filter.findData(current or "")))
        self.issue_filter.blockSignals(blocked)

    def _fill_tag_filter(self) -> None:
        current = self.tag_filter.currentData()
        tags = self.model.tags()
        blocked = self.tag_filter.blockSignals(True)
        self.tag_filter.clear()
        self.tag_filter.addItem("Tags", "")
        self.tag_filter.addItem("(untagged)", UNTAGGED)
        for tag in tags:
            self.tag_filter.addItem(tag, tag)
        if current and self.tag_filter.findData(current) < 0:
            self.tag_filter.addItem(current, current)
        self.tag_filter.setCurrentIndex(max(0, self.tag_filter.findData(current or "")))
        self.tag_filter.blockSignals(blocked)

    # ---- Layout memory
    def save_layout(self) -> None:
        """Remember the splitter positions and the table's columns now."""
        state = ui_state()
        state.setValue("dataset/splitter", self.splitter.saveState())
        state.setValue("dataset/leftSplitter", self.left_splitter.saveState())
        state.setValue("dataset/tableHeader", self.table.horizontalHeader().saveState())

    def _restore_layout(self) -> None:
        """Restore the splitters (saved whenever they move) and the table's columns."""
        restored = remember_splitter(self.splitter, "dataset/splitter")
        restored = remember_splitter(self.left_splitter, "dataset/leftSplitter") or restored
        if not restored:
            self.splitter.setSizes([545, 445])
            self.left_splitter.setSizes([400, 220])
        remember_header(self.table.horizontalHeader(), "dataset/tableHeader")

    # ---- Internals
    def _leave_document(self) -> bool:
        """Save or ask before another file replaces the open one."""
        doc = self.document
        if not doc.is_dirty():
            return True
        if doc.in_project():
            return doc.flush() or self._ask_discard()
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Unsaved changes",
            f"Save your changes to {doc.path}?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            self,
        )
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def _ask_save_before_switching(self) -> None:
        """The project changes under unsaved edits of a file elsewhere: save or drop them."""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Unsaved changes",
            f"Save your changes to {self.document.path} before switching?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard,
            self,
        )
        if box.exec() == QMessageBox.StandardButton.Save:
            self.save()

    def _ask_discard(self) -> bool:
        answer = QMessageBox.question(
            self,
            "Could not save",
            f"{self.document.path} could not be saved. Discard your changes?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def _dialog_folder(self) -> Path:
        if self.document.source_path is not None:
            return self.document.source_path.parent
        if self.project is not None:
            return self.project.folder / "datasets"
        return Path.home()

    def _fill_file_combo(self) -> None:
        blocked = self.file_combo.blockSignals(True)
        self.file_combo.clear()
        roles = {}
        if self.project is not None:
            roles = {
                (self.project.folder / relative).resolve(): role
                for role, relative in self.project.datasets.items()
            }
            base = self.project.folder / "datasets"
            for path in self.project_files():
                role = roles.get(path.resolve())
                text = str(path.relative_to(base)) + (f"  ({role})" if role else "")
                self.file_combo.addItem(text, str(path))
        for path in self._outside_files:
            self.file_combo.addItem(f"{path.name}  (outside the project)", str(path))
            self.file_combo.setItemData(
                self.file_combo.count() - 1, str(path), Qt.ItemDataRole.ToolTipRole
            )
        if self.file_combo.count() == 0:
            self.file_combo.addItem("No dataset yet: Import… or Open… one", "")
        self._select_in_file_combo()
        self.file_combo.blockSignals(blocked)

    def _select_in_file_combo(self) -> None:
        path = self.document.path
        if path is None:
            return
        index = self.file_combo.findData(str(path))
        if index < 0 and not self.document.in_project() and path.exists():
            self._outside_files.append(path)
            self.file_combo.addItem(f"{path.name}  (outside the project)", str(path))
            index = self.file_combo.count() - 1
        blocked = self.file_combo.blockSignals(True)
        self.file_combo.setCurrentIndex(max(0, index))
        self.file_combo.blockSignals(blocked)

    def _start_preview(self) -> None:
        if self.project is None:
            return
        source = (self.project.base_model, self.project.folder)
        if source != self._tokenizer_source:
            self._tokenizer_source = source
            self.preview.set_tokenizer_source(*source)

    def _warn(self, title: str, text: str) -> None:
        self.last_message_box = show_warning(self, title, text)

    def _update_status(self, *_args: object) -> None:
        doc = self.document
        self.save_button.setEnabled(doc.path is not None and doc.is_dirty())
        if doc.path is None:
            self.status_label.setText("")
            return
        self.status_label.setToolTip(str(doc.path))
        if doc.is_dirty():
            later = " (saved automatically in a moment)" if doc.in_project() else ""
            self.status_label.setText(f"Unsaved changes{later}")
        elif doc.last_saved is not None:
            when, auto = doc.last_saved
            self.status_label.setText(f"{'Autosaved' if auto else 'Saved'} at {when:%H:%M}")
        else:
            self.status_label.setText("Saved")

    def _update_counts(self, *_args: object) -> None:
        total = len(self.document)
        shown = self.proxy.rowCount()
        errors = self.model.issue_columns()[1].count(ERROR)  # C speed, even at 100,000 rows
        parts = [f"{total:,} example{'s' if total != 1 else ''}"]
        tip = ""
        if self.model.tokens_known():
            tokens, trained = self.model.token_totals()
            parts.append(f"{tokens:,} tokens")
            tip = f"{tokens:,} tokens in all examples, {trained:,} of them trained"
        if errors:
            parts.append(f"{errors:,} with errors")
        if shown != total:
            parts.append(f"{shown:,} shown")
        self.count_label.setText(" · ".join(parts))
        self.count_label.setToolTip("\n".join(filter(None, [" · ".join(parts), tip])))
        issues = len(self.document.issues)
        self.bottom_tabs.setTabText(0, f"Issues ({issues:,})" if issues else "Issues")

    def _update_selection_buttons(self, *_args: object) -> None:
        selected = bool(self.table.selectionModel().selectedRows())
        self.delete_button.setEnabled(selected)
        self.system_button.setEnabled(selected)
        self.delete_action.setEnabled(selected)

    # ---- Slots
    @Slot()
    def _on_document_reset(self) -> None:
        self._fill_file_combo()
        self._update_status()
        self._update_counts()
        self.current_record = None
        if len(self.document):
            self.select_record(0)
        self._show_timer.start()
        self._update_selection_buttons()
        self._update_length_units()
        self._schedule_token_count()

    @Slot(int, int)
    def _on_document_rows_changed(self, _first: int, _last: int) -> None:
        self._update_counts()

    @Slot(str)
    def _on_document_load_failed(self, message: str) -> None:
        self._warn("Could not open the dataset", message)
        self.status_label.setText(message.splitlines()[0] if message else "")
        self._select_in_file_combo()

    @Slot(str)
    def _on_document_save_failed(self, message: str) -> None:
        self._warn("Could not save", message)
        self._update_status()

    @Slot(object, object)
    def _on_document_imported(self, source: Path, target: Path) -> None:
        self._fill_file_combo()
        where = target.name
        if self.project is not None and target.is_relative_to(self.project.folder):
            where = str(target.relative_to(self.project.folder))
        self.status_label.setText(f"Imported {source.name} as {where}")

    @Slot(int)
    def _on_file_combo_activated(self, index: int) -> None:
        path = self.file_combo.itemData(index)
        other = path and (self.document.path is None or Path(path) != self.document.path)
        if other and not self.open_path(Path(path)):
            self._select_in_file_combo()

    @Slot(QModelIndex, QModelIndex)
    def _on_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        record = self.proxy.record_at(current.row()) if current.isValid() else None
        if record == self.current_record:
            return
        self.current_record = record
        # The editor follows in the next turn of the event loop: the table repaints
        # first, and holding an arrow key down builds the editor once, not per row.
        self._show_timer.start()

    @Slot()
    def _on_show_timer_timeout(self) -> None:
        record = self.current_record
        if record is not None and not 0 <= record < len(self.document):
            record = None
        self.editor.show_record(record)
        self.preview.show_record(record)

    def flush_selection(self) -> None:
        """Show the current example in the editor now (instead of in a moment)."""
        if self._show_timer.isActive():
            self._show_timer.stop()
            self._on_show_timer_timeout()

    @Slot()
    def _on_proxy_refiltered(self) -> None:
        self._update_counts()
        wanted = self._pending_select if self._pending_select is not None else self.current_record
        self._pending_select = None
        self.current_record = None
        if wanted is not None and self.proxy.row_of(wanted) >= 0:
            self.select_record(wanted)
        elif self.proxy.rowCount():
            self.select_record(self.proxy.record_at(0))
        self._show_timer.start()

    @Slot(bool)
    def _on_proxy_busy(self, busy: bool) -> None:
        if busy:
            self.count_label.setText("Filtering…")
        else:
            self._update_counts()

    @Slot(int, str)
    def _on_editor_focus_requested(self, _index: int, _field: str) -> None:
        self.side_tabs.setCurrentWidget(self.editor)

    @Slot(int)
    def _on_side_tab_changed(self, _index: int) -> None:
        if self.side_tabs.currentWidget() is self.preview:
            self._start_preview()

    @Slot(str)
    def _on_task_started(self, label: str) -> None:
        self.progress_label.setText(f"{label}…")
        self.progress_bar.setRange(0, 0)  # busy until the first progress comes
        self.progress_row.show()

    @Slot(int, int, float, str)
    def _on_task_progress(self, done: int, total: int, eta: float, label: str) -> None:
        if done <= 0:  # e.g. loading the tokenizer or building the tiny model: no steps
            self.progress_bar.setRange(0, 0)
            self.progress_label.setText(f"{label or 'Working'}…")
            return
        self.progress_bar.setRange(0, max(1, total))
        self.progress_bar.setValue(done)
        left = f" · about {_duration(eta)} left" if eta >= 0 else ""
        percent = int(100 * done / total) if total else 0
        self.progress_label.setText(f"{label or 'Working'}… {percent}%{left}")

    @Slot()
    def _on_task_idle(self) -> None:
        doc = self.document
        runners = (doc.loader, doc.validator, doc.token_runner)
        if not any(runner.is_running() for runner in runners):
            self.progress_row.hide()
        if self.status_label.text().startswith("Opening "):
            self._update_status()
        self._update_tokens_button()

    @Slot(int)
    def _on_preview_max_length_changed(self, value: int) -> None:
        self.stats_panel.set_max_length(value)
        self.document.set_max_length(value)

    @Slot()
    def _on_document_tokens_changed(self) -> None:
        self._show_token_message("")
        self._update_tokens_button()
        self._update_length_units()
        self._update_counts()
        # Lengths are tokens now: a length filter or sort is applied again in tokens.
        spec = self.filter_spec()
        if spec.min_chars or spec.max_chars or self.proxy.sort_column() == COL_LENGTH:
            if spec != self.proxy.spec:
                self.proxy.set_filter(spec)
            else:
                self.proxy.refresh()

    @Slot(str)
    def _on_document_tokens_failed(self, message: str) -> None:
        self._show_token_message(message)

    @Slot()
    def _on_token_count_cancelled(self) -> None:
        stopped, self._count_stopped = self._count_stopped, False
        if stopped and not self.document.tokens_known():
            self._show_token_message(
                "Token counting was stopped; lengths stay in characters. Press Count tokens "
                "to count them."
            )

    @Slot()
    def _on_user_activity(self, *_args: object) -> None:
        if self._count_timer.isActive():  # a due count waits until the user pauses
            self._count_timer.start(self.auto_count_delay_ms)

    @Slot()
    def _on_count_timer_timeout(self) -> None:
        if self._count_pending:
            self.count_tokens()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """Count tokens a moment after the page shows, when that is due."""
        super().showEvent(event)
        if self._count_pending and not self._count_timer.isActive():
            self._count_timer.start(self.auto_count_delay_ms)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt override
        """Put off a due count while another page is shown (it starts when shown again)."""
        super().hideEvent(event)
        self._count_timer.stop()

    def _update_length_units(self) -> None:
        unit = "tokens" if self.model.tokens_known() else "characters"
        self.min_length_filter.setToolTip(f"Shortest example shown, in {unit} (min: no limit)")
        self.max_length_filter.setToolTip(f"Longest example shown, in {unit} (max: no limit)")

    @Slot()
    def _on_app_about_to_quit(self) -> None:
        self.shutdown()


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"
