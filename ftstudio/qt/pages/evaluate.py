"""Evaluate page: compare a run's tuned model with its base model.

Three tabs share the run and saved model chosen at the top:

- Playground: one prompt, both models' answers side by side, streamed; rate them.
- Evaluation: answer held-out examples with both models and score them (exact match,
  ROUGE-L, BLEU, loss, perplexity, forgetting check); browse every example.
- Example losses: rank the run's examples by the tuned model's loss and flag the
  suspicious ones; open any of them in the dataset editor.

Runs and their saved models are read from the run folders (no torch); the models
load in worker threads when first needed.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QTabWidget,
    QWidget,
)

from ftstudio.core.project import Project
from ftstudio.qt.evaluate.choices import AdapterOption, RunChoice, list_run_choices, run_count
from ftstudio.qt.evaluate.eval_view import EvalView
from ftstudio.qt.evaluate.losses_view import LossesView
from ftstudio.qt.evaluate.playground import PlaygroundView
from ftstudio.qt.pages.base import Page

NO_PROJECT_TEXT = "Open a project to evaluate its runs."
NO_RUNS_TEXT = "Train a run first: the playground compares a run with its base model."
NO_MODEL_TEXT = (
    "No run has saved a model yet: a run saves its adapter when it finishes, and a "
    "checkpoint every few steps. Train a run on the Train page, or let the current one "
    "reach its first checkpoint."
)
TAB_MINIMUM_HEIGHT = 460


class EvaluatePage(Page):
    """Playground, evaluation and example losses for one run and saved model.

    Signals:
        sig_reveal_example(object, int): show this dataset file (``Path``) at this
            1-based line in the dataset editor.

    Attributes:
        runs: the runs in :attr:`run_combo`, in order.
        playground, eval_view, losses_view: the three tabs.
    """

    key = "evaluate"
    title = "Evaluate"
    summary = (
        "Chat with a tuned model and its base model side by side, score both on held-out "
        "examples, and find the hardest examples."
    )

    sig_reveal_example = Signal(object, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[RunChoice] = []
        self.body.addWidget(self._build_picker())
        self.stack = _FillingStack()
        self.stack.setMinimumHeight(TAB_MINIMUM_HEIGHT)
        self.empty_label = QLabel(NO_PROJECT_TEXT)
        self.empty_label.setObjectName("emptyState")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.stack.addWidget(self.empty_label)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("evaluateTabs")
        self.playground = PlaygroundView()
        self.eval_view = EvalView()
        self.losses_view = LossesView()
        self.tabs.addTab(self.playground, "Playground")
        self.tabs.addTab(self.eval_view, "Evaluation")
        self.tabs.addTab(self.losses_view, "Example losses")
        self.stack.addWidget(self.tabs)
        self.body.addWidget(self.stack, 1)
        for view in self.views():
            view.sig_busy_changed.connect(self._on_busy_changed)
            view.sig_reveal_requested.connect(self.sig_reveal_example)
        self._show_state()

    def _build_picker(self) -> QWidget:
        self.picker = QWidget()
        row = QHBoxLayout(self.picker)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Run"))
        self.run_combo = QComboBox()
        self.run_combo.setObjectName("evaluateRun")
        self.run_combo.setMinimumContentsLength(34)
        self.run_combo.setToolTip("The run whose tuned model is compared with its base model")
        self.run_combo.currentIndexChanged.connect(self._on_run_changed)
        row.addWidget(self.run_combo)
        row.addSpacing(12)
        row.addWidget(QLabel("Tuned model"))
        self.adapter_combo = QComboBox()
        self.adapter_combo.setObjectName("evaluateAdapter")
        self.adapter_combo.setMinimumContentsLength(20)
        self.adapter_combo.setToolTip(
            "The run's final adapter (or model), or one of its checkpoints"
        )
        self.adapter_combo.currentIndexChanged.connect(self._on_adapter_changed)
        row.addWidget(self.adapter_combo)
        row.addStretch(1)
        return self.picker

    # ---- Public API
    def views(self) -> tuple[PlaygroundView, EvalView, LossesView]:
        """The three tabs."""
        return (self.playground, self.eval_view, self.losses_view)

    def set_project(self, project: Project | None) -> None:
        """Show ``project``'s runs (a new project starts from its newest finished run)."""
        changed = (project.folder if project else None) != (
            self.project.folder if self.project else None
        )
        if changed:
            self.shutdown()  # stop the old project's work and free its model
        for view in self.views():
            view.set_project(project)
        if changed:
            self.runs = []
            self.run_combo.clear()
        super().set_project(project)

    def refresh(self) -> None:
        """Re-read the project's runs, keeping the chosen run and model when they remain."""
        if self.is_busy():
            return
        keep_run = self.current_run()
        keep_adapter = self.current_adapter()
        self.runs = list_run_choices(self.project.folder) if self.project else []
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for choice in self.runs:
            self.run_combo.addItem(choice.label, str(choice.run_dir))
            self.run_combo.setItemData(
                self.run_combo.count() - 1, str(choice.run_dir), Qt.ItemDataRole.ToolTipRole
            )
        index = 0
        if keep_run is not None:
            found = self.run_combo.findData(str(keep_run.run_dir))
            index = max(0, found)
        self.run_combo.setCurrentIndex(index if self.runs else -1)
        self.run_combo.blockSignals(False)
        self._fill_adapters(keep_adapter.path if keep_adapter else None)
        self._show_state()
        self._apply_target()

    def current_run(self) -> RunChoice | None:
        """The chosen run, if any."""
        index = self.run_combo.currentIndex()
        return self.runs[index] if 0 <= index < len(self.runs) else None

    def current_adapter(self) -> AdapterOption | None:
        """The chosen saved model of the run, if any."""
        run = self.current_run()
        index = self.adapter_combo.currentIndex()
        if run is None or not 0 <= index < len(run.adapters):
            return None
        return run.adapters[index]

    def select_run(self, run_dir: Path) -> bool:
        """Choose the run in ``run_dir``; ``False`` if it is not listed."""
        index = self.run_combo.findData(str(Path(run_dir)))
        if index < 0 or self.is_busy():
            return False
        self.run_combo.setCurrentIndex(index)
        return True

    def select_adapter(self, label: str) -> bool:
        """Choose the saved model labelled ``label`` (``"Checkpoint at step 3"``)."""
        index = self.adapter_combo.findText(label)
        if index < 0 or self.is_busy():
            return False
        self.adapter_combo.setCurrentIndex(index)
        return True

    def is_busy(self) -> bool:
        """Whether any tab is working (answering, evaluating, computing)."""
        return any(view.is_busy() for view in self.views())

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop every tab's work, wait for it and free the models (before closing)."""
        stopped = True
        for view in self.views():  # every one, even after one timed out
            stopped = view.shutdown(timeout_ms) and stopped
        return stopped

    # ---- Qt events
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """Re-read the runs when the page is shown (a run may have ended meanwhile)."""
        super().showEvent(event)
        if self.project is not None and not self.is_busy():
            self.refresh()

    # ---- Slots
    @Slot(int)
    def _on_run_changed(self, _index: int) -> None:
        self._fill_adapters(None)
        self._apply_target()

    @Slot(int)
    def _on_adapter_changed(self, _index: int) -> None:
        self._apply_target()

    @Slot(bool)
    def _on_busy_changed(self, _busy: bool) -> None:
        """One tab works at a time (each loads its own model); the run stays fixed meanwhile."""
        busy = self.is_busy()
        self.run_combo.setEnabled(not busy and bool(self.runs))
        self.adapter_combo.setEnabled(not busy and bool(self.runs))
        names = {
            self.playground: "The playground is answering",
            self.eval_view: "An evaluation is running",
            self.losses_view: "The example losses are being computed",
        }
        for view in self.views():
            working = [
                names[other] for other in self.views() if other is not view and other.is_busy()
            ]
            view.set_blocked(f"{working[0]}: wait for it, or stop it first." if working else "")
        if (
            self.eval_view.is_busy() or self.losses_view.is_busy()
        ) and not self.playground.is_busy():
            self.playground.holder.close()  # free the playground's model meanwhile

    # ---- Internals
    def _fill_adapters(self, keep: Path | None) -> None:
        run = self.current_run()
        self.adapter_combo.blockSignals(True)
        self.adapter_combo.clear()
        if run is not None:
            for option in run.adapters:
                self.adapter_combo.addItem(option.label)
            index = 0
            for position, option in enumerate(run.adapters):
                if keep is not None and option.path == keep:
                    index = position
            self.adapter_combo.setCurrentIndex(index)
        self.adapter_combo.blockSignals(False)

    def _apply_target(self) -> None:
        run, adapter = self.current_run(), self.current_adapter()
        for view in self.views():
            view.set_target(run, adapter)
        self._on_busy_changed(False)

    def _show_state(self) -> None:
        if self.project is None:
            text = NO_PROJECT_TEXT
        elif not self.runs:
            text = NO_MODEL_TEXT if run_count(self.project.folder) else NO_RUNS_TEXT
        else:
            text = ""
        self.empty_label.setText(text)
        self.stack.setCurrentWidget(self.empty_label if text else self.tabs)
        self.picker.setVisible(not text)


class _FillingStack(QStackedWidget):
    """A stack that asks only for its minimum height and takes whatever the page has left.

    The page scrolls (its body is in a scroll area that honours preferred heights), so
    tabs that asked for their full preferred height would push the page past the
    window; this one fills the window instead, and tables scroll inside it.
    """

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """The width wanted, and only the minimum height."""
        return QSize(super().sizeHint().width(), self.minimumHeight())

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        """No: the height does not follow the width (wrapped labels inside scroll)."""
        return False
