"""A tiny Llama-architecture model built locally, so every flow works offline.

The tokenizer is a byte-level BPE trained with ``tokenizers`` on the sample
project's text; the model is a randomly initialised ``LlamaForCausalLM``. Both are
saved with ``save_pretrained`` (safetensors), so they load with
``AutoTokenizer``/``AutoModelForCausalLM`` exactly like a downloaded model folder.
The same seed and corpus always give the same files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from ftstudio.core.sample import sample_corpus

BOS, EOS, PAD = "<s>", "<|end|>", "<pad>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
MARKER_FILE = "ftstudio-tiny-model.json"
_BUILD_LOCK = threading.Lock()

# Assistant turns sit inside {% generation %} with the end-of-turn (EOS) token, so
# assistant-only loss (trl, return_assistant_tokens_mask) trains the model to stop.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}"
    "<|system|>\n{{ message['content'] }}<|end|>"
    "{% elif message['role'] == 'user' %}"
    "<|user|>\n{{ message['content'] }}<|end|>"
    "{% elif message['role'] == 'assistant' %}"
    "<|assistant|>\n{% generation %}{{ message['content'] }}<|end|>{% endgeneration %}"
    "{% else %}"
    "{{ raise_exception('Unknown role: ' + message['role']) }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@dataclass(frozen=True)
class TinyModelSpec:
    """Size and seed of the tiny model (defaults: ~0.2M parameters, builds in seconds)."""

    seed: int = 0
    vocab_size: int = 1024
    hidden_size: int = 64
    intermediate_size: int = 176
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 2048


@dataclass(frozen=True)
class TinyModelInfo:
    """What was built: where, how many parameters, and the tokenizer's vocabulary size."""

    path: Path
    parameters: int
    vocab_size: int
    spec: TinyModelSpec


def build_tiny_model(
    out_dir: Path, spec: TinyModelSpec | None = None, corpus: Iterable[str] | None = None
) -> TinyModelInfo:
    """Build the tiny model and tokenizer into ``out_dir`` (created; must be empty if it exists).

    The files are written into a temporary sibling folder and renamed into place,
    so an interrupted build never leaves a half-written model behind.
    """
    spec = spec or TinyModelSpec()
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty; choose a new or empty folder.")
    texts = list(corpus if corpus is not None else sample_corpus())
    if not texts:
        raise ValueError("The tokenizer needs some text to learn from; the corpus was empty.")

    tokenizer = _train_tokenizer(texts, spec.vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=spec.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(spec.seed)
    try:
        model = LlamaForCausalLM(config)
    finally:
        torch.random.set_rng_state(generator_state)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    bars_were_on = transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.disable_progress_bar()  # a 0.5 MB save needs no progress bar
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        info = TinyModelInfo(out_dir, model.num_parameters(), len(tokenizer), spec)
        marker = {"builder": "ftstudio tiny-model", "spec": asdict(spec)}
        (staging / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if bars_were_on:
            transformers.utils.logging.enable_progress_bar()
    return info


def ensure_tiny_model(out_dir: Path, spec: TinyModelSpec | None = None) -> Path:
    """Return ``out_dir`` holding a complete tiny model, building it first if needed.

    Safe when several threads or processes ask at once: each builds in its own
    staging folder, the first rename wins and the others use its result.
    """
    out_dir = Path(out_dir)
    with _BUILD_LOCK:
        if (out_dir / MARKER_FILE).is_file():
            return out_dir
        if out_dir.exists():
            # Builds are renamed into place complete with their marker, so a folder
            # without one was left by an interrupted older version: ours to replace.
            shutil.rmtree(out_dir)
        try:
            build_tiny_model(out_dir, spec)
        except (FileExistsError, OSError):
            if not (out_dir / MARKER_FILE).is_file():  # not another process's finished build
                raise
    return out_dir


def _train_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    specials = [BOS, EOS, PAD, *ROLE_TOKENS]
    backend = Tokenizer(models.BPE())
    # Byte-level: any text, in any script, encodes without an unknown token.
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=list(ROLE_TOKENS),
        model_max_length=2048,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
