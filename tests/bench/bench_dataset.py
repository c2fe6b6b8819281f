"""Benchmark: opening, validating, scrolling and filtering a 100,000-example dataset.

    python tests/bench/bench_dataset.py [--examples 100000] [--keep]

Run on demand, not by pytest. Everything is measured in the same run:

1. **Load + validate vs json.loads.** A generated chat JSONL is read with a bare
   ``json.loads`` loop (the baseline), then with ftstudio's ``load_dataset`` +
   ``validate_dataset``, and with the whole loading task of the studio (reading,
   validation and the table's per-example summaries). Target: ftstudio's load +
   validate at most 2x the baseline.
2. **GUI stalls.** The Dataset page is shown offscreen and a 5 ms ``QTimer`` records
   the longest gap between its ticks (time the GUI thread could not react) while the
   file loads in the worker, while the table scrolls (240 jumps, one per 16 ms), and
   while it is searched, filtered and sorted (one action every 150 ms, as typing and
   clicks come: a sort often interrupts a search still running). Target: at most 50 ms.

The event loop runs through ``QEventLoop.exec()``, as in the application.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

RATIO_TARGET = 2.0
STALL_TARGET_MS = 50.0
TICK_MS = 5

WORDS = [
    "printer",
    "vpn",
    "password",
    "reset",
    "laptop",
    "monitor",
    "email",
    "calendar",
    "badge",
    "office",
    "network",
    "wifi",
    "ticket",
    "account",
    "folder",
    "share",
    "backup",
    "update",
    "driver",
    "restart",
    "cable",
    "dock",
    "screen",
    "phone",
    "the",
    "a",
    "to",
    "and",
    "of",
    "please",
    "could",
    "you",
    "my",
    "is",
    "not",
    "working",
    "since",
    "this",
    "morning",
    "again",
]
TAGS = ("accounts", "vpn", "printing", "email", "hardware", "security", "network", "files")
SYSTEM = (
    "You are the Northwind Logistics IT Helpdesk assistant, helping employees with everyday "
    "IT problems in a friendly, concise and practical way."
)


def sentence(rng: random.Random, words: int) -> str:
    """Some words, capitalised, with a full stop."""
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def generate(path: Path, examples: int, seed: int = 0) -> int:
    """Write ``examples`` chat examples (a few with problems); returns the file size."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for n in range(examples):
            turns = [{"role": "system", "content": SYSTEM}]
            for _ in range(rng.choice((1, 1, 1, 2, 3))):
                turns.append({"role": "user", "content": sentence(rng, rng.randint(8, 40))})
                answer = " ".join(
                    sentence(rng, rng.randint(6, 20)) for _ in range(rng.randint(3, 12))
                )
                turns.append({"role": "assistant", "content": answer})
            if n % 400 == 7:
                turns[1]["content"] += "  "  # surrounding whitespace (a warning)
            example = {"messages": turns, "tags": rng.sample(TAGS, rng.randint(0, 2))}
            line = json.dumps(example, ensure_ascii=False)
            if n % 1000 == 999:
                line = line[: len(line) // 2]  # a broken line (an error, kept and shown)
            handle.write(line + "\n")
    return path.stat().st_size


def best_of(runs: int, work: Callable[[], object]) -> float:
    """The fastest of ``runs`` timings of ``work()`` in seconds (garbage collected between)."""
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def bare_json(path: Path) -> int:
    """The baseline: parse every line with json.loads, keep the values."""
    values = []
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                try:
                    values.append(json.loads(line))
                except ValueError:
                    values.append(None)
    return len(values)


def load_and_validate(path: Path) -> int:
    """ftstudio's core: lossless load plus every check."""
    from ftstudio.core.dataset.formats import load_dataset
    from ftstudio.core.dataset.validate import validate_dataset

    dataset = load_dataset(path)
    validate_dataset(dataset)
    return len(dataset)


def studio_task(path: Path) -> int:
    """What the studio's loading worker does: load, validate and summarise for the table."""
    import threading

    from ftstudio.qt.dataset.document import load_dataset_task
    from ftstudio.qt.dataset.table_model import DatasetTableModel, summarize_dataset
    from ftstudio.qt.dataset.workers import TaskContext

    context = TaskContext(threading.Event(), lambda *_: None)
    steps = {DatasetTableModel.LOAD_STEP: summarize_dataset}
    return len(load_dataset_task(path, None, None, None, steps, context).dataset)


class StallMeter:
    """Ticks every 5 ms in the GUI thread and remembers the longest gap per phase."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.gaps: list[float] = []

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self.last)
        self.last = now

    def start(self) -> None:
        self.gaps = []
        self.last = time.perf_counter()
        self.timer.start()

    def stop(self) -> tuple[float, float]:
        """(longest gap, 99th percentile gap) in milliseconds."""
        self.timer.stop()
        if not self.gaps:
            return 0.0, 0.0
        ordered = sorted(self.gaps)
        return ordered[-1] * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def run_loop(until: Callable[[], bool], timeout_s: float = 300.0) -> None:
    """Run the Qt event loop until ``until()`` is true (checked every 20 ms)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    deadline = time.monotonic() + timeout_s

    def check() -> None:
        if until() or time.monotonic() > deadline:
            loop.quit()

    poll = QTimer()
    poll.timeout.connect(check)
    poll.start(20)
    loop.exec()
    poll.stop()
    if not until():
        raise TimeoutError("the benchmark step did not finish in time")


def gui_stalls(path: Path, scratch: Path) -> dict[str, tuple[float, float]]:
    """Longest GUI-thread stalls while the page loads, scrolls and filters ``path``."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["FTSTUDIO_CONFIG_DIR"] = str(scratch / "config")
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from ftstudio.core.project import create_project
    from ftstudio.qt.pages.dataset import DatasetPage
    from ftstudio.qt.style import apply_style

    app = QApplication.instance() or QApplication(["bench"])
    apply_style(app)
    project = create_project(scratch / "Bench", "Bench")
    page = DatasetPage()
    page.set_project(project)
    page.resize(1200, 780)
    page.show()
    run_loop(lambda: page.isVisible(), 10)
    meter = StallMeter()
    results: dict[str, tuple[float, float]] = {}
    doc = page.document

    meter.start()
    page.open_path(path)
    run_loop(lambda: len(doc) > 0 and not doc.loader.is_running(), 600)
    run_loop(lambda: True)  # let the first paint of the table happen
    results["load (worker)"] = meter.stop()

    scrollbar = page.table.verticalScrollBar()
    rng = random.Random(1)
    positions = [rng.randint(0, scrollbar.maximum()) for _ in range(120)]
    positions += list(range(0, scrollbar.maximum(), max(1, scrollbar.maximum() // 120)))
    steps = iter(positions)
    done = []

    def scroll() -> None:
        value = next(steps, None)
        if value is None:
            done.append(True)
        else:
            scrollbar.setValue(value)

    from PySide6.QtCore import QTimer

    scroller = QTimer()
    scroller.timeout.connect(scroll)
    meter.start()
    scroller.start(16)
    run_loop(lambda: bool(done), 120)
    scroller.stop()
    results["scroll (240 jumps)"] = meter.stop()

    # Each action runs in its own turn of the event loop, 150 ms apart, as a user's
    # typing and clicks would: a sort often starts while the search is still running.
    def search(text: str) -> Callable[[], None]:
        return lambda: (page.search_edit.setText(text), page.apply_filters())

    def sort(column: int, order: Qt.SortOrder) -> Callable[[], None]:
        return lambda: page.table.sortByColumn(column, order)

    def tag(name: str) -> Callable[[], None]:
        def choose() -> None:
            page.refresh_filter_choices()  # what opening the tag list does
            page.tag_filter.setCurrentIndex(page.tag_filter.findData(name))

        return choose

    shown: list[int] = []
    count_shown = "count"  # waits for the filter before it to finish
    actions: list[Callable[[], object] | str] = [
        search("printer"),
        search("vpn password"),
        sort(3, Qt.SortOrder.DescendingOrder),
        search(""),
        sort(2, Qt.SortOrder.DescendingOrder),
        sort(1, Qt.SortOrder.AscendingOrder),
        search("zzz-none"),
        search(""),
        tag("vpn"),
        count_shown,
        page.clear_filters,
        sort(-1, Qt.SortOrder.AscendingOrder),
    ]
    remaining = list(actions)

    def next_action() -> None:
        if not remaining:
            return
        action = remaining[0]
        if action == count_shown:
            if page.proxy.is_busy():
                return
            shown.append(page.proxy.rowCount())
        else:
            action()  # type: ignore[operator]
        remaining.pop(0)

    clicker = QTimer()
    clicker.timeout.connect(next_action)
    meter.start()
    clicker.start(150)
    run_loop(lambda: not remaining and not page.proxy.is_busy(), 300)
    clicker.stop()
    results["search, filter, sort"] = meter.stop()
    print(f"  (the tag filter 'vpn' showed {shown[0]:,} of {len(doc):,} examples)")

    page.shutdown()
    page.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="ftstudio-bench-data-"))
    try:
        path = scratch / "chat.jsonl"
        size = generate(path, args.examples)
        print(f"{args.examples:,} examples, {size / 1e6:.0f} MB: {path}")
        baseline = best_of(args.runs, lambda: bare_json(path))
        core = best_of(args.runs, lambda: load_and_validate(path))
        studio = best_of(args.runs, lambda: studio_task(path))
        print(f"json.loads loop             {baseline:6.2f} s   1.00x")
        print(f"load + validate (core)      {core:6.2f} s   {core / baseline:.2f}x")
        print(f"studio loading task         {studio:6.2f} s   {studio / baseline:.2f}x")
        ok = core / baseline <= RATIO_TARGET
        print(
            f"target load + validate <= {RATIO_TARGET:.0f}x json.loads: {'OK' if ok else 'MISSED'}"
        )
        print(f"GUI thread, longest gap between {TICK_MS} ms ticks (and 99th percentile):")
        stalls = gui_stalls(path, scratch)
        for phase, (longest, p99) in stalls.items():
            flag = "OK" if longest <= STALL_TARGET_MS else "MISSED"
            print(f"  {phase:22} {longest:7.1f} ms  (p99 {p99:5.1f} ms)  {flag}")
        worst = max(longest for longest, _ in stalls.values())
        ok = ok and worst <= STALL_TARGET_MS
        verdict = "OK" if worst <= STALL_TARGET_MS else "MISSED"
        print(f"target stall <= {STALL_TARGET_MS:.0f} ms: {verdict}")
        if args.keep:
            print(f"kept {path}")
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
