"""Benchmark: time from process start to the main window shown (run on demand, not by pytest).

    python tests/bench/bench_startup.py [--runs 7]

Each sample launches a fresh process and stops the clock when the process prints
that its window is on screen. The baseline, measured in the same run, is a bare
PySide6 QMainWindow: the ratio shows what ftstudio adds on top of Qt itself.
The target on a 2-core CPU machine is under 1.5 s (median, warm first start excluded).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 1.5
MARK = "window-shown"

BASELINE = """
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
window = QMainWindow()
window.resize(1200, 780)
window.show()
def probe():
    print("baseline-window-shown", flush=True)
    window.close()
QTimer.singleShot(0, probe)
app.exec()
"""


def time_until_shown(command: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning ``command`` to its line containing ``window-shown``."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    for line in process.stdout:
        if MARK in line:
            elapsed = time.perf_counter() - start
            break
    else:
        raise RuntimeError(f"{command} exited without showing its window")
    process.wait(timeout=60)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="ftstudio-bench-"))
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "FTSTUDIO_CONFIG_DIR": str(scratch / "config"),
        "FTSTUDIO_DATA_DIR": str(scratch / "data"),
        "FTSTUDIO_STARTUP_PROBE": "1",
    }
    ftstudio = [sys.executable, "-m", "ftstudio"]
    try:
        first = time_until_shown(ftstudio, env)  # copies the sample project
        baseline = [
            time_until_shown([sys.executable, "-c", BASELINE], env) for _ in range(args.runs)
        ]
        studio = [time_until_shown(ftstudio, env) for _ in range(args.runs)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    base_median, studio_median = statistics.median(baseline), statistics.median(studio)
    print(f"platform: {env['QT_QPA_PLATFORM']}, runs: {args.runs}")
    print(f"bare PySide6 window      median {base_median:.3f} s  (min {min(baseline):.3f})")
    print(f"ftstudio, first start    {first:.3f} s  (copies the sample project)")
    print(f"ftstudio main window     median {studio_median:.3f} s  (min {min(studio):.3f})")
    print(f"ratio ftstudio / bare Qt {studio_median / base_median:.2f}x")
    verdict = "meets" if studio_median < TARGET_S else "MISSES"
    print(f"target < {TARGET_S:.1f} s: {verdict}")
    return 0 if studio_median < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
