"""The example editor: one record of the open dataset, turn by turn, with undo.

Every change goes through the :class:`~ftstudio.qt.dataset.document.DatasetDocument`
(``replace_record_data`` or ``set_raw_text``), so each is one undo step; typing in a
field merges into one step per field. The editor builds the new value from a deep copy
of the record and changes only the edited key, so unknown message keys and top-level
keys survive. When the document says the shown record changed (undo, redo, a quick
fix) the widgets are updated in place; fields whose text did not change keep their
cursor.

Shapes: chat records (``messages``) get one card per turn; completion records a
prompt and a completion field; preference records their prompt turns, chosen and
rejected answers; an unparseable line its raw text; any other parsed value its JSON.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.dataset.records import Issue, Record
from ftstudio.qt.dataset.curation_form import CurationForm
from ftstudio.qt.dataset.raw_editor import TextRecordEditor, json_problem, pretty_json
from ftstudio.qt.dataset.system_prompt import (
    SystemPromptDialog,
    common_system_prompt,
    set_system_prompt,
)
from ftstudio.qt.dataset.text_fields import GrowingTextEdit
from ftstudio.qt.dataset.turn_list import TurnList
from ftstudio.qt.dataset.widget_sync import set_text, set_visible

if TYPE_CHECKING:
    from ftstudio.qt.dataset.document import DatasetDocument

__all__ = [
    "ConversationEditor",
    "SystemPromptDialog",
    "common_system_prompt",
    "set_system_prompt",
]

EDITOR_STYLE = """
QFrame#turnCard {
    background: palette(base);
    border: 1px solid palette(mid);
    border-left: 4px solid #8a94a6;
    border-radius: 6px;
}
QFrame#turnCard[role="system"] { border-left-color: #8a6fbf; }
QFrame#turnCard[role="user"] { border-left-color: #3b82c4; }
QFrame#turnCard[role="assistant"] { border-left-color: #2e9d5b; }
QFrame#turnCard[role="other"] { border-left-color: #d04a3a; }
QFrame#turnCard[selected="true"] {
    border: 2px solid palette(highlight);
    border-left: 4px solid palette(highlight);
}
QLabel#turnTitle, QLabel#sectionTitle { font-weight: 600; }
QLabel#editorTitle { font-weight: 600; font-size: 12pt; }
/* The issue, warning and status colours are in studio.qss: one per theme. */
"""

_LIST_FIELD = re.compile(r"^(?P<key>\w+)\[(?P<turn>\d+)\](?:\.(?P<part>\w+))?")
_MISSING = object()


def _layout_signature(record: Record | None) -> tuple[Any, ...]:
    """Which widgets a record needs; the editor rebuilds only when this changes."""
    if record is None:
        return ("empty",)
    if not record.is_parsed:
        return ("raw",)
    data = record.data
    if not isinstance(data, dict):
        return ("json",)
    if isinstance(data.get("messages"), list):
        return ("chat",)
    if any(key in data for key in ("chosen", "rejected")):
        parts = tuple(isinstance(data.get(key), list) for key in ("prompt", "chosen", "rejected"))
        return ("preference", *parts)
    if all(isinstance(data.get(key, ""), str) for key in ("prompt", "completion")) and (
        "prompt" in data or "completion" in data
    ):
        return ("completion",)
    return ("json",)


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value, ensure_ascii=False)


def _single_line(text: str) -> str:
    """JSONL holds one example per line: valid JSON is compacted, other text joined."""
    if "\n" not in text and "\r" not in text:
        return text
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except json.JSONDecodeError:
        return " ".join(text.splitlines())


class ConversationEditor(QWidget):
    """Edits the shown record of a :class:`DatasetDocument`.

    Use :meth:`set_document`, then :meth:`show_record` when the table's current row
    changes and :meth:`show_field` to jump to a field named by an issue.

    Signals:
        sig_focus_requested(int index, str field): :meth:`show_field` moved to ``field`` of
            example ``index``; the page makes the editor visible (e.g. raises its tab).
    """

    sig_focus_requested = Signal(int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conversationEditor")
        self.setStyleSheet(EDITOR_STYLE)
        self.doc: DatasetDocument | None = None
        self.index: int | None = None
        self.lists: dict[str, TurnList] = {}
        """The turn lists of the shown record, by key (``messages``, ``prompt``…)."""
        self.fields: dict[str, QWidget] = {}
        """Editors of plain fields, by key (``prompt``, ``completion``, ``tags``…)."""
        self._signature: tuple[Any, ...] = ("empty",)
        self._shown: Any = _MISSING

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        self.title_label = QLabel()
        self.title_label.setObjectName("editorTitle")
        outer.addWidget(self.title_label)
        self.issues_label = QLabel()
        self.issues_label.setObjectName("editorIssues")
        self.issues_label.setWordWrap(True)
        self.issues_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.issues_label.hide()
        outer.addWidget(self.issues_label)
        self.stack = QStackedWidget()
        outer.addWidget(self.stack, 1)

        self.empty_label = QLabel("Select an example in the table to edit it here.")
        self.empty_label.setObjectName("emptyState")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.stack.addWidget(self.empty_label)

        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content = QWidget()
        content.setObjectName("editorContent")
        self._content_layout = QVBoxLayout(content)
        self._content_layout.setContentsMargins(2, 4, 8, 8)
        self._content_layout.setSpacing(12)
        self._body = QWidget()
        self._body_layout = QVBoxLayout(self._body)
        self._body_layout.setContentsMargins(0, 0, 0, 0)
        self._body_layout.setSpacing(10)
        self._content_layout.addWidget(self._body)
        curation_title = QLabel("Curation")
        curation_title.setObjectName("sectionTitle")
        self._content_layout.addWidget(curation_title)
        self.curation = CurationForm()
        self.curation.sig_field_edited.connect(self._on_curation_field_edited)
        self._content_layout.addWidget(self.curation)
        self._content_layout.addStretch(1)
        self.scroll.setWidget(content)
        self.stack.addWidget(self.scroll)

        self.raw_editor = TextRecordEditor("Apply fix")
        self.raw_editor.sig_apply_requested.connect(self._on_raw_editor_apply_requested)
        self.stack.addWidget(self.raw_editor)
        self._show_title()

    # ---- Public API
    def set_document(self, doc: DatasetDocument | None) -> None:
        """Edit records of ``doc`` (``None``: nothing); shows no record until asked."""
        if self.doc is not None:
            for signal, slot in self._connections():
                with contextlib.suppress(RuntimeError):  # the old document is already gone
                    signal.disconnect(slot)
        self.doc = doc
        if doc is not None:
            for signal, slot in self._connections():
                signal.connect(slot)
        stack = doc.undo_stack if doc is not None else None
        self.curation.set_undo_stack(stack)
        self.raw_editor.set_undo_stack(stack)
        self.show_record(None)

    def show_record(self, index: int | None) -> None:
        """Show record ``index`` of the document (``None`` or out of range: the empty state)."""
        if self.doc is None or index is None or not 0 <= index < len(self.doc.dataset.records):
            index = None
        changed = index != self.index
        self.index = index
        if changed:
            self._shown = _MISSING
            self._select_turn("", -1)
        self._refresh()
        if changed:
            self.scroll.verticalScrollBar().setValue(0)

    def show_field(self, index: int, field: str) -> None:
        """Show record ``index`` and put the keyboard focus on ``field``.

        ``field`` is an issue's path: ``messages[2].content`` focuses the content of the
        third turn and marks the turn selected, ``messages[2].role`` its role,
        ``tags``/``review``/``note`` the curation fields; an unknown or empty path focuses
        the first field.
        """
        self.show_record(index)
        if self.index is None:
            return
        target = self._widget_for_field(field)
        if target is not None:
            selected = self.selected_turn()
            if selected is not None:  # the whole turn in view, then its field's cursor
                self._scroll_to(self.lists[selected[0]].cards[selected[1]])
            self._scroll_to(target)
            target.setFocus(Qt.FocusReason.OtherFocusReason)
        self.sig_focus_requested.emit(index, field)

    def record(self) -> Record | None:
        """The shown record, or ``None``."""
        if self.doc is None or self.index is None:
            return None
        return self.doc.dataset.records[self.index]

    def selected_turn(self) -> tuple[str, int] | None:
        """(list key, turn) of the card marked selected, if any."""
        for key, turn_list in self.lists.items():
            for turn, card in enumerate(turn_list.cards):
                if card.is_selected():
                    return key, turn
        return None

    def ask_system_prompt(self, indices: list[int]) -> int:
        """Ask for a system prompt for ``indices`` and set it (one undo step); returns changes."""
        if self.doc is None or not indices:
            return 0
        dialog = SystemPromptDialog(len(indices), common_system_prompt(self.doc, indices), self)
        if dialog.exec() != SystemPromptDialog.DialogCode.Accepted:
            return 0
        return set_system_prompt(self.doc, indices, dialog.text())

    # ---- Document signals
    def _connections(self) -> list[tuple[Any, Any]]:
        doc = self.doc
        assert doc is not None
        return [
            (doc.sig_reset, self._on_doc_reset),
            (doc.sig_record_changed, self._on_doc_record_changed),
            (doc.sig_rows_inserted, self._on_doc_rows_inserted),
            (doc.sig_rows_removed, self._on_doc_rows_removed),
            (doc.sig_issues_changed, self._on_doc_issues_changed),
        ]

    def _on_doc_reset(self) -> None:
        self.show_record(None)

    def _on_doc_record_changed(self, index: int) -> None:
        if index == self.index:
            self._refresh()

    def _on_doc_rows_inserted(self, first: int, last: int) -> None:
        if self.index is not None and self.index >= first:
            self.index += last - first + 1
            self._show_title()

    def _on_doc_rows_removed(self, first: int, last: int) -> None:
        if self.index is None or self.index < first:
            return
        if self.index <= last:
            self.show_record(None)
        else:
            self.index -= last - first + 1
            self._show_title()

    def _on_doc_issues_changed(self) -> None:
        self._show_issues()

    # ---- Building and syncing the widgets
    def _refresh(self) -> None:
        record = self.record()
        signature = _layout_signature(record)
        if signature != self._signature:
            self._rebuild(signature)
        self._sync(record)
        self._show_title()
        self._show_issues()

    def _rebuild(self, signature: tuple[Any, ...]) -> None:
        self._signature = signature
        while self._body_layout.count():
            item = self._body_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()
                item.widget().deleteLater()
        self.lists = {}
        self.fields = {
            "tags": self.curation.tags_edit,
            "review": self.curation.review_combo,
            "note": self.curation.note_edit,
            "source": self.curation.source_label,
        }
        kind = signature[0]
        if kind == "chat":
            self._add_list("messages", "Turn", "", allow_train=True)
        elif kind == "completion":
            self._add_text_field("prompt", "Prompt")
            self._add_text_field("completion", "Completion")
        elif kind == "preference":
            for key, is_list, title, noun in zip(
                ("prompt", "chosen", "rejected"),
                signature[1:],
                ("Prompt", "Chosen answer", "Rejected answer"),
                ("Prompt turn", "Chosen turn", "Rejected turn"),
                strict=True,
            ):
                if is_list:
                    self._add_list(key, noun, title)
                else:
                    self._add_text_field(key, title)
        elif kind == "json":
            json_editor = TextRecordEditor("Apply JSON")
            json_editor.setObjectName("jsonEditor")
            json_editor.set_undo_stack(self.doc.undo_stack if self.doc else None)
            json_editor.sig_apply_requested.connect(self._on_json_editor_apply_requested)
            self._body_layout.addWidget(json_editor)
            json_editor.show()
            self.fields["json"] = json_editor.text_edit
        if kind in ("chat", "completion", "preference", "json"):
            self.stack.setCurrentWidget(self.scroll)
        elif kind == "raw":
            self.stack.setCurrentWidget(self.raw_editor)
        else:
            self.stack.setCurrentWidget(self.empty_label)
        self.curation.setVisible(kind != "json")
        self.scroll.verticalScrollBar().setValue(0)

    def _add_list(self, key: str, noun: str, title: str, *, allow_train: bool = False) -> None:
        turn_list = TurnList(key, noun, allow_train=allow_train, title=title)
        turn_list.set_undo_stack(self.doc.undo_stack if self.doc else None)
        turn_list.sig_list_edited.connect(self._on_turn_list_edited)
        turn_list.sig_turn_focused.connect(self._on_turn_list_turn_focused)
        self._body_layout.addWidget(turn_list)
        turn_list.show()  # at once, not queued: show_field may focus a turn right away
        self.lists[key] = turn_list

    def _add_text_field(self, key: str, title: str) -> None:
        heading = QLabel(title)
        heading.setObjectName("sectionTitle")
        self._body_layout.addWidget(heading)
        heading.show()
        edit = GrowingTextEdit(min_lines=3, max_lines=20)
        edit.setObjectName(f"field-{key}")
        edit.undo_stack = self.doc.undo_stack if self.doc else None
        edit.textChanged.connect(lambda key=key, edit=edit: self._on_text_field_edited(key, edit))
        self._body_layout.addWidget(edit)
        edit.show()
        self.fields[key] = edit

    def _sync(self, record: Record | None) -> None:
        """Show ``record``'s current values in the existing widgets (no signals emitted)."""
        if record is None:
            self._shown = _MISSING
            return
        if not record.is_parsed:
            error = record.parse_error
            problem = error.message if error is not None else "This line could not be read."
            self.raw_editor.set_content(
                "This line could not be read, so it is kept exactly as it is in the file. "
                "Fix the text below and apply it; until then it is written back unchanged.",
                record.raw or "",
                problem,
            )
            self._shown = _MISSING
            return
        data = record.data
        if data is self._shown:
            return  # the editor showed this very value already (its own edit)
        self._shown = data
        for key, turn_list in self.lists.items():
            turn_list.set_messages(data[key])
        for key in ("prompt", "completion", "chosen", "rejected"):
            edit = self.fields.get(key)
            if isinstance(edit, GrowingTextEdit):
                edit.set_text_keeping_cursor(_text_of(data.get(key)))
        json_edit = self.fields.get("json")
        if isinstance(json_edit, GrowingTextEdit):
            editor = json_edit.parent()
            assert isinstance(editor, TextRecordEditor)
            editor.set_content(
                "This example does not have the shape of a chat, completion or preference "
                "example. Edit its JSON and apply it.",
                pretty_json(data),
                json_problem(pretty_json(data)),
            )
        self.curation.set_record_data(data)

    def _show_title(self) -> None:
        record = self.record()
        if record is None or self.index is None:
            set_text(self.title_label, "No example selected")
            return
        where = f"line {record.line}" if record.line else "new, not saved yet"
        set_text(self.title_label, f"Example {self.index + 1} · {where}")

    def _show_issues(self) -> None:
        """Record-level problems above the editor, turn-level ones on their cards."""
        issues: list[Issue] = []
        if self.doc is not None and self.index is not None:
            issues = [issue for issue in self.doc.issues if issue.record == self.index]
        by_list: dict[str, dict[int, list[str]]] = {key: {} for key in self.lists}
        general: list[str] = []
        for issue in issues:
            match = _LIST_FIELD.match(issue.field)
            if match and match["key"] in by_list:
                turns = by_list[match["key"]]
                turns.setdefault(int(match["turn"]), []).append(issue.message)
            elif issue.code not in ("invalid_json", "encoding"):  # the raw editor says it
                general.append(f"⚠ {issue.message}")
        for key, turn_list in self.lists.items():
            turn_list.set_issues(by_list[key])
        set_text(self.issues_label, "\n".join(general))
        set_visible(self.issues_label, bool(general))

    def _widget_for_field(self, field: str) -> QWidget | None:
        if self._signature[0] == "raw":
            return self.raw_editor.text_edit
        match = _LIST_FIELD.match(field)
        key = match["key"] if match else field.split(".")[0]
        turn_list = self.lists.get(key)
        if turn_list is not None:
            turn = int(match["turn"]) if match else 0
            card = turn_list.card(turn)
            self._select_turn(key, turn if card is not None else -1)
            if card is None:
                return turn_list.add_button
            part = match["part"] if match else None
            if part == "role":
                return card.role_combo
            if part == "weight" and card.train_check.isVisible():
                return card.train_check
            return card.content_edit
        self._select_turn("", -1)
        if key in self.fields:
            return self.fields[key]
        for turn_list in self.lists.values():
            if turn_list.cards:
                return turn_list.cards[0].content_edit
        return next(iter(self.fields.values()), None)

    def _scroll_to(self, widget: QWidget) -> None:
        """Scroll so ``widget`` shows, placing cards created a moment ago first."""
        # New cards only have a place once the pending layout requests ran; text fields
        # that re-wrap at their new width ask for one more round.
        for _ in range(3):
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        if self.stack.currentWidget() is self.scroll:
            self.scroll.ensureWidgetVisible(widget, 0, 40)
            # The form is as wide as the view; never leave it scrolled sideways.
            self.scroll.horizontalScrollBar().setValue(0)

    def _select_turn(self, key: str, turn: int) -> None:
        for list_key, turn_list in self.lists.items():
            for index, card in enumerate(turn_list.cards):
                card.set_selected(list_key == key and index == turn)

    # ---- Edits
    def _commit(self, data: Any, description: str, merge_field: str = "") -> None:
        """Write ``data`` as the shown record's new value (one undo step, or merged)."""
        if self.doc is None or self.index is None:
            return
        index = self.index
        # Show the new value first: the widgets then hold exactly what was written, and
        # the document's sig_record_changed for this value finds nothing to update.
        self._sync_to(data)
        merge_key = f"{index}:{merge_field}" if merge_field else None
        self.doc.replace_record_data(index, data, description, merge_key=merge_key)

    def _sync_to(self, data: Any) -> None:
        record = self.record()
        assert record is not None
        preview = Record(data=data, raw=record.raw, line=record.line, edited=True)
        signature = _layout_signature(preview)
        if signature != self._signature:
            self._rebuild(signature)
        self._shown = _MISSING
        self._sync(preview)

    def _copy_data(self) -> dict[str, Any]:
        record = self.record()
        assert record is not None
        assert isinstance(record.data, dict)
        return dict(record.data)  # shallow: the edited key gets a new value, others shared

    def _on_turn_list_edited(
        self, key: str, messages: list[Any], description: str, merge: str, focus: int
    ) -> None:
        data = self._copy_data()
        data[key] = messages
        self._commit(data, description, merge)
        if focus >= 0 and key in self.lists:
            card = self.lists[key].card(focus)
            if card is not None:
                self._select_turn(key, focus)
                card.content_edit.setFocus(Qt.FocusReason.OtherFocusReason)
                self._scroll_to(card)

    def _on_turn_list_turn_focused(self, key: str, turn: int) -> None:
        self._select_turn(key, turn)

    def _on_text_field_edited(self, key: str, edit: GrowingTextEdit) -> None:
        data = self._copy_data()
        data[key] = edit.toPlainText()
        self._commit(data, f"Edit {key}", key)

    def _on_curation_field_edited(self, key: str, value: Any, description: str, typing: bool):
        data = self._copy_data()
        if value is None:
            if key not in data:
                return
            del data[key]
        elif data.get(key) == value:
            return
        else:
            data[key] = value
        self._commit(data, description, key if typing else "")

    def _on_json_editor_apply_requested(self, text: str) -> None:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return  # the status line already says what is wrong
        self._commit(data, "Edit example as JSON")

    def _on_raw_editor_apply_requested(self, text: str) -> None:
        if self.doc is None or self.index is None:
            return
        self.doc.set_raw_text(self.index, _single_line(text), "Fix unreadable line")
