"""Render one page of the studio offscreen to a PNG (for the README, docs and reviews)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PAGES = ("guide", "dataset", "train", "evaluate", "runs", "export", "wizard")


def render_page(
    out: Path,
    page: str = "dataset",
    project_dir: Path | None = None,
    size: tuple[int, int] = (1200, 780),
    theme: str = "light",
    showcase: bool = False,
) -> Path:
    """Render ``page`` of the main window (or the wizard) to ``out`` as PNG.

    Without ``project_dir`` a temporary copy of the sample project is used. No user
    setting or recent-list entry is read or written. ``theme`` is ``light`` or ``dark``
    (``system``: the desktop's). ``showcase`` shows the content a user would see after a
    few clicks (see :func:`showcase_page`).
    """
    if page not in PAGES:
        raise ValueError(f"Unknown page {page!r}; choose one of {', '.join(PAGES)}.")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from ftstudio.core import paths
    from ftstudio.core.project import open_project
    from ftstudio.core.sample import install_sample
    from ftstudio.core.settings import SettingsStore
    from ftstudio.qt.main_window import MainWindow
    from ftstudio.qt.pages import PlanWizardPage
    from ftstudio.qt.style import apply_style

    app = QApplication.instance() or QApplication(["ftstudio-screenshot"])
    apply_style(app, theme)
    with tempfile.TemporaryDirectory(prefix="ftstudio-shot-") as scratch:
        previous = os.environ.get(paths.CONFIG_DIR_ENV)
        os.environ[paths.CONFIG_DIR_ENV] = str(Path(scratch) / "config")
        try:
            project = (
                open_project(project_dir)
                if project_dir
                else install_sample(Path(scratch) / "IT Support Sample")
            )
            if page == "wizard":
                widget = PlanWizardPage()
                widget.set_project(project)
            else:
                widget = MainWindow(SettingsStore(Path(scratch) / "config"), remember=False)
                widget.set_project(project)
                widget.show_page(page)
            widget.resize(*size)
            widget.show()
            for _ in range(3):
                app.processEvents()
            if showcase and page != "wizard":
                showcase_page(widget.page(page))
                for _ in range(3):
                    app.processEvents()
            out = Path(out)
            out.parent.mkdir(parents=True, exist_ok=True)
            if not widget.grab().save(str(out), "PNG"):
                raise OSError(f"Could not write {out}.")
            widget.close()
            widget.deleteLater()
            app.processEvents()
        finally:
            if previous is None:
                os.environ.pop(paths.CONFIG_DIR_ENV, None)
            else:
                os.environ[paths.CONFIG_DIR_ENV] = previous
    return out


def showcase_page(page: object) -> None:
    """Click what a user would to show a page's content: every run selected on the Runs
    page (their curves overlaid), the Evaluation tab of the Evaluate page with a run that
    has a saved report, the newest export's parity check on the Export page."""
    key = getattr(page, "key", "")
    if key == "runs":
        page.select_runs([run.id for run in page.runs])  # type: ignore[attr-defined]
    elif key == "evaluate":
        evaluated = [run for run in page.runs if (run.run_dir / "eval" / "report.json").is_file()]  # type: ignore[attr-defined]
        if evaluated:
            page.select_run(evaluated[0].run_dir)  # type: ignore[attr-defined]
        page.tabs.setCurrentWidget(page.eval_view)  # type: ignore[attr-defined]
    elif key == "export":
        table = page.exports_table  # type: ignore[attr-defined]
        if table.topLevelItemCount():
            table.setCurrentItem(table.topLevelItem(table.topLevelItemCount() - 1))
