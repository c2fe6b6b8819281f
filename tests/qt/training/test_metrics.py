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
