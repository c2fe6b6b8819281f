"""Saved evaluation reports: round trip, atomic writes, broken files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ftstudio.core.evaluation.forgetting import forgetting_check
from ftstudio.core.evaluation.results import (
    EVAL_FOLDER,
    EvalExample,
    EvalReport,
    SideSummary,
    load_report,
    save_report,
)
from ftstudio.core.evaluation.settings import EVAL_SETTINGS, GenerationSettings


def _report(run_dir: Path, **changes: object) -> EvalReport:
    example = EvalExample(
        index=0,
        line=3,
        prompt=(
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Capital of France?"},
        ),
        reference="Paris.",
        base_answer="I think Lyon",
        tuned_answer="Paris.",
        base={"exact_match": 0.0, "rouge_l": 0.0, "bleu": 0.0},
        tuned={"exact_match": 1.0, "rouge_l": 1.0, "bleu": 100.0},
    )
    values: dict[str, object] = {
        "run_id": run_dir.name,
        "run_dir": str(run_dir),
        "source": "validation split",
        "adapter": str(run_dir / "adapter"),
        "created": "2026-12-01T10:00:00+00:00",
        "settings": GenerationSettings(temperature=0.5, top_p=0.8, max_new_tokens=16, seed=7),
        "base": SideSummary(0.0, 0.1, 2.5, loss=2.0, perplexity=math.exp(2.0)),
        "tuned": SideSummary(1.0, 0.9, 80.0, loss=None, perplexity=math.inf),
        "forgetting": forgetting_check(10.0, 13.0),
        "examples": (example,),
        "notes": ("1 example skipped: it ends with a user turn.",),
    }
    values.update(changes)
    return EvalReport(**values)  # type: ignore[arg-type]


def test_round_trip(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "20261201-100000-lora"
    report = _report(run)
    path = save_report(report, run)
    assert path == run / EVAL_FOLDER / "report.json"
    assert load_report(run) == report


def test_round_trip_without_forgetting_and_with_default_settings(tmp_path: Path) -> None:
    report = _report(tmp_path, forgetting=None, settings=EVAL_SETTINGS, notes=(), examples=())
    save_report(report, tmp_path)
    assert load_report(tmp_path) == report


def test_file_is_standard_json(tmp_path: Path) -> None:
    save_report(_report(tmp_path), tmp_path)
    text = (tmp_path / "eval" / "report.json").read_text(encoding="utf-8")
    # An infinite perplexity is stored as text, not as JSON-invalid ``Infinity``.
    data = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-JSON {name}"))
    assert data["tuned"]["perplexity"] == "inf"
    assert data["examples"][0]["tuned_answer"] == "Paris."
    assert data["settings"] == {"temperature": 0.5, "top_p": 0.8, "max_new_tokens": 16, "seed": 7}


def test_missing_report_is_none(tmp_path: Path) -> None:
    assert load_report(tmp_path) is None


def test_save_is_atomic_and_replaces(tmp_path: Path) -> None:
    save_report(_report(tmp_path), tmp_path)
    newer = _report(tmp_path, source="/data/other.jsonl")
    save_report(newer, tmp_path)
    assert load_report(tmp_path) == newer
    # Only the report is left in the folder: no temporary file.
    assert [p.name for p in (tmp_path / "eval").iterdir()] == ["report.json"]


def test_broken_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "eval" / "report.json"
    path.parent.mkdir()
    path.write_text('{"run_id": "x",\n  "source": ', encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON") as caught:
        load_report(tmp_path)
    assert str(path) in str(caught.value)
    assert "line 2" in str(caught.value)


def test_wrong_field_names_the_file_and_key(tmp_path: Path) -> None:
    save_report(_report(tmp_path), tmp_path)
    path = tmp_path / "eval" / "report.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["examples"][0]["reference"] = 42
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r'examples\[0\]: "reference" must be text') as caught:
        load_report(tmp_path)
    assert str(path) in str(caught.value)

    del data["examples"][0]["reference"]
    data["examples"][0]["reference"] = "ok"
    del data["base"]["bleu"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match='"base": "bleu" is missing'):
        load_report(tmp_path)


def test_newer_format_is_refused(tmp_path: Path) -> None:
    save_report(_report(tmp_path), tmp_path)
    path = tmp_path / "eval" / "report.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["format"] = 99
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="newer ftstudio"):
        load_report(tmp_path)


def test_crash_while_saving_keeps_the_old_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _report(tmp_path)
    save_report(old, tmp_path)

    def crash(*_args: object) -> None:
        raise OSError("disk pulled out")

    monkeypatch.setattr("os.replace", crash)
    with pytest.raises(OSError, match="disk pulled out"):
        save_report(_report(tmp_path, source="new"), tmp_path)
    monkeypatch.undo()
    assert load_report(tmp_path) == old
    assert [p.name for p in (tmp_path / "eval").iterdir()] == ["report.json"]
