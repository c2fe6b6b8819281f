"""compute_example_losses on a copy of a real trained run: values, lines, flags, saving."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ftstudio.core.evaluation.example_loss import (
    FLAG_DUPLICATE,
    FLAG_LEAKAGE,
    load_losses,
    losses_path,
)
from ftstudio.engine.evaluate import EvaluationCancelled, EvaluationError
from ftstudio.engine.example_loss import compute_example_losses


@pytest.fixture
def run(trained_run: Path, tmp_path: Path) -> Path:
    """A private copy of the trained run's project; returns the copied run folder."""
    shutil.copytree(trained_run.parent.parent, tmp_path / "project")
    return tmp_path / "project" / "runs" / trained_run.name


def copy_lines(run: Path, split: str) -> list[str]:
    name = "train.jsonl" if split == "train" else "validation.jsonl"
    return (run / "data" / name).read_text(encoding="utf-8").splitlines()


def test_every_example_is_measured_ranked_saved_and_linked_to_its_line(run: Path) -> None:
    from ftstudio.engine.inference import ChatModel

    progress: list[tuple[int, int, str]] = []
    rows = compute_example_losses(run, on_progress=lambda *args: progress.append(args))
    train, val = copy_lines(run, "train"), copy_lines(run, "val")
    assert sorted((r.split, r.index) for r in rows) == sorted(
        [("train", i) for i in range(len(train))] + [("val", i) for i in range(len(val))]
    )
    losses = [r.loss for r in rows]
    assert losses == sorted(losses, reverse=True)
    assert all(r.tokens > 0 for r in rows)
    assert load_losses(run) == rows
    assert losses_path(run).is_file()
    assert progress[-1][:2] == (len(rows), len(rows))
    # A row's loss is the mean over the example's trained tokens.
    row = rows[-1]
    data = json.loads((train if row.split == "train" else val)[row.index])
    model = ChatModel.load(run)
    try:
        loss_sum, count = model.example_loss(data, tuned=True)
    finally:
        model.close()
    assert (row.loss, row.tokens) == (pytest.approx(loss_sum / count, rel=1e-6), count)
    first_user = next(m["content"] for m in data["messages"] if m["role"] == "user")
    assert row.preview == " ".join(first_user.split())[:120]
    # Each row points to its example's line in the original dataset file.
    dataset = run.parent.parent / "datasets" / "train.jsonl"
    original = dataset.read_text(encoding="utf-8").splitlines()
    for each in rows:
        assert each.dataset == str(dataset)
        assert original[each.line - 1] == copy_lines(run, each.split)[each.index]


def test_an_example_no_longer_in_the_dataset_points_to_the_runs_copy(run: Path) -> None:
    dataset = run.parent.parent / "datasets" / "train.jsonl"
    first_train = copy_lines(run, "train")[0]
    kept = [
        line for line in dataset.read_text(encoding="utf-8").splitlines() if line != first_train
    ]
    dataset.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    rows = compute_example_losses(run)
    (moved,) = [r for r in rows if r.dataset != str(dataset)]
    assert (moved.split, moved.index, moved.line) == ("train", 0, 1)
    assert moved.dataset == str(run / "data" / "train.jsonl")


def test_duplicates_and_leakage_are_flagged(run: Path) -> None:
    val = copy_lines(run, "val")
    train_file = run / "data" / "train.jsonl"
    train = copy_lines(run, "train")
    # A validation example copied into training (leakage), and a training one twice.
    train_file.write_text(
        "".join(line + "\n" for line in [*train, val[0], train[1]]), encoding="utf-8"
    )
    rows = compute_example_losses(run)
    flagged = {(r.split, r.index): r for r in rows if r.flags}
    assert FLAG_LEAKAGE in flagged[("val", 0)].flags
    assert "validation loss is flattered" in flagged[("val", 0)].detail
    assert FLAG_LEAKAGE in flagged[("train", len(train))].flags
    assert FLAG_DUPLICATE in flagged[("train", 1)].flags
    assert FLAG_DUPLICATE in flagged[("train", len(train) + 1)].flags


def test_cancel_raises_and_saves_nothing(run: Path) -> None:
    calls: list[str] = []

    def cancel() -> bool:
        calls.append("polled")
        return len(calls) > 3

    with pytest.raises(EvaluationCancelled):
        compute_example_losses(run, cancel=cancel)
    assert not losses_path(run).exists()


def test_a_folder_that_is_not_a_run_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="not a training run folder"):
        compute_example_losses(tmp_path)
