"""Failure messages: out of memory with the fix and the estimate, a full disk, the rest."""

from __future__ import annotations

import errno
from pathlib import Path

import torch

from ftstudio.core.train_config import TrainConfig
from ftstudio.engine.training.checkpoints import CheckpointError
from ftstudio.engine.training.failures import classify, is_out_of_memory, oom_message


def test_out_of_memory_is_recognised() -> None:
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory."))
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: 8 GB"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert classify(torch.cuda.OutOfMemoryError("x"), None)[0] == "out_of_memory"


def test_the_fix_names_the_estimate_beside_the_measured_peak(tmp_path: Path) -> None:
    config = TrainConfig(
        base_model="llama-3.1-8b",
        method="lora",
        per_device_batch_size=8,
        grad_accum=4,
        gradient_checkpointing=False,
        max_length=4096,
    )
    message = oom_message(config, tmp_path, 12, peak_gb=23.1, gpu_gb=24.0)
    assert "at step 12" in message
    assert "measured peak 23.1 GB allocated of the GPU's 24.0 GB" in message
    assert "estimated" in message
    assert "GB allocated" in message
    assert "batch 4 × accumulation 8 keeps the effective batch of 32" in message
    assert "turn on gradient checkpointing" in message
    assert "lower max_length from 4,096" in message
    assert "use qlora" in message


def test_an_unknown_model_still_gets_the_fix(tmp_path: Path) -> None:
    config = TrainConfig(base_model="someone/unknown-model", per_device_batch_size=1)
    message = oom_message(config, tmp_path, 0, peak_gb=10.0, gpu_gb=12.0)
    assert "no estimate for this model" in message
    assert "halve the batch size" not in message  # a batch of 1 cannot be halved
    assert "lower max_length" in message


def test_other_failures(tmp_path: Path) -> None:
    code, message = classify(OSError(errno.ENOSPC, "No space left on device"), tmp_path)
    assert code == "disk_full"
    assert str(tmp_path) in message
    assert classify(CheckpointError("bad checkpoint"), None) == ("checkpoint", "bad checkpoint")
    code, message = classify(KeyError("boom"), None)
    assert code == "error"
    assert "KeyError" in message
