"""The Linux desktop entry and the icons it names."""

from __future__ import annotations

import configparser
from pathlib import Path

from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parent.parent


def test_desktop_entry_is_complete() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(ROOT / "packaging" / "linux" / "ftstudio.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "ftstudio"
    assert entry["Icon"] == "ftstudio"
    assert entry["Categories"].endswith(";")
    assert entry["Terminal"] == "false"


def test_icons_exist_and_load(qapp) -> None:
    icons = ROOT / "resources" / "icons"
    png = QImage(str(icons / "ftstudio-256.png"))
    assert (png.width(), png.height()) == (256, 256)
    assert not QImage(str(icons / "ftstudio.svg")).isNull()
    for name in ("guide", "dataset", "train", "runs", "export"):
        assert not QImage(str(icons / "nav" / f"{name}.svg")).isNull(), name
