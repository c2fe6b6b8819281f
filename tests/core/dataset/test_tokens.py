"""MemoTokenizer: each example's data is tokenised once; errors are remembered too."""

from __future__ import annotations

from typing import Any

import pytest

from ftstudio.core.dataset.tokens import MemoTokenizer, TokenizedExample


class CountingTokenizer:
    def __init__(self) -> None:
        self.calls = 0

    def tokenize_example(self, data: dict[str, Any]) -> TokenizedExample:
        self.calls += 1
        if data.get("bad"):
            raise ValueError("the template rejects it")
        return TokenizedExample(ids=[1, 2, 3], trained=[False, True, True])


def test_each_data_object_is_tokenised_once() -> None:
    inner = CountingTokenizer()
    memo = MemoTokenizer(inner)
    good, bad = {"x": 1}, {"bad": True}
    assert memo.tokenize_example(good).trained_count == 2
    assert memo.tokenize_example(good).trained_count == 2
    for _ in range(2):
        with pytest.raises(ValueError, match="rejects"):
            memo.tokenize_example(bad)
    assert inner.calls == 2
    assert memo.tokenize_example({"x": 1}).ids == [1, 2, 3]  # an equal but new object
    assert inner.calls == 3
