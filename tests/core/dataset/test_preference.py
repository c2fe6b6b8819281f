"""Preference pairs from ratings: building, appending byte-safely, registering the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftstudio.core.dataset.formats import load_dataset
from ftstudio.core.dataset.preference import (
    DEFAULT_PREFERENCES,
    append_preference,
    preference_record,
    preferences_path,
)
from ftstudio.core.dataset.validate import validate_dataset
from ftstudio.core.project import create_project, open_project

PROMPT = [
    {"role": "system", "content": "You are the helpdesk assistant."},
    {"role": "user", "content": "My laptop will not connect to the Wi-Fi."},
]


def _pair(chosen: str = "Turn Wi-Fi off and on, then restart.", **kw: str) -> dict:
    return preference_record(PROMPT, chosen, kw.get("rejected", "No idea."), source="test")


# ---------------------------------------------------------------------------- preference_record
def test_record_shape() -> None:
    record = preference_record(PROMPT, "  Restart the router.\n", "Buy a new laptop.", source="s")
    assert record == {
        "prompt": PROMPT,
        "chosen": [{"role": "assistant", "content": "Restart the router."}],
        "rejected": [{"role": "assistant", "content": "Buy a new laptop."}],
        "source": "s",
    }
    assert record["prompt"] is not PROMPT
    assert "source" not in preference_record(PROMPT, "a", "b")


@pytest.mark.parametrize(
    ("prompt", "chosen", "rejected", "says"),
    [
        (PROMPT, "", "No idea.", "the chosen (better) answer is empty"),
        (PROMPT, "Restart it.", "   ", "the rejected (worse) answer is empty"),
        (PROMPT, "Restart it.", " Restart it. ", "The chosen and rejected answers are the same"),
        (PROMPT[:1], "Restart it.", "No idea.", "it must end with the user's message"),
        (
            [*PROMPT, {"role": "assistant", "content": "Which laptop?"}],
            "Restart it.",
            "No idea.",
            "it must end with the user's message",
        ),
        ([], "Restart it.", "No idea.", "must be a non-empty list of turns"),
        ([{"role": "robot", "content": "hi"}], "a", "b", "robot"),
    ],
)
def test_invalid_pairs_are_rejected_in_plain_words(
    prompt: list[dict], chosen: str, rejected: str, says: str
) -> None:
    with pytest.raises(ValueError, match="This pair cannot be saved") as caught:
        preference_record(prompt, chosen, rejected)
    assert says in str(caught.value)


# ---------------------------------------------------------------------------- append_preference
def test_append_creates_file_and_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "datasets" / "preferences.jsonl"
    assert append_preference(path, _pair()) == 1
    assert append_preference(path, _pair("Forget the network and rejoin it.")) == 2
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert json.loads(lines[0]) == _pair()
    assert len(lines) == 3


def test_appended_lines_validate_as_preference_records(tmp_path: Path) -> None:
    path = tmp_path / "preferences.jsonl"
    append_preference(path, _pair())
    append_preference(path, preference_record(PROMPT, "Ünïcode answer ✓ 中文", "Nope"))
    dataset = load_dataset(path)
    assert dataset.kind == "preference"
    assert [record.line for record in dataset.records] == [1, 2]
    assert validate_dataset(dataset) == []
    assert dataset.records[1].data["chosen"][0]["content"] == "Ünïcode answer ✓ 中文"
    assert "中文".encode() in path.read_bytes()  # written as UTF-8, not \\u escapes


def test_existing_bytes_kept_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "preferences.jsonl"
    first = json.dumps(_pair("Restart."), indent=None)
    # A hand-edited file: odd spacing, a blank line in the middle, a final newline.
    original = (first.replace(", ", ",   ") + "\n\n" + first + "\n").encode()
    path.write_bytes(original)
    line = append_preference(path, _pair())
    assert line == 4
    data = path.read_bytes()
    assert data.startswith(original)
    assert data[len(original) :] == json.dumps(_pair(), ensure_ascii=False).encode() + b"\n"
    dataset = load_dataset(path)
    assert dataset.records[-1].line == line
    assert dataset.records[-1].data == _pair()


def test_file_without_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "preferences.jsonl"
    original = json.dumps(_pair("Restart.")).encode()  # no newline at the end
    path.write_bytes(original)
    assert append_preference(path, _pair()) == 2
    data = path.read_bytes()
    assert data.startswith(original + b"\n")
    assert data.count(b"\n") == 2
    assert load_dataset(path).records[1].line == 2


def test_crlf_file_keeps_its_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "preferences.jsonl"
    one, two = json.dumps(_pair("Restart.")), json.dumps(_pair("Reboot."))
    original = f"{one}\r\n{two}".encode()  # CRLF, and no final line ending
    path.write_bytes(original)
    assert append_preference(path, _pair()) == 3
    data = path.read_bytes()
    assert data.startswith(original + b"\r\n")
    assert data.endswith(b"\r\n")
    assert data.count(b"\n") == data.count(b"\r\n") == 3
    dataset = load_dataset(path)
    assert dataset.newline == "\r\n"
    assert [record.line for record in dataset.records] == [1, 2, 3]
    assert validate_dataset(dataset) == []


def test_bom_file_keeps_its_bom(tmp_path: Path) -> None:
    path = tmp_path / "preferences.jsonl"
    original = b"\xef\xbb\xbf" + json.dumps(_pair("Restart.")).encode() + b"\n"
    path.write_bytes(original)
    assert append_preference(path, _pair()) == 2
    assert path.read_bytes().startswith(original)
    assert len(load_dataset(path).records) == 2


def test_json_array_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "preferences.json"
    original = json.dumps([_pair("Restart.")]).encode()
    path.write_bytes(original)
    with pytest.raises(ValueError, match="JSON array") as caught:
        append_preference(path, _pair())
    assert str(path) in str(caught.value)
    assert path.read_bytes() == original


def test_sample_preferences_stay_intact(sample_project) -> None:  # noqa: ANN001 - Project
    path = preferences_path(sample_project)
    original = path.read_bytes()
    before = len(load_dataset(path).records)
    line = append_preference(path, _pair())
    assert path.read_bytes().startswith(original)
    dataset = load_dataset(path)
    assert len(dataset.records) == before + 1
    assert dataset.records[-1].line == line
    assert [i for i in validate_dataset(dataset) if i.severity == "error"] == []


# ---------------------------------------------------------------------------- preferences_path
def test_preferences_path_uses_the_registered_file(sample_project) -> None:  # noqa: ANN001
    assert preferences_path(sample_project) == (
        sample_project.folder / "datasets" / "preferences.jsonl"
    )
    manifest = json.loads(sample_project.manifest_path.read_text(encoding="utf-8"))
    assert manifest["datasets"]["preferences"] == "datasets/preferences.jsonl"


def test_preferences_path_registers_the_default(tmp_path: Path) -> None:
    project = create_project(tmp_path / "p", "P")
    (project.folder / "datasets" / "train.jsonl").write_text("", encoding="utf-8")
    project.set("datasets", {"train": "datasets/train.jsonl"})
    path = preferences_path(project)
    assert path == project.folder / DEFAULT_PREFERENCES
    assert not path.exists()  # registered, not created
    reopened = open_project(project.folder)
    assert reopened.datasets == {
        "train": "datasets/train.jsonl",
        "preferences": "datasets/preferences.jsonl",
    }
    assert any("preferences.jsonl" in warning for warning in reopened.warnings)
    append_preference(path, _pair())
    assert open_project(project.folder).warnings == []


def test_preferences_path_keeps_a_custom_file(tmp_path: Path) -> None:
    project = create_project(tmp_path / "p", "P")
    project.set("datasets", {"preferences": "datasets/ratings/mine.jsonl"})
    mtime = project.manifest_path.stat().st_mtime_ns
    assert preferences_path(project) == project.folder / "datasets" / "ratings" / "mine.jsonl"
    assert project.manifest_path.stat().st_mtime_ns == mtime  # not rewritten
