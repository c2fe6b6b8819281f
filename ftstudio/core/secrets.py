"""Tokens and API keys, kept in the operating system's keyring and nowhere else.

ftstudio keeps two secrets: the Hugging Face token (``huggingface``: gated and private
models) and the OpenAI API key (``openai``: fine-tuning without a GPU). They are stored
through the ``keyring`` library under the service ``ftstudio``, so they live in the
macOS Keychain, the Windows Credential Manager, or the Secret Service (GNOME Keyring,
KWallet) on Linux.

Rules:

- **Never a file.** When no OS keyring is available (keyring's ``fail`` or ``null``
  backend, or a file-based backend of the ``keyrings.alt`` package), every call raises
  :class:`SecretStoreError` with a plain message; nothing falls back to a file.
- **Never in logs or messages.** Values are not put in exception messages, events or
  files; :func:`redact` removes them (and anything shaped like an OpenAI key or a
  Hugging Face token) from any text before it is written or shown.

``keyring`` is imported only when a secret is used, so starting ftstudio does not
touch the keyring.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

SERVICE = "ftstudio"
"""The keyring service name every ftstudio secret is stored under."""
SECRET_NAMES = ("huggingface", "openai")
"""The secrets ftstudio knows, by name."""
SECRET_LABELS = {
    "huggingface": "Hugging Face token",
    "openai": "OpenAI API key",
}
"""Each secret's name in words."""
MIN_SECRET_LENGTH = 8
"""Shorter values are refused (a token is much longer; a short value is a typo)."""
REDACTED = "[redacted]"
"""What :func:`redact` puts in place of a secret."""

_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"),  # OpenAI keys: sk-..., sk-proj-...
    re.compile(r"\bhf_[A-Za-z0-9]{20,}"),  # Hugging Face tokens
    re.compile(r"(?i)(\bbearer\s+)[^\s'\"]+"),  # an Authorization header's value
)
_known: set[str] = set()
_lock = threading.Lock()


class SecretStoreError(Exception):
    """The OS keyring cannot be used; the message says why and what to do (never a value)."""


def check_name(name: str) -> str:
    """``name`` when it is one of :data:`SECRET_NAMES`.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if name not in SECRET_NAMES:
        raise ValueError(f"Unknown secret {name!r}; use one of: {', '.join(SECRET_NAMES)}.")
    return name


def get_secret(name: str) -> str | None:
    """The stored value of secret ``name``, or ``None`` when it is not set.

    Raises:
        SecretStoreError: no OS keyring is available, or it refused (e.g. locked).
        ValueError: ``name`` is not one of :data:`SECRET_NAMES`.
    """
    check_name(name)
    backend = _backend()
    value = _call(lambda: backend.get_password(SERVICE, name), "read", name)
    if value:
        _remember(value)
    return value or None


def find_secret(name: str) -> str | None:
    """Like :func:`get_secret`, but ``None`` also when no keyring can be used.

    For optional uses (a Hugging Face download works without a token for public models).
    """
    try:
        return get_secret(name)
    except SecretStoreError:
        return None


def set_secret(name: str, value: str) -> None:
    """Store ``value`` as secret ``name`` in the OS keyring (replacing any old value).

    Surrounding whitespace (from pasting) is removed.

    Raises:
        SecretStoreError: no OS keyring is available, or it refused to store.
        ValueError: an unknown name, or an empty or too short value.
    """
    check_name(name)
    value = value.strip() if isinstance(value, str) else ""
    if len(value) < MIN_SECRET_LENGTH:
        what = "empty" if not value else f"shorter than {MIN_SECRET_LENGTH} characters"
        raise ValueError(
            f"The {SECRET_LABELS[name]} is {what}; paste the whole value (nothing was stored)."
        )
    backend = _backend()
    _remember(value)
    _call(lambda: backend.set_password(SERVICE, name, value), "store", name)


def delete_secret(name: str) -> bool:
    """Remove secret ``name`` from the keyring; returns whether it was there.

    Raises:
        SecretStoreError: no OS keyring is available, or it refused to delete.
        ValueError: ``name`` is not one of :data:`SECRET_NAMES`.
    """
    check_name(name)
    backend = _backend()
    if _call(lambda: backend.get_password(SERVICE, name), "read", name) is None:
        return False
    _call(lambda: backend.delete_password(SERVICE, name), "delete", name)
    return True


def secret_status() -> dict[str, bool]:
    """Which secrets are set (name → bool); values are never returned.

    Raises:
        SecretStoreError: no OS keyring is available.
    """
    return {name: get_secret(name) is not None for name in SECRET_NAMES}


def keyring_description() -> str:
    """The keyring in use, in words (e.g. ``SecretService Keyring``).

    Raises:
        SecretStoreError: no OS keyring is available.
    """
    backend = _backend()
    return str(getattr(backend, "name", type(backend).__name__))


def redact(text: str, extra: Iterable[str | None] = ()) -> str:
    """``text`` with every secret removed (replaced by :data:`REDACTED`).

    Removed: the values read or stored through this module in this process, the
    values in ``extra`` (e.g. an API key passed in directly), and anything shaped like
    an OpenAI key (``sk-…``), a Hugging Face token (``hf_…``) or a bearer token.
    """
    if not text:
        return text
    with _lock:
        values = set(_known)
    values.update(v for v in extra if v and len(v) >= MIN_SECRET_LENGTH)
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    for pattern in _PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


# ---------------------------------------------------------------------------- Internals


def _remember(value: str) -> None:
    if len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _known.add(value)


_NO_KEYRING = (
    "No OS keyring is available to keep the {what} safely, and ftstudio never stores "
    "secrets in files. {why}On Linux, install and unlock a Secret Service keyring "
    "(GNOME Keyring or KWallet, e.g. the gnome-keyring package) and log in to a desktop "
    "session; on macOS and Windows the system keyring (Keychain, Credential Manager) is "
    "used by default."
)


def _backend() -> Any:
    """The keyring backend, or :class:`SecretStoreError` when none keeps secrets safely."""
    try:
        import keyring
        from keyring.backends import chainer, fail, null
    except ImportError:
        raise SecretStoreError(
            _NO_KEYRING.format(
                what="secret", why="The keyring package is not installed (pip install keyring). "
            )
        ) from None
    try:
        backend = keyring.get_keyring()
    except Exception as error:  # a broken keyring configuration file or plugin
        raise SecretStoreError(
            _NO_KEYRING.format(
                what="secret", why=f"The keyring could not start ({type(error).__name__}). "
            )
        ) from None
    module = type(backend).__module__
    unusable = (
        isinstance(backend, fail.Keyring | null.Keyring)
        or (isinstance(backend, chainer.ChainerBackend) and not list(backend.backends))
        or module.startswith("keyrings.alt")
    )
    if unusable:
        why = (
            f"The keyring found is {type(backend).__module__}.{type(backend).__name__}, "
            "which keeps secrets in a file. "
            if module.startswith("keyrings.alt")
            else ""
        )
        raise SecretStoreError(_NO_KEYRING.format(what="secret", why=why))
    return backend


_DONE = {"read": "read", "store": "stored", "delete": "deleted"}


def _call(action: Any, verb: str, name: str) -> Any:
    """Run a keyring call; its errors become :class:`SecretStoreError` (no value inside)."""
    from keyring.errors import KeyringError, KeyringLocked, NoKeyringError

    label = SECRET_LABELS[name]
    try:
        return action()
    except KeyringLocked:
        raise SecretStoreError(
            f"The OS keyring is locked, so the {label} cannot be {_DONE[verb]} there. "
            "Unlock it (log in to the desktop session or open the keyring), then try again."
        ) from None
    except NoKeyringError:
        raise SecretStoreError(_NO_KEYRING.format(what=label, why="")) from None
    except KeyringError as error:
        raise SecretStoreError(
            f"The OS keyring refused to {verb} the {label} ({type(error).__name__}: "
            f"{redact(str(error))}). Check that the keyring is unlocked, then try again."
        ) from None
