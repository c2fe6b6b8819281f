"""GPU detection through torch: what each GPU reports, and nothing without CUDA."""

from __future__ import annotations

import pytest
import torch

from ftstudio.engine.hardware import detect_gpus, gpu_info


def test_detect_gpus_agrees_with_torch() -> None:
    gpus = detect_gpus()
    expected = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert len(gpus) == expected
    for index, gpu in enumerate(gpus):
        props = torch.cuda.get_device_properties(index)
        assert gpu.index == index
        assert gpu.name == props.name
        assert gpu.total_gb == pytest.approx(props.total_memory / 2**30)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without CUDA")
def test_no_cuda_means_no_gpus() -> None:
    assert detect_gpus() == []


def test_an_rtx_4090_as_torch_reports_it() -> None:
    # torch.cuda.get_device_properties on an RTX 4090: 25,757,220,864 bytes, capability 8.9.
    gpu = gpu_info(0, "NVIDIA GeForce RTX 4090", 25_757_220_864, (8, 9))
    assert gpu.total_gb == pytest.approx(23.99, abs=0.01)  # the card's "24 GB"
    assert gpu.bf16
    assert gpu.gpu_class == "RTX 4090"


def test_a_turing_card_has_no_bf16() -> None:
    gpu = gpu_info(1, "Tesla T4", 15_828_320_256, (7, 5))
    assert not gpu.bf16
    assert gpu.gpu_class is None
    assert gpu.index == 1
