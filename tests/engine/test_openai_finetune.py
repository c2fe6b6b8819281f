"""OpenAI fine-tuning against a loopback server speaking OpenAI's endpoints.

The real ``openai`` client talks HTTP to :class:`~tests.openai_server.FakeOpenAI` (a
``ThreadingHTTPServer`` on 127.0.0.1), which answers with the JSON shapes of OpenAI's API
reference and records every request, so the tests check exactly what left the machine.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keyring
import pytest

from ftstudio.core.events import Evaluated, Failed, Finished, Started, StepLogged, TrainingWarning
from ftstudio.core.runs import RunStore, read_run_file
from ftstudio.core.secrets import set_secret
from ftstudio.engine.openai_finetune import (
    EVENTS_FILE,
    JobStatus,
    NotConfirmedError,
    OpenAIJobConfig,
    OpenAIJobError,
    attach_openai_job,
    cancel_openai_job,
    run_openai_job,
    unfinished_openai_runs,
    upload_plan,
)
from tests.fake_keyring import MemoryKeyring
from tests.openai_server import (
    API_KEY,
    MODEL,
    SUCCESS,
    TUNED,
    FakeOpenAI,
    Step,
    message,
    metrics,
    tree_bytes,
)

# ---------------------------------------------------------------------------- fixtures


@pytest.fixture
def stored_key(memory_keyring: MemoryKeyring) -> str:
    set_secret("openai", API_KEY)
    return API_KEY


def project_of(sample_project: Any) -> tuple[Path, Path]:
    folder = sample_project.folder
    return folder, folder / "datasets" / "it_support.jsonl"


# ---------------------------------------------------------------------------- tests


def test_successful_job_reports_live_metrics_and_records_the_run(
    sample_project: Any, stored_key: str, openai_server: Callable[..., FakeOpenAI]
) -> None:
    server = openai_server(SUCCESS)
    project, dataset = project_of(sample_project)
    plan = upload_plan(dataset, OpenAIJobConfig(suffix="ftstudio"), base_url=server.base_url)
    assert plan.ok, plan.problems
    events: list[Any] = []
    statuses: list[JobStatus] = []
    result = run_openai_job(
        plan,
        events.append,
        project=project,
        confirmed=True,
        poll_interval=0.01,
        on_status=statuses.append,
    )
    assert result.status == "finished", result.message
    assert result.fine_tuned_model == TUNED
    assert (result.step, result.total_steps, result.final_loss) == (4, 4, 1.20)
    assert result.best_eval_loss == 1.45

    # Exactly what left the machine: the plan's files, byte for byte, then the job.
    assert [upload["purpose"] for upload in server.uploads] == ["fine-tune", "fine-tune"]
    assert [upload["content"] for upload in server.uploads] == [f.content for f in plan.files]
    assert [upload["filename"] for upload in server.uploads] == [
        "it_support-train.jsonl",
        "it_support-validation.jsonl",
    ]
    sent = b"".join(upload["content"] for upload in server.uploads)
    for curation in (b'"tags"', b'"review"', b'"note"', b'"source"'):
        assert curation not in sent
    examples = sum(item.examples for item in plan.files)
    assert sent.count(b"\n") == examples == 77
    create = json.loads(next(r.body for r in server.requests if r.path == "/v1/fine_tuning/jobs"))
    assert create["model"] == MODEL
    assert create["training_file"] == "file-0001abc"
    assert create["validation_file"] == "file-0002abc"
    assert create["method"] == {
        "type": "supervised",
        "supervised": {"hyperparameters": {"n_epochs": "auto"}},
    }
    assert create["suffix"] == "ftstudio"
    assert create["metadata"] == {"ftstudio_run": result.run_id}
    assert {r.headers["authorization"] for r in server.requests} == {f"Bearer {API_KEY}"}
    assert all(r.headers["host"].startswith("127.0.0.1:") for r in server.requests)

    # The events: Started, a step per metrics event, evaluations, the warning, Finished.
    kinds = [type(event) for event in events]
    assert kinds[0] is Started
    assert kinds[-1] is Finished
    steps = [event for event in events if isinstance(event, StepLogged)]
    assert [(s.step, s.total_steps, s.loss) for s in steps] == [
        (1, 4, 2.10),
        (2, 4, 1.70),
        (3, 4, 1.40),
        (4, 4, 1.20),
    ]
    assert steps[0].metrics == {"train_mean_token_accuracy": 0.51}
    assert steps[-1].epoch == 2.0  # 4 of 4 steps of 2 epochs
    evaluations = [event for event in events if isinstance(event, Evaluated)]
    assert [(e.step, e.eval_loss, e.is_best) for e in evaluations] == [
        (2, 1.90, True),
        (4, 1.45, True),  # full_valid_loss wins over valid_loss
    ]
    [warning] = [event for event in events if isinstance(event, TrainingWarning)]
    assert warning.code == "openai"
    assert "truncated" in warning.message
    finished = events[-1]
    assert finished.status == "finished"
    assert TUNED in finished.reason
    assert [s.status for s in statuses if not s.message] == [
        "validating_files",
        "queued",
        "running",
        "succeeded",
    ]
    assert any("Validating training file" in s.message for s in statuses)

    # The run folder and its database row.
    run_dir = result.run_dir
    assert run_dir is not None
    assert run_dir.parent == project / "runs"
    info = read_run_file(run_dir)
    assert info["backend"] == "openai"
    assert info["method"] == "openai"
    assert info["job_id"] == "ftjob-Loopback0001"
    assert info["model"] == MODEL
    assert info["status"] == "finished"
    assert info["fine_tuned_model"] == TUNED
    assert info["job_status"] == "succeeded"
    assert info["trained_tokens"] == 12345
    assert [u["file_id"] for u in info["uploads"]] == ["file-0001abc", "file-0002abc"]
    assert (run_dir / "data" / "train.jsonl").read_bytes() == plan.files[0].content
    assert (run_dir / "data" / "validation.jsonl").read_bytes() == plan.files[1].content
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["loss"] for row in rows] == [2.10, 1.70, 1.40, 1.20]
    assert [row.get("eval_loss") for row in rows] == [None, 1.90, None, 1.45]
    logged = (run_dir / "events.jsonl").read_text().splitlines()
    assert len(logged) == len(events)
    job_events = (run_dir / EVENTS_FILE).read_text().splitlines()
    assert len(job_events) == len(server.events)
    record = RunStore.for_project(project).get(result.run_id)
    assert record is not None
    assert (record.status, record.method, record.base_model) == ("finished", "openai", MODEL)
    assert (record.step, record.total_steps, record.final_loss) == (4, 4, 1.20)
    assert record.best_eval_loss == 1.45

    # The key is in no file of the project (run folder, database, events).
    assert API_KEY.encode() not in tree_bytes(project)


def test_failed_job_reports_openais_message(
    sample_project: Any, stored_key: str, openai_server: Callable[..., FakeOpenAI]
) -> None:
    why = "The job failed due to an invalid training file. Examples 3 and 7 have no assistant"
    script = [
        Step("validating_files"),
        Step(
            "failed",
            [message(why, level="error")],
            {"error": {"code": "invalid_training_file", "message": why, "param": "training_file"}},
        ),
    ]
    server = openai_server(script)
    project, dataset = project_of(sample_project)
    plan = upload_plan(dataset, OpenAIJobConfig(validation_share=0), base_url=server.base_url)
    events: list[Any] = []
    result = run_openai_job(plan, events.append, project=project, confirmed=True, poll_interval=0)
    assert result.status == "failed"
    assert result.code == "data"
    assert why in result.message
    assert len(server.uploads) == 1  # no validation share: one file
    failed = events[-1]
    assert isinstance(failed, Failed)
    assert failed.code == "data"
    assert why in failed.message
    record = RunStore.for_project(project).get(result.run_id)
    assert record is not None
    assert record.status == "failed"
    assert why in record.error
    assert read_run_file(result.run_dir)["job_status"] == "failed"


def test_cancel_posts_cancel_and_stops_the_run(
    sample_project: Any, stored_key: str, openai_server: Callable[..., FakeOpenAI]
) -> None:
    server = openai_server([Step("running", [metrics(1, 100, 2.5)])])
    project, dataset = project_of(sample_project)
    plan = upload_plan(dataset, OpenAIJobConfig(), base_url=server.base_url)
    cancel = threading.Event()
    events: list[Any] = []

    def on_event(event: Any) -> None:
        events.append(event)
        if isinstance(event, StepLogged):
            cancel.set()

    result = run_openai_job(
        plan, on_event, cancel, project=project, confirmed=True, poll_interval=0.01
    )
    assert result.status == "stopped"
    assert "POST /v1/fine_tuning/jobs/ftjob-Loopback0001/cancel" in server.paths()
    assert server.job is not None
    assert server.job["status"] == "cancelled"
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.status == "stopped"
    assert "cancelled as you asked" in finished.reason
    record = RunStore.for_project(project).get(result.run_id)
    assert record is not None
    assert record.status == "stopped"
    assert record.step == 1


def test_nothing_is_sent_without_confirmation(
    sample_project: Any, stored_key: str, openai_server: Callable[..., FakeOpenAI]
) -> None:
    server = openai_server(SUCCESS)
    project, dataset = project_of(sample_project)
    plan = upload_plan(dataset, OpenAIJobConfig(), base_url=server.base_url)
    with pytest.raises(NotConfirmedError, match="not confirmed"):
        run_openai_job(plan, project=project, confirmed=False)
    with pytest.raises(OpenAIJobError, match="confirmed address"):
        run_openai_job(plan, project=project, confirmed=True, base_url="https://api.openai.com/v1")
    assert server.requests == []
    assert not (project / "runs").exists() or not any((project / "runs").iterdir())


def test_too_few_examples_are_refused_before_any_request(
    tmp_path: Path, stored_key: str, openai_server: Callable[..., FakeOpenAI]
) -> None:
    server = openai_server(SUCCESS)
    rows = [
        {"messages": [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": "A"}]}
        for i in range(6)
    ]
    path = tmp_path / "small.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    plan = upload_plan(path, OpenAIJobConfig(validation_share=0), base_url=server.base_url)
    assert not plan.ok
    assert any("at least 10" in problem for problem in plan.problems)
    with pytest.raises(OpenAIJobError, match="at least 10"):
        run_openai_job(plan, project=tmp_path, confirmed=True)
    assert server.requests == []
    assert not (tmp_path / "runs").exists()


def test_missing_key_or_keyring_sends_nothing(
    sample_project: Any, memory_keyring: MemoryKeyring, openai_server: Callable[..., FakeOpenAI]
) -> None:
    server = openai_server(SUCCESS)
    project, dataset = project_of(sample_project)
    plan = upload_plan(dataset, OpenAIJobConfig(), base_url=server.base_url)
    with pytest.raises(OpenAIJobError, match="no OpenAI API key is stored"):
        run_openai_job(plan, project=project, confirmed=True)
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    with pytest.raises(OpenAIJobError, match="No OS keyring"):
        run_openai_job(plan, project=project, confirmed=True)
    assert server.requests == []


def test_refused_key_is_a_plain_failure_without_the_key(
    sample_project: Any, stored_key: str, openai_server: Callable[..., FakeOpenAI]
) -> None:
    server = openai_server(SUCCESS, key="sk-proj-SomeOtherKey0123456789abcdefgh")
    project, dataset = project_of(sample_project)
    plan = upload_plan(dataset, OpenAIJobConfig(), base_url=server.base_url)
    events: list[Any] = []
    result = run_openai_job(plan, events.append, project=project, confirmed=True)
    assert result.status == "failed"
    assert result.code == "auth"
    assert "refused the API key (401" in result.message
    assert API_KEY not in result.message
    assert "[redacted]" in result.message
    assert isinstance(events[-1], Failed)
    assert API_KEY not in events[-1].message
    assert server.paths() == ["POST /v1/files"]  # the first request was refused
    assert API_KEY.encode() not in tree_bytes(project)


def test_detach_then_attach_follows_the_job_to_its_end(
    sample_project: Any, stored_key: str, openai_server: Callable[..., FakeOpenAI]
) -> None:
    server = openai_server(SUCCESS)
    project, dataset = project_of(sample_project)
    plan = upload_plan(dataset, OpenAIJobConfig(), base_url=server.base_url)
    detach = threading.Event()
    first: list[Any] = []

    def on_event(event: Any) -> None:
        first.append(event)
        if isinstance(event, StepLogged) and event.step == 2:
            detach.set()

    result = run_openai_job(
        plan, on_event, project=project, confirmed=True, poll_interval=0.01, detach=detach
    )
    assert result.status == "detached"
    assert RunStore.for_project(project).get(result.run_id).status == "running"
    assert unfinished_openai_runs(project) == [result.run_dir]

    second: list[Any] = []
    again = attach_openai_job(result.run_dir, second.append, poll_interval=0.01)
    assert again.status == "finished"
    assert again.fine_tuned_model == TUNED
    assert isinstance(second[0], Started)
    assert second[0].start_step == 2
    steps = [e.step for e in first + second if isinstance(e, StepLogged)]
    assert steps == [1, 2, 3, 4]  # nothing reported twice
    assert again.best_eval_loss == 1.45
    assert again.final_loss == 1.20
    assert RunStore.for_project(project).get(result.run_id).status == "finished"
    assert unfinished_openai_runs(project) == []
    rows = (result.run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(row)["step"] for row in rows] == [1, 2, 3, 4]


def test_cancel_from_the_run_folder(
    sample_project: Any, stored_key: str, openai_server: Callable[..., FakeOpenAI]
) -> None:
    server = openai_server([Step("running")])
    project, dataset = project_of(sample_project)
    plan = upload_plan(dataset, OpenAIJobConfig(), base_url=server.base_url)
    detach = threading.Event()
    detach.set()
    result = run_openai_job(plan, project=project, confirmed=True, detach=detach)
    assert result.status == "detached"
    assert cancel_openai_job(result.run_dir) == "cancelled"
    assert read_run_file(result.run_dir)["status"] == "stopped"
    assert RunStore.for_project(project).get(result.run_id).status == "stopped"


def test_plan_names_what_leaves_the_machine(sample_project: Any) -> None:
    project, dataset = project_of(sample_project)
    plan = upload_plan(dataset, OpenAIJobConfig(n_epochs=2), project=project)
    assert plan.ok
    assert plan.host == "api.openai.com"
    assert plan.epochs == 2
    assert plan.billed_tokens == plan.report.tokens * 2
    text = plan.confirmation_text()
    assert "Upload to api.openai.com (https://api.openai.com/v1)" in text
    for item in plan.files:
        assert item.filename in text
        assert f"{item.size_bytes:,} bytes" in text
        assert f"{item.examples:,} {item.role} examples" in text
    assert "Tags, review states, notes and sources are not sent" in text
    assert "OS keyring" in text
    assert json.dumps(plan.to_json())  # JSON-ready, without the bytes
    assert "content" not in plan.to_json()["files"][0]


def test_plan_refuses_plain_http_to_another_machine(sample_project: Any) -> None:
    _, dataset = project_of(sample_project)
    plan = upload_plan(dataset, base_url="http://example.com/v1")
    assert not plan.ok
    assert any("Use https" in problem for problem in plan.problems)
    assert upload_plan(dataset, base_url="http://localhost:8080/v1").ok
    bad = upload_plan(dataset, OpenAIJobConfig(suffix="x" * 65, model=""))
    assert len(bad.problems) == 2


def test_job_settings_form_fields() -> None:
    from ftstudio.core.fields import field_specs

    names = [spec.name for spec in field_specs(OpenAIJobConfig)]
    assert names == [
        "model",
        "n_epochs",
        "suffix",
        "seed",
        "validation_share",
        "validation_file",
    ]
    assert OpenAIJobConfig().epochs_param == "auto"
    assert OpenAIJobConfig(n_epochs=4).epochs_param == 4
    assert OpenAIJobConfig().problems() == []


def test_importing_the_engine_loads_neither_torch_nor_openai() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ftstudio.engine.openai_finetune as m; "
        "print('torch' in sys.modules, 'openai' in sys.modules, callable(m.upload_plan))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.split() == ["False", "False", "True"]
