"""Benchmark: how long the GUI thread stalls while the Train page trains the tiny model.

    python tests/bench/bench_train_ui.py [--steps 60] [--method qlora|lora] [--headless]

Run on demand, not by pytest. The main window is shown offscreen on a copy of the
sample project with the Train page in front; the quick demo run (the tiny model,
QLoRA by default) starts as if Start were clicked, and a 5 ms ``QTimer`` in the GUI
thread records the longest gap between its ticks (time the GUI could not react),
in two phases:

1. **preparing**: from Start to the ``Started`` event: the worker thread imports
   torch and the engine, checks the data and loads the model.
2. **training**: from ``Started`` to the end: steps, evaluations and checkpoints,
   while the live curves redraw at 10 Hz and the log fills.

Target: at most 50 ms in the training phase. The event loop runs through
``QEventLoop.exec()``, as in the application. With ``--headless`` the same run is
also trained without the GUI (``run_training`` in this thread), to show what the GUI
costs the training speed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STALL_TARGET_MS = 50.0
TICK_MS = 5


class StallMeter:
    """Ticks every 5 ms in the GUI thread and keeps the gaps between ticks."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.gaps: list[tuple[float, float]] = []  # (when, gap) in seconds

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now, now - self.last))
        self.last = now

    def start(self) -> None:
        self.gaps = []
        self.last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def summary(self, start: float, end: float) -> tuple[float, float, int]:
        """(longest gap, 99th percentile gap) in ms, and the tick count, in [start, end]."""
        gaps = sorted(gap for when, gap in self.gaps if start <= when <= end)
        if not gaps:
            return 0.0, 0.0, 0
        return gaps[-1] * 1000, gaps[max(0, int(len(gaps) * 0.99) - 1)] * 1000, len(gaps)


def gui_run(project: Any, config: Any) -> dict[str, Any]:
    """Train ``config`` from the Train page; the stalls and timings of each phase."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from ftstudio.core.events import Started
    from ftstudio.core.settings import SettingsStore
    from ftstudio.qt.main_window import MainWindow
    from ftstudio.qt.style import apply_style
    from ftstudio.qt.training.configs import ConfigChoice

    app = QApplication.instance() or QApplication(["bench"])
    apply_style(app)
    window = MainWindow(SettingsStore(Path(os.environ["FTSTUDIO_CONFIG_DIR"])), remember=False)
    window.set_project(project)
    window.resize(1200, 780)
    window.show_page("train")
    window.show()
    page = window.page("train")
    page.choices = [ConfigChoice("bench", config, demo=True)]
    page.config_combo.clear()
    page.config_combo.addItem("bench")
    for _ in range(5):
        app.processEvents()

    marks: dict[str, float] = {}
    steps: list[float] = []
    timeline: list[tuple[float, str]] = []

    def on_event(event: Any) -> None:
        now = time.perf_counter()
        timeline.append((now, f"{event.kind} {getattr(event, 'step', '')}".strip()))
        if isinstance(event, Started):
            marks["started"] = now
        elif event.kind == "step":
            steps.append(now)

    page.runner.sig_event.connect(on_event)
    loop = QEventLoop()
    page.sig_run_finished.connect(lambda _result: loop.quit())
    meter = StallMeter()

    def begin() -> None:
        meter.start()
        marks["start"] = time.perf_counter()
        page.start_button.click()

    QTimer.singleShot(50, begin)
    loop.exec()
    marks["end"] = time.perf_counter()
    meter.stop()
    result = page.runner.result
    started = marks.get("started", marks["end"])
    report = {
        "status": result.status if result else "failed",
        "message": result.message if result else "",
        "steps": len(steps),
        "preparing": meter.summary(marks["start"], started),
        "training": meter.summary(started, marks["end"]),
        "preparing_s": started - marks["start"],
        "training_s": marks["end"] - started,
        "step_s": (steps[-1] - steps[0]) / (len(steps) - 1) if len(steps) > 1 else float("nan"),
        "redraws": page.plots.redraws if page.plots else 0,
        "worst": _worst_gaps(meter, timeline, marks["start"]),
    }
    window.close()
    window.deleteLater()
    app.processEvents()
    return report


def _worst_gaps(
    meter: StallMeter, timeline: list[tuple[float, str]], start: float, count: int = 6
) -> list[str]:
    """The longest gaps, each with the last event delivered before it ended."""
    lines = []
    for when, gap in sorted(meter.gaps, key=lambda item: -item[1])[:count]:
        before = [name for at, name in timeline if at <= when]
        last = before[-1] if before else "(before the first event)"
        lines.append(f"{gap * 1000:6.1f} ms ending at {when - start:6.2f} s, after: {last}")
    return lines


def headless_run(project: Any, config: Any) -> float:
    """Seconds per step of the same run without the GUI."""
    from ftstudio.engine.training import run_training

    stamps: list[float] = []

    def on_event(event: Any) -> None:
        if event.kind == "step":
            stamps.append(time.perf_counter())

    run_training(config, on_event, project=project.folder)
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1) if len(stamps) > 1 else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps (default 60)")
    parser.add_argument("--method", choices=("qlora", "lora"), default="qlora")
    parser.add_argument("--headless", action="store_true", help="also train without the GUI")
    parser.add_argument("--verbose", action="store_true", help="list the longest gaps")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="ftstudio-bench-train-ui-"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["FTSTUDIO_CONFIG_DIR"] = str(scratch / "config")
    os.environ["FTSTUDIO_DATA_DIR"] = str(scratch / "data")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from ftstudio.core.sample import install_sample
    from ftstudio.qt.training.configs import demo_config, for_device

    project = install_sample(scratch / "IT Support Sample")
    # Build the tiny model first (seconds, once), so it is not part of the measurement.
    import subprocess

    subprocess.run(
        [
            sys.executable,
            "-c",
            "from ftstudio.engine.base_model import resolve_base_model as r; r('ftstudio:tiny')",
        ],
        check=True,
        env=os.environ.copy(),
    )
    config = dataclasses.replace(demo_config(project, args.steps), method=args.method)
    print(f"Demo run: {args.method}, {args.steps} steps on {project.folder}")
    report = gui_run(project, config)
    print(f"  run: {report['status']} after {report['steps']} steps {report['message']}")
    for phase in ("preparing", "training"):
        worst, p99, ticks = report[phase]
        print(
            f"  {phase:>9}: {report[phase + '_s']:6.2f} s, longest GUI stall {worst:6.1f} ms, "
            f"p99 {p99:5.1f} ms ({ticks} ticks)"
        )
    if args.verbose:
        print("  longest gaps:")
        for line in report["worst"]:
            print(f"    {line}")
    print(f"  {report['redraws']} redraws of the curves; {report['step_s'] * 1000:.0f} ms per step")
    if args.headless:
        import torch

        headless = headless_run(project, for_device(config, torch.cuda.is_available()))
        print(
            f"  headless: {headless * 1000:.0f} ms per step (GUI/headless "
            f"{report['step_s'] / headless:.2f}x)"
        )
    worst = report["training"][0]
    ok = report["status"] == "finished" and worst <= STALL_TARGET_MS
    print(
        f"{'PASS' if ok else 'FAIL'}: longest stall while training {worst:.1f} ms "
        f"(target ≤ {STALL_TARGET_MS:.0f} ms)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
