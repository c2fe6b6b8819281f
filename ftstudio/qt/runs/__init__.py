"""The Runs page's parts: the run table, overlaid loss curves, config diffs, run actions.

- :mod:`~ftstudio.qt.runs.table_model`: the runs as a sortable table (status coloured).
- :mod:`~ftstudio.qt.runs.curves`: loss curves of several runs in one plot (pyqtgraph,
  imported when first needed).
- :mod:`~ftstudio.qt.runs.diff_view`: the settings that differ between two runs.
- :mod:`~ftstudio.qt.runs.details`: everything about one run, and its config.yaml.
- :mod:`~ftstudio.qt.runs.actions`: re-run a configuration, move a run to the trash.

What is known about runs comes from :mod:`ftstudio.core.runs_compare`.
"""
