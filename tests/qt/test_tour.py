"""The first minutes: the tour (when it starts and when not, its steps, its keys, that it
never blocks) and the way back to recent projects from the welcome view."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QScrollArea

from ftstudio.app import open_startup_project
from ftstudio.core.settings import SettingsStore
from ftstudio.qt.main_window import MainWindow
from ftstudio.qt.tour import TOUR_STEPS, Tour, TourBubble, TourOverlay


@pytest.fixture
def window(qtbot, user_dirs):  # noqa: ANN001, ANN201
    win = MainWindow(SettingsStore(user_dirs["config"]))
    qtbot.addWidget(win)
    win.resize(1200, 780)
    return win


def _active(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    window.show()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def test_no_tour_unless_asked(window, sample_project) -> None:
    """Creating the window, opening a project or the first start show no tour."""
    window.set_project(sample_project)
    open_startup_project(window, None)
    assert window.tour is None
    assert window.findChildren(TourBubble) == []
    assert window.findChildren(TourOverlay) == []


def test_the_first_start_offers_the_tour_once(window, user_dirs) -> None:
    open_startup_project(window, None)  # first start: the sample project
    window.show()
    tour = window.offer_first_run_tour()
    assert isinstance(tour, Tour)
    assert tour.is_active()
    assert tour.index == 0
    assert window.current_page().key == "guide"
    saved = json.loads((user_dirs["config"] / "state.json").read_text())
    assert saved["tour_shown"] is True
    tour.skip()
    assert window.offer_first_run_tour() is None  # never twice
    again = MainWindow(SettingsStore(user_dirs["config"]))
    open_startup_project(again, None)
    assert again.offer_first_run_tour() is None  # nor on the next start
    again.close()


def test_another_project_gets_no_first_run_tour(window, sample_project) -> None:
    window.set_project(sample_project)  # a copy elsewhere, not the user's sample
    assert window.offer_first_run_tour() is None
    assert not window.state.tour_shown


def test_steps_show_each_page_and_ring_what_matters(window, sample_project, qtbot) -> None:
    window.set_project(sample_project)
    _active(qtbot, window)
    tour = window.start_tour()
    assert tour is not None
    assert 5 <= len(tour.steps) <= 7
    pages = [step.page for step in TOUR_STEPS if step.page]
    assert pages == ["guide", "dataset", "train", "evaluate", "runs", "export"]
    area = window.rect()
    for index, step in enumerate(tour.steps):
        assert tour.index == index
        if step.page:
            assert window.current_page().key == step.page
        assert tour.overlay.isVisible()
        assert tour.bubble.isVisible()
        assert tour.bubble.title_label.text() == step.title
        assert tour.bubble.step_label.text() == f"Step {index + 1} of {len(tour.steps)}"
        assert tour.overlay.rings, f"step {index} rings nothing"
        assert all(area.contains(ring) for ring in tour.overlay.rings)
        assert area.contains(tour.bubble.geometry()), f"step {index}: bubble off the window"
        for target in tour.targets():
            assert target.isVisible()
        if step.page:  # the navigation entry is ringed too
            item = window.navigation.item(window.pages.index(window.page(step.page)))
            rect = window.navigation.visualItemRect(item)
            centre = window.navigation.viewport().mapTo(window, rect.center())
            assert any(ring.contains(centre) for ring in tour.overlay.rings)
        tour.next()
    assert not tour.is_active()
    assert not tour.overlay.isVisible()


def test_the_train_step_rings_its_buttons_even_when_scrolled_away(
    window, sample_project, qtbot
) -> None:
    window.set_project(sample_project)
    _active(qtbot, window)
    window.show_page("train")
    scroll = window.train_page.findChildren(QScrollArea)[0]  # the page's own
    scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())
    plan = window.train_page.plan_button
    assert plan.visibleRegion().isEmpty()  # scrolled out of sight
    tour = window.start_tour()
    tour.show_step(2)
    centre = plan.mapTo(window, plan.rect().center())
    assert any(ring.contains(centre) for ring in tour.overlay.rings)
    assert window.rect().contains(centre)


def test_keys_move_through_the_tour(window, sample_project, qtbot) -> None:
    window.set_project(sample_project)
    _active(qtbot, window)
    tour = window.start_tour()
    finished = []
    tour.sig_finished.connect(finished.append)
    bubble = tour.bubble
    qtbot.keyClick(bubble, Qt.Key.Key_Right)
    assert tour.index == 1
    assert window.current_page().key == "dataset"
    qtbot.keyClick(bubble, Qt.Key.Key_Left)
    assert tour.index == 0
    assert window.current_page().key == "guide"
    qtbot.keyClick(bubble, Qt.Key.Key_Left)  # nothing before the first step
    assert tour.index == 0
    qtbot.keyClick(bubble, Qt.Key.Key_Escape)
    assert finished == [False]
    assert not bubble.isVisible()


def test_the_buttons_and_done(window, sample_project, qtbot) -> None:
    window.set_project(sample_project)
    _active(qtbot, window)
    tour = window.start_tour()
    finished = []
    tour.sig_finished.connect(finished.append)
    assert not tour.bubble.back_button.isEnabled()
    for _ in range(len(tour.steps) - 1):
        qtbot.mouseClick(tour.bubble.next_button, Qt.MouseButton.LeftButton)
    assert tour.bubble.next_button.text() == "Done"
    assert tour.bubble.back_button.isEnabled()
    qtbot.mouseClick(tour.bubble.next_button, Qt.MouseButton.LeftButton)
    assert finished == [True]


def test_the_tour_never_blocks_the_window(window, sample_project, qtbot) -> None:
    """Clicks pass through the dimmed layer: the navigation still works mid-tour."""
    window.set_project(sample_project)
    _active(qtbot, window)
    tour = window.start_tour()
    assert tour.overlay.testAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    item = window.navigation.item(4)  # Runs, while the tour shows the Guide
    rect = window.navigation.visualItemRect(item)
    qtbot.mouseClick(window.navigation.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.current_page().key == "runs"
    assert tour.is_active()
    target = window.childAt(window.navigation.viewport().mapTo(window, QPoint(rect.center())))
    assert not isinstance(target, TourOverlay)


def test_take_the_tour_from_the_welcome_view_opens_the_sample(window, qtbot) -> None:
    window.show()
    assert window.project is None
    window.tour_action.trigger()
    assert window.project is not None
    assert window.project.name == "IT Support Sample"
    assert window.tour is not None
    assert window.tour.is_active()


def test_the_tour_follows_the_window_size(window, sample_project, qtbot) -> None:
    window.set_project(sample_project)
    _active(qtbot, window)
    tour = window.start_tour()
    window.resize(900, 640)
    qtbot.waitUntil(lambda: tour.overlay.size() == window.size())
    assert window.rect().contains(tour.bubble.geometry())


def test_the_welcome_view_reopens_a_recent_project(window, qtbot, tmp_path) -> None:
    from ftstudio.core.project import create_project

    first = create_project(tmp_path / "First", "First")
    second = create_project(tmp_path / "Second", "Second")
    window.set_project(first)
    window.set_project(second)
    window.set_project(None)
    window.show()
    qtbot.waitExposed(window)
    recent = window.welcome.recent_list
    assert window.central.currentWidget() is window.welcome
    assert [recent.item(i).text() for i in range(recent.count())] == [
        str(second.folder),
        str(first.folder),
    ]
    rect = recent.visualItemRect(recent.item(1))
    qtbot.mouseClick(recent.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(recent.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.project is not None
    assert window.project.folder == first.folder
    assert window.central.currentWidget() is window.studio
    window._fill_recent_menu()  # and Project ▸ Open Recent lists it first now
    assert window.recent_menu.actions()[0].text() == str(first.folder)
