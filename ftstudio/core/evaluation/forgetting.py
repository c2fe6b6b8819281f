"""The forgetting check: did fine-tuning cost the model its general skills?

Fine-tuning on a narrow task can make a model worse at everything else
("catastrophic forgetting"). ftstudio measures it cheaply: both the base and the
tuned model read a small set of general conversations, and the perplexity of the
assistant answers is compared. A tuned perplexity more than
:data:`FORGETTING_THRESHOLD` (20 %) above the base one is reported as a warning.

The general set (``resources/eval/general_prompts.jsonl``, read by
:func:`general_prompts`) holds 20 chat examples written for ftstudio in its own
words, so they carry no third-party license: everyday knowledge (science, geography,
cooking, health), writing (a short email, a summary, a rewording), arithmetic and
unit conversions, simple reasoning, and a little code. Each is one user question and
a correct, short assistant answer in plain English, in the OpenAI chat format, and
validates as a chat dataset. The answers are deliberately written in a neutral style
so that their perplexity reflects general language skill rather than a house style.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ftstudio.core.evaluation.results import ForgettingCheck
from ftstudio.core.paths import resource

FORGETTING_THRESHOLD = 0.2
"""Warn when the tuned perplexity on the general set is more than 20 % above the base's."""
GENERAL_PROMPTS = ("eval", "general_prompts.jsonl")
"""The general set, as :func:`ftstudio.core.paths.resource` parts."""


def general_prompts() -> list[list[dict[str, Any]]]:
    """The general conversations: one list of messages (ending with the answer) each.

    Raises:
        FileNotFoundError: the bundled file is missing (a broken install).
        ValueError: the bundled file is damaged (names the file and line).
    """
    path = resource(*GENERAL_PROMPTS)
    conversations: list[list[dict[str, Any]]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}, line {number}: not valid JSON ({error.msg}).") from error
            messages = data.get("messages") if isinstance(data, dict) else None
            if not isinstance(messages, list) or not messages:
                raise ValueError(f'{path}, line {number}: no "messages" list.')
            conversations.append([dict(message) for message in messages])
    return conversations


def forgetting_check(
    base_perplexity: float, tuned_perplexity: float, threshold: float = FORGETTING_THRESHOLD
) -> ForgettingCheck:
    """Compare the perplexities of the base and tuned model on the general set.

    ``change`` is ``tuned / base - 1``; the check is ``degraded`` when it exceeds
    ``threshold``. An infinite tuned perplexity is degraded; a base perplexity that
    is not a positive finite number cannot be compared (``change`` NaN, not degraded,
    and the message says so).
    """
    base_perplexity, tuned_perplexity = float(base_perplexity), float(tuned_perplexity)
    if not (math.isfinite(base_perplexity) and base_perplexity > 0) or math.isnan(tuned_perplexity):
        return ForgettingCheck(
            base_perplexity,
            tuned_perplexity,
            math.nan,
            threshold,
            False,
            f"The forgetting check could not compare the models: the perplexities on the "
            f"general prompts are {_ppl(base_perplexity)} (base) and "
            f"{_ppl(tuned_perplexity)} (tuned). Check that the base model loads and "
            "answers sensibly.",
        )
    change = tuned_perplexity / base_perplexity - 1
    numbers = (
        f"perplexity on general prompts {_ppl(base_perplexity)} (base) → "
        f"{_ppl(tuned_perplexity)} (tuned), {_percent(change)}"
    )
    if change > threshold:
        message = (
            f"Possible forgetting: {numbers}, more than the {threshold:.0%} warning line. The "
            "tuned model has become worse at ordinary conversation. Train for fewer epochs, "
            "lower the learning rate, or mix some general chat examples into your data."
        )
        return ForgettingCheck(base_perplexity, tuned_perplexity, change, threshold, True, message)
    message = (
        f"No sign of forgetting: {numbers}, within the {threshold:.0%} warning line. The "
        "tuned model still handles ordinary conversation about as well as the base model."
    )
    return ForgettingCheck(base_perplexity, tuned_perplexity, change, threshold, False, message)


def _ppl(value: float) -> str:
    if math.isinf(value):
        return "infinite"
    if math.isnan(value):
        return "unknown"
    return f"{value:,.2f}"


def _percent(change: float) -> str:
    if math.isinf(change):
        return "infinitely higher"
    if change >= 0:
        return f"{change:.0%} higher"
    return f"{-change:.0%} lower"
