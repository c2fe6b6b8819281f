"""The example editor, driven like a user: typing, clicking, shortcuts, undo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QApplication

from ftstudio.core.dataset.formats import load_dataset
from ftstudio.core.dataset.validate import validate_dataset
from ftstudio.qt.dataset.document import DatasetDocument
from ftstudio.qt.dataset.editor import ConversationEditor, set_system_prompt
from ftstudio.qt.dataset.system_prompt import SystemPromptDialog, common_system_prompt

SYSTEM = "You are a helpful IT assistant."
CHAT = [
    {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "My VPN drops.", "name": "ana", "x-id": 7},
            {"role": "assistant", "content": "Restart the client."},
        ],
        "tags": ["vpn"],
        "meta": {"origin": "ticket 12"},
    },
    {
        "messages": [
            {"role": "user", "content": "Printer jams."},
            {"role": "assistant", "content": "Open tray 2.", "weight": 1},
            {"role": "user", "content": "Done."},
            {"role": "assistant", "content": "Great."},
        ],
        "source": "helpdesk export",
    },
]
BROKEN = '{"messages": [{"role": "user", "content": "no end"'


def write_jsonl(path: Path, rows: list[object], extra_lines: tuple[str, ...] = ()) -> Path:
    lines = [json.dumps(row) for row in rows] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def open_document(path: Path) -> DatasetDocument:
    dataset = load_dataset(path)
    doc = DatasetDocument()
    doc.set_dataset(dataset, validate_dataset(dataset))
    return doc


@pytest.fixture
def doc(tmp_path: Path):  # noqa: ANN201 - yields a DatasetDocument
    document = open_document(write_jsonl(tmp_path / "chat.jsonl", CHAT, (BROKEN,)))
    yield document
    document.shutdown()
    document.validator.wait()


@pytest.fixture
def editor(qtbot, doc: DatasetDocument) -> ConversationEditor:
    widget = ConversationEditor()
    qtbot.addWidget(widget)
    widget.set_document(doc)
    widget.resize(700, 900)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def messages(doc: DatasetDocument, index: int) -> list[dict]:
    return doc.dataset.records[index].data["messages"]


def type_at_end(qtbot, widget, text: str) -> None:
    widget.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(widget, text)


def test_typing_in_a_turn_is_one_undo_step(qtbot, editor, doc) -> None:
    editor.show_record(0)
    card = editor.lists["messages"].cards[2]
    type_at_end(qtbot, card.content_edit, " Then retry.")
    assert messages(doc, 0)[2]["content"] == "Restart the client. Then retry."
    assert doc.undo_stack.count() == 1  # twelve keystrokes, one step
    assert doc.undo_stack.undoText() == "Edit turn 3"
    # The field kept the cursor at the end of what was typed.
    assert card.content_edit.textCursor().position() == len("Restart the client. Then retry.")

    doc.undo_stack.undo()
    assert messages(doc, 0)[2]["content"] == "Restart the client."
    assert card.content_edit.toPlainText() == "Restart the client."  # the editor followed
    doc.undo_stack.redo()
    assert card.content_edit.toPlainText() == "Restart the client. Then retry."


def test_typing_in_two_fields_makes_two_steps_and_undo_keeps_the_cursor(qtbot, editor, doc) -> None:
    editor.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is editor)
    editor.show_record(0)
    user, answer = editor.lists["messages"].cards[1:3]
    type_at_end(qtbot, user.content_edit, " Often.")
    answer.content_edit.setFocus()
    qtbot.waitUntil(answer.content_edit.hasFocus)
    type_at_end(qtbot, answer.content_edit, " Now.")
    assert doc.undo_stack.count() == 2
    cursor = answer.content_edit.textCursor()
    cursor.setPosition(7)
    answer.content_edit.setTextCursor(cursor)
    doc.undo_stack.undo()  # the answer's edit
    assert answer.content_edit.toPlainText() == "Restart the client."
    assert answer.content_edit.textCursor().position() == 7  # where the user was
    assert user.content_edit.toPlainText() == "My VPN drops. Often."
    doc.undo_stack.undo()
    assert user.content_edit.toPlainText() == "My VPN drops."
    assert user.content_edit.textCursor().position() == 0  # not focused: like setPlainText


def test_ctrl_z_in_a_field_undoes_through_the_document(qtbot, editor, doc) -> None:
    editor.show_record(0)
    field = editor.lists["messages"].cards[1].content_edit
    type_at_end(qtbot, field, "!!")
    qtbot.keyClick(field, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert messages(doc, 0)[1]["content"] == "My VPN drops."
    assert field.toPlainText() == "My VPN drops."
    assert doc.undo_stack.index() == 0
    qtbot.keyClick(
        field, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert messages(doc, 0)[1]["content"] == "My VPN drops.!!"


def test_role_change_is_undoable(editor, doc) -> None:
    editor.show_record(1)
    card = editor.lists["messages"].cards[2]
    card.role_combo.setCurrentIndex(card.role_combo.findData("assistant"))
    assert messages(doc, 1)[2]["role"] == "assistant"
    assert doc.undo_stack.undoText() == "Make turn 3 assistant"
    assert card.train_check.isVisibleTo(editor)  # assistants get the training toggle
    doc.undo_stack.undo()
    assert messages(doc, 1)[2]["role"] == "user"
    assert card.role_combo.currentData() == "user"
    assert not card.train_check.isVisibleTo(editor)


def test_add_remove_move_and_duplicate_are_each_one_undo_step(qtbot, editor, doc) -> None:
    editor.show_record(1)
    original = json.loads(json.dumps(messages(doc, 1)))
    turns = editor.lists["messages"]

    qtbot.mouseClick(turns.cards[1].buttons["add"], Qt.MouseButton.LeftButton)
    assert [m["role"] for m in messages(doc, 1)] == [
        "user", "assistant", "user", "user", "assistant"]  # fmt: skip
    assert messages(doc, 1)[2] == {"role": "user", "content": ""}
    assert len(turns.cards) == 5
    assert editor.selected_turn() == ("messages", 2)  # the new turn is where the user goes

    qtbot.mouseClick(turns.cards[0].buttons["duplicate"], Qt.MouseButton.LeftButton)
    assert messages(doc, 1)[1] == messages(doc, 1)[0]
    assert len(messages(doc, 1)) == 6

    qtbot.mouseClick(turns.cards[5].buttons["up"], Qt.MouseButton.LeftButton)
    assert messages(doc, 1)[4]["content"] == "Great."
    qtbot.mouseClick(turns.cards[0].buttons["down"], Qt.MouseButton.LeftButton)
    assert messages(doc, 1)[1]["content"] == "Printer jams."
    qtbot.mouseClick(turns.cards[3].buttons["remove"], Qt.MouseButton.LeftButton)
    assert len(messages(doc, 1)) == 5
    assert [card.content_edit.toPlainText() for card in turns.cards] == [
        m["content"] for m in messages(doc, 1)
    ]

    assert doc.undo_stack.count() == 5
    for _ in range(5):
        doc.undo_stack.undo()
    assert messages(doc, 1) == original
    assert [card.content_edit.toPlainText() for card in turns.cards] == [
        m["content"] for m in original
    ]


def test_turn_shortcuts_work_while_the_turn_has_focus(qtbot, editor, doc) -> None:
    editor.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is editor)
    editor.show_field(1, "messages[0].content")
    field = editor.lists["messages"].cards[0].content_edit
    qtbot.waitUntil(field.hasFocus)
    qtbot.keyClick(field, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert messages(doc, 1)[1]["content"] == "Printer jams."
    assert editor.selected_turn() == ("messages", 1)
    moved = editor.lists["messages"].cards[1].content_edit
    qtbot.waitUntil(moved.hasFocus)  # the focus moved with the turn
    qtbot.keyClick(moved, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert messages(doc, 1)[2] == {"role": "assistant", "content": ""}
    assert doc.undo_stack.count() == 2


def test_train_toggle_writes_weight_zero_and_back(qtbot, editor, doc) -> None:
    editor.show_record(0)
    check = editor.lists["messages"].cards[2].train_check
    assert check.isChecked()
    assert "weight" not in messages(doc, 0)[2]
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton)
    assert messages(doc, 0)[2]["weight"] == 0
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton)
    assert "weight" not in messages(doc, 0)[2]  # absent again: the file is as it was
    doc.undo_stack.undo()
    assert messages(doc, 0)[2]["weight"] == 0
    assert not check.isChecked()
    # An explicit weight of 1 reads as on.
    editor.show_record(1)
    assert editor.lists["messages"].cards[1].train_check.isChecked()
    # Only assistant turns have the toggle.
    assert not editor.lists["messages"].cards[0].train_check.isVisibleTo(editor)


def test_unknown_keys_survive_every_kind_of_edit(qtbot, editor, doc) -> None:
    editor.show_record(0)
    card = editor.lists["messages"].cards[1]
    type_at_end(qtbot, card.content_edit, " Every hour.")
    card.role_combo.setCurrentIndex(card.role_combo.findData("assistant"))
    qtbot.mouseClick(card.buttons["duplicate"], Qt.MouseButton.LeftButton)
    editor.curation.tags_edit.setFocus()
    qtbot.keyClicks(editor.curation.tags_edit, ", network")
    data = doc.dataset.records[0].data
    edited = {"role": "assistant", "content": "My VPN drops. Every hour.", "name": "ana", "x-id": 7}
    assert data["messages"][1] == edited
    assert data["messages"][2] == edited
    assert data["meta"] == {"origin": "ticket 12"}
    assert data["tags"] == ["vpn", "network"]


def test_curation_fields(qtbot, editor, doc) -> None:
    editor.show_record(1)
    assert editor.curation.source_label.text() == "helpdesk export"
    qtbot.keyClicks(editor.curation.tags_edit, "printer, hardware,")
    assert doc.dataset.records[1].data["tags"] == ["printer", "hardware"]
    assert editor.curation.tags_edit.text() == "printer, hardware,"  # not rewritten while typing
    combo = editor.curation.review_combo
    combo.setCurrentIndex(combo.findData("approved"))
    assert doc.dataset.records[1].data["review"] == "approved"
    qtbot.keyClicks(editor.curation.note_edit, "check tray")
    assert doc.dataset.records[1].data["note"] == "check tray"
    assert doc.undo_stack.count() == 3  # tags, review, note
    combo.setCurrentIndex(combo.findData("draft"))
    assert "review" not in doc.dataset.records[1].data  # the default is not written
    for _ in range(4):
        doc.undo_stack.undo()
    assert doc.dataset.records[1].data == CHAT[1]
    assert editor.curation.tags_edit.text() == ""
    assert combo.currentData() == "draft"


def test_set_system_prompt_for_a_selection_is_one_undo_step(tmp_path, qtbot, editor, doc) -> None:
    changed = set_system_prompt(doc, [0, 1, 2], "Be brief.")
    assert changed == 2  # the unparseable line is skipped
    assert doc.undo_stack.count() == 1
    first, second = messages(doc, 0), messages(doc, 1)
    assert first[0] == {"role": "system", "content": "Be brief."}
    assert len(first) == 3  # replaced, not added
    assert second[0] == {"role": "system", "content": "Be brief."}
    assert second[1]["content"] == "Printer jams."  # inserted before the rest
    assert set_system_prompt(doc, [0, 1], "Be brief.") == 0  # nothing to change, no step
    assert doc.undo_stack.count() == 1
    editor.show_record(1)
    assert editor.lists["messages"].cards[0].content_edit.toPlainText() == "Be brief."
    doc.undo_stack.undo()
    assert messages(doc, 0)[0]["content"] == SYSTEM
    assert len(messages(doc, 1)) == 4
    assert editor.lists["messages"].cards[0].content_edit.toPlainText() == "Printer jams."
    # Empty text removes the system prompt.
    assert set_system_prompt(doc, [0], "") == 1
    assert messages(doc, 0)[0]["role"] == "user"


def test_system_prompt_dialog_offers_the_common_prompt(qtbot, doc) -> None:
    assert common_system_prompt(doc, [0, 1, 2]) == SYSTEM
    dialog = SystemPromptDialog(3, common_system_prompt(doc, [0, 1]))
    qtbot.addWidget(dialog)
    assert dialog.text() == SYSTEM
    dialog.text_edit.setPlainText("  New prompt \n")
    assert dialog.text() == "New prompt"


def test_unparseable_line_is_fixed_in_the_raw_editor(qtbot, editor, doc) -> None:
    editor.show_record(2)
    assert editor.stack.currentWidget() is editor.raw_editor
    raw = editor.raw_editor
    assert raw.text() == BROKEN
    assert "Not valid JSON" in raw.status_label.text()
    raw.text_edit.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(raw.text_edit, "}")
    assert "Not valid JSON yet" in raw.status_label.text()  # checked while typing
    qtbot.keyClicks(raw.text_edit, "]}")
    assert "Valid JSON" in raw.status_label.text()
    assert not doc.dataset.records[2].is_parsed  # nothing applied yet
    qtbot.mouseClick(raw.apply_button, Qt.MouseButton.LeftButton)
    record = doc.dataset.records[2]
    assert record.is_parsed
    assert record.data == {"messages": [{"role": "user", "content": "no end"}]}
    assert editor.stack.currentWidget() is editor.scroll  # now a conversation
    assert editor.lists["messages"].cards[0].content_edit.toPlainText() == "no end"
    doc.undo_stack.undo()
    assert not doc.dataset.records[2].is_parsed
    assert doc.dataset.records[2].raw == BROKEN
    assert editor.stack.currentWidget() is editor.raw_editor


def test_show_field_selects_the_turn_and_tells_the_page(qtbot, editor) -> None:
    with qtbot.waitSignal(editor.sig_focus_requested) as blocker:
        editor.show_field(1, "messages[3].content")
    assert blocker.args == [1, "messages[3].content"]
    assert editor.index == 1
    assert editor.selected_turn() == ("messages", 3)
    editor.show_field(1, "tags")
    assert editor.selected_turn() is None


def test_issues_are_shown_on_their_turn(qtbot, tmp_path) -> None:
    rows = [{"messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": ""}]}]
    document = open_document(write_jsonl(tmp_path / "bad.jsonl", rows))
    widget = ConversationEditor()
    qtbot.addWidget(widget)
    widget.set_document(document)
    widget.show_record(0)
    first, second = widget.lists["messages"].cards
    assert second.issue_label.isVisibleTo(widget)
    assert "Turn 2 is empty" in second.issue_label.text()
    assert not first.issue_label.isVisibleTo(widget)
    second.content_edit.setPlainText("Hello?")
    # Re-checked at once: the empty-content warning is gone from that turn.
    assert "Turn 2 is empty" not in second.issue_label.text()
    document.shutdown()
    document.validator.wait()


def test_document_changes_move_or_clear_the_shown_record(editor, doc) -> None:
    editor.show_record(1)
    doc.remove_records([0], "Remove example")
    assert editor.index == 0
    assert editor.title_label.text().startswith("Example 1")
    doc.undo_stack.undo()
    assert editor.index == 1
    doc.remove_records([1], "Remove example")
    assert editor.index is None
    assert editor.stack.currentWidget() is editor.empty_label


def test_completion_and_preference_records(qtbot, tmp_path) -> None:
    completion = open_document(
        write_jsonl(tmp_path / "c.jsonl", [{"prompt": "2+2=", "completion": " 4", "k": 1}])
    )
    widget = ConversationEditor()
    qtbot.addWidget(widget)
    widget.set_document(completion)
    widget.show_record(0)
    field = widget.fields["completion"]
    type_at_end(qtbot, field, ".")
    assert completion.dataset.records[0].data == {"prompt": "2+2=", "completion": " 4.", "k": 1}

    pair = {
        "prompt": [{"role": "user", "content": "Reset my password"}],
        "chosen": [{"role": "assistant", "content": "Use the portal."}],
        "rejected": [{"role": "assistant", "content": "Send it to me."}],
    }
    preference = open_document(write_jsonl(tmp_path / "p.jsonl", [pair]))
    widget.set_document(preference)
    widget.show_record(0)
    assert set(widget.lists) == {"prompt", "chosen", "rejected"}
    rejected = widget.lists["rejected"].cards[0].content_edit
    assert rejected.toPlainText() == "Send it to me."
    assert not widget.lists["chosen"].cards[0].train_check.isVisibleTo(widget)
    type_at_end(qtbot, rejected, " Now.")
    assert preference.dataset.records[0].data["rejected"][0]["content"] == "Send it to me. Now."
    assert preference.dataset.records[0].data["chosen"] == pair["chosen"]
    for document in (completion, preference):
        document.shutdown()
        document.validator.wait()


def test_show_field_scrolls_a_far_turn_into_view(qtbot, tmp_path) -> None:
    turns = [
        {"role": ("user", "assistant")[i % 2], "content": f"turn {i}\n" * 3} for i in range(30)
    ]
    document = open_document(write_jsonl(tmp_path / "long.jsonl", [{"messages": turns}]))
    widget = ConversationEditor()
    qtbot.addWidget(widget)
    widget.set_document(document)
    widget.resize(600, 500)
    widget.show()
    qtbot.waitExposed(widget)
    widget.show_field(0, "messages[28].content")
    card = widget.lists["messages"].cards[28]
    viewport = widget.scroll.viewport()
    top = card.mapTo(viewport, card.rect().topLeft()).y()
    assert widget.scroll.verticalScrollBar().value() > 0
    assert top >= 0
    assert top + card.height() <= viewport.height()
    document.shutdown()
    document.validator.wait()


def test_a_value_of_another_shape_is_edited_as_json(qtbot, tmp_path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text('{"conversation": "hi", "keep": 1}\n', encoding="utf-8")
    document = open_document(path)
    widget = ConversationEditor()
    qtbot.addWidget(widget)
    widget.set_document(document)
    widget.show_record(0)
    assert widget.lists == {}
    json_field = widget.fields["json"]
    assert json.loads(json_field.toPlainText()) == {"conversation": "hi", "keep": 1}
    json_field.setPlainText('{"messages": [{"role": "user", "content": "hi"}], "keep": 1}')
    qtbot.mouseClick(json_field.parent().apply_button, Qt.MouseButton.LeftButton)
    assert document.dataset.records[0].data["messages"][0]["content"] == "hi"
    assert widget.lists["messages"].cards[0].content_edit.toPlainText() == "hi"
    document.undo_stack.undo()
    assert "json" in widget.fields
    document.shutdown()
    document.validator.wait()
