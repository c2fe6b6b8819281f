"""The Export page's parts: the export task, the parity checklist, the list of exports.

- :mod:`~ftstudio.qt.export.task`: the export as a background task (the engine is
  imported in the task's thread) and a rough time left.
- :mod:`~ftstudio.qt.export.parity_view`: a parity report as a verdict and checklist.
- :mod:`~ftstudio.qt.export.exports_table`: the project's exports with their verdicts.
"""
