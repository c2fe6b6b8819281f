"""Plan a training run: Model → Method → Data → Hyperparameters → Review.

A step list on the left (steps up to the first one with a problem can be visited),
the step in the middle, the live memory bar under it on every step, and Back / Next /
Save. Every value comes from one :class:`~ftstudio.qt.wizard.plan.Planner`; the steps
are views over it. The memory estimate is redrawn shortly after the last change
(debounced), so typing stays fluid. The GPU is detected off the GUI thread, in a
child process, when the wizard is first shown; until then (and without a GPU) the
memory bar plans for a card the user picks, 24 GB by default.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.memory import Suggestion
from ftstudio.core.project import Project
from ftstudio.qt.pages.base import Page
from ftstudio.qt.wizard.data_step import DataStep
from ftstudio.qt.wizard.gpu import GpuProbe, GpuReport, shared_gpu_probe
from ftstudio.qt.wizard.hparams_step import HyperparametersStep
from ftstudio.qt.wizard.memory_bar import MemoryBar
from ftstudio.qt.wizard.method_step import MethodStep
from ftstudio.qt.wizard.model_step import ModelStep
from ftstudio.qt.wizard.plan import SPECS, STEP_TITLES, STEPS, Planner
from ftstudio.qt.wizard.review_step import ReviewStep
from ftstudio.qt.wizard.step import WizardStep
from ftstudio.qt.wizard.values import GpuChoice

_SENTENCE_END = re.compile(r"(?<=\.)\s+(?=[A-Z])")
"""Where a sentence ends (not inside "e.g. 2e-4"): the status line shows the first one."""
MEMORY_DEBOUNCE_MS = 150
"""The memory bar is redrawn this long after the last change."""

_STYLE = """
QListWidget#wizardSteps {
    background: transparent;
    border: none;
    border-right: 1px solid palette(mid);
    font-size: 11pt;
    outline: 0;
}
QListWidget#wizardSteps::item { padding: 8px 10px; margin: 2px 6px 2px 0; border-radius: 6px; }
QListWidget#wizardSteps::item:selected {
    background: palette(highlight);
    color: palette(highlighted-text);
}
QLabel#stepQuestion { font-size: 14pt; font-weight: 600; }
QLabel#sectionTitle { font-weight: 600; font-size: 11pt; margin-top: 10px; }
QLabel#fieldWhy { color: palette(placeholder-text); font-style: italic; }
QPushButton#recommendedButton { text-align: left; padding: 2px 6px; }
/* wizardStatus takes the theme's error colour from studio.qss. */
"""


class PlanWizardPage(Page):
    """The planning wizard, opened from the Train page (not in the sidebar).

    Args:
        gpu_probe: where the GPUs come from (default: the process-wide
            :func:`~ftstudio.qt.wizard.gpu.shared_gpu_probe`, started when first shown).

    Attributes (for tests and the main window): ``planner``, ``steps`` (key → step),
    ``step_list``, ``stack``, ``memory_bar``, ``memory_timer``, ``back_button``,
    ``next_button``, ``save_button``, ``status_label``.

    Signals:
        sig_saved(object): the configuration was saved at this path.
    """

    key = "wizard"
    title = "Plan a training run"
    summary = "Every value comes with a reason, and the memory estimate comes before the run."

    sig_saved = Signal(object)

    def __init__(self, parent: QWidget | None = None, *, gpu_probe: GpuProbe | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(_STYLE)
        self.planner = Planner(None)
        self.gpu_probe = gpu_probe if gpu_probe is not None else shared_gpu_probe()
        self._current = 0

        columns = QHBoxLayout()
        columns.setSpacing(16)
        self.step_list = QListWidget()
        self.step_list.setObjectName("wizardSteps")
        self.step_list.setFixedWidth(220)
        self.step_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for number, key in enumerate(STEPS, start=1):
            item = QListWidgetItem(f"{number}  {STEP_TITLES[key]}")
            self.step_list.addItem(item)
        self.step_list.currentRowChanged.connect(self._on_step_row_changed)
        columns.addWidget(self.step_list, 0)

        right = QVBoxLayout()
        right.setSpacing(12)
        self.stack = QStackedWidget()
        self.steps: dict[str, WizardStep] = {}
        self._holders: dict[str, QWidget] = {}
        for step_class in (ModelStep, MethodStep, DataStep, HyperparametersStep, ReviewStep):
            step = step_class(self.planner)
            step.sig_changed.connect(self._on_plan_changed)
            self.steps[step.key] = step
            if isinstance(step, ReviewStep):
                step.sig_saved.connect(self.sig_saved)
            holder: QWidget = step
            if step.scrolls:  # each step scrolls on its own; the bar and buttons stay put
                scroll = QScrollArea()
                scroll.setWidgetResizable(True)
                scroll.setFrameShape(QFrame.Shape.NoFrame)
                scroll.setWidget(step)
                holder = scroll
            self._holders[step.key] = holder
            self.stack.addWidget(holder)
        self.stack.setMinimumHeight(220)
        right.addWidget(self.stack, 1)

        self.memory_bar = MemoryBar()
        self.memory_bar.sig_gpu_changed.connect(self._on_gpu_changed)
        self.memory_bar.sig_apply_requested.connect(self._on_apply_requested)
        right.addWidget(self.memory_bar)
        right.addLayout(self._build_buttons())
        columns.addLayout(right, 1)
        self.body.addLayout(columns, 1)

        self.memory_timer = QTimer(self)
        self.memory_timer.setSingleShot(True)
        self.memory_timer.setInterval(MEMORY_DEBOUNCE_MS)
        self.memory_timer.timeout.connect(self.update_memory)
        self.gpu_probe.sig_finished.connect(self._on_gpus_detected)
        if self.gpu_probe.report is not None:
            self.memory_bar.set_gpus(self.gpu_probe.report)
        self.set_project(None)

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(8)
        self.back_button = QPushButton("← Back")
        self.back_button.setShortcut(QKeySequence("Alt+Left"))
        self.back_button.setToolTip("The previous step (Alt+Left)")
        self.back_button.clicked.connect(self.go_back)
        row.addWidget(self.back_button)
        self.status_label = QLabel()
        self.status_label.setObjectName("wizardStatus")
        self.status_label.setWordWrap(True)
        row.addWidget(self.status_label, 1)
        self.next_button = QPushButton("Next →")
        self.next_button.setShortcut(QKeySequence("Alt+Right"))
        self.next_button.setToolTip("The next step (Alt+Right)")
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(self.go_next)
        row.addWidget(self.next_button)
        self.save_button = QPushButton("Save")
        self.save_button.setToolTip("Write the configuration into the project")
        self.save_button.clicked.connect(self.save)
        row.addWidget(self.save_button)
        return row

    # ---- Public API
    def set_project(self, project: Project | None) -> None:
        """Plan for ``project``: its base model preselected, its data read."""
        self.project = project
        gpu = self.memory_bar.gpu()
        self.planner = Planner(project, gpu=gpu)
        for step in self.steps.values():
            step.set_planner(self.planner)
        self._current = 0
        self._show_step()
        self._data_step().read()
        self.update_memory()

    def refresh(self) -> None:
        """Re-read the project's data if it changed, and its finished runs (Start from)."""
        self.planner.reload_runs()
        self.steps[self.current_step()].refresh()
        self._data_step().read()
        self._update_navigation()

    def current_step(self) -> str:
        """The key of the step shown (see :data:`~ftstudio.qt.wizard.plan.STEPS`)."""
        return STEPS[self._current]

    def can_go_to(self, index: int) -> bool:
        """Whether step ``index`` may be shown: no step before it has a problem."""
        blocked = self.planner.first_blocked_step()
        return 0 <= index < len(STEPS) and (blocked is None or index <= blocked)

    def go_to(self, step: str | int) -> bool:
        """Show ``step`` (key or index) if :meth:`can_go_to` allows it."""
        index = STEPS.index(step) if isinstance(step, str) else step
        if not self.can_go_to(index):
            self._update_navigation()
            return False
        self._current = index
        self._show_step()
        return True

    def go_next(self) -> bool:
        """The next step, unless the current one has a problem."""
        if self._current + 1 < len(STEPS) and not self.planner.step_problems(self.current_step()):
            return self.go_to(self._current + 1)
        return False

    def go_back(self) -> bool:
        """The previous step."""
        return self._current > 0 and self.go_to(self._current - 1)

    def save(self) -> Path | None:
        """Write the configuration into the project (see the Review step); its path."""
        review = self._review_step()
        try:
            path = self.planner.save(review.name())
        except (ValueError, OSError) as error:
            review.set_saved(None, str(error))
            return None
        review.set_saved(path)
        review.refresh()
        self.sig_saved.emit(path)
        return path

    def update_memory(self) -> None:
        """Redraw the memory bar (and the Method step's per-method lines) now."""
        self.memory_timer.stop()
        planner = self.planner
        note = ""
        if planner.spec is None:
            note = "Choose a model the wizard can read to estimate the memory."
        self.memory_bar.set_estimate(planner.memory(), note)
        method_step = self.steps["method"]
        if isinstance(method_step, MethodStep) and method_step.isVisible():
            method_step.update_memory()

    def shutdown(self) -> None:
        """Stop background work (call before the wizard goes away)."""
        self.memory_timer.stop()
        self._data_step().shutdown()
        model_step = self.steps["model"]
        if isinstance(model_step, ModelStep):
            model_step.shutdown()

    # ---- Qt events
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """Start looking for the GPU the first time the wizard is shown."""
        super().showEvent(event)
        self.gpu_probe.start()

    # ---- Internals
    def _data_step(self) -> DataStep:
        step = self.steps["data"]
        assert isinstance(step, DataStep)
        return step

    def _review_step(self) -> ReviewStep:
        step = self.steps["review"]
        assert isinstance(step, ReviewStep)
        return step

    def _show_step(self) -> None:
        step = self.steps[self.current_step()]
        self.stack.setCurrentWidget(self._holders[step.key])
        step.refresh()
        self._update_navigation()

    def _update_navigation(self) -> None:
        planner = self.planner
        current = self.current_step()
        blocked = planner.first_blocked_step()
        self.step_list.blockSignals(True)
        for index, key in enumerate(STEPS):
            item = self.step_list.item(index)
            reachable = blocked is None or index <= blocked
            flags = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
            item.setFlags(flags if reachable else Qt.ItemFlag.NoItemFlags)
            problems = planner.step_problems(key) if key != "review" else {}
            mark = "  ✖" if problems else ""
            item.setText(f"{index + 1}  {STEP_TITLES[key]}{mark}")
        self.step_list.setCurrentRow(self._current)
        self.step_list.blockSignals(False)
        problems = planner.step_problems(current)
        last = self._current == len(STEPS) - 1
        self.back_button.setEnabled(self._current > 0)
        self.next_button.setVisible(not last)
        self.next_button.setEnabled(not last and not problems)
        self.save_button.setVisible(last)
        review = self._review_step()
        name_problem = planner.name_problem(review.name())
        self.save_button.setEnabled(
            last and planner.project is not None and not problems and not name_problem
        )
        if problems:
            field, message = next(iter(problems.items()))
            label = SPECS[field].label if field in SPECS else field
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            head = _SENTENCE_END.split(message, maxsplit=1)[0]
            self.status_label.setText(f"✖ {label}: {head}{more}")
            self.status_label.setToolTip(message)
        else:
            self.status_label.setText("")
            self.status_label.setToolTip("")

    # ---- Slots
    @Slot()
    def _on_plan_changed(self) -> None:
        sender = self.sender()
        step = self.steps[self.current_step()]
        if sender is not step:
            step.refresh()
        self._data_step().read()
        self._update_navigation()
        self.memory_timer.start()

    @Slot(int)
    def _on_step_row_changed(self, row: int) -> None:
        if row >= 0 and row != self._current:
            self.go_to(row)

    def set_gpu_budget(self, memory_gb: float) -> None:
        """Plan for ``memory_gb`` of GPU memory (the settings' budget; 0: the detected GPU)."""
        self.memory_bar.set_budget(memory_gb)

    @Slot(object)
    def _on_gpus_detected(self, report: GpuReport) -> None:
        self.memory_bar.set_gpus(report)

    @Slot(object)
    def _on_gpu_changed(self, gpu: GpuChoice) -> None:
        self.planner.set_gpu(gpu)
        self._on_plan_changed()

    @Slot(object)
    def _on_apply_requested(self, suggestion: Suggestion) -> None:
        self.planner.apply_suggestion(suggestion)
        self.steps[self.current_step()].refresh()
        self._on_plan_changed()
