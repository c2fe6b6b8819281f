"""Loading what a run trained, and merging its adapter into the base model.

The base model is loaded in the chosen number type (bf16, fp16 or fp32; never in
4 bits, even for a QLoRA run: merging into a quantised base rounds the adapter
away), the adapter applied with peft from its safetensors file, merged with
``merge_and_unload`` and saved with ``save_pretrained`` (safetensors), together
with the tokenizer (transformers 5 writes the chat template as
``chat_template.jinja``) and a ``generation_config.json`` whose EOS ids include
every token that ends a turn, so the merged model stops where the trained one did.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from ftstudio.engine.export.errors import ExportError
from ftstudio.engine.export.source import TOKENIZER_FILES, RunSource

TORCH_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
_SAFETENSORS_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
}


def load_trained(source: RunSource, dtype: str = "fp32", device: str = "cpu") -> Any:
    """The trained model: the base with the run's adapter (unmerged), or the full model.

    Args:
        source: the run.
        dtype: ``bf16``, ``fp16`` or ``fp32``: the base model's number type.
        device: where to load it (``cpu`` or ``cuda``).
    """
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    torch_dtype = TORCH_DTYPES[dtype]
    with _quiet():
        if source.is_full:
            model = AutoModelForCausalLM.from_pretrained(source.weights_dir, dtype=torch_dtype)
        else:
            base = AutoModelForCausalLM.from_pretrained(source.base_path(), dtype=torch_dtype)
            model = PeftModel.from_pretrained(base, source.weights_dir, is_trainable=False)
    return model.to(device).eval()


def load_model(folder: Path, dtype: str = "fp32", device: str = "cpu", **kwargs: Any) -> Any:
    """A model folder (or a GGUF file with ``gguf_file=``) loaded for inference."""
    from transformers import AutoModelForCausalLM

    with _quiet():
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=TORCH_DTYPES[dtype], **kwargs)
    return model.to(device).eval()


def merge_into(
    source: RunSource,
    folder: Path,
    dtype: str,
    tokenizer: Any,
    stop_ids: list[int],
) -> None:
    """Merge the run's adapter into its base model in ``dtype`` and save it in ``folder``.

    A full fine-tuning run's model folder is copied instead (its weights are the
    model); the tokenizer and generation config are written the same way.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if source.is_full:
        for path in source.weights_dir.iterdir():
            if path.is_file() and _model_file(path.name):
                shutil.copy2(path, folder / path.name)
        model = None
    else:
        model = load_trained(source, dtype)
        try:
            merged = model.merge_and_unload(safe_merge=True)
        except ValueError as error:  # safe_merge: the merged weights hold NaN
            raise ExportError(
                "failed", f"Merging the adapter gave broken (NaN) weights: {error}"
            ) from None
        _set_generation_config(merged, source, tokenizer, stop_ids)
        with _quiet():
            merged.save_pretrained(folder)
        del merged, model
    tokenizer.save_pretrained(folder)
    if source.is_full:
        _write_generation_config(folder, source, tokenizer, stop_ids)
    _ensure_chat_template(folder, tokenizer)


def parameter_count(folder: Path) -> int:
    """The number of weights in a folder's safetensors files (read from their headers)."""
    total = 0
    for path in sorted(Path(folder).glob("*.safetensors")):
        for info in _safetensors_header(path).values():
            if isinstance(info, dict) and "shape" in info:
                count = 1
                for size in info["shape"]:
                    count *= int(size)
                total += count
    return total


def weights_bytes(folder: Path) -> int:
    """The size of a folder's safetensors files."""
    return sum(p.stat().st_size for p in Path(folder).glob("*.safetensors"))


def tokenizer_bytes(folder: Path) -> int:
    """The size of a folder's tokenizer files."""
    return sum(
        (Path(folder) / n).stat().st_size for n in TOKENIZER_FILES if (Path(folder) / n).is_file()
    )


# ---------------------------------------------------------------- internals


def _set_generation_config(
    model: Any, source: RunSource, tokenizer: Any, stop_ids: list[int]
) -> None:
    from transformers import GenerationConfig

    config = model.generation_config
    if config is None:
        config = GenerationConfig.from_model_config(model.config)
    config.eos_token_id = stop_ids[0] if len(stop_ids) == 1 else list(stop_ids)
    if tokenizer.pad_token_id is not None:
        config.pad_token_id = tokenizer.pad_token_id
    if tokenizer.bos_token_id is not None:
        config.bos_token_id = tokenizer.bos_token_id
    model.generation_config = config


def _write_generation_config(
    folder: Path, source: RunSource, tokenizer: Any, stop_ids: list[int]
) -> None:
    from transformers import AutoConfig, GenerationConfig

    try:
        config = GenerationConfig.from_pretrained(folder)
    except OSError:
        config = GenerationConfig.from_model_config(AutoConfig.from_pretrained(folder))
    config.eos_token_id = stop_ids[0] if len(stop_ids) == 1 else list(stop_ids)
    if tokenizer.pad_token_id is not None:
        config.pad_token_id = tokenizer.pad_token_id
    config.save_pretrained(folder)


def _ensure_chat_template(folder: Path, tokenizer: Any) -> None:
    """The chat template must be in the folder as transformers 5 reads it."""
    template = getattr(tokenizer, "chat_template", None)
    if not template or not isinstance(template, str):
        return
    jinja = folder / "chat_template.jinja"
    config_path = folder / "tokenizer_config.json"
    in_config = False
    if config_path.is_file():
        with contextlib.suppress(OSError, json.JSONDecodeError):
            in_config = bool(json.loads(config_path.read_text("utf-8")).get("chat_template"))
    if not jinja.is_file() and not in_config:
        jinja.write_text(template, encoding="utf-8")


def _model_file(name: str) -> bool:
    return name.endswith((".safetensors", ".json")) and name not in (
        "trainer_state.json",
        "ftstudio-checkpoint.json",
    )


def _safetensors_header(path: Path) -> dict[str, Any]:
    with Path(path).open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(size))
    return header if isinstance(header, dict) else {}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No loading progress bars on the console (the export reports its own progress).

    transformers' GGUF reader uses tqdm directly, so its bar is switched off too.
    """
    from transformers import modeling_gguf_pytorch_utils as gguf_loading
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    gguf_bar = gguf_loading.tqdm
    gguf_loading.tqdm = _no_bar
    try:
        yield
    finally:
        gguf_loading.tqdm = gguf_bar
        if bars:
            hf_logging.enable_progress_bar()


def _no_bar(iterable: Any, *args: Any, **kwargs: Any) -> Any:
    return iterable
