"""The part of recording a run that every backend shares: events, ``run.json``, database row.

:class:`RunFolderRecorder` appends events to the run folder's ``events.jsonl``, writes
its ``run.json`` and keeps its row in the project's run database (see
:mod:`ftstudio.core.runs` for the layout). A locked or damaged database never stops a
run: the problem is reported once as a warning, and the run folder stays complete.
Local training (:class:`ftstudio.engine.training.records.RunRecorder`) and OpenAI jobs
(:mod:`ftstudio.engine.openai_finetune`) build on it. Plain Python: no torch here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftstudio.core.events import TrainingEvent, TrainingWarning, event_line
from ftstudio.core.runs import RunPaths, RunStore, RunStoreError, write_run_file


class RunFolderRecorder:
    """Writes a run's events, ``run.json`` and database row (in the main process only).

    Args:
        paths: the run folder's layout (the folder is made).
        project: the project folder (its ``runs/runs.sqlite`` is the database).
        is_main: whether this process records; in the others every method does nothing.
        on_event: the caller's listener, called after each event is logged.

    Attributes:
        info: what ``run.json`` holds (written by :meth:`save`).
        run_id: the run's id (the folder's name).
    """

    GOES_ON = "The run goes on; the run folder has everything."
    """How the database warning ends: what still works."""

    def __init__(
        self,
        paths: RunPaths,
        project: Path,
        *,
        is_main: bool = True,
        on_event: Callable[[TrainingEvent], None] | None = None,
    ) -> None:
        self.paths = paths
        self.project = project
        self.is_main = is_main
        self.on_event = on_event
        self.run_id = paths.root.name
        self.info: dict[str, Any] = {}
        self.store: RunStore | None = None
        self._db_warned = False
        if is_main:
            paths.root.mkdir(parents=True, exist_ok=True)
            try:
                self.store = RunStore.for_project(project)
            except RunStoreError as error:
                self._db_warning(error)

    # ---- Events
    def emit(self, event: TrainingEvent) -> None:
        """Append ``event`` to ``events.jsonl`` and pass it to the listener."""
        if not self.is_main:
            return
        with self.paths.events.open("a", encoding="utf-8") as handle:
            handle.write(event_line(event) + "\n")
        if self.on_event is not None:
            self.on_event(event)

    def warn(self, code: str, message: str, step: int = 0) -> None:
        """Emit a :class:`~ftstudio.core.events.TrainingWarning`."""
        self.emit(TrainingWarning(code=code, message=message, step=step))

    # ---- run.json
    def save(self) -> None:
        """Write ``run.json`` (atomically)."""
        if self.is_main and self.info:
            write_run_file(self.paths.root, self.info)

    def end_session(self, status: str, when: str) -> None:
        """Mark the last session of ``run.json`` ended at ``when`` with ``status``."""
        sessions = self.info.get("sessions") or []
        if sessions:
            sessions[-1].update(ended=when, status=status)

    # ---- Run database
    def update_row(self, **changes: Any) -> None:
        """Change the run's database row (a database problem becomes one warning)."""
        self._db(lambda store: store.update(self.run_id, **changes))

    def create_row(self, *, name: str, method: str, base_model: str, dataset: str) -> None:
        """Add the run's database row (``queued``)."""
        self._db(
            lambda store: store.create(
                run_id=self.run_id,
                name=name,
                path=self.paths.root,
                method=method,
                base_model=base_model,
                dataset=dataset,
            )
        )

    def ensure_row(self, *, name: str, method: str, base_model: str, dataset: str) -> None:
        """Add the run's database row unless the database already has one for its folder."""
        if self._db(lambda store: store.find_by_path(self.paths.root)) is None:
            self.create_row(name=name, method=method, base_model=base_model, dataset=dataset)

    def _db(self, action: Callable[[RunStore], Any]) -> Any:
        if self.store is None or not self.is_main:
            return None
        try:
            return action(self.store)
        except RunStoreError as error:
            self._db_warning(error)
            return None

    def _db_warning(self, error: Exception) -> None:
        if self._db_warned:
            return
        self._db_warned = True
        self.warn("run_database", f"{error} {self.GOES_ON}")
