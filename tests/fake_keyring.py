"""keyring's real API with an in-memory backend plugged in (no OS keyring is touched).

The ``memory_keyring`` fixture of ``tests/conftest.py`` plugs a fresh :class:`MemoryKeyring`
in for one test; :func:`keyring_backend` plugs any backend in for a block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import keyring
from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import KeyringLocked, PasswordDeleteError

Backend = TypeVar("Backend", bound=KeyringBackend)


class MemoryKeyring(KeyringBackend):
    """A keyring backend that keeps passwords in a dict (plugged in with set_keyring).

    Its priority raises, so keyring never picks it on its own. Its name, as keyring
    shows it, is ``"fake keyring MemoryKeyring"``.
    """

    @properties.classproperty
    def priority(cls) -> float:  # noqa: N805 - keyring's classproperty
        raise RuntimeError("only used when installed explicitly")

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}
        self.locked = False

    def get_password(self, service: str, username: str) -> str | None:
        if self.locked:
            raise KeyringLocked("locked")
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.locked:
            raise KeyringLocked("locked")
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.passwords:
            raise PasswordDeleteError("not found")
        del self.passwords[(service, username)]


@contextmanager
def keyring_backend(backend: Backend) -> Iterator[Backend]:
    """Plug ``backend`` into keyring for the block; the previous backend comes back after."""
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
