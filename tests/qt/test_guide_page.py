"""The Guide page with real widgets: answers, back/forward, the result saved and restored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from ftstudio.core.project import Project, create_project, open_project
from ftstudio.qt.dataset.workers import wait_for_all_threads
from ftstudio.qt.pages.guide import AnswerButton, GuidePage

PATHS = {
    "fine_tune": [
        ["needs_knowledge", "stable"],
        ["general_knowledge", "needs_style", "prompt_fails"],
    ],
    "rag": [["needs_knowledge", "changing"]],
    "prompting": [["general_knowledge", "needs_style", "prompt_works"]],
    "base_model": [["general_knowledge", "any_style"]],
}


@pytest.fixture
def page(qtbot) -> GuidePage:  # noqa: ANN001
    widget = GuidePage()
    qtbot.addWidget(widget, before_close_func=lambda w: w.shutdown())
    widget.resize(1100, 800)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _click(qtbot, page: GuidePage, answer_id: str) -> None:  # noqa: ANN001
    buttons = {b.answer_id: b for b in page.answer_buttons}
    assert answer_id in buttons, f"{answer_id} not offered; offered: {list(buttons)}"
    assert buttons[answer_id].isVisible()
    qtbot.mouseClick(buttons[answer_id], Qt.MouseButton.LeftButton)


def _alt(qtbot, page: GuidePage, key: Qt.Key, expected: str) -> None:  # noqa: ANN001
    """Alt+arrow; a button's shortcut clicks it after a short animation, so wait for it."""
    qtbot.keyClick(page, key, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(
        lambda: page.session.current is not None and page.session.current.id == expected
    )


def _saved(project: Project) -> dict:
    return json.loads(project.manifest_path.read_text(encoding="utf-8"))["guide"]


def _keep_lines(project: Project, count: int) -> None:
    train = project.dataset_path("train")
    lines = train.read_text(encoding="utf-8").splitlines()[:count]
    train.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


@pytest.mark.parametrize("kind", list(PATHS))
def test_clicking_answers_reaches_each_outcome(qtbot, page, sample_project, kind) -> None:  # noqa: ANN001
    page.set_project(sample_project)
    guide = page.guide
    for answers in PATHS[kind]:
        page.start_over()
        assert page.question_card.isVisible()
        assert page.question_label.text() == guide.question(guide.start).text
        for answer in answers:
            assert not page.outcome_card.isVisible()
            _click(qtbot, page, answer)
        assert page.outcome_card.isVisible()
        assert not page.question_card.isVisible()
        outcome = guide.outcome(kind)
        assert page.outcome_title.text() == outcome.title
        assert page.outcome_summary.text() == outcome.summary
        for reason in outcome.reasons:
            assert reason in page.reasons_label.text()
        assert _saved(sample_project)["outcome"] == kind
        assert [a for _, a in _saved(sample_project)["path"]] == answers


def test_one_question_at_a_time_with_large_answer_buttons(qtbot, page, sample_project) -> None:  # noqa: ANN001
    page.set_project(sample_project)
    first = page.guide.question("knowledge")
    assert [b.text() for b in page.answer_buttons] == [a.label for a in first.answers]
    assert page.question_card.title_label.text() == f"Question 1 · {first.title}"
    assert page.help_label.text() == first.help
    for button in page.answer_buttons:
        assert isinstance(button, AnswerButton)
        assert button.height() >= 48
        assert button.label.width() > 300  # the label fills the button
    _click(qtbot, page, "general_knowledge")
    assert page.question_card.title_label.text().startswith("Question 2 · ")
    assert page.question_label.text() == page.guide.question("style").text


def test_back_and_forward_buttons_and_shortcuts(qtbot, page, sample_project) -> None:  # noqa: ANN001
    page.set_project(sample_project)
    assert not page.back_button.isEnabled()
    assert not page.forward_button.isEnabled()
    _click(qtbot, page, "general_knowledge")
    _click(qtbot, page, "needs_style")
    assert page.session.current.id == "prompting"

    qtbot.mouseClick(page.back_button, Qt.MouseButton.LeftButton)
    assert page.session.current.id == "style"
    remembered = [b for b in page.answer_buttons if b.isChecked()]
    assert [b.answer_id for b in remembered] == ["needs_style"]
    assert remembered[0].mark.isVisible()
    assert page.forward_button.isEnabled()
    qtbot.mouseClick(page.forward_button, Qt.MouseButton.LeftButton)
    assert page.session.current.id == "prompting"
    assert not page.forward_button.isEnabled()

    page.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is page)
    _alt(qtbot, page, Qt.Key.Key_Left, "style")
    _alt(qtbot, page, Qt.Key.Key_Left, "knowledge")
    assert not page.back_button.isEnabled()
    _alt(qtbot, page, Qt.Key.Key_Right, "style")

    # A different answer forgets the remembered ones after it.
    _click(qtbot, page, "any_style")
    assert page.session.outcome.kind == "base_model"
    assert not page.forward_button.isEnabled()
    _alt(qtbot, page, Qt.Key.Key_Left, "style")
    assert page.question_card.isVisible()
    assert page.session.chosen == "any_style"


def test_the_path_taken_is_listed_and_each_step_can_be_revisited(
    qtbot,  # noqa: ANN001
    page,  # noqa: ANN001
    sample_project,  # noqa: ANN001
) -> None:
    page.set_project(sample_project)
    assert "None yet" in page.path_card.text_label.text()
    _click(qtbot, page, "needs_knowledge")
    _click(qtbot, page, "stable")
    text = page.path_card.text_label.text()
    guide = page.guide
    assert "Specialised knowledge" in text
    assert guide.question("knowledge").answer("needs_knowledge").label in text
    assert guide.question("knowledge_changes").answer("stable").label in text
    assert "Recommendation: <b>Fine-tune</b>" in text
    page.path_card.text_label.linkActivated.emit("0")
    assert page.session.current.id == "knowledge"
    assert page.session.chosen == "needs_knowledge"


def test_readiness_of_the_sample_dataset(page, sample_project) -> None:  # noqa: ANN001
    page.set_project(sample_project)
    text = page.data_card.text_label.text()
    assert "Enough for a first try" in text
    assert "Size band: <b>Minimum</b>" in text
    assert "77 usable examples" in text
    assert "it_support.jsonl" in text


def test_too_few_examples_say_so_and_what_to_do(qtbot, page, sample_project) -> None:  # noqa: ANN001
    _keep_lines(sample_project, 30)
    page.set_project(sample_project)
    assert "Not enough data to fine-tune yet" in page.data_card.text_label.text()
    _click(qtbot, page, "needs_knowledge")
    _click(qtbot, page, "stable")
    assert page.warning_frame.isVisible()
    warning = page.warning_label.text()
    assert "Not enough data to fine-tune yet" in warning
    assert "Size band: <b>Below the minimum</b>" in warning
    assert "prompting is the better tool" in warning
    assert "Add at least 20 more" in warning
    saved = _saved(sample_project)
    assert saved["data_insufficient"] is True
    assert saved["size_band"] == "below_minimum"
    assert saved["usable_examples"] == 30
    # Another outcome does not warn about data.
    page.start_over()
    _click(qtbot, page, "needs_knowledge")
    _click(qtbot, page, "changing")
    assert not page.warning_frame.isVisible()


def test_the_dataset_is_read_again_after_it_changes(qtbot, page, sample_project) -> None:  # noqa: ANN001
    page.set_project(sample_project)
    assert page.stats.usable == 77
    page.hide()
    _keep_lines(sample_project, 10)
    page.show()
    qtbot.waitUntil(lambda: page.stats is not None and page.stats.usable == 10)
    assert "Below the minimum" in page.data_card.text_label.text()


def test_a_large_file_is_read_off_the_gui_thread(qtbot, page, sample_project) -> None:  # noqa: ANN001
    page.inline_read_bytes = 0
    page.set_project(sample_project)
    assert page.stats is None
    assert page.reader.is_running()
    assert "Reading it_support.jsonl" in page.data_card.text_label.text()
    qtbot.waitUntil(lambda: page.stats is not None, timeout=10_000)
    assert wait_for_all_threads(10_000)
    assert page.stats.usable == 77
    assert page.session.usable_examples == 77


def test_unreadable_and_missing_datasets(qtbot, page, sample_project, tmp_path) -> None:  # noqa: ANN001
    sample_project.dataset_path("train").write_bytes(b"\x00\x01binary\x00" * 50)
    page.set_project(sample_project)
    assert page.session.usable_examples is None
    assert "it_support.jsonl" in page.data_card.text_label.text()
    _click(qtbot, page, "needs_knowledge")
    _click(qtbot, page, "stable")
    assert "has not been checked yet" in page.reasons_label.text()

    empty = create_project(tmp_path / "Empty", "Empty")
    page.set_project(empty)
    assert "no training dataset yet" in page.data_card.text_label.text()
    assert page.session.usable_examples == 0
    _click(qtbot, page, "needs_knowledge")
    _click(qtbot, page, "stable")
    assert page.warning_frame.isVisible()
    assert "Size band: <b>Empty</b>" in page.warning_label.text()


def test_result_is_saved_and_restored_on_reopen(qtbot, page, sample_project) -> None:  # noqa: ANN001
    page.set_project(sample_project)
    for answer in ("general_knowledge", "needs_style", "prompt_works"):
        _click(qtbot, page, answer)
    manifest = json.loads(sample_project.manifest_path.read_text(encoding="utf-8"))
    assert manifest["name"] == "IT Support Sample"  # the rest of the manifest is kept
    saved = manifest["guide"]
    assert saved["outcome"] == "prompting"
    assert saved["path"] == [
        ["knowledge", "general_knowledge"],
        ["style", "needs_style"],
        ["prompting", "prompt_works"],
    ]
    assert saved["reasons"][0] == (
        page.guide.question("knowledge").answer("general_knowledge").because
    )
    assert saved["decided"].startswith("20")

    reopened = GuidePage()
    qtbot.addWidget(reopened, before_close_func=lambda w: w.shutdown())
    reopened.show()
    reopened.set_project(open_project(sample_project.folder))
    assert reopened.outcome_card.isVisible()
    assert reopened.outcome_title.text() == "Prompting"
    assert "Saved in the project" in reopened.decided_label.text()
    assert reopened.restart_button.isEnabled()
    assert "Recommendation: <b>Prompting</b>" in reopened.path_card.text_label.text()

    qtbot.mouseClick(reopened.restart_button, Qt.MouseButton.LeftButton)
    assert reopened.question_card.isVisible()
    assert reopened.session.current.id == "knowledge"
    assert "Saved in this project: Prompting" in reopened.saved_label.text()
    assert _saved(sample_project)["outcome"] == "prompting"  # kept until a new one
    _click(qtbot, reopened, "general_knowledge")
    _click(qtbot, reopened, "any_style")
    assert _saved(sample_project)["outcome"] == "base_model"


def test_saved_result_that_no_longer_fits_the_guide(qtbot, page, sample_project) -> None:  # noqa: ANN001
    sample_project.set(
        "guide",
        {"outcome": "rag", "path": [["knowledge", "renamed"]], "reasons": [], "decided": "x"},
    )
    page.set_project(open_project(sample_project.folder))
    assert page.question_card.isVisible()
    assert "changed since" in page.saved_label.text()
    assert "Retrieval (RAG)" in page.saved_label.text()
    sample_project.set("guide", "garbage")
    page.set_project(open_project(sample_project.folder))
    assert page.question_card.isVisible()
    assert not page.saved_label.isVisible()


def test_the_two_lists_are_available(qtbot, page, sample_project) -> None:  # noqa: ANN001
    page.set_project(sample_project)
    assert not page.lists_body.isVisible()
    qtbot.mouseClick(page.lists_toggle, Qt.MouseButton.LeftButton)
    assert page.lists_body.isVisible()
    for item in page.guide.fine_tune_when:
        assert item.title in page.fine_tune_when_label.text()
    for item in page.guide.not_necessary_when:
        assert item.title in page.not_necessary_label.text()
    qtbot.mouseClick(page.lists_toggle, Qt.MouseButton.LeftButton)
    assert not page.lists_body.isVisible()


def test_no_project(page) -> None:  # noqa: ANN001
    page.set_project(None)
    assert page.data_card.text_label.text() == "No project is open."
    page.answer("needs_knowledge")
    page.answer("stable")
    assert page.outcome_card.isVisible()  # works, nothing to save
    assert not page.decided_label.isVisible()


def test_a_broken_guide_file_is_explained(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    broken = tmp_path / "decision_guide.yaml"
    broken.write_text("start: nowhere\n", encoding="utf-8")
    monkeypatch.setattr("ftstudio.core.guide.loader.default_guide_path", lambda: broken)
    page = GuidePage()
    qtbot.addWidget(page, before_close_func=lambda w: w.shutdown())
    page.show()
    assert page.session is None
    assert page.error_card.isVisible()
    assert "questions: missing" in page.error_card.text_label.text()
    assert not page.question_card.isVisible()
    assert not page.back_button.isEnabled()
