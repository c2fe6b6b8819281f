"""What a job would upload, and where (:func:`upload_plan`); no network here."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ftstudio.core.dataset.records import Dataset
from ftstudio.core.fields import to_mapping
from ftstudio.core.openai_data import (
    OpenAIDataReport,
    TokenCounter,
    check_openai_dataset,
    openai_jsonl,
)
from ftstudio.core.secrets import SECRET_LABELS
from ftstudio.engine.openai_finetune.config import DEFAULT_BASE_URL, OpenAIJobConfig

_LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class UploadFile:
    """One file that will be uploaded.

    Attributes:
        role: ``training`` or ``validation``.
        filename: the name OpenAI will show.
        examples: examples in it.
        size_bytes: its size.
        tokens: about how many tokens it holds (each example up to the model's limit).
        sha256: the SHA-256 of its bytes.
        content: the exact bytes (not shown in :meth:`UploadPlan.to_json`).
    """

    role: str
    filename: str
    examples: int
    size_bytes: int
    tokens: int
    sha256: str
    content: bytes = field(repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The file's description, without its bytes."""
        return {
            "role": self.role,
            "filename": self.filename,
            "examples": self.examples,
            "size_bytes": self.size_bytes,
            "tokens": self.tokens,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class UploadPlan:
    """What a job would send, and where: everything the confirmation names.

    Attributes:
        config: the job settings.
        dataset_path: the training dataset file (``""`` for a dataset not from a file).
        base_url: the API's address (``https://api.openai.com/v1`` normally).
        host: the host the files and the API key go to.
        files: the files to upload (training first).
        report: the training examples' check.
        validation_report: the validation examples' check (``None``: no validation).
        notes: things worth knowing that do not stop the job.
        problems: reasons the job cannot start (empty: it can).
    """

    config: OpenAIJobConfig
    dataset_path: str
    base_url: str
    host: str
    files: tuple[UploadFile, ...]
    report: OpenAIDataReport
    validation_report: OpenAIDataReport | None = None
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the job can start (no :attr:`problems`)."""
        return not self.problems

    @property
    def epochs(self) -> int:
        """The epochs that will run (the requested ones, or OpenAI's auto rule)."""
        return self.report.epochs

    @property
    def billed_tokens(self) -> int:
        """About how many trained tokens OpenAI will bill (training tokens × epochs)."""
        return self.report.billed_tokens

    @property
    def total_bytes(self) -> int:
        """The bytes of every file together."""
        return sum(item.size_bytes for item in self.files)

    def confirmation_text(self) -> str:
        """Plain text naming exactly what will leave the machine, to where, and the cost
        basis; the user confirms it before :func:`run_openai_job` may run."""
        lines = [
            f"Upload to {self.host} ({self.base_url}) and start a fine-tuning job of "
            f"{self.config.model}:",
        ]
        for item in self.files:
            lines.append(
                f"  - {item.filename}: {item.examples:,} {item.role} examples, "
                f"{_size(item.size_bytes)}, about {item.tokens:,} tokens"
            )
        source = f" from {self.dataset_path}" if self.dataset_path else ""
        lines.append(
            f"These files hold the full text of every message (system, user, assistant and "
            f"tool turns) of those examples{source}. Tags, review states, notes and sources "
            "are not sent."
        )
        left_out = self.report.left_out + (
            self.validation_report.left_out if self.validation_report else 0
        )
        if left_out:
            lines.append(f"{left_out:,} examples are left out (rejected, or with errors).")
        auto = " (auto: OpenAI's rule for this many examples)" if self.report.auto else ""
        method = self.report.token_method
        how = "an estimate, usually above the real count" if method.startswith("est") else method
        lines.append(
            f"Training: {self.epochs} epochs{auto}; about {self.billed_tokens:,} trained "
            f"tokens will be billed to your OpenAI account ({how})."
        )
        lines.append(
            "The files stay in your OpenAI account until you delete them there. Your "
            f"{SECRET_LABELS['openai']} is read from the OS keyring and sent only to "
            f"{self.host}."
        )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The plan as printed by ``ftstudio openai train --json`` (no file bytes)."""
        return {
            "ok": self.ok,
            "model": self.config.model,
            "config": to_mapping(self.config),
            "dataset": self.dataset_path,
            "base_url": self.base_url,
            "host": self.host,
            "files": [item.to_json() for item in self.files],
            "epochs": self.epochs,
            "epochs_auto": self.report.auto,
            "billed_tokens_estimate": self.billed_tokens,
            "token_method": self.report.token_method,
            "notes": list(self.notes),
            "problems": list(self.problems),
        }


def upload_plan(
    dataset: Dataset | Path | str,
    config: OpenAIJobConfig | None = None,
    *,
    project: Path | None = None,
    base_url: str | None = None,
    counter: TokenCounter | None = None,
) -> UploadPlan:
    """Work out what a job would upload; nothing is sent and nothing is written.

    Args:
        dataset: the curated dataset, or its file (relative paths are taken from
            ``project`` when given).
        config: the job settings (default :class:`OpenAIJobConfig`).
        project: the project folder (for relative paths).
        base_url: the API address (default :data:`DEFAULT_BASE_URL`).
        counter: how to count tokens (default: tiktoken if usable, else the estimate).

    Raises:
        DatasetReadError: a dataset file cannot be read.
    """
    from ftstudio.core.dataset.formats import load_dataset
    from ftstudio.core.dataset.split import SplitFileError, assign_split, load_split

    config = config or OpenAIJobConfig()
    problems = list(config.problems())
    notes: list[str] = []
    url = (base_url or DEFAULT_BASE_URL).rstrip("/")
    host, url_problem = _check_base_url(url)
    if url_problem:
        problems.append(url_problem)
    if not isinstance(dataset, Dataset):
        dataset = load_dataset(_resolve(dataset, project))
    train_ids: list[int] | None = None
    val_ids: list[int] | None = None
    val_dataset: Dataset | None = None
    if config.validation_file.strip():
        val_dataset = load_dataset(_resolve(config.validation_file, project))
    elif config.validation_share > 0 and dataset.kind != "preference":
        stored = None
        if dataset.path is not None:
            try:
                stored = load_split(dataset.path)
            except SplitFileError as error:
                problems.append(str(error))
        split = (
            stored.apply(dataset)
            if stored is not None
            else assign_split(dataset, config.validation_share, config.seed)
        )
        if stored is not None and abs(stored.val_fraction - config.validation_share) > 1e-9:
            notes.append(
                f"The dataset's stored split ({stored.path.name}) holds back "
                f"{stored.val_fraction:g} for validation; it is used instead of "
                f"{config.validation_share:g}."
            )
        train_ids, val_ids = list(split.train), list(split.val)
        if not val_ids:
            notes.append(
                "No example fell into the validation share (the dataset is small), so no "
                "validation loss will be reported."
            )
            val_ids = None
    report = check_openai_dataset(
        dataset, config.model, n_epochs=config.n_epochs, indices=train_ids, counter=counter
    )
    problems.extend(issue.message for issue in report.blocking)
    val_report = None
    if val_dataset is not None or val_ids is not None:
        val_report = check_openai_dataset(
            val_dataset or dataset,
            config.model,
            n_epochs=config.n_epochs,
            indices=val_ids,
            role="validation",
            counter=counter,
        )
        problems.extend(f"Validation: {issue.message}" for issue in val_report.blocking)
        if not val_report.usable and not val_report.blocking:
            notes.append("No validation example is usable, so no validation loss is reported.")
    if report.token_method.startswith("estimated"):
        notes.append(
            "Token counts are estimates (install tiktoken for exact counts); they are "
            "usually above the real ones."
        )
    stem = dataset.path.stem if dataset.path is not None else "dataset"
    files = [_upload_file("training", f"{stem}-train.jsonl", dataset, report)]
    if val_report is not None and val_report.usable:
        val_stem = val_dataset.path.stem if val_dataset and val_dataset.path else stem
        files.append(
            _upload_file(
                "validation", f"{val_stem}-validation.jsonl", val_dataset or dataset, val_report
            )
        )
    return UploadPlan(
        config=config,
        dataset_path=str(dataset.path) if dataset.path is not None else "",
        base_url=url,
        host=host,
        files=tuple(files),
        report=report,
        validation_report=val_report,
        notes=tuple(notes),
        problems=tuple(problems),
    )


def _upload_file(role: str, name: str, dataset: Dataset, report: OpenAIDataReport) -> UploadFile:
    content = openai_jsonl(dataset, report.usable)
    return UploadFile(
        role=role,
        filename=name,
        examples=len(report.usable),
        size_bytes=len(content),
        tokens=report.tokens,
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
    )


def _resolve(path: Path | str, project: Path | None) -> Path:
    path = Path(path).expanduser()
    if not path.is_absolute() and project is not None:
        return Path(project) / path
    return path


def _check_base_url(url: str) -> tuple[str, str]:
    """(host as shown, problem or ``""``): https, or http on this machine only."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    shown = f"{host}:{parts.port}" if parts.port else host
    if parts.scheme not in ("https", "http") or not host:
        return shown or url, f"The API address {url!r} is not an http(s) URL."
    if parts.username or parts.password:
        return shown, "The API address must not hold a user name or password."
    if parts.scheme == "http" and not _is_loopback(host):
        return shown, (
            f"The API address {url} is plain http to another machine: the API key and the "
            "data would travel unencrypted. Use https."
        )
    return shown, ""


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _size(count: int) -> str:
    if count < 1024:
        return f"{count:,} bytes"
    if count < 1024**2:
        return f"{count / 1024:.1f} KiB ({count:,} bytes)"
    return f"{count / 1024**2:.1f} MiB ({count:,} bytes)"
