"""What every wizard step shares: the planner it shows, a change signal, small helpers."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ftstudio.qt.wizard.plan import Planner


class WizardStep(QWidget):
    """One step of the wizard: a view over the :class:`Planner` it is given.

    Subclasses set :attr:`key` (one of :data:`~ftstudio.qt.wizard.plan.STEPS`) and
    :attr:`question`, build their widgets in ``__init__`` and redraw in :meth:`refresh`.

    Signals:
        sig_changed(): this step changed the planner (the page refreshes what follows).
    """

    key = ""
    question = ""
    scrolls = True
    """Whether the page puts the step in a scroll area (false: it scrolls by itself)."""

    sig_changed = Signal()

    def __init__(self, planner: Planner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"step-{self.key}")
        self.planner = planner
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(10)
        heading = QLabel(self.question)
        heading.setObjectName("stepQuestion")
        heading.setWordWrap(True)
        self.layout_.addWidget(heading)

    def set_planner(self, planner: Planner) -> None:
        """Show ``planner`` (a new project) and redraw."""
        self.planner = planner
        self.refresh()

    def refresh(self) -> None:
        """Redraw from the planner (cheap: called after every change while shown)."""


def text_label(text: str = "", name: str = "") -> QLabel:
    """A word-wrapping rich-text label (escape plain text put in it), optionally named for
    the style sheet (``muted``…)."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    if name:
        label.setObjectName(name)
    return label
