"""The output folder of an export: written aside, renamed into place when complete.

An export is written into ``<out>.partial-XXXX`` beside ``<out>`` (same file
system, so the final rename is atomic). When everything is written and checked it
is renamed to ``<out>``; a failure, a full disk or a cancel removes it, so no
half-written export is ever left where a user would find it.

An existing ``<out>`` is accepted when it is empty or when it holds an earlier
ftstudio export (its ``ftstudio-export.json`` marker): that one is replaced only
once the new export is complete (moved aside, the new one renamed in, the old one
deleted). Any other non-empty folder, or a file, is refused: ftstudio never
deletes files it did not write.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from ftstudio.core.export_config import MARKER
from ftstudio.engine.export.errors import ExportError

PARTIAL = ".partial-"
OLD = ".old-"


def check_target(out: Path, run_dir: Path) -> None:
    """Refuse an output folder that cannot be (re)placed; see the module docstring.

    Raises:
        ExportError: (``exists``) ``out`` is a file, a non-empty folder that is not
            an ftstudio export, or the run folder (or a folder holding it).
    """
    out, run_dir = Path(out), Path(run_dir)
    if out == run_dir or out in run_dir.parents:
        raise ExportError(
            "exists", f"{out} holds the run itself; choose a new folder for the export."
        )
    if not out.exists():
        return
    if not out.is_dir():
        raise ExportError("exists", f"{out} is a file; choose a new or empty folder.")
    if (out / MARKER).is_file() or not any(out.iterdir()):
        return
    raise ExportError(
        "exists",
        f"{out} already holds other files, and ftstudio replaces only its own exports. "
        "Choose a new or empty folder, or delete this one first.",
    )


class Staging:
    """A ``<out>.partial-XXXX`` folder that becomes ``<out>`` on :meth:`commit`.

    Used as a context manager: leaving it without a commit (an error, a cancel)
    deletes the partial folder.
    """

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.path: Path | None = None
        self.committed = False

    def __enter__(self) -> Staging:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f"{self.out.name}{PARTIAL}", dir=self.out.parent))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if not self.committed and self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)

    def commit(self) -> Path:
        """Rename the finished export to ``out`` (replacing an earlier export); returns it."""
        assert self.path is not None
        old = None
        if self.out.exists():
            old = Path(tempfile.mkdtemp(prefix=f"{self.out.name}{OLD}", dir=self.out.parent))
            os.replace(self.out, old / self.out.name)
        try:
            os.replace(self.path, self.out)
        except OSError:
            if old is not None:  # put the earlier export back
                with contextlib.suppress(OSError):
                    os.replace(old / self.out.name, self.out)
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        self.committed = True
        _fsync_dir(self.out.parent)
        return self.out


def leftovers(out: Path) -> list[Path]:
    """Folders an interrupted export of ``out`` left beside it (``<out>.partial-*``, ``.old-*``)."""
    parent = Path(out).parent
    if not parent.is_dir():
        return []
    prefixes = (f"{Path(out).name}{PARTIAL}", f"{Path(out).name}{OLD}")
    return sorted(p for p in parent.iterdir() if p.name.startswith(prefixes))


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
