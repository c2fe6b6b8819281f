"""The playground with the real tiny model: streaming, seeds, stop, ratings to DPO pairs."""

from __future__ import annotations

import json
import threading

import pytest
from PySide6.QtCore import Qt

from ftstudio.core.dataset.formats import load_dataset
from ftstudio.core.dataset.validate import validate_dataset
from ftstudio.core.evaluation.settings import GenerationSettings
from ftstudio.qt.evaluate.playground import PlaygroundView
from ftstudio.qt.evaluate.rating import EditAnswerDialog
from ftstudio.qt.evaluate.transcript import DONE, STOPPED
from ftstudio.qt.evaluate.workers import ChatAnswers
from ftstudio.qt.pages.evaluate import EvaluatePage
from tests.qt.evaluate.conftest import TrainedCopy

pytestmark = pytest.mark.slow

QUESTION = "My laptop will not connect to the office Wi-Fi. What should I try?"
SETTINGS = GenerationSettings(temperature=0.9, top_p=0.95, max_new_tokens=12, seed=7)


def ask(qtbot, view: PlaygroundView, question: str = QUESTION) -> ChatAnswers:  # noqa: ANN001
    """Type ``question``, press Ctrl+Enter, wait for both answers."""
    qtbot.keyClicks(view.prompt_edit, question)
    with qtbot.waitSignal(view.sig_answered, timeout=120_000) as answered:
        qtbot.keyClick(view.prompt_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        assert view.is_busy()
        assert not view.send_button.isEnabled()
        assert view.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not view.is_busy(), timeout=10_000)
    answers = answered.args[0]
    assert isinstance(answers, ChatAnswers)
    return answers


def lines_of(path) -> list[str]:  # noqa: ANN001
    return path.read_text(encoding="utf-8").splitlines()


def test_both_answers_stream_and_the_same_seed_answers_alike(
    qtbot, page: EvaluatePage, trained: TrainedCopy
) -> None:
    view = page.playground
    assert page.select_run(trained.run_dir)
    assert page.current_adapter().label == "Final adapter"
    assert view.tuned_pane.title_label.text() == f"Tuned: {trained.run_dir.name} · final adapter"
    view.set_settings(SETTINGS)
    assert view.settings() == SETTINGS
    partials: dict[str, list[str]] = {"base": [], "tuned": []}
    threads: set[str] = set()

    def on_partial(side: str, text: str) -> None:
        partials[side].append(text)
        threads.add(threading.current_thread().name)

    view.sig_partial.connect(on_partial)
    first = ask(qtbot, view)

    assert threads == {threading.main_thread().name}
    for side, answer in (("base", first.base), ("tuned", first.tuned)):
        seen = partials[side]
        assert answer, f"the {side} model gave no answer"
        assert all(answer.startswith(text) for text in seen), "a partial is not a prefix"
        assert seen[-1] == answer, "the streamed pieces do not add up to the answer"
        assert any(0 < len(text) < len(answer) for text in seen), f"{side} did not stream"
    assert view.base_pane.last_answer() == first.base
    assert view.tuned_pane.last_answer() == first.tuned
    assert [turn.state for turn in view.tuned_pane.turns] == [DONE]
    assert first.tuned in view.tuned_pane.text()
    assert view.prompt_edit.toPlainText() == ""
    assert view.progress.status().startswith("Both models answered in ")
    model = view.holder._model
    assert model is not None

    # A new conversation, same prompt, same seed and settings: the same answers, and
    # the model is not loaded again.
    view.clear()
    assert view.base_pane.turns == []
    again = ask(qtbot, view)
    assert again == first
    assert view.holder._model is model

    # A follow-up goes on with each side's own conversation.
    follow = ask(qtbot, view, "And if that does not help?")
    assert len(view.base_pane.turns) == 2
    assert view._conversations["base"][-2] == {"role": "assistant", "content": first.base}
    assert view._conversations["tuned"][-2] == {"role": "assistant", "content": first.tuned}
    assert view.tuned_pane.last_answer() == follow.tuned


def test_stop_cancels_and_leaves_the_exchange_out(
    qtbot, page: EvaluatePage, trained: TrainedCopy
) -> None:
    view = page.playground
    view.set_settings(GenerationSettings(temperature=0.8, max_new_tokens=4000, seed=1))
    qtbot.keyClicks(view.prompt_edit, QUESTION)
    assert view.send()
    assert not page.run_combo.isEnabled()  # no other run while answering
    assert not page.adapter_combo.isEnabled()
    qtbot.waitUntil(lambda: len(view.base_pane.last_answer()) > 0, timeout=120_000)
    with qtbot.waitSignal(view.runner.sig_idle, timeout=30_000):
        qtbot.mouseClick(view.stop_button, Qt.MouseButton.LeftButton)
    assert not view.is_busy()
    assert view.progress.status() == "Stopped."
    assert [turn.state for turn in view.base_pane.turns] == [STOPPED]
    assert [turn.state for turn in view.tuned_pane.turns] == [STOPPED]
    assert 0 < len(view.base_pane.last_answer()) < 4000
    assert "Stopped." in view.base_pane.text()
    assert not view.rating.buttons[0].isEnabled()  # nothing to rate
    assert view.send_button.isEnabled()
    assert page.run_combo.isEnabled()

    # Esc stops too; the stopped exchanges are not part of the next conversation.
    assert view.send("Second try")
    qtbot.waitUntil(lambda: len(view.base_pane.last_answer()) > 0, timeout=60_000)
    qtbot.keyClick(view.prompt_edit, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not view.is_busy(), timeout=30_000)
    assert view.base_pane.turns[-1].state == STOPPED
    view.set_settings(GenerationSettings(temperature=0.0, max_new_tokens=4, seed=1))
    ask(qtbot, view, "Third")
    assert [m["role"] for m in view._conversations["base"]] == ["user"]


def test_tuned_is_better_appends_one_valid_preference_pair(
    qtbot, page: EvaluatePage, trained: TrainedCopy
) -> None:
    view = page.playground
    view.set_settings(SETTINGS)
    view.system_edit.setPlainText("You are the helpdesk assistant.")
    before = lines_of(trained.preferences)
    answers = ask(qtbot, view)
    assert answers.base.strip() != answers.tuned.strip()
    revealed = []
    page.sig_reveal_example.connect(lambda path, line: revealed.append((path, line)))
    tuned_button = next(b for b in view.rating.buttons if b.text() == "Tuned is better")
    assert tuned_button.isEnabled()
    qtbot.mouseClick(tuned_button, Qt.MouseButton.LeftButton)

    after = lines_of(trained.preferences)
    assert after[: len(before)] == before
    assert len(after) == len(before) + 1
    record = json.loads(after[-1])
    assert record["prompt"] == [
        {"role": "system", "content": "You are the helpdesk assistant."},
        {"role": "user", "content": QUESTION},
    ]
    assert record["chosen"] == [{"role": "assistant", "content": answers.tuned.strip()}]
    assert record["rejected"] == [{"role": "assistant", "content": answers.base.strip()}]
    assert record["source"].startswith(f"playground: run {trained.run_dir.name}, final adapter")
    line = len(after)
    assert view.rating.last_saved == (trained.preferences, line)
    assert f"Saved as line {line} of datasets/preferences.jsonl" in (
        view.rating.status_label.text()
    )
    # The dataset studio reads the file without errors.
    dataset = load_dataset(trained.preferences)
    assert dataset.kind == "preference"
    assert len(dataset.records) == line
    errors = [i for i in validate_dataset(dataset) if i.severity == "error"]
    assert errors == []
    # The link in the message opens the pair on the Dataset page.
    view.rating.status_label.linkActivated.emit("reveal")
    assert revealed == [(trained.preferences, line)]


def test_edit_saves_the_corrected_answer_as_chosen(
    qtbot, page: EvaluatePage, trained: TrainedCopy
) -> None:
    view = page.playground
    view.set_settings(SETTINGS)
    answers = ask(qtbot, view)
    qtbot.mouseClick(view.rating.edit_button, Qt.MouseButton.LeftButton)
    dialog = view.rating.dialog
    assert isinstance(dialog, EditAnswerDialog)
    assert dialog.isVisible()
    assert dialog.chosen_text() == answers.tuned  # starts from the tuned answer
    assert dialog.rejected_candidate().key == "tuned"
    dialog.set_chosen_text("Forget the network, then join it again with your usual sign-in.")
    qtbot.mouseClick(
        dialog.buttons.button(dialog.buttons.StandardButton.Save), Qt.MouseButton.LeftButton
    )
    record = json.loads(lines_of(trained.preferences)[-1])
    assert record["chosen"][0]["content"] == (
        "Forget the network, then join it again with your usual sign-in."
    )
    assert record["rejected"][0]["content"] == answers.tuned.strip()
    assert record["prompt"] == [{"role": "user", "content": QUESTION}]

    # Starting from the base answer rejects the base answer.
    dialog = view.rating.edit()
    assert dialog is not None
    dialog.start_combo.setCurrentIndex(dialog.start_combo.findData("base"))
    assert dialog.chosen_text() == answers.base
    assert dialog.rejected_candidate().key == "base"
    dialog.set_chosen_text("Restart the laptop first.")
    dialog.accept()
    record = json.loads(lines_of(trained.preferences)[-1])
    assert record["chosen"][0]["content"] == "Restart the laptop first."
    assert record["rejected"][0]["content"] == answers.base.strip()


def test_identical_answers_are_refused(qtbot, page: EvaluatePage, trained: TrainedCopy) -> None:
    view = page.playground
    view.set_settings(SETTINGS)
    ask(qtbot, view)
    before = trained.preferences.read_bytes()
    dialog = view.rating.edit()
    assert dialog is not None
    dialog.accept()  # saved unedited: chosen == rejected
    assert trained.preferences.read_bytes() == before
    assert view.rating.status_label.text().startswith("Both answers are the same")
    assert "b3261e" in view.rating.status_label.styleSheet()
