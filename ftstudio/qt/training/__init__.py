"""The Train page's parts: the worker thread that drives the engine, live plots, the log.

- :mod:`~ftstudio.qt.training.worker`: :class:`TrainingRunner` (GUI thread) starts a
  :class:`TrainingWorker` in a ``QThread``; the worker calls
  ``ftstudio.engine.training.run_training`` and its events reach the GUI thread.
- :mod:`~ftstudio.qt.training.configs`: the configurations a run can start from
  (the project's saved ones, and the quick demo run).
- :mod:`~ftstudio.qt.training.metrics`: growing numpy buffers of the metrics, CSV.
- :mod:`~ftstudio.qt.training.plots`: the live pyqtgraph curves, redrawn on a timer.
- :mod:`~ftstudio.qt.training.log_pane`: the run's log, warnings highlighted.
- :mod:`~ftstudio.qt.training.text`: events and durations in plain words.
- :mod:`~ftstudio.qt.training.summary_grid`: a training plan's key values.

Nothing here imports torch or the engine at module level: the engine is imported in
the worker thread when a run starts.
"""
