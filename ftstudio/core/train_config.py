"""The one training configuration: every field with its help, bounds and per-method defaults.

:class:`TrainConfig` is what the wizard edits, what ``save_config`` writes as YAML
and what ``ftstudio train CONFIG.yaml`` runs. :func:`load_config` reports every
problem of a file at once, by key and line: unknown keys, wrong types, values out
of range, choices that do not exist, and settings that contradict each other.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import ftstudio
from ftstudio.core.atomic import atomic_write_text
from ftstudio.core.fields import ConfigError, FieldProblem, field_specs, from_mapping, to_mapping
from ftstudio.core.fields import option as _option
from ftstudio.core.project import TINY_MODEL

METHODS = ("qlora", "lora", "full")
OBJECTIVES = ("sft", "dpo")
PRECISIONS = ("bf16", "fp16", "fp32")
OPTIMIZERS = ("adamw_torch", "paged_adamw_8bit", "paged_adamw_32bit", "adamw_8bit")
SCHEDULERS = ("cosine", "linear", "constant")
ATTENTION = ("sdpa", "flash_attention_2", "eager")
RECOMMENDED_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")
"""The "recommended" target-module preset in Llama-family names (the default)."""


@dataclass(frozen=True)
class TrainConfig:
    """A complete training run: model, data, method and every hyperparameter."""

    base_model: str = _option(
        TINY_MODEL,
        label="Base model",
        help="The model to fine-tune: a catalogue name, a local model folder or a Hugging "
        "Face hub id (downloaded when training starts).",
    )
    dataset: str = _option(
        "",
        label="Dataset file",
        help="The training examples, relative to the project folder (e.g. datasets/train.jsonl).",
        placeholder="datasets/train.jsonl",
    )
    val_fraction: float = _option(
        0.1,
        label="Validation share",
        help="Share of the examples held back to measure the validation loss (0 holds none back).",
        minimum=0.0,
        maximum=0.5,
    )
    method: str = _option(
        "qlora",
        label="Method",
        help="qlora: the base model in 4 bits with small trainable adapters; fits 7–8B models "
        "on 24 GB. lora: adapters on a 16-bit base; faster, about twice the memory. full: "
        "every weight trains; small models only.",
        choices=METHODS,
    )
    objective: str = _option(
        "sft",
        label="Objective",
        help="sft: learn to answer like the examples. dpo: learn to prefer the chosen answer "
        "over the rejected one (needs a preference dataset).",
        choices=OBJECTIVES,
    )
    r: int = _option(
        16,
        label="LoRA rank (r)",
        help="Size of the adapter matrices. 8: lightweight; 16: a good balance; 32–64: more "
        "capacity for larger datasets. Not used by full fine-tuning.",
        minimum=1,
        maximum=1024,
    )
    alpha: int = _option(
        32,
        label="LoRA alpha",
        help="Scales the adapters' effect by alpha / r. Usually 2 × r.",
        minimum=1,
        maximum=4096,
    )
    dropout: float = _option(
        0.05,
        label="LoRA dropout",
        help="Share of adapter inputs dropped at random while training, against "
        "overfitting; 0.05–0.1 is typical.",
        minimum=0.0,
        maximum=0.5,
    )
    target_modules: tuple[str, ...] = _option(
        label="Target modules",
        help="The model's linear layers that get adapters. Presets: minimum (q, v), "
        "recommended (q, k, v, o), full (those plus the MLP). The names depend on the "
        "model: Phi-3, for one, fuses q, k and v into qkv_proj.",
        default_factory=lambda: RECOMMENDED_MODULES,
    )
    learning_rate: float = _option(
        2e-4,
        label="Learning rate",
        help="How big each update step is. Typical: full 1e-6 to 5e-5, LoRA 1e-4 to 3e-4, "
        "QLoRA 2e-4 to 5e-4. Too high: the loss spikes; too low: learning is slow.",
        minimum=1e-8,
        maximum=1e-2,
    )
    lr_scheduler: str = _option(
        "cosine",
        label="Learning-rate schedule",
        help="How the learning rate changes after warm-up: cosine and linear decay towards "
        "zero, constant keeps it.",
        choices=SCHEDULERS,
    )
    warmup_ratio: float = _option(
        0.03,
        label="Warm-up share",
        help="Share of the steps spent raising the learning rate from zero, which steadies "
        "the start of training.",
        minimum=0.0,
        maximum=0.5,
    )
    epochs: int = _option(
        3,
        label="Epochs",
        help="Passes over the dataset. 1–5 is typical: more for small datasets, fewer for "
        "large ones. Watch the validation loss for overfitting.",
        minimum=1,
        maximum=100,
    )
    max_steps: int = _option(
        0,
        label="Max steps",
        help="Stop after this many optimizer steps; 0 trains for all the epochs.",
        minimum=0,
        maximum=10_000_000,
    )
    per_device_batch_size: int = _option(
        4,
        label="Batch size per GPU",
        help="Examples processed together on each GPU. Larger is faster but needs more memory.",
        minimum=1,
        maximum=1024,
    )
    grad_accum: int = _option(
        8,
        label="Gradient accumulation",
        help="Batches added up before each update. Effective batch = batch size × "
        "accumulation × GPUs; aim for 32–128.",
        minimum=1,
        maximum=1024,
    )
    max_length: int = _option(
        1024,
        label="Max length (tokens)",
        help="The longest example in tokens; longer ones are cut. Choose it from your own "
        "data (its 95th–99th percentile), not a fixed 2048.",
        minimum=16,
        maximum=1_048_576,
    )
    gradient_checkpointing: bool = _option(
        True,
        label="Gradient checkpointing",
        help="Recompute activations in the backward pass instead of keeping them: much less "
        "memory, about 30 % slower.",
    )
    packing: bool = _option(
        False,
        label="Packing",
        help="Put several short examples into one sequence, so no compute goes to padding. "
        "Faster when lengths vary.",
    )
    assistant_only_loss: bool = _option(
        True,
        label="Learn from answers only",
        help="Compute the loss on the assistant's answers only, not on system and user text. "
        "Needs a chat template that marks the assistant's turns.",
    )
    precision: str = _option(
        "bf16",
        label="Precision",
        help="Number format for training. bf16 on recent GPUs (RTX 30xx and newer, A100, "
        "H100); fp16 on older ones; fp32 on CPU or for debugging (slow, twice the memory).",
        choices=PRECISIONS,
    )
    optimizer: str = _option(
        "paged_adamw_32bit",
        label="Optimizer",
        help="adamw_torch: the standard. adamw_8bit: optimizer state in 8 bits (less memory). "
        "paged_…: the state moves to CPU memory when the GPU runs short (QLoRA's choice).",
        choices=OPTIMIZERS,
    )
    eval_steps: int = _option(
        50,
        label="Evaluate every (steps)",
        help="Measure the validation loss every this many steps; 0 never evaluates while training.",
        minimum=0,
        maximum=10_000_000,
    )
    early_stopping_patience: int = _option(
        3,
        label="Early-stopping patience",
        help="Stop when the validation loss has not improved for this many evaluations; "
        "0 turns early stopping off.",
        minimum=0,
        maximum=1000,
    )
    save_steps: int = _option(
        100,
        label="Save every (steps)",
        help="Save a checkpoint, to resume from, every this many steps.",
        minimum=1,
        maximum=10_000_000,
    )
    seed: int = _option(
        0,
        label="Seed",
        help="Random seed: the same seed, data and settings give the same run.",
        minimum=0,
        maximum=2**32 - 1,
    )
    output_dir: str = _option(
        "",
        label="Output folder",
        help="Where the run is written; empty means a new folder under the project's runs/.",
        widget="folder",
        placeholder="runs/<date and time> (default)",
    )
    init_adapter: str = _option(
        "",
        label="Start from adapter",
        help="Train on top of an earlier run's LoRA adapter instead of the bare base model: a "
        "run folder or an adapter folder, relative to the project (e.g. runs/20261130-1012-ab12). "
        "The usual path is SFT first, then DPO from the SFT adapter. Empty: the base model.",
        widget="folder",
        placeholder="(the base model)",
    )
    dpo_beta: float = _option(
        0.1,
        label="DPO beta",
        help="DPO only: how closely the model stays to the base model (higher: closer). "
        "0.1 is the usual value.",
        minimum=0.001,
        maximum=10.0,
        advanced=True,
    )
    attn_implementation: str = _option(
        "sdpa",
        label="Attention kernel",
        help="sdpa: PyTorch's built-in (default); flash_attention_2: needs the flash-attn "
        "package; eager: plain and memory-hungry, but needed for Gemma 2's soft-capping.",
        choices=ATTENTION,
        advanced=True,
    )
    double_quant: bool = _option(
        True,
        label="Double quantisation",
        help="QLoRA only: quantise the 4-bit scaling constants too, saving about 0.37 bit "
        "per weight (0.3 GB on an 8B model).",
        advanced=True,
    )

    @property
    def effective_batch(self) -> int:
        """Examples per optimizer step on one GPU: batch size × gradient accumulation."""
        return self.per_device_batch_size * self.grad_accum


_METHOD_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("qlora", "sft"): {"learning_rate": 2e-4, "optimizer": "paged_adamw_32bit"},
    ("lora", "sft"): {"learning_rate": 2e-4, "optimizer": "adamw_torch"},
    ("full", "sft"): {"learning_rate": 1e-5, "optimizer": "paged_adamw_8bit"},
    ("qlora", "dpo"): {"learning_rate": 5e-6, "optimizer": "paged_adamw_32bit", "epochs": 1},
    ("lora", "dpo"): {"learning_rate": 5e-6, "optimizer": "adamw_torch", "epochs": 1},
    ("full", "dpo"): {"learning_rate": 5e-7, "optimizer": "paged_adamw_8bit", "epochs": 1},
}


def method_defaults(method: str, objective: str = "sft") -> dict[str, Any]:
    """The values that differ by method and objective (learning rate, optimizer, epochs)."""
    try:
        return dict(_METHOD_DEFAULTS[(method, objective)])
    except KeyError:
        raise ValueError(
            f"Unknown method {method!r} or objective {objective!r}; methods are "
            f"{', '.join(METHODS)} and objectives {', '.join(OBJECTIVES)}."
        ) from None


def defaults_for(method: str, objective: str = "sft") -> TrainConfig:
    """A :class:`TrainConfig` with ``method``'s and ``objective``'s defaults filled in.

    QLoRA: learning rate 2e-4 and a paged 32-bit AdamW (as the QLoRA paper); LoRA:
    2e-4 and plain AdamW; full: 1e-5 and a paged 8-bit AdamW (the optimizer state of
    every weight is the largest memory cost). DPO learns with a far smaller rate, for
    one epoch.
    """
    return TrainConfig(method=method, objective=objective, **method_defaults(method, objective))


def config_problems(config: TrainConfig) -> list[FieldProblem]:
    """Settings that contradict each other (each field may be valid on its own)."""
    problems = []
    if config.objective == "dpo" and config.packing:
        problems.append(
            FieldProblem(
                "packing",
                "DPO trains on chosen/rejected pairs and cannot pack them; set packing: false.",
            )
        )
    if config.init_adapter and config.method == "full":
        problems.append(
            FieldProblem(
                "init_adapter",
                "full fine-tuning trains every weight and cannot start from an adapter; use "
                "method: lora or qlora, or leave init_adapter empty.",
            )
        )
    if config.early_stopping_patience and not (config.val_fraction > 0 and config.eval_steps):
        problems.append(
            FieldProblem(
                "early_stopping_patience",
                "early stopping watches the validation loss, so it needs val_fraction above 0 "
                "and eval_steps above 0; set those, or early_stopping_patience: 0.",
            )
        )
    if not config.target_modules and config.method != "full":
        problems.append(
            FieldProblem(
                "target_modules",
                "LoRA and QLoRA need at least one target module, e.g. [q_proj, v_proj].",
            )
        )
    return problems


# ---------------------------------------------------------------------------- YAML


class _Loader(yaml.SafeLoader):
    """Safe YAML that also reads ``2e-4`` as a number (YAML 1.1 wants ``2.0e-4``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)

HEADER = """\
# ftstudio training configuration (ftstudio {version}).
# Run it with: ftstudio train {name}
# Each setting is explained in the comment above it. Edit values freely: a value
# out of range, a misspelt key or a wrong type is reported with its line.
"""


def save_config(config: TrainConfig, path: Path) -> Path:
    """Write ``config`` as commented YAML to ``path`` atomically; returns ``path``."""
    path = Path(path)
    atomic_write_text(path, config_to_yaml(config, name=command_path(path)))
    return path


def command_path(path: Path) -> str:
    """How the header's ``ftstudio train`` command names ``path``: as it is run from the
    project folder (``configs/x.yaml``) when it lives in ``configs/``, else its name."""
    path = Path(path)
    return f"{path.parent.name}/{path.name}" if path.parent.name == "configs" else path.name


def config_to_yaml(config: TrainConfig, *, name: str = "CONFIG.yaml") -> str:
    """The YAML text :func:`save_config` writes: a header, then each key under its help."""
    values = to_mapping(config)
    parts = [HEADER.format(version=ftstudio.__version__, name=name)]
    for spec in field_specs(TrainConfig):
        comment = textwrap.fill(
            f"{spec.label}: {spec.help}", width=96, initial_indent="# ", subsequent_indent="# "
        )
        parts.append(f"\n{comment}\n{spec.name}: {_yaml_value(values[spec.name])}\n")
    return "".join(parts)


def _yaml_value(value: Any) -> str:
    """``value`` as one line of YAML (lists in brackets, text quoted where YAML needs it)."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000)
    return text.removesuffix("\n...\n").strip()


def load_config(path: Path) -> TrainConfig:
    """Read a configuration YAML file; missing keys take the method's defaults.

    Raises :class:`~ftstudio.core.fields.ConfigError` listing every problem at once:
    unreadable file or YAML syntax (with line and column), keys given twice, unknown
    keys, wrong types, values out of range, choices that do not exist, and settings
    that contradict each other. Messages carry the key's line in the file.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(source, [FieldProblem("(file)", "does not exist")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(source, [FieldProblem("(file)", f"cannot be read: {error}")]) from None
    return config_from_yaml(text, source=source)


def config_from_yaml(text: str, *, source: str = "configuration") -> TrainConfig:
    """Parse configuration YAML ``text`` (see :func:`load_config`); ``source`` names it."""
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # safe: _Loader is a SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        message = f"{where}{error.problem or error.context} (YAML syntax)"
        raise ConfigError(source, [FieldProblem("(file)", message)]) from None
    except yaml.YAMLError as error:
        raise ConfigError(source, [FieldProblem("(file)", f"not YAML: {error}")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problem = FieldProblem(
            "(file)", "line 1: expected keys and values (key: value), not a list"
        )
        raise ConfigError(source, [problem])
    lines, problems = _key_lines(node)
    method = data.get("method", "qlora")
    objective = data.get("objective", "sft")
    defaults = {}
    if (method, objective) in _METHOD_DEFAULTS:
        defaults = {k: v for k, v in method_defaults(method, objective).items() if k not in data}
    try:
        config, _ = from_mapping(TrainConfig, {**data, **defaults}, source=source)
    except ConfigError as error:
        problems.extend(error.problems)
    else:
        problems.extend(config_problems(config))
    if problems:
        raise ConfigError(source, [_with_line(problem, lines) for problem in problems])
    return config


def _key_lines(node: yaml.Node | None) -> tuple[dict[str, int], list[FieldProblem]]:
    """Each top-level key's line (1-based), and a problem for each key given twice."""
    lines: dict[str, int] = {}
    problems: list[FieldProblem] = []
    if not isinstance(node, yaml.MappingNode):
        return lines, problems
    for key_node, _ in node.value:
        key = str(key_node.value)
        line = key_node.start_mark.line + 1
        if key in lines:
            problems.append(
                FieldProblem(key, f"given twice (lines {lines[key]} and {line}); keep one")
            )
        else:
            lines[key] = line
    return lines, problems


def _with_line(problem: FieldProblem, lines: dict[str, int]) -> FieldProblem:
    line = lines.get(problem.key)
    if line is None or problem.message.startswith("given twice"):
        return problem
    return dataclasses.replace(problem, message=f"line {line}: {problem.message}")
