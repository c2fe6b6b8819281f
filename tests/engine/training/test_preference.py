"""DPO's preference pairs: exclusions, the split, the shapes trl gets, the run's copies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ftstudio.core.paths import resource
from ftstudio.core.runs import RunPaths
from ftstudio.engine.chat_mask import ChatTemplateTokenizer, load_tokenizer
from ftstudio.engine.training.data import TrainingDataError, write_example_files
from ftstudio.engine.training.preference import prepare_preferences
from tests.tiny import sample_lines, write_dataset

PAIRS = resource("sample_project", "datasets", "preferences.jsonl")


def sample_pairs(count: int) -> list[str]:
    """The first ``count`` lines of the bundled sample preference pairs."""
    return PAIRS.read_text(encoding="utf-8").splitlines()[:count]


def bad_pairs() -> list[dict[str, Any]]:
    """A rejected-review pair, identical answers, and a prompt ending with the assistant."""
    good = json.loads(sample_pairs(1)[0])
    rejected = {**good, "review": "rejected"}
    identical = {**good, "rejected": good["chosen"]}
    wrong_order = {**good, "prompt": [*good["prompt"], {"role": "assistant", "content": "Hm."}]}
    return [rejected, identical, wrong_order]


@pytest.fixture(scope="module")
def tiny_encoder(tiny_model_dir: Path) -> ChatTemplateTokenizer:
    return ChatTemplateTokenizer(load_tokenizer(tiny_model_dir))


def prepare(path: Path, encoder: ChatTemplateTokenizer, **options: Any):  # noqa: ANN201
    settings = {"max_length": 4096, "val_fraction": 0.0, "seed": 0} | options
    return prepare_preferences(path, encoder, **settings)


def test_bad_pairs_are_left_out_and_counted(tmp_path: Path, tiny_encoder) -> None:  # noqa: ANN001
    path = write_dataset(tmp_path / "prefs.jsonl", [*sample_pairs(4), *bad_pairs()])
    data = prepare(path, tiny_encoder)
    assert [pair.line for pair in data.train] == [1, 2, 3, 4]
    assert data.excluded == {"rejected": 1, "errors": 2}
    assert {issue.code for issue in data.issues} == {"identical_preference", "role_order"}
    assert any("2 example(s) with errors are left out" in note for note in data.notes)
    # Conversational pairs reach trl as messages of role and content only.
    row = data.rows("train")[0]
    source = json.loads(sample_pairs(1)[0])
    assert set(row) == {"prompt", "chosen", "rejected"}
    assert row["prompt"] == source["prompt"]
    assert row["chosen"] == source["chosen"]
    assert data.conversational
    # Both answers with their prompt are counted.
    first = data.train[0]
    alone = tiny_encoder.tokenize_example({"prompt": source["prompt"], "chosen": source["chosen"]})
    assert first.tokens > len(alone.ids)
    assert data.train_tokens == sum(pair.tokens for pair in data.train)


def test_the_split_and_the_run_copies(tmp_path: Path, tiny_encoder) -> None:  # noqa: ANN001
    lines = [*sample_pairs(12), *(json.dumps(p) for p in bad_pairs())]
    path = write_dataset(tmp_path / "prefs.jsonl", lines)
    data = prepare(path, tiny_encoder, val_fraction=0.25, seed=3)
    assert data.split_source == "assigned"
    assert data.val
    assert len(data.train) + len(data.val) == 12
    paths = RunPaths(tmp_path / "run")
    paths.root.mkdir()
    paths.data_dir.mkdir()
    write_example_files(data, paths)
    train = paths.train_file.read_text(encoding="utf-8").splitlines()
    val = paths.val_file.read_text(encoding="utf-8").splitlines()
    assert sorted(train + val) == sorted(lines[:12])  # byte for byte; the bad ones left out


def test_text_pairs_stay_text_and_a_mixed_file_trains_as_chats(
    tmp_path: Path,
    tiny_encoder,  # noqa: ANN001
) -> None:
    text = {"prompt": "How do I reset my password?", "chosen": "Use the portal.", "rejected": "No."}
    path = write_dataset(tmp_path / "text.jsonl", [text, {**text, "chosen": "Ask IT."}])
    data = prepare(path, tiny_encoder)
    assert not data.conversational
    assert data.rows("train")[0] == text
    mixed = write_dataset(tmp_path / "mixed.jsonl", [sample_pairs(1)[0], text])
    data = prepare(mixed, tiny_encoder)
    assert data.conversational
    assert data.rows("train")[1] == {
        "prompt": [{"role": "user", "content": text["prompt"]}],
        "chosen": [{"role": "assistant", "content": text["chosen"]}],
        "rejected": [{"role": "assistant", "content": text["rejected"]}],
    }
    assert any("1 plain-text pair(s) are trained as conversations" in n for n in data.notes)


def test_long_pairs_are_noted(tmp_path: Path, tiny_encoder) -> None:  # noqa: ANN001
    path = write_dataset(tmp_path / "prefs.jsonl", sample_pairs(3))
    data = prepare(path, tiny_encoder, max_length=160)
    assert data.cut_examples == 3
    assert any("longer than the max length of 160" in note for note in data.notes)


def test_chat_examples_are_not_preference_pairs(tmp_path: Path, tiny_encoder) -> None:  # noqa: ANN001
    path = write_dataset(tmp_path / "chats.jsonl", sample_lines(3))
    with pytest.raises(TrainingDataError, match="holds chat examples, but DPO"):
        prepare(path, tiny_encoder)
    only_bad = write_dataset(tmp_path / "bad.jsonl", bad_pairs())
    with pytest.raises(TrainingDataError, match="no example can train"):
        prepare(only_bad, tiny_encoder)
