"""GPU detection for the memory bar: a child process, a daemon thread, one answer."""

from __future__ import annotations

import pytest

from ftstudio.qt.wizard.gpu import (
    GpuDetectionError,
    GpuProbe,
    GpuReport,
    detect_gpus_isolated,
    gpu_choice,
)


def test_detected_gpus_get_their_throughput_class() -> None:
    choice = gpu_choice("NVIDIA GeForce RTX 4090", 23.99)
    assert choice.detected
    assert choice.gpu_class == "RTX 4090"
    assert choice.label == "NVIDIA GeForce RTX 4090 · 24 GB"
    assert gpu_choice("Some Future GPU", 32.0).gpu_class is None


def test_a_failing_or_slow_child_is_reported(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr("ftstudio.qt.wizard.gpu._SCRIPT", "import sys; sys.exit('no driver')")
    with pytest.raises(GpuDetectionError, match="no driver"):
        detect_gpus_isolated()
    monkeypatch.setattr("ftstudio.qt.wizard.gpu._SCRIPT", "import time; time.sleep(30)")
    with pytest.raises(GpuDetectionError, match="took over 0.3 s"):
        detect_gpus_isolated(timeout_s=0.3)
    with pytest.raises(GpuDetectionError, match="was cancelled"):
        detect_gpus_isolated(cancel=lambda: True)


def test_the_probe_answers_once_in_the_gui_thread(qtbot) -> None:  # noqa: ANN001
    calls = []

    def detect():  # noqa: ANN202
        calls.append(1)
        return [gpu_choice("NVIDIA H100 80GB HBM3", 79.1)]

    probe = GpuProbe(detect=detect)
    with qtbot.waitSignal(probe.sig_finished, timeout=5000) as blocker:
        probe.start()
        probe.start()  # already running: nothing more
    report = blocker.args[0]
    assert isinstance(report, GpuReport)
    assert report.gpus[0].gpu_class == "H100"
    assert probe.report is report
    probe.start()  # done: the answer is kept
    assert calls == [1]
    assert not probe.is_running()


def test_the_probe_reports_errors_in_words(qtbot) -> None:  # noqa: ANN001
    def detect():  # noqa: ANN202
        raise GpuDetectionError("GPU detection failed: CUDA driver too old")

    probe = GpuProbe(detect=detect)
    with qtbot.waitSignal(probe.sig_finished, timeout=5000) as blocker:
        probe.start()
    assert blocker.args[0] == GpuReport(error="GPU detection failed: CUDA driver too old")
