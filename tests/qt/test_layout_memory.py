"""Window layout memory: splitters and table columns come back as the user left them."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QTableView

from ftstudio.core.settings import SettingsStore
from ftstudio.qt.main_window import MainWindow
from ftstudio.qt.ui_state import remember_header, remember_splitter, save_remembered, ui_state


def _splitter(qtbot) -> QSplitter:  # noqa: ANN001
    splitter = QSplitter(Qt.Orientation.Horizontal)
    qtbot.addWidget(splitter)
    for text in ("left", "right"):
        splitter.addWidget(QLabel(text))
    splitter.resize(600, 200)
    return splitter


def test_a_splitter_is_saved_when_moved_and_restored(qtbot) -> None:
    first = _splitter(qtbot)
    assert not remember_splitter(first, "test/split")  # nothing saved yet
    assert first.objectName() == "test-split"
    first.setSizes([150, 450])
    first.splitterMoved.emit(150, 1)  # what a drag of the handle emits
    qtbot.waitUntil(lambda: ui_state().value("test/split") is not None)
    second = _splitter(qtbot)
    assert remember_splitter(second, "test/split")
    assert second.sizes() == first.sizes()


def test_save_remembered_writes_at_once(qtbot) -> None:
    splitter = _splitter(qtbot)
    remember_splitter(splitter, "test/now")
    splitter.setSizes([400, 200])
    save_remembered()
    again = _splitter(qtbot)
    assert remember_splitter(again, "test/now")
    assert again.sizes() == splitter.sizes()
    assert again.sizes()[0] > 2 * again.sizes()[1] - 20


def test_a_key_must_name_its_place(qtbot) -> None:
    with pytest.raises(ValueError, match="page/name"):
        remember_splitter(_splitter(qtbot), "nokey")


def test_a_header_keeps_its_columns(qtbot) -> None:
    from PySide6.QtGui import QStandardItemModel

    model = QStandardItemModel(3, 4)
    first = QTableView()
    qtbot.addWidget(first)
    first.setModel(model)
    remember_header(first.horizontalHeader(), "test/header")
    first.horizontalHeader().resizeSection(1, 222)
    save_remembered()
    second = QTableView()
    qtbot.addWidget(second)
    second.setModel(model)
    assert remember_header(second.horizontalHeader(), "test/header")
    assert second.horizontalHeader().sectionSize(1) == 222


def test_the_windows_splitters_come_back(qtbot, user_dirs, sample_project) -> None:
    """Change every splitter of the studio and a column, close, reopen: all restored."""
    first = MainWindow(SettingsStore(user_dirs["config"]))
    qtbot.addWidget(first)
    first.resize(1200, 780)
    first.set_project(sample_project)
    first.show()
    splitters = {s.objectName(): s for s in first.findChildren(QSplitter)}
    wanted = {
        "datasetSplitter",
        "datasetLeftSplitter",
        "evalSplitter",
        "playgroundSplitter",
    }
    assert wanted <= set(splitters)
    assert all(name for name in splitters), "every splitter has a name"
    for name in wanted:
        splitter = splitters[name]
        total = sum(splitter.sizes()) or 600
        splitter.setSizes([total // 3, total - total // 3])
    sizes = {name: splitters[name].sizes() for name in wanted}
    header = first.dataset_page.table.horizontalHeader()
    header.resizeSection(2, 90)
    first.close()  # saves every remembered splitter and header

    second = MainWindow(SettingsStore(user_dirs["config"]))
    qtbot.addWidget(second)
    # The offscreen screen is 800x600, which the restored geometry is clipped to: give the
    # window its first size back, as a real screen would.
    second.resize(1200, 780)
    second.set_project(sample_project)
    second.show()
    qtbot.waitExposed(second)
    again = {s.objectName(): s for s in second.findChildren(QSplitter)}
    for name in wanted:
        if again[name].isVisible():
            assert again[name].sizes() == sizes[name], name
        else:  # not laid out yet (a hidden tab): the same shares
            assert _share(again[name].sizes()) == pytest.approx(_share(sizes[name]), abs=0.01)
    assert second.dataset_page.table.horizontalHeader().sectionSize(2) == 90
    second.close()


def _share(sizes: list[int]) -> float:
    return sizes[0] / sum(sizes)


def test_no_saved_layout_gives_the_defaults(qtbot, user_dirs, sample_project) -> None:
    window = MainWindow(SettingsStore(user_dirs["config"]))
    qtbot.addWidget(window)
    window.set_project(sample_project)
    window.show()
    qtbot.waitExposed(window)
    left, right = window.dataset_page.splitter.sizes()
    assert left > right  # the table side is the wider by default
    assert ui_state().value("dataset/splitter") is None
