"""Where and how a run trains, and the base model loaded for it.

- GPU (CUDA): bf16 where the GPU supports it (compute capability 8.0 or newer),
  fp16 with loss scaling where it does not; the configuration's optimizer.
- CPU: fp32 (bitsandbytes 4-bit computes in fp32 there) and plain AdamW, since the
  paged and 8-bit optimizers need a GPU. Slow, but the whole flow works.

QLoRA loads the linear layers in 4-bit NF4 with double quantisation, then PEFT's
``prepare_model_for_kbit_training`` (fp32 norms and embeddings, input gradients).
On CPUs with AVX512-BF16 bitsandbytes repacks 4-bit weights into an inference
layout at the first no-grad forward (an evaluation) and later trains through a
kernel without autograd: gradients silently go wrong. The repack is switched off
on every 4-bit layer (``../shared/notes/stack.md`` §4).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ftstudio.core.train_config import TrainConfig

BNB_OPTIMIZERS = ("paged_adamw_8bit", "paged_adamw_32bit", "adamw_8bit")


@dataclass(frozen=True)
class DevicePlan:
    """Where a run trains and in which number format.

    Attributes:
        device: ``cuda`` or ``cpu``.
        precision: the precision actually used (``bf16``, ``fp16`` or ``fp32``).
        dtype: the dtype the base model's weights are loaded in.
        compute_dtype: the dtype 4-bit layers compute in.
        optimizer: the Trainer's ``optim`` name.
        attention: the attention kernel.
        description: the device in words (``cuda:0 (NVIDIA GeForce RTX 4090)``, ``cpu``).
        notes: plain remarks on what differs from the configuration, and why.
    """

    device: str
    precision: str
    dtype: torch.dtype
    compute_dtype: torch.dtype
    optimizer: str
    attention: str
    description: str
    notes: tuple[str, ...] = ()

    @property
    def bf16(self) -> bool:
        """Whether the Trainer trains in bf16."""
        return self.precision == "bf16"

    @property
    def fp16(self) -> bool:
        """Whether the Trainer uses fp16 mixed precision."""
        return self.precision == "fp16"


def plan_device(config: TrainConfig, *, local_rank: int = 0) -> DevicePlan:
    """Choose the device, precision, optimizer and attention kernel for ``config``."""
    notes: list[str] = []
    attention = config.attn_implementation
    if torch.cuda.is_available():
        index = local_rank % max(1, torch.cuda.device_count())
        name = torch.cuda.get_device_name(index)
        precision = config.precision
        if precision == "bf16" and not torch.cuda.is_bf16_supported():
            precision = "fp16"
            notes.append(
                f"{name} has no bf16 support, so training uses fp16 with loss scaling "
                "(set precision: fp16 to silence this note)."
            )
        optimizer = config.optimizer
        device, description = "cuda", f"cuda:{index} ({name})"
    else:
        precision, optimizer, device, description = "fp32", "adamw_torch", "cpu", "cpu"
        if config.precision != "fp32":
            notes.append(
                f"No CUDA GPU found: training on the CPU in fp32 instead of {config.precision} "
                "(slow; fine for the tiny model and for trying the flow)."
            )
        if config.optimizer in BNB_OPTIMIZERS:
            notes.append(
                f"{config.optimizer} needs a GPU; the CPU run uses the standard AdamW "
                "(adamw_torch)."
            )
        if attention == "flash_attention_2":
            attention = "sdpa"
    if attention == "flash_attention_2" and importlib.util.find_spec("flash_attn") is None:
        attention = "sdpa"
        notes.append(
            "flash_attention_2 needs the flash-attn package, which is not installed; using "
            "PyTorch's sdpa attention instead (pip install flash-attn to use it)."
        )
    width = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]
    dtype = width
    if config.method == "full" and precision == "fp16":
        dtype = torch.float32  # fp16 mixed precision keeps fp32 master weights
    return DevicePlan(
        device=device,
        precision=precision,
        dtype=dtype,
        compute_dtype=width,
        optimizer=optimizer,
        attention=attention,
        description=description,
        notes=tuple(notes),
    )


def load_model(  # noqa: ANN201
    model_path: str,
    config: TrainConfig,
    plan: DevicePlan,
    *,
    local_rank: int = 0,
    trust_remote_code: bool = False,
):
    """Load the base model for ``config.method`` (QLoRA: 4-bit NF4, prepared for training).

    ``trust_remote_code`` runs the folder's own model code, only when the user allowed it
    for this run (``ftstudio.engine.base_model.check_remote_code``).
    """
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {
        "dtype": plan.dtype,
        "attn_implementation": plan.attention,
        "trust_remote_code": trust_remote_code,
    }
    if Path(model_path).is_dir():
        kwargs["local_files_only"] = True
    if config.method == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=config.double_quant,
            bnb_4bit_compute_dtype=plan.compute_dtype,
            bnb_4bit_quant_storage=torch.uint8,
        )
        kwargs["device_map"] = {"": local_rank} if plan.device == "cuda" else {"": "cpu"}
    model = AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    model.config.use_cache = False  # padding-free rows are isolated only without the cache
    if config.method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=config.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
        disable_cpu_repack(model)
    return model


def disable_cpu_repack(model: Any) -> int:
    """Switch off bitsandbytes' AVX512-BF16 inference repack on every 4-bit layer.

    Returns the number of 4-bit layers (0 when bitsandbytes is not in use).
    """
    try:
        import bitsandbytes as bnb
    except ImportError:  # pragma: no cover - a dependency
        return 0
    count = 0
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False
            count += 1
    return count


def lora_config(config: TrainConfig):  # noqa: ANN201 - peft.LoraConfig or None
    """The PEFT adapter settings of a LoRA/QLoRA run (``None`` for full fine-tuning)."""
    if config.method == "full":
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=config.r,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
