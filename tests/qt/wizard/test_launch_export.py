"""The Review step's "Several GPUs" export on a copy of the sample project."""

from __future__ import annotations

import json

import yaml
from accelerate.commands.config.config_args import ClusterConfig
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from ftstudio.core.train_config import load_config
from ftstudio.qt.pages.wizard import PlanWizardPage
from ftstudio.qt.wizard.gpu import GpuProbe
from ftstudio.qt.wizard.plan import CONFIGS_KEY

LEFT = Qt.MouseButton.LeftButton


def test_export_saves_the_config_and_writes_the_launch_file(qtbot, sample_project) -> None:  # noqa: ANN001
    page = PlanWizardPage(gpu_probe=GpuProbe(detect=list))
    qtbot.addWidget(page, before_close_func=lambda w: w.shutdown())
    page.resize(1120, 800)
    page.set_project(sample_project)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.planner.stats is not None)
    page.go_to("review")
    review = page.steps["review"]
    review.name_edit.clear()
    qtbot.keyClicks(review.name_edit, "multi")
    config_path = sample_project.folder / "configs" / "multi.yaml"
    launch_path = sample_project.folder / "configs" / "multi.accelerate.yaml"
    assert not config_path.exists()

    review.gpus_spin.setValue(4)
    review.strategy_combo.setCurrentIndex(review.strategy_combo.findData("fsdp"))
    qtbot.mouseClick(review.export_button, LEFT)

    # the configuration was saved first, through the planner's save (listed in project.json)
    assert load_config(config_path) == page.planner.config()
    manifest = json.loads(sample_project.manifest_path.read_text(encoding="utf-8"))
    assert manifest[CONFIGS_KEY]["multi"] == "configs/multi.yaml"
    assert "Saved" in review.saved_label.text()
    written = yaml.safe_load(launch_path.read_text(encoding="utf-8"))
    assert (written["distributed_type"], written["num_processes"]) == ("FSDP", 4)
    assert ClusterConfig.from_yaml_file(str(launch_path)).num_processes == 4
    command = (
        "accelerate launch --config_file configs/multi.accelerate.yaml "
        "-m ftstudio train configs/multi.yaml"
    )
    assert review.command_edit.text() == command
    assert review.command_edit.isReadOnly()
    assert page.planner.config().method == "qlora"  # the wizard's default: FSDP is caveated
    assert "bnb_4bit_quant_storage" in review.launch_label.text()
    qtbot.mouseClick(review.copy_button, LEFT)
    assert QGuiApplication.clipboard().text() == command

    # exporting again with the plan unchanged rewrites only the launch file
    saved_at = config_path.stat().st_mtime_ns
    review.strategy_combo.setCurrentIndex(review.strategy_combo.findData("ddp"))
    assert review.command_edit.text() == ""  # a changed choice is not exported yet
    qtbot.mouseClick(review.export_button, LEFT)
    assert config_path.stat().st_mtime_ns == saved_at
    assert yaml.safe_load(launch_path.read_text(encoding="utf-8"))["distributed_type"] == (
        "MULTI_GPU"
    )
    assert review.command_edit.text() == command


def test_a_bad_name_is_reported_and_nothing_written(qtbot, sample_project) -> None:  # noqa: ANN001
    page = PlanWizardPage(gpu_probe=GpuProbe(detect=list))
    qtbot.addWidget(page, before_close_func=lambda w: w.shutdown())
    page.set_project(sample_project)
    qtbot.waitUntil(lambda: page.planner.stats is not None)
    page.go_to("review")
    review = page.steps["review"]
    review.name_edit.clear()
    qtbot.keyClicks(review.name_edit, "-bad name")
    assert review.export_launch_files() is None
    assert "Not exported" in review.launch_label.text()
    assert review.command_edit.text() == ""
    assert not review.copy_button.isEnabled()
    assert not list((sample_project.folder / "configs").glob("*.accelerate.yaml"))


def test_exporting_launch_files_reports_the_saved_config(qtbot, sample_project) -> None:  # noqa: ANN001
    """Saving through the export reaches the page's sig_saved (the window's status bar)."""
    page = PlanWizardPage(gpu_probe=GpuProbe(detect=list))
    qtbot.addWidget(page, before_close_func=lambda w: w.shutdown())
    page.set_project(sample_project)
    qtbot.waitUntil(lambda: page.planner.stats is not None)
    page.go_to("review")
    with qtbot.waitSignal(page.sig_saved, timeout=5000) as saved:
        page.steps["review"].export_launch_files()
    assert saved.args[0].parent == sample_project.folder / "configs"
