"""One side of the playground: the conversation as the user and one model had it."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QLabel, QTextBrowser, QVBoxLayout, QWidget

STREAMING, DONE, STOPPED, FAILED = "streaming", "done", "stopped", "failed"
"""States of an answer."""


@dataclass
class Turn:
    """One exchange as a side shows it: the question and the answer (maybe partial)."""

    question: str
    answer: str = ""
    state: str = STREAMING


class TranscriptPane(QFrame):
    """A titled, read-only conversation: questions and one model's answers.

    Attributes:
        turns: the exchanges shown, oldest first.
        browser: the text view.
    """

    def __init__(self, title: str, speaker: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.speaker = speaker
        self.turns: list[Turn] = []
        self.placeholder = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(6)
        self.title_label = QLabel(title)
        self.title_label.setObjectName("cardTitle")
        self.title_label.setWordWrap(True)
        layout.addWidget(self.title_label)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.setFrameShape(QFrame.Shape.NoFrame)
        layout.addWidget(self.browser, 1)

    def set_title(self, title: str) -> None:
        """Replace the heading."""
        self.title_label.setText(title)

    def set_placeholder(self, text: str) -> None:
        """What the pane says while it has no turns."""
        self.placeholder = text
        self.render()

    def text(self) -> str:
        """The transcript as plain text."""
        return self.browser.toPlainText()

    def last_answer(self) -> str:
        """The latest answer (``""`` if none)."""
        return self.turns[-1].answer if self.turns else ""

    def render(self) -> None:
        """Draw the turns (call after changing them)."""
        palette = self.palette()
        muted = palette.color(QPalette.ColorRole.PlaceholderText).name()
        shade = palette.color(QPalette.ColorRole.AlternateBase).name()
        if not self.turns:
            self.browser.setHtml(f"<p style='color:{muted}'>{escape(self.placeholder)}</p>")
            return
        parts = []
        for turn in self.turns:
            parts.append(
                f"<table width='100%' cellpadding='8' style='margin-bottom:6px'>"
                f"<tr><td style='background:{shade}'><b>You</b><br>{_html(turn.question)}</td>"
                "</tr></table>"
            )
            answer = _html(turn.answer)
            if turn.state == STREAMING:
                answer += " ▍" if turn.answer else f"<span style='color:{muted}'>…</span>"
            elif turn.state == STOPPED:
                answer += (
                    f"<br><span style='color:{muted}'><i>Stopped. This exchange is left out "
                    "of the conversation.</i></span>"
                )
            elif turn.state == FAILED:
                answer += f"<br><span style='color:{muted}'><i>No answer.</i></span>"
            elif not turn.answer:
                answer = f"<span style='color:{muted}'><i>(empty answer)</i></span>"
            parts.append(
                f"<p style='margin:4px 8px 14px 8px'><b>{escape(self.speaker)}</b><br>{answer}</p>"
            )
        self.browser.setHtml("".join(parts))
        bar = self.browser.verticalScrollBar()
        bar.setValue(bar.maximum())


def _html(text: str) -> str:
    """``text`` as HTML, its spaces and line breaks kept."""
    return f"<span style='white-space:pre-wrap'>{escape(text)}</span>"
