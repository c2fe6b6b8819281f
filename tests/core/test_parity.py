"""ParityReport: JSON round trip, the summary line, saving and loading parity.json."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ftstudio.core.parity import (
    PARITY_FILE,
    ParityCheck,
    ParityFileError,
    ParityReport,
    ParitySample,
    load_parity,
    save_parity,
)


def _report(passed: bool = True) -> ParityReport:
    return ParityReport(
        format="merged",
        path="/exports/merged-fp32",
        created="2026-11-30T10:00:00+00:00",
        passed=passed,
        reference="the base model in fp32 with the final adapter",
        prompts=2,
        max_abs_logit_diff=2.4e-7,
        tolerance=1e-3,
        greedy_equal=passed,
        top1_agreement=1.0,
        logit_range=12.5,
        stop_tokens=["<|eot_id|>", "<|end_of_text|>"],
        checks=[
            ParityCheck("logits", True, "max diff 2.4e-07", 2.4e-7, 1e-3),
            ParityCheck("greedy", passed, "greedy tokens", 2.0, 2.0),
        ],
        samples=[ParitySample("Hi", "Hello", "Hello", 2.4e-7, True)],
        dtype="fp32",
        notes=["a note"],
    )


def test_round_trip_through_parity_json(tmp_path: Path) -> None:
    report = _report()
    path = save_parity(report, tmp_path)
    assert path == tmp_path / PARITY_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["ftstudio_parity"] == 1
    assert data["checks"][0] == {
        "name": "logits",
        "passed": True,
        "message": "max diff 2.4e-07",
        "value": 2.4e-7,
        "limit": 1e-3,
    }
    assert load_parity(tmp_path) == report
    assert load_parity(path) == report


def test_summary_names_the_verdict_numbers_and_failed_checks() -> None:
    assert _report().summary() == (
        "parity PASSED, max logit diff 2.40e-07 (limit 1.00e-03), greedy tokens equal, "
        "top-1 agreement 100%, 2 prompts"
    )
    failed = _report(passed=False)
    assert failed.failed_checks == [failed.checks[1]]
    assert failed.check("greedy") is failed.checks[1]
    assert failed.summary().startswith("parity FAILED")
    assert "greedy tokens DIFFER" in failed.summary()
    assert failed.summary().endswith("failed: greedy: greedy tokens")


def test_non_finite_numbers_are_written_as_null(tmp_path: Path) -> None:
    report = ParityReport("gguf", "x", "now", False, max_abs_logit_diff=math.inf)
    save_parity(report, tmp_path)
    data = json.loads((tmp_path / PARITY_FILE).read_text(encoding="utf-8"))
    assert data["max_abs_logit_diff"] is None
    assert load_parity(tmp_path).max_abs_logit_diff is None


def test_missing_file_is_none_and_a_damaged_one_names_the_file(tmp_path: Path) -> None:
    assert load_parity(tmp_path) is None
    (tmp_path / PARITY_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(ParityFileError, match="parity.json cannot be read"):
        load_parity(tmp_path)
    (tmp_path / PARITY_FILE).write_text('{"other": 1}', encoding="utf-8")
    with pytest.raises(ParityFileError, match="not an ftstudio parity report"):
        load_parity(tmp_path)


def test_unknown_keys_from_a_newer_version_are_ignored() -> None:
    data = _report().to_json()
    data["future_field"] = 1
    data["checks"][0]["future"] = True
    assert ParityReport.from_json(data) == _report()
