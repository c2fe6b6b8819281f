"""The playground: one prompt, two answers side by side (base model | tuned model).

Both answers come from one worker task, base first, with the same sampling settings
and seed; their text streams into the panes as it is generated. The model loads once
per run and saved model and stays loaded between prompts. Each side keeps its own
conversation, so follow-up questions go on where each model left off.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.evaluation.settings import GenerationSettings
from ftstudio.core.project import Project
from ftstudio.qt.evaluate.choices import AdapterOption, RunChoice
from ftstudio.qt.evaluate.progress import TaskProgress
from ftstudio.qt.evaluate.rating import PLAYGROUND_VERDICTS, Candidate, RatingBar
from ftstudio.qt.evaluate.task_view import TaskView
from ftstudio.qt.evaluate.transcript import DONE, FAILED, STOPPED, STREAMING, TranscriptPane, Turn
from ftstudio.qt.evaluate.workers import (
    BASE,
    STATUS,
    TEXT,
    TUNED,
    ChatAnswers,
    ChatRequest,
    ModelHolder,
    chat_task,
    conversation,
)
from ftstudio.qt.shortcuts import add_shortcut
from ftstudio.qt.ui_state import remember_splitter
from ftstudio.qt.widgets.card import Card
from ftstudio.qt.widgets.dataclass_form import DataclassForm


class PromptEdit(QPlainTextEdit):
    """The prompt box: Ctrl+Enter sends.

    Signals:
        sig_submitted(): Ctrl+Enter (or Ctrl+Return) was pressed.
    """

    sig_submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        """Send on Ctrl+Enter; everything else edits."""
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.sig_submitted.emit()
            return
        super().keyPressEvent(event)


class PlaygroundView(TaskView):
    """Ask both models, watch the answers stream in, rate them.

    Signals:
        sig_busy_changed(bool): a prompt started or ended.
        sig_partial(str, str): side (``"base"``/``"tuned"``) and its answer so far, each
            time streamed text arrives.
        sig_answered(object): both answers are complete (:class:`ChatAnswers`).
        sig_reveal_requested(object, int): open this dataset file at this line.

    Attributes:
        runner: runs the answering task.
        holder: keeps the loaded model between prompts.
        base_pane, tuned_pane: the two transcripts.
        rating: the rating row under the answers.
    """

    sig_partial = Signal(str, str)
    sig_answered = Signal(object)
    sig_reveal_requested = Signal(object, int)

    DRAIN_INTERVAL_MS = 30
    """How often streamed text is painted while a task runs."""
    CANCEL_STATUS = "Stopping…"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.holder = ModelHolder()
        self._started_at = 0.0
        self._settings_used = GenerationSettings()
        self._conversations: dict[str, tuple[dict[str, str], ...]] = {}

        outer = QHBoxLayout(self)
        outer.setContentsMargins(10, 10, 10, 10)
        outer.setSpacing(14)
        outer.addLayout(self._build_main_column(), 1)
        outer.addWidget(self._build_side_column())

        context = Qt.ShortcutContext.WidgetWithChildrenShortcut  # while the focus is in the tab
        add_shortcut(self, Qt.Key.Key_Escape, "Stop answering", self.stop, context)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):  # the main and the keypad Enter
            add_shortcut(self, keys, "Send the prompt to both models", self.send, context)
        self._update_titles()
        self._update_controls()

    def _build_main_column(self) -> QVBoxLayout:
        column = QVBoxLayout()
        column.setSpacing(8)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        self.base_pane = TranscriptPane("Base model", "Base model")
        self.tuned_pane = TranscriptPane("Tuned", "Tuned model")
        for pane in (self.base_pane, self.tuned_pane):
            pane.setMinimumHeight(220)
            splitter.addWidget(pane)
        splitter.setObjectName("playgroundSplitter")
        if not remember_splitter(splitter, "evaluate/playgroundSplitter"):
            splitter.setSizes([500, 500])  # equal halves
        column.addWidget(splitter, 1)
        self.rating = RatingBar(PLAYGROUND_VERDICTS)
        self.rating.sig_reveal_requested.connect(self.sig_reveal_requested)
        column.addWidget(self.rating)
        row = QHBoxLayout()
        self.prompt_edit = PromptEdit()
        self.prompt_edit.setObjectName("playgroundPrompt")
        self.prompt_edit.setPlaceholderText(
            "Ask both models something (Ctrl+Enter sends, Esc stops)"
        )
        self.prompt_edit.setFixedHeight(76)
        self.prompt_edit.sig_submitted.connect(self.send)
        row.addWidget(self.prompt_edit, 1)
        buttons = QVBoxLayout()
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("primary")
        self.send_button.setToolTip("Ask both models (Ctrl+Enter)")
        self.send_button.clicked.connect(lambda: self.send())  # not send(checked)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop answering (Esc)")
        self.stop_button.clicked.connect(self.stop)
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        row.addLayout(buttons)
        column.addLayout(row)
        self.progress = TaskProgress(self.runner, cancel_button=False)  # Stop does it
        column.addWidget(self.progress)
        return column

    def _build_side_column(self) -> QWidget:
        side = QWidget()
        side.setFixedWidth(290)
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(10)
        sampling = Card("Sampling")
        self.settings_form = DataclassForm(GenerationSettings())
        self.settings_form.editors["top_p"].setDecimals(2)  # type: ignore[attr-defined]
        self.settings_form.editors["temperature"].setSingleStep(0.1)  # type: ignore[attr-defined]
        self.settings_form.editors["top_p"].setSingleStep(0.05)  # type: ignore[attr-defined]
        sampling.add(self.settings_form)
        note = QLabel("Both models answer with these settings and the same seed.")
        note.setObjectName("muted")
        note.setWordWrap(True)
        sampling.add(note)
        column.addWidget(sampling)
        system = Card("System prompt")
        self.system_edit = QPlainTextEdit()
        self.system_edit.setObjectName("playgroundSystem")
        self.system_edit.setPlaceholderText("Optional: instructions for both models")
        self.system_edit.setMinimumHeight(90)
        system.add(self.system_edit)
        column.addWidget(system, 1)
        self.clear_button = QPushButton("Clear conversation")
        self.clear_button.setToolTip("Start a new conversation on both sides")
        self.clear_button.clicked.connect(self.clear)
        column.addWidget(self.clear_button)
        return side

    # ---- Public API
    def set_project(self, project: Project | None) -> None:
        """Save ratings into ``project``."""
        self.project = project
        self.rating.set_project(project)

    def set_target(self, run: RunChoice | None, adapter: AdapterOption | None) -> None:
        """Compare ``run``'s base model with ``adapter`` (a new conversation starts)."""
        changed = (run.run_dir if run else None, adapter.path if adapter else None) != (
            self.run.run_dir if self.run else None,
            self.adapter.path if self.adapter else None,
        )
        self.run, self.adapter = run, adapter
        if changed and not self.is_busy():
            self.clear()
        self._update_titles()
        self._update_controls()

    def settings(self) -> GenerationSettings:
        """The sampling settings in the form."""
        value = self.settings_form.value()
        assert isinstance(value, GenerationSettings)
        return value

    def set_settings(self, settings: GenerationSettings) -> None:
        """Show ``settings`` in the form."""
        for name, editor in self.settings_form.editors.items():
            editor.setValue(getattr(settings, name))  # type: ignore[attr-defined]

    def send(self, question: str | None = None) -> bool:
        """Ask both models ``question`` (default: the prompt box); ``False`` if not possible."""
        text = (self.prompt_edit.toPlainText() if question is None else question).strip()
        if not text or self.run is None or self.is_busy() or self._refused():
            return False
        system = self.system_edit.toPlainText()
        settings = self.settings()
        conversations = {
            side: conversation(system, _done_exchanges(pane), text)
            for side, pane in ((BASE, self.base_pane), (TUNED, self.tuned_pane))
        }
        request = ChatRequest(
            run_dir=self.run.run_dir,
            adapter=self.adapter.path if self.adapter else None,
            project=self.project.folder if self.project else None,
            conversations=conversations,
            settings=settings,
        )
        self._conversations = conversations
        self._settings_used = settings
        for pane in (self.base_pane, self.tuned_pane):
            pane.turns.append(Turn(text))
            pane.render()
        self.prompt_edit.clear()
        self.rating.set_candidates([])
        self.rating.clear_status()
        self._started_at = time.monotonic()
        self._start(chat_task(request, self.holder, self.mailbox), "Answering")
        return True

    def stop(self) -> None:
        """Stop answering (the partial answers stay on screen, out of the conversation)."""
        self.cancel()

    def clear(self) -> None:
        """Start a new conversation (not while answering)."""
        if self.is_busy():
            return
        for pane in (self.base_pane, self.tuned_pane):
            pane.turns.clear()
            pane.render()
        self.rating.set_candidates([])
        self.rating.clear_status()
        self.progress.set_status("")
        self._update_controls()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop answering, wait for the task, and free the model (before closing)."""
        finished = super().shutdown(timeout_ms)
        if finished:
            self.holder.close()
        return finished

    # ---- Slots
    @Slot()
    def _drain(self) -> None:
        changed: set[str] = set()
        for kind, value in self.mailbox.drain():
            if kind == STATUS:
                self.progress.set_status(str(value))
            elif kind == TEXT:
                side, text = value
                pane = self._pane(side)
                if pane.turns:
                    pane.turns[-1].answer += text
                    changed.add(side)
                    self.sig_partial.emit(side, pane.turns[-1].answer)
        for side in changed:
            self._pane(side).render()

    @Slot(object)
    def _on_finished(self, answers: object) -> None:
        self._drain()
        assert isinstance(answers, ChatAnswers)
        for side, pane in ((BASE, self.base_pane), (TUNED, self.tuned_pane)):
            if pane.turns:
                pane.turns[-1].answer = answers.base if side == BASE else answers.tuned
                pane.turns[-1].state = DONE
                pane.render()
        seconds = time.monotonic() - self._started_at
        self.progress.set_status(f"Both models answered in {seconds:.1f} s.")
        self._offer_rating(answers)
        self.sig_answered.emit(answers)

    @Slot()
    def _on_cancelled(self) -> None:
        self._drain()
        self._end_turns(STOPPED)
        self.progress.set_status("Stopped.")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._drain()
        self._end_turns(FAILED)
        self.progress.set_status(message, error=True)

    # ---- Internals
    def _pane(self, side: str) -> TranscriptPane:
        return self.base_pane if side == BASE else self.tuned_pane

    def _end_turns(self, state: str) -> None:
        for pane in (self.base_pane, self.tuned_pane):
            if pane.turns and pane.turns[-1].state == STREAMING:
                pane.turns[-1].state = state
                pane.render()

    def _offer_rating(self, answers: ChatAnswers) -> None:
        if self.run is None:
            return
        conversations = self._conversations
        label = self.adapter.label.lower() if self.adapter else "final adapter"
        settings = self._settings_used
        source = (
            f"playground: run {self.run.run_id}, {label}, temperature {settings.temperature:g}, "
            f"top-p {settings.top_p:g}, seed {settings.seed}"
        )
        self.rating.set_candidates(
            [
                Candidate(BASE, "Base model's answer", answers.base, conversations[BASE]),
                Candidate(TUNED, "Tuned model's answer", answers.tuned, conversations[TUNED]),
            ],
            source,
        )

    def _update_titles(self) -> None:
        if self.run is None:
            self.tuned_pane.set_title("Tuned")
        else:
            label = self.adapter.label.lower() if self.adapter else ""
            self.tuned_pane.set_title(f"Tuned: {self.run.name} · {label}".rstrip(" ·"))
        placeholder = (
            "Type a question below and press Ctrl+Enter."
            if self.run is not None
            else "Choose a run to compare with its base model."
        )
        for pane in (self.base_pane, self.tuned_pane):
            pane.set_placeholder(placeholder)

    def _update_controls(self) -> None:
        busy = self.is_busy()
        self.send_button.setEnabled(self.run is not None and not busy and not self.blocked)
        self.send_button.setToolTip(self.blocked or "Ask both models (Ctrl+Enter)")
        self.stop_button.setEnabled(busy)
        self.clear_button.setEnabled(not busy)
        self.settings_form.setEnabled(not busy)


def _done_exchanges(pane: TranscriptPane) -> list[tuple[str, str]]:
    return [(turn.question, turn.answer) for turn in pane.turns if turn.state == DONE]
