"""The one error an export raises, with a code the GUI and the CLI can act on."""

from __future__ import annotations

ERROR_CODES = (
    "not_a_run",
    "no_adapter",
    "bad_checkpoint",
    "base_model",
    "exists",
    "disk_full",
    "cancelled",
    "unsupported_arch",
    "missing_package",
    "failed",
)


class ExportError(Exception):
    """An export could not be made; ``str(error)`` says why and what to do.

    Attributes:
        code: one of :data:`ERROR_CODES`: ``not_a_run`` (the folder is not a finished
            run), ``no_adapter`` (nothing to export, or an adapter asked of a full
            fine-tuning run), ``bad_checkpoint``, ``base_model`` (the base model is
            not on this computer), ``exists`` (the output folder holds other files),
            ``disk_full``, ``cancelled``, ``unsupported_arch`` (GGUF of an
            architecture ftstudio cannot convert), ``missing_package`` (the ``gguf``
            package), ``failed`` (anything else).
        message: the plain-language message.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
