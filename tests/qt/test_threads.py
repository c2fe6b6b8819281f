"""The GUI thread collects closed plots before a worker thread starts."""

from __future__ import annotations

import gc
import threading

from ftstudio.qt.threads import collect_garbage_before_worker


def test_collecting_frees_closed_plots_in_the_calling_thread(qtbot) -> None:
    import pyqtgraph as pg

    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    view = widget.getViewBox()
    freed_in: list[str] = []
    # A reference cycle like pyqtgraph's own, with a witness of where it is freed.
    holder = type("Holder", (), {})()
    holder.cycle = holder
    holder.view = view

    class Witness:
        def __del__(self) -> None:
            freed_in.append(threading.current_thread().name)

    holder.witness = Witness()
    del holder, view
    widget.close()
    gc.disable()  # no automatic collection may free it anywhere else first
    try:
        collect_garbage_before_worker()
    finally:
        gc.enable()
    assert freed_in == [threading.current_thread().name]
