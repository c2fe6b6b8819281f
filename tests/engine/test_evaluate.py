"""run_evaluation on a copy of a real trained run: report, metrics, losses, cancel, errors."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from ftstudio.core.evaluation.metrics import example_scores, perplexity, score_answers
from ftstudio.core.evaluation.results import load_report, report_path
from ftstudio.core.evaluation.settings import GenerationSettings
from ftstudio.engine.evaluate import (
    VALIDATION_SOURCE,
    EvaluationCancelled,
    EvaluationError,
    question_and_answer,
    run_evaluation,
)

SHORT = GenerationSettings(temperature=0.0, top_p=1.0, max_new_tokens=8, seed=0)


def copy_run(trained_run: Path, tmp_path: Path) -> Path:
    """A private copy of the trained run's whole project; returns the copied run folder."""
    project = trained_run.parent.parent
    shutil.copytree(project, tmp_path / "project")
    return tmp_path / "project" / "runs" / trained_run.name


@pytest.fixture
def run(trained_run: Path, tmp_path: Path) -> Path:
    return copy_run(trained_run, tmp_path)


def test_evaluation_is_saved_with_the_run_and_reloads(run: Path) -> None:
    progress: list[tuple[int, int, str]] = []
    report = run_evaluation(
        run, settings=SHORT, limit=2, on_progress=lambda *args: progress.append(args)
    )
    assert report_path(run).is_file()
    assert load_report(run) == report
    assert report.source == VALIDATION_SOURCE
    assert report.run_id == run.name
    assert report.adapter == str(run / "adapter")
    assert report.settings == SHORT
    assert len(report.examples) == 2
    assert any("first 2 of" in note for note in report.notes)
    # Progress counts steps: one per example, one for the forgetting check.
    assert progress[-1][:2] == (3, 3)
    assert any(text == "Example 2 of 2: generating (tuned)" for _, _, text in progress)
    assert all(done <= total == 3 for done, total, _ in progress)


def test_metrics_agree_with_the_core_metrics_on_the_saved_answers(run: Path) -> None:
    report = run_evaluation(run, settings=SHORT, limit=3)
    references = [e.reference for e in report.examples]
    for side, answers in (
        (report.base, [e.base_answer for e in report.examples]),
        (report.tuned, [e.tuned_answer for e in report.examples]),
    ):
        scores = score_answers(answers, references)
        assert (side.exact_match, side.rouge_l, side.bleu) == (
            scores.exact_match,
            scores.rouge_l,
            scores.bleu,
        )
        assert side.loss is not None
        assert side.loss > 0
        assert side.perplexity == pytest.approx(math.exp(side.loss))
        assert side.perplexity == perplexity(side.loss)
    for example in report.examples:
        assert example.base == example_scores(example.base_answer, example.reference)
        assert example.tuned == example_scores(example.tuned_answer, example.reference)
    assert report.base.loss != pytest.approx(report.tuned.loss, rel=1e-4)


def test_the_loss_covers_only_the_reference_answers(run: Path) -> None:
    from ftstudio.engine.inference import ChatModel

    report = run_evaluation(run, settings=SHORT, limit=2)
    model = ChatModel.load(run)
    try:
        total, count = 0.0, 0
        for example in report.examples:
            messages = [*example.prompt, {"role": "assistant", "content": example.reference}]
            loss_sum, tokens = model.answer_loss(messages, tuned=True)
            total, count = total + loss_sum, count + tokens
    finally:
        model.close()
    assert report.tuned.loss == pytest.approx(total / count, rel=1e-6)  # token-weighted


def test_examples_link_to_their_lines_in_the_original_dataset(run: Path) -> None:
    report = run_evaluation(run, settings=SHORT, limit=3)
    dataset = run.parent.parent / "datasets" / "train.jsonl"
    lines = dataset.read_text(encoding="utf-8").splitlines()
    assert any(str(dataset) in note for note in report.notes)
    for example in report.examples:
        assert example.line > 0
        data = json.loads(lines[example.line - 1])
        assert data["messages"][-1]["content"] == example.reference
        assert tuple(data["messages"][:-1]) == example.prompt


def test_the_forgetting_check_compares_both_models_on_general_prompts(run: Path) -> None:
    report = run_evaluation(run, settings=SHORT, limit=1)
    check = report.forgetting
    assert check is not None
    assert check.base_perplexity > 1
    assert check.tuned_perplexity > 1
    assert check.change == pytest.approx(check.tuned_perplexity / check.base_perplexity - 1)
    assert check.degraded == (check.change > check.threshold)
    assert "general prompts" in check.message


def test_a_chosen_file_in_another_format_is_evaluated(run: Path, tmp_path: Path) -> None:
    alpaca = tmp_path / "questions.json"
    alpaca.write_text(
        json.dumps(
            [
                {"instruction": "How do I restart my laptop?", "input": "", "output": "Use Start."},
                {"instruction": "Reset my password", "input": "", "output": "Open the portal."},
            ]
        ),
        encoding="utf-8",
    )
    report = run_evaluation(run, data=alpaca, settings=SHORT)
    assert report.source == str(alpaca.resolve())
    assert [e.reference for e in report.examples] == ["Use Start.", "Open the portal."]
    assert report.examples[0].prompt[-1] == {
        "role": "user",
        "content": "How do I restart my laptop?",
    }
    assert load_report(run) == report


def test_examples_without_a_reference_answer_are_skipped_with_a_note(
    run: Path, tmp_path: Path
) -> None:
    chats = tmp_path / "chats.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hi."}]},
        {"messages": [{"role": "user", "content": "Only a question"}]},
    ]
    chats.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    report = run_evaluation(run, data=chats, settings=SHORT)
    assert [(e.line, e.reference) for e in report.examples] == [(1, "Hi.")]
    assert any("1 example(s)" in note and "skipped" in note for note in report.notes)


def test_cancel_raises_and_writes_nothing(run: Path) -> None:
    with pytest.raises(EvaluationCancelled):
        run_evaluation(run, settings=SHORT, cancel=lambda: True)
    labels: list[str] = []

    def cancel() -> bool:
        return any("generating (tuned)" in label for label in labels)

    with pytest.raises(EvaluationCancelled):
        run_evaluation(
            run, settings=SHORT, on_progress=lambda *args: labels.append(args[2]), cancel=cancel
        )
    assert not (run / "eval").exists()


def test_a_folder_that_is_not_a_run_is_an_evaluation_error(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="not a training run folder") as caught:
        run_evaluation(tmp_path)
    assert caught.value.bad_input


def test_a_run_without_validation_examples_asks_for_a_file(run: Path) -> None:
    (run / "data" / "validation.jsonl").unlink()
    with pytest.raises(EvaluationError, match="no validation examples"):
        run_evaluation(run, settings=SHORT)
    with pytest.raises(EvaluationError, match="does not exist"):
        run_evaluation(run, data=run / "missing.jsonl")


def test_question_and_answer_shapes() -> None:
    user = {"role": "user", "content": "Q"}
    answer = {"role": "assistant", "content": "A"}
    assert question_and_answer({"messages": [user, answer]}) == ((user,), "A")
    assert question_and_answer({"prompt": [user], "completion": [answer]}) == ((user,), "A")
    pair = {"prompt": [user], "chosen": [answer], "rejected": [{**answer, "content": "B"}]}
    assert question_and_answer(pair) == ((user,), "A")
    assert question_and_answer({"prompt": "Q", "completion": "A"}) is None
    assert question_and_answer({"messages": [answer]}) is None
    assert question_and_answer({"messages": [user, answer, user]}) is None
