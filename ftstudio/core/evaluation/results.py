"""A saved evaluation: base vs tuned answers, their metrics, and the forgetting check.

An evaluation is stored with its run as ``<run>/eval/report.json`` (one JSON object,
every example included, written atomically). Numbers that JSON cannot hold (an
infinite perplexity, NaN) are written as the strings ``"inf"``, ``"-inf"`` and
``"nan"`` so that the file stays standard JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ftstudio.core.atomic import atomic_write_json
from ftstudio.core.evaluation.settings import GenerationSettings

EVAL_FOLDER = "eval"
"""Folder inside a run that holds its evaluation files."""
REPORT_FILE = "report.json"
REPORT_FORMAT = 1
"""Version of the report file's layout (key ``"format"``)."""


@dataclass(frozen=True)
class EvalExample:
    """One evaluated example.

    Attributes:
        index: 0-based position among the evaluated examples' source records.
        line: 1-based line of the example in its source file (0: unknown).
        prompt: the messages up to, not including, the reference answer.
        reference: the reference answer (the example's last assistant message).
        base_answer: the base model's answer.
        tuned_answer: the tuned model's answer.
        base: the base answer's ``exact_match``/``rouge_l``/``bleu``.
        tuned: the same for the tuned answer.
    """

    index: int
    line: int
    prompt: tuple[dict[str, Any], ...]
    reference: str
    base_answer: str
    tuned_answer: str
    base: dict[str, float] = field(default_factory=dict)
    tuned: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A plain JSON-ready dict."""
        return {
            "index": self.index,
            "line": self.line,
            "prompt": [dict(message) for message in self.prompt],
            "reference": self.reference,
            "base_answer": self.base_answer,
            "tuned_answer": self.tuned_answer,
            "base": {key: _dump_number(value) for key, value in self.base.items()},
            "tuned": {key: _dump_number(value) for key, value in self.tuned.items()},
        }

    @classmethod
    def from_json(cls, data: Any) -> EvalExample:
        """The example saved by :meth:`to_json` (``ValueError`` when malformed)."""
        data = _object(data, "example")
        prompt = data.get("prompt", [])
        if not isinstance(prompt, list) or not all(isinstance(m, dict) for m in prompt):
            raise ValueError('"prompt" must be a list of messages')
        return cls(
            index=_int(data, "index"),
            line=_int(data, "line", 0),
            prompt=tuple(dict(message) for message in prompt),
            reference=_str(data, "reference"),
            base_answer=_str(data, "base_answer"),
            tuned_answer=_str(data, "tuned_answer"),
            base=_scores(data, "base"),
            tuned=_scores(data, "tuned"),
        )


@dataclass(frozen=True)
class SideSummary:
    """One model's summary (base or tuned).

    Attributes:
        exact_match: share of exact answers (0–1).
        rouge_l: mean ROUGE-L F1 (0–1).
        bleu: corpus BLEU (0–100).
        loss: mean cross-entropy per reference-answer token; ``None`` if not measured.
        perplexity: ``exp(loss)``; ``None`` if not measured.
    """

    exact_match: float
    rouge_l: float
    bleu: float
    loss: float | None = None
    perplexity: float | None = None

    def to_json(self) -> dict[str, Any]:
        """A plain JSON-ready dict."""
        return {f.name: _dump_number(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Any) -> SideSummary:
        """The summary saved by :meth:`to_json` (``ValueError`` when malformed)."""
        data = _object(data, "summary")
        return cls(
            exact_match=_float(data, "exact_match"),
            rouge_l=_float(data, "rouge_l"),
            bleu=_float(data, "bleu"),
            loss=_optional_float(data, "loss"),
            perplexity=_optional_float(data, "perplexity"),
        )


@dataclass(frozen=True)
class ForgettingCheck:
    """Perplexity on general prompts, base vs tuned (see ``forgetting.forgetting_check``).

    Attributes:
        base_perplexity: the base model's perplexity on the general answers.
        tuned_perplexity: the tuned model's.
        change: ``tuned / base - 1`` (0.25: 25 % higher).
        threshold: the change past which the check warns.
        degraded: whether ``change`` is past ``threshold``.
        message: what the numbers mean and what to do, in plain words.
    """

    base_perplexity: float
    tuned_perplexity: float
    change: float
    threshold: float
    degraded: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        """A plain JSON-ready dict."""
        return {f.name: _dump_number(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Any) -> ForgettingCheck:
        """The check saved by :meth:`to_json` (``ValueError`` when malformed)."""
        data = _object(data, "forgetting")
        degraded = data.get("degraded")
        if not isinstance(degraded, bool):
            raise ValueError('"degraded" must be true or false')
        return cls(
            base_perplexity=_float(data, "base_perplexity"),
            tuned_perplexity=_float(data, "tuned_perplexity"),
            change=_float(data, "change"),
            threshold=_float(data, "threshold"),
            degraded=degraded,
            message=_str(data, "message"),
        )


@dataclass(frozen=True)
class EvalReport:
    """A whole evaluation of one run.

    Attributes:
        run_id: the run's id (its folder name).
        run_dir: the run folder, as text.
        source: ``"validation split"`` or the path of the file evaluated on.
        adapter: the adapter (or model) folder the tuned side used.
        created: when the evaluation finished (ISO 8601, UTC).
        settings: the sampling settings of both sides.
        base: the base model's summary.
        tuned: the tuned model's summary.
        forgetting: the forgetting check, if it was run.
        examples: every evaluated example.
        notes: remarks, e.g. examples skipped and why.
    """

    run_id: str
    run_dir: str
    source: str
    adapter: str
    created: str
    settings: GenerationSettings
    base: SideSummary
    tuned: SideSummary
    forgetting: ForgettingCheck | None
    examples: tuple[EvalExample, ...]
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A plain JSON-ready dict (standard JSON: no NaN or Infinity literals)."""
        return {
            "format": REPORT_FORMAT,
            "run_id": self.run_id,
            "run_dir": self.run_dir,
            "source": self.source,
            "adapter": self.adapter,
            "created": self.created,
            "settings": {
                f.name: _dump_number(getattr(self.settings, f.name)) for f in fields(self.settings)
            },
            "base": self.base.to_json(),
            "tuned": self.tuned.to_json(),
            "forgetting": self.forgetting.to_json() if self.forgetting is not None else None,
            "notes": list(self.notes),
            "examples": [example.to_json() for example in self.examples],
        }

    @classmethod
    def from_json(cls, data: Any) -> EvalReport:
        """The report saved by :meth:`to_json`.

        Raises:
            ValueError: a key is missing or has the wrong type (the message names it),
                or the report was written by a newer ftstudio.
        """
        data = _object(data, "report")
        version = data.get("format", REPORT_FORMAT)
        if not isinstance(version, int) or version > REPORT_FORMAT:
            raise ValueError(
                f'"format" is {version!r}: written by a newer ftstudio; update ftstudio'
            )
        settings_data = _object(data.get("settings"), "settings")
        known = {f.name: f for f in fields(GenerationSettings)}
        try:
            settings = GenerationSettings(
                **{key: _load_number(value) for key, value in settings_data.items() if key in known}
            )
        except (TypeError, ValueError) as error:
            raise ValueError(f'"settings": {error}') from error
        notes = data.get("notes", [])
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise ValueError('"notes" must be a list of text')
        examples = data.get("examples", [])
        if not isinstance(examples, list):
            raise ValueError('"examples" must be a list')
        parsed: list[EvalExample] = []
        for position, example in enumerate(examples):
            try:
                parsed.append(EvalExample.from_json(example))
            except ValueError as error:
                raise ValueError(f"examples[{position}]: {error}") from error
        forgetting = data.get("forgetting")
        return cls(
            run_id=_str(data, "run_id"),
            run_dir=_str(data, "run_dir"),
            source=_str(data, "source"),
            adapter=_str(data, "adapter", ""),
            created=_str(data, "created", ""),
            settings=settings,
            base=_nested(SideSummary, data, "base"),
            tuned=_nested(SideSummary, data, "tuned"),
            forgetting=None if forgetting is None else _nested(ForgettingCheck, data, "forgetting"),
            examples=tuple(parsed),
            notes=tuple(notes),
        )


def report_path(run_dir: Path) -> Path:
    """``<run>/eval/report.json``."""
    return Path(run_dir) / EVAL_FOLDER / REPORT_FILE


def save_report(report: EvalReport, run_dir: Path) -> Path:
    """Write ``report`` to ``<run>/eval/report.json`` atomically; returns the path."""
    path = report_path(run_dir)
    atomic_write_json(path, report.to_json())
    return path


def load_report(run_dir: Path) -> EvalReport | None:
    """The run's saved evaluation, or ``None`` when it has none.

    Raises:
        ValueError: the file cannot be read or is broken; the message names the file.
    """
    path = report_path(run_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{path} could not be read ({error}). Run the evaluation again to replace it."
        ) from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path}, line {error.lineno}: not valid JSON ({error.msg}). The file is damaged; "
            "run the evaluation again to replace it."
        ) from error
    try:
        return EvalReport.from_json(data)
    except ValueError as error:
        raise ValueError(
            f"{path}: {error}. The file is damaged or was edited; run the evaluation again "
            "to replace it."
        ) from error


# ---------------------------------------------------------------------------- Helpers
def _dump_number(value: Any) -> Any:
    """Non-finite floats as ``"inf"``/``"-inf"``/``"nan"`` (JSON has no literal for them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _load_number(value: Any) -> Any:
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    return value


def _object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"the {what} must be a JSON object")
    return data


_MISSING = object()


def _get(data: dict[str, Any], key: str, default: Any) -> Any:
    value = data.get(key, default)
    if value is _MISSING:
        raise ValueError(f'"{key}" is missing')
    return value


def _str(data: dict[str, Any], key: str, default: Any = _MISSING) -> str:
    value = _get(data, key, default)
    if not isinstance(value, str):
        raise ValueError(f'"{key}" must be text')
    return value


def _int(data: dict[str, Any], key: str, default: Any = _MISSING) -> int:
    value = _get(data, key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f'"{key}" must be a whole number')
    return value


def _float(data: dict[str, Any], key: str, default: Any = _MISSING) -> float:
    value = _load_number(_get(data, key, default))
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f'"{key}" must be a number')
    return float(value)


def _optional_float(data: dict[str, Any], key: str) -> float | None:
    return None if data.get(key) is None else _float(data, key)


def _scores(data: dict[str, Any], key: str) -> dict[str, float]:
    value = _object(data.get(key, {}), key)
    return {name: _float(value, name) for name in value}


def _nested(cls: Any, data: dict[str, Any], key: str) -> Any:
    try:
        return cls.from_json(_get(data, key, _MISSING))
    except ValueError as error:
        raise ValueError(f'"{key}": {error}') from error
