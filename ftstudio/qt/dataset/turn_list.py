"""A list of messages (a conversation, a preference prompt, a chosen answer) as turn cards.

The list never changes the messages it shows: every user action builds a new list
(a deep copy with one change, unknown keys kept) and reports it with
:attr:`TurnList.sig_list_edited`; the editor writes it to the document, which calls
:meth:`TurnList.set_messages` back.
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from ftstudio.qt.dataset.turn_widget import ROLE_LABELS, TurnCard


def next_role(role: Any) -> str:
    """The role a new turn below a ``role`` turn most likely has (user and assistant alternate)."""
    return "assistant" if role == "user" else "user"


class TurnList(QWidget):
    """Cards for the messages under one top-level key of a record.

    Args:
        key: the record key holding the list (``messages``, ``prompt``, ``chosen``…);
            field paths are ``{key}[i].content``.
        noun: how one turn is called in titles and undo descriptions.
        allow_train: show "Train on this answer" on assistant turns (chat only).
        title: an optional heading above the cards.

    Signals:
        sig_list_edited(str key, object messages, str description, str merge_field,
            int focus_turn): the user changed the list under ``key``; ``merge_field`` is
            the field path for typing (merged into one undo step) or ``""``;
            ``focus_turn`` is the turn to focus after a structural change, ``-1`` to
            leave the focus alone.
        sig_turn_focused(str key, int turn): a field of a turn got the keyboard focus.
    """

    sig_list_edited = Signal(str, object, str, str, int)
    sig_turn_focused = Signal(str, int)

    def __init__(
        self,
        key: str,
        noun: str = "Turn",
        *,
        allow_train: bool = False,
        title: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.key = key
        self.noun = noun
        self.allow_train = allow_train
        self.undo_stack: QUndoStack | None = None
        self.cards: list[TurnCard] = []
        self._messages: list[Any] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(8)
        if title:
            heading = QLabel(title)
            heading.setObjectName("sectionTitle")
            self._layout.addWidget(heading)
        self._cards_layout = QVBoxLayout()
        self._cards_layout.setSpacing(8)
        self._layout.addLayout(self._cards_layout)
        self.add_button = QPushButton(f"+ Add {noun.lower()}")
        self.add_button.setObjectName(f"add-{key}")
        self.add_button.setToolTip(f"Add a {noun.lower()} at the end")
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self._layout.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignLeft)

    # ---- Public API
    def set_messages(self, messages: list[Any]) -> None:
        """Show ``messages`` (not copied, never changed), reusing the existing cards."""
        self._messages = messages
        while len(self.cards) > len(messages):
            card = self.cards.pop()
            card.hide()
            card.deleteLater()
        while len(self.cards) < len(messages):
            self._add_card()
        for turn, (card, message) in enumerate(zip(self.cards, messages, strict=True)):
            card.set_message(message, turn, len(messages), self.allow_train)

    def messages(self) -> list[Any]:
        """The list as last shown."""
        return self._messages

    def set_issues(self, by_turn: dict[int, list[str]]) -> None:
        """Show each turn's validation problems (turn index → messages)."""
        for turn, card in enumerate(self.cards):
            card.set_issues(by_turn.get(turn, []))

    def card(self, turn: int) -> TurnCard | None:
        """The card of ``turn``, if it exists."""
        return self.cards[turn] if 0 <= turn < len(self.cards) else None

    def set_undo_stack(self, stack: QUndoStack | None) -> None:
        """Let the cards' text fields undo through ``stack``."""
        self.undo_stack = stack
        for card in self.cards:
            card.content_edit.undo_stack = stack

    # ---- Private
    def _add_card(self) -> TurnCard:
        card = TurnCard(self.noun)
        card.content_edit.undo_stack = self.undo_stack
        card.sig_content_edited.connect(self._on_card_content_edited)
        card.sig_role_changed.connect(self._on_card_role_changed)
        card.sig_train_toggled.connect(self._on_card_train_toggled)
        card.sig_action_requested.connect(self._on_card_action_requested)
        card.sig_focused.connect(self._on_card_focused)
        self._cards_layout.addWidget(card)
        card.show()  # at once, not queued: the editor may focus it right away
        self.cards.append(card)
        return card

    def _copy(self) -> list[Any]:
        return copy.deepcopy(self._messages)

    def _label(self, turn: int) -> str:
        return f"{self.noun.lower()} {turn + 1}"

    def _emit(self, messages: list[Any], description: str, merge: str = "", focus: int = -1):
        self.sig_list_edited.emit(self.key, messages, description, merge, focus)

    def _on_card_content_edited(self, turn: int, text: str) -> None:
        messages = self._copy()
        if not isinstance(messages[turn], dict):
            return
        messages[turn]["content"] = text
        self._emit(messages, f"Edit {self._label(turn)}", f"{self.key}[{turn}].content")

    def _on_card_role_changed(self, turn: int, role: str) -> None:
        messages = self._copy()
        if not isinstance(messages[turn], dict) or messages[turn].get("role") == role:
            return
        messages[turn]["role"] = role
        self._emit(messages, f"Make {self._label(turn)} {ROLE_LABELS.get(role, role).lower()}")

    def _on_card_train_toggled(self, turn: int, on: bool) -> None:
        messages = self._copy()
        message = messages[turn]
        if not isinstance(message, dict):
            return
        if on:
            # Absent means trained (OpenAI's default); dropping the key restores files
            # that never had one.
            message.pop("weight", None)
            description = f"Train on {self._label(turn)}"
        else:
            message["weight"] = 0
            description = f"Do not train on {self._label(turn)}"
        self._emit(messages, description)

    def _on_card_action_requested(self, turn: int, action: str) -> None:
        messages = self._copy()
        if action == "add":
            role = messages[turn].get("role") if isinstance(messages[turn], dict) else None
            messages.insert(turn + 1, {"role": next_role(role), "content": ""})
            self._emit(messages, f"Add a {self.noun.lower()}", focus=turn + 1)
        elif action == "duplicate":
            messages.insert(turn + 1, copy.deepcopy(messages[turn]))
            self._emit(messages, f"Duplicate {self._label(turn)}", focus=turn + 1)
        elif action == "remove":
            del messages[turn]
            focus = min(turn, len(messages) - 1)
            self._emit(messages, f"Remove {self._label(turn)}", focus=focus)
        elif action == "up" and turn > 0:
            messages[turn - 1], messages[turn] = messages[turn], messages[turn - 1]
            self._emit(messages, f"Move {self._label(turn)} up", focus=turn - 1)
        elif action == "down" and turn < len(messages) - 1:
            messages[turn + 1], messages[turn] = messages[turn], messages[turn + 1]
            self._emit(messages, f"Move {self._label(turn)} down", focus=turn + 1)

    def _on_add_button_clicked(self) -> None:
        messages = self._copy()
        last = messages[-1] if messages else None
        if self.key in ("chosen", "rejected"):
            role = "assistant"
        elif isinstance(last, dict):
            role = next_role(last.get("role"))
        else:
            role = "user"
        messages.append({"role": role, "content": ""})
        self._emit(messages, f"Add a {self.noun.lower()}", focus=len(messages) - 1)

    def _on_card_focused(self, turn: int) -> None:
        self.sig_turn_focused.emit(self.key, turn)
