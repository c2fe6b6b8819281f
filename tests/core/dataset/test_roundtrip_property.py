"""Property: any dataset that loads saves back to the same records, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftstudio.core.dataset.formats import load_dataset, render_dataset, save_dataset
from ftstudio.core.dataset.records import Dataset, Record

# Any text but line breaks, NUL (a NUL makes the file binary) and a leading BOM.
_LINE_TEXT = st.characters(exclude_characters="\n\r\x00\ufeff", exclude_categories=("Cs",))
_ANY_TEXT = st.characters(exclude_categories=("Cs",))

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
_unknown_keys = st.dictionaries(
    st.text(min_size=1).filter(lambda k: k not in ("messages", "role", "content")),
    _json_values,
    max_size=3,
)


@st.composite
def _message(draw: st.DrawFn) -> dict:
    message = {
        "role": draw(st.sampled_from(["system", "user", "assistant", "tool", "x"])),
        "content": draw(st.text(_ANY_TEXT)),
    }
    if draw(st.booleans()):
        message["weight"] = draw(st.sampled_from([0, 1]))
    message.update(draw(_unknown_keys))
    return message


@st.composite
def _chat_line(draw: st.DrawFn) -> bytes:
    record = {"messages": draw(st.lists(_message(), max_size=4))}
    record.update(draw(_unknown_keys))
    text = json.dumps(
        record,
        ensure_ascii=draw(st.booleans()),
        separators=draw(st.sampled_from([(", ", ": "), (",", ":")])),
    )
    return text.encode()


_garbage_text = st.text(_LINE_TEXT, min_size=1).map(str.encode)
_garbage_bytes = st.binary(min_size=1, max_size=40).filter(
    lambda b: (
        b"\n" not in b
        and b"\x00" not in b
        and not b.endswith(b"\r")  # "\r\n" is a line ending
        and not b.startswith(b"\xef\xbb\xbf")
    )
)
_blank = st.sampled_from([b"", b"   ", b"\t"])
_lines = st.lists(
    st.one_of(_chat_line(), _garbage_text, _garbage_bytes, _blank), min_size=0, max_size=12
)


def _is_blank(line: bytes) -> bool:
    return not line.strip(b" \t")


def _expected_data(line: bytes) -> object:
    try:
        return json.loads(line.decode())
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def _snapshot(dataset: Dataset) -> list[tuple]:
    return [(r.raw, r.data, r.parse_error.code if r.parse_error else None) for r in dataset.records]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=_lines, crlf=st.booleans(), bom=st.booleans(), final_newline=st.booleans())
def test_jsonl_load_save_load_keeps_every_record(
    tmp_path: Path, lines: list[bytes], crlf: bool, bom: bool, final_newline: bool
) -> None:
    end = b"\r\n" if crlf else b"\n"
    content = (b"\xef\xbb\xbf" if bom else b"") + end.join(lines)
    if final_newline and lines:
        content += end
    path = tmp_path / "data.jsonl"
    path.write_bytes(content)

    first = load_dataset(path, "chat")

    kept = [(number, line) for number, line in enumerate(lines, 1) if not _is_blank(line)]
    assert [r.line for r in first.records] == [number for number, _ in kept]
    assert [r.raw.encode("utf-8", "surrogateescape") for r in first.records] == [
        line for _, line in kept
    ]
    assert [r.data for r in first.records] == [_expected_data(line) for _, line in kept]
    for record in first.records:
        if record.data is None and record.raw.strip() != "null":  # JSON null parses to None
            assert record.parse_error is not None
            assert record.parse_error.code in ("invalid_json", "encoding")
            assert record.parse_error.line == record.line

    assert first.bom == bom
    newline = first.newline.encode()
    if b"\n" in content:
        assert newline == end
    saved = save_dataset(first, tmp_path / "saved.jsonl").read_bytes()
    bom_bytes = b"\xef\xbb\xbf" if bom else b""
    assert saved == bom_bytes + b"".join(line + newline for _, line in kept)

    second = load_dataset(tmp_path / "saved.jsonl", "chat")
    assert _snapshot(second) == _snapshot(first)
    assert render_dataset(second) == saved


@st.composite
def _single_turn_chat(draw: st.DrawFn) -> dict:
    cell = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)))
    messages = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(cell.filter(bool))})
    messages.append({"role": "user", "content": draw(cell)})
    messages.append({"role": "assistant", "content": draw(cell)})
    record: dict = {"messages": messages}
    if draw(st.booleans()):
        record["tags"] = draw(st.lists(cell.filter(bool), min_size=1, max_size=3))
    # Non-empty: every CSV row has every column, so an empty cell means "no value".
    extra = draw(
        st.dictionaries(st.sampled_from(["note", "x_id", "review"]), cell.filter(bool), max_size=2)
    )
    record.update(extra)
    return record


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(chats=st.lists(_single_turn_chat(), min_size=1, max_size=5), crlf=st.booleans())
def test_chat_survives_csv_alpaca_and_sharegpt(
    tmp_path: Path, chats: list[dict], crlf: bool
) -> None:
    dataset = Dataset(records=[Record(c) for c in chats], newline="\r\n" if crlf else "\n")
    for name, fmt in (("c.csv", "csv"), ("a.json", "alpaca"), ("s.jsonl", "sharegpt")):
        path = save_dataset(dataset, tmp_path / name, fmt)
        back = load_dataset(path)
        assert back.format == fmt
        for got, want in zip(back.records, chats, strict=True):
            assert got.messages == want["messages"], fmt
            assert got.tags == want.get("tags", []), fmt
            assert {
                k: v for k, v in got.data.items() if k not in ("messages", "source", "tags")
            } == {k: v for k, v in want.items() if k not in ("messages", "tags")}, fmt
        # Saving what was read, unedited, reproduces the file.
        assert render_dataset(back, json_array=back.json_array) == path.read_bytes(), fmt
