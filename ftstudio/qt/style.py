"""Application look: Fusion style, light and dark themes, the studio style sheet, icons.

The theme is ``system`` (follow the desktop's colour scheme, also when it changes while
the app runs), ``light`` or ``dark``. :func:`apply_style` sets the Fusion style, the
theme's palette and the studio style sheet (``resources/styles/studio.qss``, a template
whose ``@name`` words are replaced by the theme's :data:`TONES`).

Widgets should take their colours from the palette. Where a widget needs a colour of its
own (an error message, a status, a highlighted log line), :func:`tone` gives the theme's
version of a named colour, and :func:`readable` / :func:`readable_background` turn a
colour chosen for the light theme into one that reads well on the dark theme (in the
light theme they return it unchanged).
"""

from __future__ import annotations

import re
import sys

from PySide6.QtCore import (
    QByteArray,
    QMessageLogContext,
    QObject,
    Qt,
    QtMsgType,
    Signal,
    qInstallMessageHandler,
)
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication, QStyleFactory

from ftstudio.core import paths
from ftstudio.core.settings import THEMES

NAV_STROKE = "#6b7a99"
"""Stroke colour of the navigation icons as drawn; replaced when selected or dark."""
NAV_STROKE_DARK = "#a9b4cc"
"""The navigation icons' stroke on the dark theme."""

BENIGN_QT_MESSAGES = ("This plugin does not support propagateSizeHints()",)
"""Qt platform-plugin chatter that says nothing about ftstudio (offscreen rendering)."""

TONES: dict[str, dict[str, str]] = {
    "light": {
        "error": "#b3261e",
        "warning": "#8a5300",
        "success": "#2e7d32",
        "info": "#1565c0",
        "accent": "#3d6fd1",
        "muted": "#6f7682",
        "error_bg": "#fdecea",
        "warning_bg": "#fff4d6",
        "success_bg": "#e8f5e9",
        "tour_dim": "rgba(20, 24, 33, 0.38)",
    },
    "dark": {
        "error": "#f2a19b",
        "warning": "#f5c26b",
        "success": "#8fd19e",
        "info": "#8ab4f8",
        "accent": "#6b9bff",
        "muted": "#9aa1ad",
        "error_bg": "#4a2523",
        "warning_bg": "#4a3a16",
        "success_bg": "#1f3d26",
        "tour_dim": "rgba(0, 0, 0, 0.5)",
    },
}
"""Named colours per theme; the style sheet uses them as ``@error``, ``@muted``…"""

DARK_COLOURS = {
    QPalette.ColorRole.Window: "#232428",
    QPalette.ColorRole.WindowText: "#e3e5e8",
    QPalette.ColorRole.Base: "#2c2e33",
    QPalette.ColorRole.AlternateBase: "#323439",
    QPalette.ColorRole.ToolTipBase: "#3a3d43",
    QPalette.ColorRole.ToolTipText: "#e3e5e8",
    QPalette.ColorRole.PlaceholderText: "#8d939e",
    QPalette.ColorRole.Text: "#e3e5e8",
    QPalette.ColorRole.Button: "#383b41",
    QPalette.ColorRole.ButtonText: "#e3e5e8",
    QPalette.ColorRole.BrightText: "#ff7b72",
    QPalette.ColorRole.Light: "#4b4f56",
    QPalette.ColorRole.Midlight: "#3c3f45",
    QPalette.ColorRole.Mid: "#4a4e55",
    QPalette.ColorRole.Dark: "#18191c",
    QPalette.ColorRole.Shadow: "#0b0c0d",
    QPalette.ColorRole.Highlight: "#3d6fd1",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#8ab4f8",
    QPalette.ColorRole.LinkVisited: "#c58af9",
    QPalette.ColorRole.Accent: "#3d6fd1",
}
"""The dark palette (Fusion draws every widget from it). Fields and cards (Base) are a
little lighter than the window, so that Fusion's outlines (the window colour, darker)
show around them."""

DARK_DISABLED = {
    QPalette.ColorRole.WindowText: "#777c85",
    QPalette.ColorRole.Text: "#777c85",
    QPalette.ColorRole.ButtonText: "#777c85",
    QPalette.ColorRole.Base: "#27292d",
    QPalette.ColorRole.Button: "#2d3035",
    QPalette.ColorRole.Highlight: "#4a4e55",
    QPalette.ColorRole.HighlightedText: "#b8bcc4",
}


# ---- Palettes and named colours
def light_palette() -> QPalette:
    """Fusion's own light palette (the same on every OS)."""
    style = QStyleFactory.create("Fusion")
    palette = QPalette(style.standardPalette())
    palette.setColor(QPalette.ColorRole.Accent, palette.color(QPalette.ColorRole.Highlight))
    return palette


def dark_palette() -> QPalette:
    """The studio's dark palette."""
    palette = QPalette()
    for role, colour in DARK_COLOURS.items():
        palette.setColor(role, QColor(colour))
    for role, colour in DARK_DISABLED.items():
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(colour))
    return palette


def is_dark(palette: QPalette | None = None) -> bool:
    """Whether ``palette`` (default: the application's) has a dark window background."""
    if palette is None:
        if QGuiApplication.instance() is None:
            return False
        palette = QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def tone(name: str, palette: QPalette | None = None) -> str:
    """The colour ``name`` (``error``, ``warning``, ``success``, ``info``, ``muted``,
    ``error_bg``…) for the theme of ``palette`` (default: the application's)."""
    return TONES["dark" if is_dark(palette) else "light"][name]


def error_style(palette: QPalette | None = None) -> str:
    """A style sheet colouring a label's text as an error, for the current theme."""
    return f"color: {tone('error', palette)};"


def readable(
    colour: str | QColor, palette: QPalette | None = None, *, dark: bool | None = None
) -> str:
    """``colour``, chosen for text on the light theme, made readable on the theme of
    ``palette`` (or ``dark`` when given): unchanged on light; lighter (same hue) on dark.
    Returns ``#rrggbb``."""
    value = QColor(colour)
    if not (is_dark(palette) if dark is None else dark):
        return value.name()
    hue, saturation, lightness, _alpha = value.getHslF()
    lightness = max(lightness, 0.72)
    saturation = min(saturation, 0.75)
    return QColor.fromHslF(max(hue, 0.0), saturation, lightness).name()


def readable_colour(colour: QColor) -> QColor:
    """:func:`readable` for item models: the same ``QColor`` on the light theme (no
    copy), else the lighter one."""
    return QColor(readable(colour)) if is_dark() else colour


def readable_background(
    colour: str | QColor, palette: QPalette | None = None, *, dark: bool | None = None
) -> str:
    """``colour``, a pale background chosen for the light theme, as a dark tint of the
    same hue on the dark theme (unchanged on light). Returns ``#rrggbb``."""
    value = QColor(colour)
    if not (is_dark(palette) if dark is None else dark):
        return value.name()
    hue, saturation, lightness, _alpha = value.getHslF()
    # Pale becomes dark, and two shades stay apart: 0.95 → 0.15, 0.75 → 0.27.
    return QColor.fromHslF(
        max(hue, 0.0), min(saturation, 0.45), 0.12 + (1 - lightness) * 0.6
    ).name()


def style_sheet(dark: bool) -> str:
    """The studio style sheet with the theme's colours filled in."""
    template = paths.resource("styles", "studio.qss").read_text(encoding="utf-8")
    colours = TONES["dark" if dark else "light"]
    return re.sub(
        r"@([a-z_]+)\b", lambda match: colours.get(match.group(1), match.group(0)), template
    )


# ---- Themes
def system_prefers_dark(app: QGuiApplication | None = None) -> bool:
    """Whether the desktop asks for dark colours (``False`` when it does not say)."""
    app = app or QGuiApplication.instance()
    if app is None:
        return False
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def resolve_theme(choice: str, app: QGuiApplication | None = None) -> str:
    """``light`` or ``dark``: the theme ``choice`` (``system``, ``light``, ``dark``) means."""
    if choice not in THEMES:
        raise ValueError(f"Unknown theme {choice!r}; choose one of {', '.join(THEMES)}.")
    if choice == "system":
        return "dark" if system_prefers_dark(app) else "light"
    return choice


class ThemeController(QObject):
    """Keeps the application's theme: the user's choice, and the desktop's while the
    choice is ``system`` (it follows live changes of the desktop's colour scheme).

    Signals:
        sig_theme_changed(str): the theme on screen changed to ``light`` or ``dark``.

    Attributes:
        choice: ``system``, ``light`` or ``dark``.
        theme: the theme on screen, ``light`` or ``dark``.
    """

    sig_theme_changed = Signal(str)

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.app = app
        self.choice = "system"
        self.theme = ""
        app.styleHints().colorSchemeChanged.connect(self._on_color_scheme_changed)

    def set_choice(self, choice: str) -> str:
        """Use ``choice``; returns the theme now on screen."""
        theme = resolve_theme(choice, self.app)
        self.choice = choice
        self._apply(theme)
        return theme

    def _on_color_scheme_changed(self, scheme: Qt.ColorScheme) -> None:
        """The desktop switched between light and dark: follow it if the choice says so."""
        if self.choice == "system":
            self._apply("dark" if scheme == Qt.ColorScheme.Dark else "light")

    def _apply(self, theme: str) -> None:
        dark = theme == "dark"
        self.app.setPalette(dark_palette() if dark else light_palette())
        # Setting the style sheet again repolishes every widget with the new palette.
        self.app.setStyleSheet(style_sheet(dark))
        _retheme_plots(self.app)
        if theme != self.theme:
            self.theme = theme
            self.sig_theme_changed.emit(theme)


def theme_controller(app: QApplication | None = None) -> ThemeController:
    """The application's :class:`ThemeController` (created on first use)."""
    app = app or QApplication.instance()
    if not isinstance(app, QApplication):
        raise RuntimeError("Create the QApplication before asking for its theme.")
    found = app.findChild(ThemeController, "ftstudioTheme")
    if found is None:
        found = ThemeController(app)
        found.setObjectName("ftstudioTheme")
    return found


def apply_style(app: QApplication, theme: str = "system") -> str:
    """Use Fusion (same look on every OS), the ``theme``'s palette and the studio style
    sheet; returns the theme on screen (``light`` or ``dark``)."""
    app.setStyle("Fusion")
    app.setWindowIcon(app_icon())
    return theme_controller(app).set_choice(theme)


def _retheme_plots(app: QApplication) -> None:
    """Give the pyqtgraph plots already made the new palette's background."""
    pg = sys.modules.get("pyqtgraph")
    if pg is None:  # no plot yet: pyqtgraph is imported when the first one is needed
        return
    for widget in app.allWidgets():
        if isinstance(widget, pg.PlotWidget) and widget.backgroundBrush().style() != (
            Qt.BrushStyle.NoBrush
        ):
            widget.setBackground(widget.palette().base().color())


# ---- Icons
def app_icon() -> QIcon:
    """The ftstudio icon (SVG, with a PNG fallback for platforms without the SVG plugin)."""
    icon = QIcon(str(paths.resource("icons", "ftstudio.svg")))
    icon.addFile(str(paths.resource("icons", "ftstudio-256.png")))
    return icon


def nav_icon(name: str, size: int = 20, *, dark: bool | None = None) -> QIcon:
    """Icon of one navigation entry (``guide``, ``dataset``…), white when selected.

    Rendered from SVG at ``size`` logical pixels for 1×, 2× and the screen's device pixel
    ratio, so it stays sharp on high-DPI screens. ``dark`` (default: the application's
    theme) lightens the stroke for dark backgrounds.
    """
    svg = paths.resource("icons", "nav", f"{name}.svg").read_text(encoding="utf-8")
    if dark if dark is not None else is_dark():
        normal = svg.replace(NAV_STROKE, NAV_STROKE_DARK)
    else:
        normal = svg
    selected = svg.replace(NAV_STROKE, "#ffffff")
    icon = QIcon()
    for ratio in device_pixel_ratios():
        icon.addPixmap(_render_svg(normal, size, ratio), QIcon.Mode.Normal)
        icon.addPixmap(_render_svg(selected, size, ratio), QIcon.Mode.Selected)
    return icon


def device_pixel_ratios() -> list[float]:
    """1, 2 and every screen's device pixel ratio, each once, in order."""
    ratios = {1.0, 2.0}
    if QGuiApplication.instance() is not None:
        ratios.update(screen.devicePixelRatio() for screen in QGuiApplication.screens())
    return sorted(ratios)


def _render_svg(svg: str, size: int, ratio: float = 1.0) -> QPixmap:
    pixels = max(1, round(size * ratio))
    image = QImage(pixels, pixels, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(QByteArray(svg.encode("utf-8"))).render(painter)
    painter.end()
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


# ---- Qt messages
def install_message_filter() -> None:
    """Drop the known-benign platform messages; pass everything else to stderr."""

    def handler(kind: QtMsgType, _context: QMessageLogContext, message: str) -> None:
        if not any(benign in message for benign in BENIGN_QT_MESSAGES):
            print(message, file=sys.stderr)  # noqa: T201 - Qt's own default destination

    qInstallMessageHandler(handler)
