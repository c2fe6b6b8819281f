"""The question asked before a model's own Python code may run (``trust_remote_code``).

With the setting "Custom model code: ask" (the default), the studio asks each time a
model that ships its own code is about to load; the answer applies to that load only.
The question names the repository, the code and the risk. Only the model's
``config.json`` and ``tokenizer_config.json`` are read to find the code
(:mod:`ftstudio.core.remote_code`), so asking loads no ML library.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from ftstudio.core.project import classify_base_model
from ftstudio.core.remote_code import CustomCode, cached_snapshot, custom_code

RUN_CODE = "Run its code this time"
"""The button that allows the code for this load."""
DONT_RUN = "Don't run it"
"""The button (and Esc) that keeps the code from running."""


def remote_code_for(
    base_model: str, project_folder: Path | None, cache_dir: Path
) -> CustomCode | None:
    """The custom code the configured ``base_model`` declares, if it is on this computer
    (a model folder, or a hub id already in the model cache ``cache_dir``)."""
    ref = classify_base_model(base_model, project_folder)
    folder: Path | None = None
    if ref.kind == "local" and ref.exists:
        folder = Path(ref.location)
    elif ref.kind == "hub":
        folder = cached_snapshot(ref.location, cache_dir)
    return custom_code(folder) if folder is not None else None


def ask_remote_code(parent: QWidget | None, model: str, code: CustomCode) -> bool:
    """Ask whether ``model``'s own code may run for this load; ``True`` only when the user
    chose :data:`RUN_CODE` (closing the box or Esc means no)."""
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "This model runs its own code",
        f"<b>{escape(model)}</b> ships its own Python code, which would run on this computer "
        "with your permissions.",
        QMessageBox.StandardButton.NoButton,
        parent,
    )
    box.setObjectName("askRemoteCode")
    kind = f" (model_type {code.model_type!r})" if code.model_type else ""
    box.setInformativeText(
        f"In {code.folder}, {code.describe()}.\n\n"
        "Such code can read and change your files and use the network. Run it only if you "
        f"trust the repository {model} and its authors. Your answer applies to this run "
        "only; ftstudio asks again next time.\n\n"
        f"Without it, the model loads only if transformers has its own implementation of "
        f"this architecture{kind}; otherwise the run stops and says so."
    )
    run = box.addButton(RUN_CODE, QMessageBox.ButtonRole.AcceptRole)
    dont = box.addButton(DONT_RUN, QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(dont)
    box.setEscapeButton(dont)
    box.exec()
    allowed = box.clickedButton() is run
    box.deleteLater()
    return allowed
