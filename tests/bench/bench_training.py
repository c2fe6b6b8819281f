"""Benchmark: one epoch of ftstudio's engine against the guide's recipe (run on demand).

    python tests/bench/bench_training.py [--examples 200] [--seed 0] [--keep DIR]

Both recipes train the same small Llama (hidden 256, 4 layers, built locally), the
same LoRA (r 16, alpha 32, q/k/v/o), batch 4 × accumulation 4, one epoch, on the
same variable-length chat data: about 85 % of the examples are 100–400 tokens
long and the rest a tail up to about 1,500.

- guide: ``Trainer`` + ``DataCollatorForLanguageModeling(mlm=False)``, examples
  tokenised with ``padding="max_length"`` at 2048, ``pad_token = eos_token``.
- ftstudio: ``run_training`` (trl's SFTTrainer, padding-free, the studio's mask).

Each recipe runs in a fresh process, so its peak memory is its own: peak RSS on a
CPU, peak allocated GPU memory on CUDA. Printed for both: train() seconds for the
epoch, real (non-padding) tokens per second, peak memory, and what the guide's
recipe teaches wrongly (end-of-turn tokens without loss, doubled BOS). The ratio
is measured in the same run; the target is at least 5× faster per epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 5.0
GUIDE_LENGTH = 2048
HIDDEN, LAYERS, VOCAB = 256, 4, 2000
LORA_R, LORA_ALPHA = 16, 32
BATCH, ACCUM = 4, 4
LEARNING_RATE = 2e-4
SYSTEM = "You are the Northwind Logistics IT Helpdesk assistant. Answer briefly and clearly."


# ---------------------------------------------------------------- setup (parent process)


def build_model(folder: Path) -> Path:
    """The benchmark's Llama: 4 layers, hidden 256, a byte-level BPE tokenizer."""
    from ftstudio.engine.tiny_model import TinyModelSpec, build_tiny_model

    spec = TinyModelSpec(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        intermediate_size=688,
        num_hidden_layers=LAYERS,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=4096,
    )
    info = build_tiny_model(folder, spec)
    print(f"Model: {info.parameters / 1e6:.1f}M parameters, vocabulary {info.vocab_size}.")
    return folder


def sentences() -> list[str]:
    from ftstudio.core.sample import sample_corpus

    found = []
    for text in sample_corpus():
        found += [s.strip() + "." for s in text.replace("\n", " ").split(". ") if len(s) > 20]
    return found


def make_dataset(path: Path, model: Path, count: int, seed: int) -> dict[str, float]:
    """``count`` chat examples: 85 % of 100–400 tokens, a tail up to 1,500."""
    from ftstudio.engine.chat_mask import load_tokenizer

    tokenizer = load_tokenizer(model)
    pool = sentences()
    rng = random.Random(seed)
    lengths = []
    with path.open("w", encoding="utf-8") as handle:
        for _ in range(count):
            target = rng.randint(100, 400) if rng.random() < 0.85 else rng.randint(400, 1500)
            question = " ".join(rng.sample(pool, 2))
            answer: list[str] = []
            while True:
                messages = [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": " ".join(answer)},
                ]
                size = len(tokenizer.apply_chat_template(messages, tokenize=True)["input_ids"])
                if size >= target:
                    break
                answer.append(rng.choice(pool))
            lengths.append(size)
            handle.write(json.dumps({"messages": messages}) + "\n")
    lengths.sort()
    return {
        "examples": count,
        "p50": lengths[len(lengths) // 2],
        "p90": lengths[int(len(lengths) * 0.9)],
        "max": lengths[-1],
        "tokens": sum(lengths),
    }


# ---------------------------------------------------------------- the two recipes (children)


def run_guide(model: Path, data: Path, out: Path) -> dict[str, Any]:
    """The guide's recipe, as written (its mistakes included)."""
    import datasets
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    gpu = torch.cuda.is_available()
    tokenizer = AutoTokenizer.from_pretrained(model)
    tokenizer.pad_token = tokenizer.eos_token  # the guide: pad = eos
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    texts = [tokenizer.apply_chat_template(r["messages"], tokenize=False) for r in rows]
    encoded = tokenizer(texts, padding="max_length", truncation=True, max_length=GUIDE_LENGTH)
    dataset = datasets.Dataset.from_dict(dict(encoded))
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    real_tokens = sum(sum(mask) for mask in encoded["attention_mask"])
    # What the recipe teaches: EOS tokens with loss, examples with two BOS tokens.
    eos, bos = tokenizer.eos_token_id, tokenizer.bos_token_id
    labels = collator([dataset[i] for i in range(min(len(dataset), 64))])["labels"]
    ids = [dataset[i]["input_ids"] for i in range(min(len(dataset), 64))]
    real_eos = sum(
        sum(1 for t, m in zip(row, mask, strict=True) if t == eos and m)
        for row, mask in zip(ids, encoded["attention_mask"][:64], strict=True)
    )
    trained_eos = int((labels == eos).sum())
    double_bos = sum(1 for row in ids if row[:2] == [bos, bos])
    base = AutoModelForCausalLM.from_pretrained(
        model, dtype=torch.bfloat16 if gpu else torch.float32
    )
    lora = LoraConfig(
        r=LORA_R,
        lora_alpha=LORA_ALPHA,
        lora_dropout=0.05,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(base, lora)
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=BATCH,
        gradient_accumulation_steps=ACCUM,
        learning_rate=LEARNING_RATE,
        num_train_epochs=1,
        logging_steps=10,
        save_strategy="no",
        report_to="none",
        bf16=gpu,
        use_cpu=not gpu,
        disable_tqdm=True,
        seed=0,
    )
    trainer = Trainer(model=peft_model, args=args, train_dataset=dataset, data_collator=collator)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "real_tokens": real_tokens,
        "computed_tokens": len(rows) * GUIDE_LENGTH,
        "peak_gb": _peak_gb(),
        "eos_trained": f"{trained_eos} of {real_eos} (first 64 examples)",
        "double_bos": f"{double_bos} of {min(len(rows), 64)}",
    }


def run_engine(model: Path, data: Path, out: Path) -> dict[str, Any]:
    """ftstudio's engine: padding-free SFTTrainer with the studio's loss mask."""
    import torch

    from ftstudio.core.events import Finished, Started
    from ftstudio.core.project import create_project
    from ftstudio.core.train_config import TrainConfig
    from ftstudio.engine.training import run_training

    gpu = torch.cuda.is_available()
    project = create_project(out / "project", "Benchmark")
    shutil.copy(data, project.folder / "datasets" / "train.jsonl")
    config = TrainConfig(
        base_model=str(model),
        dataset="datasets/train.jsonl",
        method="lora",
        r=LORA_R,
        alpha=LORA_ALPHA,
        dropout=0.05,
        epochs=1,
        per_device_batch_size=BATCH,
        grad_accum=ACCUM,
        learning_rate=LEARNING_RATE,
        max_length=GUIDE_LENGTH,
        val_fraction=0.0,
        eval_steps=0,
        early_stopping_patience=0,
        save_steps=10_000_000,
        gradient_checkpointing=False,
        precision="bf16" if gpu else "fp32",
        optimizer="adamw_torch",
    )
    events: list[Any] = []
    result = run_training(config, events.append, project=project.folder)
    if result.status != "finished":
        raise RuntimeError(f"the engine's run {result.status}: {result.message}")
    started = next(e for e in events if isinstance(e, Started))
    finished = next(e for e in events if isinstance(e, Finished))
    return {
        "seconds": finished.elapsed_s,
        "real_tokens": started.train_tokens,
        "computed_tokens": started.train_tokens,
        "peak_gb": _peak_gb(),
        "eos_trained": "every assistant end-of-turn token (the studio's mask)",
        "double_bos": "0 (the template's BOS only)",
    }


def _peak_gb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak * 1024 / 2**30


# ---------------------------------------------------------------- orchestration


def child(recipe: str, model: Path, data: Path, out: Path) -> int:
    runner = {"guide": run_guide, "engine": run_engine}[recipe]
    report = runner(model, data, out)
    print("RESULT " + json.dumps(report), flush=True)
    return 0


def measure(recipe: str, model: Path, data: Path, scratch: Path) -> dict[str, Any]:
    out = scratch / recipe
    out.mkdir()
    command = [sys.executable, __file__, "--child", recipe, str(model), str(data), str(out)]
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env["FTSTUDIO_DATA_DIR"] = str(scratch / "user-data")
    env["FTSTUDIO_CONFIG_DIR"] = str(scratch / "user-config")
    print(f"Training one epoch with the {recipe} recipe…", flush=True)
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the {recipe} run failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="chat examples (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="keep the model, data and runs in DIR")
    parser.add_argument("--child", nargs=4, metavar=("RECIPE", "MODEL", "DATA", "OUT"))
    args = parser.parse_args()
    if args.child:
        recipe, model, data, out = args.child
        return child(recipe, Path(model), Path(data), Path(out))
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="ftstudio-bench-train-"))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        model = build_model(scratch / "model")
        data = scratch / "chats.jsonl"
        shape = make_dataset(data, model, args.examples, args.seed)
        print(
            f"Data: {shape['examples']} chats, p50 {shape['p50']} tokens, p90 {shape['p90']}, "
            f"max {shape['max']}; padding to {GUIDE_LENGTH} computes "
            f"{1 - shape['tokens'] / (shape['examples'] * GUIDE_LENGTH):.0%} padding."
        )
        results = {name: measure(name, model, data, scratch) for name in ("guide", "engine")}
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    memory = "peak GPU allocated" if _cuda() else "peak RSS"
    print()
    print(f"{'recipe':<10}{'epoch s':>10}{'real tok/s':>13}{memory:>20}")
    for name, result in results.items():
        speed = result["real_tokens"] / result["seconds"]
        print(f"{name:<10}{result['seconds']:>10.1f}{speed:>13,.0f}{result['peak_gb']:>17.2f} GB")
    ratio = results["guide"]["seconds"] / results["engine"]["seconds"]
    memory_ratio = results["engine"]["peak_gb"] / results["guide"]["peak_gb"]
    print()
    print(f"Speed-up per epoch: {ratio:.1f}x (target at least {TARGET:g}x).")
    print(f"Peak memory: the engine uses {memory_ratio:.0%} of the guide's.")
    for name, result in results.items():
        print(
            f"{name}: end-of-turn tokens with loss: {result['eos_trained']}; "
            f"double BOS: {result['double_bos']}"
        )
    return 0 if ratio >= TARGET else 1


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    sys.exit(main())
