"""Launch files for several GPUs: an ``accelerate`` config and the command that uses it.

``accelerate launch --config_file CONFIG.accelerate.yaml -m ftstudio train CONFIG.yaml``
starts one training process per GPU; the engine joins them (see the training runner).
This module only builds and writes the YAML that ``accelerate`` reads; it imports nothing
heavy.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

import yaml

from ftstudio.core.atomic import atomic_write_text

STRATEGIES = ("ddp", "fsdp", "deepspeed")
"""``ddp``: a full copy of the model on every GPU; ``fsdp`` / ``deepspeed``: shard it."""

STRATEGY_NAMES = {"ddp": "DDP", "fsdp": "FSDP", "deepspeed": "DeepSpeed ZeRO"}
MIXED_PRECISIONS = ("no", "fp16", "bf16")
_DISTRIBUTED_TYPES = {"ddp": "MULTI_GPU", "fsdp": "FSDP", "deepspeed": "DEEPSPEED"}
_PRECISION_TO_MIXED = {"bf16": "bf16", "fp16": "fp16", "fp32": "no"}


def mixed_precision_for(precision: str) -> str:
    """The ``accelerate`` mixed-precision value for a training config's ``precision``."""
    try:
        return _PRECISION_TO_MIXED[precision]
    except KeyError:
        raise ValueError(
            f"precision: {precision!r} is not one of {', '.join(_PRECISION_TO_MIXED)}."
        ) from None


def accelerate_config(
    num_processes: int,
    strategy: str = "ddp",
    *,
    mixed_precision: str = "bf16",
    num_machines: int = 1,
    zero_stage: int = 2,
    main_process_ip: str | None = None,
    main_process_port: int = 29500,
) -> dict[str, Any]:
    """The mapping ``accelerate launch --config_file`` reads, for one of :data:`STRATEGIES`.

    Args:
        num_processes: GPUs in all, across every machine (at least 2).
        strategy: ``ddp``, ``fsdp`` (full sharding, wrapped per transformer layer) or
            ``deepspeed`` (ZeRO ``zero_stage``).
        mixed_precision: ``no``, ``fp16`` or ``bf16`` (see :func:`mixed_precision_for`).
        num_machines: machines taking part; more than one needs ``main_process_ip``.
        zero_stage: DeepSpeed ZeRO stage, 2 (optimizer state and gradients sharded) or 3
            (the weights too: for full fine-tuning of a model too big for one GPU).
        main_process_ip, main_process_port: where machine 0 listens (several machines).

    Raises:
        ValueError: an argument out of range, named with what to use instead.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy: {strategy!r} is not one of {', '.join(STRATEGIES)}.")
    if mixed_precision not in MIXED_PRECISIONS:
        raise ValueError(
            f"mixed_precision: {mixed_precision!r} is not one of {', '.join(MIXED_PRECISIONS)}."
        )
    if isinstance(num_machines, bool) or not isinstance(num_machines, int) or num_machines < 1:
        raise ValueError(f"num_machines: {num_machines!r} must be a whole number, 1 or more.")
    if isinstance(num_processes, bool) or not isinstance(num_processes, int) or num_processes < 2:
        raise ValueError(
            f"num_processes: {num_processes!r} must be a whole number, 2 or more; one GPU "
            "needs no launch file (run ftstudio train CONFIG.yaml)."
        )
    if num_processes % num_machines:
        raise ValueError(
            f"num_processes: {num_processes} GPUs cannot be shared evenly by {num_machines} "
            "machines; give each machine the same number of GPUs."
        )
    if zero_stage not in (2, 3):
        raise ValueError(f"zero_stage: {zero_stage!r} must be 2 or 3.")
    if num_machines > 1 and not main_process_ip:
        raise ValueError(
            "main_process_ip: several machines need the address of machine 0; give it."
        )
    if not 1 <= main_process_port <= 65535:
        raise ValueError(f"main_process_port: {main_process_port!r} must be 1 to 65535.")
    config: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "debug": False,
        "distributed_type": _DISTRIBUTED_TYPES[strategy],
        "downcast_bf16": "no",
        "gpu_ids": "all",
        "machine_rank": 0,
        "main_training_function": "main",
        "mixed_precision": mixed_precision,
        "num_machines": num_machines,
        "num_processes": num_processes,
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": False,
    }
    if num_machines > 1:
        config["main_process_ip"] = main_process_ip
        config["main_process_port"] = main_process_port
    if strategy == "fsdp":
        config["fsdp_config"] = {
            "fsdp_version": 1,
            "fsdp_sharding_strategy": "FULL_SHARD",
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "fsdp_backward_prefetch": "BACKWARD_PRE",
            "fsdp_forward_prefetch": False,
            "fsdp_offload_params": False,
            "fsdp_state_dict_type": "FULL_STATE_DICT",
            "fsdp_use_orig_params": True,
            "fsdp_sync_module_states": True,
            "fsdp_cpu_ram_efficient_loading": True,
            "fsdp_activation_checkpointing": False,
        }
    elif strategy == "deepspeed":
        # "auto": the trainer fills these in from the training configuration.
        config["deepspeed_config"] = {
            "zero_stage": zero_stage,
            "gradient_accumulation_steps": "auto",
            "gradient_clipping": "auto",
            "offload_optimizer_device": "none",
            "offload_param_device": "none",
            "zero3_init_flag": zero_stage == 3,
            **({"zero3_save_16bit_model": True} if zero_stage == 3 else {}),
        }
    return config


def caveats(method: str, strategy: str) -> list[str]:
    """Plain-language warnings for training ``method`` (qlora, lora, full) with ``strategy``."""
    notes: list[str] = []
    if method == "qlora" and strategy == "fsdp":
        notes.append(
            "QLoRA with FSDP needs the 4-bit weights stored in the training number format "
            "(bnb_4bit_quant_storage=bfloat16); this engine stores them as uint8, so FSDP "
            "cannot shard them. Use DDP or DeepSpeed ZeRO-2 for QLoRA."
        )
    if method == "qlora" and strategy == "deepspeed":
        notes.append(
            "QLoRA works with DeepSpeed ZeRO-2; ZeRO-3 would need bnb_4bit_quant_storage "
            "matching the training number format."
        )
    if method == "full" and strategy == "ddp":
        notes.append(
            "DDP keeps the whole model, its gradients and optimizer state on every GPU: it "
            "trains faster but needs as much memory per GPU as one GPU alone. If it does not "
            "fit on one GPU, choose FSDP or DeepSpeed ZeRO."
        )
    if strategy == "deepspeed":
        notes.append(
            "DeepSpeed is a separate install: pip install deepspeed on the training machine."
        )
    return notes


def accelerate_yaml_path(config_yaml: str | os.PathLike[str]) -> str:
    """The launch file beside a training config: ``configs/x.yaml`` ->
    ``configs/x.accelerate.yaml``."""
    text = os.fspath(config_yaml)
    for suffix in (".yaml", ".yml"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
            break
    return text + ".accelerate.yaml"


def launch_command(
    config_yaml: str | os.PathLike[str], accelerate_yaml: str | os.PathLike[str]
) -> str:
    """The shell command that trains ``config_yaml`` on the GPUs ``accelerate_yaml`` names,
    e.g. ``accelerate launch --config_file configs/x.accelerate.yaml -m ftstudio train
    configs/x.yaml`` (paths quoted for the shell where needed)."""
    config_text, accelerate_text = os.fspath(config_yaml), os.fspath(accelerate_yaml)
    if not config_text or not accelerate_text:
        raise ValueError("launch_command needs both the training config and the launch file.")
    return (
        f"accelerate launch --config_file {shlex.quote(accelerate_text)} "
        f"-m ftstudio train {shlex.quote(config_text)}"
    )


def accelerate_yaml_text(config: dict[str, Any]) -> str:
    """``config`` as the YAML text ``accelerate`` reads."""
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def write_accelerate_config(path: str | os.PathLike[str], config: dict[str, Any]) -> None:
    """Write ``config`` (from :func:`accelerate_config`) to ``path`` as YAML, atomically."""
    atomic_write_text(path, accelerate_yaml_text(config))
