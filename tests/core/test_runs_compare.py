"""Run history in core: config diffs, run summaries, the project's run list, metrics files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from ftstudio.core.runs import RunStore, write_run_file
from ftstudio.core.runs_compare import (
    ConfigChange,
    checkpoints,
    config_diff,
    config_values,
    eval_files,
    find_run,
    format_value,
    metric_series,
    project_runs,
    read_metrics,
    run_exports,
    run_summary,
)
from ftstudio.core.train_config import TrainConfig, defaults_for, save_config

SHA = "c25eac63ddd46a04feca21ebab4c38279dccb9d40bce9cf4b40df321786ded3f"


def make_run(
    project: Path,
    run_id: str,
    *,
    config: TrainConfig | None = None,
    status: str = "finished",
    metrics: list[dict[str, Any]] | None = None,
    **info: Any,
) -> Path:
    """A run folder as the engine writes it: run.json, config.yaml, metrics.jsonl."""
    folder = project / "runs" / run_id
    folder.mkdir(parents=True)
    save_config(config or defaults_for("lora"), folder / "config.yaml")
    data = {
        "id": run_id,
        "name": run_id,
        "status": status,
        "created": "2026-11-30T10:00:00+00:00",
        "method": (config or defaults_for("lora")).method,
        "objective": "sft",
        "sessions": [
            {"started": "2026-11-30T10:00:05+00:00", "ended": "2026-11-30T10:01:05+00:00"},
            {"started": "2026-11-30T11:00:00+00:00", "ended": "2026-11-30T11:00:30+00:00"},
        ],
        "started": "2026-11-30T11:00:00+00:00",
        "ended": "2026-11-30T11:00:30+00:00",
        "dataset": {
            "path": str(project / "datasets" / "train.jsonl"),
            "sha256": SHA,
            "train_examples": 17,
            "val_examples": 7,
        },
        "step": 6,
        "total_steps": 6,
        **info,
    }
    write_run_file(folder, data)
    rows = metrics or []
    (folder / "metrics.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8"
    )
    return folder


# ---- config_diff


def test_the_diff_lists_only_changed_keys_with_their_labels() -> None:
    a = defaults_for("lora")
    b = dataclasses.replace(a, learning_rate=3e-3, r=4, target_modules=("q_proj", "v_proj"))
    changes = config_diff(a, b)
    assert [change.key for change in changes] == ["r", "target_modules", "learning_rate"]
    lr = changes[-1]
    assert lr == ConfigChange("learning_rate", "Learning rate", 2e-4, 3e-3)
    assert str(lr) == "Learning rate: 0.0002 → 0.003"
    assert changes[0].label == "LoRA rank (r)"
    assert changes[1].new_text == "q_proj, v_proj"
    assert config_diff(a, a) == []


def test_files_and_mappings_compare_like_configs(tmp_path: Path) -> None:
    a = save_config(defaults_for("lora"), tmp_path / "a.yaml")
    b = save_config(dataclasses.replace(defaults_for("lora"), epochs=5), tmp_path / "b.yaml")
    assert [(c.key, c.old, c.new) for c in config_diff(a, str(b))] == [("epochs", 3, 5)]
    # A mapping leaves keys out: they take the method's defaults, as `ftstudio train` does.
    assert config_diff({"method": "lora"}, defaults_for("lora")) == []
    assert [c.key for c in config_diff({"method": "lora"}, {"method": "qlora"})] == [
        "method",
        "optimizer",
    ]


def test_a_config_that_no_longer_validates_is_still_compared(tmp_path: Path) -> None:
    """A key of another version, a value out of range: compared as written."""
    old = tmp_path / "old.yaml"
    old.write_text("method: lora\nlearning_rate: 2e-4\nwarp_drive: true\nepochs: 500\n", "utf-8")
    changes = {c.key: c for c in config_diff(old, defaults_for("lora"))}
    assert set(changes) == {"epochs", "warp_drive"}
    assert (changes["epochs"].old, changes["epochs"].new) == (500, 3)
    assert (changes["warp_drive"].old, changes["warp_drive"].new) == (True, None)
    assert changes["warp_drive"].new_text == "(not set)"
    assert config_values(old)["learning_rate"] == pytest.approx(2e-4)  # a number, not "2e-4"
    with pytest.raises(FileNotFoundError, match=r"missing\.yaml does not exist"):
        config_values(tmp_path / "missing.yaml")


def test_values_are_shown_in_plain_text() -> None:
    assert format_value(2e-4) == "0.0002"
    assert format_value(True) == "true"
    assert format_value("") == "(empty)"
    assert format_value([]) == "(none)"
    assert format_value(None) == "(not set)"


# ---- metrics


def test_read_metrics_skips_a_torn_last_line(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "metrics.jsonl").write_text(
        '{"step": 1, "loss": 2.5}\n{"step": 2, "loss": 2.25, "eval_loss": 2.75}\n'
        '\n{"step": 3, "epoch": 0.5, "eval_loss": 2.5}\n{"step": 4, "lo',
        encoding="utf-8",
    )
    rows = read_metrics(folder)
    assert [row["step"] for row in rows] == [1, 2, 3]
    assert metric_series(rows, "loss") == ([1.0, 2.0], [2.5, 2.25])
    assert metric_series(rows, "eval_loss") == ([2.0, 3.0], [2.75, 2.5])
    assert read_metrics(tmp_path / "nowhere") == []


def test_read_metrics_ignores_rows_without_a_step_and_non_finite_values(tmp_path: Path) -> None:
    (tmp_path / "metrics.jsonl").write_text(
        '[1, 2]\n{"loss": 1.0}\n{"step": "3", "loss": 1}\n{"step": 4, "loss": NaN}\n'
        '{"step": 5, "loss": 1.5}\n',
        encoding="utf-8",
    )
    rows = read_metrics(tmp_path)
    assert [row["step"] for row in rows] == [4, 5]
    assert metric_series(rows, "loss") == ([5.0], [1.5])


# ---- summaries


def test_a_run_summary_has_dates_hyperparameters_losses_and_data_hash(tmp_path: Path) -> None:
    config = dataclasses.replace(
        defaults_for("lora"), r=8, alpha=16, per_device_batch_size=2, grad_accum=4, max_steps=6
    )
    folder = make_run(
        tmp_path,
        "20261130-100000-ab12",
        config=config,
        final_loss=1.5,
        best_eval_loss=1.75,
        message="Finished all 6 steps.",
    )
    summary = run_summary(folder)
    assert (summary.id, summary.name, summary.status) == (folder.name, folder.name, "finished")
    assert summary.created == "2026-11-30T10:00:00+00:00"
    assert summary.duration_s == 90.0  # two sessions: 60 s and 30 s
    assert summary.method_text == "LoRA · SFT"
    assert (summary.learning_rate, summary.epochs, summary.r, summary.alpha) == (2e-4, 3, 8, 16)
    assert summary.effective_batch == 8
    assert summary.max_length == config.max_length
    assert summary.length_text == "3 epochs, max 6 steps"
    assert (summary.final_loss, summary.best_eval_loss) == (1.5, 1.75)
    assert (summary.dataset_name, summary.data_hash) == ("train.jsonl", SHA[:8])
    assert summary.train_examples == 17
    assert not summary.in_database
    data = summary.to_json()
    assert data["data_hash"] == SHA[:8]
    assert data["effective_batch"] == 8
    json.dumps(data)  # JSON-ready


def test_losses_missing_from_run_json_come_from_the_metrics(tmp_path: Path) -> None:
    metrics = [
        {"step": 1, "loss": 3.0},
        {"step": 2, "loss": 2.0, "eval_loss": 2.6},
        {"step": 3, "loss": 1.0, "eval_loss": 2.4},
    ]
    folder = make_run(tmp_path, "crashed", status="running", metrics=metrics)
    summary = run_summary(folder)
    assert (summary.final_loss, summary.best_eval_loss) == (1.0, 2.4)


def test_a_running_run_counts_its_time_until_now(tmp_path: Path) -> None:
    folder = make_run(
        tmp_path, "live", status="running", sessions=[{"started": "2020-01-01T00:00:00+00:00"}]
    )
    assert run_summary(folder).duration_s > 3600 * 24 * 365


def test_a_damaged_folder_still_gives_a_summary(tmp_path: Path) -> None:
    folder = tmp_path / "runs" / "broken"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text("{not json", encoding="utf-8")
    (folder / "config.yaml").write_text("- a list\n", encoding="utf-8")
    summary = run_summary(folder)
    assert (summary.id, summary.status, summary.learning_rate) == ("broken", "unknown", None)
    assert summary.duration_s is None


def test_project_runs_merges_the_database_and_unlisted_folders(tmp_path: Path) -> None:
    indexed = make_run(tmp_path, "20261130-100000-aaaa", created="2026-11-30T10:00:00+00:00")
    make_run(tmp_path, "20261130-110000-bbbb", created="2026-11-30T11:00:00+00:00")
    (tmp_path / "runs" / "not-a-run").mkdir()
    (tmp_path / "runs" / "config-only").mkdir()
    (tmp_path / "runs" / "config-only" / "config.yaml").write_text("method: lora\n", "utf-8")
    store = RunStore.for_project(tmp_path)
    store.create(run_id=indexed.name, name="Indexed", path=indexed, method="lora")
    store.create(run_id="gone", name="Gone", path=tmp_path / "runs" / "gone", status="finished")
    listing = project_runs(tmp_path)
    assert listing.warning == ""
    by_id = {summary.id: summary for summary in listing.runs}
    assert set(by_id) == {indexed.name, "20261130-110000-bbbb", "gone", "config-only"}
    assert by_id["config-only"].status == "unknown"
    assert by_id["config-only"].method == "lora"
    assert by_id[indexed.name].in_database
    assert by_id[indexed.name].name == indexed.name  # run.json is the truth
    assert not by_id["20261130-110000-bbbb"].in_database
    assert by_id["gone"].status == "missing"
    assert find_run(listing.runs, "20261130-11").id == "20261130-110000-bbbb"
    assert find_run(listing.runs, "2026") is None  # ambiguous
    assert find_run(listing.runs, "config") is not None
    assert find_run(listing.runs, "Gone").id == "gone"


def test_project_runs_never_creates_a_database(tmp_path: Path) -> None:
    assert project_runs(tmp_path).runs == []
    make_run(tmp_path, "solo")
    assert [summary.id for summary in project_runs(tmp_path).runs] == ["solo"]
    assert not (tmp_path / "runs" / "runs.sqlite").exists()


def test_a_damaged_database_lists_the_folders_with_a_warning(tmp_path: Path) -> None:
    make_run(tmp_path, "solo")
    (tmp_path / "runs" / "runs.sqlite").write_bytes(b"this is not a database" * 100)
    listing = project_runs(tmp_path)
    assert [summary.id for summary in listing.runs] == ["solo"]
    assert "damaged" in listing.warning


def test_checkpoints_exports_and_eval_files(tmp_path: Path) -> None:
    folder = make_run(tmp_path, "run1")
    for step in (10, 5, 20):
        (folder / f"checkpoint-{step}").mkdir()
    for step in (10, 5):
        (folder / f"checkpoint-{step}" / "ftstudio-checkpoint.json").write_text("{}", "utf-8")
    assert [path.name for path in checkpoints(folder)] == ["checkpoint-5", "checkpoint-10"]
    exports = tmp_path / "exports"
    for name in ("run1-adapter", "run1-gguf", "run10-adapter"):
        (exports / name).mkdir(parents=True)
    assert [path.name for path in run_exports(folder)] == ["run1-adapter", "run1-gguf"]
    assert eval_files(folder) == []
    (folder / "eval").mkdir()
    (folder / "eval" / "report.json").write_text("{}", "utf-8")
    assert [path.name for path in eval_files(folder)] == ["report.json"]


def test_a_copied_project_lists_its_own_run_folders(tmp_path: Path) -> None:
    """The database keeps absolute paths; a copy of the project must not point at the
    original's runs (deleting one there would delete the original's)."""
    import shutil

    original = tmp_path / "original"
    run = make_run(original, "20261130-100000-aaaa")
    RunStore.for_project(original).create(run_id=run.name, name="A", path=run)
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    [summary] = project_runs(copy).runs
    assert summary.in_database
    assert summary.path == (copy / "runs" / run.name).resolve()
    moved = tmp_path / "moved"
    original.rename(moved)
    [summary] = project_runs(moved).runs
    assert summary.path == (moved / "runs" / run.name).resolve()
    assert summary.status == "finished"


def test_exports_are_listed_with_their_parity_verdicts(tmp_path: Path) -> None:
    from ftstudio.core.atomic import atomic_write_json
    from ftstudio.core.parity import ParityCheck, ParityReport, save_parity
    from ftstudio.core.runs_compare import project_exports, read_export

    run = make_run(tmp_path, "run1")
    passed = tmp_path / "exports" / "run1-merged-fp32"
    passed.mkdir(parents=True)
    check = ParityCheck("logits", True, "within the limit", 1e-6, 1e-3)
    report = ParityReport("merged", str(passed), "2026-11-30T12:00:00+00:00", True, checks=[check])
    save_parity(report, passed)
    atomic_write_json(
        passed / "ftstudio-export.json",
        {
            "format": "merged",
            "config": {"format": "merged", "dtype": "fp32", "quant": "q8_0"},
            "run_id": "run1",
            "run": str(run),
            "created": "2026-11-30T12:00:00+00:00",
            "checkpoint": 0,
        },
    )
    inside = run / "exports" / "gguf-q8_0"
    inside.mkdir(parents=True)
    save_parity(
        ParityReport("gguf", str(inside), "2026-11-30T13:00:00+00:00", False, quant="q8_0"),
        inside,
    )
    broken = tmp_path / "exports" / "broken"
    broken.mkdir()
    (broken / "parity.json").write_text("{", encoding="utf-8")
    (tmp_path / "exports" / "half.partial-x1y2").mkdir()
    (tmp_path / "exports" / "stray-folder").mkdir()
    exports = project_exports(tmp_path)
    assert [info.path.name for info in exports] == ["gguf-q8_0", "run1-merged-fp32", "broken"]
    assert [info.verdict for info in exports] == ["failed", "passed", "unreadable"]
    merged = read_export(passed)
    assert (merged.format, merged.run_id, merged.description) == ("merged", "run1", "merged (fp32)")
    assert merged.parity == report
    assert "cannot be read" in exports[-1].parity_error
    assert [path.name for path in run_exports(run)] == ["run1-merged-fp32", "gguf-q8_0"]
