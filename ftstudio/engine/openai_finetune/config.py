"""Constants of OpenAI fine-tuning and the job settings (:class:`OpenAIJobConfig`)."""

from __future__ import annotations

from dataclasses import dataclass

from ftstudio.core.fields import field_specs, option
from ftstudio.core.openai_data import DEFAULT_MODEL

BACKEND = "openai"
"""``run.json``'s ``backend`` and the run row's ``method`` for OpenAI jobs."""
DEFAULT_BASE_URL = "https://api.openai.com/v1"
"""OpenAI's API; a test server on loopback may stand in (``base_url``)."""
POLL_INTERVAL_S = 10.0
"""Seconds between two looks at a running job."""
MAX_POLL_FAILURES = 6
"""Failed looks in a row (network, server errors) before following gives up."""
JOB_STATUSES = ("validating_files", "queued", "running", "succeeded", "failed", "cancelled")
"""Every status an OpenAI fine-tuning job can have."""
TERMINAL_STATUSES = ("succeeded", "failed", "cancelled")
"""Statuses after which a job does not change any more."""
JOB_FILE = "openai_job.json"
"""The job settings (:class:`OpenAIJobConfig`) in the run folder."""
EVENTS_FILE = "openai_events.jsonl"
"""OpenAI's job events, as received, in the run folder."""
EVENTS_PAGE = 100
"""Events asked for per request."""


@dataclass(frozen=True)
class OpenAIJobConfig:
    """The settings of an OpenAI fine-tuning job (edited in forms and by the CLI)."""

    model: str = option(
        DEFAULT_MODEL,
        label="Base model",
        help="The OpenAI model to fine-tune (a dated snapshot such as gpt-4o-mini-2024-07-18, "
        "or one of your fine-tuned models, ft:...). Its per-example token limit applies.",
        placeholder=DEFAULT_MODEL,
    )
    n_epochs: int = option(
        0,
        label="Epochs",
        help="Passes over the training examples; 0 is auto: OpenAI picks them from the "
        "dataset size (3, more for fewer than 34 examples, fewer above 8,333).",
        minimum=0,
        maximum=50,
    )
    suffix: str = option(
        "",
        label="Model name suffix",
        help="Up to 64 characters added to the fine-tuned model's name, to recognise it "
        "(e.g. it-support-v2). Empty: none.",
        placeholder="it-support-v1",
    )
    seed: int = option(
        0,
        label="Seed",
        help="The same seed, data and settings give the same job; it also draws the "
        "validation split when the dataset has no stored split.",
        minimum=0,
        maximum=2**31 - 1,
        advanced=True,
    )
    validation_share: float = option(
        0.1,
        label="Validation share",
        help="Share of the examples held back to measure the validation loss (0 holds "
        "none back). The dataset's stored split is used when it has one.",
        minimum=0.0,
        maximum=0.5,
    )
    validation_file: str = option(
        "",
        label="Validation file",
        help="A separate dataset file to validate on, relative to the project folder; "
        "when set, every example of the training dataset is trained on.",
        placeholder="datasets/validation.jsonl",
        advanced=True,
    )

    def __post_init__(self) -> None:
        share = self.validation_share
        if isinstance(share, int) and not isinstance(share, bool):  # 0 means 0.0
            object.__setattr__(self, "validation_share", float(share))

    @property
    def epochs_param(self) -> int | str:
        """``n_epochs`` as OpenAI takes it: ``"auto"`` or a number."""
        return self.n_epochs if self.n_epochs > 0 else "auto"

    def problems(self) -> list[str]:
        """Every problem with these settings, in words (empty: fine)."""
        from ftstudio.core.fields import check_value

        found = []
        for spec in field_specs(type(self)):
            problem = check_value(spec, getattr(self, spec.name))
            if problem:
                found.append(f"{spec.label}: {problem}.")
        if not self.model.strip():
            found.append("Base model: choose the model to fine-tune.")
        if len(self.suffix) > 64:
            found.append(
                f"Model name suffix: {len(self.suffix)} characters; OpenAI takes at most 64."
            )
        return found
