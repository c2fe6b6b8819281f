"""GGUF files for llama.cpp, LM Studio and Ollama, written with the ``gguf`` library.

``gguf`` (PyPI) is llama.cpp's reader/writer library; it has no Hugging Face
converter, so this module is one, for the architectures ftstudio trains most:
Llama and Mistral (GGUF architecture ``llama``) and Qwen2 (``qwen2``). It follows
llama.cpp's ``convert_hf_to_gguf.py``:

- hyperparameters: context length, embedding length, block count, feed-forward
  length, head counts, head size (rope dimension count), rope frequency base,
  RMS norm epsilon, vocabulary size, and rope scaling (linear, YaRN, Llama 3's
  ``rope_freqs`` factors) when the model has it;
- tensors renamed with ``gguf.get_tensor_name_map`` (``model.layers.0.self_attn.q_proj``
  → ``blk.0.attn_q``); for ``llama`` the Q and K projections are permuted into
  llama.cpp's rotary layout (transformers' GGUF loader undoes it);
- weight types: F16, or Q8_0 (``gguf.quants.quantize``); 1-D tensors (norms) stay
  F32, and a tensor whose rows are not a multiple of Q8_0's 32-value block stays
  F16, as llama.cpp does;
- tokenizer: ``gpt2`` (byte-level BPE: tokens, token types, merges, the
  pre-tokenizer's name) or ``llama`` (sentencepiece-style BPE with byte fallback:
  tokens, scores, types); BOS/EOS/UNK/PAD ids, whether BOS/EOS are added, the
  end-of-turn token when it is not EOS, and the chat template.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftstudio.engine.export.errors import ExportError

SUPPORTED = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2"}
"""Hugging Face ``model_type`` → GGUF architecture."""
QUANT_BLOCK = 32
"""Values per Q8_0 block: a row must be a multiple of it to be quantised."""


@dataclass(frozen=True)
class GGUFTensorInfo:
    """One tensor of a GGUF file: its name, shape (GGUF order) and type (``F16``, ``Q8_0`` …)."""

    name: str
    shape: tuple[int, ...]
    type: str


@dataclass(frozen=True)
class GGUFSummary:
    """What a GGUF file holds, read back with ``gguf.GGUFReader``.

    Attributes:
        path: the file.
        architecture: ``general.architecture``.
        name: ``general.name``.
        metadata: every scalar or string metadata value, and arrays as their length
            (``tokenizer.ggml.tokens`` → the vocabulary size).
        tensors: every tensor.
        size_bytes: the file's size.
    """

    path: Path
    architecture: str
    name: str
    metadata: dict[str, Any] = field(default_factory=dict)
    tensors: list[GGUFTensorInfo] = field(default_factory=list)
    size_bytes: int = 0

    def type_counts(self) -> dict[str, int]:
        """How many tensors of each type (``{"Q8_0": 12, "F32": 5, …}``)."""
        counts: dict[str, int] = {}
        for tensor in self.tensors:
            counts[tensor.type] = counts.get(tensor.type, 0) + 1
        return counts


def gguf_architecture(model_type: str) -> str:
    """The GGUF architecture of a Hugging Face ``model_type``.

    Raises:
        ExportError: (``unsupported_arch``) ftstudio cannot convert it.
    """
    if model_type not in SUPPORTED:
        raise ExportError(
            "unsupported_arch",
            f"GGUF export supports Llama, Mistral and Qwen2 models; this model's architecture "
            f"is {model_type or 'unknown'}. Export it as merged instead and convert it with "
            "llama.cpp's convert_hf_to_gguf.py.",
        )
    return SUPPORTED[model_type]


def write_gguf(model_dir: Path, out_file: Path, quant: str, *, name: str = "") -> Path:
    """Write the Hugging Face model in ``model_dir`` as one GGUF file; returns ``out_file``.

    Args:
        model_dir: a merged model folder (``config.json``, safetensors, tokenizer).
        out_file: the ``.gguf`` file to write.
        quant: ``f16`` or ``q8_0``.
        name: ``general.name`` (default: the folder's name).

    Raises:
        ExportError: ``unsupported_arch``, ``missing_package`` (no ``gguf``), or
            ``failed`` (a tensor that has no GGUF name, a tokenizer it cannot describe).
    """
    gguf = _gguf()
    model_dir, out_file = Path(model_dir), Path(out_file)
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    model_type = str(config.get("model_type", ""))
    arch_name = gguf_architecture(model_type)
    arch = next(key for key, value in gguf.MODEL_ARCH_NAMES.items() if value == arch_name)
    n_layers = int(config["num_hidden_layers"])
    tensor_map = gguf.get_tensor_name_map(arch, n_layers)

    writer = gguf.GGUFWriter(out_file, arch_name)
    try:
        writer.add_type(gguf.GGUFType.MODEL)
        writer.add_name(name or model_dir.name)
        _add_hyperparameters(writer, gguf, config, arch_name)
        file_type = (
            gguf.LlamaFileType.MOSTLY_F16 if quant == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0
        )
        writer.add_file_type(int(file_type))
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        _add_tokenizer(writer, gguf, model_dir, config)
        for gguf_name, array in _tensors(model_dir, config, tensor_map, arch_name):
            data, qtype = _convert(gguf, array, quant)
            writer.add_tensor(gguf_name, data, raw_dtype=qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    return out_file


def read_gguf_summary(path: Path) -> GGUFSummary:
    """The metadata and tensors of a GGUF file (see :class:`GGUFSummary`)."""
    gguf = _gguf()
    reader = gguf.GGUFReader(str(path))
    metadata: dict[str, Any] = {}
    for key, value in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        if value.types and value.types[0] == gguf.GGUFValueType.ARRAY:
            metadata[key] = len(value.data)
        else:
            try:
                metadata[key] = value.contents()
            except Exception:  # an unusual type: keep the key, not the value
                metadata[key] = None
    tensors = [
        GGUFTensorInfo(t.name, tuple(int(s) for s in t.shape), t.tensor_type.name)
        for t in reader.tensors
    ]
    return GGUFSummary(
        path=Path(path),
        architecture=str(metadata.get("general.architecture", "")),
        name=str(metadata.get("general.name", "")),
        metadata=metadata,
        tensors=tensors,
        size_bytes=Path(path).stat().st_size,
    )


def read_gguf_strings(path: Path, key: str) -> list[str]:
    """A string-array metadata value of a GGUF file (``tokenizer.ggml.tokens`` …)."""
    gguf = _gguf()
    reader = gguf.GGUFReader(str(path))
    field_ = reader.fields.get(key)
    if field_ is None:
        return []
    return [str(item) for item in field_.contents()]


# ---------------------------------------------------------------- hyperparameters


def _add_hyperparameters(writer: Any, gguf: Any, config: dict[str, Any], arch: str) -> None:
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    head_dim = int(config.get("head_dim") or hidden // heads)
    writer.add_context_length(int(config.get("max_position_embeddings", 2048)))
    writer.add_embedding_length(hidden)
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_vocab_size(int(config["vocab_size"]))
    rope = _rope(config)
    writer.add_rope_freq_base(float(rope.get("rope_theta", 10000.0)))
    if arch == "llama":
        writer.add_rope_dimension_count(head_dim)
    if head_dim != hidden // heads:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    kind = str(rope.get("rope_type") or rope.get("type") or "default").lower()
    if kind == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(rope["factor"]))
    elif kind == "yarn":
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(float(rope["factor"]))
        original = rope.get("original_max_position_embeddings")
        if original:
            writer.add_rope_scaling_orig_ctx_len(int(original))
    elif kind not in ("default", "llama3"):
        raise ExportError(
            "unsupported_arch",
            f"The model uses {kind} rope scaling, which ftstudio's GGUF export does not "
            "write. Export it as merged and convert it with llama.cpp's convert_hf_to_gguf.py.",
        )


def _rope(config: dict[str, Any]) -> dict[str, Any]:
    """Rope settings: transformers 5's ``rope_parameters``, or the older keys."""
    rope = dict(config.get("rope_parameters") or {})
    scaling = config.get("rope_scaling") or {}
    for key, value in scaling.items():
        rope.setdefault(key, value)
    if "rope_theta" not in rope and "rope_theta" in config:
        rope["rope_theta"] = config["rope_theta"]
    return rope


def _llama3_rope_factors(config: dict[str, Any]) -> Any:
    """Llama 3.1's long-context rope factors, as llama.cpp stores them (``rope_freqs``)."""
    import numpy as np

    rope = _rope(config)
    heads = int(config["num_attention_heads"])
    dim = int(config.get("head_dim") or int(config["hidden_size"]) // heads)
    base = float(rope.get("rope_theta", 10000.0))
    factor = float(rope.get("factor", 8.0))
    low = float(rope.get("low_freq_factor", 1.0))
    high = float(rope.get("high_freq_factor", 4.0))
    old = float(rope.get("original_max_position_embeddings", 8192))
    low_wavelen, high_wavelen = old / low, old / high
    factors = []
    for i in range(0, dim, 2):
        freq = 1.0 / (base ** (i / dim))
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            factors.append(1.0)
        elif wavelen > low_wavelen:
            factors.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return np.asarray(factors, dtype=np.float32)


# ---------------------------------------------------------------- tensors


def _tensors(model_dir: Path, config: dict[str, Any], tensor_map: Any, arch: str) -> Any:
    """``(gguf name, float32 array)`` for every weight, renamed and (for llama) permuted."""
    from safetensors import safe_open

    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    tied = bool(config.get("tie_word_embeddings", False))
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise ExportError("failed", f"{model_dir} holds no safetensors weights to convert.")
    rope = _rope(config)
    if str(rope.get("rope_type") or "").lower() == "llama3":
        yield "rope_freqs.weight", _llama3_rope_factors(config)
    for path in files:
        with safe_open(str(path), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 - safe_open has no iteration
                if key.endswith("rotary_emb.inv_freq"):
                    continue
                if tied and key == "lm_head.weight":
                    continue
                name = tensor_map.get_name(key, try_suffixes=(".weight", ".bias"))
                if name is None:
                    raise ExportError(
                        "failed",
                        f"{path.name}: the tensor {key} has no GGUF name for this architecture; "
                        "the model is not a plain Llama/Mistral/Qwen2 model.",
                    )
                array = handle.get_tensor(key).float().numpy()
                if arch == "llama" and key.endswith("q_proj.weight"):
                    array = _permute(array, heads, heads)
                elif arch == "llama" and key.endswith("k_proj.weight"):
                    array = _permute(array, heads, kv_heads)
                yield name, array


def _permute(weights: Any, n_head: int, n_head_kv: int) -> Any:
    """llama.cpp's rotary layout for Q/K (``convert_hf_to_gguf.py``: ``LlamaModel.permute``)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def round_like_gguf(model: Any, quant: str) -> None:
    """Round a loaded model's weights in place exactly as :func:`write_gguf` stores them.

    F16 tensors are rounded to float16, Q8_0 ones quantised and dequantised with the
    same ``gguf.quants`` code, 1-D ones left in float32. The parity check compares
    a GGUF file read back through transformers with this model: any difference
    beyond float noise is a conversion error (a tensor renamed or permuted wrongly,
    a hyperparameter lost), not the number type's.
    """
    import numpy as np
    import torch

    gguf = _gguf()
    with torch.no_grad():
        for parameter in model.parameters():
            array = parameter.data.float().cpu().numpy()
            data, qtype = _convert(gguf, array, quant)
            if qtype == gguf.GGMLQuantizationType.Q8_0:
                restored = gguf.quants.dequantize(data, qtype).reshape(array.shape)
            else:
                restored = data.astype(np.float32)
            parameter.data = torch.from_numpy(np.ascontiguousarray(restored)).to(parameter.device)


def _convert(gguf: Any, array: Any, quant: str) -> tuple[Any, Any]:
    """The stored array and its type: 1-D F32; F16; Q8_0 where the rows allow it, else F16."""
    import numpy as np

    qtypes = gguf.GGMLQuantizationType
    if array.ndim <= 1:
        return array.astype(np.float32), qtypes.F32
    if quant == "q8_0" and array.shape[-1] % QUANT_BLOCK == 0:
        return gguf.quants.quantize(array, qtypes.Q8_0), qtypes.Q8_0
    return array.astype(np.float16), qtypes.F16


# ---------------------------------------------------------------- tokenizer


def _add_tokenizer(writer: Any, gguf: Any, model_dir: Path, config: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    from ftstudio.engine.export.template import analyse_template, stop_token_ids

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    spec_path = model_dir / "tokenizer.json"
    if not spec_path.is_file():
        raise ExportError(
            "failed",
            f"{model_dir} has no tokenizer.json; the GGUF export needs a fast tokenizer.",
        )
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    model = spec.get("model") or {}
    vocab_size = int(config.get("vocab_size") or len(tokenizer))
    if model.get("type") == "BPE" and model.get("byte_fallback"):
        _add_llama_vocab(writer, gguf, model_dir, vocab_size)
        load_merges = False
    elif model.get("type") == "BPE":
        _add_gpt2_vocab(writer, gguf, tokenizer, spec, vocab_size)
        load_merges = True
    else:
        raise ExportError(
            "failed",
            f"The tokenizer in {model_dir} is a {model.get('type') or 'unknown'} tokenizer; "
            "the GGUF export writes BPE tokenizers (byte-level or with byte fallback) only.",
        )
    special = gguf.SpecialVocab(model_dir, load_merges=load_merges, n_vocab=vocab_size)
    special.add_special_token = {}  # written below from the tokenizer's real behaviour
    special.chat_template = tokenizer.chat_template or None
    special.add_to_gguf(writer, quiet=True)
    probe = tokenizer("a", add_special_tokens=True)["input_ids"]
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    writer.add_add_bos_token(bool(bos is not None and len(probe) > len(plain) and probe[0] == bos))
    writer.add_add_eos_token(bool(eos is not None and len(probe) > len(plain) and probe[-1] == eos))
    if tokenizer.chat_template:
        shape = analyse_template(tokenizer)
        for token_id in stop_token_ids(shape, tokenizer):
            if token_id != eos:
                writer.add_eot_token_id(token_id)
                break


def _add_gpt2_vocab(
    writer: Any, gguf: Any, tokenizer: Any, spec: dict[str, Any], vocab_size: int
) -> None:
    types = gguf.TokenType
    reverse = {index: token for token, index in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder
    tokens: list[str] = []
    token_types: list[int] = []
    for index in range(vocab_size):
        token = reverse.get(index)
        if token is None:
            tokens.append(f"[PAD{index}]")
            token_types.append(int(types.UNUSED))
        elif index in added:
            tokens.append(str(token))
            token_types.append(int(types.CONTROL if added[index].special else types.USER_DEFINED))
        else:
            tokens.append(str(token))
            token_types.append(int(types.NORMAL))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer_name(spec))
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)


def _add_llama_vocab(writer: Any, gguf: Any, model_dir: Path, vocab_size: int) -> None:
    vocab = gguf.LlamaHfVocab(model_dir)
    tokens, scores, types = [], [], []
    for text, score, kind in vocab.all_tokens():
        tokens.append(text)
        scores.append(score)
        types.append(int(kind))
    for index in range(len(tokens), vocab_size):
        tokens.append(f"[PAD{index}]".encode())
        scores.append(-1000.0)
        types.append(int(gguf.TokenType.UNUSED))
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens[:vocab_size])
    writer.add_token_scores(scores[:vocab_size])
    writer.add_token_types(types[:vocab_size])


_PREFERRED_PRE = ("llama-bpe", "qwen2", "tekken", "gpt-4o")


def _pre_tokenizer_name(spec: dict[str, Any]) -> str:
    """llama.cpp's name for the tokenizer's pre-tokenizer (how text is split before BPE)."""
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers") if pre.get("type") == "Sequence" else [pre]
    steps = [s for s in steps or [] if isinstance(s, dict)]
    if len(steps) == 1 and steps[0].get("type") == "ByteLevel" and steps[0].get("use_regex", True):
        return "gpt-2"
    pattern = next(
        (
            s.get("pattern", {}).get("Regex")
            for s in steps
            if s.get("type") == "Split" and isinstance(s.get("pattern"), dict)
        ),
        None,
    )
    if pattern:
        try:
            from transformers.integrations.gguf.gguf_tokenizer_mapping import (
                GGUF_PRE_TOKENIZER_SPLITS,
            )
        except ImportError:
            GGUF_PRE_TOKENIZER_SPLITS = {}  # noqa: N806
        names = [n for n, regex in GGUF_PRE_TOKENIZER_SPLITS.items() if regex == pattern]
        for name in _PREFERRED_PRE:
            if name in names:
                return name
        if names:
            return names[0]
    return "default"


def _gguf() -> Any:
    try:
        import gguf
    except ImportError:
        raise ExportError(
            "missing_package",
            "GGUF export needs the gguf package: pip install 'ftstudio[gguf]' (or pip install "
            "gguf).",
        ) from None
    return gguf
