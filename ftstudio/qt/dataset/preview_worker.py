"""The preview's background thread: loads the base model's tokenizer and tokenises examples.

One long-lived thread per preview, so the tokenizer is only ever used from that thread
(Hugging Face fast tokenizers must not be used from two threads at once) and loading it
(building the tiny model on first use takes seconds) never blocks the window. Requests
arrive as queued signals; results go back to slots of the preview, a QObject living in
the GUI thread (a plain function or lambda would run in this thread instead).

A preview request older than the newest one is skipped, so fast typing never queues
up work.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

_THREADS: dict[QThread, QObject] = {}
"""Preview threads still running and their workers, kept alive until they finish."""


class PreviewWorker(QObject):
    """Lives in its own thread; holds the tokenizer.

    Attributes:
        latest_request: the newest preview request number (written by the GUI thread);
            older requests still queued are skipped.

    Signals:
        sig_loaded(int load, str location): the tokenizer of request ``load`` is ready.
        sig_load_failed(int load, str message): it could not be loaded; plain words.
        sig_previewed(int request, object preview, float seconds): the
            :func:`~ftstudio.engine.chat_mask.preview_example` result (no max length).
        sig_preview_failed(int request, str message): the example could not be tokenised.
    """

    sig_loaded = Signal(int, str)
    sig_load_failed = Signal(int, str)
    sig_previewed = Signal(int, object, float)
    sig_preview_failed = Signal(int, str)

    def __init__(self) -> None:
        super().__init__()
        self.latest_request = 0
        self._encoder: Any = None

    @Slot(int, str, object)
    def load(self, load: int, base_model: str, project_folder: object) -> None:
        """Resolve ``base_model`` (building the tiny model if needed) and load its tokenizer."""
        self._encoder = None
        try:
            from ftstudio.engine.chat_mask import ChatTemplateTokenizer, load_tokenizer

            folder = tokenizer_folder(base_model, project_folder)
            self._encoder = ChatTemplateTokenizer(load_tokenizer(folder))
        except Exception as error:  # noqa: BLE001 - reported to the user, never raised in Qt
            self.sig_load_failed.emit(load, _plain(error))
            return
        self.sig_loaded.emit(load, str(folder))

    @Slot(int, object)
    def preview(self, request: int, data: object) -> None:
        """Tokenise ``data`` with the loaded tokenizer (skipped if a newer request waits)."""
        if request != self.latest_request or self._encoder is None:
            return
        from ftstudio.engine.chat_mask import preview_example

        started = time.perf_counter()
        try:
            result = preview_example(self._encoder, data, None)  # type: ignore[arg-type]
        except Exception as error:  # noqa: BLE001 - the template's reason, shown to the user
            self.sig_preview_failed.emit(request, _plain(error))
            return
        self.sig_previewed.emit(request, result, time.perf_counter() - started)


def tokenizer_folder(base_model: str, project_folder: object) -> Path:
    """The folder holding ``base_model``'s tokenizer on this computer.

    The tiny model is built on first use; a hub id is looked up in the Hugging Face
    cache (nothing is downloaded).

    Raises:
        FileNotFoundError, ValueError: no such folder, or a hub model not downloaded yet.
    """
    from ftstudio.engine.base_model import resolve_base_model

    folder = Path(project_folder) if isinstance(project_folder, str | Path) else None
    location = resolve_base_model(base_model, folder)
    path = Path(location).expanduser()
    if path.is_dir():
        return path
    from huggingface_hub import try_to_load_from_cache

    for name in ("tokenizer_config.json", "tokenizer.json"):
        cached = try_to_load_from_cache(location, name)
        if isinstance(cached, str):
            return Path(cached).parent
    raise ValueError(
        f"The tokenizer of {location} is not on this computer yet: it is downloaded when "
        "training starts. To preview now, download the model or choose a local model folder "
        "as the project's base model."
    )


def _plain(error: BaseException) -> str:
    text = str(error).strip()
    if isinstance(error, ValueError | FileNotFoundError) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class PreviewThread:
    """A started thread with a :class:`PreviewWorker` in it (see the module docstring)."""

    def __init__(self) -> None:
        self.thread = QThread()
        self.thread.setObjectName("ftstudio-preview")
        self.worker = PreviewWorker()
        self.worker.moveToThread(self.thread)
        self.thread.finished.connect(_janitor().on_thread_finished)
        _THREADS[self.thread] = self.worker
        self.thread.start()

    def stop(self, timeout_ms: int = 30_000) -> bool:
        """Ask the thread to end after its current request and wait for it."""
        self.thread.quit()
        return self.thread.wait(timeout_ms)


class _Janitor(QObject):
    """Lives in the GUI thread; forgets each preview thread once it has finished."""

    @Slot()
    def on_thread_finished(self) -> None:
        for thread in [t for t in _THREADS if t.isFinished()]:
            thread.wait()
            _THREADS.pop(thread, None)


_JANITOR: list[_Janitor] = []


def _janitor() -> _Janitor:
    if not _JANITOR:
        _JANITOR.append(_Janitor())
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(stop_all_preview_threads)
    return _JANITOR[0]


def stop_all_preview_threads(timeout_ms: int = 30_000) -> bool:
    """End every preview thread (application exit, tests); ``False`` if one did not stop."""
    stopped = True
    for thread in list(_THREADS):
        thread.quit()
        stopped = thread.wait(timeout_ms) and stopped
    _janitor().on_thread_finished()
    return stopped
