"""The bundled sample project: installing private copies, and the quality of its data."""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ftstudio.core import sample
from ftstudio.core.project import MANIFEST, SUBFOLDERS, TINY_MODEL, open_project
from ftstudio.core.sample import bundled_sample_dir, install_sample, sample_copy_dir, sample_corpus

BUNDLED = bundled_sample_dir()
TRAIN = BUNDLED / "datasets" / "it_support.jsonl"
PREFERENCES = BUNDLED / "datasets" / "preferences.jsonl"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, with its bytes."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(autouse=True)
def bundled_untouched() -> Iterator[dict[str, bytes]]:
    """Whatever a test does to its copies, the bundled files stay byte-identical."""
    before = snapshot(BUNDLED)
    yield before
    assert snapshot(BUNDLED) == before, "a test changed the bundled sample project"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        assert line.strip(), f"{path.name}: line {number} is blank"
        record = json.loads(line)
        assert isinstance(record, dict), f"{path.name}: line {number} is not a JSON object"
        records.append(record)
    return records


def assert_message(message: object, where: str, role: str | None = None) -> None:
    assert isinstance(message, dict), where
    assert set(message) == {"role", "content"}, where
    assert isinstance(message["content"], str), where
    assert message["content"].strip(), f"{where}: empty content"
    if role is not None:
        assert message["role"] == role, where


# ---- install_sample


def test_install_copies_into_the_data_dir_and_opens_it(
    user_dirs: dict[str, Path], bundled_untouched: dict[str, bytes]
) -> None:
    project = install_sample()
    expected = user_dirs["data"] / "projects" / "IT Support Sample"
    assert sample_copy_dir() == expected
    assert project.folder == expected.resolve()
    assert project.name == "IT Support Sample"
    assert project.warnings == []
    assert all((expected / sub).is_dir() for sub in SUBFOLDERS)
    assert snapshot(expected) == bundled_untouched
    assert project.dataset_path("train").read_bytes() == TRAIN.read_bytes()


def test_install_to_an_explicit_destination(tmp_path: Path, user_dirs: dict[str, Path]) -> None:
    project = install_sample(tmp_path / "mine" / "Copy")
    assert project.folder == (tmp_path / "mine" / "Copy").resolve()
    assert not sample_copy_dir().exists()


def test_a_second_install_opens_the_copy_and_keeps_edits() -> None:
    first = install_sample()
    first.set("description", "my own notes")
    train = first.dataset_path("train")
    with train.open("a", encoding="utf-8") as handle:
        handle.write('{"messages": []}\n')
    edited = train.read_bytes()

    second = install_sample()
    assert second.folder == first.folder
    assert second.description == "my own notes"
    assert second.dataset_path("train").read_bytes() == edited
    assert sorted(path.name for path in first.folder.parent.iterdir()) == ["IT Support Sample"]


def test_replace_sets_the_old_copy_aside(bundled_untouched: dict[str, bytes]) -> None:
    first = install_sample()
    first.set("description", "edited once")
    (first.folder / "runs" / "run-1").mkdir()

    fresh = install_sample(replace=True)
    parent = first.folder.parent
    old = parent / "IT Support Sample (old)"
    assert open_project(old).description == "edited once"
    assert (old / "runs" / "run-1").is_dir()
    assert fresh.folder == first.folder
    assert fresh.description != "edited once"
    assert snapshot(fresh.folder) == bundled_untouched

    install_sample(replace=True)
    assert sorted(path.name for path in parent.iterdir()) == [
        "IT Support Sample",
        "IT Support Sample (old)",
        "IT Support Sample (old) 2",
    ]
    assert open_project(old).description == "edited once", "an older copy is never overwritten"


def test_a_broken_copy_is_set_aside_and_replaced(bundled_untouched: dict[str, bytes]) -> None:
    first = install_sample()
    first.manifest_path.write_text('{"ftstudio_project": 1, "name": ', encoding="utf-8")

    project = install_sample()
    old = first.folder.parent / "IT Support Sample (old)"
    assert (old / MANIFEST).read_text(encoding="utf-8") == '{"ftstudio_project": 1, "name": '
    assert project.warnings == []
    assert snapshot(project.folder) == bundled_untouched


def test_a_read_only_install_gives_a_writable_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Packaged resources may be read-only (system packages, AppImage, Nix); the copy is not."""
    read_only = tmp_path / "ro" / "sample_project"
    shutil.copytree(BUNDLED, read_only)
    folders = [path for path in [read_only, *read_only.rglob("*")] if path.is_dir()]
    for path in read_only.rglob("*"):
        if path.is_file():
            path.chmod(0o444)
    for folder in folders:
        folder.chmod(0o555)
    monkeypatch.setattr(sample, "bundled_sample_dir", lambda: read_only)
    try:
        project = install_sample()
    finally:
        for folder in folders:
            folder.chmod(0o755)
    for path in [project.folder, *project.folder.rglob("*")]:
        assert path.stat().st_mode & stat.S_IWUSR, f"{path} is not writable"


# ---- sample_corpus


def test_sample_corpus_yields_message_texts_from_both_datasets() -> None:
    corpus = list(sample_corpus())
    train, preferences = read_jsonl(TRAIN), read_jsonl(PREFERENCES)
    expected = [m["content"] for record in train for m in record["messages"]]
    for record in preferences:
        for key in ("prompt", "chosen", "rejected"):
            expected.extend(m["content"] for m in record[key])
    assert sorted(corpus) == sorted(expected)
    assert train[0]["messages"][1]["content"] in corpus
    assert preferences[0]["chosen"][0]["content"] in corpus
    assert preferences[0]["rejected"][0]["content"] in corpus
    tags = {tag for record in train for tag in record["tags"]}
    assert not tags & set(corpus), "tags are not message text"


# ---- the bundled data itself


def test_sample_manifest_names_both_datasets_and_the_tiny_model() -> None:
    manifest = json.loads((BUNDLED / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["datasets"] == {
        "train": "datasets/it_support.jsonl",
        "preferences": "datasets/preferences.jsonl",
    }
    assert manifest["base_model"] == TINY_MODEL
    assert open_project(BUNDLED).name == "IT Support Sample"


def test_training_examples_are_well_formed_chats() -> None:
    records = read_jsonl(TRAIN)
    assert len(records) >= 60
    system_prompts = set()
    for number, record in enumerate(records, start=1):
        where = f"it_support.jsonl line {number}"
        messages = record.get("messages")
        assert isinstance(messages, list), where
        assert len(messages) >= 3, where
        assert_message(messages[0], where, "system")
        system_prompts.add(messages[0]["content"])
        for index, message in enumerate(messages[1:]):
            role = "user" if index % 2 == 0 else "assistant"
            assert_message(message, f"{where} message {index + 1}", role)
        assert messages[-1]["role"] == "assistant", where
        tags = record.get("tags")
        assert isinstance(tags, list), where
        assert 1 <= len(tags) <= 3, where
        assert all(isinstance(tag, str) and tag and tag == tag.lower() for tag in tags), where
    assert len(system_prompts) == 1, "every example uses the same system prompt"


def test_training_examples_include_multi_turn_conversations() -> None:
    records = read_jsonl(TRAIN)
    multi = [r for r in records if sum(m["role"] == "user" for m in r["messages"]) >= 2]
    assert len(multi) >= 10


def test_training_examples_have_no_duplicates() -> None:
    records = read_jsonl(TRAIN)
    conversations = [json.dumps(r["messages"], sort_keys=True) for r in records]
    assert len(set(conversations)) == len(conversations)


def test_preference_pairs_are_well_formed() -> None:
    records = read_jsonl(PREFERENCES)
    assert len(records) >= 20
    for number, record in enumerate(records, start=1):
        where = f"preferences.jsonl line {number}"
        prompt = record.get("prompt")
        assert isinstance(prompt, list), where
        assert prompt, where
        for message in prompt:
            assert_message(message, where)
            assert message["role"] in ("system", "user", "assistant"), where
        assert prompt[-1]["role"] == "user", where
        for key in ("chosen", "rejected"):
            answer = record.get(key)
            assert isinstance(answer, list), f"{where} {key}"
            assert len(answer) == 1, f"{where} {key}"
            assert_message(answer[0], f"{where} {key}", "assistant")
        assert record["chosen"][0]["content"] != record["rejected"][0]["content"], where
    prompts = [json.dumps(r["prompt"], sort_keys=True) for r in records]
    assert len(set(prompts)) == len(prompts), "no duplicate preference prompts"
