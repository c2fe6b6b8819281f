"""Help ▸ About: the ftstudio version and the versions of the stack (read without importing)."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

import ftstudio
from ftstudio.qt.style import app_icon

STACK = (
    "torch",
    "transformers",
    "peft",
    "trl",
    "bitsandbytes",
    "accelerate",
    "datasets",
    "tokenizers",
    "PySide6-Essentials",
    "pyqtgraph",
    "platformdirs",
)


def stack_versions() -> list[tuple[str, str]]:
    """(package, version) for each library of the stack; 'not installed' when missing."""
    rows = []
    for name in STACK:
        try:
            rows.append((name, version(name)))
        except PackageNotFoundError:
            rows.append((name, "not installed"))
    return rows


class AboutDialog(QDialog):
    """Shows the ftstudio version, Python and every stack library's version."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About ftstudio")
        layout = QVBoxLayout(self)
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(64, 64))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(icon)
        rows = "".join(f"<tr><td>{n}</td><td>&nbsp;{v}</td></tr>" for n, v in stack_versions())
        text = QLabel(
            f"<h3>ftstudio {ftstudio.__version__}</h3>"
            "<p>Fine-tune language models on your own GPU.</p>"
            f"<table>{rows}<tr><td>Python</td><td>&nbsp;{platform.python_version()}</td></tr>"
            "</table>"
        )
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
