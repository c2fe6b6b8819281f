"""Secrets in the OS keyring: keyring's real API with an in-memory backend plugged in."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backends import fail, null

from ftstudio.core import secrets
from ftstudio.core.secrets import (
    REDACTED,
    SERVICE,
    SecretStoreError,
    delete_secret,
    find_secret,
    get_secret,
    redact,
    secret_status,
    set_secret,
)
from tests.fake_keyring import MemoryKeyring, keyring_backend

HF_TOKEN = "hf_TestTokenAbcdefghijklmnopqrstuv12"
OPENAI_KEY = "sk-proj-TestKey0123456789abcdefghijklmnop"


def all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_set_get_delete_round_trip(memory_keyring: MemoryKeyring) -> None:
    assert get_secret("openai") is None
    assert secret_status() == {"huggingface": False, "openai": False}
    set_secret("openai", f"  {OPENAI_KEY}\n")  # pasted with whitespace
    assert memory_keyring.passwords == {(SERVICE, "openai"): OPENAI_KEY}
    assert get_secret("openai") == OPENAI_KEY
    assert secret_status() == {"huggingface": False, "openai": True}
    assert delete_secret("openai") is True
    assert delete_secret("openai") is False
    assert get_secret("openai") is None


def test_keyring_module_api_sees_the_stored_value(memory_keyring: MemoryKeyring) -> None:
    set_secret("huggingface", HF_TOKEN)
    assert keyring.get_password("ftstudio", "huggingface") == HF_TOKEN


def test_nothing_under_the_user_folders_holds_the_token(
    memory_keyring: MemoryKeyring, user_dirs: dict[str, Path]
) -> None:
    set_secret("huggingface", HF_TOKEN)
    set_secret("openai", OPENAI_KEY)
    assert get_secret("huggingface") == HF_TOKEN
    for folder in user_dirs.values():
        if folder.exists():
            data = all_bytes(folder)
            assert HF_TOKEN.encode() not in data
            assert OPENAI_KEY.encode() not in data


@pytest.mark.parametrize("backend", [fail.Keyring, null.Keyring])
def test_no_os_keyring_is_a_plain_error_and_never_a_file(
    backend: type, user_dirs: dict[str, Path], tmp_path: Path
) -> None:
    with keyring_backend(backend()):
        with pytest.raises(SecretStoreError, match="No OS keyring") as caught:
            set_secret("openai", OPENAI_KEY)
        assert OPENAI_KEY not in str(caught.value)
        with pytest.raises(SecretStoreError, match="never stores secrets in files"):
            get_secret("openai")
        with pytest.raises(SecretStoreError):
            secret_status()
        assert find_secret("openai") is None
    assert OPENAI_KEY.encode() not in all_bytes(tmp_path)


def test_locked_keyring_says_so_without_the_value(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.locked = True
    with pytest.raises(SecretStoreError, match="locked") as caught:
        set_secret("openai", OPENAI_KEY)
    assert OPENAI_KEY not in str(caught.value)
    assert "Unlock" in str(caught.value)


def test_names_and_values_are_checked(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(ValueError, match="Unknown secret"):
        set_secret("github", OPENAI_KEY)
    with pytest.raises(ValueError, match="empty"):
        set_secret("openai", "   ")
    with pytest.raises(ValueError, match="shorter than"):
        set_secret("openai", "sk-1")
    assert memory_keyring.passwords == {}


def test_redact_removes_known_values_and_key_shapes(memory_keyring: MemoryKeyring) -> None:
    set_secret("openai", OPENAI_KEY)
    text = f"401: Incorrect API key provided: {OPENAI_KEY} (Authorization: Bearer {OPENAI_KEY})"
    cleaned = redact(text)
    assert OPENAI_KEY not in cleaned
    assert REDACTED in cleaned
    # Shapes are removed even for values never seen by this process.
    other = "sk-" + "Z" * 40
    assert other not in redact(f"key {other} and token hf_{'q' * 30}")
    assert "hf_" + "q" * 30 not in redact(f"token hf_{'q' * 30}")
    assert redact("Authorization: Bearer abc.def") == f"Authorization: Bearer {REDACTED}"
    # Values passed in directly, too; ordinary text is left alone.
    assert redact("value=custom-secret-123", ["custom-secret-123"]) == f"value={REDACTED}"
    assert redact("step 3: loss 1.2") == "step 3: loss 1.2"


def test_keyring_is_not_imported_by_the_module_alone() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ftstudio.core.secrets, ftstudio.core.openai_data; "
        "print('keyring' in sys.modules, 'openai' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]


def test_secret_names_match_the_cli_choices() -> None:
    from ftstudio.cli import SECRET_CHOICES

    assert SECRET_CHOICES == secrets.SECRET_NAMES
