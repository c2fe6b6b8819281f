"""``ftstudio eval`` and ``ftstudio losses``, in process, on a copy of a trained run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ftstudio.cli import main
from ftstudio.core.evaluation.results import load_report, report_path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def run(trained_run: Path, tmp_path: Path) -> Path:
    """A private copy of the trained run's project; returns the copied run folder."""
    shutil.copytree(trained_run.parent.parent, tmp_path / "project")
    return tmp_path / "project" / "runs" / trained_run.name


def test_eval_prints_base_vs_tuned_and_saves_the_report(
    capsys: pytest.CaptureFixture[str], run: Path
) -> None:
    code, out, err = run_cli(capsys, "eval", str(run), "--limit", "2", "--max-new-tokens", "8")
    assert code == 0, err
    report = load_report(run)
    assert report is not None
    assert len(report.examples) == 2
    assert report.settings.max_new_tokens == 8
    assert "2 example(s) from the validation split" in out
    table = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert set(table) >= {"exact", "ROUGE-L", "BLEU", "loss", "perplexity"}
    assert f"{report.tuned.loss:.4f}" in table["loss"]
    assert f"{report.base.loss:.4f}" in table["loss"]
    assert report.forgetting is not None
    assert report.forgetting.message in out
    assert f"Report saved: {report_path(run)}" in out


def test_eval_json_prints_the_summary(
    capsys: pytest.CaptureFixture[str], run: Path, tmp_path: Path
) -> None:
    data = tmp_path / "questions.jsonl"
    chat = {
        "messages": [
            {"role": "user", "content": "Where is the printer?"},
            {"role": "assistant", "content": "On the second floor."},
        ]
    }
    data.write_text(json.dumps(chat) + "\n", encoding="utf-8")
    code, out, err = run_cli(
        capsys, "eval", str(run), "--data", str(data), "--json", "--max-new-tokens", "8"
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["source"] == str(data.resolve())
    assert summary["examples"] == 1
    assert summary["report"] == str(report_path(run))
    assert set(summary["base"]) == {"exact_match", "rouge_l", "bleu", "loss", "perplexity"}
    assert summary["tuned"]["loss"] == load_report(run).tuned.loss
    assert summary["forgetting"]["threshold"] == 0.2
    assert "answers" not in summary
    code, out, _ = run_cli(
        capsys,
        "eval",
        str(run),
        "--data",
        str(data),
        "--json",
        "--examples",
        "--max-new-tokens",
        "8",
    )
    assert code == 0
    (answer,) = json.loads(out)["answers"]
    assert answer["reference"] == "On the second floor."


def test_eval_refuses_bad_input_with_exit_2(
    capsys: pytest.CaptureFixture[str], run: Path, tmp_path: Path
) -> None:
    code, _, err = run_cli(capsys, "eval", str(tmp_path))
    assert code == 2
    assert "not a training run folder" in err
    code, _, err = run_cli(capsys, "eval", str(run), "--data", str(tmp_path / "none.jsonl"))
    assert code == 2
    assert "does not exist" in err
    code, _, err = run_cli(capsys, "eval", str(run), "--limit", "0")
    assert code == 2
    assert "--limit must be at least 1" in err
    assert not report_path(run).exists()


def test_losses_ranks_the_examples(capsys: pytest.CaptureFixture[str], run: Path) -> None:
    code, out, err = run_cli(capsys, "losses", str(run), "--top", "3")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["loss", "tokens", "split", "line", "flags"]
    assert len([line for line in lines[1:4] if line.split()[2] in ("train", "val")]) == 3
    assert "24 example(s), 0 flagged" in out
    assert "eval/example_losses.jsonl" in out
    code, out, _ = run_cli(capsys, "losses", str(run), "--json")
    rows = json.loads(out)
    assert len(rows) == 24
    assert rows[0]["loss"] >= rows[-1]["loss"]
