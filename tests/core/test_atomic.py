"""Crash-safe writes: the new content or the old file, never half of one, never litter."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ftstudio.core.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text


def _names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_writes_bytes_and_creates_missing_parent_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "data.bin"
    atomic_write_bytes(target, b"\x00\x01binary\xff")
    assert target.read_bytes() == b"\x00\x01binary\xff"


def test_accepts_a_string_path(tmp_path: Path) -> None:
    atomic_write_text(str(tmp_path / "note.txt"), "hello")
    assert (tmp_path / "note.txt").read_text(encoding="utf-8") == "hello"


def test_replaces_existing_content_completely(tmp_path: Path) -> None:
    target = tmp_path / "note.txt"
    target.write_text("a much longer old content that must not survive as a tail")
    atomic_write_text(target, "short")
    assert target.read_text(encoding="utf-8") == "short"


def test_text_is_encoded_with_the_given_encoding(tmp_path: Path) -> None:
    target = tmp_path / "note.txt"
    atomic_write_text(target, "café")
    assert target.read_bytes() == "café".encode()
    atomic_write_text(target, "café", encoding="latin-1")
    assert target.read_bytes() == b"caf\xe9"


def test_existing_file_permissions_are_kept(tmp_path: Path) -> None:
    """mkstemp makes 0600 files; an existing file keeps the mode its owner gave it."""
    target = tmp_path / "shared.txt"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write_text(target, "new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    target.chmod(0o604)
    atomic_write_text(target, "newer")
    assert stat.S_IMODE(target.stat().st_mode) == 0o604


def test_new_file_mode_follows_the_umask(tmp_path: Path) -> None:
    """A new file gets 0666 minus the umask, like open() would, not mkstemp's 0600."""
    previous = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "new.txt", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o640


def test_no_temporary_file_is_left_after_success(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2})
    atomic_write_bytes(target, b"3")
    assert _names(tmp_path) == ["data.json"]


def test_data_that_fails_to_encode_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "note.txt"
    target.write_text("old content")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(target, "naïve", encoding="ascii")
    assert target.read_text() == "old content"
    assert _names(tmp_path) == ["note.txt"]


def test_unserialisable_json_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    target.write_text('{"old": true}\n')
    with pytest.raises(TypeError):
        atomic_write_json(target, {"when": object()})
    assert target.read_text() == '{"old": true}\n'
    assert _names(tmp_path) == ["data.json"]


def test_failed_rename_keeps_the_old_file_and_removes_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failure happens after the temp file is complete, right before the swap."""
    target = tmp_path / "data.json"
    target.write_text("old")
    seen: list[bytes] = []

    def failing_replace(src: str, dst: object) -> None:
        seen.append(Path(src).read_bytes())
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new")
    assert seen == [b"new"], "the temp file held the new data when the swap failed"
    assert target.read_text() == "old"
    assert _names(tmp_path) == ["data.json"]
    assert not list(tmp_path.glob("*.tmp"))


def test_failure_while_syncing_removes_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "data.json"
    target.write_text("old")

    def failing_fsync(fd: int) -> None:
        raise OSError("I/O error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="I/O error"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert _names(tmp_path) == ["data.json"]


def test_interrupt_midway_also_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl+C (a BaseException, not an Exception) must not leave a temp file either."""
    target = tmp_path / "data.json"

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "new")
    assert _names(tmp_path) == []


def test_json_is_indented_utf8_with_a_trailing_newline(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    data = {"name": "Café ☕ 日本", "items": [1, 2], "nested": {"ok": True}}
    atomic_write_json(target, data)
    raw = target.read_bytes()
    assert raw.endswith(b"}\n")
    assert not raw.endswith(b"\n\n")
    assert "Café ☕ 日本".encode() in raw, "non-ASCII is kept, not \\u-escaped"
    assert b"\\u" not in raw
    text = raw.decode("utf-8")
    assert text == json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    assert '\n  "name": ' in text
    assert '\n    "ok": true' in text
    assert json.loads(text) == data
