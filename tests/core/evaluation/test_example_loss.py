"""Per-example losses: ranking, outliers, near-duplicates, leakage, saving."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ftstudio.core.evaluation.example_loss import (
    FLAG_DUPLICATE,
    FLAG_LEAKAGE,
    FLAG_OUTLIER,
    ExampleLoss,
    analyse_losses,
    load_losses,
    save_losses,
)


def _row(split: str, index: int, loss: float, line: int | None = None) -> ExampleLoss:
    return ExampleLoss(
        index=index,
        line=line if line is not None else index + 1,
        split=split,
        loss=loss,
        tokens=10,
        preview=f"{split} example {index}",
        dataset="/data/train.jsonl",
    )


def _texts(rows: list[ExampleLoss]) -> dict[tuple[str, int], str]:
    return {(row.split, row.index): f"user: question {row.split} {row.index}" for row in rows}


def test_ranked_by_loss_highest_first() -> None:
    rows = [_row("train", 0, 1.0), _row("train", 1, 3.0), _row("val", 0, 2.0)]
    ranked = analyse_losses(rows, _texts(rows))
    assert [(r.split, r.index) for r in ranked] == [("train", 1), ("val", 0), ("train", 0)]
    assert all(r.flags == () and r.detail == "" for r in ranked)


def test_ties_and_nan() -> None:
    rows = [_row("val", 1, 2.0), _row("train", 3, 2.0), _row("train", 0, math.nan)]
    ranked = analyse_losses(rows, {})
    assert [(r.split, r.index) for r in ranked] == [("train", 3), ("val", 1), ("train", 0)]


def test_outlier_flagged_with_many_rows() -> None:
    # Twelve training losses around 1.3 and one at 4.21.
    losses = [1.1, 1.2, 1.25, 1.3, 1.3, 1.3, 1.35, 1.4, 1.45, 1.5, 1.2, 1.4, 4.21]
    rows = [_row("train", i, loss) for i, loss in enumerate(losses)]
    ranked = analyse_losses(rows, _texts(rows))
    top = ranked[0]
    assert top.index == 12
    assert top.flags == (FLAG_OUTLIER,)
    assert top.detail == (
        "loss 4.21 is far above the training median 1.30: check this answer for mistakes"
    )
    assert all(not row.flags for row in ranked[1:])


def test_no_outlier_in_an_even_spread() -> None:
    rows = [_row("train", i, 1.0 + 0.1 * i) for i in range(20)]
    assert all(not row.flags for row in analyse_losses(rows, _texts(rows)))


def test_outlier_with_few_rows_uses_the_far_fence() -> None:
    # Q1 1.1, Q3 1.3 (linear interpolation over 1.0, 1.1, 1.2, 1.3, 9.0) -> fence 1.9.
    rows = [_row("val", i, loss) for i, loss in enumerate([1.0, 1.1, 1.2, 1.3, 9.0])]
    ranked = analyse_losses(rows, _texts(rows))
    assert ranked[0].flags == (FLAG_OUTLIER,)
    assert "validation median 1.20" in ranked[0].detail
    assert not any(row.flags for row in ranked[1:])
    # 1.85 stays under the fence.
    rows[-1] = _row("val", 4, 1.85)
    assert not any(row.flags for row in analyse_losses(rows, _texts(rows)))


def test_splits_are_judged_separately() -> None:
    # Validation losses are all higher than training ones; none is an outlier in its split.
    rows = [_row("train", i, 0.5 + 0.01 * i) for i in range(12)]
    rows += [_row("val", i, 2.0 + 0.01 * i) for i in range(4)]
    assert not any(row.flags for row in analyse_losses(rows, _texts(rows)))


def test_too_few_rows_are_never_outliers() -> None:
    rows = [_row("train", 0, 0.1), _row("train", 1, 0.1), _row("train", 2, 50.0)]
    assert not any(row.flags for row in analyse_losses(rows, _texts(rows)))


def test_near_duplicates_within_a_split() -> None:
    rows = [_row("train", 0, 1.0, line=12), _row("train", 1, 2.0, line=30), _row("train", 2, 3.0)]
    texts = {
        ("train", 0): "user: How do I reset my password?\nassistant: Use the portal.",
        ("train", 1): "USER: how do I reset my password??  assistant: use the portal",
        ("train", 2): "user: Something else entirely",
    }
    ranked = {row.index: row for row in analyse_losses(rows, texts)}
    assert ranked[0].flags == (FLAG_DUPLICATE,)
    assert ranked[0].detail == "near-duplicate of line 30"
    assert ranked[1].flags == (FLAG_DUPLICATE,)
    assert ranked[1].detail == "near-duplicate of line 12"
    assert ranked[2].flags == ()


def test_leakage_across_splits() -> None:
    rows = [_row("train", 0, 0.2, line=7), _row("val", 0, 0.3, line=40), _row("val", 1, 2.0)]
    texts = {
        ("train", 0): "user: What is VPN?\nassistant: A private tunnel.",
        ("val", 0): "user: what is VPN\nassistant: a private tunnel",
        ("val", 1): "user: different",
    }
    ranked = {(row.split, row.index): row for row in analyse_losses(rows, texts)}
    train, val = ranked["train", 0], ranked["val", 0]
    assert train.flags == (FLAG_LEAKAGE,)
    assert train.detail == "same as validation line 40: the validation loss is flattered"
    assert val.flags == (FLAG_LEAKAGE,)
    assert val.detail.startswith("same as training line 7:")
    assert ranked["val", 1].flags == ()


def test_several_flags_on_one_row() -> None:
    rows = [_row("train", i, 1.0 + 0.01 * i) for i in range(12)]
    rows.append(_row("train", 12, 9.0, line=99))
    rows.append(_row("val", 0, 1.0, line=5))
    texts = _texts(rows)
    texts["train", 12] = "user: same text"
    texts["train", 0] = "user: same text!"
    texts["val", 0] = "User: same text."
    top = analyse_losses(rows, texts)[0]
    assert top.index == 12
    assert top.flags == (FLAG_OUTLIER, FLAG_DUPLICATE, FLAG_LEAKAGE)
    assert top.detail.count("; ") == 2
    assert "near-duplicate of line 1" in top.detail
    assert "same as validation line 5" in top.detail


def test_rows_without_text_are_not_compared() -> None:
    rows = [_row("train", 0, 1.0), _row("val", 0, 1.0)]
    assert not any(row.flags for row in analyse_losses(rows, {}))


def test_save_and_load(tmp_path: Path) -> None:
    rows = [_row("train", i, 1.0 + i) for i in range(3)]
    rows.append(_row("val", 0, math.inf))
    ranked = analyse_losses(rows, _texts(rows))
    path = save_losses(ranked, tmp_path)
    assert path == tmp_path / "eval" / "example_losses.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4
    assert json.loads(lines[0])["loss"] == "inf"  # standard JSON
    assert json.loads(lines[1])["dataset"] == "/data/train.jsonl"
    assert load_losses(tmp_path) == ranked


def test_load_missing_and_broken(tmp_path: Path) -> None:
    assert load_losses(tmp_path) is None
    path = save_losses([_row("train", 0, 1.0)], tmp_path)
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"index": 1, "line": 2, "split": "train", "tokens": 3}\n')
    with pytest.raises(ValueError, match=r'line 2: "loss" is missing or not a number') as caught:
        load_losses(tmp_path)
    assert str(path) in str(caught.value)
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        load_losses(tmp_path)
