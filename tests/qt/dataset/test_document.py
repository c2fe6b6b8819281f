"""DatasetDocument: undo commands, issues kept in step, saving, backups, autosave, imports."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ftstudio.core.dataset.formats import load_dataset
from ftstudio.core.dataset.records import Record
from ftstudio.qt.dataset.document import BULK_RANGES, DatasetDocument, import_target
from tests.qt.dataset.data import BAD_LINES, chat, wait_loaded, write_jsonl


@pytest.fixture
def project_file(sample_project) -> Path:  # noqa: ANN001
    """Five small chats inside the sample project."""
    rows = [chat(f"question {n}", f"answer {n}", tags=[f"t{n % 2}"]) for n in range(5)]
    return write_jsonl(sample_project.folder / "datasets" / "five.jsonl", rows)


def open_doc(qtbot, path: Path, folder: Path | None = None) -> DatasetDocument:  # noqa: ANN001
    doc = DatasetDocument(project_folder=folder)
    with qtbot.waitSignal(doc.sig_reset, timeout=20_000):
        doc.open_file(path)
    wait_loaded(qtbot, doc)
    return doc


def user_text(doc: DatasetDocument, index: int) -> str:
    return doc.record(index).data["messages"][0]["content"]


def with_user(doc: DatasetDocument, index: int, text: str) -> dict:
    data = json.loads(json.dumps(doc.record(index).data))
    data["messages"][0]["content"] = text
    return data


def test_edit_undo_redo_save_reopen_round_trip(qtbot, sample_project, project_file) -> None:
    doc = open_doc(qtbot, project_file, sample_project.folder)
    original = project_file.read_bytes()
    assert not doc.is_dirty()
    with qtbot.waitSignal(doc.sig_dirty_changed) as dirty:
        doc.replace_record_data(1, with_user(doc, 1, "edited question"), "Edit turn")
    assert dirty.args == [True]
    assert user_text(doc, 1) == "edited question"
    doc.undo_stack.undo()
    assert user_text(doc, 1) == "question 1"
    assert not doc.is_dirty()
    assert not doc.record(1).edited  # back to the raw line, written byte for byte
    doc.undo_stack.redo()
    assert doc.is_dirty()
    written = doc.save()
    assert written == project_file
    assert not doc.is_dirty()
    backup = project_file.with_name("five.orig.jsonl")
    assert backup.read_bytes() == original, "the user's file is kept before the first overwrite"
    doc.replace_record_data(2, with_user(doc, 2, "second edit"), "Edit turn")
    doc.save()
    assert backup.read_bytes() == original, "the backup is never overwritten"
    reopened = load_dataset(project_file)
    assert reopened.records[1].data["messages"][0]["content"] == "edited question"
    assert reopened.records[2].data["messages"][0]["content"] == "second edit"
    assert reopened.records[0].raw == original.decode().splitlines()[0]


def test_typing_merges_into_one_undo_step(qtbot, project_file) -> None:
    doc = open_doc(qtbot, project_file)
    for text in ("q", "qu", "que"):
        doc.replace_record_data(0, with_user(doc, 0, text), "Type", merge_key="messages[0]")
    doc.replace_record_data(0, with_user(doc, 0, "other"), "Type", merge_key="messages[1]")
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    assert user_text(doc, 0) == "que"
    doc.undo_stack.undo()
    assert user_text(doc, 0) == "question 0"


def test_the_stored_edit_is_a_copy(qtbot, project_file) -> None:
    doc = open_doc(qtbot, project_file)
    data = with_user(doc, 0, "mine")
    doc.replace_record_data(0, data, "Edit")
    data["messages"][0]["content"] = "changed later by the caller"
    doc.undo_stack.undo()
    doc.undo_stack.redo()
    assert user_text(doc, 0) == "mine"


def test_replace_many_is_one_step(qtbot, project_file) -> None:
    doc = open_doc(qtbot, project_file)
    changes = {i: with_user(doc, i, f"bulk {i}") for i in (0, 2, 4)}
    doc.replace_many(changes, "Bulk")
    assert doc.undo_stack.count() == 1
    assert [user_text(doc, i) for i in range(5)][::2] == ["bulk 0", "bulk 2", "bulk 4"]
    doc.undo_stack.undo()
    assert [user_text(doc, i) for i in range(5)] == [f"question {i}" for i in range(5)]


def test_insert_and_remove_keep_issues_on_their_records(qtbot, bad_file) -> None:
    doc = open_doc(qtbot, bad_file)
    codes = {i.record: i.code for i in doc.issues}
    assert codes[2] == "role_order"
    assert codes[5] == "duplicate_example"
    removed: list[tuple[int, int]] = []
    doc.sig_rows_removed.connect(lambda first, last: removed.append((first, last)))
    doc.remove_records([0, 1], "Delete")
    assert removed == [(0, 1)]
    assert len(doc) == 5
    by_record = {i.record: i.code for i in doc.issues if i.code != "duplicate_example"}
    assert by_record[0] == "role_order"  # was record 2
    assert by_record[1] == "data_type"
    doc.insert_records(1, [Record(chat("new", "one"), edited=True)], "Insert")
    by_record = {i.record: i.code for i in doc.issues if i.code != "duplicate_example"}
    assert by_record[0] == "role_order"
    assert by_record[2] == "data_type"
    assert 1 not in by_record
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert len(doc) == 7
    assert {i.record: i.code for i in doc.issues}[2] == "role_order"
    assert {i.record for i in doc.issues if i.code == "invalid_json"} == {1}
    qtbot.waitUntil(doc.is_validated, timeout=5000)
    assert {i.record for i in doc.issues if i.code == "duplicate_example"} == {5}


def test_scattered_removal_is_announced_as_a_reset(qtbot, tmp_path) -> None:
    rows = [chat(f"q{n}", f"a{n}") for n in range(2 * (BULK_RANGES + 2))]
    doc = open_doc(qtbot, write_jsonl(tmp_path / "many.jsonl", rows))
    every_other = list(range(0, len(rows), 2))
    with qtbot.waitSignal(doc.sig_reset):
        doc.remove_records(every_other, "Delete")
    assert [user_text(doc, i) for i in range(3)] == ["q1", "q3", "q5"]
    with qtbot.waitSignal(doc.sig_reset):
        doc.undo_stack.undo()
    assert [user_text(doc, i) for i in range(3)] == ["q0", "q1", "q2"]


def test_fixing_an_unparseable_line_clears_its_issue(qtbot, bad_file) -> None:
    doc = open_doc(qtbot, bad_file)
    assert any(i.record == 1 and i.code == "invalid_json" for i in doc.issues)
    fixed = json.dumps(chat("fixed", "line"))
    doc.set_raw_text(1, fixed, "Fix line")
    assert doc.record(1).is_parsed
    assert not [i for i in doc.issues if i.record == 1]
    doc.undo_stack.undo()
    assert doc.record(1).raw == "{not json"
    assert [i.code for i in doc.issues if i.record == 1] == ["invalid_json"]
    doc.undo_stack.redo()
    doc.save()
    assert bad_file.read_text().splitlines()[1] == fixed
    assert bad_file.read_text().splitlines()[3] == BAD_LINES[3], "untouched lines stay verbatim"


def test_autosave_saves_project_files_after_a_pause(qtbot, sample_project, project_file) -> None:
    doc = open_doc(qtbot, project_file, sample_project.folder)
    doc.autosave_delay_ms = 50
    with qtbot.waitSignal(doc.sig_autosaved, timeout=5000) as saved:
        doc.replace_record_data(0, with_user(doc, 0, "autosaved"), "Edit")
    assert saved.args == [project_file]
    assert not doc.is_dirty()
    assert doc.last_saved is not None
    assert doc.last_saved[1], "marked as an autosave"
    assert load_dataset(project_file).records[0].data["messages"][0]["content"] == "autosaved"
    assert project_file.with_name("five.orig.jsonl").is_file()
    assert not list(project_file.parent.glob(".*.tmp")), "the write was atomic"


def test_files_outside_the_project_are_not_autosaved(qtbot, sample_project, tmp_path) -> None:
    outside = write_jsonl(tmp_path / "mine.jsonl", [chat("a", "b")])
    doc = open_doc(qtbot, outside, sample_project.folder)
    doc.autosave_delay_ms = 20
    doc.replace_record_data(0, with_user(doc, 0, "not yet"), "Edit")
    qtbot.wait(150)
    assert doc.is_dirty()
    assert "not yet" not in outside.read_text()
    doc.save()
    assert "not yet" in outside.read_text()


def test_import_becomes_a_new_chat_jsonl_in_the_project(qtbot, sample_project, tmp_path) -> None:
    alpaca = tmp_path / "legal.json"
    alpaca.write_text(
        json.dumps(
            [
                {"instruction": "Define tort.", "input": "", "output": "A civil wrong."},
                {"instruction": "Summarise", "input": "The contract...", "output": "Short."},
            ]
        ),
        encoding="utf-8",
    )
    before = alpaca.read_bytes()
    doc = DatasetDocument(project_folder=sample_project.folder)
    with qtbot.waitSignal(doc.sig_imported, timeout=20_000) as imported:
        doc.open_file(alpaca)
    target = sample_project.folder / "datasets" / "legal.jsonl"
    assert imported.args == [alpaca, target]
    assert doc.path == target
    assert not doc.is_dirty()
    assert alpaca.read_bytes() == before, "the original is never written"
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert lines[0]["messages"] == [
        {"role": "user", "content": "Define tort."},
        {"role": "assistant", "content": "A civil wrong."},
    ]
    doc.replace_record_data(0, with_user(doc, 0, "Define a tort."), "Edit")
    doc.save()
    assert json.loads(target.read_text().splitlines()[0])["messages"][0]["content"] == (
        "Define a tort."
    )
    assert alpaca.read_bytes() == before
    assert not target.with_name("legal.orig.jsonl").exists(), "no backup of our own file"
    assert import_target(alpaca, target.parent) == target.with_name("legal-2.jsonl")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p, "missing.jsonl"),
        (lambda p: (p.mkdir(), p)[1], "missing.jsonl"),
        (lambda p: (p.write_bytes(b"\x00\x01\x02binary\xff" * 100), p)[1], "missing.jsonl"),
    ],
    ids=["missing", "directory", "binary"],
)
def test_unreadable_files_are_explained(qtbot, tmp_path, make, expected) -> None:  # noqa: ANN001
    path = make(tmp_path / "missing.jsonl")
    doc = DatasetDocument()
    with qtbot.waitSignal(doc.sig_load_failed, timeout=10_000) as failed:
        doc.open_file(path)
    assert expected in failed.args[0]
    assert len(doc) == 0


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_permission_denied_is_explained(qtbot, tmp_path) -> None:
    path = write_jsonl(tmp_path / "locked.jsonl", [chat("a", "b")])
    path.chmod(0)
    doc = DatasetDocument()
    with qtbot.waitSignal(doc.sig_load_failed, timeout=10_000) as failed:
        doc.open_file(path)
    assert "locked.jsonl" in failed.args[0]


def test_save_failure_keeps_the_edits(qtbot, sample_project, project_file) -> None:
    doc = open_doc(qtbot, project_file, sample_project.folder)
    doc.replace_record_data(0, with_user(doc, 0, "kept"), "Edit")
    doc.path = sample_project.folder / "datasets"  # a folder: the write must fail
    with qtbot.waitSignal(doc.sig_save_failed) as failed:
        assert not doc.flush()
    assert "Your changes are still here" in failed.args[0]
    assert doc.is_dirty()
    assert user_text(doc, 0) == "kept"


def test_large_file_loads_in_a_worker_with_progress_and_can_be_cancelled(qtbot, tmp_path) -> None:
    rows = [chat(f"question {n} " * 20 + "?", f"answer {n} " * 40 + ".") for n in range(4000)]
    path = write_jsonl(tmp_path / "big.jsonl", rows)
    doc = DatasetDocument()
    doc.inline_load_bytes = 0
    progress: list[tuple[int, int]] = []
    doc.loader.sig_progress.connect(lambda done, total, *_: progress.append((done, total)))
    with qtbot.waitSignal(doc.loader.sig_cancelled, timeout=20_000):
        doc.open_file(path)
        doc.loader.cancel()
    assert len(doc) == 0, "a cancelled load leaves the document as it was"
    with qtbot.waitSignal(doc.sig_reset, timeout=30_000):
        doc.open_file(path)
    assert len(doc) == 4000
    assert progress
    assert all(done <= total for done, total in progress)
    assert not doc.issues
