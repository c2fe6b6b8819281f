"""``ftstudio train`` and ``ftstudio runs list``, in process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ftstudio.cli import main
from ftstudio.core.paths import resource
from ftstudio.core.runs import read_run_file
from ftstudio.core.train_config import load_config, save_config
from tests.tiny import sample_lines, tiny_config, write_dataset


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def tiny_in_data_dir(tiny_model_dir: Path, user_dirs: dict[str, Path]) -> Path:
    """The session's tiny model where ``ftstudio:tiny`` looks for it (no rebuild)."""
    target = user_dirs["data"] / "models" / "tiny-llama"
    shutil.copytree(tiny_model_dir, target)
    return target


@pytest.mark.slow
def test_demo_trains_the_sample_and_lists_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_in_data_dir: Path
) -> None:
    out = tmp_path / "demo"
    code, text, err = run(capsys, "train", "--demo", "--max-steps", "1", "--out", str(out))
    assert code == 0, err
    assert (out / "project.json").is_file()
    assert "Finished all 1 steps" in text
    assert "step 1/1" in text  # the progress line
    (run_dir,) = [p for p in (out / "runs").iterdir() if p.is_dir()]
    assert read_run_file(run_dir)["method"] == "qlora"
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()
    # The demo's configuration is saved and runs again as it is.
    assert load_config(out / "demo.yaml").max_steps == 1

    code, text, _ = run(capsys, "runs", "list", "--project", str(out))
    assert code == 0
    assert run_dir.name in text
    assert "finished" in text
    assert "1/1" in text
    code, text, _ = run(capsys, "runs", "list", "--project", str(out), "--json")
    (row,) = json.loads(text)
    assert (row["id"], row["status"], row["step"], row["method"]) == (
        run_dir.name,
        "finished",
        1,
        "qlora",
    )
    assert row["path"] == str(run_dir.resolve())

    # DPO on the sample's preference pairs, on top of that SFT run's adapter.
    code, text, err = run(
        capsys, "train", "--demo", "--objective", "dpo", "--max-steps", "2", "--out", str(out)
    )
    assert code == 0, err
    assert f"DPO starts from the SFT run {run_dir.name}" in text
    assert "Finished all 2 steps" in text
    progress = [line for line in text.splitlines() if line.startswith("step 2/2")]
    assert progress, text
    assert "loss " in progress[0]
    assert "rewards/margins " in progress[0]
    assert "rewards/accuracies " in progress[0]
    (dpo_dir,) = [p for p in (out / "runs").iterdir() if p.is_dir() and p != run_dir]
    info = read_run_file(dpo_dir)
    assert (info["objective"], info["method"]) == ("dpo", "qlora")
    assert info["init_adapter"] == str(run_dir.resolve() / "adapter")
    assert info["dataset"]["kind"] == "preference"
    demo = load_config(out / "demo-dpo.yaml")
    assert (demo.objective, demo.max_steps, demo.init_adapter) == ("dpo", 2, str(run_dir))
    metrics = [json.loads(x) for x in (dpo_dir / "metrics.jsonl").read_text().splitlines()]
    assert {"rewards/margins", "rewards/accuracies"} <= set(metrics[-1])
    # The SFT demo's configuration is still there.
    assert load_config(out / "demo.yaml").objective == "sft"


@pytest.mark.slow
def test_train_a_config_file_then_resume_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model_dir: Path
) -> None:
    folder = tmp_path / "plain"  # not a project: the config's folder holds the runs
    write_dataset(folder / "datasets" / "train.jsonl", sample_lines(12))
    config = tiny_config(tiny_model_dir, max_steps=2, save_steps=1, eval_steps=2)
    path = save_config(config, folder / "run.yaml")
    code, text, err = run(capsys, "train", str(path), "--name", "cli")
    assert code == 0, err
    (run_dir,) = [p for p in (folder / "runs").iterdir() if p.is_dir()]
    # The run's config.yaml runs from anywhere: the relative dataset became absolute.
    saved = load_config(run_dir / "config.yaml")
    assert Path(saved.dataset) == (folder / "datasets" / "train.jsonl").resolve()
    # Nothing is left to resume: every run finished.
    code, _, err = run(capsys, "train", str(path), "--resume")
    assert code == 1
    assert "can resume" in err
    # An explicit checkpoint resumes (and finishes at once: it was the last step).
    code, text, err = run(capsys, "train", str(path), "--resume", str(run_dir / "checkpoint-2"))
    assert code == 0, err
    assert "resumed at step 2" in text


@pytest.mark.slow
def test_train_a_dpo_config_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model_dir: Path
) -> None:
    folder = tmp_path / "plain"
    pairs = resource("sample_project", "datasets", "preferences.jsonl")
    write_dataset(folder / "datasets" / "prefs.jsonl", pairs.read_text().splitlines()[:8])
    config = tiny_config(
        tiny_model_dir,
        objective="dpo",
        dataset="datasets/prefs.jsonl",
        max_steps=2,
        per_device_batch_size=4,
        max_length=160,
        learning_rate=5e-3,
        val_fraction=0.0,
        early_stopping_patience=0,
    )
    path = save_config(config, folder / "dpo.yaml")
    code, text, err = run(capsys, "train", str(path))
    assert code == 0, err
    assert "lora DPO on cpu, 8 training and 0 validation pairs, 2 steps" in text
    assert "rewards/margins" in text
    (run_dir,) = [p for p in (folder / "runs").iterdir() if p.is_dir()]
    assert read_run_file(run_dir)["objective"] == "dpo"
    assert load_config(run_dir / "config.yaml").objective == "dpo"


def test_bad_configurations_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("method: sideways\nlearning_rate: 7\n", encoding="utf-8")
    code, _, err = run(capsys, "train", str(path))
    assert code == 2
    assert "method" in err
    assert "learning_rate" in err
    with pytest.raises(SystemExit) as caught:
        main(["train"])
    assert caught.value.code == 2
    assert "CONFIG.yaml" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", str(path), "--max-steps", "3"])
    with pytest.raises(SystemExit):
        main(["train", str(path), "--objective", "dpo"])
    assert "--objective go with --demo" in capsys.readouterr().err
    # DPO settings that contradict each other.
    path.write_text(
        "objective: dpo\npacking: true\nmethod: full\ninit_adapter: runs/sft\n",
        encoding="utf-8",
    )
    code, _, err = run(capsys, "train", str(path))
    assert code == 2
    assert "DPO trains on chosen/rejected pairs" in err
    assert "full fine-tuning trains every weight and cannot start from an adapter" in err


def test_a_resume_target_that_is_not_a_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model_dir: Path
) -> None:
    write_dataset(tmp_path / "datasets" / "train.jsonl", sample_lines(4))
    path = save_config(tiny_config(tiny_model_dir), tmp_path / "c.yaml")
    (tmp_path / "elsewhere").mkdir()
    code, _, err = run(capsys, "train", str(path), "--resume", str(tmp_path / "elsewhere"))
    assert code == 1
    assert "not an ftstudio run folder" in err


def test_runs_list_without_runs_and_with_a_damaged_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, text, _ = run(capsys, "runs", "list", "--project", str(tmp_path))
    assert (code, text.strip()) == (0, f"No runs in {tmp_path}.")
    code, text, _ = run(capsys, "runs", "list", "--project", str(tmp_path), "--json")
    assert json.loads(text) == []
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "runs.sqlite").write_bytes(b"garbage" * 200)
    code, _, err = run(capsys, "runs", "list", "--project", str(tmp_path))
    assert code == 1
    assert "damaged" in err
