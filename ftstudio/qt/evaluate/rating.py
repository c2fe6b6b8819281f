"""Rating answers: the expert's verdict becomes a preference pair in the project.

:class:`RatingBar` sits under two (or three) answers to the same prompt. "Base is
better" saves the base answer as ``chosen`` and the tuned one as ``rejected``; "Edit…"
lets the expert correct an answer, which is saved as ``chosen`` with the original as
``rejected``. Pairs are appended to the project's preference dataset
(``core.dataset.preference``), which the Dataset page opens and validates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.dataset.preference import (
    append_preference,
    preference_record,
    preferences_path,
)
from ftstudio.core.project import Project
from ftstudio.qt.style import error_style

REVEAL_LINK = "reveal"


@dataclass(frozen=True)
class Candidate:
    """One answer that can be rated.

    Attributes:
        key: ``"base"``, ``"tuned"`` or ``"reference"``.
        label: how the dialog names it (``"Tuned answer"``).
        text: the answer.
        prompt: the conversation it answers (messages ending with the user's turn).
    """

    key: str
    label: str
    text: str
    prompt: tuple[dict[str, str], ...]


@dataclass(frozen=True)
class Verdict:
    """A rating button: its text and which candidate is ``chosen`` over which."""

    text: str
    chosen: str
    rejected: str
    tooltip: str = ""


PLAYGROUND_VERDICTS = (
    Verdict(
        "Base is better",
        "base",
        "tuned",
        "Save the base answer as chosen, the tuned one as rejected",
    ),
    Verdict(
        "Tuned is better",
        "tuned",
        "base",
        "Save the tuned answer as chosen, the base one as rejected",
    ),
)
"""The playground's buttons."""

EVALUATION_VERDICTS = (
    *PLAYGROUND_VERDICTS,
    Verdict(
        "Reference is better",
        "reference",
        "tuned",
        "Save the reference answer as chosen, the tuned one as rejected",
    ),
)
"""The evaluation detail pane's buttons (the reference answer can win too)."""


class RatingBar(QWidget):
    """Verdict buttons, "Edit…", and the line saying where the pair was saved.

    Signals:
        sig_saved(object, int): a pair was appended to this file (``Path``) at this
            1-based line.
        sig_reveal_requested(object, int): the user clicked "open it on the Dataset
            page" after saving (file, line).

    Attributes:
        buttons: the verdict buttons, in order.
        last_saved: the file and line of the last pair saved, if any.
        dialog: the open "Edit…" dialog, if any.
    """

    sig_saved = Signal(object, int)
    sig_reveal_requested = Signal(object, int)

    def __init__(self, verdicts: Sequence[Verdict], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.candidates: dict[str, Candidate] = {}
        self.source = ""
        self.last_saved: tuple[Path, int] | None = None
        self.dialog: EditAnswerDialog | None = None
        self._verdicts = tuple(verdicts)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Which answer is better?")
        title.setToolTip(
            "Your verdict is saved as a preference pair (prompt, chosen, rejected) in the "
            "project's preference dataset, for DPO training"
        )
        row.addWidget(title)
        self.buttons: list[QPushButton] = []
        for verdict in self._verdicts:
            button = QPushButton(verdict.text)
            button.setToolTip(verdict.tooltip)
            button.clicked.connect(
                lambda _checked=False, v=verdict: self.rate(v.chosen, v.rejected)
            )
            row.addWidget(button)
            self.buttons.append(button)
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setToolTip(
            "Correct an answer: your text is saved as chosen, the original answer as rejected"
        )
        self.edit_button.clicked.connect(self.edit)
        row.addWidget(self.edit_button)
        self.status_label = QLabel("")
        self.status_label.setObjectName("ratingStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        self.status_label.linkActivated.connect(self._on_link)
        row.addWidget(self.status_label, 1)
        self._update_buttons()

    # ---- Public API
    def set_project(self, project: Project | None) -> None:
        """Save pairs into ``project``'s preference dataset."""
        self.project = project
        self._update_buttons()

    def set_candidates(self, candidates: Sequence[Candidate], source: str = "") -> None:
        """The answers to rate now (none: the buttons are disabled)."""
        self.candidates = {candidate.key: candidate for candidate in candidates}
        self.source = source
        self._update_buttons()

    def clear_status(self) -> None:
        """Forget the last message."""
        self.status_label.setText("")

    def rate(self, chosen: str, rejected: str) -> int | None:
        """Save candidate ``chosen`` over ``rejected``; the new line, or ``None`` (explained)."""
        if chosen not in self.candidates or rejected not in self.candidates:
            self._error("There is no answer to rate yet.")
            return None
        better, worse = self.candidates[chosen], self.candidates[rejected]
        return self.save_pair(better.prompt, better.text, worse.text)

    def save_pair(self, prompt: Sequence[dict[str, str]], chosen: str, rejected: str) -> int | None:
        """Append one preference pair; the new line, or ``None`` with the reason shown."""
        if self.project is None:
            self._error("Open a project first.")
            return None
        if chosen.strip() == rejected.strip():
            self._error(
                "Both answers are the same, so there is nothing to prefer. Use Edit… to "
                "write a better answer."
            )
            return None
        try:
            record = preference_record(list(prompt), chosen, rejected, source=self.source)
            path = preferences_path(self.project)
            line = append_preference(path, record)
        except (ValueError, OSError) as error:
            self._error(f"Not saved: {error}")
            return None
        self.last_saved = (path, line)
        where = _relative(path, self.project.folder)
        self.status_label.setStyleSheet("")
        self.status_label.setText(
            f"Saved as line {line} of {escape(where)} — "
            f"<a href='{REVEAL_LINK}'>open it on the Dataset page</a>"
        )
        self.status_label.setToolTip(str(path))
        self.sig_saved.emit(path, line)
        return line

    def edit(self) -> EditAnswerDialog | None:
        """Open the dialog to correct an answer (not blocking); it saves when accepted."""
        if not self.candidates:
            self._error("There is no answer to edit yet.")
            return None
        dialog = EditAnswerDialog(list(self.candidates.values()), self)
        dialog.accepted.connect(self._on_dialog_accepted)
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog

    # ---- Slots
    @Slot()
    def _on_dialog_accepted(self) -> None:
        dialog = self.dialog
        self.dialog = None
        if dialog is None:
            return
        start = dialog.start_candidate()
        rejected = dialog.rejected_candidate()
        self.save_pair(start.prompt, dialog.chosen_text(), rejected.text)

    @Slot(str)
    def _on_link(self, _link: str) -> None:
        if self.last_saved is not None:
            self.sig_reveal_requested.emit(*self.last_saved)

    # ---- Internals
    def _error(self, text: str) -> None:
        self.status_label.setStyleSheet(error_style())
        self.status_label.setText(escape(text))
        self.status_label.setToolTip(text)

    def _update_buttons(self) -> None:
        enabled = self.project is not None and bool(self.candidates)
        for verdict, button in zip(self._verdicts, self.buttons, strict=True):
            both = verdict.chosen in self.candidates and verdict.rejected in self.candidates
            button.setEnabled(enabled and both)
        self.edit_button.setEnabled(enabled)


class EditAnswerDialog(QDialog):
    """Correct an answer: the edited text becomes ``chosen``, an original answer ``rejected``.

    Attributes:
        start_combo: which answer the text starts from.
        text_edit: the answer being written.
        rejected_combo: which original answer is saved as ``rejected``.
    """

    def __init__(self, candidates: Sequence[Candidate], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Write a better answer")
        self.setObjectName("editAnswerDialog")
        self.resize(640, 460)
        self.candidates = list(candidates)
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Correct the answer below. Your text is saved as the chosen answer and the "
            "original one as the rejected answer, so DPO training learns the difference."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.start_combo = QComboBox()
        self.rejected_combo = QComboBox()
        models = [c for c in self.candidates if c.key != "reference"]
        for candidate in self.candidates:
            self.start_combo.addItem(candidate.label, candidate.key)
        for candidate in models or self.candidates:
            self.rejected_combo.addItem(candidate.label, candidate.key)
        form.addRow("Start from:", self.start_combo)
        layout.addLayout(form)
        self.text_edit = QPlainTextEdit()
        self.text_edit.setObjectName("editedAnswer")
        layout.addWidget(self.text_edit, 1)
        rejected_form = QFormLayout()
        rejected_form.addRow("Rejected answer:", self.rejected_combo)
        layout.addLayout(rejected_form)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.start_combo.currentIndexChanged.connect(self._on_start_changed)
        tuned = self.start_combo.findData("tuned")
        self.start_combo.setCurrentIndex(max(0, tuned))
        self._on_start_changed()

    def start_candidate(self) -> Candidate:
        """The answer the text started from (its prompt is the pair's prompt)."""
        return self.candidates[max(0, self.start_combo.currentIndex())]

    def rejected_candidate(self) -> Candidate:
        """The original answer saved as ``rejected``."""
        key = self.rejected_combo.currentData()
        return next(c for c in self.candidates if c.key == key)

    def chosen_text(self) -> str:
        """The edited answer."""
        return self.text_edit.toPlainText()

    def set_chosen_text(self, text: str) -> None:
        """Replace the edited answer."""
        self.text_edit.setPlainText(text)

    @Slot()
    def _on_start_changed(self, _index: int = -1) -> None:
        candidate = self.start_candidate()
        self.text_edit.setPlainText(candidate.text)
        if candidate.key != "reference":
            index = self.rejected_combo.findData(candidate.key)
            if index >= 0:
                self.rejected_combo.setCurrentIndex(index)


def _relative(path: Path, folder: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(folder).resolve()).as_posix()
    except ValueError:
        return str(path)
