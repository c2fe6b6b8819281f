"""A task's progress line: a bar, what is happening with the time left, and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from ftstudio.qt.dataset.workers import TaskRunner
from ftstudio.qt.style import error_style
from ftstudio.qt.training.text import format_duration


class TaskProgress(QWidget):
    """Follows one :class:`~ftstudio.qt.dataset.workers.TaskRunner`: bar, status, ETA, Cancel.

    The owner sets the status line (:meth:`set_status`); the runner's progress moves
    the bar and adds the time left.

    Signals:
        sig_cancel_requested(): the Cancel button was pressed.
    """

    sig_cancel_requested = Signal()

    def __init__(self, runner: TaskRunner, *, cancel_button: bool = True) -> None:
        super().__init__()
        self.runner = runner
        self._has_cancel = cancel_button
        self.eta_s: float = -1.0
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.bar.setTextVisible(False)
        self.bar.setFixedWidth(200)
        self.bar.setFixedHeight(14)
        row.addWidget(self.bar)
        self.label = QLabel("")
        self.label.setObjectName("muted")
        self.label.setWordWrap(True)
        row.addWidget(self.label, 1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop this task (Esc)")
        self.cancel_button.clicked.connect(self.sig_cancel_requested)
        self.cancel_button.clicked.connect(runner.cancel)
        row.addWidget(self.cancel_button)
        self._status = ""
        runner.sig_started.connect(self._on_started)
        runner.sig_progress.connect(self._on_progress)
        runner.sig_idle.connect(self._on_idle)
        self._on_idle()
        self.bar.setVisible(False)

    def set_status(self, text: str, *, error: bool = False) -> None:
        """Show ``text`` (with the time left while the task runs)."""
        self._status = text
        self.label.setStyleSheet(error_style() if error else "")
        self._show()

    def status(self) -> str:
        """The status line as shown."""
        return self.label.text()

    @Slot(str)
    def _on_started(self, _label: str) -> None:
        self.eta_s = -1.0
        self.bar.setRange(0, 0)  # busy until the first progress arrives
        self.bar.setVisible(True)
        self.cancel_button.setVisible(self._has_cancel)

    @Slot(int, int, float, str)
    def _on_progress(self, done: int, total: int, eta: float, _phase: str) -> None:
        if total > 0 and done > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(done)
        self.eta_s = eta
        self._show()

    @Slot()
    def _on_idle(self) -> None:
        self.eta_s = -1.0
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.bar.setVisible(False)
        self.cancel_button.setVisible(False)
        self._show()

    def _show(self) -> None:
        text = self._status
        if self.runner.is_running() and self.eta_s >= 0:
            text += f" · about {format_duration(self.eta_s)} left"
        self.label.setText(text)
