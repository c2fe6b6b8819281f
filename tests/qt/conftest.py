"""Qt tests: closed plots are collected in the GUI thread, never in a worker thread."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def collect_closed_plots() -> Iterator[None]:
    """After a test that made pyqtgraph plots, collect them here (see
    :func:`ftstudio.qt.threads.collect_garbage_before_worker`): their context menus live
    in reference cycles, and a collection in a later test's worker thread would destroy
    them there."""
    yield
    pyqtgraph = sys.modules.get("pyqtgraph")
    if pyqtgraph is not None and len(pyqtgraph.ViewBox.AllViews):
        gc.collect()
