"""The Example losses tab: which training and validation examples the model finds hardest.

``engine.example_loss.compute_example_losses`` measures the tuned model's loss on
every example of the run in a worker thread, then the core ranks them and flags
outliers (often a wrong answer), near-duplicates and train/validation leakage. The
rows are saved with the run (``<run>/eval/example_losses.jsonl``) and shown again
when the run is chosen. Double-click a row (or "Open in editor") to see the example
in the dataset editor.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.evaluation.example_loss import ExampleLoss, load_losses, losses_path
from ftstudio.core.project import Project
from ftstudio.qt.evaluate.choices import AdapterOption, RunChoice
from ftstudio.qt.evaluate.models import ExampleLossModel, FlaggedFilter
from ftstudio.qt.evaluate.progress import TaskProgress
from ftstudio.qt.evaluate.task_view import TaskView
from ftstudio.qt.evaluate.workers import losses_task
from ftstudio.qt.shortcuts import add_shortcut
from ftstudio.qt.widgets.tables import setup_record_table

EMPTY_TEXT = (
    "No example losses for this run yet. Compute them to rank every training and validation "
    "example by the tuned model's loss: the top of the list often holds wrong or "
    "inconsistent answers."
)


class LossesView(TaskView):
    """Compute, rank and browse per-example losses; open an example in the editor.

    Signals:
        sig_busy_changed(bool): a computation started or ended.
        sig_losses_shown(object): rows (a list, or ``None``) are now shown.
        sig_reveal_requested(object, int): open this dataset file (``Path``) at this
            1-based line.

    Attributes:
        model: every row, ranked; proxy: the rows shown (all or flagged only);
        table: the view; runner: computes the losses.
    """

    sig_losses_shown = Signal(object)
    sig_reveal_requested = Signal(object, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.setSpacing(8)
        controls = QHBoxLayout()
        self.compute_button = QPushButton("Compute losses")
        self.compute_button.setObjectName("primary")
        self.compute_button.clicked.connect(self.compute)
        controls.addWidget(self.compute_button)
        self.flagged_box = QCheckBox("Flagged only")
        self.flagged_box.setToolTip("Show only outliers, near-duplicates and leaked examples")
        self.flagged_box.toggled.connect(self.set_flagged_only)
        controls.addWidget(self.flagged_box)
        self.count_label = QLabel("")
        self.count_label.setObjectName("muted")
        controls.addWidget(self.count_label, 1)
        self.open_button = QPushButton("Open in editor")
        self.open_button.setToolTip(
            "Show the selected example in the dataset editor (or double-click it)"
        )
        self.open_button.clicked.connect(self.open_selected)
        controls.addWidget(self.open_button)
        layout.addLayout(controls)
        self.progress = TaskProgress(self.runner)
        layout.addWidget(self.progress)

        self.model = ExampleLossModel()
        self.proxy = FlaggedFilter()
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setObjectName("exampleLosses")
        self.table.setModel(self.proxy)
        setup_record_table(self.table)
        header = self.table.horizontalHeader()
        for column, width in enumerate((52, 84, 56, 76, 64, 150)):
            header.resizeSection(column, width)
        header.setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(self._on_double_clicked)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_controls())
        self.stack = QStackedWidget()
        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setObjectName("emptyState")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(self.table)
        layout.addWidget(self.stack, 1)
        self.legend = QLabel(
            "<b>outlier</b>: loss far above the rest of its split; check the answer · "
            "<b>near-duplicate</b>: same text as another example · <b>leakage</b>: the same "
            "example is in training and validation, which flatters the validation loss"
        )
        self.legend.setObjectName("muted")
        self.legend.setWordWrap(True)
        layout.addWidget(self.legend)
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut  # while the focus is in the tab
        add_shortcut(self, Qt.Key.Key_Escape, "Stop computing the losses", self.cancel, context)
        add_shortcut(self, "Ctrl+Return", "Compute the losses", self.compute_button.click, context)
        self._update_controls()

    # ---- Public API
    def set_project(self, project: Project | None) -> None:
        """The project the run belongs to."""
        self.project = project

    def set_target(self, run: RunChoice | None, adapter: AdapterOption | None) -> None:
        """Measure ``run`` with ``adapter``; shows the run's saved losses, if any."""
        same_run = self._same_run(run)
        self.run, self.adapter = run, adapter
        if not same_run and not self.is_busy():
            self.load_saved_losses()
        self._update_controls()

    def load_saved_losses(self) -> list[ExampleLoss] | None:
        """Show the current run's saved losses (or the empty state); returns them."""
        return self._load_saved(load_losses, self.show_losses, losses_path, "Saved losses")

    def show_losses(self, rows: list[ExampleLoss] | None) -> None:
        """Show ``rows`` ranked as given (``None``: the empty state)."""
        self.model.set_rows(rows or [])
        self.stack.setCurrentIndex(1 if rows is not None else 0)
        if rows is not None:
            flagged = sum(1 for row in rows if row.flags)
            self.count_label.setText(
                f"{len(rows):,} example{'s' if len(rows) != 1 else ''} · {flagged:,} flagged"
            )
        else:
            self.count_label.setText("")
        self._update_controls()
        self.sig_losses_shown.emit(rows)

    def set_flagged_only(self, flagged_only: bool) -> None:
        """Show only flagged rows (or all)."""
        if self.flagged_box.isChecked() != flagged_only:
            self.flagged_box.setChecked(flagged_only)
            return
        self.proxy.set_flagged_only(flagged_only)
        self._update_controls()

    def visible_rows(self) -> list[ExampleLoss]:
        """The rows shown, in order."""
        return [
            self.model.loss_row(self.proxy.mapToSource(self.proxy.index(row, 0)).row())
            for row in range(self.proxy.rowCount())
        ]

    def compute(self) -> bool:
        """Start computing the losses; ``False`` if no run is chosen or one is running."""
        if self.run is None or self.is_busy() or self._refused():
            return False
        task = losses_task(
            self.run.run_dir,
            adapter=self.adapter.path if self.adapter else None,
            mailbox=self.mailbox,
        )
        self._start(task, "Computing losses")
        return True

    def selected_row(self) -> ExampleLoss | None:
        """The selected row, if any."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.loss_row(self.proxy.mapToSource(rows[0]).row())

    def open_selected(self) -> bool:
        """Ask to open the selected example in the editor; ``False`` if it cannot be."""
        row = self.selected_row()
        return row is not None and self.reveal(row)

    def reveal(self, row: ExampleLoss) -> bool:
        """Emit :attr:`sig_reveal_requested` for ``row``'s file and line."""
        if not row.dataset or not row.line:
            self.progress.set_status(
                "This example's place in the dataset is unknown, so it cannot be opened.",
                error=True,
            )
            return False
        self.sig_reveal_requested.emit(Path(row.dataset), row.line)
        return True

    # ---- Slots
    @Slot(QModelIndex)
    def _on_double_clicked(self, index: QModelIndex) -> None:
        self.reveal(self.model.loss_row(self.proxy.mapToSource(index).row()))

    @Slot(object)
    def _on_finished(self, rows: object) -> None:
        self._drain()
        assert isinstance(rows, list)
        self.show_losses(rows)
        flagged = sum(1 for row in rows if row.flags)
        self.progress.set_status(
            f"Ranked {len(rows):,} examples by loss; {flagged:,} flagged. Saved with the run "
            "(eval/example_losses.jsonl)."
        )

    def _update_controls(self) -> None:
        busy = self.is_busy()
        self.compute_button.setEnabled(self.run is not None and not busy and not self.blocked)
        self.compute_button.setToolTip(
            self.blocked
            or "Measure the tuned model's loss on every training and validation example"
        )
        self.compute_button.setText(
            "Compute again" if self.model.rows and not busy else "Compute losses"
        )
        self.open_button.setEnabled(self.selected_row() is not None)
        self.flagged_box.setEnabled(bool(self.model.rows))
