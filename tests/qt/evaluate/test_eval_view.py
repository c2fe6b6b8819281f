"""The Evaluation tab with the real tiny model: run, summary, examples, saved report, rating."""

from __future__ import annotations

import dataclasses
import html
import json

import pytest
from PySide6.QtCore import Qt

from ftstudio.core.evaluation.results import load_report, report_path
from ftstudio.core.evaluation.settings import EVAL_SETTINGS
from ftstudio.qt.evaluate.eval_view import EvalView
from ftstudio.qt.evaluate.models import BETTER, better_side, format_metric, one_line
from ftstudio.qt.pages.evaluate import EvaluatePage
from tests.qt.evaluate.conftest import TrainedCopy

pytestmark = pytest.mark.slow

SETTINGS = dataclasses.replace(EVAL_SETTINGS, max_new_tokens=8)
METRICS = ("exact_match", "rouge_l", "bleu", "loss", "perplexity")


def evaluate(qtbot, view: EvalView, **options) -> None:  # noqa: ANN001, ANN003
    with qtbot.waitSignal(view.runner.sig_idle, timeout=180_000):
        assert view.run_evaluation(settings=SETTINGS, **options)
        assert view.is_busy()
        assert not view.run_button.isEnabled()
        assert view.progress.cancel_button.isVisibleTo(view)


def test_an_evaluation_fills_the_summary_and_the_table(
    qtbot, page: EvaluatePage, trained: TrainedCopy
) -> None:
    view = page.eval_view
    page.tabs.setCurrentWidget(view)
    assert view.results.currentWidget() is view.empty_label  # no report yet
    assert view.split_radio.isChecked()
    evaluate(qtbot, view, limit=2)

    report = load_report(trained.run_dir)
    assert report is not None
    assert view.report == report
    assert report.source == "validation split"
    assert report.settings.max_new_tokens == 8
    assert view.progress.status().startswith("Evaluated 2 examples")
    assert view.results.currentIndex() == 1
    # One row per example, with its texts.
    model = view.examples_model
    assert model.rowCount() == len(report.examples) == 2
    for row, example in enumerate(report.examples):
        cells = [model.index(row, column).data() for column in range(model.columnCount())]
        assert cells[0] == str(row + 1)
        assert cells[1] == str(example.line)
        assert cells[3] == one_line(example.reference)
        assert cells[4] == one_line(example.base_answer)
        assert cells[5] == one_line(example.tuned_answer)
        assert cells[6] == f"{example.base['rouge_l']:.3f}"
        assert cells[7] == f"{example.tuned['rouge_l']:.3f}"
    # The summary shows the report's values, the better one highlighted.
    for row, name in enumerate(METRICS):
        base, tuned = getattr(report.base, name), getattr(report.tuned, name)
        assert view.summary_value(name, "base") == format_metric(name, base)
        assert view.summary_value(name, "tuned") == format_metric(name, tuned)
        assert view.summary_table.item(row, 1).data(Qt.ItemDataRole.UserRole) == base
        assert view.summary_table.item(row, 2).data(Qt.ItemDataRole.UserRole) == tuned
        winner = better_side(name, base, tuned)
        if format_metric(name, base) == format_metric(name, tuned):
            winner = None
        for column, side in ((1, "base"), (2, "tuned")):
            highlighted = view.summary_table.item(row, column).background().color() == BETTER
            assert highlighted == (winner == side), name
    assert report.base.loss is not None
    assert report.tuned.loss is not None
    assert report.tuned.loss < report.base.loss  # the run learnt something
    # The forgetting verdict.
    check = report.forgetting
    assert check is not None
    assert view.forgetting_label.property("degraded") == check.degraded
    assert html.escape(check.message) in view.forgetting_label.text()
    # The first example is selected; the detail pane shows its full texts.
    first = report.examples[0]
    assert view.selected_example() == first
    detail = view.detail.toPlainText()
    assert first.reference.strip().splitlines()[0] in detail
    assert first.prompt[-1]["content"] in detail
    view.select_example(1)
    assert report.examples[1].reference.strip().splitlines()[0] in view.detail.toPlainText()


def test_the_detail_pane_rates_and_opens_the_example(
    qtbot, page: EvaluatePage, trained: TrainedCopy
) -> None:
    view = page.eval_view
    evaluate(qtbot, view, limit=1)
    example = view.report.examples[0]
    before = trained.preferences.read_text(encoding="utf-8").splitlines()
    button = next(b for b in view.rating.buttons if b.text() == "Reference is better")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    after = trained.preferences.read_text(encoding="utf-8").splitlines()
    assert len(after) == len(before) + 1
    record = json.loads(after[-1])
    assert record["prompt"] == [dict(message) for message in example.prompt]
    assert record["chosen"][0]["content"] == example.reference.strip()
    assert record["rejected"][0]["content"] == example.tuned_answer.strip()
    assert record["source"].startswith(f"evaluation: run {trained.run_dir.name}")

    # The example's line in the run's dataset file opens in the editor.
    revealed = []
    page.sig_reveal_example.connect(lambda path, line: revealed.append((path, line)))
    assert view.open_button.isEnabled()
    qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
    [(path, line)] = revealed
    assert line == example.line
    source = json.loads(path.read_text(encoding="utf-8").splitlines()[line - 1])
    assert source["messages"][-1]["content"] == example.reference


def test_a_file_can_be_evaluated_and_the_report_is_shown_again(
    qtbot, page: EvaluatePage, trained: TrainedCopy
) -> None:
    view = page.eval_view
    data = trained.project.folder / "datasets" / "train.jsonl"
    evaluate(qtbot, view, data=data, limit=2)
    assert view.file_radio.isChecked()
    report = view.report
    assert report is not None
    assert report.source == str(data)
    assert [e.line for e in report.examples] == [1, 2]
    assert report_path(trained.run_dir).is_file()

    # Another page on the same project shows the saved report.
    other = EvaluatePage()
    qtbot.addWidget(other)
    other.set_project(trained.project)
    assert other.eval_view.report == report
    assert other.eval_view.results.currentIndex() == 1
    assert other.eval_view.examples_model.rowCount() == 2
    assert other.eval_view.summary_value("rouge_l", "tuned") == format_metric(
        "rouge_l", report.tuned.rouge_l
    )
    assert "Saved evaluation: eval/report.json" in other.eval_view.progress.status()


def test_cancel_saves_nothing(qtbot, page: EvaluatePage, trained: TrainedCopy) -> None:
    view = page.eval_view
    view.limit_spin.setValue(50)
    view.tokens_spin.setValue(64)
    with qtbot.waitSignal(view.runner.sig_idle, timeout=120_000):
        assert view.run_evaluation()
        # One tab works at a time: the others wait.
        assert not page.playground.send_button.isEnabled()
        assert not page.playground.send("Hello?")
        assert page.playground.progress.status() == (
            "An evaluation is running: wait for it, or stop it first."
        )
        assert not page.losses_view.compute_button.isEnabled()
        assert not page.run_combo.isEnabled()
        qtbot.waitUntil(lambda: view.progress.status().startswith("Example"), timeout=120_000)
        qtbot.mouseClick(view.progress.cancel_button, Qt.MouseButton.LeftButton)
    assert view.progress.status() == "Cancelled; nothing was saved."
    assert not report_path(trained.run_dir).exists()
    assert view.report is None
    assert view.run_button.isEnabled()
    assert page.playground.send_button.isEnabled()
    assert page.losses_view.compute_button.isEnabled()


def test_a_missing_file_is_explained(page: EvaluatePage, trained: TrainedCopy) -> None:
    view = page.eval_view
    assert not view.run_evaluation(data=trained.project.folder / "gone.jsonl")
    assert view.progress.status().endswith("gone.jsonl does not exist. Choose another file.")
    assert not view.is_busy()
