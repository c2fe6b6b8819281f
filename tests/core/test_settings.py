"""Preferences and recent-projects files: defaults, round trips, and unreadable files kept."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ftstudio.core import paths
from ftstudio.core.settings import AppSettings, AppState, SettingsStore


@pytest.fixture
def store(tmp_path: Path) -> SettingsStore:
    return SettingsStore(tmp_path / "config")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def backups(store: SettingsStore, name: str) -> list[Path]:
    return sorted(store.directory.glob(f"{name}.unreadable-*"))


# ---- settings.json


def test_defaults_when_there_is_no_file(store: SettingsStore) -> None:
    assert store.load_settings() == AppSettings()
    assert store.problems == []
    assert not store.directory.exists(), "loading alone writes nothing"


def test_save_and_load_round_trip(store: SettingsStore) -> None:
    custom = AppSettings(
        projects_dir="/data/llm",
        reopen_last_project=False,
        max_recent=3,
    )
    store.save_settings(custom)
    assert store.settings_path == store.directory / "settings.json"
    assert json.loads(store.settings_path.read_text(encoding="utf-8"))["max_recent"] == 3
    fresh = SettingsStore(store.directory)
    assert fresh.load_settings() == custom
    assert fresh.problems == []


def test_keys_from_a_newer_version_survive_a_save(store: SettingsStore) -> None:
    future = {"theme": "dark", "plugins": {"x": [1, 2]}}
    write(store.settings_path, json.dumps({"max_recent": 5, **future}))
    settings = store.load_settings()
    assert settings.max_recent == 5
    assert store.problems == []
    store.save_settings(replace(settings, max_recent=7))
    saved = json.loads(store.settings_path.read_text(encoding="utf-8"))
    assert saved["max_recent"] == 7
    assert {key: saved[key] for key in future} == future
    assert SettingsStore(store.directory).load_settings().max_recent == 7


def test_a_byte_order_mark_is_accepted(store: SettingsStore) -> None:
    store.directory.mkdir(parents=True)
    store.settings_path.write_text('{"max_recent": 4}', encoding="utf-8-sig")
    assert store.load_settings().max_recent == 4
    assert store.problems == []


def test_invalid_json_is_set_aside_and_reported_with_its_line(store: SettingsStore) -> None:
    broken = '{"max_recent": 5,\n  oops}'
    write(store.settings_path, broken)
    assert store.load_settings() == AppSettings()
    assert not store.settings_path.exists()
    [kept] = backups(store, "settings.json")
    assert kept.read_text(encoding="utf-8") == broken
    [problem] = store.problems
    assert str(store.settings_path) in problem
    assert "line 2" in problem
    assert kept.name in problem


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('{"max_recent": "ten"}', "max_recent"),
        ('{"max_recent": 0}', "max_recent"),
        ('{"max_recent": 4, "projects_dir": ["a", "b"]}', "projects_dir"),
        ('{"reopen_last_project": null}', "reopen_last_project"),
    ],
)
def test_wrong_types_are_set_aside_with_the_key_named(
    store: SettingsStore, content: str, named: str
) -> None:
    write(store.settings_path, content)
    assert store.load_settings() == AppSettings()
    [kept] = backups(store, "settings.json")
    assert kept.read_text(encoding="utf-8") == content
    [problem] = store.problems
    assert str(store.settings_path) in problem
    assert named in problem


@pytest.mark.parametrize("content", ["[1, 2]", '"text"', "42", "null"])
def test_a_file_that_is_not_an_object_is_set_aside(store: SettingsStore, content: str) -> None:
    write(store.settings_path, content)
    assert store.load_settings() == AppSettings()
    [kept] = backups(store, "settings.json")
    assert kept.read_text(encoding="utf-8") == content
    [problem] = store.problems
    assert str(store.settings_path) in problem
    assert "not a JSON object" in problem


def test_a_file_that_is_not_utf8_is_set_aside(store: SettingsStore) -> None:
    store.directory.mkdir(parents=True)
    store.settings_path.write_bytes(b'{"projects_dir": "caf\xe9"}')
    assert store.load_settings() == AppSettings()
    [kept] = backups(store, "settings.json")
    assert kept.read_bytes() == b'{"projects_dir": "caf\xe9"}'
    assert str(store.settings_path) in store.problems[0]


def test_saving_after_a_bad_file_keeps_the_backup(store: SettingsStore) -> None:
    write(store.settings_path, "{nope")
    settings = store.load_settings()
    store.save_settings(replace(settings, max_recent=2))
    assert SettingsStore(store.directory).load_settings().max_recent == 2
    [kept] = backups(store, "settings.json")
    assert kept.read_text(encoding="utf-8") == "{nope"


def test_each_unreadable_file_gets_its_own_backup(store: SettingsStore) -> None:
    """Two bad files within the same second must not overwrite each other's backup."""
    write(store.settings_path, "{first")
    store.load_settings()
    write(store.settings_path, "{second")
    store.load_settings()
    kept = backups(store, "settings.json")
    assert sorted(path.read_text(encoding="utf-8") for path in kept) == ["{first", "{second"]
    assert len(store.problems) == 2


# ---- AppState


def test_with_recent_puts_the_newest_first_and_sets_last_project(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    state = AppState().with_recent(a, limit=10).with_recent(b, limit=10)
    assert state.recent_projects == (str(b), str(a))
    assert state.last_project == str(b)


def test_with_recent_dedupes_by_moving_the_entry_to_the_front(tmp_path: Path) -> None:
    a, b, c = (tmp_path / name for name in "abc")
    state = AppState()
    for folder in (a, b, c, a):
        state = state.with_recent(folder, limit=10)
    assert state.recent_projects == (str(a), str(c), str(b))


def test_with_recent_resolves_paths_so_spellings_dedupe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p").mkdir()
    state = AppState().with_recent(Path("p"), limit=5).with_recent(tmp_path / "x" / ".." / "p", 5)
    assert state.recent_projects == (str((tmp_path / "p").resolve()),)


def test_with_recent_respects_the_limit(tmp_path: Path) -> None:
    state = AppState()
    for index in range(6):
        state = state.with_recent(tmp_path / f"p{index}", limit=3)
    assert state.recent_projects == tuple(str(tmp_path / f"p{index}") for index in (5, 4, 3))
    assert AppState().with_recent(tmp_path / "only", limit=1).recent_projects == (
        str(tmp_path / "only"),
    )


def test_with_recent_keeps_other_fields(tmp_path: Path) -> None:
    state = AppState(sample_installed=True).with_recent(tmp_path / "a", limit=3)
    assert state.sample_installed is True


def test_without_recent_drops_the_entry_and_clears_last_project(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    state = AppState().with_recent(a, 10).with_recent(b, 10)
    dropped = state.without_recent(b)
    assert dropped.recent_projects == (str(a),)
    assert dropped.last_project == ""
    other = state.without_recent(str(a))
    assert other.recent_projects == (str(b),)
    assert other.last_project == str(b), "dropping another entry keeps last_project"
    assert state.without_recent(tmp_path / "never") == state


# ---- state.json


def test_state_defaults_and_round_trip(store: SettingsStore, tmp_path: Path) -> None:
    assert store.load_state() == AppState()
    state = AppState(sample_installed=True).with_recent(tmp_path / "Ünïcode project", limit=5)
    store.save_state(state)
    assert store.state_path == store.directory / "state.json"
    assert json.loads(store.state_path.read_text(encoding="utf-8")) == {
        "recent_projects": [str(tmp_path / "Ünïcode project")],
        "last_project": str(tmp_path / "Ünïcode project"),
        "sample_installed": True,
        "tour_shown": False,
    }
    assert SettingsStore(store.directory).load_state() == state


def test_a_partial_state_file_fills_in_defaults(store: SettingsStore) -> None:
    write(store.state_path, '{"recent_projects": ["/a", "/b"]}')
    assert store.load_state() == AppState(("/a", "/b"), "", False)
    assert store.problems == []


@pytest.mark.parametrize(
    "content",
    [
        '{"recent_projects": "/a"}',
        '{"recent_projects": ["/a", 3]}',
        '{"last_project": 7}',
        '{"sample_installed": "yes"}',
        "[]",
        '{"recent_projects": [',
    ],
)
def test_a_bad_state_file_is_set_aside(store: SettingsStore, content: str) -> None:
    write(store.state_path, content)
    assert store.load_state() == AppState()
    assert not store.state_path.exists()
    [kept] = backups(store, "state.json")
    assert kept.read_text(encoding="utf-8") == content
    [problem] = store.problems
    assert str(store.state_path) in problem


def test_a_bad_state_file_leaves_settings_alone(store: SettingsStore) -> None:
    store.save_settings(AppSettings(max_recent=4))
    write(store.state_path, "{")
    store.load_state()
    assert store.load_settings().max_recent == 4
    assert backups(store, "settings.json") == []


# ---- folders


def test_effective_projects_dir_default_and_custom(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert AppSettings().effective_projects_dir() == paths.default_projects_dir()
    assert paths.default_projects_dir().name == "ftstudio"
    assert AppSettings(projects_dir=str(tmp_path)).effective_projects_dir() == tmp_path
    monkeypatch.setenv("HOME", str(tmp_path))
    assert AppSettings(projects_dir="~/llm").effective_projects_dir() == tmp_path / "llm"


def test_the_default_store_uses_the_config_dir_override(
    user_dirs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SettingsStore()
    assert store.directory == user_dirs["config"]
    store.save_settings(AppSettings(max_recent=6))
    assert (user_dirs["config"] / "settings.json").is_file()
    assert SettingsStore().load_settings().max_recent == 6
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("FTSTUDIO_CONFIG_DIR", str(elsewhere))
    moved = SettingsStore()
    assert moved.directory == elsewhere
    assert moved.load_settings() == AppSettings()


# ---- models, GPU and privacy settings; the environment they set


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """No Hugging Face cache or offline variable set outside; whatever apply_environment
    sets is undone afterwards (the defaults restore the values it found)."""
    from ftstudio.core.settings import OFFLINE_VARIABLES, apply_environment

    for name in ("HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", *OFFLINE_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    yield
    apply_environment(AppSettings())


def test_model_gpu_and_privacy_settings_round_trip(store: SettingsStore, tmp_path: Path) -> None:
    custom = AppSettings(
        gpu_memory_gb=48.0,
        model_cache_dir=str(tmp_path / "hub"),
        offline=True,
        trust_remote_code="never",
    )
    store.save_settings(custom)
    saved = json.loads(store.settings_path.read_text(encoding="utf-8"))
    assert saved["gpu_memory_gb"] == 48.0
    assert saved["model_cache_dir"] == str(tmp_path / "hub")
    assert saved["offline"] is True
    assert saved["trust_remote_code"] == "never"
    assert SettingsStore(store.directory).load_settings() == custom
    defaults = AppSettings()
    assert (defaults.gpu_memory_gb, defaults.model_cache_dir) == (0.0, "")
    assert (defaults.offline, defaults.trust_remote_code) == (False, "ask")


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('{"trust_remote_code": "always"}', "trust_remote_code"),
        ('{"gpu_memory_gb": -1}', "gpu_memory_gb"),
        ('{"offline": "yes"}', "offline"),
    ],
)
def test_bad_privacy_and_gpu_values_are_refused(
    store: SettingsStore, content: str, named: str
) -> None:
    write(store.settings_path, content)
    assert store.load_settings() == AppSettings()
    assert named in store.problems[0]


def test_a_whole_number_budget_is_read_as_gigabytes(store: SettingsStore) -> None:
    write(store.settings_path, '{"gpu_memory_gb": 80}')
    assert store.load_settings().gpu_memory_gb == 80.0


def test_defaults_change_no_environment_variable(clean_environment: None) -> None:
    import os

    from ftstudio.core.settings import apply_environment

    before = dict(os.environ)
    assert apply_environment(AppSettings()) == {}
    assert dict(os.environ) == before


def test_cache_and_offline_are_set_then_restored(
    clean_environment: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import os

    from ftstudio.core.settings import apply_environment, hub_offline, model_cache_dir

    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")  # set outside ftstudio: kept after
    settings = AppSettings(model_cache_dir=str(tmp_path / "hub"), offline=True)
    changed = apply_environment(settings)
    assert changed == {
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    assert os.environ["HF_HUB_CACHE"] == str(tmp_path / "hub")
    assert hub_offline()
    assert model_cache_dir() == tmp_path / "hub"
    assert apply_environment(settings) == {}  # applying again changes nothing

    changed = apply_environment(AppSettings(offline=False))
    assert changed == {
        "HF_HUB_CACHE": None,
        "HF_HUB_OFFLINE": None,
        "TRANSFORMERS_OFFLINE": "0",
        "HF_DATASETS_OFFLINE": None,
    }
    assert "HF_HUB_CACHE" not in os.environ
    assert os.environ["TRANSFORMERS_OFFLINE"] == "0"
    assert not hub_offline()


def test_the_cache_folder_setting_wins_over_the_variables(
    clean_environment: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ftstudio.core.settings import (
        apply_environment,
        default_model_cache_dir,
        model_cache_dir,
    )

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert model_cache_dir() == tmp_path / "home" / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert model_cache_dir() == tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "outside"))
    assert model_cache_dir() == tmp_path / "outside"
    chosen = AppSettings(model_cache_dir=str(tmp_path / "chosen"))
    assert model_cache_dir(chosen) == tmp_path / "chosen"
    apply_environment(chosen)
    assert model_cache_dir() == tmp_path / "chosen"
    # What "empty" means is still the cache as it was before the setting.
    assert default_model_cache_dir() == tmp_path / "outside"
    apply_environment(AppSettings())
    assert model_cache_dir() == tmp_path / "outside"


def test_read_settings_never_moves_or_writes_files(store: SettingsStore) -> None:
    from ftstudio.core.settings import read_settings

    assert read_settings(store.directory) == AppSettings()
    assert not store.directory.exists()
    write(store.settings_path, '{"offline": true, "max_recent": 3}')
    assert read_settings(store.directory) == AppSettings(offline=True, max_recent=3)
    for broken in ("{nope", '{"offline": "yes"}', "[]"):
        write(store.settings_path, broken)
        assert read_settings(store.directory) == AppSettings()
        assert store.settings_path.read_text(encoding="utf-8") == broken
        assert backups(store, "settings.json") == []
