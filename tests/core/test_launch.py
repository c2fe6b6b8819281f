"""Launch files for several GPUs: what accelerate reads back, and the command."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from accelerate.commands.config.config_args import ClusterConfig
from accelerate.utils import DistributedType

from ftstudio.core.launch import (
    STRATEGIES,
    accelerate_config,
    accelerate_yaml_path,
    caveats,
    launch_command,
    mixed_precision_for,
    write_accelerate_config,
)

EXPECTED_TYPES = {
    "ddp": DistributedType.MULTI_GPU,
    "fsdp": DistributedType.FSDP,
    "deepspeed": DistributedType.DEEPSPEED,
}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_loads_in_accelerate_and_round_trips(tmp_path: Path, strategy: str) -> None:
    config = accelerate_config(4, strategy, mixed_precision="fp16")
    path = tmp_path / "configs" / "x.accelerate.yaml"
    write_accelerate_config(path, config)
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == config
    loaded = ClusterConfig.from_yaml_file(str(path))
    assert loaded.distributed_type == EXPECTED_TYPES[strategy]
    assert (loaded.num_processes, loaded.num_machines, loaded.machine_rank) == (4, 1, 0)
    assert loaded.mixed_precision == "fp16"
    assert loaded.use_cpu is False
    assert loaded.main_training_function == "main"
    assert loaded.fsdp_config == config.get("fsdp_config", {})
    assert loaded.deepspeed_config == config.get("deepspeed_config", {})
    # what accelerate writes back holds every value we wrote, unchanged
    again = tmp_path / "again.yaml"
    loaded.to_yaml_file(str(again))
    rewritten = yaml.safe_load(again.read_text(encoding="utf-8"))
    assert {key: rewritten[key] for key in config} == config
    assert not list(path.parent.glob("*.tmp"))  # the atomic write left nothing behind


def test_fsdp_shards_fully_and_wraps_per_layer() -> None:
    fsdp = accelerate_config(8, "fsdp")["fsdp_config"]
    assert fsdp["fsdp_sharding_strategy"] == "FULL_SHARD"
    assert fsdp["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert fsdp["fsdp_use_orig_params"] is True
    assert fsdp["fsdp_sync_module_states"] is True
    assert fsdp["fsdp_cpu_ram_efficient_loading"] is True
    assert "deepspeed_config" not in accelerate_config(8, "fsdp")


def test_deepspeed_leaves_accumulation_to_the_trainer() -> None:
    stage2 = accelerate_config(2, "deepspeed")["deepspeed_config"]
    assert stage2["zero_stage"] == 2
    assert stage2["gradient_accumulation_steps"] == "auto"
    assert stage2["gradient_clipping"] == "auto"
    assert stage2["zero3_init_flag"] is False
    stage3 = accelerate_config(2, "deepspeed", zero_stage=3)["deepspeed_config"]
    assert (stage3["zero_stage"], stage3["zero3_init_flag"]) == (3, True)
    assert "fsdp_config" not in accelerate_config(2, "ddp")
    assert "deepspeed_config" not in accelerate_config(2, "ddp")


def test_several_machines_need_the_main_address() -> None:
    config = accelerate_config(16, "ddp", num_machines=2, main_process_ip="10.0.0.1")
    assert (config["num_machines"], config["main_process_ip"]) == (2, "10.0.0.1")
    assert config["main_process_port"] == 29500
    with pytest.raises(ValueError, match="main_process_ip"):
        accelerate_config(16, "ddp", num_machines=2)


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        ((1,), {}, "num_processes"),
        ((0,), {}, "num_processes"),
        ((True,), {}, "num_processes"),
        ((2.0,), {}, "num_processes"),
        ((4, "horovod"), {}, "strategy"),
        ((4,), {"mixed_precision": "fp8"}, "mixed_precision"),
        ((4,), {"num_machines": 0}, "num_machines"),
        ((6,), {"num_machines": 4, "main_process_ip": "h"}, "num_processes"),
        ((4, "deepspeed"), {"zero_stage": 1}, "zero_stage"),
        ((4,), {"main_process_port": 0}, "main_process_port"),
    ],
)
def test_bad_arguments_are_named(args: tuple, kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        accelerate_config(*args, **kwargs)


def test_precision_maps_to_accelerate_values() -> None:
    assert [mixed_precision_for(p) for p in ("bf16", "fp16", "fp32")] == ["bf16", "fp16", "no"]
    with pytest.raises(ValueError, match="precision"):
        mixed_precision_for("int8")


def test_launch_command_text() -> None:
    assert accelerate_yaml_path("configs/x.yaml") == "configs/x.accelerate.yaml"
    assert accelerate_yaml_path(Path("configs/x.yml")) == "configs/x.accelerate.yaml"
    assert (
        launch_command("configs/x.yaml", "configs/x.accelerate.yaml")
        == "accelerate launch --config_file configs/x.accelerate.yaml -m ftstudio train "
        "configs/x.yaml"
    )
    assert launch_command("my configs/x.yaml", "a.yaml").endswith("train 'my configs/x.yaml'")
    with pytest.raises(ValueError):
        launch_command("", "a.yaml")


def test_caveats_name_the_known_problems() -> None:
    assert any("bnb_4bit_quant_storage" in note for note in caveats("qlora", "fsdp"))
    assert any("memory" in note for note in caveats("full", "ddp"))
    assert any("pip install deepspeed" in note for note in caveats("lora", "deepspeed"))
    assert caveats("lora", "ddp") == []
