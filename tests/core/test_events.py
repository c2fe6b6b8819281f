"""Training events: frozen, JSON round trip, and the event log's line format."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from ftstudio.core.events import (
    EVENT_TYPES,
    CheckpointSaved,
    Evaluated,
    Failed,
    Finished,
    Started,
    StepLogged,
    TrainingWarning,
    Warning_,
    event_from_json,
    event_line,
    read_events,
)

EXAMPLES = [
    Started(run_id="r1", run_dir="/p/runs/r1", name="first", method="qlora", total_steps=30),
    StepLogged(
        step=3,
        total_steps=30,
        epoch=0.25,
        loss=2.5,
        learning_rate=2e-4,
        grad_norm=0.7,
        tokens_per_second=1234.5,
        memory_gb=1.5,
        peak_memory_gb=2.0,
        memory_kind="gpu",
        elapsed_s=4.0,
        eta_s=36.0,
    ),
    Evaluated(step=10, total_steps=30, epoch=1.0, eval_loss=2.1, best_eval_loss=2.1, is_best=True),
    CheckpointSaved(step=10, path="/p/runs/r1/checkpoint-10", size_bytes=1024),
    TrainingWarning(code="overfitting", message="Validation loss rose.", step=20),
    Finished(run_id="r1", run_dir="/p/runs/r1", status="finished", step=30, total_steps=30),
    Failed(run_id="r1", run_dir="/p/runs/r1", code="nan_loss", message="NaN.", step=4),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.kind)
def test_every_event_round_trips_through_json_text(event) -> None:  # noqa: ANN001
    text = event_line(event)
    assert "\n" not in text
    data = json.loads(text)
    assert data["event"] == event.kind
    assert event_from_json(data) == event


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.kind)
def test_events_are_frozen(event) -> None:  # noqa: ANN001
    field = dataclasses.fields(event)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(event, field, None)


def test_every_kind_is_registered_once() -> None:
    assert set(EVENT_TYPES) == {e.kind for e in EXAMPLES}
    assert Warning_ is TrainingWarning


def test_a_nan_loss_survives_the_log_line() -> None:
    event = StepLogged(step=2, total_steps=5, epoch=0.1, loss=math.nan, learning_rate=1.0)
    back = event_from_json(json.loads(event_line(event)))
    assert isinstance(back, StepLogged)
    assert math.isnan(back.loss)


def test_fraction_of_the_run_done() -> None:
    event = StepLogged(step=15, total_steps=60, epoch=0.5, loss=1.0, learning_rate=1e-4)
    assert event.fraction == 0.25
    assert StepLogged(step=1, total_steps=0, epoch=0, loss=1, learning_rate=0).fraction == 0.0


@pytest.mark.parametrize(
    "data",
    [{"event": "nope"}, {"no": "event"}, {"event": "checkpoint", "path": "x"}, ["started"]],
)
def test_unknown_or_incomplete_events_are_refused(data) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="event"):
        event_from_json(data)


def test_unknown_keys_from_a_newer_version_are_ignored() -> None:
    data = EXAMPLES[3].to_json() | {"added_later": 1}
    assert event_from_json(data) == EXAMPLES[3]


def test_read_events_keeps_every_readable_event_and_skips_torn_lines(tmp_path) -> None:
    started = Started(run_id="r", run_dir="/r", name="r", method="lora", total_steps=2)
    step = StepLogged(step=1, total_steps=2, epoch=0.5, loss=1.25, learning_rate=1e-3)
    path = tmp_path / "events.jsonl"
    path.write_text(
        f'{event_line(started)}\n{event_line(step)}\n{{"event": "later"}}\n{{"event": "st',
        encoding="utf-8",
    )
    assert read_events(path) == [started, step]
    assert read_events(tmp_path / "missing.jsonl") == []
