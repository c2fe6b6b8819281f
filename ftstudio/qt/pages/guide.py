"""Guide page: should you fine-tune at all, and with which method?"""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QWidget

from ftstudio.qt.pages.base import Page
from ftstudio.qt.widgets.card import Card, bullet_list

OUTCOMES = (
    (
        "Fine-tune",
        "Your answers need a consistent style, format or domain behaviour that prompting "
        "cannot reach, and you can show it with a few hundred good examples.",
    ),
    (
        "Retrieval (RAG)",
        "The model mostly needs facts that change often or are too many to learn: "
        "look them up at question time instead of training them in.",
    ),
    (
        "Prompting",
        "A clear instruction and a few examples in the prompt already give the answers you "
        "want. Cheapest to try first, and easy to change.",
    ),
    (
        "Base model as is",
        "A general model already answers well enough; spend the effort on evaluation, not "
        "training.",
    ),
)


class GuidePage(Page):
    """The decision guide (fine-tune vs RAG vs prompting vs base model)."""

    key = "guide"
    title = "Guide"
    summary = "Decide whether fine-tuning is the right tool before you spend GPU hours on it."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        steps = Card(
            "How the guide works",
            bullet_list(
                [
                    "Answer a few questions, one at a time: does the model need specialised "
                    "knowledge, does that knowledge change, do you need a consistent style "
                    "or format, and can a good prompt already do it?",
                    "The guide reads your project's dataset and tells you whether you have "
                    "enough examples yet.",
                    "You end at one recommendation, with the reasons in plain words, saved "
                    "in the project.",
                ]
            ),
        )
        self.body.addWidget(steps)
        grid_host = QWidget()
        grid = QGridLayout(grid_host)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(12)
        for index, (name, text) in enumerate(OUTCOMES):
            grid.addWidget(Card(name, text), index // 2, index % 2)
        self.body.addWidget(grid_host)
        self.status_card = Card("This project", "")
        self.body.addWidget(self.status_card)
        self.body.addStretch(1)

    def refresh(self) -> None:
        """Show how many dataset files the project has for the guide to read."""
        if self.project is None:
            self.status_card.set_text("No project is open.")
            return
        files = self.project.dataset_files()
        self.status_card.set_text(
            f"{len(files)} dataset file(s) in <b>{self.project.name}</b> will be read by the "
            "guide. The interactive questions arrive with the decision-guide release."
        )
