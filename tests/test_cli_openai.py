"""``ftstudio openai check|export|train|attach|cancel`` and ``ftstudio secrets``, in process.

Training goes to the loopback server of ``tests/openai_server.py``; secrets
to keyring's real API with an in-memory backend plugged in.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backends import fail

from ftstudio.cli import main
from ftstudio.core.runs import RunStore
from tests.fake_keyring import MemoryKeyring
from tests.openai_server import (
    API_KEY,
    SUCCESS,
    TUNED,
    FakeOpenAI,
    Step,
    metrics,
    tree_bytes,
)

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "resources" / "sample_project" / "datasets" / "it_support.jsonl"


class Terminal(io.StringIO):
    """Standard input typed on a terminal (``isatty`` is true)."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def server(openai_server: Callable[..., FakeOpenAI]) -> FakeOpenAI:
    return openai_server(SUCCESS)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def small_dataset(folder: Path, count: int) -> Path:
    rows = [
        {"messages": [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": "A"}]}
        for i in range(count)
    ]
    path = folder / "small.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- openai


def test_check_reports_usable_examples_and_the_estimate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "openai", "check", str(SAMPLE))
    assert code == 0
    assert "77 of 77 training examples usable" in out
    assert "3 epochs (auto" in out
    assert "trained tokens billed" in out
    assert "Tokens " in out
    code, out, _ = run(capsys, "openai", "check", str(SAMPLE), "--epochs", "2", "--json")
    report = json.loads(out)
    assert code == 0
    assert report["ok"]
    assert report["epochs"] == 2
    assert not report["epochs_auto"]
    assert report["billed_tokens_estimate"] == 2 * report["tokens_per_epoch"]


def test_check_names_the_blocking_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "openai", "check", str(small_dataset(tmp_path, 4)))
    assert code == 1
    assert "too_few_examples" in out
    assert "at least 10" in out
    code, _, err = run(capsys, "openai", "check", str(tmp_path / "missing.jsonl"))
    assert code == 2
    assert "missing.jsonl" in err
    with pytest.raises(SystemExit):
        main(["openai", "check", str(SAMPLE), "--epochs", "many"])


def test_export_writes_openai_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "openai.jsonl"
    code, out, _ = run(capsys, "openai", "export", str(SAMPLE), "--out", str(out_file))
    assert code == 0
    assert "Wrote 77 examples" in out
    lines = out_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 77
    assert all(set(json.loads(line)) == {"messages"} for line in lines)
    code, _, err = run(
        capsys,
        "openai",
        "export",
        str(small_dataset(tmp_path, 3)),
        "--out",
        str(tmp_path / "small-openai.jsonl"),
    )
    assert code == 1
    assert "at least 10" in err
    assert not (tmp_path / "small-openai.jsonl").exists()


def test_train_refuses_without_confirmation_on_piped_input(
    tmp_path: Path,
    server: FakeOpenAI,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))  # not a terminal
    code, out, err = run(
        capsys,
        "openai",
        "train",
        str(SAMPLE),
        "--base-url",
        server.base_url,
        "--project",
        str(tmp_path),
    )
    assert code == 2
    assert f"Upload to 127.0.0.1:{server.server.server_address[1]}" in out
    assert "it_support-train.jsonl" in out
    assert "add --yes" in err
    assert server.requests == []


def test_train_asks_on_a_terminal_and_no_means_nothing_sent(
    tmp_path: Path,
    server: FakeOpenAI,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal("no\n"))
    code, out, _ = run(
        capsys,
        "openai",
        "train",
        str(SAMPLE),
        "--base-url",
        server.base_url,
        "--project",
        str(tmp_path),
    )
    assert code == 1
    assert "Nothing was uploaded." in out
    assert server.requests == []


def test_train_with_confirmation_runs_the_job(
    tmp_path: Path,
    server: FakeOpenAI,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keyring.set_password("ftstudio", "openai", API_KEY)
    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    code, out, err = run(
        capsys,
        "openai",
        "train",
        str(SAMPLE),
        "--base-url",
        server.base_url,
        "--project",
        str(tmp_path),
        "--poll",
        "0.01",
        "--name",
        "cli run",
    )
    assert code == 0, err
    assert TUNED in out
    assert "step 4/4  loss 1.2000" in out
    assert "eval loss 1.4500" in out
    assert "Status: succeeded" in out
    assert "warning (openai)" in err
    [record] = RunStore.for_project(tmp_path).list()
    assert (record.name, record.status, record.method) == ("cli run", "finished", "openai")
    assert API_KEY not in out + err
    assert API_KEY.encode() not in tree_bytes(tmp_path)


def test_train_yes_without_a_key_fails_plainly(
    tmp_path: Path,
    server: FakeOpenAI,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(
        capsys,
        "openai",
        "train",
        str(SAMPLE),
        "--base-url",
        server.base_url,
        "--project",
        str(tmp_path),
        "--yes",
    )
    assert code == 1
    assert "ftstudio secrets set openai" in err
    assert server.requests == []


def test_attach_and_cancel_commands(
    tmp_path: Path, memory_keyring: MemoryKeyring, capsys: pytest.CaptureFixture[str]
) -> None:
    keyring.set_password("ftstudio", "openai", API_KEY)
    fake = FakeOpenAI([Step("running", [metrics(1, 10, 2.0)])]).start()
    try:
        from ftstudio.engine.openai_finetune import OpenAIJobConfig, run_openai_job, upload_plan

        plan = upload_plan(SAMPLE, OpenAIJobConfig(), base_url=fake.base_url)
        result = run_openai_job(plan, project=tmp_path, confirmed=True, detach=lambda: True)
        assert result.status == "detached"
        code, out, _ = run(capsys, "openai", "cancel", str(result.run_dir))
        assert code == 0
        assert "now cancelled" in out
        code, out, _ = run(capsys, "openai", "attach", str(result.run_dir), "--poll", "0.01")
        assert code == 130
        assert "cancelled" in out
    finally:
        fake.stop()
    code, _, err = run(capsys, "openai", "attach", str(tmp_path))
    assert code == 1
    assert "not an ftstudio run folder" in err


# ---------------------------------------------------------------------------- secrets


def test_secrets_set_reads_stdin_and_never_prints_the_value(
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = "hf_CliTestTokenAbcdefghijklmnopqrstuv"
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    code, out, err = run(capsys, "secrets", "set", "huggingface")
    assert code == 0
    assert "Stored the Hugging Face token" in out
    assert memory_keyring.passwords[("ftstudio", "huggingface")] == token
    code, out, _ = run(capsys, "secrets", "status")
    assert code == 0
    assert "Hugging Face token (huggingface): set" in out
    assert "OpenAI API key (openai): not set" in out
    code, out, _ = run(capsys, "secrets", "status", "--json")
    assert json.loads(out) == {"huggingface": True, "openai": False}
    code, out, _ = run(capsys, "secrets", "delete", "huggingface")
    assert code == 0
    assert "Removed" in out
    code, out, _ = run(capsys, "secrets", "delete", "huggingface")
    assert code == 0
    assert "No Hugging Face token was stored" in out
    assert token not in out + err


def test_secrets_set_refuses_empty_and_has_no_value_argument(
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    code, _, err = run(capsys, "secrets", "set", "openai")
    assert code == 1
    assert "empty" in err
    with pytest.raises(SystemExit):  # a value on the command line is not accepted
        main(["secrets", "set", "openai", API_KEY])
    assert memory_keyring.passwords == {}


def test_secrets_without_an_os_keyring(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], user_dirs: Any
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        monkeypatch.setattr("sys.stdin", io.StringIO(API_KEY + "\n"))
        code, _, err = run(capsys, "secrets", "set", "openai")
        assert code == 1
        assert "No OS keyring" in err
        assert API_KEY not in err
        code, _, err = run(capsys, "secrets", "status")
        assert code == 1
        assert "never stores secrets in files" in err
    finally:
        keyring.set_keyring(previous)
    for folder in user_dirs.values():
        if folder.exists():
            assert API_KEY.encode() not in tree_bytes(folder)
