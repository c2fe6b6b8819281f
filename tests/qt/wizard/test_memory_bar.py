"""The memory bar: segments, verdict, the fix and the GPU chooser."""

from __future__ import annotations

import dataclasses

import pytest

from ftstudio.core.memory import LABELS, MemoryInputs, estimate_memory
from ftstudio.core.models import resolve_model_spec
from ftstudio.qt.wizard.gpu import GpuReport, gpu_choice
from ftstudio.qt.wizard.memory_bar import GROUPS, MemoryBar, grouped
from ftstudio.qt.wizard.values import DEFAULT_GPU


@pytest.fixture
def bar(qtbot) -> MemoryBar:  # noqa: ANN001
    widget = MemoryBar()
    qtbot.addWidget(widget)
    widget.resize(900, 160)
    widget.show()
    return widget


def test_the_groups_cover_every_part_once() -> None:
    keys = [key for _, group, _ in GROUPS for key in group]
    assert sorted(keys) == sorted(LABELS)


def test_an_estimate_is_shown_with_its_verdict(bar) -> None:  # noqa: ANN001
    spec = resolve_model_spec("llama-3.1-8b")
    estimate = estimate_memory(spec, MemoryInputs(), 24.0)
    bar.set_estimate(estimate)
    assert f"{estimate.total_gb:.1f} GB" in bar.total_label.text()
    assert "Fits" in bar.verdict_label.text()
    assert sum(value for _, value, _ in bar.bar.segments) == pytest.approx(estimate.total_gb)
    assert bar.bar.segments == grouped(estimate)
    assert "Linear-layer weights (4-bit NF4)" in bar.bar.toolTip()
    assert not bar.apply_button.isVisible()


def test_a_run_that_does_not_fit_offers_the_cheapest_fix(bar, qtbot) -> None:  # noqa: ANN001
    spec = resolve_model_spec("llama-3.1-8b")
    inputs = dataclasses.replace(MemoryInputs(), method="lora", batch=16, max_length=4096)
    estimate = estimate_memory(spec, inputs, 24.0)
    assert estimate.verdict == "won't fit"
    bar.set_estimate(estimate)
    assert "Won't fit" in bar.verdict_label.text()
    assert bar.apply_button.isVisible()
    assert estimate.suggestions[0].text.split(":")[0][1:] in bar.suggestion_label.text()
    with qtbot.waitSignal(bar.sig_apply_requested) as blocker:
        bar.apply_button.click()
    assert blocker.args == [estimate.suggestions[0]]


def test_no_estimate_says_why(bar) -> None:  # noqa: ANN001
    bar.set_estimate(None, "Choose a model the wizard can read.")
    assert bar.total_label.text() == "—"
    assert bar.note_label.text() == "Choose a model the wizard can read."


def test_gpu_chooser_defaults_to_24_gb_then_the_detected_card(bar, qtbot) -> None:  # noqa: ANN001
    assert bar.gpu() == DEFAULT_GPU
    assert bar.gpu_status.text() == "Looking for a GPU…"
    found = gpu_choice("NVIDIA GeForce RTX 4090", 23.99)
    with qtbot.waitSignal(bar.sig_gpu_changed) as blocker:
        bar.set_gpus(GpuReport((found,)))
    assert blocker.args == [found]
    assert bar.gpu_status.text() == "Detected:"
    assert bar.gpu_combo.itemText(0) == found.label
    bar.set_gpus(GpuReport(error="GPU detection failed: no driver"))
    assert "choose yours" in bar.gpu_status.text()
    assert bar.gpu() == DEFAULT_GPU  # the detected card is gone: back to the default
    assert bar.gpu_status.toolTip() == "GPU detection failed: no driver"
    bar.set_gpus(GpuReport())
    assert bar.gpu_status.text() == "No CUDA GPU found; plan for:"
    with qtbot.waitSignal(bar.sig_gpu_changed) as blocker:
        bar.gpu_combo.setCurrentIndex(bar.gpu_combo.count() - 1)
    assert blocker.args[0].memory_gb == 141.0
