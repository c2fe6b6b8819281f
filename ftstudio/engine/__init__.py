"""torch and Hugging Face work: model loading, training, evaluation, merge, export.

No Qt here. Entry points take plain callbacks (``on_event``, ``cancel``) and emit
plain events, so the same code runs in the GUI's worker thread, from the CLI and
under ``accelerate launch``. Modules import torch at the top, so import them only
when work needs them.
"""
