"""Recommended hyperparameters drawn from the user's data and GPU, each with its reason.

The ranges come from the fine-tuning guide: learning rate by method (full 1e-6 to
5e-5, LoRA 1e-4 to 3e-4, QLoRA 2e-4 to 5e-4), LoRA rank 8–64 with alpha = 2 × r,
1–5 epochs (more for small datasets), an effective batch of 32–128, and a max
length read from the data's own token lengths. :func:`range_warnings` flags every
value of a configuration that leaves its range.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from ftstudio.core.dataset.stats import DatasetStats, percentile
from ftstudio.core.memory import MemoryEstimate, MemoryInputs, estimate_memory
from ftstudio.core.models.spec import ModelSpec, target_module_presets, unknown_target_modules
from ftstudio.core.train_config import TrainConfig, defaults_for

LEARNING_RATE_RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("sft", "full"): (1e-6, 5e-5),
    ("sft", "lora"): (1e-4, 3e-4),
    ("sft", "qlora"): (2e-4, 5e-4),
    ("dpo", "full"): (1e-7, 5e-6),
    ("dpo", "lora"): (1e-6, 5e-5),
    ("dpo", "qlora"): (1e-6, 5e-5),
}
"""(objective, method) → the usual learning-rate range. DPO's are ftstudio's own:
preference tuning diverges at SFT rates."""
RANK_RANGE = (8, 64)
RANK_BY_SIZE = ((1_000, 8), (10_000, 16), (100_000, 32))
"""Below each number of examples, the rank; 64 above the last."""
EPOCH_RANGE = (1, 5)
EPOCHS_BY_SIZE = ((200, 5), (1_000, 3), (10_000, 2))
"""Below each number of examples, the epochs; 1 above the last."""
EFFECTIVE_BATCH_RANGE = (32, 128)
DROPOUT_MAX = 0.1
TASKS = ("style", "knowledge")
"""``style``: tone, format, consistency. ``knowledge``: new domain behaviour, which
needs more adapter capacity (one rank step up, every linear layer)."""
CHARS_PER_TOKEN = 3.5
"""Characters per token assumed when the data was measured without a tokenizer."""
LENGTH_STEP = 64
DEFAULT_MAX_LENGTH = 1024

_METHOD_NAMES = {"qlora": "QLoRA", "lora": "LoRA", "full": "Full fine-tuning"}


def format_rate(value: float) -> str:
    """A learning rate as people write it: ``2e-4``, ``1.5e-5``."""
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


@dataclass(frozen=True)
class Advice:
    """One recommended value of a :class:`TrainConfig` field, with the reason in one line."""

    field: str
    value: Any
    why: str


@dataclass(frozen=True)
class Recommendation:
    """Recommended values for a run, and the memory estimate at those values."""

    method: str
    objective: str
    advice: tuple[Advice, ...]
    memory: MemoryEstimate

    def get(self, field: str) -> Advice | None:
        """The advice for ``field``, or ``None`` when there is none (LoRA fields for full)."""
        return next((item for item in self.advice if item.field == field), None)

    def values(self) -> dict[str, Any]:
        """Field name → recommended value."""
        return {item.field: item.value for item in self.advice}

    def apply(self, config: TrainConfig) -> TrainConfig:
        """``config`` with the method, objective and every recommended value set."""
        return dataclasses.replace(
            config, method=self.method, objective=self.objective, **self.values()
        )


@dataclass(frozen=True)
class RangeWarning:
    """A value outside its usual range: the field and what to know about it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def recommend(
    spec: ModelSpec,
    method: str,
    stats: DatasetStats | None,
    gpu_gb: float = 24.0,
    *,
    objective: str = "sft",
    task: str = "style",
    devices: int = 1,
) -> Recommendation:
    """Recommend values for training ``spec`` with ``method`` on a ``gpu_gb`` card.

    ``stats`` are the dataset's statistics (``None`` before there is data); token
    lengths come from ``stats.token_counts`` when the data was measured with a
    tokenizer, else are estimated from characters. ``task`` is one of :data:`TASKS`.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
    defaults = defaults_for(method, objective)
    usable = stats.usable if stats is not None else None
    advice = [
        learning_rate_advice(method, objective),
        Advice("optimizer", defaults.optimizer, _optimizer_why(method)),
    ]
    if method != "full":
        rank = rank_advice(usable, task)
        advice += [
            rank,
            Advice("alpha", 2 * rank.value, f"2 × r = {2 * rank.value}: the usual scale."),
            target_advice(spec, usable, task),
        ]
    advice.append(epochs_advice(usable, objective))
    length = max_length_advice(spec, stats)
    advice.append(length)
    config = dataclasses.replace(defaults, **{item.field: item.value for item in advice})
    batching, memory = batch_advice(spec, config, usable, gpu_gb, devices)
    advice += batching
    return Recommendation(method, objective, tuple(advice), memory)


def learning_rate_advice(method: str, objective: str = "sft") -> Advice:
    """The method's default learning rate and where it sits in the method's range."""
    value = defaults_for(method, objective).learning_rate
    low, high = LEARNING_RATE_RANGES[(objective, method)]
    name = _METHOD_NAMES[method]
    if objective == "dpo":
        why = (
            f"DPO only nudges preferences and diverges at SFT rates: {format_rate(value)} "
            f"({name} DPO range {format_rate(low)} to {format_rate(high)})."
        )
    elif method == "qlora":
        why = (
            f"QLoRA learns well at {format_rate(low)} to {format_rate(high)}; "
            f"{format_rate(value)} is the QLoRA paper's value."
        )
    elif method == "lora":
        why = (
            f"LoRA's usual range is {format_rate(low)} to {format_rate(high)}; "
            f"{format_rate(value)} sits in the middle."
        )
    else:
        why = (
            f"Every weight changes, so the rate is small: {format_rate(low)} to "
            f"{format_rate(high)}; {format_rate(value)} is a safe middle."
        )
    return Advice("learning_rate", value, why)


def rank_advice(usable: int | None, task: str = "style") -> Advice:
    """Rank 8, 16, 32 or 64 by the number of usable examples (one step up for knowledge)."""
    if usable is None:
        value = 16 if task == "style" else 32
        return Advice("r", value, f"No examples measured yet: {value} is a good balance.")
    value = next((rank for limit, rank in RANK_BY_SIZE if usable < limit), 64)
    why = f"{usable:,} examples: rank {value} (8 below 1,000, 16 below 10,000, 32 below 100,000)"
    if task == "knowledge" and value < 64:
        value *= 2
        why = f"{why}, one step up to {value} for new domain knowledge"
    return Advice("r", value, f"{why}.")


def target_advice(spec: ModelSpec, usable: int | None, task: str = "style") -> Advice:
    """Every linear layer for knowledge or 1,000+ examples; else the attention layers."""
    presets = target_module_presets(spec)
    if task == "knowledge" or (usable is not None and usable >= 1_000):
        reason = "new knowledge" if task == "knowledge" else f"{usable:,} examples"
        why = (
            f"Every linear layer ({', '.join(presets['full'])}): the QLoRA paper needed them "
            f"all to match full fine-tuning, and {reason} can use the capacity."
        )
        return Advice("target_modules", tuple(presets["full"]), why)
    why = (
        f"The attention layers ({', '.join(presets['recommended'])}): enough for style and "
        "format, with a small adapter."
    )
    return Advice("target_modules", tuple(presets["recommended"]), why)


def epochs_advice(usable: int | None, objective: str = "sft") -> Advice:
    """1–5 epochs: more for small datasets, fewer for large ones (DPO: 1)."""
    if objective == "dpo":
        return Advice("epochs", 1, "DPO usually needs one pass; more tends to overfit.")
    if usable is None:
        return Advice("epochs", 3, "No examples measured yet: 3 is a common start.")
    value = next((epochs for limit, epochs in EPOCHS_BY_SIZE if usable < limit), 1)
    return Advice(
        "epochs",
        value,
        f"{usable:,} examples: {value} epoch{'s' if value > 1 else ''} (small sets need more "
        "passes, large ones fewer; watch the validation loss).",
    )


def max_length_advice(spec: ModelSpec, stats: DatasetStats | None) -> Advice:
    """The p99 of the data's own token lengths, rounded up to a multiple of 64.

    Without a tokenizer's counts, tokens are estimated as characters ÷ 3.5; without
    data, 1,024 (TRL's default). Never more than the model's context.
    """
    counts, estimated = _token_lengths(stats)
    if not counts:
        return Advice(
            "max_length",
            _capped(spec, DEFAULT_MAX_LENGTH),
            "No measured examples yet: 1,024 (TRL's default) until the data says otherwise.",
        )
    p95, p99 = percentile(counts, 95), percentile(counts, 99)
    value = max(LENGTH_STEP, math.ceil(p99 / LENGTH_STEP) * LENGTH_STEP)
    capped = _capped(spec, value)
    cut = sum(1 for count in counts if count > capped)
    about = "about " if estimated else ""
    outcome = f"cuts the {cut:,} longer ones" if cut else "keeps every one whole"
    why = (
        f"99 % of your examples fit in {about}{p99:,.0f} tokens (95 %: {p95:,.0f}); "
        f"{capped:,} {outcome}."
    )
    if capped < value:
        why = f"{why[:-1]}, capped at the model's context of {capped:,}."
    if estimated:
        why = f"{why} Estimated from characters; measure with the model's tokenizer to be sure."
    return Advice("max_length", capped, why)


def _token_lengths(stats: DatasetStats | None) -> tuple[list[float], bool]:
    if stats is None:
        return [], False
    if stats.token_counts:
        return sorted(stats.token_counts), False
    return sorted(count / CHARS_PER_TOKEN for count in stats.char_counts), True


def _capped(spec: ModelSpec, length: int) -> int:
    limit = spec.max_position_embeddings
    return min(length, limit) if limit else length


def target_effective_batch(usable: int | None) -> int:
    """32 up to 10,000 examples, 64 up to 100,000, then 128."""
    if usable is None or usable < 10_000:
        return 32
    return 64 if usable < 100_000 else 128


def batch_advice(
    spec: ModelSpec, config: TrainConfig, usable: int | None, gpu_gb: float, devices: int = 1
) -> tuple[list[Advice], MemoryEstimate]:
    """Per-GPU batch, accumulation and checkpointing for an effective batch of 32–128.

    The batch is the largest power of two that fits the GPU with room to spare;
    gradient checkpointing is turned off when the run fits without it (faster).
    """
    effective = target_effective_batch(usable)
    inputs = MemoryInputs.from_config(config)
    candidates = [size for size in (16, 8, 4, 2, 1) if size <= max(1, effective // devices)]
    for batch in candidates:  # always ends at 1
        trial = dataclasses.replace(inputs, batch=batch, gradient_checkpointing=True)
        memory = estimate_memory(spec, trial, gpu_gb)
        if memory.verdict == "fits":
            break
    accum = max(1, math.ceil(effective / (batch * devices)))
    checkpointing = True
    faster = estimate_memory(
        spec, dataclasses.replace(inputs, batch=batch, gradient_checkpointing=False), gpu_gb
    )
    if memory.verdict == "fits" and faster.verdict == "fits":
        checkpointing, memory = False, faster
    gpus = f" × {devices} GPUs" if devices > 1 else ""
    if memory.verdict == "fits":
        batch_why = (
            f"The largest batch that fits {gpu_gb:g} GB with room to spare "
            f"({memory.total_gb:.1f} GB estimated)."
        )
    else:
        batch_why = (
            f"Even batch 1 needs {memory.total_gb:.1f} GB of {gpu_gb:g} GB; see the memory "
            "estimate's suggestions."
        )
    accum_why = (
        f"{batch} × {accum}{gpus} = an effective batch of {batch * accum * devices} "
        f"(32–128 steadies training; {effective} suits "
        f"{'your data' if usable is not None else 'a first run'})."
    )
    ckpt_why = (
        "Fits without it, so training runs about 30 % faster."
        if not checkpointing
        else "Keeps activations small; costs about 30 % more time."
    )
    advice = [
        Advice("per_device_batch_size", batch, batch_why),
        Advice("grad_accum", accum, accum_why),
        Advice("gradient_checkpointing", checkpointing, ckpt_why),
    ]
    return advice, memory


def _optimizer_why(method: str) -> str:
    if method == "qlora":
        return "Paged 32-bit AdamW, as in the QLoRA paper: it survives memory spikes."
    if method == "lora":
        return "Plain AdamW: the adapters' optimizer state is small."
    return "Paged 8-bit AdamW: the optimizer state of every weight is the largest cost."


def range_warnings(
    config: TrainConfig,
    *,
    spec: ModelSpec | None = None,
    stats: DatasetStats | None = None,
    devices: int = 1,
) -> list[RangeWarning]:
    """A warning for every value of ``config`` outside its usual range.

    With ``spec``: target modules the model lacks, a max length beyond its context.
    With ``stats``: a max length that cuts more than 5 % of the examples.
    """
    warnings = []
    low, high = LEARNING_RATE_RANGES[(config.objective, config.method)]
    if not low <= config.learning_rate <= high:
        name = _METHOD_NAMES[config.method] + (" DPO" if config.objective == "dpo" else "")
        effect = "unstable, loss spikes" if config.learning_rate > high else "slow learning"
        warnings.append(
            RangeWarning(
                "learning_rate",
                f"{format_rate(config.learning_rate)} is outside {name}'s usual "
                f"{format_rate(low)} to {format_rate(high)}"
                f" ({effect}).",
            )
        )
    if config.method != "full":
        warnings += _lora_warnings(config, spec)
    if not EPOCH_RANGE[0] <= config.epochs <= EPOCH_RANGE[1]:
        warnings.append(
            RangeWarning(
                "epochs", f"{config.epochs} is more than the usual 1–5; watch for overfitting."
            )
        )
    effective = config.effective_batch * devices
    if not EFFECTIVE_BATCH_RANGE[0] <= effective <= EFFECTIVE_BATCH_RANGE[1]:
        side = "noisy updates" if effective < EFFECTIVE_BATCH_RANGE[0] else "few updates"
        warnings.append(
            RangeWarning(
                "grad_accum",
                f"effective batch {config.per_device_batch_size} × {config.grad_accum}"
                f"{f' × {devices}' if devices > 1 else ''} = {effective} is outside the usual "
                f"32–128 ({side}).",
            )
        )
    warnings += _length_warnings(config, spec, stats)
    return warnings


def _lora_warnings(config: TrainConfig, spec: ModelSpec | None) -> list[RangeWarning]:
    warnings = []
    if not RANK_RANGE[0] <= config.r <= RANK_RANGE[1]:
        warnings.append(RangeWarning("r", f"rank {config.r} is outside the usual 8–64."))
    if config.alpha != 2 * config.r:
        warnings.append(
            RangeWarning(
                "alpha",
                f"alpha {config.alpha} is not 2 × r ({2 * config.r}); the adapters are scaled "
                f"by {config.alpha / config.r:g} instead of 2.",
            )
        )
    if config.dropout > DROPOUT_MAX:
        warnings.append(RangeWarning("dropout", f"{config.dropout:g} is above the usual 0.05–0.1."))
    if spec is not None:
        unknown = unknown_target_modules(spec, config.target_modules)
        if unknown:
            warnings.append(
                RangeWarning(
                    "target_modules",
                    f"{spec.name} has no {', '.join(unknown)}; its linear layers are "
                    f"{', '.join(spec.linear_names)}.",
                )
            )
    return warnings


def _length_warnings(
    config: TrainConfig, spec: ModelSpec | None, stats: DatasetStats | None
) -> list[RangeWarning]:
    warnings = []
    limit = spec.max_position_embeddings if spec is not None else None
    if limit and config.max_length > limit:
        warnings.append(
            RangeWarning(
                "max_length",
                f"{config.max_length:,} is longer than {spec.name}'s context of {limit:,}.",
            )
        )
    counts, estimated = _token_lengths(stats)
    if counts:
        p95 = percentile(counts, 95)
        if config.max_length < p95:
            cut = sum(1 for count in counts if count > config.max_length)
            about = "about " if estimated else ""
            warnings.append(
                RangeWarning(
                    "max_length",
                    f"{config.max_length:,} cuts {cut:,} of {len(counts):,} examples (more "
                    f"than 5 %); 95 % of them fit in {about}{p95:,.0f} tokens.",
                )
            )
    return warnings
