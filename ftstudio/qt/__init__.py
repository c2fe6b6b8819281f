"""PySide6 and pyqtgraph: the windows, views, item models and workers of ftstudio.

Modules here may import :mod:`ftstudio.core` freely, but :mod:`ftstudio.engine`
(torch, transformers) only inside worker functions, so the window opens without
loading the ML stack.
"""
