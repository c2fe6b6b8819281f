"""The Example losses tab with the real tiny model: compute, rank, flag, filter, reveal."""

from __future__ import annotations

import json
import math

import pytest
from PySide6.QtCore import Qt

from ftstudio.core.evaluation.example_loss import FLAG_LEAKAGE, load_losses
from ftstudio.core.runs import RunPaths
from ftstudio.qt.evaluate.losses_view import LossesView
from ftstudio.qt.evaluate.models import FLAG_COLOURS
from ftstudio.qt.pages.evaluate import EvaluatePage
from tests.qt.evaluate.conftest import TrainedCopy

pytestmark = pytest.mark.slow


def compute(qtbot, view: LossesView) -> None:  # noqa: ANN001
    with qtbot.waitSignal(view.runner.sig_idle, timeout=180_000):
        assert view.compute()
        assert view.is_busy()
        assert not view.compute_button.isEnabled()


def leak_one_validation_example(trained: TrainedCopy) -> None:
    """Copy the run's first validation example into its training copy (train/val leakage)."""
    paths = RunPaths(trained.run_dir)
    leaked = paths.val_file.read_text(encoding="utf-8").splitlines()[0]
    with paths.train_file.open("a", encoding="utf-8") as handle:
        handle.write(leaked + "\n")


def test_losses_are_ranked_flagged_and_filtered(
    qtbot, page: EvaluatePage, trained: TrainedCopy
) -> None:
    leak_one_validation_example(trained)
    view = page.losses_view
    page.tabs.setCurrentWidget(view)
    assert view.stack.currentWidget() is view.empty_label
    compute(qtbot, view)

    rows = load_losses(trained.run_dir)
    assert rows is not None
    paths = RunPaths(trained.run_dir)
    examples = sum(
        len(path.read_text(encoding="utf-8").splitlines())
        for path in (paths.train_file, paths.val_file)
    )
    assert len(rows) == examples == view.model.rowCount()
    assert view.visible_rows() == rows
    losses = [row.loss for row in rows if not math.isnan(row.loss)]
    assert losses == sorted(losses, reverse=True)
    assert view.model.index(0, 0).data() == "1"
    assert view.model.index(0, 3).data() == f"{rows[0].loss:.4f}"
    assert view.progress.status().startswith(f"Ranked {len(rows)} examples by loss")

    leaked = [row for row in rows if FLAG_LEAKAGE in row.flags]
    assert {row.split for row in leaked} == {"train", "val"}
    flagged = [row for row in rows if row.flags]
    assert view.count_label.text() == f"{len(rows)} examples · {len(flagged)} flagged"
    position = rows.index(leaked[0])
    flags_cell = view.model.index(position, 5)
    assert "leakage" in flags_cell.data()
    assert flags_cell.data(Qt.ItemDataRole.BackgroundRole) in FLAG_COLOURS.values()
    assert "validation loss is flattered" in view.model.index(position, 6).data()

    qtbot.mouseClick(view.flagged_box, Qt.MouseButton.LeftButton)
    assert view.flagged_box.isChecked()
    assert view.visible_rows() == flagged
    view.set_flagged_only(False)
    assert view.visible_rows() == rows


def test_a_row_opens_its_example_in_the_editor(
    qtbot, page: EvaluatePage, trained: TrainedCopy
) -> None:
    view = page.losses_view
    page.tabs.setCurrentWidget(view)
    compute(qtbot, view)
    revealed: list[tuple[object, int]] = []
    page.sig_reveal_example.connect(lambda path, line: revealed.append((path, line)))
    assert not view.open_button.isEnabled()

    # Double-click the third row.
    index = view.proxy.index(2, 2)
    rect = view.table.visualRect(index)
    # (A view reacts to a double-click that follows a click, as a real one does.)
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    row = view.visible_rows()[2]
    [(path, line)] = revealed
    assert (path, line) == (type(path)(row.dataset), row.line)
    assert line > 0
    # The line holds that example: its first question is the row's preview.
    record = json.loads(path.read_text(encoding="utf-8").splitlines()[line - 1])
    question = next(m["content"] for m in record["messages"] if m["role"] == "user")
    assert " ".join(question.split()).startswith(row.preview.rstrip("…"))

    # "Open in editor" does the same for the selection.
    view.table.selectRow(0)
    assert view.open_button.isEnabled()
    qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
    first = view.visible_rows()[0]
    assert revealed[-1] == (type(path)(first.dataset), first.line)


def test_saved_losses_are_shown_again(qtbot, page: EvaluatePage, trained: TrainedCopy) -> None:
    compute(qtbot, page.losses_view)
    other = EvaluatePage()
    qtbot.addWidget(other)
    other.set_project(trained.project)
    assert other.losses_view.model.rows == page.losses_view.model.rows
    assert other.losses_view.stack.currentWidget() is other.losses_view.table
    assert other.losses_view.compute_button.text() == "Compute again"
