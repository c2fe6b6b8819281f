"""OpenAI fine-tuning against a loopback server speaking OpenAI's endpoints.

The real ``openai`` client talks HTTP to :class:`FakeOpenAI` (a ``ThreadingHTTPServer`` on
127.0.0.1), which answers with the JSON shapes of OpenAI's API reference and records every
request, so the tests check exactly what left the machine.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

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
from tests.core.test_secrets import MemoryKeyring

API_KEY = "sk-proj-LoopbackTestKey0123456789abcdefghij"
MODEL = "gpt-4o-mini-2024-07-18"
TUNED = "ft:gpt-4o-mini-2024-07-18:org-test:ftstudio:AbC123xy"


# ---------------------------------------------------------------------------- the server


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Step:
    """What one look at the job (GET /v1/fine_tuning/jobs/{id}) changes."""

    status: str
    events: list[dict[str, Any]] = field(default_factory=list)
    job: dict[str, Any] = field(default_factory=dict)


def message(text: str, level: str = "info") -> dict[str, Any]:
    return {"level": level, "message": text, "type": "message", "data": {}}


def metrics(step: int, total: int, loss: float, **extra: float) -> dict[str, Any]:
    data = {"step": step, "train_loss": loss, "total_steps": total, **extra}
    data.setdefault("train_mean_token_accuracy", 0.5 + step / 100)
    return {
        "level": "info",
        "message": f"Step {step}/{total}: training loss={loss:.2f}",
        "type": "metrics",
        "data": data,
    }


class FakeOpenAI:
    """OpenAI's files and fine-tuning endpoints on loopback, driven by a script of steps.

    Each GET of the job applies the next :class:`Step` (status, new events, job fields);
    when the script is used up the job stays as it is. Events are listed newest first,
    ``page_size`` at a time, with ``after`` cursors, as OpenAI does.
    """

    def __init__(self, script: list[Step], *, key: str = API_KEY, page_size: int = 2) -> None:
        self.script = list(script)
        self.key = key
        self.page_size = page_size
        self.requests: list[Request] = []
        self.uploads: list[dict[str, Any]] = []
        self.job: dict[str, Any] | None = None
        self.events: list[dict[str, Any]] = []  # oldest first
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def paths(self) -> list[str]:
        return [f"{r.method} {urlsplit(r.path).path}" for r in self.requests]

    # ---- endpoints
    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: bytes,
        headers: dict[str, str],
    ) -> tuple[int, dict[str, Any]]:
        if headers.get("authorization") != f"Bearer {self.key}":
            given = headers.get("authorization", "").removeprefix("Bearer ")
            return 401, {
                "error": {
                    "message": f"Incorrect API key provided: {given}.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            }
        if method == "POST" and path == "/v1/files":
            return 200, self._upload(headers["content-type"], body)
        if method == "POST" and path == "/v1/fine_tuning/jobs":
            return 200, self._create(json.loads(body))
        if self.job is None or not path.startswith(f"/v1/fine_tuning/jobs/{self.job['id']}"):
            return 404, {
                "error": {"message": f"No such path {path}", "type": "invalid_request_error"}
            }
        rest = path.removeprefix(f"/v1/fine_tuning/jobs/{self.job['id']}")
        if method == "GET" and rest == "":
            if self.script:
                self._apply(self.script.pop(0))
            return 200, self.job
        if method == "GET" and rest == "/events":
            return 200, self._events(query)
        if method == "POST" and rest == "/cancel":
            if self.job["status"] not in ("succeeded", "failed", "cancelled"):
                self.job["status"] = "cancelled"
                self.job["finished_at"] = int(time.time())
                self._add_event(message("Fine-tuning job cancelled"))
                self.script.clear()
            return 200, self.job
        return 404, {"error": {"message": f"No such path {path}", "type": "invalid_request_error"}}

    def _upload(self, content_type: str, body: bytes) -> dict[str, Any]:
        boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
        fields: dict[str, Any] = {}
        for part in body.split(b"--" + boundary)[1:-1]:
            head, _, content = part[2:].partition(b"\r\n\r\n")
            content = content[:-2]  # the \r\n before the next boundary
            disposition = head.decode().split("\r\n")[0]
            name = disposition.split('name="', 1)[1].split('"', 1)[0]
            if 'filename="' in disposition:
                fields["filename"] = disposition.split('filename="', 1)[1].split('"', 1)[0]
            fields[name] = content
        upload = {
            "id": f"file-{len(self.uploads) + 1:04d}abc",
            "object": "file",
            "bytes": len(fields["file"]),
            "created_at": int(time.time()),
            "filename": fields["filename"],
            "purpose": fields["purpose"].decode(),
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }
        self.uploads.append({**upload, "content": fields["file"]})
        return upload

    def _create(self, request: dict[str, Any]) -> dict[str, Any]:
        hyper = request.get("method", {}).get("supervised", {}).get("hyperparameters", {})
        self.job = {
            "object": "fine_tuning.job",
            "id": "ftjob-Loopback0001",
            "model": request["model"],
            "created_at": int(time.time()),
            "finished_at": None,
            "fine_tuned_model": None,
            "organization_id": "org-test",
            "result_files": [],
            "status": "validating_files",
            "validation_file": request.get("validation_file"),
            "training_file": request["training_file"],
            "hyperparameters": {
                "n_epochs": hyper.get("n_epochs", "auto"),
                "batch_size": "auto",
                "learning_rate_multiplier": "auto",
            },
            "method": request.get("method"),
            "trained_tokens": None,
            "error": None,
            "seed": request.get("seed", 0),
            "estimated_finish": None,
            "integrations": [],
            "metadata": request.get("metadata"),
            "user_provided_suffix": request.get("suffix"),
        }
        self._add_event(message(f"Created fine-tuning job: {self.job['id']}"))
        return self.job

    def _apply(self, step: Step) -> None:
        self.job["status"] = step.status
        self.job.update(step.job)
        for event in step.events:
            self._add_event(event)

    def _add_event(self, event: dict[str, Any]) -> None:
        number = len(self.events) + 1
        self.events.append(
            {
                "object": "fine_tuning.job.event",
                "id": f"ftevent-{number:04d}",
                "created_at": 1_700_000_000 + number,
                **event,
            }
        )

    def _events(self, query: dict[str, list[str]]) -> dict[str, Any]:
        newest_first = list(reversed(self.events))
        after = query.get("after", [None])[0]
        if after is not None:
            ids = [event["id"] for event in newest_first]
            newest_first = newest_first[ids.index(after) + 1 :]
        limit = min(int(query.get("limit", ["20"])[0]), self.page_size)
        page = newest_first[:limit]
        return {"object": "list", "data": page, "has_more": len(newest_first) > limit}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {key.lower(): value for key, value in self.headers.items()}
                parts = urlsplit(self.path)
                with fake.lock:
                    fake.requests.append(Request(method, self.path, headers, body))
                    status, payload = fake.handle(
                        method, parts.path, parse_qs(parts.query), body, headers
                    )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self._serve("POST")

        return Handler


SUCCESS = [
    Step("validating_files", [message("Validating training file: file-0001abc")]),
    Step(
        "queued",
        [message("Files validated, moving job to queued state")],
        {"hyperparameters": {"n_epochs": 2, "batch_size": 1, "learning_rate_multiplier": 1.8}},
    ),
    Step(
        "running",
        [
            message("Fine-tuning job started"),
            metrics(1, 4, 2.10),
            metrics(2, 4, 1.70, valid_loss=1.90, valid_mean_token_accuracy=0.55),
            message("Some examples were truncated to 65,536 tokens", level="warn"),
        ],
        {"estimated_finish": int(time.time()) + 600},
    ),
    Step("running", [metrics(3, 4, 1.40)]),
    Step(
        "succeeded",
        [
            metrics(
                4,
                4,
                1.20,
                valid_loss=1.50,
                full_valid_loss=1.45,
                full_valid_mean_token_accuracy=0.62,
            ),
            message(f"New fine-tuned model created: {TUNED}"),
            message("The job has successfully completed"),
        ],
        {
            "fine_tuned_model": TUNED,
            "trained_tokens": 12345,
            "finished_at": int(time.time()),
            "result_files": ["file-result01"],
        },
    ),
]


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def stored_key(memory_keyring: MemoryKeyring) -> str:
    set_secret("openai", API_KEY)
    return API_KEY


def serve(script: list[Step], **options: Any) -> FakeOpenAI:
    return FakeOpenAI(script, **options).start()


@pytest.fixture
def fake_server() -> Iterator[list[FakeOpenAI]]:
    servers: list[FakeOpenAI] = []
    yield servers
    for server in servers:
        server.stop()


def started(fake_server: list[FakeOpenAI], script: list[Step], **options: Any) -> FakeOpenAI:
    server = serve(script, **options)
    fake_server.append(server)
    return server


def project_of(sample_project: Any) -> tuple[Path, Path]:
    folder = sample_project.folder
    return folder, folder / "datasets" / "it_support.jsonl"


def tree_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------- tests


def test_successful_job_reports_live_metrics_and_records_the_run(
    sample_project: Any, stored_key: str, fake_server: list[FakeOpenAI]
) -> None:
    server = started(fake_server, list(SUCCESS))
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
    sample_project: Any, stored_key: str, fake_server: list[FakeOpenAI]
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
    server = started(fake_server, script)
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
    sample_project: Any, stored_key: str, fake_server: list[FakeOpenAI]
) -> None:
    server = started(fake_server, [Step("running", [metrics(1, 100, 2.5)])])
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
    sample_project: Any, stored_key: str, fake_server: list[FakeOpenAI]
) -> None:
    server = started(fake_server, list(SUCCESS))
    project, dataset = project_of(sample_project)
    plan = upload_plan(dataset, OpenAIJobConfig(), base_url=server.base_url)
    with pytest.raises(NotConfirmedError, match="not confirmed"):
        run_openai_job(plan, project=project, confirmed=False)
    with pytest.raises(OpenAIJobError, match="confirmed address"):
        run_openai_job(plan, project=project, confirmed=True, base_url="https://api.openai.com/v1")
    assert server.requests == []
    assert not (project / "runs").exists() or not any((project / "runs").iterdir())


def test_too_few_examples_are_refused_before_any_request(
    tmp_path: Path, stored_key: str, fake_server: list[FakeOpenAI]
) -> None:
    server = started(fake_server, list(SUCCESS))
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
    sample_project: Any, memory_keyring: MemoryKeyring, fake_server: list[FakeOpenAI]
) -> None:
    server = started(fake_server, list(SUCCESS))
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
    sample_project: Any, stored_key: str, fake_server: list[FakeOpenAI]
) -> None:
    server = started(fake_server, list(SUCCESS), key="sk-proj-SomeOtherKey0123456789abcdefgh")
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
    sample_project: Any, stored_key: str, fake_server: list[FakeOpenAI]
) -> None:
    server = started(fake_server, list(SUCCESS))
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
    sample_project: Any, stored_key: str, fake_server: list[FakeOpenAI]
) -> None:
    server = started(fake_server, [Step("running")])
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
