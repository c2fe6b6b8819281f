"""``ftstudio runs show``: one run's summary, configuration, metrics and files, in process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ftstudio.cli import main
from ftstudio.core.atomic import atomic_write_json
from ftstudio.core.parity import ParityCheck, ParityReport, save_parity
from ftstudio.core.runs import read_run_file
from ftstudio.core.train_config import load_config

pytestmark = pytest.mark.slow  # the session's trained run


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def project(tmp_path: Path, trained_run: Path) -> Path:
    """A private copy of the trained run's project, with one export of the run."""
    folder = tmp_path / "project"
    shutil.copytree(trained_run.parent.parent, folder)
    export = folder / "exports" / f"{trained_run.name}-adapter"
    export.mkdir(parents=True)
    check = ParityCheck("logits", True, "within the limit", 2e-6, 1e-3)
    save_parity(
        ParityReport("adapter", str(export), "2026-11-30T12:00:00+00:00", True, [check]), export
    )
    atomic_write_json(
        export / "ftstudio-export.json",
        {"format": "adapter", "run_id": trained_run.name, "config": {"format": "adapter"}},
    )
    return folder


def test_show_prints_summary_config_metrics_and_files(
    capsys: pytest.CaptureFixture[str], project: Path, trained_run: Path
) -> None:
    run_id = trained_run.name
    code, text, err = run(capsys, "runs", "show", run_id[:15], "--project", str(project))
    assert code == 0, err
    sha = read_run_file(trained_run)["dataset"]["sha256"]
    assert f"Run {run_id} ({run_id}): finished" in text
    assert f"folder         {project / 'runs' / run_id}" in text
    assert "learning rate  0.01" in text
    assert "LoRA r/alpha   8 / 16" in text
    assert "steps          6/6" in text
    assert f"sha256 {sha[:8]}" in text
    assert "best eval loss " in text
    assert "final loss " in text
    assert "  learning_rate            0.01" in text  # the configuration
    assert "Final metrics (step 6):" in text
    assert "  eval_loss: " in text
    assert "Checkpoints: checkpoint-3, checkpoint-6" in text
    assert f"{run_id}-adapter (adapter, parity passed)" in text
    assert "Evaluation: none" in text


def test_show_json_has_the_same_facts(
    capsys: pytest.CaptureFixture[str], project: Path, trained_run: Path
) -> None:
    code, text, err = run(
        capsys, "runs", "show", trained_run.name, "--project", str(project), "--json"
    )
    assert code == 0, err
    data = json.loads(text)
    assert set(data) == {"summary", "config", "final_metrics", "checkpoints", "exports", "eval"}
    summary = data["summary"]
    info = read_run_file(trained_run)
    assert (summary["id"], summary["status"], summary["method"]) == (
        trained_run.name,
        "finished",
        "lora",
    )
    assert summary["learning_rate"] == 0.01
    assert (summary["r"], summary["alpha"], summary["effective_batch"]) == (8, 16, 2)
    assert summary["best_eval_loss"] == pytest.approx(info["best_eval_loss"])
    assert summary["final_loss"] == pytest.approx(info["final_loss"])
    assert summary["dataset_sha256"] == info["dataset"]["sha256"]
    assert data["config"]["learning_rate"] == load_config(trained_run / "config.yaml").learning_rate
    assert data["final_metrics"]["step"] == 6
    assert data["final_metrics"]["loss"] == pytest.approx(info["final_loss"])
    assert [Path(path).name for path in data["checkpoints"]] == ["checkpoint-3", "checkpoint-6"]
    assert [(Path(e["path"]).name, e["parity"]) for e in data["exports"]] == [
        (f"{trained_run.name}-adapter", "passed")
    ]
    assert data["eval"] == []


def test_show_accepts_a_run_folder(
    capsys: pytest.CaptureFixture[str], project: Path, trained_run: Path
) -> None:
    folder = project / "runs" / trained_run.name
    code, text, err = run(capsys, "runs", "show", str(folder), "--json")
    assert code == 0, err
    assert json.loads(text)["summary"]["path"] == str(folder.resolve())


def test_an_unknown_id_exits_2_and_lists_the_runs(
    capsys: pytest.CaptureFixture[str], project: Path, trained_run: Path
) -> None:
    code, text, err = run(capsys, "runs", "show", "nope", "--project", str(project))
    assert code == 2
    assert text == ""
    assert f"no run 'nope' in {project}. Its runs: {trained_run.name}." in err
    empty = project.parent / "empty"
    empty.mkdir()
    code, _text, err = run(capsys, "runs", "show", "x", "--project", str(empty))
    assert code == 2
    assert "Its runs: none." in err
