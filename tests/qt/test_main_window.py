"""The studio window: navigation, project handling, recent list, settings, geometry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QDialogButtonBox, QMessageBox

from ftstudio.app import open_startup_project
from ftstudio.core.project import create_project
from ftstudio.core.runs import write_run_file
from ftstudio.core.sample import bundled_sample_dir
from ftstudio.core.settings import AppSettings, SettingsStore
from ftstudio.qt.dialogs.new_project import NewProjectDialog
from ftstudio.qt.dialogs.settings_dialog import SettingsDialog
from ftstudio.qt.main_window import MainWindow
from ftstudio.qt.pages import NAVIGATION
from tests.qt.helpers import drag_enter, drop


@pytest.fixture
def window(qtbot, user_dirs):  # noqa: ANN001, ANN201
    win = MainWindow(SettingsStore(user_dirs["config"]))
    qtbot.addWidget(win)
    return win


def _tree_checksum(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_first_start_copies_and_opens_the_sample(window, user_dirs) -> None:
    bundled_before = _tree_checksum(bundled_sample_dir())
    open_startup_project(window, None)
    assert window.project is not None
    assert window.project.name == "IT Support Sample"
    assert window.project.folder.is_relative_to(user_dirs["data"].resolve())
    assert window.central.currentWidget() is window.studio
    assert window.windowTitle() == "IT Support Sample — ftstudio"
    assert window.state.sample_installed
    saved = json.loads((user_dirs["config"] / "state.json").read_text())
    assert saved["recent_projects"] == [str(window.project.folder)]
    # Editing the copy leaves the bundled resources alone.
    (window.project.folder / "datasets" / "it_support.jsonl").write_text("changed\n")
    assert _tree_checksum(bundled_sample_dir()) == bundled_before


def test_second_start_reopens_the_last_project(qtbot, user_dirs, tmp_path) -> None:
    other = create_project(tmp_path / "Contracts", "Contracts")
    first = MainWindow(SettingsStore(user_dirs["config"]))
    qtbot.addWidget(first)
    open_startup_project(first, None)
    assert first.open_project_at(other.folder)
    first.close()
    second = MainWindow(SettingsStore(user_dirs["config"]))
    qtbot.addWidget(second)
    open_startup_project(second, None)
    assert second.project is not None
    assert second.project.folder == other.folder
    assert second.state.recent_projects[:2] == (
        str(other.folder),
        str(first.state.recent_projects[1]),
    )


def test_navigation_by_sidebar_and_shortcuts(window, qtbot, sample_project) -> None:
    window.set_project(sample_project)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    keys = ["guide", "dataset", "train", "evaluate", "runs", "export"]
    assert [p.key for p in window.pages] == keys
    titles = [window.navigation.item(i).text() for i in range(len(keys))]
    assert titles == [cls.title for cls in NAVIGATION]
    window.navigation.setCurrentRow(0)
    assert window.current_page().key == "guide"
    for index, key in enumerate(keys, start=1):
        qtbot.keyClick(window, Qt.Key(Qt.Key.Key_0 + index), Qt.KeyboardModifier.ControlModifier)
        assert window.current_page().key == key
        assert window.page_stack.currentWidget() is window.page(key)


def test_runs_and_export_pages_list_the_projects_runs(window, sample_project) -> None:
    (sample_project.folder / "runs" / "2026-11-29-qlora").mkdir(parents=True)
    (sample_project.folder / "runs" / "2026-11-29-qlora" / "config.yaml").write_text("x: 1\n")
    window.set_project(sample_project)
    runs = window.page("runs")
    assert runs.model.rowCount() == 1
    assert runs.runs[0].id == "2026-11-29-qlora"
    export = window.page("export")
    assert export.exports_table.topLevelItemCount() == 0
    assert export.exports_empty.isVisibleTo(export)


def test_close_project_shows_the_welcome_view(window, sample_project) -> None:
    window.set_project(sample_project)
    window.close_action.trigger()
    assert window.project is None
    assert window.central.currentWidget() is window.welcome
    assert window.windowTitle() == "ftstudio"
    assert not window.page_actions[0].isEnabled()
    assert window.welcome.recent_list.count() == 1


def test_opening_a_broken_manifest_names_the_line(window, tmp_path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "project.json").write_text('{\n  "ftstudio_project": 1,\n  "name": "x",,\n}\n')
    assert not window.open_project_at(folder)
    box = window.last_message_box
    assert box is not None
    assert box.isVisible()
    assert "line 3" in box.text()
    assert "project.json" in box.text()
    assert window.project is None
    box.done(QMessageBox.StandardButton.Ok)


def test_opening_a_folder_without_manifest_explains(window, tmp_path) -> None:
    assert not window.open_project_at(tmp_path)
    assert "no project.json" in window.last_message_box.text()
    window.last_message_box.done(QMessageBox.StandardButton.Ok)


def test_missing_recent_project_is_dropped(window, tmp_path) -> None:
    project = create_project(tmp_path / "Gone", "Gone")
    window.set_project(project)
    window.set_project(None)
    for path in sorted(project.folder.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    project.folder.rmdir()
    assert not window.open_project_at(project.folder)
    assert str(project.folder) not in window.state.recent_projects
    window.last_message_box.done(QMessageBox.StandardButton.Ok)


def test_recent_menu_lists_and_opens_projects(window, tmp_path) -> None:
    a = create_project(tmp_path / "A", "A")
    b = create_project(tmp_path / "B", "B")
    window.set_project(a)
    window.set_project(b)
    window._fill_recent_menu()
    texts = [action.text() for action in window.recent_menu.actions() if action.text()]
    assert texts[:2] == [str(b.folder), str(a.folder)]
    window.recent_menu.actions()[1].trigger()
    assert window.project.folder == a.folder
    clear = next(a for a in window.recent_menu.actions() if a.text() == "Clear Recent")
    clear.trigger()
    assert window.state.recent_projects == ()


def test_recent_list_respects_the_limit(window, tmp_path) -> None:
    window.apply_settings(AppSettings(max_recent=2))
    for name in ("A", "B", "C"):
        window.set_project(create_project(tmp_path / name, name))
    assert [Path(p).name for p in window.state.recent_projects] == ["C", "B"]


def test_new_project_dialog_creates_the_folder(qtbot, tmp_path) -> None:
    dialog = NewProjectDialog(tmp_path)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()
    qtbot.keyClicks(dialog.name_edit, "Legal answers")
    assert ok.isEnabled()
    assert str(tmp_path / "Legal answers") in dialog.preview.text()
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    folder = tmp_path / "Legal answers"
    assert json.loads((folder / "project.json").read_text())["name"] == "Legal answers"
    assert all((folder / sub).is_dir() for sub in ("datasets", "runs", "exports"))


def test_new_project_dialog_refuses_a_bad_name(qtbot, tmp_path) -> None:
    dialog = NewProjectDialog(tmp_path)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.name_edit, "a/b?")
    qtbot.mouseClick(
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton
    )
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "cannot be used in a folder name" in dialog.error.text()
    assert not any(tmp_path.iterdir())


def test_settings_dialog_round_trips_through_the_file(window, qtbot, user_dirs) -> None:
    dialog = SettingsDialog(window.settings)
    qtbot.addWidget(dialog)
    dialog.form.editors["max_recent"].setValue(4)
    dialog.form.editors["reopen_last_project"].setChecked(False)
    dialog.form.editors["projects_dir"].setText("/data/llm")
    window.apply_settings(dialog.settings())
    saved = json.loads((user_dirs["config"] / "settings.json").read_text())
    assert saved["max_recent"] == 4
    assert saved["reopen_last_project"] is False
    reloaded = SettingsStore(user_dirs["config"]).load_settings()
    assert reloaded == AppSettings(
        projects_dir="/data/llm", reopen_last_project=False, max_recent=4
    )


def test_settings_form_uses_the_field_bounds(qtbot) -> None:
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    spin = dialog.form.editors["max_recent"]
    assert (spin.minimum(), spin.maximum()) == (1, 30)
    assert "Open Recent" in spin.toolTip()


def test_geometry_and_page_are_remembered(qtbot, user_dirs, sample_project) -> None:
    first = MainWindow(SettingsStore(user_dirs["config"]))
    qtbot.addWidget(first)
    first.set_project(sample_project)
    first.resize(700, 520)  # the offscreen screen is 800x600
    first.show()
    qtbot.waitExposed(first)
    first.show_page("runs")
    first.close()
    second = MainWindow(SettingsStore(user_dirs["config"]))
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (700, 520)
    assert second.current_page().key == "runs"


@pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent.*:DeprecationWarning")
def test_dropping_a_project_folder_opens_it(window, tmp_path) -> None:
    project = create_project(tmp_path / "Dropped", "Dropped")
    drop(window, project.folder / "project.json")
    assert window.project is not None
    assert window.project.name == "Dropped"


@pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent.*:DeprecationWarning")
def test_dropping_other_files_is_refused(window, tmp_path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    assert not drag_enter(window, other).isAccepted()


def test_unreadable_settings_file_is_kept_and_reported(qtbot, user_dirs) -> None:
    user_dirs["config"].mkdir(parents=True)
    (user_dirs["config"] / "settings.json").write_text('{"max_recent": "many"}')
    win = MainWindow(SettingsStore(user_dirs["config"]))
    qtbot.addWidget(win)
    assert win.settings == AppSettings()
    assert "max_recent" in win.last_message_box.text()
    kept = list(user_dirs["config"].glob("settings.json.unreadable-*"))
    assert len(kept) == 1
    assert "many" in kept[0].read_text()
    win.last_message_box.done(QMessageBox.StandardButton.Ok)


def test_plan_wizard_opens_from_the_train_page(window, qtbot, sample_project) -> None:
    window.set_project(sample_project)
    window.show()
    qtbot.mouseClick(window.page("train").plan_button, Qt.MouseButton.LeftButton)
    dialogs = [w for w in window.findChildren(QDialog) if w.windowTitle() == "Plan a training run"]
    assert len(dialogs) == 1
    assert dialogs[0].isVisible()
    dialogs[0].reject()


def test_a_finished_run_refreshes_runs_page_and_counts(window, sample_project) -> None:
    window.set_project(sample_project)
    assert window.counts_label.text().endswith("0 run(s)")
    folder = sample_project.folder / "runs" / "20261130-000000-abcd"
    folder.mkdir()
    write_run_file(
        folder, {"id": folder.name, "status": "finished", "created": "2026-11-30T00:00:00+00:00"}
    )
    window.train_page.sig_run_finished.emit(None)
    assert window.counts_label.text().endswith("1 run(s)")
    assert window.page("runs").model.rowCount() == 1
