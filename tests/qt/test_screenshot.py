"""Offscreen rendering of each page to PNG."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from ftstudio.core.project import ProjectError
from ftstudio.qt.screenshot import PAGES, render_page


def _colours(image: QImage) -> int:
    step = 7
    return len(
        {
            image.pixel(x, y)
            for x in range(0, image.width(), step)
            for y in range(0, image.height(), step)
        }
    )


def test_every_page_renders_a_distinct_picture(qapp, tmp_path: Path, user_dirs) -> None:
    images = {}
    for page in PAGES:
        out = render_page(tmp_path / f"{page}.png", page, size=(900, 600))
        image = QImage(str(out))
        assert (image.width(), image.height()) == (900, 600)
        assert _colours(image) > 20, f"{page} looks blank"
        images[page] = image
    assert len({bytes(image.constBits()) for image in images.values()}) == len(PAGES)
    assert not user_dirs["config"].exists(), "a screenshot must not touch the user's settings"


def test_render_a_given_project(qapp, tmp_path: Path, sample_project) -> None:
    out = render_page(tmp_path / "runs.png", "runs", sample_project.folder, size=(700, 500))
    assert QImage(str(out)).width() == 700


def test_unknown_page_and_bad_project_are_refused(qapp, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Unknown page"):
        render_page(tmp_path / "x.png", "settings")
    with pytest.raises(ProjectError, match="no project.json"):
        render_page(tmp_path / "x.png", "dataset", tmp_path)


def test_showcase_selects_every_run_and_the_evaluation_tab(qtbot, trained_project) -> None:
    from ftstudio.core.settings import SettingsStore
    from ftstudio.qt.main_window import MainWindow
    from ftstudio.qt.screenshot import showcase_page

    window = MainWindow(SettingsStore(), remember=False)
    qtbot.addWidget(window)
    window.set_project(trained_project)
    runs = window.page("runs")
    showcase_page(runs)
    assert [run.id for run in runs.selected_runs()] == [run.id for run in runs.runs] != []
    evaluate = window.page("evaluate")
    showcase_page(evaluate)
    assert evaluate.tabs.currentWidget() is evaluate.eval_view
