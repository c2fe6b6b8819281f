"""Export page: ship a trained run as an adapter, a merged model, GGUF or Ollama, with proof.

Pick a run (and a checkpoint, if not the final adapter), a format and where to
write; the export runs in a worker thread (:mod:`ftstudio.qt.export.task`) with a
progress bar, a rough time left and Cancel. Every export ends with a parity check
(``parity.json``), shown as a checklist under a verdict banner; the project's
earlier exports are listed with their verdicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QWidget,
)

from ftstudio.core.export_config import DTYPES, FORMATS, QUANTS, ExportConfig
from ftstudio.core.fields import field_specs
from ftstudio.core.runs import RunPaths
from ftstudio.core.runs_compare import (
    ExportInfo,
    RunSummary,
    checkpoints,
    project_exports,
    project_runs,
    read_export,
)
from ftstudio.qt.dataset.workers import TaskRunner
from ftstudio.qt.export.exports_table import ExportsTable
from ftstudio.qt.export.parity_view import ParityView
from ftstudio.qt.export.task import Eta, export_task
from ftstudio.qt.pages.base import Page
from ftstudio.qt.runs.table_model import local_time
from ftstudio.qt.shortcuts import add_shortcut
from ftstudio.qt.style import error_style
from ftstudio.qt.threads import collect_garbage_before_worker
from ftstudio.qt.training.text import format_duration, format_loss
from ftstudio.qt.widgets.card import Card
from ftstudio.qt.widgets.close_guard import CloseGuard
from ftstudio.qt.widgets.file_table import relative_text
from ftstudio.qt.widgets.messages import ask

EXPORTS_FOLDER = "exports"
FORMAT_TITLES = {
    "adapter": "Adapter",
    "merged": "Merged model",
    "gguf": "GGUF",
    "ollama": "Ollama",
}
FORMAT_LINES = {
    "adapter": "The small LoRA adapter with tokenizer and chat template: load it on the base "
    "model with peft, vLLM or TGI.",
    "merged": "The adapter merged into the base model: a standalone Hugging Face folder "
    "(safetensors) for any tool that loads one.",
    "gguf": "One file for llama.cpp, LM Studio and other GGUF tools: F16, or 8-bit Q8_0 "
    "at about half the size.",
    "ollama": "The GGUF file plus a Modelfile with the chat template and stop tokens: "
    "`ollama create` it and chat.",
}
"""One line per format, shown beside its choice."""
NO_RUNS_TEXT = (
    "No finished run to export yet. Train one on the Train page; when it finishes it appears here."
)


def default_out(project_folder: Path, run: RunSummary, config: ExportConfig) -> Path:
    """The default output folder: ``<project>/exports/<run id>-<format…>``
    (``-step<N>`` added for a checkpoint)."""
    step = f"-step{config.checkpoint}" if config.checkpoint else ""
    return Path(project_folder) / EXPORTS_FOLDER / f"{run.id}-{config.folder_name()}{step}"


def exportable(run: RunSummary) -> bool:
    """Whether ``run`` has something to export: a final adapter or model, or a checkpoint."""
    paths = RunPaths(run.path)
    final = run.status == "finished" and (paths.adapter_dir.is_dir() or paths.model_dir.is_dir())
    return final or bool(checkpoints(run.path))


class ExportPage(Page):
    """Export a run in one of four formats and show the parity check.

    Signals:
        sig_export_finished(object): an export finished (the engine's ``ExportResult``);
            its parity report is shown.
        sig_export_failed(str): an export failed; the message says why.
        sig_export_cancelled(): an export was cancelled (nothing was written).

    Attributes:
        runs: the runs offered (those with something to export), newest first.
        runner: runs the export in a worker thread.
        result: the last finished export (``ExportResult``), or ``None``.
        exports: the project's exports as last listed.
    """

    key = "export"
    title = "Export"
    summary = "Ship a trained model that behaves exactly like the one you evaluated."

    sig_export_finished = Signal(object)
    sig_export_failed = Signal(str)
    sig_export_cancelled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[RunSummary] = []
        self.exports: list[ExportInfo] = []
        self.result: Any = None
        self._out_edited = False
        self._cancel_requested = False
        self._shown: ExportInfo | None = None
        self.eta = Eta()
        self.runner = TaskRunner(self)
        self.runner.sig_progress.connect(self._on_runner_progress)
        self.runner.sig_finished.connect(self._on_runner_finished)
        self.runner.sig_failed.connect(self._on_runner_failed)
        self.runner.sig_cancelled.connect(self._on_runner_cancelled)
        self.runner.sig_idle.connect(self._on_runner_idle)
        self._close_guard = CloseGuard(
            self.is_running, self._ask_cancel_to_close, self.cancel_export
        )
        self._build_form_card()
        self._build_result_card()
        self._build_exports_card()
        self.body.addStretch(1)
        self._update_controls()

    # ---- Building
    def _build_form_card(self) -> None:
        self.form_card = card = Card("What to export")
        self.no_runs_label = QLabel(NO_RUNS_TEXT)
        self.no_runs_label.setObjectName("emptyState")
        self.no_runs_label.setWordWrap(True)
        card.add(self.no_runs_label)
        specs = {spec.name: spec for spec in field_specs(ExportConfig)}

        self.form = QWidget()
        grid = QGridLayout(self.form)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(8)
        grid.setColumnStretch(2, 1)
        self.run_combo = QComboBox()
        self.run_combo.setObjectName("exportRun")
        self.run_combo.setMinimumContentsLength(40)
        self.run_combo.setToolTip("The run to export (runs with a final adapter or checkpoints)")
        self.run_combo.currentIndexChanged.connect(self._on_run_changed)
        grid.addWidget(QLabel("Run"), 0, 0)
        grid.addWidget(self.run_combo, 0, 1, 1, 2)
        self.checkpoint_combo = QComboBox()
        self.checkpoint_combo.setObjectName("exportCheckpoint")
        self.checkpoint_combo.setToolTip(specs["checkpoint"].help)
        self.checkpoint_combo.currentIndexChanged.connect(self._on_setting_changed)
        grid.addWidget(QLabel("Weights"), 1, 0)
        grid.addWidget(self.checkpoint_combo, 1, 1)

        grid.addWidget(QLabel("Format"), 2, 0, Qt.AlignmentFlag.AlignTop)
        self.format_group = QButtonGroup(self)
        self.format_buttons: dict[str, QRadioButton] = {}
        for row, name in enumerate(FORMATS, start=2):
            button = QRadioButton(FORMAT_TITLES[name])
            button.setObjectName(f"format-{name}")
            button.setToolTip(specs["format"].help)
            self.format_group.addButton(button)
            self.format_buttons[name] = button
            grid.addWidget(button, row, 1)
            line = QLabel(FORMAT_LINES[name])
            line.setObjectName("muted")
            line.setWordWrap(True)
            grid.addWidget(line, row, 2)
        self.format_buttons["merged"].setChecked(True)
        self.format_group.buttonToggled.connect(self._on_format_toggled)
        row = 2 + len(FORMATS)

        self.dtype_combo = QComboBox()
        self.dtype_combo.setObjectName("exportDtype")
        self.dtype_combo.addItems(list(DTYPES))
        self.dtype_combo.setCurrentText(ExportConfig().dtype)
        self.dtype_combo.setToolTip(specs["dtype"].help)
        self.dtype_combo.currentIndexChanged.connect(self._on_setting_changed)
        self.dtype_note = QLabel("bf16 or fp16: half the size; fp32: exact, twice the size.")
        self.dtype_note.setObjectName("muted")
        grid.addWidget(QLabel("Merge precision"), row, 0)
        grid.addWidget(self.dtype_combo, row, 1)
        grid.addWidget(self.dtype_note, row, 2)
        self.quant_combo = QComboBox()
        self.quant_combo.setObjectName("exportQuant")
        self.quant_combo.addItems(list(QUANTS))
        self.quant_combo.setCurrentText(ExportConfig().quant)
        self.quant_combo.setToolTip(specs["quant"].help)
        self.quant_combo.currentIndexChanged.connect(self._on_setting_changed)
        self.quant_note = QLabel("f16: closest to the merged model; q8_0: about half of f16.")
        self.quant_note.setObjectName("muted")
        grid.addWidget(QLabel("GGUF type"), row + 1, 0)
        grid.addWidget(self.quant_combo, row + 1, 1)
        grid.addWidget(self.quant_note, row + 1, 2)

        out_row = QWidget()
        line = QHBoxLayout(out_row)
        line.setContentsMargins(0, 0, 0, 0)
        self.out_edit = QLineEdit()
        self.out_edit.setObjectName("exportOut")
        self.out_edit.setToolTip(
            "A new or empty folder (an earlier ftstudio export there is replaced once the new "
            "one is complete). Default: the project's exports/ folder."
        )
        self.out_edit.textEdited.connect(self._on_out_edited)
        self.out_edit.textChanged.connect(self._update_controls)
        line.addWidget(self.out_edit, 1)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._choose_out)
        line.addWidget(self.browse_button)
        grid.addWidget(QLabel("Output folder"), row + 2, 0)
        grid.addWidget(out_row, row + 2, 1, 1, 2)
        card.add(self.form)

        buttons = QWidget()
        line = QHBoxLayout(buttons)
        line.setContentsMargins(0, 6, 0, 0)
        self.export_button = QPushButton("Export")
        self.export_button.setObjectName("primary")
        self.export_button.setToolTip(
            "Write the export, then check its parity with the run (Ctrl+Enter)"
        )
        self.export_button.clicked.connect(self.start_export)
        add_shortcut(self, "Ctrl+Return", "Export", self.export_button.click)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the export; nothing half-written is left behind")
        self.cancel_button.clicked.connect(self.cancel_export)
        line.addWidget(self.export_button)
        line.addWidget(self.cancel_button)
        self.status_label = QLabel()
        self.status_label.setObjectName("exportStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        line.addWidget(self.status_label, 1)
        card.add(buttons)
        self.progress = QProgressBar()
        self.progress.setObjectName("exportProgress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        card.add(self.progress)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("muted")
        card.add(self.progress_label)
        self.body.addWidget(card)

    def _build_result_card(self) -> None:
        self.result_card = card = Card("Parity check")
        self.result_title = QLabel()
        self.result_title.setWordWrap(True)
        self.result_title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        card.add(self.result_title)
        self.parity_view = ParityView()
        card.add(self.parity_view)
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addStretch(1)
        self.open_button = QPushButton("Open folder")
        self.open_button.setToolTip("Show the export in the file manager")
        self.open_button.clicked.connect(self.open_export_folder)
        line.addWidget(self.open_button)
        card.add(row)
        self.body.addWidget(card)

    def _build_exports_card(self) -> None:
        card = Card("Exports of this project")
        self.exports_table = ExportsTable()
        self.exports_table.setMinimumHeight(150)
        self.exports_table.sig_export_selected.connect(self._on_export_selected)
        card.add(self.exports_table)
        self.exports_empty = QLabel(
            "Nothing exported yet. Each export gets a folder with its files, a model card "
            "(README.md) and its parity check (parity.json)."
        )
        self.exports_empty.setObjectName("emptyState")
        self.exports_empty.setWordWrap(True)
        card.add(self.exports_empty)
        self.body.addWidget(card)

    # ---- Public API
    def refresh(self) -> None:
        """List the project's exportable runs and its exports (keeping the choices)."""
        current = self.current_run()
        keep = current.id if current is not None else None
        self.runs = []
        if self.project is not None:
            listing = project_runs(self.project.folder)
            self.runs = [run for run in reversed(listing.runs) if exportable(run)]
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        index = 0
        for position, run in enumerate(self.runs):
            self.run_combo.addItem(_run_label(run), run.id)
            self.run_combo.setItemData(position, str(run.path), Qt.ItemDataRole.ToolTipRole)
            if run.id == keep:
                index = position
        self.run_combo.setCurrentIndex(index if self.runs else -1)
        self.run_combo.blockSignals(False)
        self._on_run_changed()
        self.refresh_exports()

    def refresh_exports(self) -> None:
        """List the project's exports and their parity verdicts again."""
        self.exports = project_exports(self.project.folder) if self.project else []
        self.exports_table.set_exports(self.exports, self.project.folder if self.project else None)
        self.exports_table.setVisible(bool(self.exports))
        self.exports_empty.setVisible(not self.exports)
        if self._shown is None and self.result is None:
            self.show_export(self.exports_table.current_export())

    def current_run(self) -> RunSummary | None:
        """The run chosen in the list, if any."""
        index = self.run_combo.currentIndex()
        return self.runs[index] if 0 <= index < len(self.runs) else None

    def select_run(self, run_id: str) -> None:
        """Choose the run with ``run_id``.

        Raises:
            KeyError: it is not offered (unknown, or nothing to export).
        """
        for index, run in enumerate(self.runs):
            if run.id == run_id:
                self.run_combo.setCurrentIndex(index)
                return
        raise KeyError(f"No exportable run {run_id!r}")

    def set_format(self, name: str) -> None:
        """Choose the export format (``adapter``, ``merged``, ``gguf`` or ``ollama``)."""
        self.format_buttons[name].setChecked(True)

    def export_config(self) -> ExportConfig:
        """The export the form describes."""
        fmt = next(name for name, button in self.format_buttons.items() if button.isChecked())
        return ExportConfig(
            format=fmt,
            out=self.out_edit.text().strip(),
            dtype=self.dtype_combo.currentText(),
            quant=self.quant_combo.currentText(),
            checkpoint=int(self.checkpoint_combo.currentData() or 0),
        )

    def is_running(self) -> bool:
        """Whether an export is going on."""
        return self.runner.is_running()

    def start_export(self) -> bool:
        """Export the chosen run as the form says; ``False`` (reason shown) if it cannot."""
        run = self.current_run()
        if self.is_running() or run is None or self.project is None:
            return False
        config = self.export_config()
        if not config.out:
            self._set_status("Choose an output folder.", error=True)
            return False
        self.result = None
        self._shown = None
        self._cancel_requested = False
        self.eta.restart()
        self.progress.setValue(0)
        self.progress_label.setText("Starting…")
        self._set_status(f"Exporting {run.name} as {config.describe()}…")
        self.result_title.setText("")
        self.parity_view.set_report(None, "The parity check runs when the export is written.")
        collect_garbage_before_worker()
        self.runner.start(export_task(run.path, config), f"Export {run.name}")
        self._update_controls()
        return True

    def cancel_export(self) -> None:
        """Stop the export (between phases); nothing half-written is left."""
        if self.is_running():
            self._cancel_requested = True
            self.runner.cancel()
            self._set_status("Cancelling at the end of this phase…")
            self._update_controls()

    def runner_cancelled(self) -> bool:
        """Whether Cancel was pressed for the export going on."""
        return self.is_running() and self._cancel_requested

    def shutdown(self) -> None:
        """Cancel an export and wait for its thread (before the window closes)."""
        self.runner.shutdown()

    def confirm_close(self, window: QWidget) -> bool:
        """Whether ``window`` may close now. During an export, asks; if the user agrees,
        cancels it and closes ``window`` once it has stopped (at the end of its phase)."""
        return self._close_guard.confirm(window)

    def show_export(self, info: ExportInfo | None) -> None:
        """Show an export's parity report in the Parity check card."""
        self._shown = info
        if info is None:
            self.result_title.setText("")
            self.parity_view.set_report(
                None, "Export a run to see its parity check here, or pick an earlier export below."
            )
        else:
            where = relative_text(info.path, self.project.folder if self.project else None)
            self.result_title.setText(
                f"<b>{where}</b> · {info.description or info.format} · from run "
                f"{info.run_id or '?'} · {local_time(info.created or None)}"
            )
            placeholder = info.parity_error or "This export has no parity check (parity.json)."
            self.parity_view.set_report(info.parity, placeholder)
        self.open_button.setEnabled(info is not None and info.path.is_dir())

    def open_export_folder(self) -> bool:
        """Show the export on display in the file manager."""
        if self._shown is None or not self._shown.path.is_dir():
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._shown.path)))

    # ---- Qt events
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """Read the runs and exports again (one may have finished meanwhile)."""
        super().showEvent(event)
        if self.project is not None and not self.is_running():
            self.refresh()

    # ---- Slots
    def _on_run_changed(self, _index: int = -1) -> None:
        run = self.current_run()
        self.checkpoint_combo.blockSignals(True)
        self.checkpoint_combo.clear()
        if run is not None:
            paths = RunPaths(run.path)
            if run.status == "finished" and (
                paths.adapter_dir.is_dir() or paths.model_dir.is_dir()
            ):
                final = "Final model" if paths.model_dir.is_dir() else "Final adapter"
                self.checkpoint_combo.addItem(f"{final} (step {run.step:,})", 0)
            for folder in reversed(checkpoints(run.path)):
                step = int(folder.name.removeprefix("checkpoint-"))
                self.checkpoint_combo.addItem(f"Checkpoint at step {step:,}", step)
        self.checkpoint_combo.setCurrentIndex(0 if self.checkpoint_combo.count() else -1)
        self.checkpoint_combo.blockSignals(False)
        full = run is not None and run.method == "full"
        self.format_buttons["adapter"].setEnabled(not full)
        if full and self.format_buttons["adapter"].isChecked():
            self.format_buttons["merged"].setChecked(True)
        self._on_setting_changed()

    def _on_format_toggled(self, _button: QRadioButton, checked: bool) -> None:
        if checked:
            self._on_setting_changed()

    def _on_setting_changed(self, _index: int = -1) -> None:
        run = self.current_run()
        if run is not None and self.project is not None and not self._out_edited:
            self.out_edit.setText(str(default_out(self.project.folder, run, self.export_config())))
        self._update_controls()

    def _on_out_edited(self, text: str) -> None:
        self._out_edited = bool(text.strip())

    def _choose_out(self) -> None:
        start = self.out_edit.text() or str(self.project.folder if self.project else Path.home())
        chosen = QFileDialog.getExistingDirectory(self, "Export to folder", start)
        if chosen:
            self.out_edit.setText(chosen)
            self._out_edited = True

    def _on_runner_progress(self, done: int, total: int, eta: float, label: str) -> None:
        del eta  # the runner's estimate covers one phase; the page estimates the whole
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        left = self.eta.seconds_left(done / total if total else 0.0)
        text = label
        if left is not None:
            text += f" · about {format_duration(left)} left"
        self.progress_label.setText(text)

    def _on_runner_finished(self, result: Any) -> None:
        self.result = result
        self.progress.setValue(self.progress.maximum())
        parity = result.parity
        verdict = "parity passed" if parity.passed else "parity FAILED"
        self._set_status(
            f"Exported in {format_duration(result.elapsed_s)}: {verdict}.", error=not parity.passed
        )
        self.progress_label.setText(str(result.path))
        self.refresh_exports()
        if not self.exports_table.select_path(result.path):
            self.show_export(read_export(result.path))
        self._update_controls()
        self.sig_export_finished.emit(result)

    def _on_runner_failed(self, message: str) -> None:
        self.progress.setValue(0)
        self.progress_label.setText("")
        self._set_status(f"The export failed: {message}", error=True)
        self.parity_view.set_report(None, "Nothing was exported, so there is no parity check.")
        self._update_controls()
        self.sig_export_failed.emit(message)

    def _on_runner_cancelled(self) -> None:
        self.progress.setValue(0)
        self.progress_label.setText("")
        self._set_status("Export cancelled; nothing was written.")
        self.parity_view.set_report(None, "The export was cancelled.")
        self._update_controls()
        self.sig_export_cancelled.emit()

    def _on_runner_idle(self) -> None:
        self._close_guard.task_ended()

    def _ask_cancel_to_close(self, window: QWidget) -> bool:
        cancel = "Cancel export and close"
        answer = ask(
            window,
            "confirmCancelExport",
            "An export is running",
            "An export is being written. Cancel it and close?",
            "The export stops at the end of its current step and removes what it wrote so "
            "far; the window closes then.",
            [
                (cancel, QMessageBox.ButtonRole.AcceptRole),
                ("Keep exporting", QMessageBox.ButtonRole.RejectRole),
            ],
        )
        return answer == cancel

    def _on_export_selected(self, info: ExportInfo | None) -> None:
        if info is not None or self._shown is not None:
            self.show_export(info)

    # ---- Internals
    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(error_style() if error else "")
        self.status_label.setToolTip(text)

    def _update_controls(self, *_args: object) -> None:
        running = self.is_running()
        has_runs = bool(self.runs)
        self.no_runs_label.setVisible(self.project is not None and not has_runs)
        self.form.setVisible(has_runs or self.project is None)
        self.form.setEnabled(not running and has_runs)
        config = self.export_config()
        merged = config.format != "adapter"
        gguf = config.format in ("gguf", "ollama")
        for widget in (self.dtype_combo, self.dtype_note):
            widget.setEnabled(merged)
        for widget in (self.quant_combo, self.quant_note):
            widget.setEnabled(gguf)
        ready = has_runs and bool(config.out) and self.checkpoint_combo.count() > 0
        self.export_button.setEnabled(ready and not running)
        self.cancel_button.setEnabled(running and not self.runner_cancelled())
        self.progress.setVisible(running or self.progress.value() > 0)
        self.progress_label.setVisible(bool(self.progress_label.text()))


def _run_label(run: RunSummary) -> str:
    parts = [run.name]
    if run.name != run.id:
        parts.append(run.id)
    parts.append(run.method_text)
    if run.best_eval_loss is not None:
        parts.append(f"best val. loss {format_loss(run.best_eval_loss)}")
    if run.status != "finished":
        parts.append(run.status)
    return " · ".join(part for part in parts if part)
