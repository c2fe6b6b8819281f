"""Hyperparameters step: every remaining field with its help, recommendation and checks.

Fields are grouped (adapters, learning, batches and length, evaluation and checkpoints,
advanced), each a :class:`~ftstudio.qt.wizard.fields.FieldRow`. An invalid value is
explained under its field and blocks Next; a value outside its usual range gets an
amber warning. "Reset to recommended" drops every edit of this step.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ftstudio.qt.style import readable
from ftstudio.qt.wizard.fields import ERROR_COLOUR, FieldRow
from ftstudio.qt.wizard.plan import HPARAM_FIELDS, SPECS, Planner
from ftstudio.qt.wizard.step import WizardStep, text_label

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("LoRA adapters", ("r", "alpha", "dropout")),
    (
        "Learning",
        ("learning_rate", "lr_scheduler", "warmup_ratio", "optimizer", "epochs", "max_steps"),
    ),
    (
        "Batches and length",
        (
            "per_device_batch_size",
            "grad_accum",
            "max_length",
            "gradient_checkpointing",
            "packing",
            "assistant_only_loss",
            "precision",
        ),
    ),
    (
        "Evaluation and checkpoints",
        ("eval_steps", "early_stopping_patience", "save_steps", "seed", "output_dir"),
    ),
    ("Advanced", ("dpo_beta", "attn_implementation", "double_quant")),
)
"""The step's fields by section; together exactly :data:`HPARAM_FIELDS`."""


def field_note(field: str, method: str, objective: str) -> str:
    """Why ``field`` does not apply to this run, or ""."""
    if field in ("r", "alpha", "dropout") and method == "full":
        return "Not used by full fine-tuning."
    if field == "dpo_beta" and objective != "dpo":
        return "Used by DPO only."
    if field == "double_quant" and method != "qlora":
        return "Used by QLoRA only."
    if field == "packing" and objective == "dpo":
        return "DPO cannot pack its pairs."
    return ""


class HyperparametersStep(WizardStep):
    """Every hyperparameter with its recommendation (see the module docstring).

    Attributes (for tests): ``rows`` (field → :class:`FieldRow`), ``reset_button``,
    ``problems_label``.
    """

    key = "hyperparameters"
    question = "The settings, each with its reason"
    scrolls = False

    def __init__(self, planner: Planner, parent: QWidget | None = None) -> None:
        super().__init__(planner, parent)
        bar = QHBoxLayout()
        intro = text_label(
            "Every value starts at ftstudio's recommendation for your model, data and GPU. "
            "Hover a field for its full explanation.",
            "muted",
        )
        bar.addWidget(intro, 1)
        self.reset_button = QPushButton("Reset to recommended")
        self.reset_button.setToolTip("Forget the values changed on this step")
        self.reset_button.clicked.connect(self.reset)
        bar.addWidget(self.reset_button)
        self.layout_.addLayout(bar)
        self.problems_label = text_label()
        self.layout_.addWidget(self.problems_label)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        content = QWidget()
        content.setObjectName("hparamsContent")
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 12, 0)
        column.setSpacing(2)
        self.rows: dict[str, FieldRow] = {}
        for title, fields in SECTIONS:
            heading = QLabel(title)
            heading.setObjectName("sectionTitle")
            column.addWidget(heading)
            for field in fields:
                row = FieldRow(SPECS[field])
                row.sig_text_edited.connect(self._on_text_edited)
                row.sig_value_chosen.connect(self._on_value_chosen)
                row.sig_recommended_requested.connect(self._on_recommended_requested)
                column.addWidget(row)
                self.rows[field] = row
        column.addStretch(1)
        scroll.setWidget(content)
        self.scroll = scroll
        self.layout_.addWidget(scroll, 1)
        self.refresh()

    # ---- Public API
    def reset(self) -> None:
        """Every field of this step back to its recommended value."""
        self.planner.reset_to_recommended()
        self._changed()

    def refresh(self) -> None:
        """Show each field's value, recommendation, reason, problem and warnings."""
        planner = self.planner
        config = planner.config()
        recommended = planner.recommended_config()
        problems = planner.step_problems(self.key)
        warnings = planner.warnings()
        for field, row in self.rows.items():
            advice = planner.advice(field)
            row.set_state(
                getattr(config, field),
                recommended=getattr(recommended, field),
                why=advice.why if advice is not None else "",
                problem=problems.get(field),
                warnings=warnings.get(field, []),
                note=field_note(field, planner.method, planner.objective),
            )
        count = len(problems)
        colour = readable(ERROR_COLOUR)
        self.problems_label.setText(
            f"<span style='color:{colour}'>{count} value{'s' if count > 1 else ''} to fix "
            "before going on (marked ✖ below).</span>"
            if count
            else ""
        )
        self.problems_label.setVisible(bool(count))
        self.reset_button.setEnabled(
            any(field in planner.edits or field in planner.invalid for field in HPARAM_FIELDS)
        )

    # ---- Slots
    @Slot(str, str)
    def _on_text_edited(self, field: str, text: str) -> None:
        self.planner.set_text(field, text)
        self._changed()

    @Slot(str, object)
    def _on_value_chosen(self, field: str, value: object) -> None:
        self.planner.set_value(field, value)
        self._changed()

    @Slot(str)
    def _on_recommended_requested(self, field: str) -> None:
        self.planner.reset_to_recommended((field,))
        self._changed()

    def _changed(self) -> None:
        self.refresh()
        self.sig_changed.emit()
