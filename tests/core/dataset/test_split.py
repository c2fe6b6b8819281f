"""Train/validation split: seeded, stratified by tag, stable under appending, stored."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from ftstudio.core.dataset.records import Dataset, Issue, Record
from ftstudio.core.dataset.split import (
    SplitFileError,
    assign_split,
    example_key,
    load_split,
    save_split,
    split_path,
)


def example(n: int, tag: str | None = None, **extra: Any) -> Record:
    data: dict[str, Any] = {
        "messages": [
            {"role": "user", "content": f"Question number {n}?"},
            {"role": "assistant", "content": f"Answer {n}."},
        ],
        **extra,
    }
    if tag:
        data["tags"] = [tag]
    return Record(data=data, line=n + 1)


def corpus(count: int, start: int = 0) -> list[Record]:
    tags = ["billing", "network", "accounts", None]
    return [example(n, tags[n % 4]) for n in range(start, start + count)]


def test_same_seed_same_split_other_seed_other_split() -> None:
    data = Dataset(records=corpus(400))
    first = assign_split(data, 0.2, seed=0)
    assert assign_split(data, 0.2, seed=0) == first
    other = assign_split(data, 0.2, seed=1)
    assert other.val != first.val
    assert sorted(first.train + first.val) == list(range(400))


def test_proportion_is_close_to_the_fraction_in_every_tag() -> None:
    data = Dataset(records=corpus(800))
    split = assign_split(data, 0.2, seed=3)
    assert set(split.strata) == {"", "accounts", "billing", "network"}
    for name, (train, val) in split.strata.items():
        assert train + val == 200, name
        assert abs(val / 200 - 0.2) < 0.06, (name, val)
    assert abs(len(split.val) / 800 - 0.2) < 0.03


def test_appending_examples_keeps_every_earlier_assignment() -> None:
    before = corpus(300)
    old = assign_split(Dataset(records=before), 0.15, seed=7)
    added = corpus(300, start=1000)
    random.Random(0).shuffle(added)
    # New examples both after and between the old ones; different order, same examples.
    mixed = before[:100] + added[:150] + before[100:] + added[150:]
    new = assign_split(Dataset(records=mixed), 0.15, seed=7)
    old_val = {old.keys[i] for i in old.val}
    new_val = {new.keys[i] for i in new.val}
    old_keys = {old.keys[i] for i in old.train + old.val}
    assert new_val & old_keys == old_val
    assert len(new_val - old_keys) > 0  # the new examples got validation members too


def test_rejected_and_unparseable_are_excluded() -> None:
    broken = Record(
        data=None, raw="{", line=5, parse_error=Issue(5, "invalid_json", "error", "", "bad")
    )
    records = [*corpus(10), example(50, review="rejected"), broken]
    split = assign_split(Dataset(records=records), 0.3, seed=0)
    assert split.excluded == (10, 11)
    assert split.keys[10] == split.keys[11] == ""
    assert sorted(split.train + split.val) == list(range(10))


def test_example_key_uses_id_then_normalised_first_exchange() -> None:
    assert example_key(example(1, id="abc")) == "id:abc"
    assert example_key(example(1, id=7)) == "id:7"
    plain = example(1)
    edited = example(1, tag="new")
    edited.data["messages"][0]["content"] = "  question NUMBER 1 "
    edited.data["messages"].append({"role": "user", "content": "And later turns?"})
    assert example_key(plain) == example_key(edited)
    assert example_key(plain) != example_key(example(2))
    completion = Record(data={"prompt": "p", "completion": "c"})
    pair = Record(
        data={
            "prompt": [{"role": "user", "content": "p"}],
            "chosen": [{"role": "assistant", "content": "c"}],
            "rejected": [{"role": "assistant", "content": "x"}],
        }
    )
    assert example_key(completion) == example_key(pair)


def test_copies_land_on_the_same_side() -> None:
    records = [example(n % 20) for n in range(200)]
    split = assign_split(Dataset(records=records), 0.5, seed=0)
    val_keys = {split.keys[i] for i in split.val}
    train_keys = {split.keys[i] for i in split.train}
    assert not val_keys & train_keys


def test_without_stratify_tags_are_ignored() -> None:
    split = assign_split(Dataset(records=corpus(40)), 0.25, seed=0, stratify=False)
    assert list(split.strata) == [""]


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_fraction_must_be_between_zero_and_one(fraction: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        assign_split(Dataset(records=corpus(4)), fraction, seed=0)


def test_save_and_load_beside_the_dataset(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    data = Dataset(records=corpus(100), path=path)
    assert load_split(path) is None
    split = assign_split(data, 0.1, seed=4)
    written = save_split(path, split)
    assert written == split_path(path) == tmp_path / "train.jsonl.split.json"
    stored_json = json.loads(written.read_text())
    assert stored_json["counts"] == {
        "train": len(split.train),
        "val": len(split.val),
        "excluded": 0,
    }
    stored = load_split(path)
    assert (stored.seed, stored.val_fraction, stored.stratify) == (4, 0.1, True)
    assert stored.val_keys == frozenset(split.val_keys)
    assert stored.apply(data) == split
    assert [p.name for p in tmp_path.iterdir()] == ["train.jsonl.split.json"]  # no temp files


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"ftstudio_split": 1}',
        '{"ftstudio_split": 1, "seed": 0, "val_fraction": 2, "stratify": true, "val_keys": []}',
    ],
)
def test_a_broken_split_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "data.jsonl"
    split_path(path).write_text(content)
    with pytest.raises(SplitFileError, match="data.jsonl.split.json.*split again"):
        load_split(path)
