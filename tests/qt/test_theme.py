"""Light and dark themes: palettes, the style sheet template, the View ▸ Theme menu, the
desktop's scheme followed live, readable colours on dark, sharp icons on high-DPI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QImage, QPalette

from ftstudio.core.settings import SettingsStore
from ftstudio.qt.main_window import MainWindow
from ftstudio.qt.screenshot import render_page
from ftstudio.qt.style import (
    TONES,
    apply_style,
    dark_palette,
    is_dark,
    light_palette,
    nav_icon,
    readable,
    readable_background,
    resolve_theme,
    style_sheet,
    theme_controller,
    tone,
)
from ftstudio.qt.training.log_pane import HIGHLIGHT, LogPane
from ftstudio.qt.training.text import ERROR, WARNING
from tests.qt.helpers import run_isolated


@pytest.fixture
def look(qapp):  # noqa: ANN001, ANN201
    """Put the application's look back as it was after the test."""
    controller = theme_controller(qapp)
    before = (
        QPalette(qapp.palette()),
        qapp.styleSheet(),
        qapp.style().name(),
        controller.choice,
        controller.theme,
    )
    yield qapp
    palette, sheet, style, choice, theme = before
    qapp.setStyle(style)
    qapp.setPalette(palette)
    qapp.setStyleSheet(sheet)
    controller.choice, controller.theme = choice, theme


@pytest.fixture
def window(qtbot, user_dirs, look):  # noqa: ANN001, ANN201
    win = MainWindow(SettingsStore(user_dirs["config"]))
    qtbot.addWidget(win)
    return win


def _lightness(image: QImage) -> float:
    """Mean lightness (0–255) of a sample of the image's pixels."""
    values = [
        QColor(image.pixel(x, y)).lightness()
        for x in range(0, image.width(), 9)
        for y in range(0, image.height(), 9)
    ]
    return sum(values) / len(values)


def test_the_palettes_are_light_and_dark() -> None:
    assert not is_dark(light_palette())
    assert is_dark(dark_palette())
    dark = dark_palette()
    text = dark.color(QPalette.ColorRole.Text).lightness()
    base = dark.color(QPalette.ColorRole.Base).lightness()
    assert text - base > 150  # text reads on fields
    # Fusion's outlines (the window colour, darker) show around fields and cards.
    outline = dark.color(QPalette.ColorRole.Window).darker(140).lightness()
    assert base - outline > 15


def test_the_style_sheet_template_is_filled_for_both_themes() -> None:
    for dark, name in ((False, "light"), (True, "dark")):
        sheet = style_sheet(dark)
        assert not re.findall(r"@[a-z_]+\b", sheet), "a named colour was left unfilled"
        assert f"color: {TONES[name]['error']};" in sheet
    assert style_sheet(False) != style_sheet(True)
    assert set(TONES["light"]) == set(TONES["dark"])


def test_the_system_choice_follows_the_desktop(look) -> None:
    # The offscreen platform reports no colour scheme: light.
    assert look.styleHints().colorScheme() != Qt.ColorScheme.Dark
    assert resolve_theme("system") == "light"
    assert resolve_theme("dark") == "dark"
    with pytest.raises(ValueError, match="Unknown theme"):
        resolve_theme("blue")
    controller = theme_controller(look)
    assert apply_style(look, "system") == "light"
    changes = []
    controller.sig_theme_changed.connect(changes.append)
    look.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)  # the desktop turns dark
    assert is_dark()
    assert controller.theme == "dark"
    assert f"color: {TONES['dark']['error']};" in look.styleSheet()
    look.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert not is_dark()
    apply_style(look, "light")  # a fixed choice ignores the desktop
    look.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert not is_dark()
    assert changes == ["dark", "light"]


def test_named_and_readable_colours(look) -> None:
    apply_style(look, "light")
    assert tone("error") == TONES["light"]["error"]
    assert readable("#c62828") == "#c62828"  # unchanged on light
    assert readable_background("#fde8e8") == "#fde8e8"
    apply_style(look, "dark")
    assert tone("error") == TONES["dark"]["error"]
    for colour in ("#c62828", "#2e7d32", "#b26a00", "#1565c0", "#7a4f00"):
        assert QColor(readable(colour)).lightness() > 150, colour
    shades = [QColor(readable_background(c)) for c in ("#c6ebd0", "#9fdcae")]
    assert all(shade.lightness() < 90 for shade in shades)
    assert shades[0] != shades[1]  # neighbouring token shades stay apart


def test_view_theme_menu_switches_and_saves(window, user_dirs) -> None:
    assert window.theme_actions["system"].isChecked()
    window.theme_actions["dark"].trigger()
    assert is_dark()
    assert window.settings.theme == "dark"
    saved = json.loads((user_dirs["config"] / "settings.json").read_text())
    assert saved["theme"] == "dark"
    assert window.theme_actions["dark"].isChecked()
    # The navigation icons were redrawn with a light stroke.
    icon = window.navigation.item(1).icon().pixmap(20, 20).toImage()
    strokes = [
        QColor(icon.pixel(x, y))
        for x in range(icon.width())
        for y in range(icon.height())
        if QColor.fromRgba(icon.pixel(x, y)).alpha() > 200
    ]
    assert strokes
    assert max(colour.lightness() for colour in strokes) > 150
    window.theme_actions["light"].trigger()
    assert not is_dark()
    assert window.settings.theme == "light"
    again = MainWindow(SettingsStore(user_dirs["config"]))
    assert again.settings.theme == "light"
    assert again.theme_actions["light"].isChecked()
    again.close()


def test_the_log_highlights_read_on_dark(look, qtbot) -> None:
    apply_style(look, "dark")
    pane = LogPane()
    qtbot.addWidget(pane)
    pane.add_text("careful", WARNING)
    pane.add_text("broken", ERROR)
    for number in (0, 1):
        block = pane.document().findBlockByNumber(number)
        background = block.blockFormat().background().color()
        text = block.begin().fragment().charFormat().foreground().color()
        assert background.lightness() < 90
        assert text.lightness() - background.lightness() > 100
    apply_style(look, "light")
    light = LogPane()
    qtbot.addWidget(light)
    light.add_text("careful", WARNING)
    assert light.document().firstBlock().blockFormat().background().color() == QColor(
        HIGHLIGHT[WARNING][1]
    )


@pytest.mark.parametrize("page", ["dataset", "train"])
def test_pages_render_dark(look, tmp_path: Path, page: str) -> None:
    light = QImage(str(render_page(tmp_path / "light.png", page, size=(900, 600))))
    dark = QImage(str(render_page(tmp_path / "dark.png", page, size=(900, 600), theme="dark")))
    assert _lightness(light) > 180
    assert _lightness(dark) < 90
    assert dark.width() == 900


def test_the_screenshot_command_takes_a_theme(look, tmp_path: Path, capsys) -> None:
    from ftstudio.cli import main

    out = tmp_path / "guide-dark.png"
    code = main(["screenshot", str(out), "--page", "guide", "--size", "640x480", "--theme", "dark"])
    assert code == 0
    assert "dark theme" in capsys.readouterr().out
    assert _lightness(QImage(str(out))) < 90


def test_nav_icons_hold_pixmaps_for_high_dpi(qapp) -> None:
    icon = nav_icon("dataset")
    for ratio in (1.0, 2.0):
        pixmap = icon.pixmap(QSize(20, 20), ratio)
        assert pixmap.devicePixelRatio() == ratio
        assert pixmap.width() == round(20 * ratio)


HIGH_DPI_SCRIPT = """
import json, os
os.environ["QT_SCALE_FACTOR"] = "2"
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication
from ftstudio.app import open_startup_project
from ftstudio.core.settings import SettingsStore
from ftstudio.qt.main_window import MainWindow
from ftstudio.qt.style import apply_style

app = QApplication([])
apply_style(app, "light")
window = MainWindow(SettingsStore())
open_startup_project(window, None)
window.resize(1000, 700)
window.show()
for _ in range(5):
    app.processEvents()
image = window.grab()
icon = window.navigation.item(1).icon().pixmap(QSize(20, 20), window.devicePixelRatio())
print(json.dumps({
    "ratio": window.devicePixelRatio(),
    "image": [image.width(), image.height(), image.devicePixelRatio()],
    "icon": [icon.width(), icon.devicePixelRatio()],
    "nav": window.navigation.width(),
}))
window.close()
"""


def test_the_window_renders_sharp_at_twice_the_scale(tmp_path: Path) -> None:
    report = run_isolated(HIGH_DPI_SCRIPT, tmp_path)
    assert report["ratio"] == 2.0
    assert report["image"] == [2000, 1400, 2.0]  # every logical pixel is 2 × 2 device pixels
    assert report["icon"] == [40, 2.0]  # drawn from the SVG at 40 px, not scaled up
    assert report["nav"] == 190  # sizes stay in logical pixels
