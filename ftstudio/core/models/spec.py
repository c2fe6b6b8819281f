"""A model's shape as planning needs it, read from its ``config.json`` values.

:class:`ModelSpec` holds the sizes (hidden size, layers, heads, vocabulary…) and
knows the model family's real linear-layer names, so that LoRA target modules and
the memory estimate use the layers the model actually has: Llama, Mistral, Qwen2
and Gemma name them ``q_proj``/``k_proj``/``v_proj``/``o_proj`` and
``gate_proj``/``up_proj``/``down_proj``; Phi-3 fuses them into ``qkv_proj`` and
``gate_up_proj``. An architecture ftstudio does not know is read the same way and
assumed to be Llama-shaped, with :attr:`ModelSpec.caveat` saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PRESET_NAMES = ("minimum", "recommended", "full")
"""Target-module presets: minimum (q, v), recommended (q, k, v, o), full (those plus the MLP)."""


class ModelError(Exception):
    """A model could not be read or found; the message names the file or value and the fix."""


@dataclass(frozen=True)
class Family:
    """What a ``model_type`` implies beyond its ``config.json`` numbers."""

    layout: str
    """``llama`` (separate q/k/v/o and gate/up/down) or ``phi3`` (fused qkv and gate_up)."""
    tie_default: bool
    """``tie_word_embeddings`` when the config leaves it out (the family's config default)."""
    qkv_bias: bool
    norms_per_layer: int


FAMILIES: dict[str, Family] = {
    "llama": Family("llama", False, False, 2),
    "mistral": Family("llama", False, False, 2),
    "qwen2": Family("llama", False, True, 2),
    "qwen3": Family("llama", False, False, 2),
    "gemma": Family("llama", True, False, 2),
    "gemma2": Family("llama", True, False, 4),
    "phi3": Family("phi3", False, False, 2),
}
_UNKNOWN_FAMILY = Family("llama", True, False, 2)

_PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    "llama": {
        "minimum": ("q_proj", "v_proj"),
        "recommended": ("q_proj", "k_proj", "v_proj", "o_proj"),
        "full": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    },
    # Phi-3 computes q, k and v in one fused layer, so "minimum" cannot leave k out.
    "phi3": {
        "minimum": ("qkv_proj",),
        "recommended": ("qkv_proj", "o_proj"),
        "full": ("qkv_proj", "o_proj", "gate_up_proj", "down_proj"),
    },
}

# config.json spellings of each size across model families, preferred first.
_ALIASES: dict[str, tuple[str, ...]] = {
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "num_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "num_heads": ("num_attention_heads", "n_head", "num_heads"),
    "num_kv_heads": ("num_key_value_heads", "num_kv_heads"),
    "intermediate_size": ("intermediate_size", "n_inner", "ffn_dim"),
    "vocab_size": ("vocab_size", "padded_vocab_size"),
}


@dataclass(frozen=True)
class LinearLayer:
    """One linear layer of a decoder block: its module name and shape."""

    name: str
    d_in: int
    d_out: int

    @property
    def parameters(self) -> int:
        """Weights in the layer (bias not counted)."""
        return self.d_in * self.d_out


@dataclass(frozen=True)
class ModelSpec:
    """A causal language model's architecture, as far as planning needs it.

    Attributes:
        name: what to call it (catalogue display name, folder name or hub id).
        model_type: ``config.json``'s ``model_type`` (``llama``, ``phi3``…).
        architecture: the first of ``architectures`` (``LlamaForCausalLM``…).
        source: ``catalogue``, ``local`` (a model folder), ``config`` (a lone
            config.json) or ``hub-cache`` (the Hugging Face download cache).
        location: the catalogue name, folder, file or hub id it was read from.
        hub_id: the hub repository, when known.
        known: whether ftstudio knows the family (else it is assumed Llama-shaped).
        max_position_embeddings: the longest context the model was built for.
        final_logit_softcapping: Gemma 2's logit cap (costs memory in the loss).
    """

    name: str
    model_type: str
    architecture: str
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    source: str = "config"
    location: str = ""
    hub_id: str | None = None
    known: bool = True
    max_position_embeddings: int | None = None
    final_logit_softcapping: float | None = None
    attention_bias: bool = False

    @property
    def family(self) -> Family:
        """The family's layout and defaults (Llama-like for unknown architectures)."""
        return FAMILIES.get(self.model_type, _UNKNOWN_FAMILY)

    @property
    def q_dim(self) -> int:
        """Width of the attention queries: heads × head size."""
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of the keys (and of the values): key/value heads × head size."""
        return self.num_kv_heads * self.head_dim

    def linear_layers(self) -> tuple[LinearLayer, ...]:
        """The linear layers of one decoder block, with the family's real module names."""
        h, ff = self.hidden_size, self.intermediate_size
        if self.family.layout == "phi3":
            return (
                LinearLayer("qkv_proj", h, self.q_dim + 2 * self.kv_dim),
                LinearLayer("o_proj", self.q_dim, h),
                LinearLayer("gate_up_proj", h, 2 * ff),
                LinearLayer("down_proj", ff, h),
            )
        return (
            LinearLayer("q_proj", h, self.q_dim),
            LinearLayer("k_proj", h, self.kv_dim),
            LinearLayer("v_proj", h, self.kv_dim),
            LinearLayer("o_proj", self.q_dim, h),
            LinearLayer("gate_proj", h, ff),
            LinearLayer("up_proj", h, ff),
            LinearLayer("down_proj", ff, h),
        )

    @property
    def linear_names(self) -> tuple[str, ...]:
        """Module names of the linear layers in each decoder block."""
        return tuple(layer.name for layer in self.linear_layers())

    @property
    def linear_parameters(self) -> int:
        """Weights of every decoder block's linear layers (what 4-bit quantisation shrinks)."""
        return self.num_layers * sum(layer.parameters for layer in self.linear_layers())

    @property
    def embedding_parameters(self) -> int:
        """Input embedding weights."""
        return self.vocab_size * self.hidden_size

    @property
    def lm_head_parameters(self) -> int:
        """Output projection weights; 0 when it shares the embedding's."""
        return 0 if self.tie_word_embeddings else self.vocab_size * self.hidden_size

    @property
    def other_parameters(self) -> int:
        """Everything that stays in 16 bits under QLoRA: embeddings, lm_head, norms, biases."""
        norms = (self.num_layers * self.family.norms_per_layer + 1) * self.hidden_size
        biases = 0
        if self.attention_bias:
            biases = self.q_dim + 2 * self.kv_dim + self.hidden_size
        elif self.family.qkv_bias:
            biases = self.q_dim + 2 * self.kv_dim
        return (
            self.embedding_parameters + self.lm_head_parameters + norms + self.num_layers * biases
        )

    @property
    def parameters(self) -> int:
        """Total parameters (a tied lm_head counted once, as ``model.num_parameters()``)."""
        return self.linear_parameters + self.other_parameters

    @property
    def caveat(self) -> str | None:
        """Why numbers for this model may be less accurate, or ``None``."""
        if self.known:
            return None
        return (
            f"ftstudio does not know the architecture {self.architecture} (model_type "
            f"{self.model_type!r}); the estimate assumes a Llama-style decoder (q/k/v/o "
            "attention and a gated MLP) and may be further off than the usual ±15 %."
        )

    def target_module_presets(self) -> dict[str, list[str]]:
        """See :func:`target_module_presets`."""
        return target_module_presets(self)


def target_module_presets(spec: ModelSpec) -> dict[str, list[str]]:
    """LoRA target modules for the presets, in the model's own layer names.

    ``minimum``: queries and values; ``recommended``: queries, keys, values and the
    attention output; ``full``: those plus the MLP (every linear layer).
    """
    presets = _PRESETS[spec.family.layout]
    return {name: list(presets[name]) for name in PRESET_NAMES}


def preset_of(spec: ModelSpec, modules: tuple[str, ...] | list[str]) -> str | None:
    """The preset name whose modules are exactly ``modules`` (any order), or ``None``."""
    wanted = set(modules)
    for name, names in target_module_presets(spec).items():
        if set(names) == wanted:
            return name
    return None


def unknown_target_modules(spec: ModelSpec, modules: tuple[str, ...] | list[str]) -> list[str]:
    """The names in ``modules`` that are not linear layers of ``spec``'s decoder blocks."""
    known = set(spec.linear_names)
    return [name for name in modules if name not in known]


def spec_from_config(
    config: Mapping[str, Any],
    *,
    name: str,
    source: str = "config",
    location: str = "",
    hub_id: str | None = None,
    where: str = "config.json",
) -> ModelSpec:
    """Build a :class:`ModelSpec` from ``config.json`` values.

    ``where`` names the file in error messages. Multimodal configs that keep the
    language model's sizes under ``text_config`` are read from there. Raises
    :class:`ModelError` naming the missing or wrong key.
    """
    values = _text_config(config)
    model_type = str(values.get("model_type") or config.get("model_type") or "unknown")
    architectures = config.get("architectures")
    if isinstance(architectures, list) and architectures and isinstance(architectures[0], str):
        architecture = architectures[0]
    else:
        architecture = model_type
    sizes = {key: _size(values, key, where) for key in ("hidden_size", "num_layers", "num_heads")}
    sizes["vocab_size"] = _size(values, "vocab_size", where)
    heads = sizes["num_heads"]
    kv_heads = _size(values, "num_kv_heads", where, default=heads)
    if values.get("multi_query") is True:
        kv_heads = 1
    head_dim = _size(values, "head_dim", where, default=sizes["hidden_size"] // heads)
    intermediate = _size(values, "intermediate_size", where, default=4 * sizes["hidden_size"])
    family = FAMILIES.get(model_type)
    tie = values.get("tie_word_embeddings", config.get("tie_word_embeddings"))
    if not isinstance(tie, bool):
        tie = (family or _UNKNOWN_FAMILY).tie_default
    softcap = values.get("final_logit_softcapping")
    max_positions = values.get("max_position_embeddings")
    return ModelSpec(
        name=name,
        model_type=model_type,
        architecture=architecture,
        hidden_size=sizes["hidden_size"],
        num_layers=sizes["num_layers"],
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        intermediate_size=intermediate,
        vocab_size=sizes["vocab_size"],
        tie_word_embeddings=tie,
        source=source,
        location=location,
        hub_id=hub_id,
        known=family is not None,
        max_position_embeddings=max_positions if _positive_int(max_positions) else None,
        final_logit_softcapping=float(softcap) if _positive_number(softcap) else None,
        attention_bias=values.get("attention_bias") is True,
    )


def _text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The mapping that holds the language model's sizes (``text_config`` for multimodal)."""
    text = config.get("text_config")
    has_sizes = any(key in config for key in _ALIASES["hidden_size"])
    if not has_sizes and isinstance(text, Mapping):
        return text
    return config


def _size(values: Mapping[str, Any], key: str, where: str, *, default: int | None = None) -> int:
    spellings = _ALIASES.get(key, (key,))
    for spelling in spellings:
        if spelling in values and values[spelling] is not None:
            value = values[spelling]
            if not _positive_int(value):
                raise ModelError(
                    f"{where}: {spelling!r} must be a positive whole number, not "
                    f"{value!r}. The file looks damaged; download the model's config.json again."
                )
            return int(value)
    if default is not None:
        return default
    others = f" (nor {', '.join(repr(s) for s in spellings[1:])})" if len(spellings) > 1 else ""
    raise ModelError(
        f"{where} has no {spellings[0]!r}{others}, so the model's size is unknown. Is this "
        "the config.json of a causal language model? Download it again, or choose another model."
    )


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0
