"""The wizard never loads torch into the window: not when built, shown, walked or detecting."""

from __future__ import annotations

from pathlib import Path

from tests.qt.helpers import run_isolated
from tests.qt.test_startup_imports import HEAVY

SCRIPT = """
import json, sys, tempfile
from pathlib import Path
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication
from ftstudio.core.sample import install_sample
from ftstudio.qt.pages.wizard import PlanWizardPage

def loaded():
    return sorted(name for name in sys.modules if name.split(".")[0] in {heavy})

app = QApplication([])
page = PlanWizardPage()
page.set_project(install_sample(Path(tempfile.mkdtemp()) / "Sample"))
built = loaded()
page.resize(1100, 780)
page.show()
steps = [page.current_step()]
while page.go_next():
    steps.append(page.current_step())
probe = page.gpu_probe
loop = QEventLoop()
probe.sig_finished.connect(loop.quit)
QTimer.singleShot(90_000, loop.quit)
if probe.report is None:
    loop.exec()
report = probe.report
print(json.dumps({{
    "built": built,
    "loaded": loaded(),
    "steps": steps,
    "detected": None if report is None else [g.label for g in report.gpus],
    "error": None if report is None else report.error,
    "gpu": page.memory_bar.gpu_status.text(),
    "saved": str(page.save()),
}}))
page.shutdown()
"""


def test_the_wizard_and_gpu_detection_leave_torch_out(tmp_path: Path) -> None:
    report = run_isolated(SCRIPT.format(heavy=set(HEAVY)), tmp_path, timeout=180)
    assert report["built"] == [], f"building the wizard imported {report['built']}"
    assert report["steps"] == ["model", "method", "data", "hyperparameters", "review"]
    assert report["error"] == "", report["error"]
    assert report["detected"] is not None, "GPU detection did not answer"
    assert report["gpu"] in ("Detected:", "No CUDA GPU found; plan for:")
    assert report["loaded"] == [], f"the wizard imported {report['loaded']}"
    assert report["saved"].endswith("configs/qlora-sft.yaml")
