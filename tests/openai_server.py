"""A loopback server speaking OpenAI's files and fine-tuning endpoints, for the tests.

The real ``openai`` client talks HTTP to :class:`FakeOpenAI` (a ``ThreadingHTTPServer`` on
127.0.0.1), which answers with the JSON shapes of OpenAI's API reference and records every
request, so the tests check exactly what left the machine. The ``openai_server`` fixture of
``tests/conftest.py`` starts them for a test and stops them after.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_KEY = "sk-proj-LoopbackTestKey0123456789abcdefghij"
MODEL = "gpt-4o-mini-2024-07-18"
TUNED = "ft:gpt-4o-mini-2024-07-18:org-test:ftstudio:AbC123xy"
"""The key the server accepts, the base model of its jobs, and the model a job makes."""


@dataclass
class Request:
    """One request as the server received it."""

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
    """A job event of type ``message``."""
    return {"level": level, "message": text, "type": "message", "data": {}}


def metrics(step: int, total: int, loss: float, **extra: float) -> dict[str, Any]:
    """A job event of type ``metrics`` for ``step`` of ``total``."""
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


SUCCESS = [  # validating, queued, running (steps 1-3, a warning), succeeded (step 4)
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


def tree_bytes(folder: Path) -> bytes:
    """Every file's bytes under ``folder`` (to check that a key was never written)."""
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
