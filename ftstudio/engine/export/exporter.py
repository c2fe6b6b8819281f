"""``export_run``: one export of a finished run, from its folder to a checked export folder."""

from __future__ import annotations

import errno
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ftstudio.core.atomic import atomic_write_json
from ftstudio.core.export_config import (
    BYTES_PER_PARAMETER,
    DTYPES,
    FORMATS,
    MARKER,
    QUANTS,
    SPACE_MARGIN,
    ExportConfig,
    estimate_export_bytes,
)
from ftstudio.core.parity import ParityReport, save_parity
from ftstudio.core.runs import utc_now
from ftstudio.engine.export.errors import ExportError
from ftstudio.engine.export.source import RunSource, open_run
from ftstudio.engine.export.staging import Staging, check_target

OnProgress = Callable[[int, int, str], None]
Cancel = Callable[[], bool] | threading.Event
FreeSpace = Callable[[Path], int]
MERGED_TEMP = ".merged"
"""The GGUF formats merge into this sub-folder of the staging folder first."""


@dataclass(frozen=True)
class ExportResult:
    """A finished export.

    Attributes:
        path: the export folder.
        format: ``adapter``, ``merged``, ``gguf`` or ``ollama``.
        parity: the parity check (also in ``<path>/parity.json``).
        files: the export's files, relative to ``path``.
        config: the export's settings.
        size_bytes: the export's size on disk.
        elapsed_s: how long it took.
    """

    path: Path
    format: str
    parity: ParityReport
    files: list[str] = field(default_factory=list)
    config: ExportConfig = field(default_factory=ExportConfig)
    size_bytes: int = 0
    elapsed_s: float = 0.0

    @property
    def passed(self) -> bool:
        """Whether the parity check passed."""
        return self.parity.passed

    @property
    def main_file(self) -> Path:
        """The file to hand to other tools: the GGUF file, the Modelfile, else the folder."""
        for pattern in ("Modelfile", "*.gguf"):
            found = sorted(self.path.glob(pattern))
            if found:
                return found[0]
        return self.path


def export_run(
    run_dir: Path,
    config: ExportConfig,
    *,
    on_progress: OnProgress | None = None,
    cancel: Cancel | None = None,
    free_space: FreeSpace | None = None,
) -> ExportResult:
    """Export a finished run in ``config.format`` and check it against the trained model.

    The export is written beside its output folder and renamed into place when it
    is complete (see :mod:`ftstudio.engine.export.staging`); its parity check
    (:func:`ftstudio.engine.parity.check_parity`) runs before that and goes to
    ``parity.json``. A failed parity check keeps the export and returns normally:
    ``result.parity.passed`` is false and the report says which check failed.

    Args:
        run_dir: the run folder.
        config: what to export and where.
        on_progress: called with (phases done, phases in all, what happens now),
            in the calling thread.
        cancel: a callable returning true, or a :class:`threading.Event`: the
            export stops between phases and leaves nothing behind.
        free_space: bytes free for a folder (default: the disk's free space); the
            export needs its estimated size × 1.1 before it writes anything.

    Raises:
        ExportError: nothing was exported; ``code`` says why (see
            :class:`~ftstudio.engine.export.errors.ExportError`).
    """
    job = _Export(run_dir, config, on_progress, cancel, free_space)
    return job.run()


def merge_run(
    run_dir: Path,
    out: Path,
    dtype: str = "bf16",
    *,
    checkpoint: int = 0,
    on_progress: OnProgress | None = None,
    cancel: Cancel | None = None,
    free_space: FreeSpace | None = None,
) -> ExportResult:
    """Merge a run's adapter into its base model: :func:`export_run` with format ``merged``."""
    config = ExportConfig(format="merged", out=str(out), dtype=dtype, checkpoint=checkpoint)
    return export_run(
        run_dir, config, on_progress=on_progress, cancel=cancel, free_space=free_space
    )


def check_config(config: ExportConfig) -> None:
    """Refuse settings outside the choices (the CLI and forms check them too)."""
    for name, value, allowed in (
        ("format", config.format, FORMATS),
        ("dtype", config.dtype, DTYPES),
        ("quant", config.quant, QUANTS),
    ):
        if value not in allowed:
            raise ExportError("failed", f"{name}: {value!r} is not one of {', '.join(allowed)}.")


class _Export:
    """One call of :func:`export_run`."""

    def __init__(
        self,
        run_dir: Path,
        config: ExportConfig,
        on_progress: OnProgress | None,
        cancel: Cancel | None,
        free_space: FreeSpace | None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.config = config
        self.on_progress = on_progress
        self.cancelled = _cancel_function(cancel)
        self.free_space = free_space or _free_bytes
        self.done = 0
        self.total = 0
        self.started = time.perf_counter()

    # ---- Phases
    def run(self) -> ExportResult:
        try:
            return self._run()
        except ExportError:
            raise
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise ExportError(
                    "disk_full",
                    f"The disk filled up while the export was written ({error}); nothing was "
                    "kept. Free some space or choose a folder on another disk.",
                ) from error
            raise ExportError("failed", f"The export failed: {error}") from error
        except Exception as error:  # torch, transformers, peft: reported, never lost
            message = str(error).strip() or type(error).__name__
            raise ExportError("failed", f"The export failed: {message}") from error

    def _run(self) -> ExportResult:
        check_config(self.config)
        source = open_run(self.run_dir, self.config.checkpoint)
        config = self.config
        if config.format == "adapter" and source.is_full:
            raise ExportError(
                "no_adapter",
                f"{source.run_dir.name} fine-tuned every weight (method full), so it has no "
                "adapter to export. Export it as merged, gguf or ollama.",
            )
        out = config.out_dir(source.run_dir).expanduser().resolve()
        check_target(out, source.run_dir)
        gguf = config.format in ("gguf", "ollama")
        self.total = {"adapter": 4, "merged": 4, "gguf": 5, "ollama": 6}[config.format]
        self._step("Checking the run and the free disk space")
        self._check_space(source, out)
        tokenizer = _tokenizer(source)
        from ftstudio.engine.export.template import analyse_template, stop_token_ids

        shape = analyse_template(tokenizer)
        stop_ids = stop_token_ids(shape, tokenizer, _base_eos(source))
        with Staging(out) as staging:
            folder = staging.path
            assert folder is not None
            if config.format == "adapter":
                from ftstudio.engine.export.adapter import write_adapter

                self._step("Copying the adapter, tokenizer and chat template")
                write_adapter(source, folder, tokenizer)
            else:
                merged = folder / MERGED_TEMP if gguf else folder
                self._step(f"Merging the adapter into the base model ({config.dtype})")
                from ftstudio.engine.export.merge import merge_into

                merge_into(source, merged, config.dtype, tokenizer, stop_ids)
                if gguf:
                    from ftstudio.engine.gguf_export import write_gguf

                    self._step(f"Writing the GGUF file ({config.quant.upper()})")
                    gguf_file = folder / gguf_name(config.quant)
                    write_gguf(merged, gguf_file, config.quant, name=source.name)
                    if config.format == "ollama":
                        from ftstudio.engine.export.ollama import write_modelfile

                        self._step("Writing the Ollama Modelfile")
                        write_modelfile(folder, gguf_file, tokenizer, shape, source)
            self._step("Writing the model card")
            _write_card(source, folder, config)
            self._step("Checking parity with the trained model")
            from ftstudio.engine.parity import check_parity

            merged_dir = folder / MERGED_TEMP if gguf else None
            report = check_parity(
                source, folder, config, tokenizer=tokenizer, merged_dir=merged_dir
            )
            if merged_dir is not None:
                shutil.rmtree(merged_dir)
            report = replace(report, path=str(out))
            save_parity(report, folder)
            files = _files(folder)
            _write_marker(folder, source, config, report, files)
            self._cancel_point()
            staging.commit()
        if self.on_progress is not None:
            self.on_progress(self.total, self.total, "Done")
        files = _files(out)
        return ExportResult(
            path=out,
            format=config.format,
            parity=report,
            files=files,
            config=config,
            size_bytes=sum((out / name).stat().st_size for name in files),
            elapsed_s=time.perf_counter() - self.started,
        )

    # ---- Helpers
    def _step(self, message: str) -> None:
        self._cancel_point()
        if self.on_progress is not None:
            self.on_progress(min(self.done, self.total), self.total, message)
        self.done += 1

    def _cancel_point(self) -> None:
        if self.cancelled():
            raise ExportError("cancelled", "The export was cancelled; nothing was written.")

    def _check_space(self, source: RunSource, out: Path) -> None:
        from ftstudio.engine.export.merge import parameter_count, tokenizer_bytes, weights_bytes

        if source.is_full:  # its model folder is copied as saved: count its bytes
            per = BYTES_PER_PARAMETER[self.config.dtype]
            parameters = -(-weights_bytes(source.weights_dir) // per)
        elif self.config.format == "adapter":
            parameters = 0
        else:
            parameters = parameter_count(source.base_path())
        needed = estimate_export_bytes(
            self.config,
            parameters,
            adapter_bytes=weights_bytes(source.weights_dir),
            tokenizer_bytes=tokenizer_bytes(source.tokenizer_dir),
        )
        needed = int(needed * SPACE_MARGIN)
        free = self.free_space(_existing(out))
        if free < needed:
            raise ExportError(
                "disk_full",
                f"Not enough free disk space for the {self.config.describe()} export: it needs "
                f"about {_size(needed)} and only {_size(free)} is free on the disk of "
                f"{_existing(out)}. Free some space or choose a folder on another disk.",
            )


def gguf_name(quant: str) -> str:
    """The GGUF file's name in an export folder: ``model-q8_0.gguf`` …"""
    return f"model-{quant}.gguf"


def _tokenizer(source: RunSource) -> Any:
    from ftstudio.engine.chat_mask import load_tokenizer

    try:
        return load_tokenizer(source.tokenizer_dir, require_chat_template=False)
    except (OSError, ValueError) as error:
        raise ExportError("base_model", str(error)) from None


def _base_eos(source: RunSource) -> Any:
    """The EOS id(s) of the base model's generation config (kept in the export's)."""
    import json

    folder = source.weights_dir if source.is_full else source.base_path()
    path = folder / "generation_config.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text("utf-8")).get("eos_token_id")
    except (OSError, ValueError):
        return None


def _write_card(source: RunSource, folder: Path, config: ExportConfig) -> None:
    from ftstudio.core.atomic import atomic_write_text
    from ftstudio.core.model_card import LOSS_PLOT, card_for_run

    readme, svg = card_for_run(
        source.run_dir,
        source.info,
        export=config.describe(),
        checkpoint=source.step,
        base_ref=source.base_ref,
    )
    atomic_write_text(folder / "README.md", readme)
    if svg:
        atomic_write_text(folder / LOSS_PLOT, svg)


def _write_marker(
    folder: Path, source: RunSource, config: ExportConfig, report: ParityReport, files: list[str]
) -> None:
    import ftstudio
    from ftstudio.core.fields import to_mapping

    atomic_write_json(
        folder / MARKER,
        {
            "ftstudio_export": 1,
            "format": config.format,
            "config": to_mapping(config),
            "run": str(source.run_dir),
            "run_id": str(source.info.get("id", source.run_dir.name)),
            "checkpoint": source.step,
            "base_model": source.base_ref,
            "created": utc_now(),
            "ftstudio": ftstudio.__version__,
            "parity_passed": report.passed,
            "files": files,
        },
    )


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _existing(path: Path) -> Path:
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _free_bytes(path: Path) -> int:
    return shutil.disk_usage(_existing(path)).free


def _cancel_function(cancel: Cancel | None) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    return cancel


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
