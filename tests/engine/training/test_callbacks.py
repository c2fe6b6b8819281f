"""The event callback on the Trainer's own state objects: metrics, safety nets, stopping."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from transformers import TrainerControl, TrainerState, TrainingArguments

from ftstudio.core.events import Evaluated, StepLogged, TrainingWarning
from ftstudio.engine.training.callbacks import EventCallback


@pytest.fixture(scope="module")
def args(tmp_path_factory: pytest.TempPathFactory) -> TrainingArguments:
    out = tmp_path_factory.mktemp("args")
    return TrainingArguments(output_dir=str(out), use_cpu=True, report_to="none")


class Loop:
    """Drives an :class:`EventCallback` the way the Trainer's loop calls it."""

    def __init__(self, args: TrainingArguments, tmp_path: Path, **options: object) -> None:
        self.args = args
        self.events: list[object] = []
        self.metrics = tmp_path / "metrics.jsonl"
        self.state = TrainerState()
        self.state.max_steps = 100
        self.control = TrainerControl()
        self.callback = EventCallback(emit=self.events.append, metrics_path=self.metrics, **options)
        self.callback.on_train_begin(args, self.state, self.control)

    def step(self, loss: float, grad_norm: float | None = 1.0, *, evaluate: bool = False) -> None:
        self.state.global_step += 1
        self.state.epoch = self.state.global_step / 10
        self.state.num_input_tokens_seen += 500
        self.control = TrainerControl()
        self.control.should_evaluate = evaluate
        self.callback.on_step_end(self.args, self.state, self.control)
        logs = {"loss": loss, "grad_norm": grad_norm, "learning_rate": 1e-3}
        self.callback.on_log(self.args, self.state, self.control, logs=logs)

    def evaluate(self, eval_loss: float) -> None:
        logs = {"eval_loss": eval_loss, "epoch": self.state.epoch}
        self.callback.on_log(self.args, self.state, self.control, logs=logs)

    def rows(self) -> list[dict]:
        return [json.loads(line) for line in self.metrics.read_text().splitlines()]

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def test_every_log_step_reports_the_metrics(args: TrainingArguments, tmp_path: Path) -> None:
    loop = Loop(args, tmp_path, has_eval=True)
    loop.step(2.0)
    loop.step(1.8, evaluate=True)
    loop.evaluate(1.9)
    loop.step(1.7)
    steps = loop.of(StepLogged)
    assert [s.step for s in steps] == [1, 2, 3]
    first = steps[0]
    assert (first.total_steps, first.loss, first.learning_rate, first.grad_norm) == (
        100,
        2.0,
        1e-3,
        1.0,
    )
    assert first.epoch == pytest.approx(0.1)
    assert first.tokens_per_second > 0
    assert first.memory_kind == "rss"
    assert first.memory_gb > 0.05
    assert first.peak_memory_gb >= first.memory_gb * 0.99
    assert first.eta_s >= 0
    rows = loop.rows()
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert {"step", "loss", "learning_rate", "grad_norm"} <= set(rows[0])
    assert "eval_loss" not in rows[0]
    assert rows[1]["eval_loss"] == 1.9  # on the evaluation step's own row
    assert loop.of(Evaluated)[0].is_best


def test_a_nan_loss_stops_without_saving(args: TrainingArguments, tmp_path: Path) -> None:
    loop = Loop(args, tmp_path, learning_rate=5e-3)
    loop.step(2.0)
    loop.step(math.nan, grad_norm=math.nan)
    assert loop.control.should_training_stop
    assert not loop.control.should_save
    assert loop.callback.stop_reason == "nan"
    assert "NaN or infinite at step 2" in loop.callback.failure
    assert "5.0e-03" in loop.callback.failure  # the configured rate, and a tenth of it
    assert "5.0e-04" in loop.callback.failure


@pytest.mark.parametrize(
    ("loss", "grad_norm", "words"),
    [
        (0.0, math.nan, "exactly 0 with NaN gradients"),
        (1.5, math.inf, "gradients became NaN or infinite"),
        (math.inf, 1.0, "loss became NaN or infinite"),
    ],
)
def test_other_broken_numbers_stop_too(
    args: TrainingArguments, tmp_path: Path, loss: float, grad_norm: float, words: str
) -> None:
    loop = Loop(args, tmp_path)
    loop.step(loss, grad_norm=grad_norm)
    assert loop.control.should_training_stop
    assert words in loop.callback.failure


def test_a_healthy_zero_loss_does_not_stop(args: TrainingArguments, tmp_path: Path) -> None:
    loop = Loop(args, tmp_path)
    loop.step(0.0, grad_norm=0.0)
    assert not loop.control.should_training_stop


def test_cancel_stops_at_the_step_end_and_saves(args: TrainingArguments, tmp_path: Path) -> None:
    asked = []
    loop = Loop(args, tmp_path, cancel=lambda: bool(asked))
    loop.step(2.0)
    assert not loop.control.should_training_stop
    asked.append(True)
    loop.step(1.9)
    assert loop.control.should_training_stop
    assert loop.control.should_save
    assert loop.callback.stop_reason == "cancelled"


def test_early_stopping_keeps_the_best(args: TrainingArguments, tmp_path: Path) -> None:
    loop = Loop(args, tmp_path, has_eval=True, early_stopping_patience=2)
    for loss, eval_loss in ((2.0, 1.5), (1.9, 1.2), (1.8, 1.3)):
        loop.step(loss, evaluate=True)
        loop.evaluate(eval_loss)
    assert loop.callback.best_step == 2
    assert not loop.control.should_training_stop
    loop.step(1.7, evaluate=True)
    loop.evaluate(1.25)  # still worse than 1.2: the second evaluation without improvement
    assert loop.control.should_training_stop
    assert loop.callback.stop_reason == "early_stopping"
    assert (loop.callback.best_eval_loss, loop.callback.best_step) == (1.2, 2)
    best = [e.is_best for e in loop.of(Evaluated)]
    assert best == [True, True, False, False]


def test_a_new_best_is_saved_when_early_stopping_is_on(
    args: TrainingArguments, tmp_path: Path
) -> None:
    loop = Loop(args, tmp_path, has_eval=True, early_stopping_patience=3)
    loop.step(2.0, evaluate=True)
    loop.evaluate(1.5)
    assert loop.control.should_save


def test_overfitting_warns_once(args: TrainingArguments, tmp_path: Path) -> None:
    loop = Loop(args, tmp_path, has_eval=True)
    train = [2.0, 1.8, 1.6, 1.4, 1.2, 1.0]
    evals = [1.5, 1.4, 1.45, 1.5, 1.6, 1.7]
    for index, (loss, eval_loss) in enumerate(zip(train, evals, strict=True)):
        loop.step(loss, evaluate=True)
        loop.evaluate(eval_loss)
        warnings = loop.of(TrainingWarning)
        # Rising at evaluations 3, 4 and 5 (indices 2-4): the warning comes at index 4.
        assert len(warnings) == (1 if index >= 4 else 0)
    warning = loop.of(TrainingWarning)[0]
    assert warning.code == "overfitting"
    assert warning.step == 5
    assert "from 1.4000 at step 2 to 1.6000 at step 5" in warning.message


def test_no_overfitting_warning_while_both_losses_fall(
    args: TrainingArguments, tmp_path: Path
) -> None:
    loop = Loop(args, tmp_path, has_eval=True)
    for loss, eval_loss in ((2.0, 1.9), (1.8, 1.7), (1.6, 1.5), (1.4, 1.3), (1.2, 1.1)):
        loop.step(loss, evaluate=True)
        loop.evaluate(eval_loss)
    assert not loop.of(TrainingWarning)


def test_only_the_main_process_reports(args: TrainingArguments, tmp_path: Path) -> None:
    loop = Loop(args, tmp_path, is_main=False, has_eval=True)
    loop.step(2.0, evaluate=True)
    loop.evaluate(1.0)
    assert loop.events == []
    assert not loop.metrics.exists()
