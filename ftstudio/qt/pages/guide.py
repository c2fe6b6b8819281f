"""Guide page: should you fine-tune at all, or use retrieval, prompting or the base model?

One question at a time, with its answers as large buttons; Back and Forward (Alt+Left,
Alt+Right) move through the answers given; the answers so far are listed and each can
be changed. The page reads the project's training dataset (off the GUI thread when the
file is large) to say whether there are enough usable examples, and it saves the
recommendation in ``project.json`` under ``guide``; a project opened later shows it
again, with "Start over".
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.dataset.formats import load_dataset
from ftstudio.core.dataset.stats import DatasetStats, compute_stats
from ftstudio.core.dataset.validate import validate_dataset
from ftstudio.core.guide import (
    SAVED_KEY,
    Consideration,
    Guide,
    GuideError,
    GuideResult,
    GuideSession,
    GuideSessionError,
    Question,
    SavedDecision,
    load_guide,
)
from ftstudio.core.project import Project
from ftstudio.qt.dataset.workers import TaskContext, TaskRunner
from ftstudio.qt.pages.base import Page
from ftstudio.qt.widgets.card import Card, bullet_list

INLINE_READ_BYTES = 256 * 1024
"""Training files up to this size are read at once (milliseconds); larger ones in a thread."""

_STYLE = """
QPushButton#guideAnswer {
    border: 1px solid palette(mid);
    border-radius: 8px;
    background: palette(button);
    padding: 0;
}
QPushButton#guideAnswer:hover { border: 1px solid palette(highlight); }
QPushButton#guideAnswer:checked {
    border: 2px solid palette(highlight);
    background: palette(base);
}
QPushButton#guideAnswer:focus { border: 1px solid palette(highlight); }
QLabel#guideQuestion { font-size: 14pt; font-weight: 600; }
QLabel#guideStep { color: palette(placeholder-text); }
QLabel#guideOutcomeTitle { font-size: 16pt; font-weight: 600; color: palette(highlight); }
QLabel#guideSection { font-weight: 600; margin-top: 6px; }
QFrame#guideWarning {
    background: rgba(230, 160, 0, 40);
    border: 1px solid rgb(205, 140, 0);
    border-radius: 6px;
}
"""


class AnswerButton(QPushButton):
    """A large, word-wrapping button for one answer (QPushButton text does not wrap)."""

    def __init__(self, answer_id: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.answer_id = answer_id
        self._text = text
        self.setObjectName("guideAnswer")
        self.setCheckable(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAccessibleName(text)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        font = self.label.font()
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.label.setFont(font)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(self.label, 1)
        self.mark = QLabel("✓ your answer")
        self.mark.setObjectName("muted")
        self.mark.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.mark.setVisible(False)
        layout.addWidget(self.mark, 0, Qt.AlignmentFlag.AlignVCenter)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(48)

    def set_remembered(self, remembered: bool) -> None:
        """Mark the answer given before (shown checked, with a tick, after going back)."""
        self.setChecked(remembered)
        self.mark.setVisible(remembered)
        font = self.label.font()
        font.setBold(remembered)
        self.label.setFont(font)

    def text(self) -> str:  # the label holds the text, so accessibility and tests see it
        """The answer's label."""
        return self._text

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        """The height grows when the label wraps."""
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        """Height of the wrapped label plus margins."""
        layout = self.layout()
        return max(self.minimumHeight(), layout.totalHeightForWidth(width))

    def sizeHint(self):  # noqa: ANN201, N802 - Qt override
        """The layout's size (with the label on one line where there is room)."""
        return self.layout().sizeHint().expandedTo(self.minimumSize())


class GuidePage(Page):
    """The decision guide (fine-tune vs RAG vs prompting vs base model).

    Attributes (for tests and the main window): ``back_button``, ``forward_button``,
    ``restart_button``, ``answer_buttons`` (of the current question), ``session``,
    ``question_card``, ``outcome_card``, ``data_card``, ``path_card``, ``lists_card``.
    """

    key = "guide"
    title = "Guide"
    summary = "Decide whether fine-tuning is the right tool before you spend GPU hours on it."

    def __init__(self, parent: QWidget | None = None, *, guide: Guide | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(_STYLE)
        self.inline_read_bytes = INLINE_READ_BYTES
        self.guide: Guide | None = guide
        self.guide_error = ""
        if self.guide is None:
            try:
                self.guide = load_guide()
            except GuideError as error:
                self.guide_error = str(error)
        self.session: GuideSession | None = GuideSession(self.guide) if self.guide else None
        self.saved: SavedDecision | None = None
        self.answer_buttons: list[AnswerButton] = []
        self._buttons_for = ""
        self.stats: DatasetStats | None = None
        self._data_key: tuple[str, int, int] | None = None
        self._data_status = ""
        self._decided_here = False
        self._saved_note = ""

        self._build_toolbar()
        columns = QHBoxLayout()
        columns.setSpacing(14)
        left = QVBoxLayout()
        left.setSpacing(14)
        right = QVBoxLayout()
        right.setSpacing(14)
        columns.addLayout(left, 3)
        columns.addLayout(right, 2)
        self.body.addLayout(columns)

        self.error_card = Card("The decision guide cannot be shown", "")
        self.error_card.setVisible(False)
        left.addWidget(self.error_card)
        self._build_question_card(left)
        self._build_outcome_card(left)
        left.addStretch(1)
        self.path_card = Card("Your answers", "")
        self.path_card.text_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.LinksAccessibleByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        )
        self.path_card.text_label.linkActivated.connect(self._on_path_link)
        right.addWidget(self.path_card)
        self.data_card = Card("Your data for fine-tuning", "")
        right.addWidget(self.data_card)
        right.addStretch(1)
        self._build_lists_card()
        self.body.addStretch(1)

        self.reader = TaskRunner(self)
        self.reader.sig_finished.connect(self._on_reader_finished)
        self.reader.sig_failed.connect(self._on_reader_failed)
        self._show()

    # ---- Building
    def _build_toolbar(self) -> None:
        bar = QHBoxLayout()
        bar.setSpacing(8)
        self.back_button = QPushButton("← Back")
        self.back_button.setShortcut(QKeySequence("Alt+Left"))
        self.back_button.setToolTip("Back to the previous question (Alt+Left)")
        self.back_button.clicked.connect(self.go_back)
        self.forward_button = QPushButton("Forward →")
        self.forward_button.setShortcut(QKeySequence("Alt+Right"))
        self.forward_button.setToolTip("Forward to the answer you gave before (Alt+Right)")
        self.forward_button.clicked.connect(self.go_forward)
        self.restart_button = QPushButton("Start over")
        self.restart_button.setToolTip("Forget the answers and begin with the first question")
        self.restart_button.clicked.connect(self.start_over)
        bar.addWidget(self.back_button)
        bar.addWidget(self.forward_button)
        bar.addStretch(1)
        bar.addWidget(self.restart_button)
        self.body.addLayout(bar)

    def _build_question_card(self, column: QVBoxLayout) -> None:
        self.question_card = Card("", "")
        self.question_card.title_label.setObjectName("guideStep")
        self.question_label = QLabel()
        self.question_label.setObjectName("guideQuestion")
        self.question_label.setWordWrap(True)
        self.question_card.add(self.question_label)
        self.help_label = QLabel()
        self.help_label.setObjectName("muted")
        self.help_label.setWordWrap(True)
        self.question_card.add(self.help_label)
        answers = QWidget()
        self.answers_layout = QVBoxLayout(answers)
        self.answers_layout.setContentsMargins(0, 8, 0, 0)
        self.answers_layout.setSpacing(8)
        self.question_card.add(answers)
        self.saved_label = QLabel()
        self.saved_label.setObjectName("muted")
        self.saved_label.setWordWrap(True)
        self.question_card.add(self.saved_label)
        column.addWidget(self.question_card)

    def _build_outcome_card(self, column: QVBoxLayout) -> None:
        self.outcome_card = Card("Recommendation", "")
        self.outcome_title = QLabel()
        self.outcome_title.setObjectName("guideOutcomeTitle")
        self.outcome_card.add(self.outcome_title)
        self.outcome_summary = QLabel()
        self.outcome_summary.setWordWrap(True)
        self.outcome_card.add(self.outcome_summary)
        self.warning_frame = QFrame()
        self.warning_frame.setObjectName("guideWarning")
        warning_layout = QVBoxLayout(self.warning_frame)
        warning_layout.setContentsMargins(12, 8, 12, 8)
        self.warning_label = QLabel()
        self.warning_label.setWordWrap(True)
        warning_layout.addWidget(self.warning_label)
        self.outcome_card.add(self.warning_frame)
        self.reasons_label = self._section(self.outcome_card, "Why")
        self.steps_label = self._section(self.outcome_card, "What to do next")
        self.decided_label = QLabel()
        self.decided_label.setObjectName("muted")
        self.decided_label.setWordWrap(True)
        self.outcome_card.add(self.decided_label)
        column.addWidget(self.outcome_card)

    @staticmethod
    def _section(card: Card, heading: str) -> QLabel:
        title = QLabel(heading)
        title.setObjectName("guideSection")
        card.add(title)
        label = QLabel()
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        card.add(label)
        return label

    def _build_lists_card(self) -> None:
        self.lists_card = Card("When fine-tuning pays off, and when you may not need it", "")
        self.lists_toggle = QToolButton()
        self.lists_toggle.setCheckable(True)
        self.lists_toggle.setText("Show the two lists")
        self.lists_toggle.toggled.connect(self._on_lists_toggled)
        self.lists_card.add(self.lists_toggle)
        self.lists_body = QWidget()
        row = QHBoxLayout(self.lists_body)
        row.setContentsMargins(0, 4, 0, 0)
        row.setSpacing(18)
        guide = self.guide
        self.fine_tune_when_label = self._list_label(
            "Fine-tune when…", guide.fine_tune_when if guide else ()
        )
        self.not_necessary_label = self._list_label(
            "You may not need to when…", guide.not_necessary_when if guide else ()
        )
        row.addWidget(self.fine_tune_when_label, 1)
        row.addWidget(self.not_necessary_label, 1)
        self.lists_body.setVisible(False)
        self.lists_card.add(self.lists_body)
        self.body.addWidget(self.lists_card)

    @staticmethod
    def _list_label(heading: str, items: tuple[Consideration, ...]) -> QLabel:
        rows = [f"<b>{html.escape(i.title)}.</b> {html.escape(i.text)}" for i in items]
        label = QLabel(f"<b>{html.escape(heading)}</b>{bullet_list(rows)}")
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignTop)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    # ---- Public API
    def set_project(self, project: Project | None) -> None:
        """Show ``project``: its saved recommendation, if any, and its dataset check."""
        self.reader.cancel()
        self.project = project
        self.stats = None
        self._data_key = None
        self._data_status = ""
        self._decided_here = False
        self._saved_note = ""
        self.saved = None
        if self.guide is not None:
            self.session = GuideSession(self.guide)
            if project is not None:
                self._restore(project)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the project's training dataset if it changed, and redraw."""
        if self.project is not None and self.guide is not None:
            self._read_data()
        self._show()

    def answer(self, answer_id: str) -> None:
        """Answer the current question (as clicking its button does)."""
        if self.session is None:
            return
        self.session.answer(answer_id)
        self._after_move()

    def go_back(self) -> None:
        """Back to the previous question."""
        if self.session is not None and self.session.back():
            self._show()

    def go_forward(self) -> None:
        """Forward to the answer given before."""
        if self.session is not None and self.session.forward():
            self._after_move()

    def start_over(self) -> None:
        """Forget the answers and show the first question."""
        if self.session is not None:
            self.session.restart()
            self._show()

    def shutdown(self) -> None:
        """Stop reading the dataset (call before the page goes away)."""
        self.reader.shutdown()

    # ---- Qt events
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """Check the dataset again when it changed while another page was shown."""
        super().showEvent(event)
        if self.project is not None and self.guide is not None and not self.reader.is_running():
            self._read_data()

    # ---- Saving and restoring
    def _restore(self, project: Project) -> None:
        assert self.guide is not None
        saved = SavedDecision.from_json(project.manifest.get(SAVED_KEY))
        self.saved = saved
        if saved is None:
            return
        try:
            session = GuideSession.replay(self.guide, saved.path)
        except GuideSessionError:
            session = None
        if session is None or session.outcome is None or session.outcome.kind != saved.outcome:
            title = self._outcome_title(saved.outcome)
            self._saved_note = (
                f"The recommendation saved in this project ({title}, {_date(saved.decided)}) "
                "came from questions that have changed since. Answer them again."
            )
            return
        self.session = session

    def _after_move(self) -> None:
        """After an answer or Forward: save the recommendation when one is reached."""
        if self.session is not None and self.session.result is not None:
            self._decided_here = True
            self._save(self.session.result)
        self._show()

    def _save(self, result: GuideResult) -> None:
        if self.project is None:
            return
        value = result.to_json()
        try:
            self.project.set(SAVED_KEY, value)
        except OSError as error:
            self._saved_note = (
                f"The recommendation could not be saved in {self.project.manifest_path}: "
                f"{error.strerror or error}. Check that the folder is writable."
            )
            return
        self.saved = SavedDecision.from_json(value)
        self._saved_note = ""

    # ---- Reading the dataset
    def _read_data(self) -> None:
        """Count the usable examples of ``datasets.train`` unless already done for this file."""
        assert self.project is not None
        path = self.project.dataset_path("train")
        if path is None:
            self._set_usable(
                0, "This project has no training dataset yet. Add one on the Dataset page."
            )
            self._data_key = None
            return
        try:
            info = path.stat()
        except OSError:
            self._set_usable(0, f"The training dataset {path.name} is missing.")
            self._data_key = None
            return
        key = (str(path), info.st_mtime_ns, info.st_size)
        if key == self._data_key:
            return
        self._data_key = key
        self._data_status = f"Reading {html.escape(path.name)}…"
        self._show_data()
        self.reader.start(
            lambda task: _read_stats(path, task),
            f"Reading {path.name}",
            # Parquet/Arrow need `datasets`, seconds to import: never in the GUI thread.
            inline=info.st_size <= self.inline_read_bytes and not _tabular(path),
        )

    def _set_usable(self, usable: int | None, status: str) -> None:
        self.stats = None
        self._data_status = status
        if self.session is not None:
            self.session.set_usable_examples(usable)
        self._show()

    @Slot(object)
    def _on_reader_finished(self, stats: object) -> None:
        assert isinstance(stats, DatasetStats)
        self.stats = stats
        self._data_status = ""
        if self.session is not None:
            self.session.set_usable_examples(stats.usable)
            # A recommendation made before the count arrived is saved again with it.
            if self._decided_here and self.session.result is not None:
                self._save(self.session.result)
        self._show()

    @Slot(str)
    def _on_reader_failed(self, message: str) -> None:
        self._data_key = None
        self._set_usable(None, html.escape(message))

    # ---- Showing
    def _show(self) -> None:
        session = self.session
        has_guide = session is not None
        self.error_card.setVisible(not has_guide)
        if not has_guide:
            self.error_card.set_text(html.escape(self.guide_error).replace("\n", "<br>"))
        at_question = has_guide and session.current is not None
        self.question_card.setVisible(at_question)
        self.outcome_card.setVisible(has_guide and not at_question)
        self.back_button.setEnabled(has_guide and session.can_back())
        self.forward_button.setEnabled(has_guide and session.can_forward())
        self.restart_button.setEnabled(has_guide and bool(session.history))
        if session is not None:
            if session.current is not None:
                self._show_question(session.current)
            elif session.result is not None:
                self._show_outcome(session.result)
        self._show_path()
        self._show_data()

    def _show_question(self, question: Question) -> None:
        assert self.session is not None
        number = self.session.position + 1
        self.question_card.title_label.setText(f"Question {number} · {question.title}")
        self.question_label.setText(question.text)
        self.help_label.setText(question.help)
        self.help_label.setVisible(bool(question.help))
        if self._buttons_for != question.id:
            for button in self.answer_buttons:
                self.answers_layout.removeWidget(button)
                button.hide()  # deleteLater waits for the event loop; hide it now
                button.deleteLater()
            self.answer_buttons = []
            for answer in question.answers:
                button = AnswerButton(answer.id, answer.label)
                button.clicked.connect(self._on_answer_clicked)
                self.answers_layout.addWidget(button)
                button.show()  # now, not when the event loop next runs
                self.answer_buttons.append(button)
            self._buttons_for = question.id
        chosen = self.session.chosen
        for button in self.answer_buttons:
            button.set_remembered(button.answer_id == chosen)
        note = self._saved_note
        if not note and self.saved is not None:
            note = (
                f"Saved in this project: {html.escape(self._outcome_title(self.saved.outcome))} "
                f"({_date(self.saved.decided)}). It stays saved until you reach a new "
                "recommendation."
            )
        self.saved_label.setText(note)
        self.saved_label.setVisible(bool(note))

    def _show_outcome(self, result: GuideResult) -> None:
        outcome = result.outcome
        self.outcome_card.title_label.setText("Recommendation")
        self.outcome_title.setText(outcome.title)
        self.outcome_summary.setText(outcome.summary)
        self.warning_frame.setVisible(result.data_insufficient)
        readiness = result.readiness
        if result.data_insufficient and readiness is not None:
            self.warning_label.setText(
                f"<b>{html.escape(readiness.headline)}.</b> Size band: "
                f"<b>{html.escape(readiness.band_label)}</b>. {html.escape(readiness.advice)}"
            )
        reasons = [html.escape(reason) for reason in result.reasons]
        if result.data_insufficient:
            reasons = reasons[:-1]  # said in the warning above
        self.reasons_label.setText(bullet_list(reasons))
        self.steps_label.setText(bullet_list([html.escape(s) for s in outcome.next_steps]))
        if self._saved_note:
            decided = self._saved_note
        elif self.saved is not None and self.saved.outcome == outcome.kind:
            decided = f"Saved in the project ({_date(self.saved.decided)})."
        else:
            decided = ""
        self.decided_label.setText(decided)
        self.decided_label.setVisible(bool(decided))

    def _show_path(self) -> None:
        session = self.session
        if session is None or not session.path:
            self.path_card.set_text(
                "<span style='color:palette(placeholder-text)'>None yet. Your answers appear "
                "here; click one to change it.</span>"
            )
            return
        rows = []
        for index, step in enumerate(session.path):
            question = session.guide.question(step.question_id)
            answer = question.answer(step.answer_id)
            rows.append(
                f"<a href='{index}'>{html.escape(question.title)}</a>: {html.escape(answer.label)}"
            )
        items = "".join(f"<li style='margin-bottom:4px'>{row}</li>" for row in rows)
        text = f"<ol style='margin-left:-20px'>{items}</ol>"
        outcome = session.outcome
        if outcome is not None:
            text += f"Recommendation: <b>{html.escape(outcome.title)}</b>"
        self.path_card.set_text(text)

    def _show_data(self) -> None:
        if self.project is None:
            self.data_card.set_text("No project is open.")
            return
        if self._data_status and self.stats is None:
            readiness = self.session.readiness if self.session is not None else None
            extra = ""
            if readiness is not None:
                extra = (
                    f"<br>Size band: <b>{html.escape(readiness.band_label)}</b>. "
                    f"{html.escape(readiness.advice)}"
                )
            self.data_card.set_text(self._data_status + extra)
            return
        stats = self.stats
        readiness = self.session.readiness if self.session is not None else None
        if stats is None or readiness is None:
            self.data_card.set_text("Not read yet.")
            return
        path = self.project.dataset_path("train")
        name = html.escape(path.name) if path is not None else "the training file"
        left_out = stats.records - stats.usable
        detail = (
            f"<br>{left_out:,} of {stats.records:,} examples left out: unreadable, with "
            "errors, or rejected."
            if left_out
            else ""
        )
        self.data_card.set_text(
            f"<b>{html.escape(readiness.headline)}</b><br>Size band: "
            f"<b>{html.escape(readiness.band_label)}</b> · {name}<br>"
            f"{html.escape(readiness.band.verdict)}{detail}"
        )

    def _outcome_title(self, kind: str) -> str:
        if self.guide is not None and self.guide.has_outcome(kind):
            return self.guide.outcome(kind).title
        return kind

    # ---- Slots
    @Slot()
    def _on_answer_clicked(self) -> None:
        button = self.sender()
        if isinstance(button, AnswerButton):
            self.answer(button.answer_id)

    @Slot(str)
    def _on_path_link(self, link: str) -> None:
        if self.session is not None:
            self.session.go_to(int(link))
            self._show()

    @Slot(bool)
    def _on_lists_toggled(self, shown: bool) -> None:
        self.lists_body.setVisible(shown)
        self.lists_toggle.setText("Hide the two lists" if shown else "Show the two lists")


def _read_stats(path: Path, task: TaskContext) -> DatasetStats:
    """Load, validate and measure the training file (runs in the reader's thread)."""
    if _tabular(path):
        from ftstudio.engine.tabular import load_any  # heavy: only for these files

        dataset = load_any(path, cancel=task.cancelled)
    else:
        task.phase("Reading", 0.0, 0.6)
        dataset = load_dataset(path, progress=task.progress, cancel=task.cancelled)
    task.phase("Checking", 0.6, 1.0)
    issues = validate_dataset(dataset, progress=task.progress, cancel=task.cancelled)
    return compute_stats(dataset, issues=issues)


def _tabular(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".arrow")


def _date(iso: str) -> str:
    """'29 Nov 2026' for an ISO time; the text itself when it is not one."""
    try:
        moment = datetime.fromisoformat(iso)
        return f"{moment.day} {moment:%b %Y}"
    except ValueError:
        return iso or "date unknown"
