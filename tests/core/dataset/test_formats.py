"""Dataset formats: every reader on hand-written fixtures, every writer, bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from ftstudio.core.dataset import formats
from ftstudio.core.dataset.formats import (
    FORMATS,
    DatasetReadError,
    DatasetWriteError,
    LoadCancelled,
    backup_original,
    detect_format,
    export_openai,
    load_dataset,
    records_from_rows,
    render_dataset,
    row_format,
    save_dataset,
)
from ftstudio.core.dataset.records import Dataset, Record

DATA = Path(__file__).resolve().parents[2] / "data" / "formats"


def fixture(name: str) -> Path:
    return DATA / name


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


# ---------------------------------------------------------------- Detection


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("chat.jsonl", "chat"),
        ("chat_crlf_bom.jsonl", "chat"),
        ("chat_invalid_json.jsonl", "chat"),
        ("completion.jsonl", "completion"),
        ("preference.jsonl", "preference"),
        ("alpaca.json", "alpaca"),
        ("alpaca.jsonl", "alpaca"),
        ("sharegpt.json", "sharegpt"),
        ("sharegpt.jsonl", "sharegpt"),
        ("chat.csv", "csv"),
        ("empty.jsonl", "chat"),
    ],
)
def test_detect_format_of_each_fixture(name: str, expected: str) -> None:
    assert detect_format(fixture(name)) == expected


def test_detect_format_sniffs_content_not_only_extension(tmp_path: Path) -> None:
    headerless = tmp_path / "export.txt"
    headerless.write_text("system,user,assistant\n,hi,hello\n", encoding="utf-8")
    assert detect_format(headerless) == "csv"
    garbage_first = tmp_path / "data.json"
    garbage_first.write_text('not json\n{"prompt": "p", "completion": "c"}\n', encoding="utf-8")
    assert detect_format(garbage_first) == "completion"
    parquet_named_wrong = tmp_path / "rows.bin"
    parquet_named_wrong.write_bytes(b"PAR1" + b"\x00" * 20)
    assert detect_format(parquet_named_wrong) == "parquet"


def test_detect_format_raises_for_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetReadError, match="does not exist"):
        detect_format(tmp_path / "nope.jsonl")


def test_row_format_by_keys() -> None:
    assert row_format({"messages": []}) == "chat"
    assert row_format({"prompt": "p", "completion": "c"}) == "completion"
    assert row_format({"prompt": [], "chosen": [], "rejected": []}) == "preference"
    assert row_format({"instruction": "i", "output": "o"}) == "alpaca"
    assert row_format({"conversations": []}) == "sharegpt"
    assert row_format({"user": "u", "assistant": "a"}) == "csv"
    assert row_format({"text": "t"}) is None
    assert row_format([1]) is None


def test_format_can_be_overridden() -> None:
    dataset = load_dataset(fixture("alpaca.jsonl"), "chat")
    assert dataset.format == "chat"
    assert dataset.records[0].data == json.loads(
        fixture("alpaca.jsonl").read_text().splitlines()[0]
    )


# ---------------------------------------------------------------- Chat JSONL


def test_chat_keeps_unknown_keys_weights_and_exact_text() -> None:
    path = fixture("chat.jsonl")
    dataset = load_dataset(path)
    assert (dataset.format, dataset.kind, dataset.bom, dataset.newline) == (
        "chat",
        "chat",
        False,
        "\n",
    )
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [r.raw for r in dataset.records] == lines
    assert [r.line for r in dataset.records] == [1, 2, 3]
    first, second, third = dataset.records
    assert [m.get("weight") for m in first.messages] == [None, None, 0, None, 1]
    assert second.messages[0]["x_rating"] == 4
    assert second.data["x_origin"] == {"ticket": 1234, "queue": ["hw", "print"]}
    assert third.messages[1]["content"] == "été 😀"
    assert third.review == "rejected"
    assert render_dataset(dataset) == path.read_bytes()


def test_crlf_and_bom_are_accepted_and_kept() -> None:
    path = fixture("chat_crlf_bom.jsonl")
    dataset = load_dataset(path)
    assert dataset.bom is True
    assert dataset.newline == "\r\n"
    assert [r.line for r in dataset.records] == [1, 3]  # line 2 is blank: not a record
    assert dataset.records[0].raw.startswith('{"messages"')  # no BOM, no CR in raw
    assert not dataset.records[0].raw.endswith("\r")
    assert dataset.records[1].messages[0]["content"] == "Line\r\nbreaks"
    expected = path.read_bytes().replace(b"\r\n\r\n", b"\r\n")  # only the blank line goes
    assert render_dataset(dataset) == expected


def test_invalid_json_lines_are_kept_verbatim_with_their_line() -> None:
    path = fixture("chat_invalid_json.jsonl")
    dataset = load_dataset(path)
    assert [r.line for r in dataset.records] == [1, 3, 5, 6, 7]
    broken = dataset.records[1]
    assert broken.data is None
    assert broken.raw == path.read_text(encoding="utf-8").splitlines()[2]
    issue = broken.parse_error
    assert (issue.code, issue.severity, issue.field, issue.line, issue.record) == (
        "invalid_json",
        "error",
        "",
        3,
        1,
    )
    assert "Fix the line or delete it" in issue.message
    assert dataset.records[2].data == ["not", "an", "object"]  # parsed: validation's job
    assert dataset.records[3].parse_error.line == 6
    # Saving without edits writes every record back; only blank lines are gone.
    kept = [line for line in path.read_bytes().split(b"\n") if line.strip()]
    assert render_dataset(dataset) == b"\n".join(kept) + b"\n"


def test_invalid_utf8_is_reported_at_its_line_and_written_back_unchanged(tmp_path: Path) -> None:
    path = fixture("chat_invalid_utf8.jsonl")
    dataset = load_dataset(path)
    bad = dataset.records[1]
    assert bad.data is None
    assert bad.parse_error.code == "encoding"
    assert bad.parse_error.line == 2
    assert "0xe9" in bad.parse_error.message
    assert [r.is_parsed for r in dataset.records] == [True, False, True]
    out = save_dataset(dataset, tmp_path / "copy.jsonl")
    assert out.read_bytes() == path.read_bytes()
    # Fixing the line through the record API makes it write as typed.
    bad.set_raw('{"messages": [{"role": "user", "content": "café"}]}')
    save_dataset(dataset, out)
    assert "café".encode() in out.read_bytes()


def test_completion_and_preference_round_trip() -> None:
    for name, kind in (("completion.jsonl", "completion"), ("preference.jsonl", "preference")):
        dataset = load_dataset(fixture(name))
        assert dataset.kind == kind
        assert [r.data for r in dataset.records] == jsonl(fixture(name))
        assert render_dataset(dataset) == fixture(name).read_bytes()


def test_sample_project_preferences_load_as_preference() -> None:
    path = (
        Path(__file__).resolve().parents[3] / "resources/sample_project/datasets/preferences.jsonl"
    )
    dataset = load_dataset(path)
    assert dataset.format == "preference"
    assert len(dataset) == len(jsonl(path))
    assert render_dataset(dataset) == path.read_bytes()


# ---------------------------------------------------------------- Alpaca, ShareGPT


def test_alpaca_json_array_elements_keep_their_line_and_exact_slice() -> None:
    path = fixture("alpaca.json")
    text = path.read_text(encoding="utf-8")
    dataset = load_dataset(path)
    assert (dataset.format, dataset.kind, dataset.json_array) == ("alpaca", "chat", True)
    assert [r.line for r in dataset.records] == [2, 11, 17]
    for record in dataset.records:
        assert record.raw in text
        assert text.splitlines()[record.line - 1].lstrip().startswith(record.raw.splitlines()[0])
    nested = dataset.records[0].data
    assert nested["meta"] == {"ticket": 77, "labels": ["print", "excel"]}
    assert nested["messages"] == [
        {
            "role": "user",
            "content": "Summarise the ticket.\n\nUser cannot print from Excel since Monday.",
        },
        {"role": "assistant", "content": "Printing from Excel fails since Monday."},
    ]
    assert nested["source"] == "alpaca.json"
    with_system = dataset.records[1].data["messages"]
    assert with_system[0] == {"role": "system", "content": "Answer for beginners."}
    assert dataset.records[2].data["source"] == "handwritten"  # not overwritten
    assert render_dataset(dataset, json_array=True) == path.read_bytes()


def test_alpaca_jsonl() -> None:
    dataset = load_dataset(fixture("alpaca.jsonl"))
    assert dataset.json_array is False
    second = dataset.records[1].data
    assert second["messages"][0] == {"role": "system", "content": "Only digits."}
    assert second["messages"][1]["content"] == "Add the numbers.\n\n2, 3"
    assert second["x_id"] == "a-2"
    assert render_dataset(dataset) == fixture("alpaca.jsonl").read_bytes()


def test_sharegpt_with_system_maps_roles() -> None:
    dataset = load_dataset(fixture("sharegpt.json"))
    first, second = dataset.records
    assert [m["role"] for m in first.messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert first.messages[-1] == {"role": "assistant", "content": "Great!", "weight": 0}
    assert first.data["id"] == "conv-1"
    assert second.messages[0] == {"role": "system", "content": "Be brief."}
    assert [m["role"] for m in second.messages[1:]] == ["user", "assistant"]
    assert "system" not in second.data
    assert render_dataset(dataset, json_array=True) == fixture("sharegpt.json").read_bytes()
    lines = load_dataset(fixture("sharegpt.jsonl"))
    assert lines.records[0].data["x_lang"] == "en"
    assert render_dataset(lines) == fixture("sharegpt.jsonl").read_bytes()


def test_broken_json_array_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"instruction": "a", "output": "b"},\n  {"instruction": }\n]\n')
    with pytest.raises(DatasetReadError, match=r"broken\.json.*line 3, column 19"):
        load_dataset(path, "alpaca")


def test_array_or_json_lines_when_the_file_starts_with_a_bracket(tmp_path: Path) -> None:
    lines = tmp_path / "lines.jsonl"
    lines.write_text('["an", "array", "record"]\n{"messages": []}\n')
    dataset = load_dataset(lines)
    assert dataset.json_array is False
    assert [r.data for r in dataset.records] == [["an", "array", "record"], {"messages": []}]
    pretty = tmp_path / "pretty.jsonl"
    pretty.write_text('[\n  {"messages": []},\n  {"messages": []}\n]\n')
    assert load_dataset(pretty).json_array is True
    broken = tmp_path / "broken.jsonl"
    broken.write_text('[\n{"messages": []}\n')  # not an array after all: every line kept
    assert [r.raw for r in load_dataset(broken).records] == ["[", '{"messages": []}']
    minified = tmp_path / "min.json"
    minified.write_text(
        '[{"instruction": "a", "output": "b"}, {"instruction": "c", "output": "d"}]'
    )
    assert detect_format(minified) == "alpaca"
    assert len(load_dataset(minified)) == 2
    arrays_in_json = tmp_path / "rows.json"
    arrays_in_json.write_text("[1, 2]\n[3]\n")
    assert [r.data for r in load_dataset(arrays_in_json, "chat").records] == [[1, 2], [3]]


def test_pretty_array_saved_as_json_lines_gets_one_line_per_record(tmp_path: Path) -> None:
    dataset = load_dataset(fixture("sharegpt.json"))
    out = save_dataset(dataset, tmp_path / "s.jsonl")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    back = load_dataset(out)
    assert back.format == "sharegpt"
    assert [r.messages for r in back.records] == [r.messages for r in dataset.records]


def test_json_array_with_invalid_utf8_marks_only_that_element(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    data = (
        b'[\n{"instruction": "ok", "output": "x"},\n{"instruction": "caf\xe9", "output": "y"}\n]\n'
    )
    path.write_bytes(data)
    dataset = load_dataset(path)
    assert [r.is_parsed for r in dataset.records] == [True, False]
    assert dataset.records[1].parse_error.code == "encoding"
    assert dataset.records[1].parse_error.line == 3
    out = save_dataset(dataset, tmp_path / "out.json")
    assert b'"caf\xe9"' in out.read_bytes()


# ---------------------------------------------------------------- CSV


def test_csv_multiline_quoted_fields_and_extra_columns() -> None:
    path = fixture("chat.csv")
    text = path.read_text(encoding="utf-8")
    dataset = load_dataset(path)
    assert (dataset.format, dataset.kind) == ("csv", "chat")
    assert dataset.csv_header == "system,user,assistant,tags,x_priority"
    assert [r.line for r in dataset.records] == [2, 5, 7]
    first = dataset.records[0]
    assert first.raw in text
    assert first.raw.count("\n") == 2
    assert first.messages == [
        {"role": "user", "content": 'Printer says "paper jam", but there is no paper, what now?'},
        {
            "role": "assistant",
            "content": "Open tray 2, then:\n1. Remove the toner.\n2. Look for torn paper.",
        },
    ]
    assert first.tags == ["printing"]
    assert first.data["x_priority"] == "high"
    assert first.data["source"] == "chat.csv"
    assert dataset.records[1].messages[0] == {"role": "system", "content": "You are brief."}
    assert dataset.records[2].messages[0]["content"] == 'Quote " and comma , in one'
    # Unedited rows are written back exactly (the blank line is dropped).
    assert render_dataset(dataset) == text.replace("low\n\n", "low\n").encode()


def test_csv_crlf_bom() -> None:
    path = fixture("crlf_bom.csv")
    dataset = load_dataset(path)
    assert dataset.bom
    assert dataset.newline == "\r\n"
    assert dataset.records[0].messages[1]["content"] == "Hi,\r\nthere"
    assert render_dataset(dataset) == path.read_bytes()


def test_csv_bad_rows_are_kept_and_reported() -> None:
    path = fixture("bad_rows.csv")
    dataset = load_dataset(path)
    assert [r.line for r in dataset.records] == [2, 3, 4, 5]
    assert [r.is_parsed for r in dataset.records] == [True, False, True, False]
    too_many = dataset.records[1].parse_error
    assert (too_many.code, too_many.line) == ("invalid_csv", 3)
    assert "4 values" in too_many.message
    unclosed = dataset.records[3]
    assert unclosed.raw == ',"never closed,x\n,swallowed,row'
    assert render_dataset(dataset) == path.read_bytes()


def test_csv_without_needed_columns_is_refused() -> None:
    with pytest.raises(DatasetReadError, match=r"wrong_columns\.csv.*question, answer"):
        load_dataset(fixture("wrong_columns.csv"))


def test_csv_with_invalid_utf8_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b'user,assistant\nok,fine\ncaf\xe9,"two\nlines"\nlast,row\n')
    dataset = load_dataset(path)
    assert [r.is_parsed for r in dataset.records] == [True, False, True]
    assert dataset.records[1].parse_error.code == "encoding"
    assert dataset.records[1].parse_error.line == 3
    assert render_dataset(dataset) == path.read_bytes()


# ---------------------------------------------------------------- Writers


def _chat(*turns: tuple[str, str], **extra: object) -> dict:
    return {"messages": [{"role": r, "content": c} for r, c in turns], **extra}


def _dataset(*records: dict, path: Path | None = None) -> Dataset:
    return Dataset(records=[Record(r) for r in records], path=path)


def test_edited_record_is_written_from_data_others_from_raw(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    shutil.copy(fixture("chat.jsonl"), path)
    dataset = load_dataset(path)
    dataset.records[1].set_data(_chat(("user", "new"), ("assistant", "answer")))
    save_dataset(dataset)
    lines = path.read_text(encoding="utf-8").splitlines()
    original = fixture("chat.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines[0] == original[0]
    assert lines[2] == original[2]
    assert json.loads(lines[1]) == _chat(("user", "new"), ("assistant", "answer"))
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left nothing behind


def test_writers_for_every_text_format(tmp_path: Path) -> None:
    dataset = _dataset(
        _chat(("system", "Be kind."), ("user", 'Hi, "you"'), ("assistant", "Hello\nthere")),
        _chat(("user", "Q"), ("assistant", "A"), tags=["t"], x_key={"n": 1}),
    )
    alpaca = save_dataset(dataset, tmp_path / "a.json", "alpaca")
    assert json.loads(alpaca.read_text()) == [
        {"instruction": 'Hi, "you"', "input": "", "output": "Hello\nthere", "system": "Be kind."},
        {"instruction": "Q", "input": "", "output": "A", "tags": ["t"], "x_key": {"n": 1}},
    ]
    sharegpt = save_dataset(dataset, tmp_path / "s.jsonl", "sharegpt")
    assert jsonl(sharegpt)[0]["conversations"] == [
        {"from": "system", "value": "Be kind."},
        {"from": "human", "value": 'Hi, "you"'},
        {"from": "gpt", "value": "Hello\nthere"},
    ]
    table = save_dataset(dataset, tmp_path / "c.csv", "csv")
    rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"))))
    assert rows[0] == {
        "system": "Be kind.",
        "user": 'Hi, "you"',
        "assistant": "Hello\nthere",
        "tags": "",
        "x_key": "",
    }
    assert rows[1]["tags"] == '["t"]'
    assert rows[1]["x_key"] == '{"n": 1}'
    completion = save_dataset(dataset, tmp_path / "p.jsonl", "completion")
    first = jsonl(completion)[0]
    assert first["prompt"][0] == {"role": "system", "content": "Be kind."}  # conversational form
    assert first["completion"] == [{"role": "assistant", "content": "Hello\nthere"}]
    chat = save_dataset(dataset, tmp_path / "back.jsonl", "chat")
    assert jsonl(chat) == [r.data for r in dataset.records]
    # Each written file reads back as the same chats.
    for out in (alpaca, sharegpt, table):
        back = load_dataset(out)
        for got, want in zip(back.records, dataset.records, strict=True):
            assert got.messages == want.messages, out.name
    as_chat = save_dataset(load_dataset(completion), tmp_path / "from_completion.jsonl", "chat")
    assert [r["messages"] for r in jsonl(as_chat)] == [r.messages for r in dataset.records]
    # Plain user/assistant pairs become plain prompt/completion text.
    plain = save_dataset(_dataset(dataset.records[1].data), tmp_path / "plain.jsonl", "completion")
    assert jsonl(plain) == [{"prompt": "Q", "completion": "A", "tags": ["t"], "x_key": {"n": 1}}]
    back = load_dataset(plain)
    assert back.kind == "completion"
    assert jsonl(save_dataset(back, tmp_path / "chat2.jsonl", "chat"))[0]["messages"] == [
        {"role": "user", "content": "Q"},
        {"role": "assistant", "content": "A"},
    ]


def test_preference_writer_and_refusals(tmp_path: Path) -> None:
    preference = load_dataset(fixture("preference.jsonl"))
    preference.records[0].set_data({**preference.records[0].data, "note": "edited"})
    out = save_dataset(preference, tmp_path / "p.jsonl")
    assert jsonl(out)[0]["note"] == "edited"
    with pytest.raises(DatasetWriteError, match="preference"):
        save_dataset(preference, tmp_path / "c.jsonl", "chat")
    chats = _dataset(_chat(("user", "q"), ("assistant", "a")))
    with pytest.raises(DatasetWriteError, match="a new example: a preference pair"):
        save_dataset(chats, tmp_path / "x.jsonl", "preference")


def test_multi_turn_to_alpaca_or_csv_names_the_line(tmp_path: Path) -> None:
    dataset = load_dataset(fixture("chat.jsonl"))
    for fmt in ("alpaca", "csv"):
        with pytest.raises(DatasetWriteError, match=r"line 1: .*2 answers") as caught:
            save_dataset(dataset, tmp_path / f"out.{fmt}", fmt)
        assert "line 2" not in str(caught.value)  # line 2 is a plain pair: fine
    assert not (tmp_path / "out.alpaca").exists()


def test_unparseable_records_refuse_conversion_but_save_in_own_format(tmp_path: Path) -> None:
    dataset = load_dataset(fixture("chat_invalid_json.jsonl"))
    with pytest.raises(DatasetWriteError, match=r"line 3: it could not be read.*line 6"):
        save_dataset(dataset, tmp_path / "out.jsonl", "sharegpt")
    out = save_dataset(dataset, tmp_path / "same.jsonl")
    assert b"{'messages': 'single quotes'}" in out.read_bytes()


def test_container_follows_source_file_or_new_name(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text('{"instruction": "i", "output": "o"}\n')  # JSON Lines in a .json file
    dataset = load_dataset(path)
    assert dataset.json_array is False
    dataset.records[0].set_data(_chat(("user", "i2"), ("assistant", "o")))
    save_dataset(dataset)  # over itself: stays JSON Lines
    assert json.loads(path.read_text()) == {"instruction": "i2", "input": "", "output": "o"}
    as_array = save_dataset(dataset, tmp_path / "new.json")
    assert isinstance(json.loads(as_array.read_text()), list)
    as_lines = save_dataset(dataset, tmp_path / "new.jsonl")
    assert len(as_lines.read_text().splitlines()) == 1
    forced = save_dataset(dataset, tmp_path / "forced.jsonl", json_array=True)
    assert forced.read_text().startswith("[")
    empty = save_dataset(Dataset(), tmp_path / "empty.json", "alpaca")
    assert json.loads(empty.read_text()) == []


def test_import_source_is_not_written_back_into_its_own_file(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    shutil.copy(fixture("alpaca.jsonl"), path)
    dataset = load_dataset(path)
    assert dataset.records[0].data["source"] == "a.jsonl"
    data = dict(dataset.records[0].data)
    data["messages"] = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]
    dataset.records[0].set_data(data)
    save_dataset(dataset)
    assert json.loads(path.read_text().splitlines()[0]) == {
        "instruction": "x",
        "input": "",
        "output": "y",
    }
    converted = save_dataset(dataset, tmp_path / "chat.jsonl", "chat")
    assert jsonl(converted)[0]["source"] == "a.jsonl"


def test_csv_source_column_of_its_own_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("user,assistant,source\nq,a,s.csv\n", encoding="utf-8")
    dataset = load_dataset(path)
    assert dataset.records[0].source == "s.csv"
    dataset.records[0].set_data({**dataset.records[0].data, "note": "n"})
    save_dataset(dataset)
    assert path.read_text(encoding="utf-8") == "user,assistant,source,note\nq,a,s.csv,n\n"


def test_csv_edit_adding_a_column_keeps_other_rows_exact(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    shutil.copy(fixture("chat.csv"), path)
    dataset = load_dataset(path)
    dataset.records[1].set_data({**dataset.records[1].data, "note": "checked"})
    save_dataset(dataset)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("system,user,assistant,tags,x_priority,note\n")
    assert dataset.records[0].raw in text
    assert dataset.records[2].raw in text
    again = load_dataset(path)
    assert again.records[1].note == "checked"
    assert [r.messages for r in again.records] == [r.messages for r in dataset.records]


def test_lone_surrogates_in_edited_data_are_saved_escaped(tmp_path: Path) -> None:
    dataset = _dataset(_chat(("user", "bad \ud800 char"), ("assistant", "ok")))
    out = save_dataset(dataset, tmp_path / "s.jsonl", "chat")
    assert b"\\ud800" in out.read_bytes()
    assert load_dataset(out).records[0].messages[0]["content"] == "bad \ud800 char"


def test_save_needs_a_path_and_a_text_format(tmp_path: Path) -> None:
    with pytest.raises(DatasetWriteError, match="no file"):
        save_dataset(Dataset())
    with pytest.raises(DatasetWriteError, match="tabular"):
        save_dataset(Dataset(), tmp_path / "x.parquet", "parquet")
    with pytest.raises(DatasetWriteError, match="Unknown format"):
        save_dataset(Dataset(), tmp_path / "x.txt", "yaml")


def test_records_from_rows_converts_like_the_readers() -> None:
    records = records_from_rows(
        [{"instruction": "i", "output": "o"}, {"conversations": []}], "alpaca", source="t.parquet"
    )
    assert records[0].data == {
        "messages": [{"role": "user", "content": "i"}, {"role": "assistant", "content": "o"}],
        "source": "t.parquet",
    }
    assert records[0].raw is None
    assert [r.line for r in records] == [1, 2]
    csv_rows = records_from_rows([{"system": "", "user": "u", "assistant": "a"}], "csv")
    assert csv_rows[0].data == _chat(("user", "u"), ("assistant", "a"))
    assert records_from_rows([{"prompt": "p"}], "completion")[0].data == {"prompt": "p"}
    with pytest.raises(ValueError, match="Unknown row format"):
        records_from_rows([], "yaml")
    assert set(formats.TEXT_FORMATS) | set(formats.TABULAR_FORMATS) == set(FORMATS)


# ---------------------------------------------------------------- Export, backup


def test_export_openai_strips_curation_and_skips_rejected(tmp_path: Path) -> None:
    dataset = load_dataset(fixture("chat.jsonl"))
    count = export_openai(dataset, tmp_path / "openai.jsonl")
    lines = jsonl(tmp_path / "openai.jsonl")
    assert count == len(lines) == 2  # the third example is rejected
    assert set(lines[0]) == {"messages"}
    assert lines[0]["messages"][2] == {
        "role": "assistant",
        "content": "Which VPN client version do you have?",
        "weight": 0,
    }
    assert lines[1]["messages"][0] == {
        "role": "user",
        "content": "Printer on floor 3 is offline.",
        "name": "dana",
    }
    tools = [{"type": "function", "function": {"name": "reset"}}]
    with_tools = _dataset(_chat(("user", "q"), ("assistant", "a"), tools=tools, tags=["t"]))
    assert export_openai(with_tools, tmp_path / "t.jsonl") == 1
    assert jsonl(tmp_path / "t.jsonl") == [_chat(("user", "q"), ("assistant", "a"), tools=tools)]
    broken = load_dataset(fixture("chat_invalid_json.jsonl"))
    assert export_openai(broken, tmp_path / "b.jsonl") == 2  # unparseable and non-object skipped
    completions = load_dataset(fixture("completion.jsonl"))
    assert export_openai(completions, tmp_path / "c.jsonl") == 2
    assert jsonl(tmp_path / "c.jsonl")[0] == _chat(
        ("user", "Reset my password"), ("assistant", "Go to help.example/password.")
    )
    with pytest.raises(DatasetWriteError, match="preference"):
        export_openai(load_dataset(fixture("preference.jsonl")), tmp_path / "p.jsonl")


def test_backup_original_is_made_once(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text("original\n")
    backup = backup_original(path)
    assert backup == tmp_path / "data.orig.jsonl"
    assert backup.read_text() == "original\n"
    path.write_text("changed\n")
    assert backup_original(path) == backup
    assert backup.read_text() == "original\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl", "data.orig.jsonl"]


# ---------------------------------------------------------------- Bad input


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetReadError, match=r"nope\.jsonl: the file does not exist"):
        load_dataset(tmp_path / "nope.jsonl")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetReadError, match="folder, not a file"):
        load_dataset(tmp_path, "chat")
    with pytest.raises(DatasetReadError, match="folder"):
        detect_format(tmp_path)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b'{"a": 1}\n\x00\x01\x02binary', "not a text file"),
        ("[]".encode("utf-16"), "UTF-16"),
    ],
)
def test_binary_file(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(content)
    with pytest.raises(DatasetReadError, match=why):
        load_dataset(path)


def test_empty_and_blank_files_give_a_warning_not_an_error(tmp_path: Path) -> None:
    dataset = load_dataset(fixture("empty.jsonl"))
    assert len(dataset) == 0
    assert [(i.code, i.severity) for i in dataset.file_issues] == [("empty_file", "warning")]
    blank = tmp_path / "blank.csv"
    blank.write_text("\n  \n\t\n")
    assert load_dataset(blank).file_issues[0].code == "empty_file"
    header_only = tmp_path / "header.csv"
    header_only.write_text("user,assistant\n")
    assert load_dataset(header_only).file_issues[0].code == "empty_file"


def test_too_large_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text('{"messages": []}\n' * 100)
    with pytest.raises(DatasetReadError, match="more than this computer can hold"):
        load_dataset(path, max_bytes=1000)
    monkeypatch.setattr(formats, "MAX_BYTES", 1000)
    assert formats.memory_limit() == 1000
    with pytest.raises(DatasetReadError, match=r"big\.jsonl.*Split it"):
        load_dataset(path)
    monkeypatch.setattr(formats, "MAX_BYTES", None)
    limit = formats.memory_limit()
    assert limit is None or limit > 1_000_000
    assert len(load_dataset(path)) == 100


def _load_as_nobody(path: Path) -> str:
    """Load ``path`` in a forked child that dropped root, and say what happened."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child process
        message = "loaded"
        try:
            os.close(read_end)
            os.setgid(65534)
            os.setuid(65534)
            load_dataset(path)
        except DatasetReadError as error:
            message = f"DatasetReadError: {error}"
        except BaseException as error:  # noqa: BLE001 - reported to the parent
            message = f"other: {error!r}"
        finally:
            os.write(write_end, message.encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as handle:
        message = handle.read().decode()
    os.waitpid(pid, 0)
    return message


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_permission_denied() -> None:
    folder = Path(tempfile.mkdtemp(prefix="ftstudio-perm-"))
    try:
        folder.chmod(0o755)
        path = folder / "secret.jsonl"
        path.write_text('{"messages": []}\n')
        path.chmod(0o000)
        if os.geteuid() == 0:  # root reads anything: try as an ordinary user
            message = _load_as_nobody(path)
            assert message.startswith("DatasetReadError"), message
            assert "secret.jsonl: permission denied" in message
        else:
            with pytest.raises(DatasetReadError, match="permission denied"):
                load_dataset(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_unknown_and_tabular_formats_are_refused_here() -> None:
    with pytest.raises(DatasetReadError, match="unknown format"):
        load_dataset(fixture("chat.jsonl"), "yaml")
    with pytest.raises(DatasetReadError, match="engine.tabular"):
        load_dataset(fixture("chat.jsonl"), "parquet")


# ---------------------------------------------------------------- Progress, cancel


def _many_lines(path: Path, count: int) -> None:
    line = json.dumps(_chat(("user", "question " * 20), ("assistant", "answer " * 40)))
    path.write_text((line + "\n") * count, encoding="utf-8")


def test_progress_is_throttled_and_reaches_the_total(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    _many_lines(path, 20_000)
    calls: list[tuple[int, int]] = []
    dataset = load_dataset(path, progress=lambda done, total: calls.append((done, total)))
    assert len(dataset) == 20_000
    size = path.stat().st_size
    assert 2 <= len(calls) <= formats.PROGRESS_CALLS + 2
    assert calls[-1] == (size, size)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


@pytest.mark.parametrize("name", ["many.jsonl", "many.csv", "many.json"])
def test_cancel_stops_a_load(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    _many_lines(tmp_path / "many.jsonl", 5_000)
    chats = load_dataset(tmp_path / "many.jsonl")
    if name != "many.jsonl":
        save_dataset(chats, path, "csv" if name.endswith(".csv") else "alpaca")
    polls: list[int] = []

    def cancel() -> bool:
        polls.append(1)
        return len(polls) >= 2

    with pytest.raises(LoadCancelled):
        load_dataset(path, cancel=cancel)
