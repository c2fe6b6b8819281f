"""The Evaluate page's parts: playground, evaluation, example losses and ratings.

Everything here is Qt; the engine (torch) is imported only inside the task functions
of :mod:`ftstudio.qt.evaluate.workers`, which run in worker threads.
"""
