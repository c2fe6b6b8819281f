"""Method step: QLoRA, LoRA or full fine-tuning; SFT or DPO; style or new knowledge.

Each method is explained in plain words with what it would need on the chosen GPU at
the current settings. DPO can be chosen only when the project has preference pairs.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QButtonGroup, QGridLayout, QRadioButton, QWidget

from ftstudio.core.memory import estimate_memory
from ftstudio.core.train_config import METHODS, defaults_for
from ftstudio.qt.widgets.card import Card
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
TASK_TEXT = {
    "style": "Tone, format and consistency: a smaller adapter is enough.",
    "knowledge": "New domain behaviour and facts: a larger adapter on every linear layer.",
}


class MethodStep(WizardStep):
    """Choose the method, the objective and the kind of task.

    Attributes (for tests): ``method_buttons``, ``objective_buttons``, ``task_buttons``
    (value → radio button), ``memory_labels`` (method → its memory line), ``dpo_note``.
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
        self.update_memory()

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
                f"{VERDICT_COLOURS[verdict]}'>{VERDICT_WORDS[verdict].lower()}</span>"
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
    def _on_task_toggled(self, checked: bool) -> None:
        if checked and not self._building:
            task = next(t for t, b in self.task_buttons.items() if b.isChecked())
            self.planner.set_task(task)
            self._changed()

    def _changed(self) -> None:
        self.refresh()
        self.sig_changed.emit()
