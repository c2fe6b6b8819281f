"""A run's details: everything the run history knows, its configuration and its files."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.runs_compare import (
    RunSummary,
    checkpoints,
    eval_files,
    format_value,
    run_exports,
)
from ftstudio.qt.runs.table_model import STATUS_COLOURS, duration_text, local_time
from ftstudio.qt.style import readable
from ftstudio.qt.training.summary_grid import SummaryGrid
from ftstudio.qt.training.text import format_loss


def detail_rows(run: RunSummary) -> list[tuple[str, str]]:
    """The run's facts as (label, value) rows, in plain words."""
    folder = Path(run.path)
    steps = f"{run.step:,} of {run.total_steps:,}" if run.total_steps else f"{run.step:,}"
    examples = ""
    if run.train_examples is not None:
        examples = f"{run.train_examples:,} training"
        if run.val_examples:
            examples += f", {run.val_examples:,} validation"
    saved = [path.name for path in checkpoints(folder)]
    exports = [path.name for path in run_exports(folder)]
    reports = [path.name for path in eval_files(folder)]
    rows = [
        ("Folder", str(folder)),
        ("Data", run.dataset or "–"),
        ("Data SHA-256", run.dataset_sha256 or "unknown"),
        ("Base model", run.base_model or "–"),
    ]
    if run.message:
        rows.insert(0, ("Outcome", run.message))
    rows += [
        ("Id", run.id),
        ("Status", run.status),
        ("Created", local_time(run.created)),
        ("Training time", duration_text(run.duration_s)),
        ("Started", local_time(run.started)),
        ("Ended", local_time(run.ended)),
        ("Method", run.method_text or "–"),
        ("Steps", steps),
        ("Learning rate", format_value(run.learning_rate)),
        ("Length", run.length_text or "–"),
        ("LoRA r / alpha", f"{format_value(run.r)} / {format_value(run.alpha)}"),
        (
            "Batch",
            f"{format_value(run.batch_size)} × {format_value(run.grad_accum)} = "
            f"{format_value(run.effective_batch)}",
        ),
        ("Max length", format_value(run.max_length)),
        ("Examples", examples or "–"),
        ("Best validation loss", format_loss(run.best_eval_loss)),
        ("Final loss", format_loss(run.final_loss)),
        ("Checkpoints", ", ".join(saved) or "none"),
        ("Exports", ", ".join(exports) or "none"),
        ("Evaluation", ", ".join(reports) or "none"),
    ]
    return rows


class RunDetailsDialog(QDialog):
    """The details of one run, its ``config.yaml`` and a button to open its folder.

    Signals:
        sig_open_folder_requested(object): the user asked to open the run's folder
            (a ``Path``); the dialog opens it with the desktop's file manager itself.
    """

    sig_open_folder_requested = Signal(object)

    def __init__(self, run: RunSummary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run = run
        self.setObjectName("runDetails")
        self.setWindowTitle(f"Run {run.name}")
        self.resize(760, 500)
        layout = QVBoxLayout(self)
        colour = readable(STATUS_COLOURS.get(run.status, "#757575"))
        title = QLabel(f"<b>{run.name}</b> &nbsp;<span style='color:{colour}'>{run.status}</span>")
        title.setObjectName("cardTitle")
        layout.addWidget(title)
        tabs = QTabWidget()
        self.grid = SummaryGrid()
        self.grid.set_rows(detail_rows(run), wide=5 if run.message else 4)
        holder = QWidget()
        inner = QVBoxLayout(holder)
        inner.addWidget(self.grid)
        inner.addStretch(1)
        tabs.addTab(holder, "Summary")
        self.config_text = QPlainTextEdit()
        self.config_text.setReadOnly(True)
        self.config_text.setFont(QFont("monospace"))
        config = Path(run.path) / "config.yaml"
        try:
            text = config.read_text(encoding="utf-8")
        except OSError:
            text = f"{config} cannot be read."
        self.config_text.setPlainText(text)
        tabs.addTab(self.config_text, "config.yaml")
        layout.addWidget(tabs, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.open_button = QPushButton("Open folder")
        self.open_button.setEnabled(Path(run.path).is_dir())
        self.open_button.clicked.connect(self._on_open_clicked)
        buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def _on_open_clicked(self) -> None:
        self.sig_open_folder_requested.emit(Path(self.run.path))
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.run.path)))
