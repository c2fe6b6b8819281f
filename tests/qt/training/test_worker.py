"""The training worker: a real run on the tiny model, its events delivered in the GUI thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ftstudio.core.events import (
    CheckpointSaved,
    Evaluated,
    Failed,
    Finished,
    Started,
    StepLogged,
    TrainingEvent,
)
from ftstudio.core.project import Project
from ftstudio.qt.training.worker import TrainingRunner, TrainRequest
from tests.tiny import tiny_config

pytestmark = pytest.mark.slow


@pytest.fixture
def runner(qtbot):  # noqa: ANN001, ANN201
    runner = TrainingRunner()
    yield runner
    if runner.is_running():  # a failed test must not leave a thread behind
        runner.stop()
        assert runner.wait(120_000)
        qtbot.waitUntil(lambda: not runner.is_running(), timeout=10_000)


def test_a_run_reports_every_event_in_the_gui_thread(
    qtbot, runner: TrainingRunner, small_project: Project, tiny_model_dir: Path
) -> None:
    events: list[TrainingEvent] = []
    threads: set[str] = set()

    def record(event: TrainingEvent) -> None:
        # A plain function runs in the thread that emits: the runner must emit in the GUI thread.
        threads.add(threading.current_thread().name)
        events.append(event)

    runner.sig_event.connect(record)
    request = TrainRequest(tiny_config(tiny_model_dir), small_project.folder, name="worker test")
    with qtbot.waitSignal(runner.sig_finished, timeout=120_000) as finished:
        runner.start(request)
        assert runner.is_running()
        with pytest.raises(RuntimeError, match="already going on"):
            runner.start(request)
    assert threads == {threading.main_thread().name}
    assert not runner.is_running()
    result = finished.args[0]
    assert result.status == "finished"
    assert result.step == 6
    kinds = [type(event) for event in events]
    assert kinds[0] is not Finished
    assert Started in kinds
    assert kinds[-1] is Finished
    steps = [event for event in events if isinstance(event, StepLogged)]
    assert [event.step for event in steps] == [1, 2, 3, 4, 5, 6]
    assert any(isinstance(event, Evaluated) for event in events)
    assert [e.step for e in events if isinstance(e, CheckpointSaved)] == [3, 6]
    assert runner.last_event is events[-1]
    assert runner.result is result


def test_an_engine_failure_arrives_as_a_failed_event(
    qtbot, runner: TrainingRunner, small_project: Project, tmp_path: Path
) -> None:
    events: list[TrainingEvent] = []
    runner.sig_event.connect(events.append)
    config = tiny_config(tmp_path / "no-such-model")
    with qtbot.waitSignal(runner.sig_finished, timeout=120_000) as finished:
        runner.start(TrainRequest(config, small_project.folder))
    failed = events[-1]
    assert isinstance(failed, Failed)
    assert failed.code == "model"
    assert str(tmp_path / "no-such-model") in failed.message
    assert finished.args[0].status == "failed"
