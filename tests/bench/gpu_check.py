"""GPU check: QLoRA on a random Llama-3-8B-shaped model at length 2048, memory vs the estimate.

Run on a machine with a CUDA GPU (not by pytest; about 3 minutes on an H200):

    python tests/bench/gpu_check.py [--shape 8b|1b|tiny] [--steps 6] [--batch 2]
                                    [--out DIR] [--oom]

What it does, with ftstudio's own engine (``run_training``):

1. builds a randomly initialised Llama of the chosen shape on the GPU (8b: hidden
   4096, 32 layers, 32 heads, 8 KV heads, MLP 14336, vocabulary 128256) and saves it
   as safetensors with a small local tokenizer (no download);
2. writes chat examples of about 1,900–2,040 tokens;
3. trains QLoRA (4-bit NF4, double quantisation, bf16, r 16 on q/k/v/o, gradient
   checkpointing, paged AdamW) for ``--steps`` steps at max length 2048;
4. prints the planner's estimate (:func:`ftstudio.core.memory.estimate_memory`)
   beside the measured peak (``torch.cuda.max_memory_allocated``), tokens/s and
   seconds per step, and writes ``gpu_check.json`` into ``--out`` (default: $OUT
   if set, else the working directory);
5. with ``--oom``: a second run with a batch far too large, checking that the
   out-of-memory error is recorded as a failed run with the plain fix and the
   estimate beside the measured peak.

The exit code is 0 when training finished and the measured peak lies within
±35 % of the estimated allocated memory (1 otherwise).

Packages: the engine needs transformers 5.24, huggingface_hub 2.4, trl 1.16, peft
0.21, datasets 5.2 and bitsandbytes 0.50 (a CUDA build), and platformdirs for
ftstudio itself (:data:`WHEELS`). On a machine that lacks them, install wheels
first; ``--prepare DIR`` downloads them for Python 3.12 on Linux x86-64 into DIR
(from a machine with network access), dropping the bitsandbytes libraries other
than CUDA 12.x/13.x and the CPU one so that the set stays small. Then, on the GPU
machine: ``python3 -m pip install --no-index --no-deps --target /tmp/site DIR/*.whl``
and ``export PYTHONPATH=/tmp/site:$PWD``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

SHAPES = {
    "8b": {
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 128256,
    },
    "1b": {
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 128256,
    },
    "tiny": {  # for trying the script on a CPU
        "hidden_size": 64,
        "intermediate_size": 176,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 1024,
    },
}
MAX_LENGTH = 2048
TOLERANCE = 0.35
WHEELS = (
    "transformers==5.24.0",
    "huggingface_hub==2.4.0",
    "trl==1.16.0",
    "peft==0.21.2",
    "datasets==5.2.0",
    "dill==0.4.1",
    "multiprocess==0.70.19",
    "bitsandbytes==0.50.2",
    "platformdirs==4.14.8",
    # huggingface_hub 2.4 imports httpx2 at module level; the image has only httpx.
    "httpx2==2.16.2",
    "httpcore2==2.16.2",
    "truststore==0.10.5",
)
"""What the GPU machine's image lacks or has in other versions (torch, accelerate,
safetensors, tokenizers, numpy, pyarrow, pandas, PyYAML and Jinja2 are there)."""
KEEP_BNB = ("libbitsandbytes_cpu", "libbitsandbytes_cuda12", "libbitsandbytes_cuda13")


# ---------------------------------------------------------------- model and data


def build_model(folder: Path, shape: str) -> Path:
    """A random Llama of ``shape`` saved as safetensors, with the tiny model's tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from ftstudio.engine.tiny_model import build_tiny_model

    tokenizer_dir = folder.parent / "tokenizer-source"
    build_tiny_model(tokenizer_dir)
    sizes = SHAPES[shape]
    config = LlamaConfig(
        **sizes,
        max_position_embeddings=8192,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2,
        tie_word_embeddings=False,
    )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    started = time.perf_counter()
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            torch.manual_seed(0)
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model.save_pretrained(folder, max_shard_size="5GB")
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (tokenizer_dir / name).exists():
            shutil.copy(tokenizer_dir / name, folder / name)
    print(
        f"Built a random {shape} Llama in {time.perf_counter() - started:.0f} s "
        f"({sum(p.stat().st_size for p in folder.glob('*.safetensors')) / 2**30:.1f} GB).",
        flush=True,
    )
    return folder


def write_examples(path: Path, model: Path, count: int) -> None:
    """``count`` conversations of about 1,900–2,040 tokens with the model's tokenizer."""
    from ftstudio.core.sample import sample_corpus
    from ftstudio.engine.chat_mask import load_tokenizer

    tokenizer = load_tokenizer(model)
    words = " ".join(sample_corpus()).split()
    rng = random.Random(0)
    with path.open("w", encoding="utf-8") as handle:
        for _ in range(count):
            target = rng.randint(1900, 2040)
            answer = rng.sample(words, 200)
            while True:
                messages = [
                    {"role": "user", "content": " ".join(rng.sample(words, 40))},
                    {"role": "assistant", "content": " ".join(answer)},
                ]
                size = len(tokenizer.apply_chat_template(messages, tokenize=True)["input_ids"])
                if size >= target - 10:
                    break
                answer += rng.sample(words, max(1, (target - size) // 3))
            while size > MAX_LENGTH:
                answer = answer[:-5]
                messages[1]["content"] = " ".join(answer)
                size = len(tokenizer.apply_chat_template(messages, tokenize=True)["input_ids"])
            handle.write(json.dumps({"messages": messages}) + "\n")


# ---------------------------------------------------------------- the check


def train(project: Path, model: Path, *, steps: int, batch: int, checkpointing: bool) -> dict:
    import torch

    from ftstudio.core.events import Failed, StepLogged
    from ftstudio.core.memory import estimate_memory
    from ftstudio.core.models import resolve_model_spec
    from ftstudio.core.train_config import TrainConfig
    from ftstudio.engine.training import run_training

    gpu = torch.cuda.is_available()
    config = TrainConfig(
        base_model=str(model),
        dataset="datasets/train.jsonl",
        method="qlora",
        r=16,
        alpha=32,
        max_steps=steps,
        per_device_batch_size=batch,
        grad_accum=1,
        max_length=MAX_LENGTH,
        val_fraction=0.0,
        eval_steps=0,
        early_stopping_patience=0,
        save_steps=10_000_000,
        gradient_checkpointing=checkpointing,
        precision="bf16" if gpu else "fp32",
        optimizer="paged_adamw_32bit" if gpu else "adamw_torch",
        learning_rate=2e-4,
        warmup_ratio=0.0,
    )
    gpu_gb = torch.cuda.get_device_properties(0).total_memory / 2**30 if gpu else 24.0
    estimate = estimate_memory(resolve_model_spec(str(model)), config, gpu_gb)
    events: list[Any] = []
    started = time.perf_counter()
    probe = _memory_probe()
    result = run_training(config, events.append, project=project, callbacks=[probe])
    steps_logged = [e for e in events if isinstance(e, StepLogged)]
    speeds = [e.tokens_per_second for e in steps_logged[1:] if e.tokens_per_second]
    seconds = [
        b.elapsed_s - a.elapsed_s for a, b in zip(steps_logged[:-1], steps_logged[1:], strict=True)
    ]
    failed = next((e for e in events if isinstance(e, Failed)), None)
    return {
        "status": result.status,
        "code": result.code,
        "message": result.message,
        "failed_detail": failed.detail[-2000:] if failed else "",
        "wall_s": time.perf_counter() - started,
        "steps": result.step,
        "batch": batch,
        "max_length": MAX_LENGTH,
        "gradient_checkpointing": checkpointing,
        "estimate_allocated_gb": estimate.allocated_gb,
        "estimate_total_gb": estimate.total_gb,
        "estimate_breakdown_gb": {k: round(v, 3) for k, v in estimate.breakdown.items()},
        "measured_peak_gb": max((e.peak_memory_gb or 0) for e in steps_logged)
        if steps_logged
        else None,
        "memory_kind": steps_logged[-1].memory_kind if steps_logged else "",
        "tokens_per_second": statistics.median(speeds) if speeds else None,
        "seconds_per_step": statistics.median(seconds) if seconds else None,
        "gpu": torch.cuda.get_device_name(0) if gpu else "cpu",
        "gpu_gb": gpu_gb,
        # Where the memory goes: what stays allocated (model, adapters, optimizer state)
        # and the transient peak of a step on top of it, beside the estimate's parts.
        "phases_gb": probe.phases,
        "estimate_static_gb": round(
            sum(v for k, v in estimate.breakdown.items() if k in _STATIC), 3
        ),
        "estimate_transient_gb": round(
            sum(v for k, v in estimate.breakdown.items() if k in _TRANSIENT), 3
        ),
    }


_STATIC = (
    "weights",
    "quant_constants",
    "embeddings",
    "fp32_upcast",
    "reference",
    "adapters",
    "gradients",
    "optimizer",
)
_TRANSIENT = ("activations", "recompute", "logits")


def _memory_probe() -> Any:
    """A Trainer callback that records GPU memory at the start and around each step."""
    import torch
    from transformers import TrainerCallback

    class Probe(TrainerCallback):
        def __init__(self) -> None:
            self.phases: dict[str, float] = {}

        def _read(self, name: str) -> None:
            if torch.cuda.is_available():
                self.phases[name] = round(torch.cuda.memory_allocated() / 2**30, 3)
                self.phases[f"{name}_peak"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._read("train_begin")

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step == 1:
                self._read("step2_begin")

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._read(f"step{state.global_step}_end")

    return Probe()


def report(result: dict) -> bool:
    print(json.dumps({k: v for k, v in result.items() if k != "failed_detail"}, indent=2))
    if result["status"] != "finished":
        print(f"Training {result['status']}: {result['message']}\n{result['failed_detail']}")
        return False
    peak, guess = result["measured_peak_gb"], result["estimate_allocated_gb"]
    ratio = peak / guess if guess else float("nan")
    print(
        f"\nQLoRA at {result['max_length']} tokens, batch {result['batch']}: measured peak "
        f"{peak:.2f} GB ({result['memory_kind']}), estimate {guess:.2f} GB allocated / "
        f"{result['estimate_total_gb']:.2f} GB in all: measured/estimate {ratio:.2f}. "
        f"{result['tokens_per_second'] or 0:,.0f} tokens/s, "
        f"{result['seconds_per_step'] or 0:.2f} s per step."
    )
    return abs(ratio - 1) <= TOLERANCE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=tuple(SHAPES), default="8b")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    parser.add_argument("--oom", action="store_true", help="also check the out-of-memory path")
    parser.add_argument("--keep", type=Path, help="keep the model and runs in DIR")
    parser.add_argument("--prepare", type=Path, metavar="DIR", help="download wheels to DIR")
    args = parser.parse_args()
    if args.prepare:
        return prepare_wheels(args.prepare)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="ftstudio-gpu-check-"))
    os.environ.setdefault("FTSTUDIO_DATA_DIR", str(scratch / "user-data"))
    os.environ.setdefault("FTSTUDIO_CONFIG_DIR", str(scratch / "user-config"))
    from ftstudio.core.project import create_project

    try:
        model = build_model(scratch / "model", args.shape)
        project = create_project(scratch / "project", "GPU check").folder
        write_examples(project / "datasets" / "train.jsonl", model, args.steps * args.batch)
        result = train(project, model, steps=args.steps, batch=args.batch, checkpointing=True)
        ok = report(result)
        results = {"qlora": result}
        if args.oom:
            oom = train(project, model, steps=1, batch=64, checkpointing=False)
            results["oom"] = oom
            print(f"\nOut-of-memory run: {oom['status']} ({oom['code']}): {oom['message']}")
            ok = ok and oom["code"] == "out_of_memory" and "estimated" in oom["message"]
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu_check.json").write_text(json.dumps(results, indent=2) + "\n")
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0 if ok else 1


# ---------------------------------------------------------------- wheels for a bare machine


def prepare_wheels(folder: Path) -> int:
    """Download the engine's wheels for CPython 3.12 on Linux x86-64; trim bitsandbytes."""
    folder.mkdir(parents=True, exist_ok=True)
    platforms = []
    for tag in ("manylinux_2_28", "manylinux_2_27", "manylinux_2_24", "manylinux_2_17"):
        platforms += ["--platform", f"{tag}_x86_64"]
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        "3.12",
        "--implementation",
        "cp",
        *platforms,
        "--platform",
        "any",
        "-d",
        str(folder),
        *WHEELS,
    ]
    subprocess.run(command, check=True)
    for wheel in folder.glob("bitsandbytes-*.whl"):
        trim_wheel(wheel, KEEP_BNB)
    total = sum(p.stat().st_size for p in folder.glob("*.whl"))
    print(f"{folder}: {total / 2**20:.1f} MB of wheels.")
    return 0


def trim_wheel(wheel: Path, keep_prefixes: tuple[str, ...]) -> None:
    """Drop the native libraries not named in ``keep_prefixes`` (and their RECORD lines)."""

    def dropped(name: str) -> bool:
        base = name.rsplit("/", 1)[-1]
        return base.startswith("libbitsandbytes_") and not base.startswith(keep_prefixes)

    trimmed = wheel.with_suffix(".tmp")
    with (
        zipfile.ZipFile(wheel) as source,
        zipfile.ZipFile(trimmed, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for item in source.infolist():
            if dropped(item.filename):
                continue
            data = source.read(item)
            if item.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines()
                data = "".join(
                    line + "\n" for line in lines if not dropped(line.split(",", 1)[0])
                ).encode()
            out.writestr(item, data)
    os.replace(trimmed, wheel)


if __name__ == "__main__":
    sys.exit(main())
