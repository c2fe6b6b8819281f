"""Training data: the studio's loss mask on real examples, exclusions, the split, cutting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftstudio.core.dataset.split import assign_split, save_split
from ftstudio.core.runs import RunPaths
from ftstudio.engine.chat_mask import IGNORE_INDEX, ChatTemplateTokenizer, load_tokenizer
from ftstudio.engine.training.data import (
    TrainingDataError,
    file_sha256,
    prepare_data,
    write_example_files,
)
from tests.engine.test_chat_mask import BY_NAME, build_tokenizer
from tests.tiny import sample_lines, write_dataset

MULTI_TURN = 2
"""Index of a sample conversation with a system prompt and two exchanges."""


@pytest.fixture(scope="module")
def tiny_encoder(tiny_model_dir: Path) -> ChatTemplateTokenizer:
    return ChatTemplateTokenizer(load_tokenizer(tiny_model_dir))


def prepare(path: Path, encoder: ChatTemplateTokenizer, **options):  # noqa: ANN003, ANN201
    settings = {"max_length": 4096, "val_fraction": 0.0, "seed": 0} | options
    return prepare_data(path, encoder, **settings)


def segments(tokens: list[str], ids: list[int], roles: dict[str, str], end: str):  # noqa: ANN201
    """(role, [positions]) of each turn: from its role token to its end-of-turn token."""
    found, role, positions = [], None, []
    for position, token in enumerate(tokens):
        if token in roles:
            role, positions = roles[token], []
        if role is not None:
            positions.append(position)
        if token == end and role is not None:
            found.append((role, positions))
            role = None
    return found


def test_the_mask_on_a_real_conversation(tmp_path: Path, tiny_encoder) -> None:  # noqa: ANN001
    """Every answer and its end-of-turn token carry loss; system and user text never; one BOS."""
    line = sample_lines(MULTI_TURN + 1)[MULTI_TURN]
    path = write_dataset(tmp_path / "one.jsonl", [line])
    example = prepare(path, tiny_encoder).train[0]
    tokenizer = tiny_encoder.tokenizer
    tokens = tokenizer.convert_ids_to_tokens(example.input_ids)
    ids, labels = example.input_ids, example.labels
    assert ids.count(tokenizer.bos_token_id) == 1
    assert ids[0] == tokenizer.bos_token_id
    assert labels[0] == IGNORE_INDEX
    roles = {"<|system|>": "system", "<|user|>": "user", "<|assistant|>": "assistant"}
    turns = segments(tokens, ids, roles, "<|end|>")
    assert [role for role, _ in turns] == ["system", "user", "assistant", "user", "assistant"]
    for role, positions in turns:
        end = positions[-1]
        assert tokens[end] == "<|end|>"
        if role == "assistant":
            header = positions[:2]  # <|assistant|> and the newline the template writes
            assert [labels[p] for p in header] == [IGNORE_INDEX, IGNORE_INDEX]
            assert [labels[p] for p in positions[2:]] == [ids[p] for p in positions[2:]]
            assert labels[end] == tokenizer.eos_token_id  # the model learns to stop
        else:
            assert all(labels[p] == IGNORE_INDEX for p in positions)
    covered = {p for _, positions in turns for p in positions} | {0}
    assert covered == set(range(len(ids)))


def test_the_guide_recipe_masks_every_eos(tiny_model_dir: Path) -> None:
    """The contrast: pad = eos with the language-modelling collator never trains stopping."""
    from transformers import DataCollatorForLanguageModeling

    tokenizer = load_tokenizer(tiny_model_dir)
    tokenizer.pad_token = tokenizer.eos_token
    data = json.loads(sample_lines(1)[0])
    text = tokenizer.apply_chat_template(data["messages"], tokenize=False)
    ids = tokenizer(text)["input_ids"]
    batch = DataCollatorForLanguageModeling(tokenizer, mlm=False)([{"input_ids": ids}])
    eos = [i for i, token in enumerate(ids) if token == tokenizer.eos_token_id]
    assert eos
    assert all(batch["labels"][0][i] == IGNORE_INDEX for i in eos)


def test_a_template_without_generation_markers(tmp_path: Path) -> None:
    """Llama 3's real template (no {% generation %}, a tokenizer that adds BOS itself)."""
    family = BY_NAME["llama3"]
    tokenizer = build_tokenizer(family)
    assert "{% generation %}" not in tokenizer.chat_template
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Is the printer on?"},
        {"role": "assistant", "content": "Yes."},
        {"role": "user", "content": "Restart it."},
        {"role": "assistant", "content": "The printer is offline now."},
    ]
    path = write_dataset(tmp_path / "chat.jsonl", [{"messages": messages}])
    example = prepare(path, ChatTemplateTokenizer(tokenizer)).train[0]
    ids, labels = example.input_ids, example.labels
    assert ids.count(tokenizer.convert_tokens_to_ids(family.bos)) == 1
    eot = tokenizer.convert_tokens_to_ids(family.end_of_turn)
    ends = [i for i, token in enumerate(ids) if token == eot]
    assert len(ends) == 5  # one per turn
    assert [labels[i] == eot for i in ends] == [False, False, True, False, True]
    trained = tokenizer.decode([t for t, label in zip(ids, labels, strict=True) if label >= 0])
    assert trained == "Yes.<|eot_id|>The printer is offline now.<|eot_id|>"


def test_weight_0_turns_and_completions(tmp_path: Path, tiny_encoder) -> None:  # noqa: ANN001
    tokenizer = tiny_encoder.tokenizer
    chat = {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Old answer", "weight": 0},
            {"role": "user", "content": "Again"},
            {"role": "assistant", "content": "New answer"},
        ]
    }
    example = prepare(write_dataset(tmp_path / "w.jsonl", [chat]), tiny_encoder).train[0]
    trained = [t for t, label in zip(example.input_ids, example.labels, strict=True) if label >= 0]
    assert tokenizer.decode(trained) == "New answer<|end|>"
    completion = {"prompt": "Reset the printer:", "completion": " hold the button."}
    path = write_dataset(tmp_path / "c.jsonl", [completion])
    example = prepare(path, tiny_encoder).train[0]
    trained = [t for t, label in zip(example.input_ids, example.labels, strict=True) if label >= 0]
    assert tokenizer.decode(trained) == " hold the button.<|end|>"


def test_rejected_and_broken_examples_are_left_out(tmp_path: Path, tiny_encoder) -> None:  # noqa: ANN001
    lines = sample_lines(6)
    rejected = json.loads(lines[1]) | {"review": "rejected"}
    no_answer = {"messages": [{"role": "user", "content": "Anyone there?"}]}
    rows = [lines[0], rejected, "{not json", no_answer, lines[2]]
    data = prepare(write_dataset(tmp_path / "d.jsonl", rows), tiny_encoder)
    assert [e.index for e in data.train] == [0, 4]
    assert [e.line for e in data.train] == [1, 5]
    assert data.excluded == {"rejected": 1, "unreadable": 1, "errors": 1}
    assert [issue.line for issue in data.issues] == [4]
    assert any("line 4" in note for note in data.notes)


def test_nothing_to_train_is_a_plain_error(tmp_path: Path, tiny_encoder) -> None:  # noqa: ANN001
    rows = [json.loads(line) | {"review": "rejected"} for line in sample_lines(3)]
    with pytest.raises(TrainingDataError, match="no example can train.*3 rejected"):
        prepare(write_dataset(tmp_path / "r.jsonl", rows), tiny_encoder)
    with pytest.raises(TrainingDataError, match="does not exist|cannot"):
        prepare(tmp_path / "missing.jsonl", tiny_encoder)


def test_the_validation_split_comes_from_the_dataset(tmp_path: Path, tiny_encoder) -> None:  # noqa: ANN001
    path = write_dataset(tmp_path / "s.jsonl", sample_lines(24))
    assigned = prepare(path, tiny_encoder, val_fraction=0.25, seed=3)
    assert assigned.split_source == "assigned"
    assert assigned.val
    assert len(assigned.train) + len(assigned.val) == 24
    from ftstudio.engine.tabular import load_any

    stored = assign_split(load_any(path), 0.5, seed=7)
    save_split(path, stored)
    data = prepare(path, tiny_encoder, val_fraction=0.25, seed=3)
    assert data.split_source == "stored"
    assert [e.index for e in data.val] == list(stored.val)
    assert any("stored split" in note for note in data.notes)
    none = prepare(path, tiny_encoder, val_fraction=0.0)
    assert (none.split_source, none.val, len(none.train)) == ("none", [], 24)


def test_long_examples_are_cut_or_left_out(tmp_path: Path, tiny_encoder) -> None:  # noqa: ANN001
    long_question = {
        "messages": [
            {"role": "user", "content": "word " * 300},
            {"role": "assistant", "content": "Short answer."},
        ]
    }
    long_answer = {
        "messages": [
            {"role": "user", "content": "Explain."},
            {"role": "assistant", "content": "step " * 300},
        ]
    }
    path = write_dataset(tmp_path / "long.jsonl", [long_question, long_answer])
    data = prepare(path, tiny_encoder, max_length=64)
    assert [e.index for e in data.train] == [1]  # no trained token of example 0 fits
    assert data.issues[0].code == "too_long"
    cut = data.train[0]
    assert len(cut.input_ids) == len(cut.labels) == 64
    assert cut.cut > 0
    assert any("cut" in note for note in data.notes)


def test_the_run_gets_exact_copies(tmp_path: Path, tiny_encoder) -> None:  # noqa: ANN001
    lines = sample_lines(12)
    path = write_dataset(tmp_path / "exact.jsonl", lines)
    data = prepare(path, tiny_encoder, val_fraction=0.3, seed=1)
    paths = RunPaths(tmp_path / "run")
    write_example_files(data, paths)
    train = paths.train_file.read_text(encoding="utf-8").splitlines()
    val = paths.val_file.read_text(encoding="utf-8").splitlines()
    assert train == [lines[e.index] for e in data.train]
    assert val == [lines[e.index] for e in data.val]
    assert sorted(train + val) == sorted(lines)
    assert data.dataset_sha256 == file_sha256(path)
    assert data.rows("train")[0] == {
        "input_ids": data.train[0].input_ids,
        "labels": data.train[0].labels,
    }
