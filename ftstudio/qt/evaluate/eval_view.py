"""The Evaluation tab: answer held-out examples with both models and score them.

The evaluation itself is ``engine.evaluate.run_evaluation`` in a worker thread; it
saves its report with the run (``<run>/eval/report.json``), which this tab shows:
a summary table (exact match, ROUGE-L, BLEU, loss and perplexity, base vs tuned, the
better value highlighted), the forgetting verdict, and every example with its
reference and both answers. The selected example's texts are in the detail pane,
where it can also be rated.
"""

from __future__ import annotations

import dataclasses
from html import escape
from pathlib import Path

from PySide6.QtCore import QItemSelection, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.evaluation.results import EvalExample, EvalReport, load_report, report_path
from ftstudio.core.evaluation.settings import EVAL_SETTINGS, GenerationSettings
from ftstudio.core.project import Project
from ftstudio.core.runs import RunPaths, RunStoreError, read_run_file
from ftstudio.qt.evaluate.choices import AdapterOption, RunChoice, local_time_text
from ftstudio.qt.evaluate.models import (
    BETTER,
    EvalExamplesModel,
    better_side,
    format_metric,
)
from ftstudio.qt.evaluate.progress import TaskProgress
from ftstudio.qt.evaluate.rating import EVALUATION_VERDICTS, Candidate, RatingBar
from ftstudio.qt.evaluate.task_view import TaskView
from ftstudio.qt.evaluate.workers import evaluation_task
from ftstudio.qt.shortcuts import add_shortcut
from ftstudio.qt.ui_state import remember_splitter
from ftstudio.qt.widgets.tables import setup_record_table

VALIDATION_SOURCE = "validation split"
"""A report's ``source`` when the run's validation split was evaluated."""
DEFAULT_LIMIT = 50
"""Examples evaluated by default (each one is answered twice)."""

SUMMARY_ROWS = (
    ("exact_match", "Exact match"),
    ("rouge_l", "ROUGE-L"),
    ("bleu", "BLEU"),
    ("loss", "Loss"),
    ("perplexity", "Perplexity"),
)
"""The summary table's rows: report field, label."""

SUMMARY_HELP = {
    "exact_match": "Share of answers identical to the reference (case and spacing ignored)",
    "rouge_l": "Longest common word sequence with the reference, 0–1 (F1)",
    "bleu": "Word n-gram overlap with the references, 0–100 (corpus BLEU)",
    "loss": "Mean cross-entropy on the reference answers' tokens: lower is better",
    "perplexity": "exp(loss): how surprised the model is by the references; lower is better",
}

WARNING_STYLE = (
    "background: rgba(245, 158, 11, 0.16); border: 1px solid #d97706; border-radius: 6px; "
    "padding: 8px;"
)
OK_STYLE = (
    "background: rgba(46, 160, 67, 0.12); border: 1px solid rgba(46, 160, 67, 0.6); "
    "border-radius: 6px; padding: 8px;"
)
EMPTY_TEXT = (
    "No evaluation of this run yet. Run one: both models answer the held-out examples, "
    "and their answers are scored against the references."
)


class EvalView(TaskView):
    """Run an evaluation and browse its report.

    Signals:
        sig_busy_changed(bool): an evaluation started or ended.
        sig_report_shown(object): a report (or ``None``) is now shown.
        sig_reveal_requested(object, int): open this dataset file at this line.

    Attributes:
        report: the report shown, if any.
        runner: runs the evaluation.
        summary_table: the base vs tuned summary.
        examples_model, examples_table: the evaluated examples.
        detail: the selected example's full texts.
        rating: rates the selected example's answers.
    """

    sig_report_shown = Signal(object)
    sig_reveal_requested = Signal(object, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: EvalReport | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.setSpacing(8)
        self.progress = TaskProgress(self.runner)
        layout.addWidget(self._build_controls())
        self.results = QStackedWidget()
        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setObjectName("emptyState")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.results.addWidget(self.empty_label)
        self.results.addWidget(self._build_results())
        layout.addWidget(self.results, 1)
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut  # while the focus is in the tab
        add_shortcut(self, Qt.Key.Key_Escape, "Stop the evaluation", self.cancel, context)
        add_shortcut(self, "Ctrl+Return", "Run the evaluation", self.run_button.click, context)
        self._update_controls()

    # ---- Building
    def _build_controls(self) -> QWidget:
        box = QWidget()
        rows = QVBoxLayout(box)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setSpacing(6)
        row = QHBoxLayout()
        rows.addLayout(row)
        row.addWidget(QLabel("Evaluate on"))
        self.split_radio = QRadioButton("Validation split of the run")
        self.split_radio.setToolTip("The examples the run held out for validation")
        self.file_radio = QRadioButton("File:")
        self.file_radio.setToolTip(
            "Chat examples from a file; each example's last answer is the reference"
        )
        self._source_group = QButtonGroup(self)
        self._source_group.addButton(self.split_radio)
        self._source_group.addButton(self.file_radio)
        self.split_radio.setChecked(True)
        self.file_edit = QLineEdit()
        self.file_edit.setObjectName("evalFile")
        self.file_edit.setPlaceholderText("a .jsonl, .json or .csv dataset")
        self.file_edit.setMinimumWidth(160)
        self.file_edit.textEdited.connect(lambda _text: self.file_radio.setChecked(True))
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._on_browse_clicked)
        row.addWidget(self.split_radio)
        row.addWidget(self.file_radio)
        row.addWidget(self.file_edit, 1)
        row.addWidget(self.browse_button)
        row = QHBoxLayout()
        rows.addLayout(row)
        row.addWidget(QLabel("Max examples"))
        self.limit_spin = QSpinBox()
        self.limit_spin.setRange(1, 100_000)
        self.limit_spin.setValue(DEFAULT_LIMIT)
        self.limit_spin.setToolTip("Evaluate at most this many examples (each is answered twice)")
        row.addWidget(self.limit_spin)
        row.addWidget(QLabel("Max new tokens"))
        self.tokens_spin = QSpinBox()
        self.tokens_spin.setRange(1, 8192)
        self.tokens_spin.setValue(EVAL_SETTINGS.max_new_tokens)
        self.tokens_spin.setToolTip(
            "The longest answer, in tokens. Evaluation decodes greedily (temperature 0), so "
            "its numbers do not change from one run to the next."
        )
        row.addWidget(self.tokens_spin)
        self.run_button = QPushButton("Run evaluation")
        self.run_button.setObjectName("primary")
        self.run_button.clicked.connect(lambda: self.run_evaluation())
        row.addWidget(self.run_button)
        row.addSpacing(8)
        row.addWidget(self.progress, 1)
        return box

    def _build_results(self) -> QWidget:
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        top = QWidget()
        top_row = QHBoxLayout(top)
        top_row.setContentsMargins(0, 0, 0, 0)
        top_row.addWidget(self._build_summary())
        self.examples_model = EvalExamplesModel()
        self.examples_table = QTableView()
        self.examples_table.setObjectName("evalExamples")
        self.examples_table.setModel(self.examples_model)
        setup_record_table(self.examples_table)
        header = self.examples_table.horizontalHeader()
        header.setStretchLastSection(False)
        for column in (0, 1, 6, 7):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        for column in (2, 3, 4, 5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        self.examples_table.selectionModel().selectionChanged.connect(self._on_selection)
        top_row.addWidget(self.examples_table, 1)
        splitter.addWidget(top)
        detail = QFrame()
        detail.setObjectName("card")
        detail_layout = QVBoxLayout(detail)
        detail_layout.setContentsMargins(12, 8, 12, 8)
        self.detail = QTextBrowser()
        self.detail.setObjectName("evalDetail")
        self.detail.setFrameShape(QFrame.Shape.NoFrame)
        self.detail.setOpenLinks(False)
        detail_layout.addWidget(self.detail, 1)
        row = QHBoxLayout()
        self.rating = RatingBar(EVALUATION_VERDICTS)
        self.rating.sig_reveal_requested.connect(self.sig_reveal_requested)
        row.addWidget(self.rating, 1)
        self.open_button = QPushButton("Open in editor")
        self.open_button.setToolTip("Show this example in the dataset editor")
        self.open_button.clicked.connect(self.open_selected)
        row.addWidget(self.open_button)
        detail_layout.addLayout(row)
        splitter.addWidget(detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setObjectName("evalSplitter")
        remember_splitter(splitter, "evaluate/evalSplitter")
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(8)
        self.forgetting_label = QLabel("")
        self.forgetting_label.setObjectName("forgettingVerdict")
        self.forgetting_label.setWordWrap(True)
        self.forgetting_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.forgetting_label)
        column.addWidget(splitter, 1)
        return page

    def _build_summary(self) -> QWidget:
        panel = QFrame()
        panel.setObjectName("card")
        panel.setFixedWidth(320)
        outer = QVBoxLayout(panel)
        outer.setContentsMargins(1, 1, 1, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer.addWidget(scroll)
        content = QWidget()
        content.setObjectName("summaryContent")
        content.setStyleSheet("QWidget#summaryContent { background: transparent; }")
        scroll.setWidget(content)
        scroll.viewport().setAutoFillBackground(False)
        column = QVBoxLayout(content)
        column.setContentsMargins(11, 9, 11, 9)
        column.setSpacing(8)
        title = QLabel("Summary")
        title.setObjectName("cardTitle")
        column.addWidget(title)
        self.summary_table = QTableWidget(len(SUMMARY_ROWS), 3)
        self.summary_table.setObjectName("evalSummary")
        self.summary_table.setHorizontalHeaderLabels(["Metric", "Base", "Tuned"])
        self.summary_table.verticalHeader().setVisible(False)
        self.summary_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.summary_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.summary_table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.summary_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.summary_table.verticalHeader().setDefaultSectionSize(24)
        self.summary_table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.summary_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for row, (name, label) in enumerate(SUMMARY_ROWS):
            item = QTableWidgetItem(label)
            item.setToolTip(SUMMARY_HELP[name])
            self.summary_table.setItem(row, 0, item)
        self._fit_summary_height()
        column.addWidget(self.summary_table)
        self.info_label = QLabel("")
        self.info_label.setObjectName("muted")
        self.info_label.setWordWrap(True)
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.info_label)
        column.addStretch(1)
        return panel

    # ---- Public API
    def set_project(self, project: Project | None) -> None:
        """Save ratings into ``project``; file dialogs start in its folder."""
        self.project = project
        self.rating.set_project(project)

    def set_target(self, run: RunChoice | None, adapter: AdapterOption | None) -> None:
        """Evaluate ``run`` with ``adapter``; shows the run's saved report, if any."""
        same_run = self._same_run(run)
        self.run, self.adapter = run, adapter
        has_split = run is not None and RunPaths(run.run_dir).val_file.is_file()
        self.split_radio.setEnabled(has_split)
        self.split_radio.setToolTip(
            "The examples the run held out for validation"
            if has_split or run is None
            else "This run trained without a validation split: choose a file"
        )
        if not has_split and run is not None:
            self.file_radio.setChecked(True)
        elif has_split and not same_run:
            self.split_radio.setChecked(True)
        if not same_run and not self.is_busy():
            self.load_saved_report()
        self._update_controls()

    def load_saved_report(self) -> EvalReport | None:
        """Show the current run's saved report (or the empty state); returns it."""
        return self._load_saved(load_report, self.show_report, report_path, "Saved evaluation")

    def settings(self) -> GenerationSettings:
        """The evaluation's sampling settings (greedy; max new tokens from the form)."""
        return dataclasses.replace(EVAL_SETTINGS, max_new_tokens=self.tokens_spin.value())

    def data_file(self) -> Path | None:
        """The file to evaluate on (``None``: the run's validation split)."""
        if self.split_radio.isChecked():
            return None
        text = self.file_edit.text().strip()
        return Path(text) if text else None

    def run_evaluation(
        self,
        *,
        data: Path | None = None,
        limit: int | None = None,
        settings: GenerationSettings | None = None,
    ) -> bool:
        """Start evaluating (the form's choices unless given); ``False`` (explained) if not."""
        if self.run is None or self.is_busy() or self._refused():
            return False
        if data is not None:
            self.file_radio.setChecked(True)
            self.file_edit.setText(str(data))
        if limit is not None:
            self.limit_spin.setValue(limit)
        if settings is not None:
            self.tokens_spin.setValue(settings.max_new_tokens)
        source = self.data_file()
        if self.file_radio.isChecked():
            if source is None:
                self.progress.set_status("Choose a file to evaluate on (Browse…).", error=True)
                return False
            if self.project is not None and not source.is_absolute():
                source = self.project.folder / source
            if not source.is_file():
                self.progress.set_status(
                    f"{source} does not exist. Choose another file.", error=True
                )
                return False
        task = evaluation_task(
            self.run.run_dir,
            data=source,
            settings=settings or self.settings(),
            limit=self.limit_spin.value(),
            adapter=self.adapter.path if self.adapter else None,
            mailbox=self.mailbox,
        )
        self._start(task, "Evaluating")
        return True

    def show_report(self, report: EvalReport | None) -> None:
        """Show ``report`` (``None``: the empty state)."""
        self.report = report
        self.examples_model.set_examples(report.examples if report else [])
        self.results.setCurrentIndex(1 if report is not None else 0)
        self.detail.clear()
        self.rating.set_candidates([])
        self.rating.clear_status()
        self.open_button.setEnabled(False)
        if report is not None:
            self._fill_summary(report)
            self._fill_forgetting(report)
            self.info_label.setText(_report_info(report, self.run))
            if not self.is_busy():
                self.tokens_spin.setValue(report.settings.max_new_tokens)
            if report.examples:
                self.select_example(0)
        self.sig_report_shown.emit(report)

    def select_example(self, row: int) -> None:
        """Select the example in ``row`` (its texts show in the detail pane)."""
        self.examples_table.selectRow(row)

    def selected_example(self) -> EvalExample | None:
        """The example selected in the table, if any."""
        rows = self.examples_table.selectionModel().selectedRows()
        return self.examples_model.example(rows[0].row()) if rows else None

    def example_location(self, example: EvalExample) -> tuple[Path, int] | None:
        """The dataset file and line ``example`` came from, when known."""
        if self.report is None or not example.line:
            return None
        if self.report.source != VALIDATION_SOURCE:
            return Path(self.report.source), example.line
        try:
            dataset = read_run_file(Path(self.report.run_dir)).get("dataset")
        except RunStoreError:
            return None
        path = dataset.get("path") if isinstance(dataset, dict) else None
        return (Path(path), example.line) if isinstance(path, str) and path else None

    def open_selected(self) -> bool:
        """Ask to show the selected example in the dataset editor; ``False`` if unknown."""
        example = self.selected_example()
        location = self.example_location(example) if example is not None else None
        if location is None:
            return False
        self.sig_reveal_requested.emit(*location)
        return True

    def summary_value(self, name: str, side: str) -> str:
        """The summary cell of metric ``name`` (``"rouge_l"``…) for ``side`` as shown."""
        row = [key for key, _label in SUMMARY_ROWS].index(name)
        item = self.summary_table.item(row, 1 if side == "base" else 2)
        return item.text() if item is not None else ""

    # ---- Slots
    @Slot()
    def _on_browse_clicked(self) -> None:
        start = self.file_edit.text() or (
            str(self.project.folder / "datasets") if self.project else ""
        )
        chosen, _filter = QFileDialog.getOpenFileName(
            self,
            "Evaluate on a file",
            start,
            "Datasets (*.jsonl *.json *.csv);;All files (*)",
        )
        if chosen:
            self.file_edit.setText(chosen)
            self.file_radio.setChecked(True)

    @Slot(QItemSelection, QItemSelection)
    def _on_selection(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.examples_table.selectionModel().selectedRows()
        if not rows or self.report is None:
            self.detail.clear()
            self.rating.set_candidates([])
            self.open_button.setEnabled(False)
            return
        example = self.examples_model.example(rows[0].row())
        self.detail.setHtml(_detail_html(example))
        location = self.example_location(example)
        self.open_button.setEnabled(location is not None)
        self.open_button.setToolTip(
            f"Show line {location[1]} of {location[0].name} in the dataset editor"
            if location is not None
            else "This example's place in its dataset is unknown"
        )
        prompt = tuple(dict(message) for message in example.prompt)
        line = f" line {example.line}" if example.line else ""
        source = f"evaluation: run {self.report.run_id}, {self.report.source}{line}"
        self.rating.clear_status()
        self.rating.set_candidates(
            [
                Candidate("reference", "Reference answer", example.reference, prompt),
                Candidate("base", "Base model's answer", example.base_answer, prompt),
                Candidate("tuned", "Tuned model's answer", example.tuned_answer, prompt),
            ],
            source,
        )

    @Slot(object)
    def _on_finished(self, report: object) -> None:
        self._drain()
        assert isinstance(report, EvalReport)
        self.show_report(report)
        count = len(report.examples)
        self.progress.set_status(
            f"Evaluated {count} example{'s' if count != 1 else ''}; the report is saved with "
            "the run (eval/report.json)."
        )

    # ---- Internals
    def _fit_summary_height(self) -> None:
        table = self.summary_table
        height = table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
        height += sum(table.rowHeight(row) for row in range(table.rowCount()))
        table.setFixedHeight(height)

    def _fill_summary(self, report: EvalReport) -> None:
        for row, (name, _label) in enumerate(SUMMARY_ROWS):
            base, tuned = getattr(report.base, name), getattr(report.tuned, name)
            winner = better_side(name, base, tuned)
            if format_metric(name, base) == format_metric(name, tuned):
                winner = None  # no visible difference: nothing to highlight
            for column, side, value in ((1, "base", base), (2, "tuned", tuned)):
                item = QTableWidgetItem(format_metric(name, value))
                item.setData(Qt.ItemDataRole.UserRole, value)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if winner == side:
                    item.setBackground(BETTER)
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                    item.setToolTip("The better of the two")
                self.summary_table.setItem(row, column, item)
        self._fit_summary_height()

    def _fill_forgetting(self, report: EvalReport) -> None:
        check = report.forgetting
        label = self.forgetting_label
        if check is None:
            label.setText("The forgetting check did not run in this evaluation.")
            label.setStyleSheet("")
            label.setProperty("degraded", False)
            return
        title = "Forgetting warning:" if check.degraded else "Forgetting check:"
        label.setText(f"<b>{title}</b> {escape(check.message)}")
        label.setToolTip(
            f"Perplexity on general questions: "
            f"{format_metric('perplexity', check.base_perplexity)} (base), "
            f"{format_metric('perplexity', check.tuned_perplexity)} (tuned), "
            f"{check.change:+.0%}; the warning line is {check.threshold:+.0%}."
        )
        label.setStyleSheet(WARNING_STYLE if check.degraded else OK_STYLE)
        label.setProperty("degraded", check.degraded)

    def _update_controls(self) -> None:
        busy = self.is_busy()
        self.run_button.setEnabled(self.run is not None and not busy and not self.blocked)
        self.run_button.setToolTip(self.blocked or "Answer the examples with both models")
        for widget in (
            self.split_radio,
            self.file_radio,
            self.file_edit,
            self.browse_button,
            self.limit_spin,
            self.tokens_spin,
        ):
            widget.setEnabled(not busy and self.run is not None)
        if self.run is not None and not RunPaths(self.run.run_dir).val_file.is_file():
            self.split_radio.setEnabled(False)


def _report_info(report: EvalReport, run: RunChoice | None) -> str:
    count = len(report.examples)
    source = "the validation split" if report.source == VALIDATION_SOURCE else report.source
    adapter = Path(report.adapter).name or "final adapter"
    for option in run.adapters if run is not None else ():
        if str(option.path) == report.adapter:
            adapter = option.label.lower()
    parts = [
        f"{count} example{'s' if count != 1 else ''} from {escape(source)}",
        f"tuned side: {escape(adapter)}",
        f"max {report.settings.max_new_tokens} new tokens, "
        + ("greedy" if report.settings.greedy else f"temperature {report.settings.temperature:g}"),
    ]
    when = local_time_text(report.created, "%d %b %Y %H:%M")
    if when:
        parts.insert(0, f"Evaluated {when}")
    text = " · ".join(parts)
    if report.notes:
        text += "<br>" + "<br>".join(escape(note) for note in report.notes)
    return text


def _detail_html(example: EvalExample) -> str:
    parts = ["<h4 style='margin:0'>Conversation</h4>"]
    for message in example.prompt:
        role = str(message.get("role", "")).capitalize()
        content = _html(message.get("content", ""))
        parts.append(f"<p style='margin:2px 0'><b>{escape(role)}:</b> {content}</p>")
    parts.append(f"<h4 style='margin:10px 0 0 0'>Reference</h4><p>{_html(example.reference)}</p>")
    for title, answer, scores in (
        ("Base answer", example.base_answer, example.base),
        ("Tuned answer", example.tuned_answer, example.tuned),
    ):
        numbers = _scores_text(scores)
        parts.append(
            f"<h4 style='margin:10px 0 0 0'>{title} <span style='font-weight:normal'>"
            f"({numbers})</span></h4><p>{_html(answer) or '<i>(empty)</i>'}</p>"
        )
    return "".join(parts)


def _scores_text(scores: dict[str, float]) -> str:
    parts = []
    if "exact_match" in scores:
        parts.append("exact" if scores["exact_match"] >= 1 else "not exact")
    if "rouge_l" in scores:
        parts.append(f"ROUGE-L {scores['rouge_l']:.3f}")
    if "bleu" in scores:
        parts.append(f"BLEU {scores['bleu']:.1f}")
    return ", ".join(parts)


def _html(text: object) -> str:
    return escape(str(text)).replace("\n", "<br>")
