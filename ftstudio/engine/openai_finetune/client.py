"""The ``openai`` client (imported lazily), the API key lookup, and plain, redacted
messages for the client's errors."""

from __future__ import annotations

from typing import Any

from ftstudio.core.secrets import SECRET_LABELS, SecretStoreError, get_secret, redact
from ftstudio.engine.openai_finetune.errors import OpenAIJobError


def _api_key(api_key: str | None) -> str:
    if api_key:
        return api_key
    label = SECRET_LABELS["openai"]
    try:
        key = get_secret("openai")
    except SecretStoreError as error:
        raise OpenAIJobError(f"Nothing was uploaded: {error}") from None
    if not key:
        raise OpenAIJobError(
            f"Nothing was uploaded: no {label} is stored. Add it in Settings (or run "
            "`ftstudio secrets set openai`); it is kept in the OS keyring."
        )
    return key


def _client(api_key: str, base_url: str) -> Any:
    import openai  # lazy: only OpenAI jobs need it

    return openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=2, timeout=120.0)


def _api_failure(error: BaseException, key: str, host: str) -> tuple[str, str]:
    """(code, plain message) for an exception from the openai client; key redacted."""
    try:
        import openai
    except ImportError:  # pragma: no cover - openai is a dependency
        return "error", redact(f"{type(error).__name__}: {error}", (key,))
    body = getattr(error, "body", None)
    said = body.get("message") if isinstance(body, dict) else None
    said = str(said or getattr(error, "message", "") or error)
    status = getattr(error, "status_code", None)
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        code = "auth"
        text = (
            f"{host} refused the API key ({status}: {said}). Check the key in Settings (or "
            "`ftstudio secrets set openai`) and that its project may fine-tune."
        )
    elif isinstance(error, openai.RateLimitError):
        code = "rate_limit"
        text = (
            f"{host} refused for quota or rate limits ({said}). Check the billing and "
            "limits of your OpenAI account, then try again."
        )
    elif isinstance(error, openai.APIConnectionError):  # timeouts included
        code = "connection"
        text = (
            f"Cannot reach {host} ({type(error).__name__}: {said}). Check the internet "
            "connection (and any proxy), then try again."
        )
    elif isinstance(error, openai.NotFoundError):
        code = "config"
        text = (
            f"{host} does not know what was asked for ({said}). Check the model name and "
            "the API address."
        )
    elif isinstance(error, openai.BadRequestError | openai.UnprocessableEntityError):
        code, text = "config", f"{host} refused the request: {said}"
    elif isinstance(error, openai.APIStatusError):
        code, text = "error", f"{host} answered {status}: {said}"
    else:
        code, text = "error", f"{type(error).__name__}: {said}"
    return code, redact(text, (key,))


def _transient(error: BaseException) -> bool:
    """Whether polling may simply try again (network trouble, a server hiccup, limits)."""
    import openai

    return isinstance(
        error, openai.APIConnectionError | openai.InternalServerError | openai.RateLimitError
    )
