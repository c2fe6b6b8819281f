"""Project ▸ Settings: sections, a round trip through settings.json, and tokens kept in
the OS keyring only (keyring's real API with an in-memory backend plugged in)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from keyring.backends import fail
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox

from ftstudio.core.settings import AppSettings, SettingsStore, apply_environment
from ftstudio.qt.dialogs.settings_dialog import (
    ACCOUNTS,
    FIELD_SECTIONS,
    GENERAL,
    MODELS,
    PRIVACY,
    SECTIONS,
    AccountsPanel,
    SettingsDialog,
)
from ftstudio.qt.widgets.dataclass_form import FolderEdit
from tests.fake_keyring import MemoryKeyring, keyring_backend

TOKEN = "hf_DialogTestToken0123456789abcdefXYZ"
KEY = "sk-proj-DialogTestKey0123456789abcdefghij"


@pytest.fixture
def dialog(qtbot) -> SettingsDialog:  # noqa: ANN001
    widget = SettingsDialog(AppSettings())
    qtbot.addWidget(widget)
    widget.resize(760, 560)
    return widget


def files_under(*folders: Path) -> list[Path]:
    return [
        path
        for folder in folders
        if folder.exists()
        for path in folder.rglob("*")
        if path.is_file()
    ]


def test_each_preference_is_in_its_section(dialog: SettingsDialog) -> None:
    assert [dialog.tabs.tabText(i).replace("&&", "&") for i in range(dialog.tabs.count())] == list(
        SECTIONS
    )
    assert dialog.tabs.currentIndex() == SECTIONS.index(GENERAL)
    for name, editor in dialog.form.editors.items():
        page = dialog.tabs.widget(SECTIONS.index(FIELD_SECTIONS.get(name, GENERAL)))
        assert page.isAncestorOf(editor), f"{name} is not in its section"
    models = dialog.tabs.widget(SECTIONS.index(MODELS))
    assert models.isAncestorOf(dialog.form.editors["gpu_memory_gb"])
    privacy = dialog.tabs.widget(SECTIONS.index(PRIVACY))
    assert privacy.isAncestorOf(dialog.form.editors["trust_remote_code"])
    assert isinstance(dialog.tabs.widget(SECTIONS.index(ACCOUNTS)), AccountsPanel)
    dialog.show_section(PRIVACY)
    assert dialog.tabs.currentWidget() is privacy


def test_the_editors_say_what_their_values_mean(dialog: SettingsDialog) -> None:
    gpu = dialog.form.editors["gpu_memory_gb"]
    assert isinstance(gpu, QDoubleSpinBox)
    assert gpu.value() == 0.0
    assert gpu.text() == "The detected GPU (24 GB if none)"
    gpu.setValue(48)
    assert gpu.text() == "48.0 GB"
    trust = dialog.form.editors["trust_remote_code"]
    assert isinstance(trust, QComboBox)
    assert [trust.itemText(i) for i in range(trust.count())] == ["Ask each time", "Never run it"]
    assert trust.currentData() == "ask"
    cache = dialog.form.editors["model_cache_dir"]
    assert isinstance(cache, FolderEdit)
    assert cache.line_edit.placeholderText().startswith("Hugging Face's shared cache: ")
    assert "your permissions" in trust.toolTip() or "trust_remote_code" in trust.toolTip()


def test_every_field_round_trips_through_settings_json(
    dialog: SettingsDialog,
    qtbot,
    user_dirs,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    editors = dialog.form.editors
    editors["max_recent"].setValue(4)
    editors["reopen_last_project"].setChecked(False)
    editors["projects_dir"].setText("/data/llm")
    editors["gpu_memory_gb"].setValue(80)
    editors["model_cache_dir"].setText(str(tmp_path / "models"))
    offline = editors["offline"]
    assert isinstance(offline, QCheckBox)
    dialog.show()
    dialog.show_section(PRIVACY)
    qtbot.mouseClick(offline, Qt.MouseButton.LeftButton, pos=QPoint(8, offline.height() // 2))
    trust = editors["trust_remote_code"]
    trust.setCurrentIndex(trust.findData("never"))
    store = SettingsStore(user_dirs["config"])
    store.save_settings(dialog.settings())
    expected = AppSettings(
        projects_dir="/data/llm",
        reopen_last_project=False,
        max_recent=4,
        gpu_memory_gb=80.0,
        model_cache_dir=str(tmp_path / "models"),
        offline=True,
        trust_remote_code="never",
    )
    assert SettingsStore(user_dirs["config"]).load_settings() == expected
    again = SettingsDialog(expected)
    qtbot.addWidget(again)
    assert again.settings() == expected


def test_the_chosen_cache_and_offline_mode_reach_the_environment(
    dialog: SettingsDialog, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    dialog.form.editors["model_cache_dir"].setText(str(tmp_path / "models"))
    dialog.form.editors["offline"].setChecked(True)
    try:
        apply_environment(dialog.settings())
        assert os.environ["HF_HUB_CACHE"] == str(tmp_path / "models")
        assert os.environ["HF_HUB_OFFLINE"] == "1"
    finally:
        apply_environment(AppSettings())
    assert "HF_HUB_CACHE" not in os.environ
    assert "HF_HUB_OFFLINE" not in os.environ


def test_a_token_goes_to_the_keyring_and_nowhere_else(
    dialog: SettingsDialog,
    qtbot,
    memory_keyring: MemoryKeyring,
    user_dirs,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    dialog.show()
    dialog.show_section(ACCOUNTS)  # the keyring is read when the section is first shown
    accounts = dialog.accounts
    assert accounts.loaded
    row = accounts.rows["huggingface"]
    assert row.status_label.text() == "Not set."
    assert row.edit.text() == "", "never pre-filled"
    assert row.edit.echoMode() == row.edit.EchoMode.Password
    assert not row.save_button.isEnabled()
    assert not row.remove_button.isEnabled()

    qtbot.keyClicks(row.edit, TOKEN)
    assert row.save_button.isEnabled()
    qtbot.mouseClick(row.save_button, Qt.MouseButton.LeftButton)
    assert memory_keyring.passwords[("ftstudio", "huggingface")] == TOKEN
    assert row.edit.text() == "", "the field is emptied at once"
    assert row.status_label.text() == "Stored in fake keyring MemoryKeyring."
    assert row.remove_button.isEnabled()

    openai = accounts.rows["openai"]
    qtbot.keyClicks(openai.edit, KEY)
    qtbot.keyClick(openai.edit, Qt.Key.Key_Return)
    assert memory_keyring.passwords[("ftstudio", "openai")] == KEY
    assert openai.edit.text() == ""

    # OK saves the preferences: the tokens are in no file and in no widget.
    store = SettingsStore(user_dirs["config"])
    dialog.accept()
    store.save_settings(dialog.settings())
    written = files_under(user_dirs["config"], user_dirs["data"], tmp_path)
    assert store.settings_path in written
    for path in written:
        content = path.read_bytes()
        assert TOKEN.encode() not in content, path
        assert KEY.encode() not in content, path
    from PySide6.QtWidgets import QLabel, QLineEdit

    for widget in dialog.findChildren(QLineEdit) + dialog.findChildren(QLabel):
        assert TOKEN not in widget.text()
        assert KEY not in widget.text()

    qtbot.mouseClick(row.remove_button, Qt.MouseButton.LeftButton)
    assert ("ftstudio", "huggingface") not in memory_keyring.passwords
    assert row.status_label.text() == "Not set."
    assert not row.remove_button.isEnabled()


def test_a_too_short_value_is_refused_and_still_cleared(
    dialog: SettingsDialog,
    qtbot,
    memory_keyring: MemoryKeyring,  # noqa: ANN001
) -> None:
    dialog.show()
    dialog.show_section(ACCOUNTS)
    row = dialog.accounts.rows["openai"]
    qtbot.keyClicks(row.edit, "sk-12")
    qtbot.mouseClick(row.save_button, Qt.MouseButton.LeftButton)
    assert memory_keyring.passwords == {}
    assert row.edit.text() == ""
    assert "shorter than 8 characters" in row.status_label.text()
    assert "sk-12" not in row.status_label.text()


def test_without_a_keyring_the_reason_is_shown_and_nothing_can_be_typed(
    dialog: SettingsDialog,
) -> None:
    with keyring_backend(fail.Keyring()):
        dialog.accounts.refresh()
    for row in dialog.accounts.rows.values():
        assert "No OS keyring is available" in row.status_label.text()
        assert "never stores secrets in files" in row.status_label.text()
        assert not row.edit.isEnabled()
        assert not row.save_button.isEnabled()
        assert not row.remove_button.isEnabled()


def test_opening_the_dialog_does_not_touch_the_keyring(
    qtbot,  # noqa: ANN001
    memory_keyring: MemoryKeyring,
) -> None:
    """A locked keyring may ask to be unlocked: only the Accounts section reads it."""
    memory_keyring.locked = True  # any read would raise
    widget = SettingsDialog(AppSettings())
    qtbot.addWidget(widget)
    widget.show()
    assert not widget.accounts.loaded
    widget.show_section(ACCOUNTS)
    row = widget.accounts.rows["huggingface"]
    assert "keyring is locked" in row.status_label.text()
