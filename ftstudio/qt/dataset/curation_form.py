"""Curation fields of one example: tags, review state, note and (read-only) source."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QWidget

from ftstudio.core.dataset.records import REVIEW_STATES
from ftstudio.qt.dataset.text_fields import GrowingTextEdit, UndoLineEdit
from ftstudio.qt.dataset.widget_sync import set_current_index, set_text

REVIEW_LABELS = {
    "draft": "Draft: not reviewed yet",
    "approved": "Approved",
    "rejected": "Rejected: kept in the file, not trained on",
}


def parse_tags(text: str) -> list[str]:
    """``"billing, vpn ,, billing"`` → ``["billing", "vpn"]`` (trimmed, no blanks or repeats)."""
    tags: list[str] = []
    for part in text.split(","):
        tag = part.strip()
        if tag and tag not in tags:
            tags.append(tag)
    return tags


class CurationForm(QWidget):
    """Edits ``tags``, ``review`` and ``note`` of a record and shows its ``source``.

    A field set back to its default (no tags, draft, empty note) is removed from the
    record rather than written empty, so files that never had it stay as they were.

    Signals:
        sig_field_edited(str key, object value, str description, bool typing): the user
            changed ``key``; ``value`` ``None`` removes the key; ``typing`` asks for the
            edit to merge with the previous one of the same field.
    """

    sig_field_edited = Signal(str, object, str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tags: list[str] = []
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.tags_edit = UndoLineEdit()
        self.tags_edit.setObjectName("curationTags")
        self.tags_edit.setPlaceholderText("e.g. billing, vpn (separate with commas)")
        self.tags_edit.setToolTip("Tags group examples for filters, statistics and the split.")
        self.tags_edit.textEdited.connect(self._on_tags_edit_text_edited)
        layout.addRow("Tags:", self.tags_edit)
        self.review_combo = QComboBox()
        self.review_combo.setObjectName("curationReview")
        for state in REVIEW_STATES:
            self.review_combo.addItem(REVIEW_LABELS[state], state)
        self.review_combo.currentIndexChanged.connect(self._on_review_combo_changed)
        layout.addRow("Review:", self.review_combo)
        self.note_edit = GrowingTextEdit(min_lines=1, max_lines=6)
        self.note_edit.setObjectName("curationNote")
        self.note_edit.setPlaceholderText("A note for yourself or other curators")
        self.note_edit.textChanged.connect(self._on_note_edit_text_changed)
        layout.addRow("Note:", self.note_edit)
        self.source_label = QLabel()
        self.source_label.setObjectName("curationSource")
        self.source_label.setWordWrap(True)
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addRow("Source:", self.source_label)

    def set_undo_stack(self, stack: QUndoStack | None) -> None:
        """Let the text fields undo through ``stack``."""
        self.tags_edit.undo_stack = stack
        self.note_edit.undo_stack = stack

    def set_record_data(self, data: Any) -> None:
        """Show the curation fields of ``data`` without emitting signals."""
        data = data if isinstance(data, dict) else {}
        tags = data.get("tags")
        tags = [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
        if tags != self._tags:
            # Only rewrite the line when the tags differ: "a, b," while typing is ["a", "b"].
            self._tags = tags
            self.tags_edit.set_text_keeping_cursor(", ".join(tags))
        review = data.get("review")
        review = review if review in REVIEW_STATES else "draft"
        set_current_index(self.review_combo, self.review_combo.findData(review))
        note = data.get("note")
        self.note_edit.set_text_keeping_cursor(note if isinstance(note, str) else "")
        source = data.get("source")
        set_text(self.source_label, source if isinstance(source, str) and source else "—")

    def _on_tags_edit_text_edited(self, text: str) -> None:
        self._tags = parse_tags(text)
        self.sig_field_edited.emit("tags", self._tags or None, "Edit tags", True)

    def _on_review_combo_changed(self, _index: int) -> None:
        state = self.review_combo.currentData()
        label = {"draft": "Mark as draft", "approved": "Approve", "rejected": "Reject"}[state]
        self.sig_field_edited.emit("review", None if state == "draft" else state, label, False)

    def _on_note_edit_text_changed(self) -> None:
        text = self.note_edit.toPlainText()
        self.sig_field_edited.emit("note", text or None, "Edit note", True)
