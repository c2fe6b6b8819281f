"""Set the system prompt of many examples at once, as one undoable edit."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout

if TYPE_CHECKING:  # the document module is only needed for type hints
    from PySide6.QtWidgets import QWidget

    from ftstudio.qt.dataset.document import DatasetDocument


def _conversation_key(data: Any) -> str | None:
    """The key of the list that holds the system prompt: chat ``messages`` or a list ``prompt``."""
    if not isinstance(data, dict):
        return None
    for key in ("messages", "prompt"):
        if isinstance(data.get(key), list):
            return key
    return None


def _system_turn(messages: list[Any]) -> int:
    """Index of the first system message, or -1."""
    for turn, message in enumerate(messages):
        if isinstance(message, dict) and message.get("role") == "system":
            return turn
    return -1


def with_system_prompt(data: Any, text: str) -> Any | None:
    """A copy of ``data`` whose system prompt is ``text``, or ``None`` if nothing changes.

    The first system message gets ``text`` as content (its other keys kept); a
    conversation without one gets a new system message first. Empty ``text`` removes the
    first system message. Records that are not conversations are left alone (``None``).
    """
    key = _conversation_key(data)
    if key is None:
        return None
    messages = data[key]
    turn = _system_turn(messages)
    if not text:
        if turn < 0:
            return None
        changed = copy.deepcopy(data)
        del changed[key][turn]
        return changed
    if turn >= 0 and messages[turn].get("content") == text:
        return None
    changed = copy.deepcopy(data)
    if turn >= 0:
        changed[key][turn]["content"] = text
    else:
        changed[key].insert(0, {"role": "system", "content": text})
    return changed


def set_system_prompt(doc: DatasetDocument, indices: Iterable[int], text: str) -> int:
    """Give every conversation among ``indices`` the system prompt ``text``, as one undo step.

    Chat records and preference records with a prompt list are changed; unparseable,
    completion and other records are skipped, as are those that already have ``text``.
    Empty ``text`` removes the system prompt. Returns how many records changed (no undo
    step is recorded when none did).
    """
    records = doc.dataset.records
    changes: dict[int, Any] = {}
    for index in sorted(set(indices)):
        if not 0 <= index < len(records) or not records[index].is_parsed:
            continue
        changed = with_system_prompt(records[index].data, text)
        if changed is not None:
            changes[index] = changed
    if changes:
        noun = "example" if len(changes) == 1 else "examples"
        action = "Remove the system prompt of" if not text else "Set the system prompt of"
        doc.replace_many(changes, f"{action} {len(changes)} {noun}")
    return len(changes)


def common_system_prompt(doc: DatasetDocument, indices: Iterable[int]) -> str:
    """The most frequent system prompt among ``indices`` (``""`` when none has one)."""
    counts: Counter[str] = Counter()
    records = doc.dataset.records
    for index in indices:
        data = records[index].data if 0 <= index < len(records) else None
        key = _conversation_key(data)
        if key is None:
            continue
        turn = _system_turn(data[key])
        content = data[key][turn].get("content") if turn >= 0 else None
        if isinstance(content, str):
            counts[content] += 1
    return counts.most_common(1)[0][0] if counts else ""


class SystemPromptDialog(QDialog):
    """Asks for the system prompt to give the selected examples.

    Use :meth:`text` after ``exec()`` returns ``Accepted`` and pass it to
    :func:`set_system_prompt`.
    """

    def __init__(self, count: int, initial: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set system prompt")
        layout = QVBoxLayout(self)
        noun = "example" if count == 1 else "examples"
        intro = QLabel(
            f"The system prompt for the {count} selected {noun}. Examples that have one get "
            "it replaced; the others get a new first turn. Leave it empty to remove the "
            "system prompt. You can undo this in one step."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.text_edit = QPlainTextEdit(initial)
        self.text_edit.setObjectName("systemPromptText")
        self.text_edit.setPlaceholderText("You are…")
        layout.addWidget(self.text_edit)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Set system prompt")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(560, 300)

    def text(self) -> str:
        """The prompt as typed, without surrounding blank space."""
        return self.text_edit.toPlainText().strip()
