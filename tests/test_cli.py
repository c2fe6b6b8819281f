"""The command line: version, GUI launch, tiny model and screenshots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ftstudio
from ftstudio.cli import main

BIN = Path(sys.executable).parent


def _run(*args: str, env: dict[str, str] | None = None, timeout: int = 120):
    return subprocess.run(
        args, capture_output=True, text=True, env=env or os.environ.copy(), timeout=timeout
    )


def test_version_from_module_and_console_script() -> None:
    for command in ([sys.executable, "-m", "ftstudio"], [str(BIN / "ftstudio")]):
        result = _run(*command, "--version")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"ftstudio {ftstudio.__version__}"
    assert ftstudio.__version__ != "0.0.0+unknown"


def test_version_does_not_load_qt_or_torch() -> None:
    code = (
        "import sys\nfrom ftstudio.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'PySide6', 'transformers') if m in sys.modules))"
    )
    result = _run(sys.executable, "-c", code)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_gui_opens_the_window_on_a_project(tmp_path: Path, user_dirs) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "FTSTUDIO_STARTUP_PROBE": "1"}
    result = _run(str(BIN / "ftstudio"), env=env)
    assert result.returncode == 0, result.stderr
    assert "ftstudio-window-shown" in result.stdout
    state = json.loads((user_dirs["config"] / "state.json").read_text())
    assert Path(state["last_project"]).name == "IT Support Sample"
    assert Path(state["last_project"]).is_relative_to(user_dirs["data"])


def test_gui_reports_a_bad_project_without_crashing(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "FTSTUDIO_STARTUP_PROBE": "1"}
    result = _run(str(BIN / "ftstudio"), "gui", str(tmp_path / "nowhere"), env=env)
    assert result.returncode == 0, result.stderr
    assert "ftstudio-window-shown" in result.stdout


def test_tiny_model_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from transformers import AutoTokenizer

    assert main(["tiny-model", str(tmp_path / "tiny"), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "parameters" in out
    assert "seed 3" in out
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "tiny")
    assert (
        tokenizer.apply_chat_template(
            [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
        )
        == "<s><|user|>\nhi<|end|><|assistant|>\n"
    )


def test_tiny_model_command_refuses_a_used_folder(tmp_path, capsys) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    assert main(["tiny-model", str(tmp_path)]) == 1
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_screenshot_command_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "shots" / "dataset.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = _run(str(BIN / "ftstudio"), "screenshot", str(out), "--page", "dataset", env=env)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "propagateSizeHints" not in result.stderr


def test_screenshot_rejects_bad_arguments(tmp_path: Path) -> None:
    result = _run(str(BIN / "ftstudio"), "screenshot", str(tmp_path / "x.png"), "--page", "nope")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    result = _run(str(BIN / "ftstudio"), "screenshot", str(tmp_path / "x.png"), "--size", "big")
    assert result.returncode == 2
    assert "--size must look like" in result.stderr
