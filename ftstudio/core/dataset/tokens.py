"""How core code asks for token counts without importing a tokenizer library.

The engine implements :class:`ExampleTokenizer` with a real Hugging Face tokenizer
and its chat template (``ftstudio.engine.chat_mask``); core validation and
statistics take any object with this shape, so tests can pass a simple one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class TokenizedExample:
    """An example as the model sees it.

    Attributes:
        ids: token ids of the full training text (chat template applied).
        trained: one flag per token: true where the token carries loss (assistant
            turns that are switched on, with their end-of-turn token).
    """

    ids: list[int]
    trained: list[bool]

    @property
    def trained_count(self) -> int:
        """How many tokens carry loss."""
        return sum(self.trained)

    def truncated_trained(self, max_length: int) -> int:
        """How many loss-carrying tokens fall beyond ``max_length``."""
        return sum(self.trained[max_length:])


class ExampleTokenizer(Protocol):
    """Turns one record's data (chat, completion or preference) into tokens and a loss mask."""

    def tokenize_example(self, data: dict[str, Any]) -> TokenizedExample:
        """Tokenise ``data``; raise ``ValueError`` with a plain message if it cannot."""
        ...
