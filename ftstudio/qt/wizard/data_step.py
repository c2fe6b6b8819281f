"""Data step: the project's training file summarised, and the validation share.

The file of the objective (``datasets.train`` for SFT, ``datasets.preferences`` for
DPO) is read, validated and measured off the GUI thread (small files at once), giving
the usable examples, the size band's verdict and the lengths in characters. Token
lengths are estimated from characters until the user asks to measure them with the
model's tokenizer (which loads it, and builds the tiny model first if needed).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from ftstudio.core.dataset.formats import load_dataset
from ftstudio.core.dataset.records import Dataset
from ftstudio.core.dataset.stats import DatasetStats, Summary, compute_stats
from ftstudio.core.dataset.validate import validate_dataset
from ftstudio.core.recommend import CHARS_PER_TOKEN
from ftstudio.qt.dataset.workers import TaskContext, TaskRunner
from ftstudio.qt.widgets.card import Card
from ftstudio.qt.wizard.fields import FieldRow, message_html
from ftstudio.qt.wizard.plan import SPECS, Planner
from ftstudio.qt.wizard.step import WizardStep, text_label
from ftstudio.qt.wizard.values import escape

INLINE_READ_BYTES = 256 * 1024
"""Files up to this size are read at once (milliseconds); larger ones in a thread."""


def read_stats(path: Path, task: TaskContext) -> DatasetStats:
    """Load, validate and measure a training file (runs in the reader's thread)."""
    dataset = _load(path, task, 0.0, 0.5)
    task.phase("Checking", 0.5, 1.0)
    issues = validate_dataset(dataset, progress=task.progress, cancel=task.cancelled)
    return compute_stats(dataset, issues=issues)


def _load(path: Path, task: TaskContext, start: float, end: float) -> Dataset:
    task.phase("Reading", start, end)
    if _tabular(path):
        from ftstudio.engine.tabular import load_any  # imports `datasets`: seconds

        return load_any(path, cancel=task.cancelled)
    return load_dataset(path, progress=task.progress, cancel=task.cancelled)


def _tabular(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".arrow")


def measure_tokens(
    path: Path, base_model: str, project_folder: Path, max_length: int, task: TaskContext
) -> DatasetStats:
    """The statistics with token counts from ``base_model``'s tokenizer (in a thread)."""
    from ftstudio.engine.chat_mask import ChatTemplateTokenizer, load_tokenizer
    from ftstudio.qt.dataset.preview_worker import tokenizer_folder

    task.phase("Loading the tokenizer", 0.0, 0.3)
    tokenizer = ChatTemplateTokenizer(load_tokenizer(tokenizer_folder(base_model, project_folder)))
    dataset = _load(path, task, 0.3, 0.4)
    task.phase("Counting tokens", 0.4, 1.0)
    issues = validate_dataset(dataset, cancel=task.cancelled)
    return compute_stats(
        dataset,
        issues=issues,
        tokenizer=tokenizer,
        max_length=max_length,
        progress=task.progress,
        cancel=task.cancelled,
    )


def _summary_text(summary: Summary | None, unit: str, scale: float = 1.0) -> str:
    if summary is None:
        return "—"
    return (
        f"median {summary.median / scale:,.0f}, 95 % up to {summary.p95 / scale:,.0f}, "
        f"longest {summary.max / scale:,.0f} {unit}"
    )


class DataStep(WizardStep):
    """The training data's summary, token measurement and validation share.

    Attributes (for tests): ``reader``, ``measurer`` (:class:`TaskRunner`),
    ``summary_label``, ``band_label``, ``lengths_label``, ``measure_button``,
    ``val_row`` (:class:`FieldRow` of ``val_fraction``), ``split_label``, ``status_label``.
    """

    key = "data"
    question = "What will it learn from?"

    def __init__(self, planner: Planner, parent: QWidget | None = None) -> None:
        super().__init__(planner, parent)
        self.inline_read_bytes = INLINE_READ_BYTES
        self._read_key: tuple[str, int, int] | None = None
        self.reader = TaskRunner(self)
        self.reader.sig_finished.connect(self._on_read_finished)
        self.reader.sig_failed.connect(self._on_read_failed)
        self.measurer = TaskRunner(self)
        self.measurer.sig_finished.connect(self._on_measure_finished)
        self.measurer.sig_failed.connect(self._on_measure_failed)
        self.measurer.sig_progress.connect(self._on_measure_progress)
        self._status = ""

        self.card = Card("Training data")
        self.file_label = text_label()
        self.card.add(self.file_label)
        self.summary_label = text_label()
        self.card.add(self.summary_label)
        self.band_label = text_label()
        self.card.add(self.band_label)
        self.lengths_label = text_label()
        self.card.add(self.lengths_label)
        row = QHBoxLayout()
        row.setContentsMargins(0, 4, 0, 0)
        self.measure_button = QPushButton("Measure tokens with the model's tokenizer")
        self.measure_button.setToolTip(
            "Count every example's tokens with the base model's own tokenizer and chat "
            "template, instead of estimating them from characters (loads the tokenizer; "
            "the ftstudio tiny model is built first if needed)."
        )
        self.measure_button.clicked.connect(self.measure)
        row.addWidget(self.measure_button)
        row.addStretch(1)
        holder = QWidget()
        holder.setLayout(row)
        self.card.add(holder)
        self.status_label = text_label(name="muted")
        self.card.add(self.status_label)
        self.layout_.addWidget(self.card)

        split = Card("Validation")
        self.val_row = FieldRow(SPECS["val_fraction"])
        self.val_row.sig_text_edited.connect(self._on_val_edited)
        self.val_row.sig_recommended_requested.connect(self._on_val_recommended)
        split.add(self.val_row)
        self.split_label = text_label(name="muted")
        split.add(self.split_label)
        self.layout_.addWidget(split)
        self.layout_.addStretch(1)
        self.refresh()

    # ---- Public API
    def read(self) -> None:
        """Read the objective's training file unless it was read as it is now."""
        planner = self.planner
        path = planner.data_path()
        if path is None:
            self._read_key = None
            return
        try:
            info = path.stat()
        except OSError:
            self._read_key = None
            planner.set_stats(None, f"The training file {path} does not exist.")
            self._changed()
            return
        key = (str(path), info.st_mtime_ns, info.st_size)
        done = planner.stats is not None or planner.data_error or self.reader.is_running()
        if key == self._read_key and done:
            return
        self._read_key = key
        self._status = f"Reading {path.name}…"
        self.refresh()
        self.reader.start(
            lambda task: read_stats(path, task),
            f"Reading {path.name}",
            # Parquet/Arrow need `datasets`, seconds to import: never in the GUI thread.
            inline=info.st_size <= self.inline_read_bytes and not _tabular(path),
        )

    def measure(self) -> None:
        """Count tokens with the base model's tokenizer, in a thread."""
        planner = self.planner
        path, project = planner.data_path(), planner.project
        if path is None or project is None:
            return
        base_model, max_length = planner.model_value, planner.config().max_length
        self._status = "Loading the tokenizer…"
        self.measure_button.setEnabled(False)
        self.refresh()
        self.measurer.start(
            lambda task: measure_tokens(path, base_model, project.folder, max_length, task),
            "Measuring tokens",
        )

    def shutdown(self) -> None:
        """Stop reading and measuring (call before the step goes away)."""
        self.reader.shutdown()
        self.measurer.shutdown()

    def set_planner(self, planner: Planner) -> None:
        """A new project: forget what was read."""
        self.reader.cancel()
        self.measurer.cancel()
        self._read_key = None
        self._status = ""
        super().set_planner(planner)

    # ---- Showing
    def refresh(self) -> None:
        """Show the file, its summary and the validation share."""
        planner = self.planner
        path = planner.data_path()
        role = planner.data_role()
        what = "Preference pairs (DPO)" if role == "preferences" else "Training examples"
        self.card.title_label.setText(what)
        if path is not None and planner.project is not None:
            relative = planner.project.datasets.get(role, path.name)
            self.file_label.setText(f"<b>{escape(relative)}</b> (datasets.{role} in project.json)")
        else:
            self.file_label.setText("")
        problem = planner.step_problems("data").get("dataset")
        stats = planner.stats
        self.summary_label.setText(message_html(problem, []) if problem else self._usable(stats))
        self.band_label.setText(
            f"Size band: <b>{escape(stats.band.name.replace('_', ' '))}</b>. "
            f"{escape(stats.band.verdict)}"
            if stats is not None
            else ""
        )
        self.band_label.setVisible(stats is not None and not problem)
        self.lengths_label.setText(self._lengths(stats))
        self.lengths_label.setVisible(stats is not None and stats.usable > 0)
        self.measure_button.setVisible(stats is not None and not stats.token_counts)
        self.measure_button.setEnabled(not self.measurer.is_running())
        busy = self.reader.is_running() or self.measurer.is_running()
        self.status_label.setText(escape(self._status) if busy or self._status else "")
        self.status_label.setVisible(bool(self.status_label.text()))
        config = planner.config()
        self.val_row.set_state(
            config.val_fraction,
            recommended=SPECS["val_fraction"].default,
            why="",
            problem=planner.invalid.get("val_fraction"),
            warnings=[],
        )
        if stats is not None and stats.usable:
            held = round(stats.usable * config.val_fraction)
            self.split_label.setText(
                f"{held:,} examples held back to measure the validation loss, "
                f"{stats.usable - held:,} to train on."
            )
        else:
            self.split_label.setText("")

    @staticmethod
    def _usable(stats: DatasetStats | None) -> str:
        if stats is None:
            return ""
        left_out = stats.records - stats.usable
        text = f"<b>{stats.usable:,} usable examples</b> of {stats.records:,}"
        if left_out:
            text += (
                f" ({left_out:,} unreadable, with errors or rejected: fix them on the Dataset page)"
            )
        return text + "."

    def _lengths(self, stats: DatasetStats | None) -> str:
        if stats is None:
            return ""
        max_length = self.planner.config().max_length
        lines = [f"Characters per example: {_summary_text(stats.example_chars, 'characters')}."]
        if stats.token_counts:
            lines.append(
                f"Tokens per example (measured): {_summary_text(stats.example_tokens, 'tokens')}."
            )
            over = sum(1 for count in stats.token_counts if count > max_length)
        else:
            lines.append(
                f"Tokens per example (estimated, characters ÷ {CHARS_PER_TOKEN:g}): "
                f"{_summary_text(stats.example_chars, 'tokens', CHARS_PER_TOKEN)}."
            )
            over = sum(1 for c in stats.char_counts if c / CHARS_PER_TOKEN > max_length)
        if over:
            lines.append(
                f"{over:,} examples are longer than the max length of {max_length:,} "
                "tokens and will be cut."
            )
        else:
            lines.append(f"Every example fits the max length of {max_length:,} tokens.")
        return "<br>".join(escape(line) for line in lines)

    # ---- Slots
    @Slot(object)
    def _on_read_finished(self, stats: object) -> None:
        assert isinstance(stats, DatasetStats)
        self._status = ""
        self.planner.set_stats(stats)
        self._changed()

    @Slot(str)
    def _on_read_failed(self, message: str) -> None:
        self._status = ""
        self.planner.set_stats(None, message)
        self._changed()

    @Slot(object)
    def _on_measure_finished(self, stats: object) -> None:
        assert isinstance(stats, DatasetStats)
        self._status = "Measured with the model's tokenizer."
        self.planner.set_stats(stats)
        self._changed()

    @Slot(str)
    def _on_measure_failed(self, message: str) -> None:
        self._status = f"Tokens could not be measured: {message}"
        self.refresh()

    @Slot(int, int, float, str)
    def _on_measure_progress(self, done: int, total: int, _eta: float, phase: str) -> None:
        self._status = f"{phase}… {100 * done // max(1, total)} %"
        self.refresh()

    @Slot(str, str)
    def _on_val_edited(self, field: str, text: str) -> None:
        self.planner.set_text(field, text)
        self._changed()

    @Slot(str)
    def _on_val_recommended(self, field: str) -> None:
        self.planner.reset_to_recommended((field,))
        self._changed()

    def _changed(self) -> None:
        self.refresh()
        self.sig_changed.emit()
