"""``ftstudio train`` under ``accelerate launch``: two CPU processes (gloo), one consistent run.

accelerate's ``--cpu`` launcher starts a single process, so the test uses its
multi-process launcher (torchrun underneath); without a GPU every process trains
on the CPU and they talk over gloo, as DDP on several GPUs talks over NCCL.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ftstudio.core.runs import RunStore, read_run_file
from ftstudio.core.train_config import save_config
from ftstudio.engine.training.checkpoints import list_checkpoints
from tests.tiny import tiny_config

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_write_one_run(small_project: Path, tiny_model_dir: Path) -> None:
    config = tiny_config(tiny_model_dir, max_steps=4, eval_steps=2, save_steps=2)
    path = save_config(config, small_project / "ddp.yaml")
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(free_port()),
        "-m",
        "ftstudio",
        "train",
        str(path),
        "--name",
        "two processes",
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=small_project,
        env=os.environ | {"OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = [p for p in (small_project / "runs").iterdir() if p.is_dir()]
    assert len(runs) == 1
    run = runs[0]
    info = read_run_file(run)
    assert (info["status"], info["world_size"], info["name"]) == ("finished", 2, "two processes")
    checkpoints = list_checkpoints(run, verify=True)
    assert [c.step for c in checkpoints] == [2, 4]
    assert {"rng_state_0.pth", "rng_state_1.pth"} <= set(checkpoints[-1].files)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    kinds = [json.loads(line)["event"] for line in (run / "events.jsonl").read_text().splitlines()]
    assert (kinds.count("started"), kinds.count("finished"), kinds.count("checkpoint")) == (1, 1, 2)
    (row,) = RunStore.for_project(small_project).list()
    assert (row.id, row.status, row.step, row.name) == (run.name, "finished", 4, "two processes")
    assert (run / "adapter" / "adapter_model.safetensors").is_file()
    assert done.stdout.count("Finished all 4 steps") == 1  # one progress report, not two
