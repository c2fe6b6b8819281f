"""The adapter export: the run's LoRA adapter, ready for peft, vLLM and TGI.

Only the adapter's safetensors weights and ``adapter_config.json`` are copied
(never the optimizer, scheduler or RNG pickles of a checkpoint), with
``base_model_name_or_path`` set to the hub id or local folder the run trained on,
so ``PeftModel.from_pretrained`` and the servers find the base model. The
tokenizer and chat template go beside them (servers load the tokenizer from the
adapter folder when it has one, so prompts are written as in training).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ftstudio.core.atomic import atomic_write_json
from ftstudio.engine.export.merge import _ensure_chat_template
from ftstudio.engine.export.source import ADAPTER_FILES, RunSource


def write_adapter(source: RunSource, folder: Path, tokenizer: Any) -> None:
    """Copy the run's adapter (or checkpoint's) into ``folder`` with its tokenizer."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config_name, weights_name = ADAPTER_FILES
    config = json.loads((source.weights_dir / config_name).read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = source.base_ref
    config["inference_mode"] = True
    atomic_write_json(folder / config_name, config)
    shutil.copy2(source.weights_dir / weights_name, folder / weights_name)
    tokenizer.save_pretrained(folder)
    _ensure_chat_template(folder, tokenizer)
