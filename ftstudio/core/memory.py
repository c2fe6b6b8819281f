"""GPU memory and training-time estimates, before anything is loaded.

The memory model follows ../shared/notes/performance-reliability.md §1.5, checked
there against measured peaks (LLaMA-Factory, torchtune; see tests/core/test_memory.py):

- weights: QLoRA keeps the decoder's linear layers in 4-bit NF4 (0.5 byte/weight)
  plus quantisation constants (0.5 bit/weight, 0.127 with double quantisation);
  embeddings, lm_head and norms stay in 16 bits, and PEFT's
  ``prepare_model_for_kbit_training`` casts them to fp32 (another 2 bytes each).
- LoRA adapters in fp32 (PEFT's ``autocast_adapter_dtype``): weight, gradient and
  optimizer states; full fine-tuning trains every weight instead (and DPO keeps a
  frozen reference copy; with adapters the reference is the base with them off).
- activations: with gradient checkpointing, each layer's input (b·s·h·w·L) plus one
  layer being recomputed, b·s·(10h + 2·kv + 4·d_ff)·w; without it, that layer's
  share for every layer. w is 2 bytes in bf16/fp16, but 4 for QLoRA after PEFT's
  upcast: the fp32 embeddings and norms keep the whole residual stream in fp32.
  Eager attention adds the s² score matrices (≈5·heads·s²·b·w/2 per layer); sdpa and
  FlashAttention do not.
- logits and cross-entropy, by loss kernel: ``standard`` (transformers' own loss)
  holds b·s·V·(2 + 4 + 4) bytes (bf16 logits, the fp32 upcast, its fp32 gradient),
  which dominates at 128k vocabularies; ``fused`` (TRL ≥ 1.16's SFT and DPO
  trainers, which ftstudio trains with) projects 4,096 tokens × 32,768 vocabulary
  entries at a time and never holds the full logits; ``chunked`` (torchtune) keeps
  the bf16 logits and upcasts one chunk in eight.
- overheads: 0.7 GB of CUDA context, and 10 % for the allocator's caching and
  fragmentation.

The total adds every part, as the GPU's own usage does: the caching allocator keeps
the blocks of the loss and of the recomputed layer although they are not needed at
the same moment. :attr:`MemoryEstimate.allocated_gb` is the smaller peak that
PyTorch's ``max_memory_allocated`` reports.

Sizes are GiB (2³⁰ bytes), the unit behind a card's "24 GB" and nvidia-smi's
figures; they are called GB in text, as card makers do.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ftstudio.core.models.spec import ModelSpec, target_module_presets, unknown_target_modules

GIB = 2**30
CUDA_CONTEXT_GB = 0.7
ALLOCATOR_SHARE = 0.10
FITS_SHARE = 0.90
"""A run "fits" when its estimate stays under this share of the GPU's memory."""
NF4_BYTES = 0.5
QUANT_CONSTANT_BITS = {False: 32 / 64, True: 8 / 64 + 32 / (64 * 256)}
"""Bits per weight of NF4's constants: one fp32 per 64-weight block, or with double
quantisation one 8-bit constant per block plus one fp32 per 256 blocks (0.127)."""
LOGIT_CHUNKS = 8
"""A chunked cross-entropy (torchtune's) upcasts one chunk in 8 of the logits at a time."""
FUSED_TOKENS, FUSED_VOCAB = 4096, 32768
"""Tile of TRL's fused LM head: tokens × vocabulary entries projected at a time."""

METHODS = ("qlora", "lora", "full")
LOSS_KERNELS = ("fused", "standard", "chunked")
TRANSIENT = ("recompute", "logits")
"""Breakdown parts needed at different moments of the backward pass."""

LABELS = {
    "weights": "Linear-layer weights",
    "quant_constants": "4-bit quantisation constants",
    "embeddings": "Embeddings, lm_head and norms",
    "fp32_upcast": "fp32 upcast (prepare_model_for_kbit_training)",
    "reference": "Reference model (full DPO)",
    "adapters": "LoRA adapters (fp32)",
    "gradients": "Gradients",
    "optimizer": "Optimizer states",
    "activations": "Activations kept for the backward pass",
    "recompute": "Layer being recomputed (gradient checkpointing)",
    "logits": "Logits and cross-entropy",
    "cuda_context": "CUDA context",
    "allocator": "Allocator overhead (10 %)",
}
"""Plain labels for the breakdown's keys, in display order."""


@dataclass(frozen=True)
class MemoryInputs:
    """The training settings the memory estimate depends on.

    ``target_modules`` of ``None`` means the model's "recommended" preset.
    ``kbit_upcast``: QLoRA's embeddings, lm_head and norms are cast to fp32 by PEFT's
    ``prepare_model_for_kbit_training``. ``loss_kernel``: ``fused`` (TRL's fused LM
    head, what ftstudio's trainers use), ``standard`` (transformers' cross-entropy over
    full fp32 logits) or ``chunked`` (torchtune's chunked cross-entropy).
    """

    method: str = "qlora"
    r: int = 16
    target_modules: tuple[str, ...] | None = None
    max_length: int = 1024
    batch: int = 4
    grad_accum: int = 8
    gradient_checkpointing: bool = True
    attention: str = "sdpa"
    precision: str = "bf16"
    optimizer: str = "paged_adamw_32bit"
    objective: str = "sft"
    double_quant: bool = True
    kbit_upcast: bool = True
    loss_kernel: str = "fused"

    @classmethod
    def from_config(cls, config: Any) -> MemoryInputs:
        """The inputs of a :class:`~ftstudio.core.train_config.TrainConfig`."""
        return cls(
            method=config.method,
            r=config.r,
            target_modules=tuple(config.target_modules),
            max_length=config.max_length,
            batch=config.per_device_batch_size,
            grad_accum=config.grad_accum,
            gradient_checkpointing=config.gradient_checkpointing,
            attention=config.attn_implementation,
            precision=config.precision,
            optimizer=config.optimizer,
            objective=config.objective,
            double_quant=config.double_quant,
        )


@dataclass(frozen=True)
class Suggestion:
    """One change that brings the estimate within the GPU's memory.

    ``changes`` maps :class:`MemoryInputs` field names to new values; ``total_gb`` is
    the estimate after the change.
    """

    kind: str
    changes: dict[str, Any]
    text: str
    total_gb: float


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak GPU memory of a training run, part by part, against a GPU.

    ``breakdown`` maps the :data:`LABELS` keys to GiB (zero where a part does not
    apply). ``evictable_gb`` is what paged optimizers can move to CPU memory.
    ``verdict``: ``fits`` (under 90 % of the GPU), ``tight`` (under 100 %, or only
    with paged optimizer states moved out) or ``won't fit``. ``suggestions`` are the
    cheapest changes that make it fit, cheapest first (empty when it fits).
    """

    breakdown: dict[str, float]
    gpu_gb: float
    method: str = "qlora"
    evictable_gb: float = 0.0
    caveats: tuple[str, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()

    @property
    def total_gb(self) -> float:
        """The estimated peak, in GiB."""
        return sum(self.breakdown.values())

    @property
    def allocated_gb(self) -> float:
        """The peak PyTorch's ``max_memory_allocated`` would report: no CUDA context or
        allocator overhead, and only the larger of the loss and the recomputed layer."""
        steady = sum(v for k, v in self.breakdown.items() if k not in ("cuda_context", "allocator"))
        transient = [self.breakdown[key] for key in TRANSIENT]
        return steady - sum(transient) + max(transient)

    @property
    def verdict(self) -> str:
        """``fits``, ``tight`` or ``won't fit`` (see the class docstring)."""
        return verdict_for(self.total_gb, self.evictable_gb, self.gpu_gb)

    @property
    def fits(self) -> bool:
        """Whether training can start: the verdict is ``fits`` or ``tight``."""
        return self.verdict != "won't fit"

    def rows(self) -> list[tuple[str, str, float]]:
        """``(key, plain label, GiB)`` for each part that is not zero, in display order."""
        labels = dict(LABELS)
        if self.method == "qlora":
            labels["weights"] = "Linear-layer weights (4-bit NF4)"
        return [(key, labels[key], gb) for key, gb in self.breakdown.items() if gb > 0]

    def to_json(self) -> dict[str, Any]:
        """``{"total_gb", "gpu_gb", "fits", "verdict", "breakdown", "suggestions", "caveats"}``."""
        return {
            "total_gb": round(self.total_gb, 2),
            "gpu_gb": round(self.gpu_gb, 2),
            "fits": self.fits,
            "verdict": self.verdict,
            "breakdown": {key: round(value, 2) for key, value in self.breakdown.items()},
            "suggestions": [suggestion.text for suggestion in self.suggestions],
            "caveats": list(self.caveats),
        }


def verdict_for(total_gb: float, evictable_gb: float, gpu_gb: float) -> str:
    """``fits`` under 90 % of ``gpu_gb``; ``tight`` up to 100 % (or once paged states
    move out); else ``won't fit``."""
    if total_gb <= FITS_SHARE * gpu_gb:
        return "fits"
    if total_gb - evictable_gb <= gpu_gb:
        return "tight"
    return "won't fit"


def estimate_memory(
    spec: ModelSpec, inputs: MemoryInputs | Any, gpu_gb: float = 24.0
) -> MemoryEstimate:
    """Estimate the peak GPU memory of training ``spec`` with ``inputs`` on a ``gpu_gb`` card.

    ``inputs`` is a :class:`MemoryInputs` or a ``TrainConfig``. When the run does not
    fit comfortably, the estimate carries the cheapest changes that make it fit, each
    checked by estimating again.
    """
    if not isinstance(inputs, MemoryInputs):
        inputs = MemoryInputs.from_config(inputs)
    _check(inputs, gpu_gb)
    estimate = _estimate(spec, inputs, gpu_gb)
    if estimate.verdict == "fits":
        return estimate
    return dataclasses.replace(estimate, suggestions=tuple(suggest_changes(spec, inputs, gpu_gb)))


def _check(inputs: MemoryInputs, gpu_gb: float) -> None:
    if inputs.method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {inputs.method!r}")
    if inputs.loss_kernel not in LOSS_KERNELS:
        raise ValueError(f"loss_kernel must be one of {', '.join(LOSS_KERNELS)}")
    for name in ("r", "max_length", "batch", "grad_accum"):
        if getattr(inputs, name) < 1:
            raise ValueError(f"{name} must be at least 1, not {getattr(inputs, name)}")
    if not gpu_gb > 0:
        raise ValueError(f"the GPU's memory must be above 0 GB, not {gpu_gb}")


def _estimate(spec: ModelSpec, inputs: MemoryInputs, gpu_gb: float) -> MemoryEstimate:
    """The estimate without suggestions (pure arithmetic; used to re-estimate changes)."""
    parts = dict.fromkeys(LABELS, 0.0)
    parts.update(_weight_parts(spec, inputs))
    parts.update(_trainable_parts(spec, inputs))
    parts.update(_activation_parts(spec, inputs))
    parts["logits"] = _logit_bytes(spec, inputs) / GIB
    allocated = sum(parts.values())
    parts["cuda_context"] = CUDA_CONTEXT_GB
    parts["allocator"] = ALLOCATOR_SHARE * allocated
    evictable = parts["optimizer"] if inputs.optimizer.startswith("paged") else 0.0
    caveats = _caveats(spec, inputs, evictable)
    return MemoryEstimate(parts, gpu_gb, inputs.method, evictable, caveats)


def _weight_bytes(precision: str) -> int:
    return 4 if precision == "fp32" else 2


def _weight_parts(spec: ModelSpec, inputs: MemoryInputs) -> dict[str, float]:
    """Base weights: 4-bit linear layers (QLoRA), else the training dtype.

    Full fine-tuning in fp16 keeps fp32 master weights (mixed precision); in bf16 the
    model is loaded and trained in bf16.
    """
    linear, other = spec.linear_parameters, spec.other_parameters
    if inputs.method == "qlora":
        upcast = inputs.kbit_upcast and inputs.precision != "fp32"
        return {
            "weights": linear * NF4_BYTES / GIB,
            "quant_constants": linear * QUANT_CONSTANT_BITS[inputs.double_quant] / 8 / GIB,
            "embeddings": other * _weight_bytes(inputs.precision) / GIB,
            "fp32_upcast": other * 2 / GIB if upcast else 0.0,
        }
    width = _weight_bytes(inputs.precision)
    if inputs.method == "full" and inputs.precision == "fp16":
        width = 4
    parts = {"weights": linear * width / GIB, "embeddings": other * width / GIB}
    if inputs.method == "full" and inputs.objective == "dpo":  # a frozen copy to compare with
        parts["reference"] = spec.parameters * _weight_bytes(inputs.precision) / GIB
    return parts


def lora_parameters(spec: ModelSpec, r: int, target_modules: tuple[str, ...] | None) -> int:
    """Trainable LoRA parameters: r × (d_in + d_out) for each targeted layer of each block."""
    modules = set(_targets(spec, target_modules))
    per_block = sum(
        layer.d_in + layer.d_out for layer in spec.linear_layers() if layer.name in modules
    )
    return r * per_block * spec.num_layers


def _targets(spec: ModelSpec, target_modules: tuple[str, ...] | None) -> tuple[str, ...]:
    if target_modules is None:
        return tuple(target_module_presets(spec)["recommended"])
    return tuple(target_modules)


def _state_bytes(optimizer: str, param_bytes: int) -> int:
    """Adam's two states per parameter: in the parameter's dtype (torch), 8- or 32-bit (bnb)."""
    if optimizer.endswith("8bit"):
        return 2
    if optimizer == "paged_adamw_32bit":
        return 8
    return 2 * param_bytes


def _trainable_parts(spec: ModelSpec, inputs: MemoryInputs) -> dict[str, float]:
    """Trainable weights' own copy (LoRA), gradients and optimizer states."""
    if inputs.method == "full":
        count = spec.parameters
        width = 4 if inputs.precision in ("fp16", "fp32") else 2
        return {
            "gradients": count * width / GIB,
            "optimizer": count * _state_bytes(inputs.optimizer, width) / GIB,
        }
    count = lora_parameters(spec, inputs.r, inputs.target_modules)
    return {
        "adapters": count * 4 / GIB,
        "gradients": count * 4 / GIB,
        "optimizer": count * _state_bytes(inputs.optimizer, 4) / GIB,
    }


def _sequences(inputs: MemoryInputs) -> int:
    """Sequences per micro-batch: DPO runs the chosen and the rejected answer together."""
    return inputs.batch * (2 if inputs.objective == "dpo" else 1)


def _activation_parts(spec: ModelSpec, inputs: MemoryInputs) -> dict[str, float]:
    """Activations kept for the backward pass, and the layer recomputed from its checkpoint."""
    width = _activation_bytes(inputs)
    sequences = _sequences(inputs)
    tokens = sequences * inputs.max_length
    h, layers = spec.hidden_size, spec.num_layers
    per_layer = tokens * (10 * h + 2 * spec.kv_dim + 4 * spec.intermediate_size) * width
    if inputs.attention == "eager":
        per_layer += 5 * spec.num_heads * inputs.max_length**2 * sequences * (width / 2)
    if inputs.method == "qlora":  # one layer's weight dequantised to 16 bits for its matmul
        per_layer += max(layer.parameters for layer in spec.linear_layers()) * 2
    if inputs.gradient_checkpointing:
        return {"activations": tokens * h * width * layers / GIB, "recompute": per_layer / GIB}
    return {"activations": per_layer * layers / GIB, "recompute": 0.0}


def _activation_bytes(inputs: MemoryInputs) -> int:
    """Bytes per activation value. QLoRA with PEFT's upcast computes in fp32 throughout:
    the fp32 embeddings start an fp32 residual stream, and the fp32 norms and 4-bit layers
    hand fp32 back (measured: 11.22 GB allocated for Llama-3-8B QLoRA at 2 × 2048 tokens
    on an H200, tests/bench/gpu_check.py; bf16 activations would have made it 9.3 GB)."""
    if inputs.method == "qlora" and inputs.kbit_upcast:
        return 4
    return _weight_bytes(inputs.precision)


def _logit_bytes(spec: ModelSpec, inputs: MemoryInputs) -> float:
    """The loss: full logits with their fp32 copies, or a fused kernel's tiles."""
    width = _weight_bytes(inputs.precision)
    tokens = _sequences(inputs) * inputs.max_length
    if inputs.loss_kernel == "fused":
        tile = min(tokens, FUSED_TOKENS) * min(spec.vocab_size, FUSED_VOCAB) * width
        weight_chunk = min(spec.vocab_size, FUSED_VOCAB) * spec.hidden_size * width
        hidden = tokens * spec.hidden_size * (4 + width) + tokens * 7 * 4
        head_grad = spec.vocab_size * spec.hidden_size * 4 if inputs.method == "full" else 0
        return tile + weight_chunk + hidden + head_grad
    per_value = 12 if inputs.precision == "fp32" else 10
    if spec.final_logit_softcapping:
        per_value += 4  # Gemma 2's tanh soft-capping keeps two more 16-bit copies
    if inputs.loss_kernel == "chunked":
        per_value = width + (per_value - width) / LOGIT_CHUNKS
    return tokens * spec.vocab_size * per_value


def _caveats(spec: ModelSpec, inputs: MemoryInputs, evictable_gb: float) -> tuple[str, ...]:
    caveats = []
    if spec.caveat:
        caveats.append(spec.caveat)
    if inputs.method != "full":
        unknown = unknown_target_modules(spec, _targets(spec, inputs.target_modules))
        if unknown:
            caveats.append(
                f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not among "
                f"{spec.name}'s linear layers ({', '.join(spec.linear_names)}); left out of "
                "the estimate."
            )
    if spec.final_logit_softcapping and inputs.attention != "eager":
        caveats.append(
            f"{spec.name} soft-caps its attention scores; train it with eager attention "
            "(more memory, counted when you choose it)."
        )
    if evictable_gb >= 0.5:
        caveats.append(
            f"The paged optimizer's {evictable_gb:.1f} GB of states move to CPU memory when "
            "the GPU runs short, which slows training but avoids running out."
        )
    return tuple(caveats)


# ---------------------------------------------------------------------------- suggestions


def suggest_changes(spec: ModelSpec, inputs: MemoryInputs, gpu_gb: float) -> list[Suggestion]:
    """The cheapest change of each kind that makes the run fit, cheapest kind first.

    Kinds, from cheapest: smaller batch with more accumulation (same effective batch),
    sdpa instead of eager attention, gradient checkpointing, an 8-bit optimizer (full
    fine-tuning), a shorter max length, a smaller rank, a lighter method. When no
    single change makes it fit, the one suggestion combines the strongest change of
    each kind, cheapest first, until the run at least starts (``tight``); its kind
    names them all (``batch+checkpointing``).
    """
    found = []
    strongest: list[tuple[str, dict[str, Any]]] = []
    for kind, options in _change_kinds(spec, inputs):
        last = None
        for changes in options:
            last = changes
            changed = dataclasses.replace(inputs, **changes)
            estimate = _estimate(spec, changed, gpu_gb)
            if estimate.verdict == "fits":
                found.append(_suggestion(kind, changes, inputs, estimate))
                break
        if last is not None:
            strongest.append((kind, last))
    if found or not strongest:
        return found
    combined: dict[str, Any] = {}
    kinds = []
    for kind, changes in strongest:
        combined.update(changes)
        kinds.append(kind)
        estimate = _estimate(spec, dataclasses.replace(inputs, **combined), gpu_gb)
        if estimate.verdict != "won't fit":
            break
    suggestion = _suggestion("+".join(kinds), combined, inputs, estimate)
    if estimate.verdict == "won't fit":
        text = f"{suggestion.text[:-1]}: still too much; choose a smaller model or a larger GPU."
        suggestion = dataclasses.replace(suggestion, text=text)
    return [suggestion]


def _change_kinds(
    spec: ModelSpec, inputs: MemoryInputs
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Each kind of change with its options, from the mildest to the strongest."""
    batches = []
    batch, accum = inputs.batch, inputs.grad_accum
    while batch > 1:
        batch //= 2
        accum = math.ceil(inputs.batch * inputs.grad_accum / batch)
        batches.append({"batch": batch, "grad_accum": accum})
    yield "batch", batches
    yield "attention", [{"attention": "sdpa"}] if inputs.attention == "eager" else []
    yield (
        "checkpointing",
        [] if inputs.gradient_checkpointing else [{"gradient_checkpointing": True}],
    )
    eight_bit = inputs.method == "full" and not inputs.optimizer.endswith("8bit")
    yield "optimizer", [{"optimizer": "paged_adamw_8bit"}] if eight_bit else []
    lengths = sorted(
        {max(128, int(inputs.max_length * share) // 64 * 64) for share in (0.75, 0.5, 0.375, 0.25)},
        reverse=True,
    )
    yield "length", [{"max_length": n} for n in lengths if n < inputs.max_length]
    ranks = [] if inputs.method == "full" else [r for r in (32, 16, 8) if r < inputs.r]
    yield "rank", [{"r": r} for r in ranks]
    lighter = {"full": ["lora", "qlora"], "lora": ["qlora"]}.get(inputs.method, [])
    yield "method", [_method_change(method, inputs) for method in lighter]


def _method_change(method: str, inputs: MemoryInputs) -> dict[str, Any]:
    if method == "qlora":
        return {"method": "qlora", "optimizer": "paged_adamw_32bit"}
    optimizer = "adamw_torch" if inputs.optimizer == "paged_adamw_8bit" else inputs.optimizer
    return {"method": method, "optimizer": optimizer}


def _suggestion(
    kind: str, changes: dict[str, Any], before: MemoryInputs, estimate: MemoryEstimate
) -> Suggestion:
    words = "; ".join(_describe(key, value, before, changes) for key, value in changes.items())
    words = "; ".join(part for part in words.split("; ") if part)
    text = f"{words[0].upper()}{words[1:]}: {estimate.total_gb:.1f} GB of {estimate.gpu_gb:g} GB."
    return Suggestion(kind, changes, text, estimate.total_gb)


def _describe(key: str, value: Any, before: MemoryInputs, changes: dict[str, Any]) -> str:
    """One change in plain words ("" for a value another change already describes)."""
    if key == "batch":
        accum = changes.get("grad_accum", before.grad_accum)
        return (
            f"batch {value} with gradient accumulation {accum} instead of {before.batch} × "
            f"{before.grad_accum} (same effective batch)"
        )
    if key == "grad_accum" or (key == "optimizer" and "method" in changes):
        return ""
    if key == "attention":
        return "sdpa attention instead of eager (no s² score matrices)"
    if key == "gradient_checkpointing":
        return "turn on gradient checkpointing (about 30 % slower)"
    if key == "optimizer":
        return f"optimizer {value} instead of {before.optimizer}"
    if key == "max_length":
        return f"max length {value:,} instead of {before.max_length:,} (longer examples are cut)"
    if key == "r":
        return f"rank {value} instead of {before.r} (alpha {2 * value})"
    if key == "method":
        names = {"qlora": "QLoRA", "lora": "LoRA", "full": "full fine-tuning"}
        return f"{names[value]} instead of {names[before.method]}"
    return f"{key} {value}"


# ---------------------------------------------------------------------------- time

GPU_PEAK_TFLOPS = {
    "RTX 3090": 71.0,
    "RTX A5000": 111.0,
    "L4": 121.0,
    "RTX 4090": 165.2,
    "A100": 312.0,
    "H100": 989.0,
    "H200": 989.0,
}
"""Dense BF16 tensor TFLOPS with FP32 accumulation (the notes' GPU table; H100/H200 SXM)."""
DEFAULT_GPU_CLASS = "RTX 3090"
MFU_RANGE = {"qlora": (0.15, 0.35), "lora": (0.20, 0.40), "full": (0.25, 0.45)}
"""Model FLOPs utilisation expected of Hugging Face training with bitsandbytes: the
notes measure 15–25 % for plain HF + bnb (LLaMA-Factory, A100) and 30–45 % for tuned
QLoRA (torchtune, RTX 4090)."""

_GPU_PATTERNS = (
    ("RTX 4090", r"4090"),
    ("RTX 3090", r"3090"),
    ("RTX A5000", r"A5000"),
    ("H200", r"H200"),
    ("H100", r"H100"),
    ("A100", r"A100"),
    ("L4", r"\bL4\b"),
)


def gpu_class_for(name: str) -> str | None:
    """The :data:`GPU_PEAK_TFLOPS` class of a GPU name such as ``NVIDIA GeForce RTX 4090``."""
    for gpu_class, pattern in _GPU_PATTERNS:
        if re.search(pattern, name, re.IGNORECASE):
            return gpu_class
    return None


@dataclass(frozen=True)
class TimeEstimate:
    """How long training may take, as a range (seconds), with the throughput assumed."""

    low_s: float
    high_s: float
    tokens: int
    tokens_per_s: tuple[float, float]
    gpu_class: str
    caveats: tuple[str, ...] = field(default_factory=tuple)

    def text(self) -> str:
        """The range in plain words, e.g. ``about 30 min to 1.2 h``."""
        low, high = format_duration(self.low_s), format_duration(self.high_s)
        return f"about {low}" if low == high else f"about {low} to {high}"


def format_duration(seconds: float) -> str:
    """Seconds as minutes below 90 minutes, else hours (``45 min``, ``2.5 h``)."""
    minutes = seconds / 60
    if minutes < 1:
        return "1 min"
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"


def flops_per_token(spec: ModelSpec, method: str, objective: str = "sft") -> float:
    """Model FLOPs per trained token: 4N with frozen base weights, 6N for full fine-tuning.

    N counts the matmul weights, lm_head included. DPO adds the reference model's
    forward pass (2N).
    """
    n = spec.linear_parameters + spec.vocab_size * spec.hidden_size
    factor = 6 if method == "full" else 4
    if objective == "dpo":
        factor += 2
    return factor * n


def estimate_time(
    tokens_per_epoch: int,
    epochs: float,
    spec: ModelSpec,
    method: str,
    gpu_class: str | None,
    *,
    objective: str = "sft",
) -> TimeEstimate:
    """Training time: tokens × epochs ÷ the throughput expected on ``gpu_class``.

    Throughput is MFU × the GPU's peak ÷ FLOPs per token, with the MFU range of
    :data:`MFU_RANGE`; it assumes padding-free or packed batches (padding costs extra).
    An unknown ``gpu_class`` is taken as an RTX 3090, and said so.
    """
    if method not in MFU_RANGE:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    caveats = []
    if gpu_class not in GPU_PEAK_TFLOPS:
        shown = f"GPU {gpu_class!r}" if gpu_class else "No GPU"
        caveats.append(
            f"{shown} is not in ftstudio's table; the time assumes an {DEFAULT_GPU_CLASS}."
        )
        gpu_class = DEFAULT_GPU_CLASS
    if spec.caveat:
        caveats.append(spec.caveat)
    peak = GPU_PEAK_TFLOPS[gpu_class] * 1e12
    per_token = flops_per_token(spec, method, objective)
    low_mfu, high_mfu = MFU_RANGE[method]
    fast, slow = high_mfu * peak / per_token, low_mfu * peak / per_token
    tokens = int(tokens_per_epoch * epochs)
    return TimeEstimate(
        low_s=tokens / fast,
        high_s=tokens / slow,
        tokens=tokens,
        tokens_per_s=(slow, fast),
        gpu_class=gpu_class,
        caveats=tuple(caveats),
    )
