"""GUI composition root: the QApplication, the main window and the start-up project."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from ftstudio.core.sample import sample_copy_dir
from ftstudio.core.settings import SettingsStore

if TYPE_CHECKING:
    from ftstudio.qt.main_window import MainWindow

STARTUP_PROBE_ENV = "FTSTUDIO_STARTUP_PROBE"
"""When set, the app prints a line once the window is shown, then quits (for benchmarks)."""
TOUR_DELAY_MS = 400
"""Pause after the window shows before the first-run tour starts."""


def run_gui(project_dir: Path | None = None, argv: list[str] | None = None) -> int:
    """Open the studio window and run the event loop; returns the exit code.

    The project shown first is ``project_dir`` if given, else the last project
    (when the setting allows), else the user's copy of the sample project, which is
    copied from the bundled resources on first start. The first time the sample opens,
    a short tour of the studio starts over it.

    High-DPI screens: Qt scales by the screen's exact factor (1.25, 1.5…, not rounded),
    and the theme follows the user's choice (by default the desktop's light or dark).
    """
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    import ftstudio
    from ftstudio.qt.main_window import MainWindow
    from ftstudio.qt.style import apply_style

    if QApplication.instance() is None:  # must be set before the application exists
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("ftstudio")
    app.setApplicationDisplayName("ftstudio")
    app.setApplicationVersion(ftstudio.__version__)
    app.setOrganizationName("ftstudio")
    app.setDesktopFileName("ftstudio")
    store = SettingsStore()
    apply_style(app, store.load_settings().theme)
    window = MainWindow(store)
    sys.excepthook = _report_crash
    # However the app ends, a training run stops at a step boundary with a checkpoint, and
    # the other pages' workers (generation, evaluation, export) stop too.
    app.aboutToQuit.connect(window.shutdown_pages)
    open_startup_project(window, project_dir)
    window.show()
    if not os.environ.get(STARTUP_PROBE_ENV):
        # Once the window has its size: the tour, if this is the sample's first opening.
        QTimer.singleShot(TOUR_DELAY_MS, window.offer_first_run_tour)
    if os.environ.get(STARTUP_PROBE_ENV):

        def probe() -> None:
            print(f"ftstudio-window-shown page={window.current_page().key}", flush=True)  # noqa: T201
            window.close()

        QTimer.singleShot(0, probe)
    return app.exec()


def open_startup_project(window: MainWindow, project_dir: Path | None) -> None:
    """Choose and open the first project (see :func:`run_gui`)."""
    if project_dir is not None:
        window.open_project_at(project_dir)
        return
    state, settings = window.state, window.settings
    last = Path(state.last_project) if state.last_project else None
    reopen = settings.reopen_last_project and last is not None and last.is_dir()
    if reopen and window.open_project_at(last):
        return
    if not state.sample_installed or sample_copy_dir().is_dir():
        window.open_sample()


def _report_crash(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    """Show an unexpected error instead of losing it in a terminal nobody watches."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    details = "".join(traceback.format_exception(kind, error, trace))
    sys.__stderr__.write(details)
    if QApplication.instance() is None:
        return
    box = QMessageBox(
        QMessageBox.Icon.Critical, "Something went wrong", f"{kind.__name__}: {error}"
    )
    box.setInformativeText(
        "Your project files were not changed by this error. Please report it with the details."
    )
    box.setDetailedText(details)
    box.exec()


def main() -> int:
    """Entry point of the ``ftstudio-gui`` launcher (no console on Windows)."""
    from ftstudio.cli import main as cli_main

    return cli_main(["gui", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
