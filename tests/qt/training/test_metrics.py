"""Growing metric buffers and their CSV."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ftstudio.core.events import Evaluated, Started, StepLogged
from ftstudio.qt.training.metrics import CSV_COLUMNS, MetricsHistory, Series


def step(n: int, **values: float | None) -> StepLogged:
    fields = {
        "loss": 2.0 / n,
        "learning_rate": 1e-4,
        "grad_norm": 0.5,
        "tokens_per_second": 1000.0 + n,
        "memory_gb": 1.0,
        "peak_memory_gb": 1.5,
    }
    fields.update(values)
    return StepLogged(step=n, total_steps=100, epoch=n / 10, elapsed_s=n * 0.5, **fields)


def test_series_grows_by_doubling_and_keeps_every_point() -> None:
    series = Series(capacity=4)
    for i in range(1, 1001):
        series.append(float(i), float(i * i))
    assert len(series) == 1000
    assert series.x.dtype == np.float64  # clipToView's searchsorted is fast only on float64
    assert series.y.dtype == np.float64
    assert series.x[0] == 1.0
    assert series.x[-1] == 1000.0
    assert series.y[-1] == 1e6
    assert series._x.size == 1024  # doubled from 4: amortised O(1) appends
    series.clear()
    assert len(series) == 0
    assert series.x.size == 0


def test_a_view_taken_before_growth_stays_valid() -> None:
    series = Series(capacity=2)
    series.append(1.0, 10.0)
    series.append(2.0, 20.0)
    before = series.y
    series.append(3.0, 30.0)  # reallocates
    assert list(before) == [10.0, 20.0]
    assert list(series.y) == [10.0, 20.0, 30.0]


def test_history_records_steps_and_evaluations_only() -> None:
    history = MetricsHistory()
    started = Started(run_id="r", run_dir="/tmp/r", name="r", method="lora", total_steps=100)
    assert not history.add(started)
    version = history.version
    assert history.add(step(1, grad_norm=None, memory_gb=2.0))
    assert history.add(step(2))
    assert history.add(
        Evaluated(step=2, total_steps=100, epoch=0.2, eval_loss=1.25, best_eval_loss=1.25)
    )
    assert history.version == version + 3
    assert list(history.series["loss"].y) == [2.0, 1.0]
    assert list(history.series["grad_norm"].x) == [2.0]  # not measured at step 1: no point
    assert list(history.series["eval_loss"].x) == [2.0]
    assert list(history.series["memory_gb"].y) == [2.0, 1.0]
    assert history.memory_kind == "rss"


def test_csv_has_a_row_per_step_with_eval_loss_on_its_step(tmp_path: Path) -> None:
    history = MetricsHistory()
    for n in range(1, 4):
        history.add(step(n, grad_norm=None if n == 1 else 0.25, loss=math.nan if n == 3 else 1.5))
    history.add(Evaluated(step=2, total_steps=100, epoch=0.2, eval_loss=1.125, best_eval_loss=1.1))
    path = history.write_csv(tmp_path / "metrics.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row["step"] for row in rows] == ["1", "2", "3"]
    assert rows[0]["grad_norm"] == ""  # not measured
    assert rows[1]["grad_norm"] == "0.25"
    assert rows[1]["eval_loss"] == "1.125"
    assert rows[0]["eval_loss"] == ""
    assert rows[2]["loss"] == "nan"
    assert float(rows[1]["elapsed_s"]) == 1.0
    assert float(rows[2]["tokens_per_second"]) == 1003.0


def test_clear_forgets_the_previous_run() -> None:
    history = MetricsHistory()
    history.add(step(1))
    history.clear()
    assert history.rows() == []
    assert all(len(series) == 0 for series in history.series.values())
    assert history.to_csv().strip() == ",".join(CSV_COLUMNS)


def dpo_step(n: int, margin: float, accuracy: float, **extra: float) -> StepLogged:
    metrics = {
        "rewards/chosen": margin / 2,
        "rewards/rejected": -margin / 2 - 1.0,
        "rewards/accuracies": accuracy,
        "rewards/margins": margin,
        **extra,
    }
    return step(n, metrics=metrics)


def test_dpo_rewards_get_series_and_columns_of_their_own(tmp_path: Path) -> None:
    history = MetricsHistory()
    assert not history.has_rewards()
    history.add(dpo_step(1, 0.0, 0.5, **{"rewards/custom": -40.0}))
    history.add(dpo_step(2, 0.25, 0.75))
    history.add(Evaluated(step=2, total_steps=100, epoch=0.2, eval_loss=0.6, best_eval_loss=0.6))
    assert history.has_rewards()
    assert list(history.series["rewards/margins"].y) == [0.0, 0.25]
    assert list(history.series["rewards/accuracies"].x) == [1.0, 2.0]
    assert list(history.series["rewards/custom"].y) == [-40.0]
    assert history.latest_metrics["rewards/margins"] == 0.25
    # The known reward names first, in a fixed order; others as first seen.
    assert history.columns() == (
        *CSV_COLUMNS,
        "rewards/margins",
        "rewards/accuracies",
        "rewards/chosen",
        "rewards/rejected",
        "rewards/custom",
    )
    path = history.write_csv(tmp_path / "metrics.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == history.columns()
    assert rows[1]["rewards/margins"] == "0.25"
    assert rows[1]["rewards/accuracies"] == "0.75"
    assert rows[0]["rewards/rejected"] == "-1"
    assert rows[0]["rewards/custom"] == "-40"
    assert rows[1]["rewards/custom"] == ""  # not reported at step 2
    assert rows[1]["eval_loss"] == "0.6"


def test_an_sft_run_after_a_dpo_run_has_the_plain_columns_again() -> None:
    history = MetricsHistory()
    history.add(dpo_step(1, 0.1, 0.5, **{"rewards/custom": -40.0}))
    history.clear()
    history.add(step(1))
    assert not history.has_rewards()
    assert history.columns() == CSV_COLUMNS
    assert "rewards/custom" not in history.series
    assert history.latest_metrics == {}
    assert history.to_csv().splitlines()[0] == ",".join(CSV_COLUMNS)
