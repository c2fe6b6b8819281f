"""Application look: Fusion style, the studio style sheet, icons, Qt message filter."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QMessageLogContext, Qt, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from ftstudio.core import paths

NAV_STROKE = "#6b7a99"
"""Stroke colour of the navigation icons as drawn; replaced by white when selected."""

BENIGN_QT_MESSAGES = ("This plugin does not support propagateSizeHints()",)
"""Qt platform-plugin chatter that says nothing about ftstudio (offscreen rendering)."""


def app_icon() -> QIcon:
    """The ftstudio icon (SVG, with a PNG fallback for platforms without the SVG plugin)."""
    icon = QIcon(str(paths.resource("icons", "ftstudio.svg")))
    icon.addFile(str(paths.resource("icons", "ftstudio-256.png")))
    return icon


def nav_icon(name: str, size: int = 40) -> QIcon:
    """Icon of one navigation entry (``guide``, ``dataset``…), white when selected."""
    svg = paths.resource("icons", "nav", f"{name}.svg").read_text(encoding="utf-8")
    icon = QIcon()
    icon.addPixmap(_render_svg(svg, size), QIcon.Mode.Normal)
    icon.addPixmap(_render_svg(svg.replace(NAV_STROKE, "#ffffff"), size), QIcon.Mode.Selected)
    return icon


def _render_svg(svg: str, size: int) -> QPixmap:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(QByteArray(svg.encode("utf-8"))).render(painter)
    painter.end()
    return QPixmap.fromImage(image)


def apply_style(app: QApplication) -> None:
    """Use Fusion (same look on every OS) and the studio style sheet."""
    app.setStyle("Fusion")
    app.setWindowIcon(app_icon())
    app.setStyleSheet(paths.resource("styles", "studio.qss").read_text(encoding="utf-8"))


def install_message_filter() -> None:
    """Drop the known-benign platform messages; pass everything else to stderr."""
    import sys

    def handler(kind: QtMsgType, _context: QMessageLogContext, message: str) -> None:
        if not any(benign in message for benign in BENIGN_QT_MESSAGES):
            print(message, file=sys.stderr)  # noqa: T201 - Qt's own default destination

    qInstallMessageHandler(handler)
