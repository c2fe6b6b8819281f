"""Method step: QLoRA, LoRA or full fine-tuning; SFT or DPO; where to start; the task.

Each method is explained in plain words with what it would need on the chosen GPU at
the current settings. DPO can be chosen only when the project has preference pairs.
"Start from" trains on the bare base model or continues an earlier run's LoRA adapter,
picked from the project's finished LoRA/QLoRA runs (``init_adapter``); for DPO the
newest SFT run is recommended, with its reason, as every other value is.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QGridLayout,
    QHeaderView,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from ftstudio.core.memory import estimate_memory
from ftstudio.core.train_config import METHODS, defaults_for
from ftstudio.qt.style import readable
from ftstudio.qt.widgets.card import Card
from ftstudio.qt.wizard.adapters import AdapterRun
from ftstudio.qt.wizard.fields import message_html
from ftstudio.qt.wizard.memory_bar import VERDICT_COLOURS, VERDICT_WORDS, capacity_text
from ftstudio.qt.wizard.plan import Planner
from ftstudio.qt.wizard.step import WizardStep, text_label
from ftstudio.qt.wizard.values import TASK_LABELS, escape

METHOD_TEXT = {
    "qlora": (
        "QLoRA (recommended)",
        "The base model is loaded in 4 bits and only small adapter matrices learn. It "
        "needs the least memory (a 7–8B model fits a 24 GB GPU) and comes close to LoRA's "
        "quality. Slower than LoRA, because the 4-bit weights are unpacked at every step.",
    ),
    "lora": (
        "LoRA",
        "The same small adapters on a base model kept in 16 bits: a little faster and "
        "simpler than QLoRA, but the weights need about four times the memory.",
    ),
    "full": (
        "Full fine-tuning",
        "Every weight of the model learns: the most capacity, and the most memory "
        "(gradients and optimizer state for every weight), so small models only. It needs "
        "a learning rate about ten times smaller, and saves a whole model instead of an "
        "adapter.",
    ),
}
OBJECTIVE_TEXT = {
    "sft": (
        "Supervised fine-tuning (SFT)",
        "Learn to answer like your examples: the usual choice.",
    ),
    "dpo": (
        "Preference tuning (DPO)",
        "Learn to prefer the chosen answer over the rejected one in each preference pair. "
        "Best after SFT, to polish answers the model already gives.",
    ),
}
START_TEXT = {
    "base": (
        "Base model",
        "Train a new adapter on the bare base model.",
    ),
    "adapter": (
        "An earlier run's adapter",
        "Keep training the LoRA adapter of a finished run of this project: the usual way "
        "to follow SFT with DPO. The base model must be the one that run trained on.",
    ),
}
RUN_COLUMNS = ("Run", "Finished", "Method", "Final loss", "Best validation loss")
"""The columns of the run picker."""
RUN_ROWS_SHOWN = 4
"""The run picker's height, in rows (it scrolls beyond)."""
TASK_TEXT = {
    "style": "Tone, format and consistency: a smaller adapter is enough.",
    "knowledge": "New domain behaviour and facts: a larger adapter on every linear layer.",
}


class MethodStep(WizardStep):
    """Choose the method, the objective and the kind of task.

    Attributes (for tests): ``method_buttons``, ``objective_buttons``, ``start_buttons``
    (``base`` / ``adapter``), ``task_buttons`` (value → radio button), ``memory_labels``
    (method → its memory line), ``dpo_note``, ``runs_table`` (the run picker, one row per
    :attr:`Planner.runs <ftstudio.qt.wizard.plan.Planner.runs>` entry), ``runs_note``,
    ``start_why`` (the recommendation's reason), ``start_recommended`` (its button),
    ``start_message`` (problem or warning).
    """

    key = "method"
    question = "How should the model learn?"

    def __init__(self, planner: Planner, parent: QWidget | None = None) -> None:
        super().__init__(planner, parent)
        card = Card("Method")
        self.method_buttons, self.memory_labels = {}, {}
        self.method_group = QButtonGroup(self)
        grid = self._grid(card)
        for row, method in enumerate(METHODS):
            title, text = METHOD_TEXT[method]
            button = self._option(self.method_group, title, text, grid, row)
            button.setObjectName(f"method-{method}")
            button.toggled.connect(self._on_method_toggled)
            self.method_buttons[method] = button
            label = text_label()
            label.setWordWrap(False)
            grid.addWidget(label, row * 2 + 1, 2)
            self.memory_labels[method] = label
        self.layout_.addWidget(card)

        card = Card("Objective")
        self.objective_group = QButtonGroup(self)
        self.objective_buttons = {}
        grid = self._grid(card)
        for row, objective in enumerate(OBJECTIVE_TEXT):
            title, text = OBJECTIVE_TEXT[objective]
            button = self._option(self.objective_group, title, text, grid, row)
            button.setObjectName(f"objective-{objective}")
            button.toggled.connect(self._on_objective_toggled)
            self.objective_buttons[objective] = button
        self.dpo_note = text_label(name="muted")
        card.add(self.dpo_note)
        self.layout_.addWidget(card)
        self.layout_.addWidget(self._build_start_card())

        card = Card("What should the model learn?")
        self.task_group = QButtonGroup(self)
        self.task_buttons = {}
        grid = self._grid(card)
        for row, task in enumerate(TASK_LABELS):
            button = self._option(self.task_group, TASK_LABELS[task], TASK_TEXT[task], grid, row)
            button.setObjectName(f"task-{task}")
            button.toggled.connect(self._on_task_toggled)
            self.task_buttons[task] = button
        self.layout_.addWidget(card)
        self.layout_.addStretch(1)
        self._building = False
        self.refresh()

    def _build_start_card(self) -> Card:
        card = Card("Start from")
        self.start_group = QButtonGroup(self)
        self.start_buttons: dict[str, QRadioButton] = {}
        grid = self._grid(card)
        for row, key in enumerate(START_TEXT):
            title, text = START_TEXT[key]
            button = self._option(self.start_group, title, text, grid, row)
            button.setObjectName(f"start-{key}")
            button.toggled.connect(self._on_start_toggled)
            self.start_buttons[key] = button
        table = self.runs_table = QTableWidget(0, len(RUN_COLUMNS))
        table.setObjectName("runsTable")
        table.setAccessibleName("Earlier runs with an adapter")
        table.setHorizontalHeaderLabels(list(RUN_COLUMNS))
        table.verticalHeader().setVisible(False)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(RUN_COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        table.itemSelectionChanged.connect(self._on_run_selection_changed)
        card.add(table)
        self.runs_note = text_label(name="muted")
        card.add(self.runs_note)
        row = QWidget()
        line = QGridLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.setHorizontalSpacing(8)
        self.start_why = text_label(name="fieldWhy")
        line.addWidget(self.start_why, 0, 0)
        self.start_recommended = QPushButton()
        self.start_recommended.setObjectName("recommendedButton")
        self.start_recommended.setFlat(True)
        self.start_recommended.setCursor(Qt.CursorShape.PointingHandCursor)
        self.start_recommended.clicked.connect(self._on_start_recommended_clicked)
        line.addWidget(self.start_recommended, 0, 1, Qt.AlignmentFlag.AlignRight)
        line.setColumnStretch(0, 1)
        card.add(row)
        self.start_message = text_label()
        card.add(self.start_message)
        self._shown_runs: list[AdapterRun] = []
        return card

    @staticmethod
    def _grid(card: Card) -> QGridLayout:
        holder = QWidget()
        grid = QGridLayout(holder)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(2)
        grid.setColumnStretch(1, 1)
        card.add(holder)
        return grid

    @staticmethod
    def _option(
        group: QButtonGroup, title: str, text: str, grid: QGridLayout, row: int
    ) -> QRadioButton:
        button = QRadioButton(title)
        button.setToolTip(text)
        font = button.font()
        font.setBold(True)
        button.setFont(font)
        group.addButton(button)
        grid.addWidget(button, row * 2, 0, 1, 3)
        explanation = text_label(text, "muted")
        explanation.setContentsMargins(22, 0, 0, 6)
        grid.addWidget(explanation, row * 2 + 1, 0, 1, 2)
        return button

    # ---- Showing
    def refresh(self) -> None:
        """Show the choices, DPO's availability and each method's memory need."""
        planner = self.planner
        self._building = True
        self.method_buttons[planner.method].setChecked(True)
        self.objective_buttons[planner.objective].setChecked(True)
        self.task_buttons[planner.task].setChecked(True)
        self._building = False
        has_pairs = planner.has_preferences()
        self.objective_buttons["dpo"].setEnabled(has_pairs or planner.objective == "dpo")
        path = planner.project.dataset_path("preferences") if planner.project else None
        if has_pairs and path is not None:
            note = f"Preference pairs: {escape(path.name)} (datasets.preferences)."
        else:
            note = (
                "DPO needs preference pairs (a prompt with a chosen and a rejected answer), "
                "and this project has none yet: add a preference file on the Dataset page "
                "(datasets.preferences in project.json)."
            )
        self.dpo_note.setText(note)
        self.refresh_start()
        self.update_memory()

    def refresh_start(self) -> None:
        """Show where the run starts: the choice, the run picker and the recommendation."""
        planner = self.planner
        config = planner.config()
        value = config.init_adapter
        adapters_apply = planner.method != "full"
        self._building = True
        if self._shown_runs != planner.runs:
            self._fill_runs(planner.runs)
        self.start_buttons["adapter" if value else "base"].setChecked(True)
        chosen = planner.run_for(value) if value else None
        row = self._shown_runs.index(chosen) if chosen is not None else -1
        if row >= 0:
            if self.runs_table.currentRow() != row:
                self.runs_table.selectRow(row)
        else:
            self.runs_table.clearSelection()
            self.runs_table.setCurrentCell(-1, -1)
        self._building = False
        has_runs = bool(planner.runs)
        self.start_buttons["adapter"].setEnabled((adapters_apply and has_runs) or bool(value))
        self.runs_table.setVisible(has_runs)
        self.runs_table.setEnabled(adapters_apply)
        if not has_runs:
            note = (
                "No finished LoRA or QLoRA run in this project yet: its adapter could be "
                "continued here once one has finished."
            )
        elif not adapters_apply:
            note = "Full fine-tuning starts from the base model: adapters apply to LoRA and QLoRA."
        else:
            note = ""
        self.runs_note.setText(escape(note))
        self.runs_note.setVisible(bool(note))
        advice = planner.start_advice()
        self.start_why.setText(escape(advice.why))
        same = value == advice.value
        recommended = planner.run_for(advice.value) if advice.value else None
        target = f"the adapter of {recommended.name}" if recommended else "the base model"
        self.start_recommended.setText("✓ recommended" if same else f"↺ Recommended: {target}")
        self.start_recommended.setEnabled(not same)
        self.start_recommended.setToolTip("" if same else f"Start from {target}, as recommended")
        problem = planner.problems().get("init_adapter")
        warning = planner.start_warning()
        message = message_html(problem, [warning] if warning else [])
        self.start_message.setText(message)
        self.start_message.setVisible(bool(message))

    def _fill_runs(self, runs: list[AdapterRun]) -> None:
        table = self.runs_table
        blocked = table.blockSignals(True)
        table.setRowCount(len(runs))
        for row, run in enumerate(runs):
            cells = (
                run.name if run.name == run.id else f"{run.name}  ({run.id})",
                run.date_text,
                run.method_text,
                _loss(run.final_loss),
                _loss(run.best_eval_loss),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column >= 3:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                item.setToolTip(f"{run.label}. Trained on {run.base_model}. Folder {run.relative}")
                table.setItem(row, column, item)
        table.blockSignals(blocked)
        self._shown_runs = list(runs)
        rows = max(1, min(len(runs), RUN_ROWS_SHOWN))
        height = table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
        height += sum(table.rowHeight(row) for row in range(rows)) if runs else 0
        table.setFixedHeight(height + 2)

    def update_memory(self) -> None:
        """Each method's estimated memory at the current settings on the chosen GPU."""
        planner = self.planner
        config = planner.config()
        for method, label in self.memory_labels.items():
            if planner.spec is None:
                label.setText("")
                continue
            changed = dataclasses.replace(
                config,
                method=method,
                optimizer=defaults_for(method, planner.objective).optimizer,
            )
            try:
                estimate = estimate_memory(planner.spec, changed, planner.gpu.memory_gb)
            except ValueError:
                label.setText("")
                continue
            verdict = estimate.verdict
            label.setText(
                f"about {estimate.total_gb:.1f} GB · <span style='color:"
                f"{readable(VERDICT_COLOURS[verdict])}'>{VERDICT_WORDS[verdict].lower()}</span>"
            )
            label.setToolTip(
                f"At the current settings on a {capacity_text(planner.gpu.memory_gb)} GPU."
            )

    # ---- Slots
    @Slot(bool)
    def _on_method_toggled(self, checked: bool) -> None:
        if checked and not self._building:
            method = next(m for m, b in self.method_buttons.items() if b.isChecked())
            self.planner.set_method(method)
            self._changed()

    @Slot(bool)
    def _on_objective_toggled(self, checked: bool) -> None:
        if checked and not self._building:
            objective = next(o for o, b in self.objective_buttons.items() if b.isChecked())
            self.planner.set_objective(objective)
            self._changed()

    @Slot(bool)
    def _on_start_toggled(self, checked: bool) -> None:
        if not checked or self._building:
            return
        planner = self.planner
        if self.start_buttons["base"].isChecked():
            planner.set_start("")
        else:
            row = self.runs_table.currentRow()
            if 0 <= row < len(self._shown_runs):
                run = self._shown_runs[row]
            else:  # the recommended run, else the newest on this base model, else the newest
                advice = planner.start_advice().value
                run = planner.run_for(advice) if advice else None
                run = run or next(iter([*planner.matching_runs(), *planner.runs]), None)
            if run is None:  # no run to start from (the choice is disabled then)
                self.refresh()
                return
            planner.set_start(run.relative)
        self._changed()

    @Slot()
    def _on_run_selection_changed(self) -> None:
        if self._building:
            return
        rows = self.runs_table.selectionModel().selectedRows()
        if not rows or not 0 <= rows[0].row() < len(self._shown_runs):
            return
        self.planner.set_start(self._shown_runs[rows[0].row()].relative)
        self._changed()

    @Slot()
    def _on_start_recommended_clicked(self) -> None:
        self.planner.reset_start()
        self._changed()

    @Slot(bool)
    def _on_task_toggled(self, checked: bool) -> None:
        if checked and not self._building:
            task = next(t for t, b in self.task_buttons.items() if b.isChecked())
            self.planner.set_task(task)
            self._changed()

    def _changed(self) -> None:
        self.refresh()
        self.sig_changed.emit()


def _loss(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"
