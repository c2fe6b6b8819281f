"""The tiny local model loads, tokenises, templates and trains like a downloaded one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ftstudio.core.sample import bundled_sample_dir
from ftstudio.engine.tiny_model import (
    MARKER_FILE,
    TinyModelSpec,
    build_tiny_model,
    ensure_tiny_model,
)

CHAT = [
    {"role": "system", "content": "You are the helpdesk."},
    {"role": "user", "content": "My VPN drops every hour."},
    {"role": "assistant", "content": "Update the client, then reconnect."},
    {"role": "user", "content": "Done, still drops."},
    {"role": "assistant", "content": "Please open a ticket."},
]


def _digest(folder: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.iterdir())
    }


def test_files_are_those_of_a_hub_model_folder(tiny_model_dir: Path) -> None:
    names = {path.name for path in tiny_model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"} <= names
    assert not any(name.endswith((".bin", ".pt", ".pth", ".pkl")) for name in names)
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["model_type"] == "llama"
    assert config["architectures"] == ["LlamaForCausalLM"]


def test_same_seed_same_files_other_seed_other_weights(tiny_model_dir: Path, tmp_path) -> None:
    again = build_tiny_model(tmp_path / "again")
    assert _digest(again.path) == _digest(tiny_model_dir)
    other = build_tiny_model(tmp_path / "other", TinyModelSpec(seed=1))
    digest = _digest(other.path)
    assert digest["model.safetensors"] != _digest(tiny_model_dir)["model.safetensors"]
    assert digest["tokenizer.json"] == _digest(tiny_model_dir)["tokenizer.json"]


def test_loads_with_auto_classes_and_generates(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    assert (
        model.config.eos_token_id
        == tokenizer.eos_token_id
        == tokenizer.convert_tokens_to_ids("<|end|>")
    )
    assert tokenizer.pad_token_id not in (tokenizer.eos_token_id, None)
    inputs = tokenizer.apply_chat_template(
        CHAT[:2], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    output = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    assert output.shape[1] > inputs["input_ids"].shape[1]


def test_chat_template_renders_every_turn(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = tokenizer.apply_chat_template(CHAT, tokenize=False)
    assert text.startswith("<s><|system|>\nYou are the helpdesk.<|end|>")
    assert text.count("<|user|>") == 2
    assert text.count("<|assistant|>") == 2
    prompt = tokenizer.apply_chat_template(CHAT[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|assistant|>\n")
    with pytest.raises(Exception, match="Unknown role"):
        tokenizer.apply_chat_template([{"role": "robot", "content": "hi"}], tokenize=False)


def test_assistant_mask_covers_answers_and_their_end_token(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    encoded = tokenizer.apply_chat_template(
        CHAT, return_assistant_tokens_mask=True, return_dict=True
    )
    ids, mask = encoded["input_ids"], encoded["assistant_masks"]
    trained = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert trained == "Update the client, then reconnect.<|end|>Please open a ticket.<|end|>"
    assert sum(mask) < len(ids) / 2  # system and user text are not trained


def test_byte_level_tokenizer_round_trips_any_text(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = "Größe 42 — ошибка 0x80070005 📎 `ipconfig /flushdns`\n\ttabs"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text
    # Trained on the sample: a domain word takes fewer tokens than its letters.
    assert len(tokenizer("password", add_special_tokens=False)["input_ids"]) < len("password")


def test_build_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        build_tiny_model(tmp_path, corpus=["a few words of text"])
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="corpus was empty"):
        build_tiny_model(tmp_path / "model", corpus=[])
    assert list(tmp_path.iterdir()) == []


def test_ensure_builds_once_and_replaces_an_incomplete_folder(tmp_path: Path) -> None:
    target = tmp_path / "tiny"
    target.mkdir()
    (target / "config.json").write_text("{}")  # half-written by an interrupted older build
    ensure_tiny_model(target)
    assert (target / MARKER_FILE).is_file()
    stamp = (target / "model.safetensors").stat().st_mtime_ns
    ensure_tiny_model(target)
    assert (target / "model.safetensors").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_sample_project_trains_offline_on_the_tiny_model(tiny_model_dir: Path, tmp_path) -> None:
    """A few LoRA steps with assistant-only loss on the sample data lower the loss."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    rows = [
        json.loads(line)
        for line in (bundled_sample_dir() / "datasets" / "it_support.jsonl")
        .read_text()
        .splitlines()
        if line.strip()
    ]
    dataset = Dataset.from_list([{"messages": row["messages"]} for row in rows])
    losses: list[float] = []

    class Recorder(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001, ANN201
            if logs and "loss" in logs:
                losses.append(logs["loss"])

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(
            output_dir=str(tmp_path / "run"),
            max_steps=12,
            per_device_train_batch_size=8,
            learning_rate=1e-2,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            bf16=False,
            activation_checkpointing=False,
            assistant_only_loss=True,
            max_length=512,
            disable_tqdm=True,
            seed=0,
        ),
        train_dataset=dataset,
        processing_class=AutoTokenizer.from_pretrained(tiny_model_dir),
        peft_config=LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"]),
        callbacks=[Recorder()],
    )
    tokenizer = trainer.processing_class
    batch = trainer.data_collator([trainer.train_dataset[0]])
    trained = tokenizer.decode(batch["input_ids"][batch["labels"] != -100])
    answers = [m["content"] for m in rows[0]["messages"] if m["role"] == "assistant"]
    assert trained == "".join(f"{answer}<|end|>" for answer in answers)  # only the answers
    trainer.train()
    assert len(losses) == 12
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3


def test_concurrent_ensures_build_one_model(tmp_path: Path) -> None:
    """Two threads asking at once (preview and token count) both get the same model."""
    import threading

    target = tmp_path / "tiny"
    results: list[Path | BaseException] = []

    def ask() -> None:
        try:
            results.append(ensure_tiny_model(target))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            results.append(error)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [target, target]
    assert (target / MARKER_FILE).is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
