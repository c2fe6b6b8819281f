"""The GPUs torch can see: name, memory and bf16 support (an empty list without CUDA)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ftstudio.core.memory import GIB, gpu_class_for


@dataclass(frozen=True)
class GpuInfo:
    """One GPU as planning needs it.

    Attributes:
        index: the CUDA device index.
        name: the driver's name, e.g. ``NVIDIA GeForce RTX 4090``.
        total_gb: its memory in GiB (a "24 GB" card reads about 23.99).
        bf16: whether it computes in bfloat16 natively (compute capability 8.0 or newer).
        capability: the CUDA compute capability, e.g. ``(8, 9)``.
    """

    index: int
    name: str
    total_gb: float
    bf16: bool
    capability: tuple[int, int]

    @property
    def gpu_class(self) -> str | None:
        """The GPU class of the time estimate's throughput table, if it is listed."""
        return gpu_class_for(self.name)


def gpu_info(index: int, name: str, total_bytes: int, capability: tuple[int, int]) -> GpuInfo:
    """A :class:`GpuInfo` from what ``torch.cuda.get_device_properties`` reports."""
    return GpuInfo(
        index=index,
        name=name,
        total_gb=total_bytes / GIB,
        bf16=capability >= (8, 0),
        capability=capability,
    )


def detect_gpus() -> list[GpuInfo]:
    """Every CUDA GPU torch can use, in device order; ``[]`` when there is none."""
    import torch

    if not torch.cuda.is_available():
        return []
    gpus = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        info = gpu_info(index, props.name, props.total_memory, (props.major, props.minor))
        if torch.version.hip:  # ROCm reports its own architecture numbers
            info = replace(info, bf16=torch.cuda.is_bf16_supported())
        gpus.append(info)
    return gpus
