"""Runs page: every training run of the project, their curves, their differences.

The table lists the runs of the project's run database and any run folder it does
not know (:func:`ftstudio.core.runs_compare.project_runs`), sortable by every column.
Selecting runs overlays their loss curves; with two selected, "Compare configs"
shows the settings that differ. A run can be re-run (its configuration is copied to
``configs/`` and the Train page asked to open it), opened in the file manager, or
moved to the trash after a confirmation.

pyqtgraph is imported when the curves are first needed, so the window opens fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QEvent,
    QFileSystemWatcher,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import QDesktopServices, QKeyEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.runs import RUNS_FOLDER
from ftstudio.core.runs_compare import (
    ConfigChange,
    RunSummary,
    config_diff,
    project_runs,
)
from ftstudio.qt.pages.base import Page
from ftstudio.qt.runs.actions import RunActionError, move_run_to_trash, save_rerun_config
from ftstudio.qt.runs.details import RunDetailsDialog
from ftstudio.qt.runs.diff_view import ConfigDiffView
from ftstudio.qt.runs.table_model import (
    RUN_ROLE,
    RunSortProxy,
    RunTableModel,
    column_index,
)
from ftstudio.qt.shortcuts import declare_shortcut
from ftstudio.qt.style import error_style
from ftstudio.qt.widgets.card import Card
from ftstudio.qt.widgets.messages import ask, show_warning
from ftstudio.qt.widgets.tables import setup_record_table

CURVES_HEIGHT = 320
TABLE_ROWS = 12
"""Rows the run table shows before it scrolls."""
COLUMN_PADDING = 8
"""Pixels added to each column's content width."""
WATCH_DELAY_MS = 800
"""How long the page waits after the runs folder changed before it looks again."""
EMPTY_TEXT = (
    "No runs yet. Start one on the Train page: each run gets its own folder under runs/ "
    "with its configuration, metrics and checkpoints, and shows up here."
)


class RunsPage(Page):
    """The run history: a table of runs, overlaid loss curves, config diffs, actions.

    Signals:
        sig_rerun_requested(object): the user asked to train a run's configuration
            again; the argument is the ``Path`` of its copy in ``configs/``, which the
            Train page should select (its name there is the file's stem).

    Attributes:
        runs: the runs listed, oldest first.
        model: the table's model (:class:`RunTableModel`, in :attr:`runs` order).
        proxy: the sorting proxy the table shows.
        table: the run table.
        curves: the overlaid loss curves (``None`` until first needed).
        diff_view: the configuration diff (in :attr:`diff_card`, hidden until used).
        confirm_delete: asks whether to move the given runs to the trash; replace it
            to answer without a dialog.
        details: the last details dialog opened (``None`` before).
    """

    key = "runs"
    title = "Runs"
    summary = "Find, compare and reproduce every training run of this project."

    sig_rerun_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[RunSummary] = []
        self.curves: Any = None
        self.details: RunDetailsDialog | None = None
        self.confirm_delete: Callable[[list[RunSummary]], bool] = self._ask_delete
        self._known_folders: list[str] = []
        self.model = RunTableModel(self)
        self.proxy = RunSortProxy(self)
        self.proxy.setSourceModel(self.model)
        self._build_history_card()
        self._build_curves_card()
        self._build_diff_card()
        self.body.addStretch(1)

        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._on_watcher_directory_changed)
        self._watch_timer = QTimer(self)
        self._watch_timer.setSingleShot(True)
        self._watch_timer.setInterval(WATCH_DELAY_MS)
        self._watch_timer.timeout.connect(self._on_watch_timer_timeout)
        self._update_buttons()

    # ---- Building
    def _build_history_card(self) -> None:
        card = Card("Run history")
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        self.compare_button = QPushButton("Compare configs")
        self.compare_button.setToolTip("Show the settings that differ between two selected runs")
        self.compare_button.clicked.connect(self.compare_selected)
        self.rerun_button = QPushButton("Re-run")
        self.rerun_button.setToolTip(
            "Copy the run's configuration to configs/ and open it on the Train page"
        )
        self.rerun_button.clicked.connect(self.rerun_selected)
        self.open_button = QPushButton("Open folder")
        self.open_button.setToolTip("Show the run's folder in the file manager")
        self.open_button.clicked.connect(self.open_selected_folder)
        self.details_button = QPushButton("Details…")
        self.details_button.setToolTip("Everything about the run, and its config.yaml (Enter)")
        self.details_button.clicked.connect(self._on_details_clicked)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Move the selected runs to the trash, after asking (Del)")
        self.delete_button.clicked.connect(self.delete_selected)
        for button in (
            self.compare_button,
            self.rerun_button,
            self.open_button,
            self.details_button,
            self.delete_button,
        ):
            line.addWidget(button)
        line.addStretch(1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Read the runs again (F5 reloads the whole project)")
        self.refresh_button.clicked.connect(self.refresh)
        line.addWidget(self.refresh_button)
        card.add(row)

        self.table = QTableView()
        self.table.setObjectName("runTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(column_index("created"), Qt.SortOrder.DescendingOrder)
        setup_record_table(self.table, QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        self.table.activated.connect(self._on_table_activated)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.table.installEventFilter(self)
        declare_shortcut(self.table, "Del", "Move the selected runs to the trash (asks first)")
        declare_shortcut(self.table, "Return", "Show the run's details")
        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setObjectName("emptyState")
        self.empty_label.setWordWrap(True)
        card.add(self.empty_label)
        card.add(self.table)
        self.status_label = QLabel()
        self.status_label.setObjectName("muted")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        card.add(self.status_label)
        self.body.addWidget(card)

    def _build_curves_card(self) -> None:
        self.curves_card = card = Card("Loss curves")
        self.curves_hint = QLabel()
        self.curves_hint.setObjectName("muted")
        self.curves_hint.setWordWrap(True)
        card.add(self.curves_hint)
        self.curves_holder = QWidget()
        self.curves_holder.setMinimumHeight(CURVES_HEIGHT)
        QVBoxLayout(self.curves_holder).setContentsMargins(0, 0, 0, 0)
        card.add(self.curves_holder)
        self.body.addWidget(card)

    def _build_diff_card(self) -> None:
        self.diff_card = card = Card("Configuration differences")
        self.diff_view = ConfigDiffView()
        card.add(self.diff_view)
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addStretch(1)
        close = QPushButton("Hide")
        close.clicked.connect(lambda: self.diff_card.setVisible(False))
        line.addWidget(close)
        card.add(row)
        card.setVisible(False)
        self.body.addWidget(card)

    def ensure_curves(self) -> Any:
        """The loss-curve plot, created on first use (imports pyqtgraph)."""
        if self.curves is None:
            from ftstudio.qt.runs.curves import RunCurves

            self.curves = RunCurves()
            layout = self.curves_holder.layout()
            assert layout is not None
            layout.addWidget(self.curves)
            self.curves.set_runs(self.selected_runs())
        return self.curves

    # ---- Public API
    def refresh(self) -> None:
        """Read the runs again, keeping the selection."""
        keep = {run.id for run in self.selected_runs()}
        current = self.table.currentIndex()
        current_id = current.data(RUN_ROLE).id if current.isValid() else None
        warning = ""
        if self.project is not None:
            listing = project_runs(self.project.folder)
            self.runs, warning = listing.runs, listing.warning
        else:
            self.runs = []
        self._watch()
        selection = self.table.selectionModel()
        selection.blockSignals(True)
        self.model.set_runs(self.runs)
        self._fit_table()
        self._select_ids(keep, current_id)
        selection.blockSignals(False)
        self.table.setVisible(bool(self.runs))
        self.empty_label.setVisible(not self.runs)
        if warning:
            self._set_status(warning, error=True)
        else:
            self._set_status(self._selection_text())
        self._on_selection_changed()

    def selected_runs(self) -> list[RunSummary]:
        """The selected runs, in the table's order."""
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return [self.proxy.index(row, 0).data(RUN_ROLE) for row in rows]

    def select_runs(self, run_ids: list[str]) -> None:
        """Select the runs with these ids (others are deselected)."""
        self._select_ids(set(run_ids), run_ids[0] if run_ids else None)

    def compare_selected(self) -> list[ConfigChange] | None:
        """Show how the two selected runs' configurations differ (older run first).

        Returns the changes, or ``None`` (with the reason shown) unless exactly two
        runs are selected and both configurations can be read.
        """
        runs = self.selected_runs()
        if len(runs) != 2:
            self._set_status("Select exactly two runs to compare their configurations.")
            return None
        old, new = sorted(runs, key=lambda run: (run.created or "", run.id))
        try:
            changes = config_diff(old.path / "config.yaml", new.path / "config.yaml")
        except (OSError, ValueError) as error:
            self._warn("Cannot compare these runs", str(error))
            return None
        self.diff_view.set_changes(changes, old.name, new.name)
        self.diff_card.setVisible(True)
        QTimer.singleShot(0, self._scroll_to_diff)
        return changes

    def rerun_selected(self) -> Path | None:
        """Copy the selected run's configuration into ``configs/`` and ask the Train page
        to open it (:attr:`sig_rerun_requested`); returns the copy, or ``None``."""
        runs = self.selected_runs()
        if len(runs) != 1 or self.project is None:
            self._set_status("Select one run to re-run its configuration.")
            return None
        try:
            path = save_rerun_config(runs[0], self.project.folder)
        except RunActionError as error:
            self._warn("Cannot re-run", str(error))
            return None
        relative = path.relative_to(self.project.folder).as_posix()
        self._set_status(f"Saved {runs[0].name}'s configuration as {relative}.")
        self.sig_rerun_requested.emit(path)
        return path

    def delete_selected(self) -> bool:
        """Move the selected runs to the trash after asking; ``True`` if any was moved.

        Running runs are refused (nothing is asked); a failure stops at that run and
        explains it.
        """
        runs = self.selected_runs()
        if not runs or self.project is None:
            return False
        running = [run for run in runs if run.is_running]
        if running:
            names = ", ".join(run.name for run in running)
            self._warn(
                "A run is training",
                f"{names} {'is' if len(running) == 1 else 'are'} {running[0].status}: stop "
                "training on the Train page before deleting. Nothing was deleted.",
            )
            return False
        if not self.confirm_delete(runs):
            return False
        moved, problem = 0, ""
        try:
            for run in runs:
                move_run_to_trash(run, self.project.folder)
                moved += 1
        except RunActionError as error:
            problem = str(error)
        self.refresh()
        if problem:
            self._warn("Could not delete the run", problem)
        elif moved:
            noun = "run" if moved == 1 else "runs"
            self._set_status(f"Moved {moved} {noun} to the trash.")
        return moved > 0

    def open_selected_folder(self) -> bool:
        """Show the (first) selected run's folder in the file manager."""
        runs = [run for run in self.selected_runs() if run.path.is_dir()]
        if not runs:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(runs[0].path)))

    def show_details(self, run: RunSummary) -> RunDetailsDialog:
        """Open the details of ``run`` (not modal) and return the dialog."""
        dialog = RunDetailsDialog(run, self)
        self.details = dialog
        dialog.destroyed.connect(self._on_details_destroyed)
        dialog.show()
        return dialog

    # ---- Qt events
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """The Delete key in the table moves the selected runs to the trash (after asking)."""
        if (
            watched is self.table
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.matches(QKeySequence.StandardKey.Delete)
        ):
            self.delete_selected()
            return True
        return super().eventFilter(watched, event)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """Read the runs again (a command-line run may have added one) and draw curves."""
        super().showEvent(event)
        if self.project is not None:
            self.refresh()
        self.ensure_curves()

    # ---- Slots
    def _on_selection_changed(
        self, _selected: QItemSelection | None = None, _deselected: QItemSelection | None = None
    ) -> None:
        runs = self.selected_runs()
        if self.curves is not None or (runs and self.isVisible()):
            self.ensure_curves().set_runs(runs)
        if not self.runs:
            hint = "The loss curves of the runs you select appear here."
        elif not runs:
            hint = "Select runs in the table (Ctrl or Shift for several) to overlay their curves."
        else:
            hint = (
                "Training loss solid, validation loss dashed; one colour per run. Drag to pan, "
                "scroll to zoom, right-click for more."
            )
        self.curves_hint.setText(hint)
        self.curves_holder.setVisible(bool(runs))
        if not self.status_label.styleSheet():
            self._set_status(self._selection_text())
        self._update_buttons()

    def _on_table_activated(self, index: QModelIndex) -> None:
        run = index.data(RUN_ROLE)
        if run is not None:
            self.show_details(run)

    def _on_details_clicked(self) -> None:
        runs = self.selected_runs()
        if runs:
            self.show_details(runs[0])

    def _on_details_destroyed(self) -> None:
        self.details = None

    def _on_watcher_directory_changed(self, _path: str) -> None:
        self._watch_timer.start()

    def _on_watch_timer_timeout(self) -> None:
        if self._folder_names() != self._known_folders:
            self.refresh()

    # ---- Internals
    def _ask_delete(self, runs: list[RunSummary]) -> bool:
        if len(runs) == 1:
            text = f"Move the run “{runs[0].name}” to the trash?"
        else:
            text = f"Move these {len(runs)} runs to the trash?"
        listed = "\n".join(f"• {run.name} ({run.id})" for run in runs[:12])
        if len(runs) > 12:
            listed += f"\n… and {len(runs) - 12} more"
        move = "Move to Trash"
        answer = ask(
            self,
            "confirmDeleteRuns",
            "Delete runs",
            text,
            f"{listed}\n\nTheir folders (configuration, metrics, checkpoints, adapter) go to "
            "the system trash, where you can restore them; they leave the run list.",
            [
                (move, QMessageBox.ButtonRole.DestructiveRole),
                ("Keep", QMessageBox.ButtonRole.RejectRole),
            ],
        )
        return answer == move

    def _select_ids(self, run_ids: set[str], current_id: str | None) -> None:
        selection = self.table.selectionModel()
        chosen = QItemSelection()
        current = QModelIndex()
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            run_id = index.data(RUN_ROLE).id
            if run_id in run_ids:
                chosen.select(index, self.proxy.index(row, self.proxy.columnCount() - 1))
            if run_id == current_id:
                current = index
        flags = QItemSelectionModel.SelectionFlag
        selection.select(chosen, flags.ClearAndSelect | flags.Rows)
        if current.isValid():
            selection.setCurrentIndex(current, flags.NoUpdate)

    def _selection_text(self) -> str:
        if not self.runs:
            return ""
        count = len(self.selected_runs())
        total = f"{len(self.runs)} run{'s' if len(self.runs) != 1 else ''}"
        if not count:
            return f"{total}. Select runs to see their curves; Enter shows a run's details."
        return f"{total}, {count} selected."

    def _update_buttons(self) -> None:
        runs = self.selected_runs()
        one = len(runs) == 1
        self.compare_button.setEnabled(len(runs) == 2)
        self.rerun_button.setEnabled(one and (runs[0].path / "config.yaml").is_file())
        self.open_button.setEnabled(bool(runs) and runs[0].path.is_dir())
        self.details_button.setEnabled(bool(runs))
        self.delete_button.setEnabled(bool(runs) and not any(run.is_running for run in runs))
        self.refresh_button.setEnabled(self.project is not None)

    def _fit_table(self) -> None:
        """Columns wide enough for their contents; the table as tall as its rows (up to
        :data:`TABLE_ROWS`, then it scrolls)."""
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        for column in range(self.proxy.columnCount() - 1):
            header.resizeSection(column, header.sectionSize(column) + COLUMN_PADDING)
        rows = min(max(len(self.runs), 3), TABLE_ROWS)
        height = header.height() if header.height() > 0 else header.sizeHint().height()
        row = self.table.verticalHeader().defaultSectionSize()
        frame = 2 * self.table.frameWidth()
        scrollbar = self.table.horizontalScrollBar().sizeHint().height()
        self.table.setFixedHeight(height + rows * row + frame + scrollbar)

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(error_style() if error else "")

    def _warn(self, title: str, text: str) -> None:
        self._set_status(text, error=True)
        show_warning(self, title, text)

    def _scroll_to_diff(self) -> None:
        from PySide6.QtWidgets import QScrollArea

        scroll = self.findChild(QScrollArea)
        if scroll is not None:
            scroll.ensureWidgetVisible(self.diff_card)

    def _folder_names(self) -> list[str]:
        if self.project is None:
            return []
        folder = self.project.folder / RUNS_FOLDER
        if not folder.is_dir():
            return []
        return sorted(path.name for path in folder.iterdir() if path.is_dir())

    def _watch(self) -> None:
        watched = self._watcher.directories()
        if watched:
            self._watcher.removePaths(watched)
        self._known_folders = self._folder_names()
        if self.project is None:
            return
        for folder in (self.project.folder, self.project.folder / RUNS_FOLDER):
            if folder.is_dir():
                self._watcher.addPath(str(folder))
