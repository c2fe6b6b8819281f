"""The "What the model learns" preview with the real tiny-model tokenizer and chat template."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftstudio.core.project import create_project
from ftstudio.qt.dataset.document import DatasetDocument
from ftstudio.qt.dataset.editor import ConversationEditor
from ftstudio.qt.dataset.preview_panel import (
    CUT_SHADES,
    MASKED_SHADES,
    TRAINED_SHADES,
    LearnPreview,
    count_text,
)
from tests.qt.dataset.test_editor import open_document, type_at_end, write_jsonl

ROWS = [
    {
        "messages": [
            {"role": "system", "content": "You help with printers."},
            {"role": "user", "content": "The printer jams."},
            {"role": "assistant", "content": "Open tray two and remove the paper."},
        ]
    },
    {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello there.", "weight": 0},
            {"role": "user", "content": "Reset my password"},
            {"role": "assistant", "content": "Use the portal."},
        ]
    },
    {"messages": [{"role": "tool", "content": "{}"}, {"role": "assistant", "content": "ok"}]},
]
BROKEN = '{"messages": ['


def fragments(preview: LearnPreview) -> list[tuple[str, dict]]:
    """(text, {index, background, strike}) of every run of the rendered text."""
    runs = []
    block = preview.text_edit.document().begin()
    while block.isValid():
        iterator = block.begin()
        while not iterator.atEnd():
            fragment = iterator.fragment()
            fmt = fragment.charFormat()
            info = {
                "index": preview.token_at(fragment.position()),
                "background": fmt.background().color(),
                "strike": fmt.fontStrikeOut(),
            }
            runs.append((fragment.text(), info))
            iterator += 1
        block = block.next()
    return runs


def trained_text(preview: LearnPreview) -> str:
    """The text drawn on a green (trained) background."""
    return "".join(t for t, info in fragments(preview) if info["background"] in TRAINED_SHADES)


@pytest.fixture
def doc(tmp_path: Path):  # noqa: ANN201 - yields a DatasetDocument
    document = open_document(write_jsonl(tmp_path / "chat.jsonl", ROWS, (BROKEN,)))
    yield document
    document.shutdown()
    document.validator.wait()


@pytest.fixture
def project(tmp_path: Path, tiny_model_dir: Path):  # noqa: ANN201 - a Project
    """A project whose base model is the tiny model's folder (no build in the test)."""
    return create_project(tmp_path / "Printers", "Printers", base_model=str(tiny_model_dir))


@pytest.fixture
def preview(qtbot, doc, project) -> LearnPreview:
    widget = LearnPreview()
    qtbot.addWidget(widget, before_close_func=lambda w: w.shutdown())
    widget.set_document(doc)
    widget.resize(700, 600)
    widget.show()
    widget.set_tokenizer_source(project.base_model, project.folder)
    qtbot.waitUntil(widget.is_ready, timeout=30_000)
    return widget


def show(qtbot, preview: LearnPreview, index: int) -> None:
    with qtbot.waitSignal(preview.sig_rendered, timeout=10_000):
        preview.show_record(index)


def test_trained_tokens_are_highlighted(qtbot, preview) -> None:
    show(qtbot, preview, 0)
    runs = fragments(preview)
    text = preview.text_edit.toPlainText()
    assert text == preview.preview["text"]  # the exact training text
    assert text.startswith("<s><|system|>\nYou help with printers.<|end|><|user|>")
    assert trained_text(preview) == "Open tray two and remove the paper.<|end|>"
    tokens = preview.preview["tokens"]
    for run, info in runs:
        token = tokens[info["index"]]
        assert run in token["token"]  # every run is (part of) one token
        shades = TRAINED_SHADES if token["trained"] else MASKED_SHADES
        assert info["background"] in shades, run
        assert not info["strike"]
    # Neighbouring tokens alternate shades, so every token boundary shows.
    for (_, a), (_, b) in zip(runs, runs[1:], strict=False):
        if b["index"] == a["index"] + 1:
            assert a["background"] != b["background"]
    count = preview.preview["count"]
    trained = preview.preview["trained_count"]
    assert preview.count_label.text() == f"{count} / 1,024 tokens, {trained} trained"
    assert 0 < trained < count


def test_switched_off_answers_are_not_trained(qtbot, preview) -> None:
    show(qtbot, preview, 1)
    assert trained_text(preview) == "Use the portal.<|end|>"
    untrained = "".join(t for t, info in fragments(preview) if info["background"] in MASKED_SHADES)
    assert "Hello there." in untrained


def test_preview_follows_typing_after_a_pause(qtbot, preview, doc) -> None:
    editor = ConversationEditor()
    qtbot.addWidget(editor)
    editor.set_document(doc)
    editor.show_record(0)
    show(qtbot, preview, 0)
    answer = editor.lists["messages"].cards[2].content_edit
    type_at_end(qtbot, answer, " Then print again.")
    assert "Then print again" not in preview.text_edit.toPlainText()  # debounced
    qtbot.waitUntil(lambda: "print again" in trained_text(preview), timeout=5_000)
    assert trained_text(preview).endswith("Then print again.<|end|>")
    # Switching the answer off in the editor un-highlights it.
    editor.lists["messages"].cards[2].train_check.click()
    qtbot.waitUntil(lambda: trained_text(preview) == "", timeout=5_000)
    assert "No token carries loss" in preview.notes_label.text()


def test_truncation_is_marked_when_the_max_length_is_small(qtbot, preview) -> None:
    show(qtbot, preview, 0)
    count = preview.preview["count"]
    with qtbot.waitSignal(preview.sig_max_length_changed) as blocker:
        preview.max_length_spin.setValue(12)
    assert blocker.args == [12]
    runs = fragments(preview)
    cut = [info for _, info in runs if info["index"] >= 12]
    kept = [info for _, info in runs if info["index"] < 12]
    assert cut
    assert all(info["strike"] and info["background"] in CUT_SHADES for info in cut)
    assert not any(info["strike"] or info["background"] in CUT_SHADES for info in kept)
    trained = preview.preview["trained_count"]
    assert preview.count_label.text().startswith(f"{count} / 12 tokens, {trained} trained; ")
    assert "the whole answer is cut off" in preview.count_label.text()
    assert preview.count_label.property("cut") is True
    preview.set_max_length(4096)  # the page sets the training value: no cut any more
    assert not any(info["strike"] for _, info in fragments(preview))


def test_count_text() -> None:
    assert count_text(412, 96, 1024, 0, 0) == "412 / 1,024 tokens, 96 trained"
    assert count_text(1100, 96, 1024, 76, 20) == (
        "1,100 / 1,024 tokens, 96 trained; 76 cut off (20 of them trained)"
    )


def test_template_rejection_and_unreadable_lines_are_explained(qtbot, preview) -> None:
    show(qtbot, preview, 2)
    assert preview.message_label.isVisibleTo(preview)
    assert "cannot write this example" in preview.message_label.text()
    assert "Unknown role: tool" in preview.message_label.text()
    assert preview.text_edit.toPlainText() == ""
    show(qtbot, preview, 3)
    assert "could not be read" in preview.message_label.text()


def test_a_missing_model_folder_is_reported(qtbot, doc, tmp_path) -> None:
    widget = LearnPreview()
    qtbot.addWidget(widget, before_close_func=lambda w: w.shutdown())
    widget.set_document(doc)
    widget.show_record(0)
    with qtbot.waitSignal(widget.sig_rendered, timeout=10_000):
        widget.set_tokenizer_source(str(tmp_path / "no-such-model"), tmp_path)
    qtbot.waitUntil(lambda: "could not be loaded" in widget.message_label.text(), timeout=10_000)
    assert "does not exist" in widget.message_label.text()
    assert not widget.is_ready()


def test_token_lookup_and_clean_shutdown(qtbot, preview) -> None:
    show(qtbot, preview, 0)
    text = preview.text_edit.toPlainText()
    assert preview.token_at(0) == 0  # "<s>"
    assert preview.preview["tokens"][0]["token"] == "<s>"
    answer = text.index("Open tray")
    token = preview.preview["tokens"][preview.token_at(answer)]
    assert token["token"]
    assert "Open tray".startswith(token["token"])
    assert token["trained"]
    assert preview.last_seconds < 1.0
    thread = preview._thread.thread  # noqa: SLF001 - checking the worker really stops
    preview.shutdown()
    assert thread.isFinished()


def test_document_kind_for_completion_previews(qtbot, tmp_path, project) -> None:
    document: DatasetDocument = open_document(
        write_jsonl(tmp_path / "c.jsonl", [{"prompt": "2+2=", "completion": " 4"}])
    )
    widget = LearnPreview()
    qtbot.addWidget(widget, before_close_func=lambda w: w.shutdown())
    widget.set_document(document)
    widget.set_tokenizer_source(project.base_model, project.folder)
    qtbot.waitUntil(widget.is_ready, timeout=30_000)
    show(qtbot, widget, 0)
    assert trained_text(widget) == " 4<|end|>"
    document.shutdown()
    document.validator.wait()


def test_a_hub_model_that_is_not_downloaded_is_explained(qtbot, doc) -> None:
    widget = LearnPreview()
    qtbot.addWidget(widget, before_close_func=lambda w: w.shutdown())
    widget.set_document(doc)
    widget.set_tokenizer_source("example-org/not-downloaded", None)
    qtbot.waitUntil(lambda: "could not be loaded" in widget.message_label.text(), timeout=10_000)
    assert "not on this computer yet" in widget.message_label.text()


def test_preference_pairs_preview_the_chosen_answer(qtbot, tmp_path, project) -> None:
    pair = {
        "prompt": [{"role": "user", "content": "Reset my password"}],
        "chosen": [{"role": "assistant", "content": "Use the portal."}],
        "rejected": [{"role": "assistant", "content": "Send it to me."}],
    }
    document = open_document(write_jsonl(tmp_path / "p.jsonl", [pair]))
    widget = LearnPreview()
    qtbot.addWidget(widget, before_close_func=lambda w: w.shutdown())
    widget.set_document(document)
    widget.set_tokenizer_source(project.base_model, project.folder)
    qtbot.waitUntil(widget.is_ready, timeout=30_000)
    show(qtbot, widget, 0)
    assert trained_text(widget) == "Use the portal.<|end|>"
    assert "Send it to me" not in widget.text_edit.toPlainText()
    assert "preference pair" in widget.notes_label.text()
    document.shutdown()
    document.validator.wait()
