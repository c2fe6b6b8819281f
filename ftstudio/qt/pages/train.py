"""Train page: choose a configuration, start and stop a run, watch it live.

The run itself goes on in a worker thread (:mod:`ftstudio.qt.training.worker`); this
page only receives its events, in the GUI thread: they feed the progress bar, the
metric buffers that the live plots redraw ten times a second, and the log. Torch and
the engine are imported by the worker when a run starts, pyqtgraph when the plots are
first shown, so the window opens fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QFileSystemWatcher, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.events import (
    CheckpointSaved,
    Evaluated,
    Failed,
    Finished,
    Started,
    StepLogged,
    TrainingEvent,
    read_events,
)
from ftstudio.core.fields import ConfigError
from ftstudio.core.project import Project
from ftstudio.core.settings import OFFLINE_SETTING, AppSettings, model_cache_dir
from ftstudio.core.train_config import load_config
from ftstudio.qt.openai.runner import OpenAIJobRunner, OpenAIRequest
from ftstudio.qt.pages.base import Page
from ftstudio.qt.shortcuts import add_shortcut
from ftstudio.qt.style import error_style
from ftstudio.qt.training.configs import (
    ConfigChoice,
    dataset_problem,
    demo_choice,
    project_configs,
    resumable_run,
    summary_rows,
)
from ftstudio.qt.training.log_pane import LogPane
from ftstudio.qt.training.metrics import MetricsHistory
from ftstudio.qt.training.summary_grid import SummaryGrid
from ftstudio.qt.training.text import (
    ERROR,
    INFO,
    WARNING,
    describe,
    format_loss,
    progress_text,
    rewards_text,
)
from ftstudio.qt.training.worker import TrainingRunner, TrainRequest
from ftstudio.qt.widgets.card import Card
from ftstudio.qt.widgets.close_guard import CloseGuard
from ftstudio.qt.widgets.messages import ask
from ftstudio.qt.wizard.gpu import GpuReport, shared_gpu_probe

PLOTS_HEIGHT = 420
REWARD_PLOTS_HEIGHT = 620
"""The curves' height with the rewards row of a DPO run."""
OPENAI_POLL_S = 10.0
"""Seconds between two looks at an OpenAI job."""
JOB_STATUS_WORDS = {
    "validating_files": "OpenAI is checking the files",
    "queued": "queued at OpenAI",
    "running": "training at OpenAI",
    "succeeded": "finished at OpenAI",
    "failed": "failed at OpenAI",
    "cancelled": "cancelled",
}
"""An OpenAI job's status, in words, for the status line."""


class TrainPage(Page):
    """Configuration, Start/Stop, progress with ETA, live curves and the run's log.

    Signals:
        sig_plan_requested(): the user asked for the planning wizard.
        sig_run_finished(object): a run ended (the engine's ``RunResult``, or ``None``
            if the engine raised); its thread has finished.

    Attributes:
        runner: starts and stops runs (:class:`~ftstudio.qt.training.worker.TrainingRunner`).
        openai_runner: follows an OpenAI fine-tuning job
            (:class:`~ftstudio.qt.openai.runner.OpenAIJobRunner`); its events feed the
            same monitor.
        app_settings: the preferences in use (offline mode, the custom-code policy, the
            model cache), set with :meth:`set_app_settings`.
        history: the metrics of the current or last run.
        plots: the live plots (``None`` until first shown).
        log: the run's log.
        choices: the configurations in :attr:`config_combo`, in order.
    """

    key = "train"
    title = "Train"
    summary = (
        "Fine-tune with a saved training plan (QLoRA by default) and watch it live. "
        "Stop at any time: the run saves a checkpoint and can resume."
    )

    sig_plan_requested = Signal()
    sig_run_finished = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = TrainingRunner(self)
        self.runner.sig_event.connect(self._on_event)
        self.runner.sig_finished.connect(self._on_run_finished)
        self.openai_runner = OpenAIJobRunner(self)
        self.openai_runner.sig_event.connect(self._on_openai_event)
        self.openai_runner.sig_status.connect(self._on_openai_status)
        self.openai_runner.sig_finished.connect(self._on_openai_finished)
        self.app_settings = AppSettings()
        self.openai_base_url: str | None = None
        self.openai_poll_interval = OPENAI_POLL_S
        self.openai_dialog: Any = None
        self.history = MetricsHistory()
        self.plots: Any = None
        self.choices: list[ConfigChoice] = []
        self._close_guard = CloseGuard(self.runner.is_running, self._ask_stop_to_close, self.stop)
        self._last_eval: float | None = None
        self._run_dir = ""

        self._build_config_card()
        self._build_run_card()
        self._build_plots_card()
        self.log = LogPane()
        self.log.setMinimumHeight(170)
        log_card = Card("Log")
        log_card.add(self.log)
        self.body.addWidget(log_card)
        self.body.addStretch(1)

        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(lambda _path: self._reload_timer.start())
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(300)
        self._reload_timer.timeout.connect(self.reload_configs)
        self.gpu_probe = shared_gpu_probe()
        self.gpu_probe.sig_finished.connect(self._on_gpus_detected)
        if self.gpu_probe.report is not None:
            self._on_gpus_detected(self.gpu_probe.report)
        self._update_buttons()

    # ---- Building
    def _build_config_card(self) -> None:
        card = Card("Training plan")
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(QLabel("Train with"))
        self.config_combo = QComboBox()
        self.config_combo.setObjectName("trainConfig")
        self.config_combo.setMinimumContentsLength(28)
        self.config_combo.setToolTip(
            "The saved training plans of this project (configs/*.yaml), or a quick demo "
            "run of the tiny model"
        )
        self.config_combo.currentIndexChanged.connect(self._on_choice_changed)
        line.addWidget(self.config_combo)
        self.plan_button = QPushButton("Plan a training run…")
        self.plan_button.setToolTip("Open the hyperparameter wizard (Ctrl+Shift+P)")
        self.plan_button.clicked.connect(self.sig_plan_requested)
        line.addWidget(self.plan_button)
        self.openai_button = QPushButton("Train with OpenAI…")
        self.openai_button.setObjectName("openaiTrain")
        self.openai_button.setToolTip(
            "No GPU? Fine-tune on OpenAI's servers: check a dataset, confirm exactly what is "
            "uploaded, then follow the job here"
        )
        self.openai_button.clicked.connect(self.open_openai_dialog)
        line.addWidget(self.openai_button)
        line.addStretch(1)
        card.add(row)
        self.openai_hint = QLabel(
            "No CUDA GPU was found on this computer: training here runs on the CPU (fine for "
            "the quick demo run). To fine-tune a real model without a GPU, use Train with "
            "OpenAI…"
        )
        self.openai_hint.setObjectName("openaiHint")
        self.openai_hint.setWordWrap(True)
        self.openai_hint.setVisible(False)
        card.add(self.openai_hint)
        self.config_summary = QLabel()
        self.config_summary.setObjectName("configSummary")
        self.config_summary.setWordWrap(True)
        self.config_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        card.add(self.config_summary)
        self.summary_grid = SummaryGrid()
        card.add(self.summary_grid)
        self.body.addWidget(card)

    def _build_run_card(self) -> None:
        self.run_card = card = Card("Run")
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("primary")
        self.start_button.setToolTip("Start a new run with the chosen training plan (Ctrl+Enter)")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(
            "Stop at the end of the current step; a checkpoint is saved, so the run can resume"
        )
        self.stop_button.clicked.connect(self.stop)
        self.resume_button = QPushButton("Resume last run")
        self.resume_button.setToolTip(
            "Continue the newest run that was stopped or interrupted, from its last checkpoint"
        )
        self.resume_button.clicked.connect(self.resume)
        for button in (self.start_button, self.stop_button, self.resume_button):
            line.addWidget(button)
        add_shortcut(self, "Ctrl+Return", "Start training", self.start_button.click)
        self.status_label = QLabel("Ready.")
        self.status_label.setObjectName("trainStatus")
        self.status_label.setWordWrap(True)
        line.addWidget(self.status_label, 1)
        card.add(row)
        self.progress = QProgressBar()
        self.progress.setObjectName("trainProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        card.add(self.progress)
        self.progress_label = QLabel("No run yet.")
        self.progress_label.setObjectName("muted")
        card.add(self.progress_label)
        self.reattach_row = QWidget()
        reattach = QHBoxLayout(self.reattach_row)
        reattach.setContentsMargins(0, 0, 0, 0)
        self.reattach_label = QLabel()
        self.reattach_label.setObjectName("openaiReattach")
        self.reattach_label.setWordWrap(True)
        self.reattach_button = QPushButton("Follow it again")
        self.reattach_button.setToolTip(
            "Follow the OpenAI job here again: its status, curves and log (nothing is uploaded)"
        )
        self.reattach_button.clicked.connect(self._on_reattach_clicked)
        reattach.addWidget(self.reattach_label, 1)
        reattach.addWidget(self.reattach_button)
        self.reattach_row.setVisible(False)
        self.unfinished_openai: list[Path] = []
        card.add(self.reattach_row)
        self.body.addWidget(card)

    def _build_plots_card(self) -> None:
        card = Card("Live curves")
        self.plots_holder = QWidget()
        self.plots_holder.setMinimumHeight(PLOTS_HEIGHT)
        QVBoxLayout(self.plots_holder).setContentsMargins(0, 0, 0, 0)
        card.add(self.plots_holder)
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addStretch(1)
        self.png_button = QPushButton("Export PNG…")
        self.png_button.setToolTip("Save the curves as an image")
        self.png_button.clicked.connect(self._choose_png)
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.setToolTip("Save every logged step's metrics as a table")
        self.csv_button.clicked.connect(self._choose_csv)
        line.addWidget(self.png_button)
        line.addWidget(self.csv_button)
        card.add(row)
        self.body.addWidget(card)

    def ensure_plots(self) -> Any:
        """The live plots, created on first use (imports pyqtgraph)."""
        if self.plots is None:
            from ftstudio.qt.training.plots import LivePlots

            self.plots = LivePlots(self.history)
            self.plots.sig_rewards_shown.connect(self._on_rewards_shown)
            layout = self.plots_holder.layout()
            assert layout is not None
            layout.addWidget(self.plots)
            self.plots.redraw()
        return self.plots

    # ---- Public API
    def set_project(self, project: Project | None) -> None:
        """Show ``project``: its plans, and its newest run in the monitor while none runs."""
        previous = self.project.folder if self.project is not None else None
        super().set_project(project)
        folder = project.folder if project is not None else None
        if folder != previous and not self.is_running():
            self.show_run(None)

    def show_run(self, run_dir: Path | None) -> bool:
        """Show a finished (or interrupted) run in the monitor: its curves, log, progress and
        how it ended, as they were when it stopped. ``None``: the project's newest run.
        Returns whether a run was shown; with no run the monitor is emptied."""
        if self.is_running():
            return False
        if run_dir is None and self.project is not None:
            runs = [path for path in self.project.run_dirs() if (path / "events.jsonl").is_file()]
            run_dir = runs[-1] if runs else None
        events = read_events(Path(run_dir) / "events.jsonl") if run_dir is not None else []
        self.history.clear()
        self.log.clear()
        self._last_eval = None
        self._run_dir = ""
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress_label.setText("No run yet." if not events else "")
        self._set_status("Ready.")
        for event in events:
            self._on_event(event)
        if events and not isinstance(events[-1], Finished | Failed):
            self._set_status(
                f"The last run ({Path(run_dir).name}) ended without finishing (the app or the "
                "computer stopped). Resume continues it from its last checkpoint."
            )
        if self.plots is not None:
            self.plots.redraw()
        self._update_buttons()
        return bool(events)

    def refresh(self) -> None:
        """Re-read the project's training plans and the resumable run."""
        folders = self._watcher.directories()
        if folders:
            self._watcher.removePaths(folders)
        if self.project is not None:
            for folder in (self.project.folder, self.project.folder / "configs"):
                if folder.is_dir():
                    self._watcher.addPath(str(folder))
        self.reload_configs()
        self._update_reattach()

    def reload_configs(self) -> None:
        """List the project's training plans (and the demo run), keeping the selection."""
        current = self.current_choice()
        keep = (current.path, current.demo) if current else None
        self.choices = []
        if self.project is not None:
            self.choices = [*project_configs(self.project), demo_choice(self.project)]
        self.config_combo.blockSignals(True)
        self.config_combo.clear()
        for choice in self.choices:
            self.config_combo.addItem(_choice_label(choice))
        index = 0
        for position, choice in enumerate(self.choices):
            if keep and (choice.path, choice.demo) == keep:
                index = position
        self.config_combo.setCurrentIndex(index if self.choices else -1)
        self.config_combo.blockSignals(False)
        self._on_choice_changed()

    def current_choice(self) -> ConfigChoice | None:
        """The configuration chosen in the list, if any."""
        index = self.config_combo.currentIndex()
        return self.choices[index] if 0 <= index < len(self.choices) else None

    def select_config(self, name: str) -> None:
        """Choose the configuration called ``name`` (or the demo run's name)."""
        for index, choice in enumerate(self.choices):
            if choice.name == name:
                self.config_combo.setCurrentIndex(index)
                return
        raise KeyError(f"No training plan named {name!r}")

    def is_running(self) -> bool:
        """Whether a run is going on (local, or an OpenAI job followed here)."""
        return self.runner.is_running() or self.openai_runner.is_running()

    def set_app_settings(self, settings: AppSettings) -> None:
        """Use ``settings`` (offline mode, the custom-code policy, the model cache)."""
        self.app_settings = settings

    def start(self) -> bool:
        """Start a run with the chosen configuration; ``False`` (with the reason shown) if not."""
        choice = self.current_choice()
        if self.is_running() or self.project is None or choice is None:
            return False
        if choice.config is None:
            self._set_status(f"{choice.name} cannot be used: see the problems above.", ERROR)
            return False
        problem = dataset_problem(choice.config, self.project.folder)
        if problem:
            self._set_status(problem, ERROR)
            return False
        request = TrainRequest(
            choice.config,
            self.project.folder,
            name=choice.name if not choice.demo else "Demo",
            adapt_to_device=choice.demo,
        )
        self._begin_allowing_code(request, f"Starting {choice.name}…")
        return True

    def resume(self) -> bool:
        """Resume the newest stopped or interrupted run; ``False`` if there is none."""
        if self.is_running() or self.project is None:
            return False
        folder = resumable_run(self.project.folder)
        if folder is None:
            self._set_status("No run to resume: none stopped with a checkpoint.", WARNING)
            return False
        try:
            config = load_config(folder / "config.yaml")
        except ConfigError as error:
            self._set_status(str(error), ERROR)
            return False
        request = TrainRequest(config, self.project.folder, resume=folder)
        self._begin_allowing_code(request, f"Resuming {folder.name}…")
        return True

    def stop(self) -> None:
        """Stop the run at the end of the current step (a checkpoint is saved); for an
        OpenAI job, ask whether to cancel it at OpenAI (see :meth:`stop_openai`)."""
        if self.openai_runner.is_running():
            self.stop_openai()
            return
        if not self.runner.is_running() or self.runner.stop_requested():
            return
        self.runner.stop()
        self._set_status("Stopping at the end of this step and saving a checkpoint…")
        self.log.add_text("Stop requested: the run ends after this step and saves a checkpoint.")
        self._update_buttons()

    def confirm_close(self, window: QWidget) -> bool:
        """Whether ``window`` may close now. During a run, asks; if the user agrees,
        stops the run gracefully and closes ``window`` once it has ended. An OpenAI job
        is not stopped: following it stops, it goes on at OpenAI, and the page offers to
        follow it again next time."""
        if self.openai_runner.is_running():
            self.openai_runner.detach()
            return True
        return self._close_guard.confirm(window)

    def shutdown(self, timeout_ms: int = 120_000) -> bool:
        """Stop a run and wait for its thread to end (for application exit). An OpenAI job
        goes on at OpenAI: only following it stops."""
        if self.openai_runner.is_running():
            self.openai_runner.detach()
            return self.openai_runner.wait(min(timeout_ms, 5_000) / 1000)
        if not self.runner.is_running():
            return True
        self.runner.stop()
        return self.runner.wait(timeout_ms)

    def export_png(self, path: Path) -> Path:
        """Save the live curves to ``path`` as PNG."""
        return self.ensure_plots().export_png(Path(path))

    def export_csv(self, path: Path) -> Path:
        """Save every logged step's metrics to ``path`` as CSV."""
        return self.history.write_csv(Path(path))

    # ---- OpenAI
    def open_openai_dialog(self) -> Any:
        """Open Train with OpenAI… (the dataset check, then the upload confirmation); the job
        starts only when the user confirms. Returns the dialog (``None``: none can open now)."""
        if self.project is None or self.is_running():
            return None
        from ftstudio.qt.openai.dialog import OpenAIDialog

        if self.openai_dialog is not None:
            self.openai_dialog.deleteLater()
        dialog = OpenAIDialog(
            self.project, self, offline=self.app_settings.offline, base_url=self.openai_base_url
        )
        dialog.sig_confirmed.connect(self.start_openai)
        self.openai_dialog = dialog
        dialog.open()
        return dialog

    def start_openai(self, plan: Any) -> bool:
        """Upload a confirmed ``UploadPlan``'s files, start its job and follow it here.

        ``False`` (with the reason shown) when a run is going on, no project is open or
        offline mode is on.
        """
        if self.project is None or self.is_running():
            return False
        if self.app_settings.offline:
            self._set_status(
                f"Offline mode is on ({OFFLINE_SETTING}): nothing was uploaded.", ERROR
            )
            return False
        self._begin_monitor(
            f"Uploading {len(plan.files)} file(s) to {plan.host} and starting a fine-tuning "
            f"job of {plan.config.model}…",
            "Uploading the files to OpenAI…",
        )
        request = OpenAIRequest(
            self.project.folder, plan=plan, poll_interval=self.openai_poll_interval
        )
        self.openai_runner.start(request)
        self._update_buttons()
        return True

    def attach_openai(self, run_dir: Path) -> bool:
        """Follow the job of the OpenAI run folder ``run_dir`` again (nothing is uploaded)."""
        if self.project is None or self.is_running():
            return False
        if self.app_settings.offline:
            self._set_status(
                f"Offline mode is on ({OFFLINE_SETTING}): the job cannot be followed.", ERROR
            )
            return False
        self._begin_monitor(
            f"Following the OpenAI job of run {Path(run_dir).name} again…",
            "Asking OpenAI about the job…",
        )
        request = OpenAIRequest(
            self.project.folder, run_dir=Path(run_dir), poll_interval=self.openai_poll_interval
        )
        self.openai_runner.start(request)
        self.reattach_row.setVisible(False)
        self._update_buttons()
        return True

    def stop_openai(self) -> str:
        """Ask whether to cancel the OpenAI job at OpenAI, only stop following it, or keep it.

        Returns ``"cancel"``, ``"detach"`` or ``"keep"`` (what was done).
        """
        if not self.openai_runner.is_running() or self.openai_runner.cancel_requested():
            return "keep"
        cancel, detach = "Cancel the job", "Stop following"
        answer = ask(  # events keep arriving meanwhile: the job may end while the box is open
            self,
            "confirmCancelOpenAI",
            "Stop the OpenAI job?",
            "Cancel the job at OpenAI?",
            "Cancelling stops the training at OpenAI: no model is made, and the steps already "
            "trained may still be billed. Or only stop following it here: the job goes on at "
            "OpenAI, and the Train page can follow it again later.",
            [
                (cancel, QMessageBox.ButtonRole.AcceptRole),
                (detach, QMessageBox.ButtonRole.ActionRole),
                ("Keep it running", QMessageBox.ButtonRole.RejectRole),
            ],
        )
        if not self.openai_runner.is_running():
            return "keep"
        if answer == cancel:
            self.openai_runner.cancel()
            self._set_status("Cancelling the job at OpenAI…")
            self.log.add_text("Cancel requested: OpenAI is asked to cancel the job.")
            self._update_buttons()
            return "cancel"
        if answer == detach:
            self.openai_runner.detach()
            self._set_status("Stopping following the job; it goes on at OpenAI…")
            self._update_buttons()
            return "detach"
        return "keep"

    def _begin_monitor(self, message: str, status: str) -> None:
        """Clear the monitor for an OpenAI job (as :meth:`_begin` does for a local run)."""
        self._clear_monitor(status)
        self.log.add_text(message)
        self._set_status(status)
        self._scroll_to(self.run_card)

    @Slot(object)
    def _on_openai_event(self, event: TrainingEvent) -> None:
        """An OpenAI job's event: as a local run's, but busy until the steps are known."""
        self._on_event(event)
        if isinstance(event, Started) and event.total_steps <= 0:
            self.progress.setRange(0, 0)
            self.progress_label.setText("Waiting for OpenAI to start training…")

    @Slot(object)
    def _on_openai_status(self, status: Any) -> None:
        """A status change or a message of the OpenAI job: the status line and the log."""
        if status.message:
            self.log.add_text(f"OpenAI: {status.message}")
        words = JOB_STATUS_WORDS.get(status.status, status.status)
        text = f"Job {status.job_id}: {words}"
        if status.fine_tuned_model:
            text += f"; the fine-tuned model is {status.fine_tuned_model}"
        elif status.message:
            text += f". {status.message}"
        self._set_status(text.rstrip(".") + ".")

    @Slot(object)
    def _on_openai_finished(self, result: object) -> None:
        if result is not None and getattr(result, "status", "") == "detached":
            self._set_status(str(getattr(result, "message", "")))
            self.log.add_text(str(getattr(result, "message", "")))
        self._on_run_finished(result)
        self._update_reattach()

    def _update_reattach(self) -> None:
        """Offer to follow again an OpenAI job that was left running (the app was closed)."""
        runs: list[Path] = []
        if self.project is not None and not self.openai_runner.is_running():
            from ftstudio.engine.openai_finetune import unfinished_openai_runs  # no torch

            with contextlib.suppress(OSError):
                runs = unfinished_openai_runs(self.project.folder)
        self.unfinished_openai = runs
        if runs:
            more = f" ({len(runs) - 1} older one(s) too)" if len(runs) > 1 else ""
            self.reattach_label.setText(
                f"The OpenAI job of run {runs[-1].name} may still be running{more}: ftstudio "
                "stopped following it (closed, or the connection was lost)."
            )
        self.reattach_row.setVisible(bool(runs))

    @Slot()
    def _on_reattach_clicked(self) -> None:
        if self.unfinished_openai:
            self.attach_openai(self.unfinished_openai[-1])

    @Slot(object)
    def _on_gpus_detected(self, report: GpuReport) -> None:
        """No CUDA GPU found: point to Train with OpenAI…."""
        self.openai_hint.setVisible(not report.error and not report.gpus)

    def _begin_allowing_code(self, request: TrainRequest, message: str) -> None:
        """Start ``request``; when its base model ships its own code and the custom-code
        setting is "ask", ask first whether that code may run for this run."""
        base_model = request.config.base_model
        allowed = self._remote_code_allowed(base_model)
        if allowed:
            request = dataclasses.replace(request, trust_remote_code=True)  # type: ignore[call-arg]
        self._begin(request, message)
        if allowed:
            self.log.add_text(f"You allowed the code of {base_model} to run, for this run only.")

    def _remote_code_allowed(self, base_model: str) -> bool:
        """Whether the user allows ``base_model``'s own code now (asked only when the
        setting is "ask" and the model, on this computer, ships code)."""
        if self.app_settings.trust_remote_code != "ask" or self.project is None:
            return False
        from ftstudio.qt.dialogs.remote_code import ask_remote_code, remote_code_for

        cache = model_cache_dir(self.app_settings)
        code = remote_code_for(base_model, self.project.folder, cache)
        return code is not None and ask_remote_code(self, base_model, code)

    # ---- Qt events
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """Create the plots when the page is first shown."""
        super().showEvent(event)
        self.ensure_plots()

    # ---- Slots
    @Slot(object)
    def _on_event(self, event: TrainingEvent) -> None:
        """One event of the run, in the GUI thread: buffers, progress, log."""
        self.history.add(event)
        if isinstance(event, StepLogged):
            if self.progress.maximum() != event.total_steps:
                self.progress.setRange(0, max(1, event.total_steps))
            self.progress.setValue(min(event.step, event.total_steps))
            text = progress_text(event)
            if self._last_eval is not None:
                text += f" · validation loss {format_loss(self._last_eval)}"
            rewards = rewards_text(event.metrics)
            if rewards:
                text += f" · {rewards}"
            self.progress_label.setText(text)
        for line in describe(event):
            self.log.add(line)
        if isinstance(event, Started):
            self._run_dir = event.run_dir
            self.progress.setFormat("%v / %m steps (%p%)")
            self.progress.setRange(0, max(1, event.total_steps))
            self.progress.setValue(event.start_step)
            self._set_status(f"Training on {event.device}.")
        elif isinstance(event, Evaluated):
            self._last_eval = event.eval_loss
        elif isinstance(event, CheckpointSaved):
            if self.runner.stop_requested():
                self._set_status(f"Checkpoint saved at step {event.step}; finishing…")
        elif isinstance(event, Finished):
            if event.status == "finished":
                self.progress.setValue(self.progress.maximum())
            status = event.reason or event.status.capitalize()
            rewards = rewards_text(self.history.latest_metrics)
            if rewards:
                status = f"{status.rstrip('.')}. Last step: {rewards}."
            self._set_status(status)
        elif isinstance(event, Failed):
            self._set_status(f"Failed: {event.message}", ERROR)

    @Slot(object)
    def _on_run_finished(self, result: object) -> None:
        if self.plots is not None:
            self.plots.stop()
        if self.progress.maximum() == 0:  # ended before training began
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress_label.setText("No step was trained.")
        self._update_buttons()
        self.sig_run_finished.emit(result)
        self._close_guard.task_ended()

    @Slot(bool)
    def _on_rewards_shown(self, shown: bool) -> None:
        """Room for the rewards row of a DPO run (and back for SFT)."""
        self.plots_holder.setMinimumHeight(REWARD_PLOTS_HEIGHT if shown else PLOTS_HEIGHT)

    def _on_choice_changed(self, _index: int = -1) -> None:
        choice = self.current_choice()
        rows: list[tuple[str, str]] = []
        if self.project is None:
            self.config_summary.setText("No project is open.")
        elif choice is None:
            self.config_summary.setText("No training plan yet: plan one, or try the demo run.")
        elif choice.config is None:
            self.config_summary.setText(
                f"<span style='{error_style()}'>{_html(choice.error)}</span><br>"
                "Fix the file, or save the plan again from the wizard."
            )
        else:
            rows = summary_rows(choice.config, self.project.folder)
            if choice.path is not None:
                rows.insert(0, ("File", _relative(choice.path, self.project.folder)))
            problem = dataset_problem(choice.config, self.project.folder)
            note = (
                "A short run to try the whole flow; precision and optimizer are chosen for "
                "the device found when it starts."
                if choice.demo
                else ""
            )
            if problem:
                note = f"<span style='{error_style()}'>{_html(problem)}</span>"
            self.config_summary.setText(note)
        self.config_summary.setVisible(bool(self.config_summary.text()))
        self.summary_grid.set_rows(rows, wide=3 if rows and rows[0][0] == "File" else 2)
        self._update_buttons()

    def _choose_png(self) -> None:
        self._export("Export the curves as an image", "curves.png", "PNG image (*.png)")

    def _choose_csv(self) -> None:
        self._export("Export the metrics as a table", "metrics.csv", "CSV table (*.csv)")

    # ---- Internals
    def _export(self, caption: str, filename: str, filter_text: str) -> None:
        folder = Path(self._run_dir or (self.project.folder if self.project else Path.home()))
        stem = Path(self._run_dir).name + "-" if self._run_dir else ""
        chosen, _selected = QFileDialog.getSaveFileName(
            self, caption, str(folder / f"{stem}{filename}"), filter_text
        )
        if not chosen:
            return
        path = Path(chosen)
        suffix = Path(filename).suffix
        if path.suffix.lower() != suffix:
            path = path.with_name(path.name + suffix)
        try:
            written = self.export_png(path) if suffix == ".png" else self.export_csv(path)
        except OSError as error:
            self._set_status(f"Could not export: {error}", ERROR)
            return
        self._set_status(f"Exported {written}.")

    def _begin(self, request: TrainRequest, message: str) -> None:
        self._clear_monitor("Checking the data and loading the model…")
        self.log.add_text(message)
        self._set_status("Preparing: checking the data and loading the model…")
        self.runner.start(request)
        self._update_buttons()
        self._scroll_to(self.run_card)

    def _ask_stop_to_close(self, window: QWidget) -> bool:
        stop = "Stop training and close"
        answer = ask(
            window,
            "confirmStopTraining",
            "Training is running",
            "A training run is going on. Stop it and close?",
            "The run stops at the end of the current step and saves a checkpoint, so you can "
            "resume it later. The window closes when it has stopped.",
            [
                (stop, QMessageBox.ButtonRole.AcceptRole),
                ("Keep training", QMessageBox.ButtonRole.RejectRole),
            ],
        )
        return answer == stop

    def _clear_monitor(self, progress_text: str) -> None:
        """Empty the curves, log and progress for a new run; the bar shows busy."""
        self.history.clear()
        self.log.clear()
        self._last_eval = None
        self._run_dir = ""
        plots = self.ensure_plots()
        plots.redraw()
        plots.start()
        self.progress.setRange(0, 0)  # busy until the steps are known
        self.progress_label.setText(progress_text)

    def _scroll_to(self, widget: QWidget) -> None:
        """Scroll the page so ``widget`` is at the top (the run card and curves in view)."""
        scroll = self.findChild(QScrollArea)
        if scroll is not None:
            scroll.verticalScrollBar().setValue(max(0, widget.y() - 8))

    def _set_status(self, text: str, level: str = INFO) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(error_style() if level == ERROR else "")
        self.status_label.setToolTip(text)

    def _update_buttons(self) -> None:
        running = self.is_running()
        choice = self.current_choice()
        usable = self.project is not None and choice is not None and choice.config is not None
        self.start_button.setEnabled(usable and not running)
        stopping = self.runner.stop_requested() or self.openai_runner.cancel_requested()
        self.stop_button.setEnabled(running and not stopping)
        self.openai_button.setEnabled(self.project is not None and not running)
        self.reattach_button.setEnabled(not running)
        can_resume = False
        if self.project is not None and not running:
            with contextlib.suppress(OSError):
                can_resume = resumable_run(self.project.folder) is not None
        self.resume_button.setEnabled(can_resume)
        self.config_combo.setEnabled(not running)
        self.plan_button.setEnabled(self.project is not None)


def _choice_label(choice: ConfigChoice) -> str:
    if choice.config is None:
        return f"{choice.name} (has problems)"
    if choice.demo:
        return f"{choice.name}: tiny model, {choice.config.max_steps} steps"
    return choice.name


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return str(path)


def _html(text: str) -> str:
    return escape(text).replace("\n", "<br>")
