"""Live curves: drawn from the buffers on a 10 Hz timer, exported as PNG."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

from PySide6.QtGui import QColor, QImage

from ftstudio.core.events import Evaluated, StepLogged
from ftstudio.qt.training.metrics import REWARD_SERIES, SERIES, MetricsHistory
from ftstudio.qt.training.plots import (
    COLORS,
    MEMORY_TITLES,
    REDRAW_MS,
    REWARD_PLOTS,
    REWARDS_MIN_HEIGHT,
    LivePlots,
)


def feed(
    history: MetricsHistory, steps: range, loss: float | None = None, *, dpo: bool = False
) -> None:
    """Steps as a run reports them; ``dpo``: with rewards (the margin grows, the accuracy
    climbs from 0.5 towards 1)."""
    for n in steps:
        metrics = {}
        if dpo:
            metrics = {
                "rewards/margins": 0.05 * n,
                "rewards/accuracies": min(1.0, 0.5 + 0.02 * n),
                "rewards/chosen": 0.02 * n,
                "rewards/rejected": -0.03 * n,
            }
        history.add(
            StepLogged(
                step=n,
                total_steps=100,
                epoch=n / 50,
                loss=loss if loss is not None else 3.0 / n,
                learning_rate=1e-4,
                grad_norm=1.0,
                tokens_per_second=500.0,
                memory_gb=2.0,
                peak_memory_gb=2.5,
                memory_kind="gpu",
                metrics=metrics,
            )
        )


def test_curves_are_made_once_and_redrawn_only_when_data_changed(qtbot) -> None:  # noqa: ANN001
    history = MetricsHistory()
    plots = LivePlots(history)
    qtbot.addWidget(plots)
    assert set(plots.curves) == {*SERIES, *REWARD_SERIES}
    curves = dict(plots.curves)
    assert plots.timer.interval() == REDRAW_MS == 100
    feed(history, range(1, 11))
    history.add(Evaluated(step=10, total_steps=100, epoch=0.2, eval_loss=0.4, best_eval_loss=0.4))
    plots.redraw()
    assert plots.point_count("loss") == 10
    assert plots.point_count("eval_loss") == 1
    assert plots.point_count("peak_memory_gb") == 10
    drawn = plots.redraws
    plots.redraw()
    assert plots.redraws == drawn  # nothing new: no redraw
    assert plots.curves == curves  # the same curve objects, data replaced
    item = plots.plots["loss"].getPlotItem()
    assert item.ctrl.clipToViewCheck.isChecked()
    assert item.ctrl.downsampleCheck.isChecked()
    assert item.ctrl.peakRadio.isChecked()
    assert plots.plots["memory"].getPlotItem().titleLabel.text == MEMORY_TITLES["gpu"]


def test_the_timer_redraws_while_started(qtbot) -> None:  # noqa: ANN001
    history = MetricsHistory()
    plots = LivePlots(history)
    qtbot.addWidget(plots)
    plots.start()
    feed(history, range(1, 4))
    qtbot.waitUntil(lambda: plots.point_count("loss") == 3, timeout=2000)
    feed(history, range(4, 6))
    plots.stop()  # draws what is left
    assert not plots.timer.isActive()
    assert plots.point_count("loss") == 5


def test_nan_losses_are_drawn_without_warnings(qtbot) -> None:  # noqa: ANN001
    history = MetricsHistory()
    plots = LivePlots(history)
    qtbot.addWidget(plots)
    plots.resize(900, 420)
    plots.show()
    feed(history, range(1, 5))
    feed(history, range(5, 7), loss=math.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.redraw()
        qtbot.wait(20)
    assert plots.point_count("loss") == 6


def blue_pixels(path: Path) -> int:
    """Pixels close to the train-loss blue (#3d6fd1, antialiased) in the image."""
    image = QImage(str(path))
    target = QColor(COLORS["loss"])
    count = 0
    for x in range(image.width()):
        for y in range(image.height()):
            color = image.pixelColor(x, y)
            if color.blue() - color.red() > 80 and abs(color.green() - target.green()) < 40:
                count += 1
    return count


def colour_pixels(path: Path, name: str, top: int = 0) -> int:
    """Pixels within a small distance of curve ``name``'s colour, from row ``top`` down."""
    image = QImage(str(path))
    target = QColor(COLORS[name])
    count = 0
    for x in range(image.width()):
        for y in range(top, image.height()):
            color = image.pixelColor(x, y)
            distance = (
                abs(color.red() - target.red())
                + abs(color.green() - target.green())
                + abs(color.blue() - target.blue())
            )
            if distance < 60:
                count += 1
    return count


def test_export_png_writes_the_plots(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    history = MetricsHistory()
    plots = LivePlots(history)
    qtbot.addWidget(plots)
    plots.resize(900, 420)
    plots.show()
    empty = blue_pixels(plots.export_png(tmp_path / "empty.png"))  # the legend's sample line
    feed(history, range(1, 30))
    path = plots.export_png(tmp_path / "curves.png")
    image = QImage(str(path))
    assert (image.width(), image.height()) == (900, 420)
    assert blue_pixels(path) > empty + 100  # the loss curve is in the picture


def test_live_mode_shows_snapshots_redrawn_by_the_timer(qtbot) -> None:  # noqa: ANN001
    history = MetricsHistory()
    plots = LivePlots(history)
    qtbot.addWidget(plots)
    plots.resize(900, 420)
    plots.show()
    plots.start()
    assert plots.live
    for key, stack in plots._stacks.items():
        assert stack.currentWidget() is plots.snapshots[key]  # the image is on top
        # Drawn once at the start; the reward row of DPO runs is hidden, so not drawn.
        assert plots.snapshots[key].pixmap().isNull() == (key in REWARD_PLOTS)
    first = plots.snapshots["loss"].pixmap().cacheKey()
    feed(history, range(1, 20))
    # Every changed plot is drawn again within a few ticks, a time budget per tick.
    qtbot.waitUntil(lambda: plots._dirty() == [], timeout=3000)
    assert plots.snapshots["loss"].pixmap().cacheKey() != first
    assert plots.point_count("loss") == 19
    assert plots.point_count("memory_gb") == 19
    plots.stop()
    assert not plots.live
    for key, stack in plots._stacks.items():
        assert stack.currentWidget() is plots.plots[key]  # interactive again


def test_an_sft_run_shows_no_reward_plots(qtbot) -> None:  # noqa: ANN001
    history = MetricsHistory()
    plots = LivePlots(history)
    qtbot.addWidget(plots)
    plots.resize(900, 420)
    plots.show()
    feed(history, range(1, 11))
    plots.redraw()
    assert not plots.rewards_shown()
    assert all(not plots.cells[key].isVisible() for key in REWARD_PLOTS)
    assert plots.minimumHeight() < REWARDS_MIN_HEIGHT  # what two rows need
    assert plots.point_count("rewards/margins") == 0


def test_a_dpo_run_adds_the_reward_row(qtbot) -> None:  # noqa: ANN001
    history = MetricsHistory()
    plots = LivePlots(history)
    qtbot.addWidget(plots)
    plots.resize(900, 620)
    plots.show()
    with qtbot.waitSignal(plots.sig_rewards_shown) as shown:
        plots.start()
        feed(history, range(1, 21), dpo=True)
        qtbot.waitUntil(lambda: plots.point_count("rewards/accuracies") == 20, timeout=3000)
    assert shown.args == [True]
    assert plots.rewards_shown()
    assert all(plots.cells[key].isVisible() for key in REWARD_PLOTS)
    assert plots.minimumHeight() == REWARDS_MIN_HEIGHT
    qtbot.waitUntil(lambda: plots._dirty() == [], timeout=3000)  # drawn live, as the loss
    assert not plots.snapshots["reward_margin"].pixmap().isNull()
    assert plots.point_count("rewards/margins") == 20
    assert plots.point_count("loss") == 20
    plots.stop()
    # The accuracy keeps its 0-1 axis whatever the values; the margin follows its data.
    low, high = plots.plots["reward_accuracy"].getPlotItem().viewRange()[1]
    assert -0.1 <= low < 0.0
    assert 1.0 < high <= 1.1
    margin_low, margin_high = plots.plots["reward_margin"].getPlotItem().viewRange()[1]
    assert margin_low <= 0.05 < 1.0 <= margin_high
    # The rows below the loss: the reward plots sit under the first two rows.
    assert plots.cells["reward_margin"].y() > plots.cells["memory"].y()
    # A new run (SFT) hides the row again.
    history.clear()
    feed(history, range(1, 3))
    plots.redraw()
    assert not plots.rewards_shown()
    assert plots.minimumHeight() < REWARDS_MIN_HEIGHT  # what two rows need


def test_export_png_includes_the_reward_plots(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    history = MetricsHistory()
    plots = LivePlots(history)
    qtbot.addWidget(plots)
    plots.resize(900, 620)
    plots.show()
    feed(history, range(1, 40), dpo=True)
    plots.redraw()
    qtbot.wait(20)  # the row is laid out
    path = plots.export_png(tmp_path / "dpo.png")
    image = QImage(str(path))
    assert (image.width(), image.height()) == (900, 620)
    top = plots.cells["reward_margin"].y()
    assert colour_pixels(path, "rewards/margins", top) > 50
    assert colour_pixels(path, "rewards/accuracies", top) > 50
