"""ChatModel on a real trained run of the tiny model: adapters, generation, streaming, losses."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from ftstudio.core.evaluation.settings import GenerationSettings
from ftstudio.engine.chat_mask import ChatTemplateTokenizer, load_tokenizer, training_labels
from ftstudio.engine.inference import (
    ChatModel,
    IncrementalDecoder,
    InferenceError,
    list_adapters,
)

QUESTION = [
    {"role": "system", "content": "You are a helpful IT assistant."},
    {"role": "user", "content": "My printer says the paper is jammed. What do I do?"},
]
ANSWERED = [
    *QUESTION,
    {"role": "assistant", "content": "Open the front tray and gently pull the paper out."},
]
GREEDY = GenerationSettings(temperature=0.0, top_p=1.0, max_new_tokens=12, seed=0)
SAMPLED = GenerationSettings(temperature=1.0, top_p=0.95, max_new_tokens=12, seed=7)


@pytest.fixture(scope="module")
def chat(trained_run: Path) -> Iterator[ChatModel]:
    """The trained run's base model with its final adapter (loading writes nothing)."""
    model = ChatModel.load(trained_run)
    yield model
    model.close()


def manual_loss(model: torch.nn.Module, tokenizer: Any, messages: list[dict]) -> tuple[float, int]:
    """Summed -log p of the trained tokens, from the model's logits, token by token."""
    example = ChatTemplateTokenizer(tokenizer).tokenize_example({"messages": messages})
    labels = training_labels(example)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([example.ids])).logits[0]
    log_probs = torch.log_softmax(logits.double(), dim=-1)
    total, count = 0.0, 0
    for position in range(1, len(labels)):
        if labels[position] != -100:
            total -= float(log_probs[position - 1, labels[position]])
            count += 1
    return total, count


# ---------------------------------------------------------------- adapters


def test_list_adapters_puts_the_final_adapter_first_then_checkpoints_newest_first(
    trained_run: Path,
) -> None:
    choices = list_adapters(trained_run)
    assert [(c.kind, c.step) for c in choices] == [
        ("adapter", None),
        ("checkpoint", 6),
        ("checkpoint", 3),
    ]
    assert choices[0].path == trained_run / "adapter"
    assert choices[0].label == "Final adapter"
    assert choices[1].path == trained_run / "checkpoint-6"
    assert choices[2].label == "Checkpoint at step 3"


def test_list_adapters_of_a_folder_without_any_is_empty(tmp_path: Path) -> None:
    assert list_adapters(tmp_path) == []


def test_load_uses_the_final_adapter_on_the_runs_base_model(
    chat: ChatModel, trained_run: Path
) -> None:
    assert chat.has_tuned
    assert chat.adapter == trained_run / "adapter"
    assert chat.run_dir == trained_run
    assert chat.device == "cpu"
    assert chat.dtype == torch.float32
    assert chat.max_length == 256  # the run's max_length: losses are cut as in training


def test_a_checkpoint_loads_and_differs_from_the_final_adapter(
    chat: ChatModel, trained_run: Path
) -> None:
    early = ChatModel.load(trained_run, trained_run / "checkpoint-3")
    try:
        assert early.adapter == trained_run / "checkpoint-3"
        assert early.answer_loss(ANSWERED, tuned=False) == pytest.approx(
            chat.answer_loss(ANSWERED, tuned=False), rel=1e-6
        )  # the same base model
        assert early.answer_loss(ANSWERED, tuned=True)[0] != pytest.approx(
            chat.answer_loss(ANSWERED, tuned=True)[0], rel=1e-4
        )
    finally:
        early.close()


def test_a_pickled_adapter_is_refused(trained_run: Path, tmp_path: Path) -> None:
    pickled = tmp_path / "adapter"
    shutil.copytree(trained_run / "adapter", pickled)
    (pickled / "adapter_model.safetensors").rename(pickled / "adapter_model.bin")
    with pytest.raises(InferenceError, match="pickled adapter"):
        ChatModel.load(trained_run, pickled)


def test_a_full_fine_tuning_run_loads_its_model_folder_as_the_tuned_side(
    trained_run: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM

    shutil.copytree(trained_run.parent.parent, tmp_path / "project")
    run = tmp_path / "project" / "runs" / trained_run.name
    shutil.rmtree(run / "adapter")
    tuned = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    with torch.no_grad():
        tuned.lm_head.weight.mul_(1.5)
    tuned.save_pretrained(run / "model")
    assert list_adapters(run)[0].kind == "model"
    model = ChatModel.load(run)
    try:
        assert model.adapter == run / "model"
        assert model.has_tuned
        plain = ChatModel.load_base(str(tiny_model_dir))
        try:
            base_loss = plain.answer_loss(ANSWERED, tuned=False)
        finally:
            plain.close()
        assert model.answer_loss(ANSWERED, tuned=False) == pytest.approx(base_loss, rel=1e-6)
        assert model.answer_loss(ANSWERED, tuned=True)[0] != pytest.approx(base_loss[0], rel=1e-3)
    finally:
        model.close()
    (run / "model" / "model.safetensors").rename(run / "model" / "pytorch_model.bin")
    with pytest.raises(InferenceError, match="no safetensors"):
        ChatModel.load(run, run / "model")


def test_a_folder_that_is_not_a_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InferenceError, match="not a training run folder"):
        ChatModel.load(tmp_path)


# ---------------------------------------------------------------- generation


def test_greedy_answers_are_the_same_whatever_the_seed(chat: ChatModel) -> None:
    first = chat.generate(QUESTION, GREEDY, tuned=True)
    again = chat.generate(QUESTION, GREEDY, tuned=True)
    other_seed = chat.generate(
        QUESTION, GenerationSettings(temperature=0.0, max_new_tokens=12, seed=99), tuned=True
    )
    assert first
    assert first == again == other_seed


def test_sampling_with_the_same_seed_gives_the_same_answer(chat: ChatModel) -> None:
    first = chat.generate(QUESTION, SAMPLED, tuned=True)
    torch.manual_seed(12345)  # whatever ran before, the seed is set again for each answer
    again = chat.generate(QUESTION, SAMPLED, tuned=True)
    assert first == again
    others = {
        chat.generate(
            QUESTION,
            GenerationSettings(temperature=1.0, top_p=0.95, max_new_tokens=12, seed=seed),
            tuned=True,
        )
        for seed in (1, 2, 3)
    }
    assert others != {first}  # the seed matters when sampling


def test_streamed_pieces_join_to_the_answer(chat: ChatModel) -> None:
    pieces: list[str] = []
    answer = chat.generate(QUESTION, SAMPLED, tuned=True, on_text=pieces.append)
    assert len(pieces) > 1
    assert all(pieces)
    assert "".join(pieces) == answer
    assert answer == chat.generate(QUESTION, SAMPLED, tuned=True)  # streaming changes nothing


def test_cancel_stops_after_the_current_token(chat: ChatModel) -> None:
    full = chat.generate(QUESTION, GREEDY, tuned=True)
    full_tokens = len(chat.tokenizer(full, add_special_tokens=False)["input_ids"])
    assert full_tokens > 3
    pieces: list[str] = []
    answer = chat.generate(
        QUESTION, GREEDY, tuned=True, on_text=pieces.append, cancel=lambda: bool(pieces)
    )
    assert answer == "".join(pieces)
    assert full.startswith(answer)
    assert len(chat.tokenizer(answer, add_special_tokens=False)["input_ids"]) <= 2
    assert chat.generate(QUESTION, GREEDY, tuned=True, cancel=lambda: True) == ""


def test_base_and_tuned_sides_differ_and_the_base_side_is_the_plain_base_model(
    chat: ChatModel, tiny_model_dir: Path
) -> None:
    tuned = chat.answer_loss(ANSWERED, tuned=True)
    base = chat.answer_loss(ANSWERED, tuned=False)
    assert tuned[1] == base[1] > 0
    assert tuned[0] != pytest.approx(base[0], rel=1e-4)
    plain = ChatModel.load_base(str(tiny_model_dir))
    try:
        assert not plain.has_tuned
        assert plain.answer_loss(ANSWERED, tuned=False) == pytest.approx(base, rel=1e-5)
        assert plain.generate(QUESTION, GREEDY, tuned=False) == chat.generate(
            QUESTION, GREEDY, tuned=False
        )
        with pytest.raises(InferenceError, match="Only the base model"):
            plain.generate(QUESTION, GREEDY, tuned=True)
    finally:
        plain.close()
    # The adapter is switched back on after a base answer.
    assert chat.answer_loss(ANSWERED, tuned=True) == pytest.approx(tuned, rel=1e-6)


def test_answer_loss_matches_the_models_logits(
    chat: ChatModel, trained_run: Path, tiny_model_dir: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(tiny_model_dir)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    expected_base = manual_loss(base, tokenizer, ANSWERED)
    tuned = PeftModel.from_pretrained(base, str(trained_run / "adapter")).eval()
    expected_tuned = manual_loss(tuned, tokenizer, ANSWERED)
    assert chat.answer_loss(ANSWERED, tuned=False) == pytest.approx(expected_base, rel=1e-5)
    assert chat.answer_loss(ANSWERED, tuned=True) == pytest.approx(expected_tuned, rel=1e-5)


def test_an_assistant_turn_with_weight_0_is_not_counted(chat: ChatModel) -> None:
    _, answer_tokens = chat.answer_loss(ANSWERED, tuned=True)
    two_turns = [
        *QUESTION,
        {"role": "assistant", "content": "Which printer is it?", "weight": 0},
        {"role": "user", "content": "The one on the second floor."},
        ANSWERED[-1],
    ]
    _, counted = chat.answer_loss(two_turns, tuned=True)
    assert counted == answer_tokens


# ---------------------------------------------------------------- incremental decoding


def test_incremental_decoder_never_splits_a_character(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    text = "Grüße aus Köln: 東京 🙂 naïve café, ½ € ✓"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) > len(text.split())  # byte-level pieces: characters span several tokens
    decoder = IncrementalDecoder(tokenizer)
    pieces = [decoder.push([token]) for token in ids]
    pieces.append(decoder.flush())
    assert "".join(pieces) == text == decoder.text
    assert not any("\ufffd" in piece for piece in pieces)
    assert "" in pieces[:-1]  # some tokens were held back until their character completed
    assert "東" in pieces or any(piece.endswith("東") for piece in pieces)


def test_incremental_decoder_skips_special_tokens(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    ids = tokenizer("Hello there", add_special_tokens=False)["input_ids"]
    decoder = IncrementalDecoder(tokenizer)
    out = "".join(decoder.push([token]) for token in [*ids, tokenizer.eos_token_id])
    assert out + decoder.flush() == "Hello there"
