"""OpenAI fine-tuning data: check a curated dataset against OpenAI's rules, then write it.

What OpenAI's supervised (chat) fine-tuning accepts, and where each rule comes from:

- **Format**: JSON Lines, one ``{"messages": [...]}`` object per line; roles ``system``,
  ``user``, ``assistant`` (``tool``/``function`` for function calling); every example
  needs an assistant message; an assistant message may carry ``weight`` 0 or 1
  (0: not trained). The checks are the cookbook's (``examples/Chat_finetuning_data_prep
  .ipynb`` in ``openai/openai-cookbook``: ``data_type``, ``missing_messages_list``,
  ``message_missing_key``, ``message_unrecognized_key``, ``unrecognized_role``,
  ``missing_content``, ``example_missing_assistant_message``), run through ftstudio's
  own validator (:mod:`ftstudio.core.dataset.validate`), where empty content, which the
  cookbook counts as ``missing_content``, is an error here too.
- **At least 10 examples** in the training file (:data:`MIN_EXAMPLES`; OpenAI's
  fine-tuning guide, "Example count recommendations").
- **Tokens per example**: each training example must fit the model's training context,
  :attr:`OpenAIModel.token_limit` (see :data:`OPENAI_MODELS` for each number's source).
  An example over the limit is an error and is left out.
- **Epochs**: ``n_epochs: "auto"`` lets OpenAI choose from the dataset size; the rule
  (:func:`auto_epochs`) is the cookbook's "Pricing and default n_epochs estimate" cell.
- **Billing** is per trained token: tokens of the training file (each example counted up
  to the limit) times the epochs (same cookbook cell).

Rejected examples are left out, as for local training; curation fields (tags, review,
note, source) and any unknown top-level key are never written.

Tokens are counted with ``tiktoken`` when it is installed and its encoding can be
loaded (it is not a dependency of ftstudio: its encodings are downloaded on first
use); otherwise with a documented, deliberately high estimate (:func:`estimate_tokens`).
:attr:`OpenAIDataReport.token_method` says which one was used.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftstudio.core.atomic import atomic_write_bytes
from ftstudio.core.dataset.records import CURATION_KEYS, Dataset, Issue, Record
from ftstudio.core.dataset.validate import validate_record

# ---------------------------------------------------------------------------- Models


@dataclass(frozen=True)
class OpenAIModel:
    """A base model OpenAI can fine-tune, with its per-example token limit.

    Attributes:
        name: the model id to send (a dated snapshot).
        token_limit: the most tokens one training example may have.
        source: where the limit comes from.
        verified: whether the limit was checked in a published source; ``False``
            marks an assumption (see ``source``).
    """

    name: str
    token_limit: int
    source: str
    verified: bool = True


_GPT4O_SOURCE = (
    "OpenAI fine-tuning guide, 'Token limits' (gpt-4o-mini-2024-07-18 and gpt-4o-2024-08-06: "
    "65,536 tokens per training example); Azure OpenAI's fine-tuning model table states the "
    "same 'Training example context length: 65,536'"
)

OPENAI_MODELS: dict[str, OpenAIModel] = {
    model.name: model
    for model in (
        OpenAIModel("gpt-4o-mini-2024-07-18", 65_536, _GPT4O_SOURCE),
        OpenAIModel("gpt-4o-2024-08-06", 65_536, _GPT4O_SOURCE),
        OpenAIModel(
            "gpt-4.1-2025-04-14",
            65_536,
            "Not verified: assumed equal to the gpt-4o snapshots' 65,536-token training "
            "examples (the 1M-token context window is for inference, not training).",
            verified=False,
        ),
        OpenAIModel(
            "gpt-4.1-mini-2025-04-14",
            65_536,
            "Not verified: assumed equal to the gpt-4o snapshots' 65,536-token training examples.",
            verified=False,
        ),
        OpenAIModel(
            "gpt-4.1-nano-2025-04-14",
            65_536,
            "Not verified: assumed equal to the gpt-4o snapshots' 65,536-token training examples.",
            verified=False,
        ),
        OpenAIModel(
            "gpt-3.5-turbo-0125",
            16_385,
            "OpenAI fine-tuning guide, 'Token limits' (gpt-3.5-turbo-0125 and -1106: 16,385 "
            "tokens per training example; the cookbook's data-prep notebook uses the same "
            "number since openai-cookbook PR #1178)",
        ),
    )
}
"""Base models ftstudio offers for OpenAI fine-tuning, by id."""

DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"
"""The model proposed by default (OpenAI's guide recommends gpt-4o-mini for most users)."""
DEFAULT_TOKEN_LIMIT = 16_385
"""The limit assumed for a model not in :data:`OPENAI_MODELS`: the smallest published
per-example limit among current chat models (conservative)."""

MIN_EXAMPLES = 10
"""OpenAI refuses a training file with fewer examples."""

# The cookbook's default-epochs rule ("Pricing and default n_epochs estimate").
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25

# The cookbook's token counting: 3 tokens per message, 1 more for a name, 3 to prime
# the answer ("num_tokens_from_messages").
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_PER_EXAMPLE = 3

OPENAI_MESSAGE_KEYS = (
    "role",
    "content",
    "name",
    "weight",
    "tool_calls",
    "tool_call_id",
    "function_call",
    "refusal",
)
"""Message keys written to an OpenAI training file (all others are dropped)."""
OPENAI_EXAMPLE_KEYS = ("messages", "tools", "functions", "parallel_tool_calls")
"""Top-level keys written to an OpenAI training file (curation fields never are)."""

_IGNORED_CODES = frozenset(("invalid_tags", "invalid_review", "invalid_note", "invalid_source"))
"""Validator codes about curation fields, which are not uploaded."""
_ESCALATED = frozenset(("empty_content",))
"""Validator warnings that OpenAI treats as errors (cookbook: ``missing_content``)."""


class OpenAIDataError(ValueError):
    """The dataset cannot become an OpenAI training file; the message says why and the fix."""


def openai_model(name: str) -> OpenAIModel:
    """The model entry for ``name``: a known snapshot, its alias, or a fine-tuned model.

    The name is kept as given (it is what is sent); an alias such as ``gpt-4o-mini`` gets
    its snapshot's limit, and ``ft:gpt-4o-mini-2024-07-18:org::id`` (a fine-tuned model,
    which can be fine-tuned again) its base's. Any other name gets
    :data:`DEFAULT_TOKEN_LIMIT`, marked as not verified.
    """
    name = name.strip()
    if name in OPENAI_MODELS:
        return OPENAI_MODELS[name]
    base = name.split(":")[1] if name.startswith("ft:") and name.count(":") >= 1 else name
    if base in OPENAI_MODELS:
        model = OPENAI_MODELS[base]
        return OpenAIModel(name, model.token_limit, model.source, model.verified)
    for known in OPENAI_MODELS.values():
        rest = known.name[len(base) + 1 :]
        if known.name.startswith(base + "-") and rest[:1].isdigit():
            return OpenAIModel(name, known.token_limit, known.source, known.verified)
    return OpenAIModel(
        name,
        DEFAULT_TOKEN_LIMIT,
        f"Unknown model: assumed {DEFAULT_TOKEN_LIMIT:,} tokens per example, the smallest "
        "published limit (check OpenAI's fine-tuning guide for this model).",
        verified=False,
    )


def auto_epochs(n_examples: int) -> int:
    """The epochs OpenAI picks for ``n_epochs: "auto"`` with ``n_examples`` training examples.

    The rule of OpenAI's cookbook (``Chat_finetuning_data_prep.ipynb``, "Pricing and
    default n_epochs estimate"): 3 epochs, unless examples × 3 is below 100, then
    ``min(25, 100 // examples)``; or above 25,000, then ``max(1, 25,000 // examples)``.
    """
    if n_examples <= 0:
        return TARGET_EPOCHS
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    if n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return TARGET_EPOCHS


# ---------------------------------------------------------------------------- Tokens


def estimate_tokens(text: str) -> int:
    """A deliberately high token estimate of ``text``, without a tokenizer.

    ASCII characters count a quarter token each, rounded up (OpenAI's rule of thumb:
    about 4 characters per token of English text); every other character counts a whole
    token (Chinese, Japanese and emoji often take one or more tokens per character).
    Real counts are usually lower, so limits are not passed unnoticed.
    """
    ascii_chars = sum(1 for char in text if ord(char) < 128)
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


@dataclass(frozen=True)
class TokenCounter:
    """Counts tokens of text; ``method`` says how, in words (shown to the user)."""

    count: Callable[[str], int]
    method: str


ESTIMATE = TokenCounter(
    estimate_tokens,
    "estimated (tiktoken is not installed): ASCII characters / 4, rounded up, plus one "
    "token per other character; usually above the real count",
)
"""The counter used when tiktoken is not available."""


def token_counter(model: str = DEFAULT_MODEL) -> TokenCounter:
    """tiktoken's encoding for ``model`` when it can be loaded, else :data:`ESTIMATE`.

    tiktoken is optional and downloads its encodings on first use, so offline it may
    be installed and still unusable; any failure falls back to the estimate.
    """
    try:
        import tiktoken  # optional: not a dependency of ftstudio
    except ImportError:
        return ESTIMATE
    base = openai_model(model).name
    if base.startswith("ft:"):
        base = base.split(":")[1]
    try:
        try:
            encoding = tiktoken.encoding_for_model(base)
        except KeyError:
            encoding = tiktoken.get_encoding("o200k_base")
        encoding.encode("probe")
    except Exception:  # no network, a missing file...: use the estimate
        return ESTIMATE
    return TokenCounter(
        lambda text: len(encoding.encode(text, disallowed_special=())),
        f"counted with tiktoken ({encoding.name})",
    )


def example_tokens(example: dict[str, Any], count: Callable[[str], int]) -> int:
    """Tokens of one OpenAI example, as the cookbook counts them.

    Each message costs 3 tokens plus its text values (1 more with a ``name``); the
    example costs 3 more. Non-text values (tool calls) and ``tools`` count as their
    JSON; ``weight`` counts nothing.
    """
    total = TOKENS_PER_EXAMPLE
    for message in example.get("messages", []):
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if key == "weight" or value is None:
                continue
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            total += count(text)
            if key == "name":
                total += TOKENS_PER_NAME
    for key in OPENAI_EXAMPLE_KEYS[1:]:
        if key in example and key != "parallel_tool_calls":
            total += count(json.dumps(example[key], ensure_ascii=False))
    return total


# ---------------------------------------------------------------------------- Report


@dataclass(frozen=True)
class OpenAIDataReport:
    """What :func:`check_openai_dataset` found.

    Attributes:
        model: the model checked against (its id as given).
        token_limit: the most tokens per example for that model.
        limit_source: where that limit comes from.
        role: ``training`` or ``validation``.
        examples: records considered (the whole file, or the selection).
        usable: indices (in ``Dataset.records``) of the examples that would be written.
        rejected: rejected examples left out.
        issues: problems, each at its line; errors leave the example out. Issues with
            ``record == -1`` concern the whole file (e.g. too few examples).
        example_tokens: tokens of each usable example, in the order of ``usable``.
        token_method: how tokens were counted (see :func:`token_counter`).
        requested_epochs: the epochs asked for (0: ``auto``).
        epochs: the epochs that will run: the requested ones or the auto rule's.
    """

    model: str
    token_limit: int
    limit_source: str
    role: str
    examples: int
    usable: tuple[int, ...]
    rejected: int
    issues: tuple[Issue, ...]
    example_tokens: tuple[int, ...]
    token_method: str
    requested_epochs: int = 0
    epochs: int = TARGET_EPOCHS

    @property
    def left_out(self) -> int:
        """Examples considered but not written (rejected, unreadable or with errors)."""
        return self.examples - len(self.usable)

    @property
    def errors(self) -> list[Issue]:
        """Issues of severity ``error``."""
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def blocking(self) -> list[Issue]:
        """Errors about the whole file: nothing can be uploaded until they are fixed."""
        return [issue for issue in self.errors if issue.record < 0]

    @property
    def ok(self) -> bool:
        """Whether a file can be written (example errors only leave examples out)."""
        return not self.blocking

    @property
    def tokens(self) -> int:
        """Tokens billed per epoch: each usable example counted up to the limit."""
        return sum(min(self.token_limit, n) for n in self.example_tokens)

    @property
    def billed_tokens(self) -> int:
        """Estimated trained (billed) tokens: :attr:`tokens` × :attr:`epochs`."""
        return self.tokens * self.epochs

    @property
    def auto(self) -> bool:
        """Whether the epochs come from OpenAI's ``auto`` rule."""
        return self.requested_epochs == 0

    def summary(self) -> str:
        """A few plain lines: counts, tokens, epochs and the estimate's method."""
        epochs = (
            f"{self.epochs} epochs (auto: OpenAI's rule for {len(self.usable):,} examples)"
            if self.auto
            else f"{self.epochs} epochs (as requested)"
        )
        lines = [
            f"{self.model}: {len(self.usable):,} of {self.examples:,} {self.role} examples "
            f"usable ({self.rejected:,} rejected, {self.left_out - self.rejected:,} with "
            f"errors); at most {self.token_limit:,} tokens per example.",
        ]
        if self.role == "training":
            lines.append(
                f"About {self.tokens:,} tokens per epoch × {epochs} = about "
                f"{self.billed_tokens:,} trained tokens billed."
            )
        else:
            lines.append(f"About {self.tokens:,} tokens.")
        lines.append(f"Tokens {self.token_method}.")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The report as printed by ``ftstudio openai check --json``."""
        return {
            "ok": self.ok,
            "model": self.model,
            "role": self.role,
            "token_limit": self.token_limit,
            "limit_source": self.limit_source,
            "examples": self.examples,
            "usable": len(self.usable),
            "rejected": self.rejected,
            "left_out": self.left_out,
            "tokens_per_epoch": self.tokens,
            "epochs": self.epochs,
            "epochs_auto": self.auto,
            "billed_tokens_estimate": self.billed_tokens,
            "max_example_tokens": max(self.example_tokens, default=0),
            "token_method": self.token_method,
            "issues": [issue.to_json() for issue in self.issues],
        }


def check_openai_dataset(
    source: Dataset | Path | str,
    model: str = DEFAULT_MODEL,
    *,
    n_epochs: int = 0,
    indices: Sequence[int] | None = None,
    role: str = "training",
    counter: TokenCounter | None = None,
) -> OpenAIDataReport:
    """Check a dataset against OpenAI's fine-tuning rules (see the module docstring).

    Args:
        source: a loaded dataset, or a dataset file (read with
            :func:`ftstudio.core.dataset.formats.load_dataset`).
        model: the model to fine-tune (its token limit applies).
        n_epochs: the epochs to train; 0 means ``auto`` (:func:`auto_epochs`).
        indices: check only these records (e.g. the training side of a split).
        role: ``training`` (needs :data:`MIN_EXAMPLES`) or ``validation``.
        counter: how to count tokens (default :func:`token_counter` for ``model``).

    Raises:
        DatasetReadError: ``source`` is a file that cannot be read.
    """
    dataset = _load(source)
    spec = openai_model(model)
    count = counter or token_counter(model)
    chosen = range(len(dataset.records)) if indices is None else indices
    issues: list[Issue] = list(dataset.file_issues)
    usable: list[int] = []
    tokens: list[int] = []
    rejected = 0
    considered = 0
    if dataset.kind == "preference":
        issues.append(
            Issue(
                0,
                "not_chat",
                "error",
                "",
                "This is a preference dataset (prompt/chosen/rejected). OpenAI's supervised "
                "fine-tuning takes chats with one answer each: choose a chat dataset.",
            )
        )
        chosen = ()
    for index in chosen:
        record = dataset.records[index]
        considered += 1
        if record.is_parsed and record.review == "rejected":
            rejected += 1
            continue
        found, example = _check_record(record, index, dataset.kind)
        if example is not None:
            size = example_tokens(example, count.count)
            if size > spec.token_limit:
                found.append(
                    Issue(
                        record.line,
                        "too_long",
                        "error",
                        "messages",
                        f"The example has about {size:,} tokens; {spec.name} takes at most "
                        f"{spec.token_limit:,} per training example. Shorten it or split the "
                        "conversation into several examples.",
                        index,
                    )
                )
                example = None
        issues.extend(found)
        if example is not None:
            usable.append(index)
            tokens.append(size)
    if rejected:
        issues.append(
            Issue(
                0,
                "rejected_left_out",
                "warning",
                "",
                f"{rejected:,} rejected example{'s are' if rejected != 1 else ' is'} left out "
                "(as in local training). Approve or set to draft to include "
                f"{'them' if rejected != 1 else 'it'}.",
            )
        )
    if role == "training" and dataset.kind != "preference" and len(usable) < MIN_EXAMPLES:
        missing = MIN_EXAMPLES - len(usable)
        issues.append(
            Issue(
                0,
                "too_few_examples",
                "error",
                "",
                f"OpenAI needs at least {MIN_EXAMPLES} training examples; {len(usable)} "
                f"{'is' if len(usable) == 1 else 'are'} usable. Add {missing} more "
                "(or fix the examples with errors); 50 to 100 good examples usually help "
                "clearly more.",
            )
        )
    epochs = n_epochs if n_epochs > 0 else auto_epochs(len(usable))
    return OpenAIDataReport(
        model=spec.name,
        token_limit=spec.token_limit,
        limit_source=spec.source,
        role=role,
        examples=considered,
        usable=tuple(usable),
        rejected=rejected,
        issues=tuple(issues),
        example_tokens=tuple(tokens),
        token_method=count.method,
        requested_epochs=max(0, n_epochs),
        epochs=epochs,
    )


def _load(source: Dataset | Path | str) -> Dataset:
    if isinstance(source, Dataset):
        return source
    from ftstudio.core.dataset.formats import load_dataset

    return load_dataset(Path(source))


def _check_record(
    record: Record, index: int, kind: str
) -> tuple[list[Issue], dict[str, Any] | None]:
    """(issues, the OpenAI example or ``None`` when it has an error)."""
    if not record.is_parsed:
        return validate_record(record, index, kind="chat"), None
    data = record.data
    if kind == "completion" and isinstance(data, dict):
        data = _completion_to_chat(data)
    chat = Record(data, None, record.line)
    issues: list[Issue] = []
    for issue in validate_record(chat, index, kind="chat"):
        if issue.code in _IGNORED_CODES:
            continue
        if issue.code in _ESCALATED:
            issue = Issue(
                issue.line,
                issue.code,
                "error",
                issue.field,
                issue.message + " OpenAI refuses messages without text.",
                issue.record,
            )
        issues.append(issue)
    if any(issue.severity == "error" for issue in issues):
        return issues, None
    return issues, openai_example(data)


def _completion_to_chat(data: dict[str, Any]) -> dict[str, Any]:
    """A prompt/completion record as a chat: the prompt is the user's, the completion the
    assistant's (conversational prompts and completions keep their turns)."""
    messages: list[Any] = []
    for key, role in (("prompt", "user"), ("completion", "assistant")):
        value = data.get(key)
        if isinstance(value, list):
            messages.extend(value)
        elif key in data:
            messages.append({"role": role, "content": value})
    return {"messages": messages, **{k: v for k, v in data.items() if k in OPENAI_EXAMPLE_KEYS}}


def openai_example(data: dict[str, Any]) -> dict[str, Any]:
    """The example as OpenAI receives it: ``messages`` with only the keys OpenAI knows,
    plus the function-calling keys; curation and unknown keys are dropped."""
    out: dict[str, Any] = {
        "messages": [
            {key: value for key, value in message.items() if key in OPENAI_MESSAGE_KEYS}
            for message in data.get("messages", [])
            if isinstance(message, dict)
        ]
    }
    for key in OPENAI_EXAMPLE_KEYS[1:]:
        if key in data and key not in CURATION_KEYS:
            out[key] = data[key]
    return out


# ---------------------------------------------------------------------------- Writing


def openai_jsonl(dataset: Dataset, indices: Iterable[int]) -> bytes:
    """The bytes of an OpenAI training file holding the records at ``indices``, in order.

    One compact JSON object per line (UTF-8, ``\\n`` endings). The records must be
    usable (see :attr:`OpenAIDataReport.usable`); completion records become chats.
    """
    lines = []
    for index in indices:
        data = dataset.records[index].data
        if dataset.kind == "completion":
            data = _completion_to_chat(data)
        lines.append(json.dumps(openai_example(data), ensure_ascii=False).encode("utf-8"))
    return b"".join(line + b"\n" for line in lines)


def write_openai_file(
    dataset: Dataset,
    out: Path | str,
    *,
    model: str = DEFAULT_MODEL,
    report: OpenAIDataReport | None = None,
) -> Path:
    """Write the usable examples of ``dataset`` as an OpenAI chat JSONL file, atomically.

    Args:
        dataset: the curated dataset.
        out: the file to write.
        model: the model whose rules apply (when ``report`` is not given).
        report: a report from :func:`check_openai_dataset` for this dataset (its
            ``usable`` examples are written); computed when ``None``.

    Returns:
        The path written.

    Raises:
        OpenAIDataError: the dataset breaks a rule for the whole file (fewer than
            :data:`MIN_EXAMPLES` usable examples, a preference dataset); the message
            lists the problems.
        OSError: the file cannot be written.
    """
    report = report or check_openai_dataset(dataset, model)
    if not report.ok:
        raise OpenAIDataError(problems_text(report))
    path = Path(out)
    atomic_write_bytes(path, openai_jsonl(dataset, report.usable))
    return path


def problems_text(report: OpenAIDataReport) -> str:
    """The blocking problems of ``report`` as one plain message."""
    return " ".join(issue.message for issue in report.blocking)
