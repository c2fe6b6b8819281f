"""Training: trl's SFTTrainer and DPOTrainer with ftstudio's data, events, safety nets, checkpoints.

``run_training(config, on_event, cancel)`` is the one entry point (see
:mod:`ftstudio.engine.training.runner`); it is Qt-free, so the GUI's worker thread,
``ftstudio train`` and ``accelerate launch`` all run it the same way.
"""

from ftstudio.engine.training.records import library_versions, training_config_hash
from ftstudio.engine.training.runner import RunResult, find_resumable_run, run_training

__all__ = [
    "RunResult",
    "find_resumable_run",
    "library_versions",
    "run_training",
    "training_config_hash",
]
