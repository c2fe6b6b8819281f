"""Hyperparameter wizard: reads the data and the GPU and proposes a configuration."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from ftstudio.core.project import describe_base_model
from ftstudio.qt.pages.base import Page
from ftstudio.qt.widgets.card import Card, bullet_list


class PlanWizardPage(Page):
    """The planning wizard, opened from the Train page (not in the sidebar)."""

    key = "wizard"
    title = "Plan a training run"
    summary = "Every value comes with a reason, and the memory estimate comes before the run."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_card = Card("1 · Base model", "")
        self.body.addWidget(self.model_card)
        self.body.addWidget(
            Card(
                "2 · Method",
                bullet_list(
                    [
                        "<b>QLoRA</b> (default): the base model in 4-bit, small adapters on "
                        "top; fits 7–8B models on a 24 GB GPU.",
                        "<b>LoRA</b>: adapters on a 16-bit base; faster, needs more memory.",
                        "<b>Full fine-tuning</b>: every weight trains; small models only.",
                        "<b>DPO</b>: learn from chosen/rejected answer pairs.",
                    ]
                ),
            )
        )
        self.body.addWidget(
            Card(
                "3 · Settings and memory",
                "Rank, learning rate, epochs, batch size and sequence length are proposed "
                "from your example count and lengths, each with its reason, and the GPU "
                "memory estimate is compared with your card before anything starts.",
            )
        )
        self.body.addStretch(1)

    def refresh(self) -> None:
        """Show the project's base model as the starting point."""
        self.model_card.set_text(
            describe_base_model(self.project.base_model, self.project.folder)
            if self.project
            else "No project is open."
        )
