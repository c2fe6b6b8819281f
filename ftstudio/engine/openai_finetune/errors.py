"""The errors an OpenAI job raises before anything is sent."""

from __future__ import annotations


class OpenAIJobError(Exception):
    """Nothing was sent: the job cannot start (message says why and what to do)."""


class NotConfirmedError(OpenAIJobError):
    """:func:`run_openai_job` was called without the user's confirmation."""
