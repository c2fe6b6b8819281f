"""The command line follows the studio's settings: model cache, offline mode, custom code."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from ftstudio.cli import main
from ftstudio.core.settings import AppSettings, SettingsStore, apply_environment
from ftstudio.core.train_config import save_config
from tests.engine.test_base_model import custom_code_model, modules_cache  # noqa: F401
from tests.fake_keyring import MemoryKeyring
from tests.openai_server import API_KEY, SUCCESS, FakeOpenAI
from tests.tiny import sample_lines, tiny_config, write_dataset

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "resources" / "sample_project" / "datasets" / "it_support.jsonl"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def settings(
    user_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[SettingsStore]:
    """The settings file the command line reads; the environment it sets is undone after."""
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    yield SettingsStore(user_dirs["config"])
    apply_environment(AppSettings())


def test_the_model_cache_setting_is_applied_before_any_command(
    settings: SettingsStore, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    settings.save_settings(AppSettings(model_cache_dir=str(tmp_path / "models")))
    code, _, err = run(capsys, "data", "validate", str(SAMPLE))
    assert code == 0, err
    assert os.environ["HF_HUB_CACHE"] == str(tmp_path / "models")
    settings.save_settings(AppSettings())
    run(capsys, "data", "validate", str(SAMPLE))
    assert "HF_HUB_CACHE" not in os.environ


def test_offline_mode_refuses_openai_uploads_and_sends_nothing(
    settings: SettingsStore, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    server = FakeOpenAI(list(SUCCESS)).start()
    try:
        keyring.get_keyring().set_password("ftstudio", "openai", API_KEY)
        settings.save_settings(AppSettings(offline=True))
        code, _, err = run(
            capsys, "openai", "train", str(SAMPLE), "--yes", "--base-url", server.base_url
        )
        assert code == 1
        assert "offline mode is on (Settings ▸ Privacy ▸ Offline mode)" in err
        assert "no file was uploaded" in err
        assert server.requests == []
        code, _, err = run(capsys, "openai", "attach", str(tmp_path))
        assert code == 1
        assert "offline mode is on" in err
    finally:
        server.stop()
        keyring.set_keyring(previous)


@pytest.fixture
def custom_project(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """A project whose plan trains a model that needs its own code (1 step)."""
    from ftstudio.core.project import create_project

    project = create_project(tmp_path / "project", "Custom code").folder
    write_dataset(project / "datasets" / "train.jsonl", sample_lines(8))
    custom = custom_code_model(tiny_model_dir, tmp_path / "acme-model")
    config = tiny_config(custom, max_steps=1, eval_steps=0, save_steps=1, val_fraction=0.0)
    return save_config(config, project / "configs" / "custom.yaml")


@pytest.mark.slow
@pytest.mark.usefixtures("settings")
def test_a_model_needing_its_code_needs_the_flag(
    custom_project: Path,
    modules_cache: Path,  # noqa: F811 - the fixture imported above
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "train", str(custom_project))
    assert code == 1
    assert "needs its own Python code to load" in err
    assert "add --trust-remote-code" in err
    assert not modules_cache.exists(), "no code of the model ran"

    code, out, err = run(capsys, "train", str(custom_project), "--trust-remote-code")
    assert code == 0, err
    assert "Finished all 1 steps" in out
    assert modules_cache.read_text(encoding="utf-8") == "ran"


def test_the_never_policy_refuses_the_flag(
    settings: SettingsStore, custom_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.save_settings(AppSettings(trust_remote_code="never"))
    code, _, err = run(capsys, "train", str(custom_project), "--trust-remote-code")
    assert code == 2
    assert "Custom model code: never" in err
    runs = custom_project.parent.parent / "runs"
    assert [path for path in runs.glob("*") if path.is_dir()] == [], "no run was started"
    assert json.loads(settings.settings_path.read_text())["trust_remote_code"] == "never"
