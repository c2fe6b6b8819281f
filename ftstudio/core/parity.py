"""The parity report: proof that an export behaves like the model that was trained.

Every export ends with a parity check (:func:`ftstudio.engine.parity.check_parity`):
the exported model and the trained one (the base model with the run's adapter, in
fp32) read the same validation prompts; their logits are compared and each
generates a few tokens greedily. The export's files are checked too: the chat
template, the EOS / stop tokens, the GGUF metadata, the Ollama ``Modelfile``.

The verdict and every number go to ``parity.json`` next to the export, which the
Export page and ``ftstudio export`` show. A failed check does not delete the
export: its ``parity.json`` says ``"passed": false`` and which check failed.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ftstudio.core.atomic import atomic_write_json

PARITY_FILE = "parity.json"
PARITY_FORMAT = 1


class ParityFileError(ValueError):
    """``parity.json`` exists but cannot be read; the message names the file."""


@dataclass(frozen=True)
class ParityCheck:
    """One check of a parity report.

    Attributes:
        name: a short id (``logits``, ``greedy``, ``eos``, ``chat_template`` …).
        passed: whether it passed.
        message: what was checked and found, in plain words.
        value: the measured number, when the check measures one.
        limit: the bound the value had to stay within (``value <= limit``, or
            ``value >= limit`` for rates; the message says which).
    """

    name: str
    passed: bool
    message: str
    value: float | None = None
    limit: float | None = None


@dataclass(frozen=True)
class ParitySample:
    """One prompt as both models saw it.

    Attributes:
        prompt: the prompt text (shortened for display).
        reference: the trained model's greedy continuation (decoded).
        exported: the export's greedy continuation (decoded).
        max_abs_logit_diff: the largest logit difference over the prompt's positions.
        greedy_equal: whether both generated the same tokens.
    """

    prompt: str
    reference: str
    exported: str
    max_abs_logit_diff: float | None
    greedy_equal: bool


@dataclass(frozen=True)
class ParityReport:
    """The outcome of an export's parity check (see the module docstring).

    Attributes:
        format: the export format (``adapter``, ``merged``, ``gguf``, ``ollama``).
        path: the export folder.
        created: when the check ran (ISO 8601, UTC).
        passed: whether every check passed.
        reference: what the export was compared with, in words.
        prompts: how many prompts were run through both models.
        max_abs_logit_diff: the largest logit difference over every prompt and position.
        tolerance: the largest difference allowed for this format and number type.
        greedy_equal: whether every prompt's greedy tokens were the same.
        top1_agreement: the share of positions where both models' most likely next
            token agree.
        logit_range: the reference logits' spread (max − min), for scale.
        stop_tokens: the tokens that end a turn in the export (EOS, end of turn).
        checks: every check, in order.
        samples: the prompts with both continuations.
        dtype: the merged weights' number type (``""`` for an adapter).
        quant: the GGUF weight type (``""`` for other formats).
        notes: remarks that are not failures (e.g. a QLoRA base compared in fp32).
    """

    format: str
    path: str
    created: str
    passed: bool
    reference: str = ""
    prompts: int = 0
    max_abs_logit_diff: float | None = None
    tolerance: float | None = None
    greedy_equal: bool | None = None
    top1_agreement: float | None = None
    logit_range: float | None = None
    stop_tokens: list[str] = field(default_factory=list)
    checks: list[ParityCheck] = field(default_factory=list)
    samples: list[ParitySample] = field(default_factory=list)
    dtype: str = ""
    quant: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def failed_checks(self) -> list[ParityCheck]:
        """The checks that failed."""
        return [check for check in self.checks if not check.passed]

    def check(self, name: str) -> ParityCheck | None:
        """The check called ``name``, or ``None``."""
        return next((check for check in self.checks if check.name == name), None)

    def summary(self) -> str:
        """One line: the verdict and the main numbers."""
        verdict = "PASSED" if self.passed else "FAILED"
        parts = [f"parity {verdict}"]
        if self.max_abs_logit_diff is not None:
            limit = f" (limit {_number(self.tolerance)})" if self.tolerance is not None else ""
            parts.append(f"max logit diff {_number(self.max_abs_logit_diff)}{limit}")
        if self.greedy_equal is not None:
            parts.append("greedy tokens " + ("equal" if self.greedy_equal else "DIFFER"))
        if self.top1_agreement is not None:
            parts.append(f"top-1 agreement {self.top1_agreement:.0%}")
        if self.prompts:
            parts.append(f"{self.prompts} prompt{'s' if self.prompts != 1 else ''}")
        text = ", ".join(parts)
        failed = self.failed_checks
        if failed:
            text += "; failed: " + "; ".join(f"{c.name}: {c.message}" for c in failed)
        return text

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (``parity.json``); non-finite numbers become null."""
        data = _finite(asdict(self))
        return {"ftstudio_parity": PARITY_FORMAT, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ParityReport:
        """The report in ``data`` (as :meth:`to_json` wrote it); unknown keys are ignored.

        Raises:
            ValueError: ``data`` is not a parity report.
        """
        if not isinstance(data, dict) or "format" not in data or "passed" not in data:
            raise ValueError("not an ftstudio parity report (no format or passed key)")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["checks"] = [_item(ParityCheck, c) for c in data.get("checks") or []]
        values["samples"] = [_item(ParitySample, s) for s in data.get("samples") or []]
        values["stop_tokens"] = [str(t) for t in data.get("stop_tokens") or []]
        values["notes"] = [str(n) for n in data.get("notes") or []]
        values.setdefault("path", "")
        values.setdefault("created", "")
        return cls(**values)


def save_parity(report: ParityReport, folder: Path) -> Path:
    """Write ``report`` to ``<folder>/parity.json`` atomically; returns the file."""
    path = Path(folder) / PARITY_FILE
    atomic_write_json(path, report.to_json())
    return path


def load_parity(folder: Path) -> ParityReport | None:
    """The parity report of an export folder (or of a ``parity.json`` file itself).

    Returns ``None`` when there is none.

    Raises:
        ParityFileError: the file exists but is damaged or not a parity report.
    """
    path = Path(folder)
    if path.is_dir():
        path = path / PARITY_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ParityReport.from_json(data)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError, ValueError) as error:
        raise ParityFileError(
            f"{path} cannot be read ({error}). Export again to write a new parity check."
        ) from None


def _item(cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"expected an object in the report, got {data!r}")
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2e}" if value and abs(value) < 1e-2 else f"{value:.4g}"
