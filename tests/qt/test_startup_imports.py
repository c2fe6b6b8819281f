"""Opening the main window must not load the ML stack: torch and friends load on demand."""

from __future__ import annotations

from pathlib import Path

from tests.qt.helpers import run_isolated

HEAVY = ("torch", "transformers", "peft", "trl", "bitsandbytes", "datasets", "accelerate")

SCRIPT = """
import json, sys
from PySide6.QtWidgets import QApplication
from ftstudio.app import open_startup_project
from ftstudio.core.settings import SettingsStore
from ftstudio.qt.main_window import MainWindow
from ftstudio.qt.style import apply_style

app = QApplication([])
apply_style(app)
window = MainWindow(SettingsStore())
open_startup_project(window, None)
window.show()
for key in ("guide", "dataset", "train", "evaluate", "runs", "export"):
    window.show_page(key)
    app.processEvents()
window.show_plan_wizard()
app.processEvents()
loaded = sorted(name for name in sys.modules if name.split(".")[0] in {heavy})
print(json.dumps({{"project": window.project.name if window.project else None, "loaded": loaded}}))
window.close()
"""


def test_main_window_opens_without_torch_or_transformers(tmp_path: Path) -> None:
    report = run_isolated(SCRIPT.format(heavy=set(HEAVY)), tmp_path)
    assert report["project"] == "IT Support Sample", "the window did not open on the sample"
    assert report["loaded"] == [], f"opening the window imported {report['loaded']}"


def test_the_probe_detects_a_heavy_import(tmp_path: Path) -> None:
    """The same script does see torch when something imports it (the check can fail)."""
    script = SCRIPT.format(heavy=set(HEAVY)).replace("window.show()", "window.show()\nimport torch")
    assert "torch" in run_isolated(script, tmp_path)["loaded"]
