"""The Train page monitoring a DPO run: the events a DPO run emits, fed as the runner
delivers them (``runner.sig_event``, in the GUI thread), without training a model."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ftstudio.core.events import Evaluated, Finished, Started, StepLogged
from ftstudio.core.project import Project
from ftstudio.qt.pages.train import PLOTS_HEIGHT, REWARD_PLOTS_HEIGHT, TrainPage

TOTAL = 12


def dpo_events(steps: int = TOTAL) -> list[object]:
    """What a 12-step DPO run reports: the start, a step each with rewards, evaluations."""
    events: list[object] = [
        Started(
            run_id="r1",
            run_dir="/runs/r1",
            name="dpo",
            method="lora",
            total_steps=TOTAL,
            device="cpu",
            train_examples=25,
            val_examples=3,
        )
    ]
    for n in range(1, steps + 1):
        events.append(
            StepLogged(
                step=n,
                total_steps=TOTAL,
                epoch=n / TOTAL,
                loss=0.693 - 0.03 * n,
                learning_rate=5e-6,
                grad_norm=0.4,
                tokens_per_second=800.0,
                memory_gb=1.2,
                peak_memory_gb=1.3,
                elapsed_s=n * 0.5,
                eta_s=(TOTAL - n) * 0.5,
                metrics={
                    "rewards/chosen": 0.01 * n,
                    "rewards/rejected": -0.02 * n,
                    "rewards/margins": 0.03 * n,
                    "rewards/accuracies": min(1.0, 0.5 + 0.05 * n),
                },
            )
        )
        if n % 4 == 0:
            events.append(
                Evaluated(
                    step=n,
                    total_steps=TOTAL,
                    epoch=n / TOTAL,
                    eval_loss=0.68 - 0.02 * n,
                    best_eval_loss=0.68 - 0.02 * n,
                    is_best=True,
                )
            )
    return events


@pytest.fixture
def page(qtbot, small_project: Project) -> TrainPage:  # noqa: ANN001
    widget = TrainPage()
    qtbot.addWidget(widget)
    widget.set_project(small_project)
    widget.resize(1280, 1600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_a_dpo_run_shows_reward_curves_and_the_latest_margin(
    qtbot,  # noqa: ANN001
    page: TrainPage,
    tmp_path: Path,
) -> None:
    plots = page.ensure_plots()
    assert not plots.rewards_shown()
    assert page.plots_holder.minimumHeight() == PLOTS_HEIGHT
    plots.start()  # what starting a run does
    for event in dpo_events():
        page.runner.sig_event.emit(event)
    # Drawn by the redraw timer, a few plots per tick, as the loss.
    qtbot.waitUntil(lambda: plots.rewards_shown() and plots._dirty() == [], timeout=3000)
    assert plots.point_count("rewards/margins") == TOTAL
    assert plots.point_count("rewards/accuracies") == TOTAL
    assert plots.point_count("loss") == TOTAL
    assert page.plots_holder.minimumHeight() == REWARD_PLOTS_HEIGHT
    text = page.progress_label.text()
    assert text.startswith(f"Step {TOTAL} of {TOTAL}")
    assert text.endswith("validation loss 0.5200 · reward margin 0.360 · accuracy 100%")
    log = page.log.toPlainText()
    assert "reward margin 0.030 · accuracy 55%" in log  # the first step's line
    page.runner.sig_event.emit(
        Finished(
            run_id="r1",
            run_dir="/runs/r1",
            status="finished",
            step=TOTAL,
            total_steps=TOTAL,
            final_loss=0.333,
            reason="Training finished.",
        )
    )
    plots.stop()
    assert page.status_label.text() == (
        "Training finished. Last step: reward margin 0.360 · accuracy 100%."
    )

    rows = list(csv.DictReader(page.export_csv(tmp_path / "m.csv").open(encoding="utf-8")))
    assert len(rows) == TOTAL
    assert float(rows[-1]["rewards/margins"]) == pytest.approx(0.36)
    assert float(rows[-1]["rewards/accuracies"]) == 1.0
    assert float(rows[0]["rewards/rejected"]) == pytest.approx(-0.02)
    assert rows[3]["eval_loss"] != ""
    image = page.export_png(tmp_path / "curves.png")
    assert image.is_file()


def test_an_sft_run_keeps_the_plain_curves(qtbot, page: TrainPage, tmp_path: Path) -> None:  # noqa: ANN001
    plots = page.ensure_plots()
    for event in dpo_events():
        page.runner.sig_event.emit(event)
    plots.redraw()
    assert plots.rewards_shown()
    # The next run is SFT: what starting it does, then steps without rewards.
    page.history.clear()
    for n in (1, 2):
        page.runner.sig_event.emit(
            StepLogged(step=n, total_steps=TOTAL, epoch=0.1, loss=2.0, learning_rate=1e-4)
        )
    plots.redraw()
    assert not plots.rewards_shown()
    assert page.plots_holder.minimumHeight() == PLOTS_HEIGHT
    assert "reward" not in page.progress_label.text()
    header = page.export_csv(tmp_path / "sft.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "rewards" not in header


def test_opening_a_project_shows_its_newest_run(qtbot, trained_project) -> None:
    from ftstudio.qt.pages.train import TrainPage

    page = TrainPage()
    qtbot.addWidget(page)
    page.set_project(trained_project)
    page.ensure_plots()
    assert page.progress.value() == page.progress.maximum() == 6
    assert "Finished all 6 steps" in page.status_label.text()
    assert [row["step"] for row in page.history.rows()] == [1, 2, 3, 4, 5, 6]
    assert "Step 6/6" in page.log.toPlainText()
    page.set_project(None)
    assert page.history.rows() == []
    assert page.progress_label.text() == "No run yet."
