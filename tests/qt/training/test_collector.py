"""The garbage-collector pause around a run's setup (see worker._CollectorPause)."""

from __future__ import annotations

import gc
import weakref

from ftstudio.qt.training.worker import _CollectorPause


class Node:
    """An object that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    """Make a two-node cycle nothing else refers to; a weak reference to one node."""
    first, second = Node(), Node()
    first.other, second.other = second, first
    return weakref.ref(first)


def test_collection_pauses_during_setup_and_resumes_for_training() -> None:
    assert gc.isenabled()
    pause = _CollectorPause()
    try:
        pause.begin()
        assert not gc.isenabled()
        frozen = gc.get_freeze_count()
        pause.settle_imports()
        assert gc.get_freeze_count() > frozen  # imports and what existed: skipped from now on
        run_object = cycle()  # made by the run (a model, say): never frozen
        pause.end()
        assert gc.isenabled()
        gc.collect()
        assert run_object() is None  # reclaimed after the run
        pause.end()  # twice is harmless
        assert gc.isenabled()
    finally:
        gc.enable()


def test_a_previous_runs_garbage_is_collected_before_freezing() -> None:
    pause = _CollectorPause()
    try:
        pause.begin()
        pause.settle_imports()  # a first run
        pause.end()
        gc.disable()
        leftover = cycle()  # the first run's cyclic garbage, not collected yet
        pause.settle_imports()  # a second run
        assert leftover() is None  # collected, not frozen for good
    finally:
        gc.enable()


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        pause = _CollectorPause()
        pause.begin()
        pause.end()
        assert not gc.isenabled()
    finally:
        gc.enable()
