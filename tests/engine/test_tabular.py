"""Parquet and Arrow datasets through ``datasets``: round trips and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow as pa
import pytest

from ftstudio.core.dataset.formats import (
    DatasetReadError,
    DatasetWriteError,
    LoadCancelled,
    detect_format,
    load_dataset,
)
from ftstudio.core.dataset.records import Dataset, Record
from ftstudio.engine.tabular import load_any, load_tabular, save_any, save_tabular

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"

CHATS = [
    {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Printer offline?"},
            {"role": "assistant", "content": "Restart it.", "weight": 1},
        ],
        "tags": ["hw"],
        "x_meta": {"ticket": 7},
    },
    {
        "messages": [
            {"role": "user", "content": "Ünïcödé ✓", "name": "dana"},
            {"role": "assistant", "content": "OK", "weight": 0},
        ],
        "review": "approved",
    },
]


@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
def test_chat_round_trip(tmp_path: Path, suffix: str) -> None:
    dataset = Dataset(records=[Record(r) for r in CHATS])
    path = save_tabular(dataset, tmp_path / f"chats{suffix}")
    assert detect_format(path) == suffix[1:]
    back = load_any(path)
    assert (back.format, back.kind, back.path) == (suffix[1:], "chat", path)
    assert [r.data for r in back.records] == CHATS  # Arrow's filler nulls are dropped
    assert [r.line for r in back.records] == [1, 2]
    assert all(r.raw is None for r in back.records)
    assert not list(tmp_path.glob(".*.tmp"))
    # And on to JSON Lines and back.
    jsonl = save_any(back, tmp_path / "chats.jsonl")
    assert [json.loads(line) for line in jsonl.read_text().splitlines()] == CHATS
    again = save_any(load_dataset(jsonl), tmp_path / f"again{suffix}")
    assert [r.data for r in load_any(again).records] == CHATS


def test_rows_in_other_shapes_become_chat_records(tmp_path: Path) -> None:
    path = tmp_path / "alpaca.parquet"
    datasets.Dataset.from_list(
        [
            {"instruction": "Say hi", "input": "", "output": "Hi", "source": None},
            {"instruction": "Add", "input": "2, 3", "output": "5", "source": "mine"},
        ]
    ).to_parquet(str(path))
    back = load_tabular(path)
    assert back.kind == "chat"
    assert back.records[0].data == {
        "messages": [
            {"role": "user", "content": "Say hi"},
            {"role": "assistant", "content": "Hi"},
        ],
        "source": "alpaca.parquet",
    }
    assert back.records[1].data["source"] == "mine"
    assert back.records[1].messages[0]["content"] == "Add\n\n2, 3"


def test_completion_and_sharegpt_rows(tmp_path: Path) -> None:
    completion = tmp_path / "c.parquet"
    datasets.Dataset.from_list([{"prompt": "p", "completion": "c"}]).to_parquet(str(completion))
    loaded = load_any(completion)
    assert loaded.kind == "completion"
    assert loaded.records[0].data == {"prompt": "p", "completion": "c"}
    sharegpt = tmp_path / "s.arrow"
    rows = [{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}]
    save_tabular(Dataset(records=[Record(r) for r in rows]), sharegpt)
    chat = load_any(sharegpt)
    assert chat.records[0].messages == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "yo"},
    ]


def test_arrow_ipc_file_format_is_read(tmp_path: Path) -> None:
    path = tmp_path / "file.arrow"
    table = pa.Table.from_pylist([{"prompt": "p", "completion": "c"}])
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    assert load_any(path).records[0].data == {"prompt": "p", "completion": "c"}


def test_text_files_go_to_the_core_reader() -> None:
    loaded = load_any(DATA / "sharegpt.json")
    assert loaded.format == "sharegpt"
    assert loaded.json_array is True


def test_bad_tabular_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(DatasetReadError, match=r"broken\.parquet.*not a valid parquet file"):
        load_any(broken)
    with pytest.raises(DatasetReadError, match="does not exist"):
        load_any(tmp_path / "missing.arrow")
    save_tabular(Dataset(records=[Record(r) for r in CHATS]), tmp_path / "ok.parquet")
    with pytest.raises(DatasetReadError, match="more than this computer can hold"):
        load_any(tmp_path / "ok.parquet", max_bytes=10)
    with pytest.raises(LoadCancelled):
        load_any(tmp_path / "ok.parquet", cancel=lambda: True)
    empty = tmp_path / "empty.parquet"
    datasets.Dataset.from_dict({"messages": []}).to_parquet(str(empty))
    assert [i.code for i in load_any(empty).file_issues] == ["empty_file"]


def test_save_tabular_refuses_what_it_cannot_store(tmp_path: Path) -> None:
    unreadable = Dataset(records=[Record(CHATS[0]), Record(None, "{oops", line=4)])
    with pytest.raises(DatasetWriteError, match="lines 4"):
        save_tabular(unreadable, tmp_path / "x.parquet")
    mixed = Dataset(records=[Record({"messages": "text"}), Record({"messages": [{"a": 1}]})])
    with pytest.raises(DatasetWriteError, match="same type in every example"):
        save_tabular(mixed, tmp_path / "y.parquet")
    with pytest.raises(DatasetWriteError, match=".parquet or .arrow"):
        save_tabular(Dataset(), tmp_path / "z.txt")
    assert not (tmp_path / "x.parquet").exists()
    assert not (tmp_path / "y.parquet").exists()


def test_progress_reaches_the_row_count(tmp_path: Path) -> None:
    path = save_tabular(Dataset(records=[Record(CHATS[0])] * 25), tmp_path / "p.parquet")
    calls: list[tuple[int, int]] = []
    load_tabular(path, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (25, 25)
