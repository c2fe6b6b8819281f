"""Events and durations in plain words."""

from __future__ import annotations

import pytest

from ftstudio.core.events import (
    CheckpointSaved,
    Evaluated,
    Failed,
    Finished,
    Started,
    StepLogged,
    TrainingWarning,
)
from ftstudio.qt.training.text import (
    DETAIL,
    ERROR,
    INFO,
    WARNING,
    describe,
    format_duration,
    log_step,
    progress_text,
    rewards_text,
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "–"),
        (float("nan"), "–"),
        (-1, "–"),
        (0, "0 s"),
        (44.6, "45 s"),
        (185, "3 min 05 s"),
        (3600 * 2 + 7 * 60 + 10, "2 h 07 min"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def logged(n: int, total: int = 100, **kw: object) -> StepLogged:
    return StepLogged(step=n, total_steps=total, epoch=0.5, loss=1.23456, learning_rate=2e-4, **kw)


def test_progress_text_has_step_epoch_elapsed_and_eta() -> None:
    event = logged(12, 60, elapsed_s=30.0, eta_s=125.0)
    assert progress_text(event) == "Step 12 of 60 · epoch 0.50 · 30 s elapsed · ETA 2 min 05 s"


def test_about_twenty_step_lines_per_run_with_the_first_and_last() -> None:
    logged_steps = [n for n in range(1, 1001) if log_step(logged(n, 1000))]
    assert logged_steps[0] == 1
    assert logged_steps[-1] == 1000
    assert 19 <= len(logged_steps) <= 22
    assert all(log_step(logged(n, 10)) for n in range(1, 11))  # short runs: every step


def test_step_line_names_the_metrics() -> None:
    [line] = describe(
        logged(1, grad_norm=0.5, tokens_per_second=1234.0, memory_gb=3.5, memory_kind="gpu")
    )
    assert line.level == INFO
    assert line.text == (
        "Step 1/100 · loss 1.2346 · lr 0.0002 · grad norm 0.5 · 1,234 tokens/s · GPU 3.50 GiB"
    )
    assert describe(logged(7)) == []  # between the sampled steps


def test_a_dpo_step_line_adds_the_reward_margin_and_accuracy() -> None:
    metrics = {"rewards/margins": 0.41234, "rewards/accuracies": 0.75, "rewards/chosen": 0.2}
    assert rewards_text(metrics) == "reward margin 0.412 · accuracy 75%"
    assert rewards_text({"rewards/margins": -0.5}) == "reward margin -0.500"
    assert rewards_text({}) == ""
    [line] = describe(logged(1, metrics=metrics))
    assert line.text == (
        "Step 1/100 · loss 1.2346 · lr 0.0002 · reward margin 0.412 · accuracy 75%"
    )


def test_warnings_and_failures_are_flagged_and_keep_their_explanation() -> None:
    [warning] = describe(TrainingWarning(code="overfitting", message="Eval loss rises.", step=40))
    assert warning.level == WARNING
    assert warning.text == "Warning (step 40): Eval loss rises."
    failed = Failed(
        run_id="r",
        run_dir="/runs/r",
        code="out_of_memory",
        message="Out of GPU memory. Lower the batch size.",
        last_checkpoint="/runs/r/checkpoint-20",
        detail="Traceback …",
    )
    lines = describe(failed)
    assert [line.level for line in lines] == [ERROR, INFO, DETAIL]
    assert lines[0].text == "The run failed: Out of GPU memory. Lower the batch size."
    assert "/runs/r/checkpoint-20" in lines[1].text


def test_other_events_read_plainly() -> None:
    started = Started(
        run_id="r", run_dir="/runs/r", name="r", method="qlora", total_steps=30, device="cpu"
    )
    assert describe(started)[0].text.startswith("Training started: qlora on cpu, 30 steps")
    resumed = Started(
        run_id="r",
        run_dir="/runs/r",
        name="r",
        method="lora",
        total_steps=30,
        start_step=10,
        resumed_from="/runs/r/checkpoint-10",
    )
    assert describe(resumed)[0].text.startswith("Resumed at step 10 from /runs/r/checkpoint-10")
    evaluated = Evaluated(step=10, total_steps=30, epoch=1, eval_loss=0.5, best_eval_loss=0.4)
    assert describe(evaluated)[0].text == "Step 10: validation loss 0.5000 (best 0.4000)"
    saved = CheckpointSaved(step=10, path="/runs/r/checkpoint-10", size_bytes=3 * 2**20)
    assert describe(saved)[0].text == "Checkpoint saved at step 10: /runs/r/checkpoint-10 (3.0 MiB)"
    finished = Finished(
        run_id="r",
        run_dir="/runs/r",
        status="stopped",
        step=12,
        total_steps=30,
        final_loss=0.75,
        reason="Stopped at step 12 of 30; resume to continue.",
        adapter_dir="/runs/r/adapter",
    )
    assert describe(finished)[0].text == (
        "Stopped at step 12 of 30; resume to continue. Final training loss 0.7500. "
        "Saved in /runs/r/adapter."
    )


def test_a_step_without_a_learning_rate_leaves_it_out() -> None:
    event = StepLogged(step=1, total_steps=10, epoch=0.1, loss=1.5, learning_rate=float("nan"))
    (line,) = describe(event)
    assert "lr" not in line.text
    assert "loss 1.5" in line.text
