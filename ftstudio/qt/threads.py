"""What the GUI thread does before handing long work to another thread."""

from __future__ import annotations

import gc


def collect_garbage_before_worker() -> None:
    """Free unreachable Python objects now, in the GUI thread, before a long worker starts.

    Python's cyclic garbage collector runs in whichever thread happens to allocate. When
    it frees a Qt object that has Python overrides (pyqtgraph's context menus, kept alive
    by reference cycles after their plot was closed) in a worker thread, Qt destroys a
    widget off the GUI thread, and the two threads can deadlock: seen here as a QMenu
    destructor in the training thread waiting for the GIL while the GUI thread, holding
    it, waited for the same Qt lock. Collecting first leaves no such garbage for the
    worker to find. About 0.2 s with torch loaded, once per training, evaluation or
    export, when the user starts it.
    """
    gc.collect()
