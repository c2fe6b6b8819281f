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


class MemoTokenizer:
    """Wraps an :class:`ExampleTokenizer` so each record's data is tokenised once.

    Validation, statistics and training all ask for the same examples; the result
    (or the ``ValueError``) is remembered per data object. The object itself is kept
    alongside, so its ``id`` cannot be reused by another object while cached.
    """

    def __init__(self, tokenizer: ExampleTokenizer) -> None:
        self._tokenizer = tokenizer
        self._done: dict[int, tuple[Any, TokenizedExample | ValueError]] = {}

    def tokenize_example(self, data: dict[str, Any]) -> TokenizedExample:
        """The wrapped tokenizer's answer for ``data``, computed at most once."""
        hit = self._done.get(id(data))
        if hit is None or hit[0] is not data:
            try:
                result: TokenizedExample | ValueError = self._tokenizer.tokenize_example(data)
            except ValueError as error:
                result = error
            hit = self._done[id(data)] = (data, result)
        if isinstance(hit[1], ValueError):
            raise hit[1]
        return hit[1]
