"""Train page: what will be trained on what; the training monitor builds on this page."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from ftstudio.core.project import describe_base_model
from ftstudio.qt.pages.base import Page
from ftstudio.qt.widgets.card import Card


class TrainPage(Page):
    """Base model, training data and (soon) the live training monitor.

    Signals:
        sig_plan_requested(): the user asked for the hyperparameter wizard.
    """

    key = "train"
    title = "Train"
    summary = "Fine-tune with QLoRA by default, or LoRA, full fine-tuning or DPO."
    plans = (
        "Start a run from the wizard's configuration and watch the train and "
        "validation loss live, with learning rate, speed, memory and ETA.",
        "Stop at any time without losing the run; resume from the last checkpoint after a crash.",
        "Get early stopping, overfitting warnings and a plain explanation "
        "when a run fails (out of memory, NaN loss, disk full).",
    )

    sig_plan_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_card = Card("Base model", "")
        self.data_card = Card("Training data", "")
        self.body.addWidget(self.model_card)
        self.body.addWidget(self.data_card)
        actions = QWidget()
        row = QHBoxLayout(actions)
        row.setContentsMargins(0, 0, 0, 0)
        self.plan_button = QPushButton("Plan a training run…")
        self.plan_button.setToolTip("Open the hyperparameter wizard (Ctrl+Shift+P)")
        self.plan_button.clicked.connect(self.sig_plan_requested)
        row.addWidget(self.plan_button)
        row.addStretch(1)
        self.body.addWidget(actions)
        self.add_plans()

    def refresh(self) -> None:
        """Describe the project's base model and training dataset."""
        if self.project is None:
            self.model_card.set_text("No project is open.")
            self.data_card.set_text("")
            self.plan_button.setEnabled(False)
            return
        self.plan_button.setEnabled(True)
        self.model_card.set_text(describe_base_model(self.project.base_model, self.project.folder))
        train = self.project.dataset_path("train")
        preferences = self.project.dataset_path("preferences")
        lines = [
            f"Supervised examples: <b>{train.name}</b>" if train else "No training dataset set.",
        ]
        if preferences:
            lines.append(f"Preference pairs for DPO: <b>{preferences.name}</b>")
        self.data_card.set_text("<br>".join(lines))
