"""The Evaluate page's table models and formatting helpers."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt

from ftstudio.core.evaluation.example_loss import FLAG_DUPLICATE, FLAG_OUTLIER, ExampleLoss
from ftstudio.core.evaluation.results import EvalExample
from ftstudio.qt.evaluate.models import (
    BETTER,
    FLAG_COLOURS,
    EvalExamplesModel,
    ExampleLossModel,
    FlaggedFilter,
    better_side,
    format_metric,
    last_user_message,
    one_line,
)


def test_metrics_read_as_people_expect() -> None:
    assert format_metric("exact_match", 0.25) == "25.0 %"
    assert format_metric("rouge_l", 0.41234) == "0.412"
    assert format_metric("bleu", 12.345) == "12.3"
    assert format_metric("loss", 1.234567) == "1.2346"
    assert format_metric("perplexity", 1234.5) == "1,234.50"
    assert format_metric("perplexity", math.inf) == "∞"
    assert format_metric("loss", None) == "n/a"
    assert format_metric("loss", math.nan) == "n/a"


def test_the_better_side_depends_on_the_metric() -> None:
    assert better_side("rouge_l", 0.2, 0.3) == "tuned"
    assert better_side("bleu", 30.0, 10.0) == "base"
    assert better_side("loss", 2.0, 1.5) == "tuned"
    assert better_side("perplexity", 5.0, 9.0) == "base"
    assert better_side("exact_match", 0.5, 0.5) is None
    assert better_side("loss", None, 1.0) is None


def test_texts_fit_one_line() -> None:
    assert one_line("a\n  b\tc") == "a b c"
    assert one_line("x" * 10, limit=5) == "xxxx…"
    prompt = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "second"},
    ]
    assert last_user_message(prompt) == "second"
    assert last_user_message([]) == ""


def test_the_examples_model_highlights_the_better_rouge() -> None:
    model = EvalExamplesModel()
    example = EvalExample(
        index=4,
        line=12,
        prompt=({"role": "user", "content": "How do I\nreset it?"},),
        reference="Click Reset.",
        base_answer="No idea.",
        tuned_answer="Click Reset.",
        base={"exact_match": 0.0, "rouge_l": 0.0, "bleu": 0.0},
        tuned={"exact_match": 1.0, "rouge_l": 1.0, "bleu": 100.0},
    )
    model.set_examples([example])
    cells = [model.index(0, c).data() for c in range(model.columnCount())]
    assert cells == ["5", "12", "How do I reset it?", "Click Reset.", "No idea.", "Click Reset.",
                     "0.000", "1.000"]  # fmt: skip
    assert model.index(0, 7).data(Qt.ItemDataRole.BackgroundRole) == BETTER
    assert model.index(0, 6).data(Qt.ItemDataRole.BackgroundRole) is None
    assert model.index(0, 0).data(Qt.ItemDataRole.UserRole) is example


def test_flagged_rows_are_coloured_and_can_be_shown_alone() -> None:
    rows = [
        ExampleLoss(0, 3, "train", 4.2, 50, "Why?", (FLAG_OUTLIER,), "loss 4.20 is far above"),
        ExampleLoss(1, 7, "val", 1.1, 40, "Fine"),
        ExampleLoss(2, 9, "train", 1.0, 30, "Again", (FLAG_DUPLICATE,), "near-duplicate of line 2"),
    ]
    model = ExampleLossModel()
    model.set_rows(rows)
    assert [model.index(0, c).data() for c in range(model.columnCount())] == [
        "1", "training", "3", "4.2000", "50", "outlier", "loss 4.20 is far above · Why?",
    ]  # fmt: skip
    assert model.index(1, 1).data() == "validation"
    assert model.index(0, 5).data(Qt.ItemDataRole.BackgroundRole) == FLAG_COLOURS[FLAG_OUTLIER]
    assert model.index(2, 5).data() == "near-duplicate"
    assert model.index(1, 5).data(Qt.ItemDataRole.BackgroundRole) is None
    proxy = FlaggedFilter()
    proxy.setSourceModel(model)
    assert proxy.rowCount() == 3
    proxy.set_flagged_only(True)
    assert [proxy.index(r, 2).data() for r in range(proxy.rowCount())] == ["3", "9"]
