"""Shared setup for the dataset studio tests: real files, and no thread left running.

Every task thread is waited for at the end of each test, before pytest-qt processes
the remaining events and closes the widgets, so no test leaks work into the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.qt.dataset.data import BAD_LINES, write_jsonl


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Wait for every task thread before pytest-qt tidies up after the test."""
    from ftstudio.qt.dataset.workers import wait_for_all_threads

    try:
        return (yield)
    finally:
        wait_for_all_threads(30_000)


@pytest.fixture
def bad_file(sample_project) -> Path:  # noqa: ANN001
    """:data:`BAD_LINES` in the sample project's datasets folder."""
    return write_jsonl(sample_project.folder / "datasets" / "bad.jsonl", BAD_LINES)
