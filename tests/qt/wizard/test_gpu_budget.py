"""The settings' GPU memory budget is what the wizard plans for (0: the detected GPU)."""

from __future__ import annotations

from ftstudio.core.settings import AppSettings, SettingsStore
from ftstudio.qt.main_window import MainWindow
from ftstudio.qt.pages.wizard import PlanWizardPage
from ftstudio.qt.wizard.gpu import GpuReport, gpu_choice
from ftstudio.qt.wizard.memory_bar import MemoryBar
from ftstudio.qt.wizard.values import DEFAULT_GPU


def test_the_budget_is_chosen_before_the_detected_gpu(qtbot) -> None:  # noqa: ANN001
    bar = MemoryBar()
    qtbot.addWidget(bar)
    bar.set_gpus(GpuReport())
    assert bar.gpu() == DEFAULT_GPU  # no GPU, no budget: 24 GB
    with qtbot.waitSignal(bar.sig_gpu_changed) as changed:
        bar.set_budget(48)
    assert changed.args[0].memory_gb == 48.0
    assert bar.gpu_combo.currentText() == "48 GB · budget from Settings"
    h200 = gpu_choice("NVIDIA H200", 141.0)
    bar.set_gpus(GpuReport((h200,)))
    assert bar.gpu().memory_gb == 48.0, "the budget wins over the detected GPU"
    bar.set_budget(0)
    assert bar.gpu() == h200
    assert "budget" not in " ".join(bar.gpu_combo.itemText(i) for i in range(bar.gpu_combo.count()))


def test_the_wizard_opened_from_the_window_plans_for_the_budget(
    qtbot,
    user_dirs,
    sample_project,  # noqa: ANN001
) -> None:
    store = SettingsStore(user_dirs["config"])
    store.save_settings(AppSettings(gpu_memory_gb=12.5))
    window = MainWindow(store, remember=False)
    qtbot.addWidget(window)
    window.set_project(sample_project)
    window.show_plan_wizard()
    [wizard] = window.findChildren(PlanWizardPage)
    assert wizard.memory_bar.gpu().memory_gb == 12.5
    assert wizard.planner.gpu.memory_gb == 12.5
    wizard.update_memory()
    estimate = wizard.memory_bar.estimate
    assert estimate is None or estimate.gpu_gb == 12.5
