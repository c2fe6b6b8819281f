"""ftstudio: a desktop studio for fine-tuning large language models on your own GPU.

Layers (arrows point down only, enforced by ``tests/test_architecture.py``)::

    ftstudio.app, ftstudio.cli   composition roots
    ftstudio.qt                  PySide6 + pyqtgraph views, item models, workers
    ftstudio.engine              torch + Hugging Face work, no Qt
    ftstudio.core                pure Python domain, no Qt, no torch
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ftstudio")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
