"""Train ▸ Train with OpenAI…: choose and check a dataset, then confirm exactly what is uploaded.

Two steps:

1. **Settings and check.** The project's dataset, the job settings
   (``OpenAIJobConfig``, as a form) and the check against OpenAI's rules: problems with
   their lines, the epochs (``auto`` explained), the estimated tokens. The check
   (``upload_plan``, which sends nothing) runs in a worker thread whenever a value
   changes.
2. **Confirm the upload.** The plan's ``confirmation_text()``: every file, its size and
   examples, and the host it goes to. "Upload and start" stays disabled until "I
   understand these files will be uploaded to OpenAI" is ticked, an API key is stored
   and offline mode is off.

The dialog uploads nothing itself: it emits :attr:`OpenAIDialog.sig_confirmed` with the
confirmed plan, and the Train page starts the job and follows it in its monitor.
``ftstudio.engine.openai_finetune`` is imported when the dialog opens: it is plain
Python (the ``openai`` client loads only when a job starts), not torch.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.project import Project
from ftstudio.core.settings import OFFLINE_SETTING
from ftstudio.qt.dataset.workers import TaskContext, TaskRunner
from ftstudio.qt.style import error_style
from ftstudio.qt.widgets.card import Card
from ftstudio.qt.widgets.dataclass_form import DataclassForm, FolderEdit

CHECK_DELAY_MS = 300
"""The check waits this long after the last edit."""
MAX_ISSUES_SHOWN = 100
"""Issues listed in the check report (the rest are counted)."""
UNDERSTOOD = "I understand these files will be uploaded to OpenAI"
"""The confirmation checkbox's text."""


class OpenAIDialog(QDialog):
    """The two steps before an OpenAI fine-tuning job (see the module docstring).

    Args:
        project: the project whose datasets are offered and whose ``runs/`` gets the run.
        offline: offline mode is on (nothing may be uploaded).
        base_url: the API address (default OpenAI's; a test server on loopback may stand in).
        counter: how tokens are counted (default: tiktoken if usable, else the estimate;
            in offline mode always the estimate, since tiktoken may download its tables).

    Signals:
        sig_confirmed(object): the user confirmed this ``UploadPlan``; start its job.

    Attributes:
        form: the job settings form.
        plan: the latest checked ``UploadPlan`` (``None`` before the first check).
        key_stored: whether an OpenAI API key is in the keyring.
    """

    sig_confirmed = Signal(object)

    def __init__(
        self,
        project: Project,
        parent: QWidget | None = None,
        *,
        offline: bool = False,
        base_url: str | None = None,
        counter: Any = None,
    ) -> None:
        super().__init__(parent)
        from ftstudio.engine.openai_finetune import OpenAIJobConfig  # plain Python, no torch

        self.setWindowTitle("Train with OpenAI")
        self.setObjectName("openaiDialog")
        self.setMinimumSize(760, 620)
        self.project = project
        self.offline = offline
        self.base_url = base_url
        if counter is None and offline:
            from ftstudio.core.openai_data import ESTIMATE

            counter = ESTIMATE
        self.counter = counter
        self.plan: Any = None
        self.key_stored = False
        self.key_problem = ""
        self._checked_for: tuple[Any, ...] | None = None
        self.check_runner = TaskRunner(self)
        self.check_runner.sig_finished.connect(self._on_check_finished)
        self.check_runner.sig_failed.connect(self._on_check_failed)
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(CHECK_DELAY_MS)
        self._check_timer.timeout.connect(self.check)

        layout = QVBoxLayout(self)
        self.step_label = QLabel()
        self.step_label.setObjectName("cardTitle")
        layout.addWidget(self.step_label)
        self.stack = QStackedWidget()
        layout.addWidget(self.stack, 1)
        self.stack.addWidget(self._build_settings_step(OpenAIJobConfig()))
        self.stack.addWidget(self._build_confirm_step())
        self.offline_label = QLabel(
            f"Offline mode is on ({OFFLINE_SETTING}), so nothing can be uploaded. Turn it off "
            "to start a job; the check works offline."
        )
        self.offline_label.setProperty("tone", "error")
        self.offline_label.setWordWrap(True)
        self.offline_label.setVisible(offline)
        layout.addWidget(self.offline_label)
        layout.addLayout(self._build_buttons())
        self.refresh_key()
        self.show_step(0)
        self.check()

    # ---- Building
    def _build_settings_step(self, config: Any) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        intro = QLabel(
            "Fine-tune on OpenAI's servers, without a GPU. The dataset is checked here against "
            "OpenAI's rules first; nothing leaves this computer until you confirm the upload "
            "on the next step."
        )
        intro.setWordWrap(True)
        intro.setObjectName("muted")
        layout.addWidget(intro)
        settings = Card("Dataset and job settings")
        rows = QWidget()
        form = QFormLayout(rows)
        form.setContentsMargins(0, 0, 0, 0)
        self.dataset_combo = QComboBox()
        self.dataset_combo.setObjectName("openaiDataset")
        self.dataset_combo.setToolTip("The curated dataset to fine-tune on (the project's files)")
        for path in self.project.dataset_files():
            self.dataset_combo.addItem(_relative(path, self.project.folder), str(path))
        default = self.project.dataset_path("train")
        if default is not None:
            index = self.dataset_combo.findData(str(default))
            if index >= 0:
                self.dataset_combo.setCurrentIndex(index)
        self.dataset_combo.currentIndexChanged.connect(self._on_value_changed)
        form.addRow("Dataset:", self.dataset_combo)
        settings.add(rows)
        self.form = DataclassForm(config)
        epochs = self.form.editors.get("n_epochs")
        if isinstance(epochs, QSpinBox):
            epochs.setSpecialValueText("auto")
        share = self.form.editors.get("validation_share")
        if isinstance(share, QDoubleSpinBox):
            share.setDecimals(2)
            share.setSingleStep(0.05)
        for editor in self.form.editors.values():
            _watch(editor, self._on_value_changed)
        settings.add(self.form)
        layout.addWidget(settings)
        report = Card("Check")
        self.report_view = QTextBrowser()
        self.report_view.setObjectName("openaiReport")
        self.report_view.setOpenLinks(False)
        self.report_view.setMinimumHeight(170)
        report.add(self.report_view)
        self.key_label = QLabel()
        self.key_label.setObjectName("openaiKey")
        self.key_label.setWordWrap(True)
        self.key_label.setTextFormat(Qt.TextFormat.RichText)
        self.key_label.linkActivated.connect(self._on_key_link)
        report.add(self.key_label)
        layout.addWidget(report, 1)
        return page

    def _build_confirm_step(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        intro = QLabel(
            "This is exactly what leaves this computer when you press Upload and start. "
            "Read it: the files hold the full text of every example in them."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        card = Card("What leaves this computer, and where it goes")
        self.confirm_text = QLabel()
        self.confirm_text.setObjectName("openaiConfirmation")
        self.confirm_text.setTextFormat(Qt.TextFormat.PlainText)
        self.confirm_text.setWordWrap(True)
        self.confirm_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.confirm_text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.confirm_text.setFrameShape(QFrame.Shape.StyledPanel)
        self.confirm_text.setMargin(8)
        card.add(self.confirm_text)
        self.understood = QCheckBox(UNDERSTOOD)
        self.understood.setObjectName("openaiUnderstood")
        self.understood.toggled.connect(self._update_buttons)
        card.add(self.understood)
        layout.addWidget(card)
        layout.addWidget(
            Card(
                "What happens next",
                "The files are uploaded and the job starts at OpenAI. The Train page follows "
                "it like a local run: status, loss curves (training and validation) and the "
                "log; the run is recorded in the project's runs/ folder. Stop asks whether to "
                "cancel the job at OpenAI. Closing ftstudio does not stop the job: the Train "
                "page offers to follow it again when the project is opened.",
            )
        )
        layout.addStretch(1)
        return page

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.status_label = QLabel()
        self.status_label.setObjectName("openaiStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        self.status_label.linkActivated.connect(self._on_key_link)
        row.addWidget(self.status_label, 1)
        self.back_button = QPushButton("← Back")
        self.back_button.clicked.connect(lambda: self.show_step(0))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        self.next_button = QPushButton("Review the upload →")
        self.next_button.setObjectName("primary")
        self.next_button.setToolTip("See exactly what would be uploaded, before anything is sent")
        self.next_button.clicked.connect(lambda: self.show_step(1))
        self.upload_button = QPushButton("Upload and start")
        self.upload_button.setObjectName("primary")
        self.upload_button.setToolTip(
            "Upload the files above to OpenAI and start the fine-tuning job"
        )
        self.upload_button.clicked.connect(self.confirm)
        for button in (self.back_button, self.cancel_button, self.next_button, self.upload_button):
            row.addWidget(button)
        return row

    # ---- Public API
    def config(self) -> Any:
        """The job settings as edited (an ``OpenAIJobConfig``)."""
        return self.form.value()

    def dataset(self) -> Path | None:
        """The chosen dataset file."""
        data = self.dataset_combo.currentData()
        return Path(data) if data else None

    def check(self) -> None:
        """Check the dataset with the current settings (in a worker thread; sends nothing)."""
        self._check_timer.stop()
        dataset = self.dataset()
        if dataset is None:
            self.plan = None
            self._checked_for = None
            self.report_view.setHtml(
                "<p>This project has no dataset file yet. Add one on the Dataset page.</p>"
            )
            self._update_buttons()
            return
        key = self._inputs()
        config, project = self.config(), self.project.folder
        base_url, counter = self.base_url, self.counter

        def work(_context: TaskContext) -> tuple[tuple[Any, ...], Any]:
            from ftstudio.engine.openai_finetune import upload_plan

            plan = upload_plan(dataset, config, project=project, base_url=base_url, counter=counter)
            return key, plan

        self._checked_for = None
        self.status_label.setText("Checking the dataset…")
        self.check_runner.start(work, "Checking the dataset for OpenAI")
        self._update_buttons()

    def is_checking(self) -> bool:
        """Whether a check is running or due."""
        return self.check_runner.is_running() or self._check_timer.isActive()

    def refresh_key(self) -> None:
        """Look up whether an OpenAI API key is stored (never its value)."""
        from ftstudio.core.secrets import SecretStoreError, secret_status

        link = "<a href='accounts'>Settings ▸ Accounts</a>"
        try:
            self.key_stored = secret_status()["openai"]
            self.key_problem = ""
        except SecretStoreError as error:
            self.key_stored, self.key_problem = False, str(error)
        if self.key_stored:
            text = f"OpenAI API key: stored in the OS keyring ({link} to change it)."
            tone = ""
        elif self.key_problem:
            text = f"{escape(self.key_problem)}"
            tone = "error"
        else:
            text = f"No OpenAI API key is stored yet: add it in {link} to start a job."
            tone = "warning"
        self.key_label.setText(text)
        self.key_label.setProperty("tone", tone)
        self.key_label.style().unpolish(self.key_label)
        self.key_label.style().polish(self.key_label)
        self._update_buttons()

    def show_step(self, index: int) -> None:
        """Show step 0 (settings and check) or 1 (confirm the upload)."""
        if index == 1 and not self._plan_ready():
            return
        if index == 1:
            self.confirm_text.setText(self.plan.confirmation_text())
            self.understood.setChecked(False)
        self.stack.setCurrentIndex(index)
        titles = ("Step 1 of 2 · Dataset, settings and check", "Step 2 of 2 · Confirm the upload")
        self.step_label.setText(titles[index])
        self._update_buttons()

    def can_upload(self) -> bool:
        """Whether Upload and start is allowed now."""
        return (
            self.stack.currentIndex() == 1
            and self._plan_ready()
            and self.understood.isChecked()
            and self.key_stored
            and not self.offline
        )

    def confirm(self) -> None:
        """The user confirmed: emit :attr:`sig_confirmed` with the plan and close."""
        if not self.can_upload():
            return
        self.sig_confirmed.emit(self.plan)
        self.accept()

    def done(self, result: int) -> None:
        """Stop a running check before the dialog closes."""
        self._check_timer.stop()
        self.check_runner.cancel()
        super().done(result)

    # ---- Slots
    @Slot()
    def _on_value_changed(self, *_args: object) -> None:
        self._checked_for = None
        self._check_timer.start()
        self._update_buttons()

    @Slot(object)
    def _on_check_finished(self, outcome: object) -> None:
        key, plan = outcome  # type: ignore[misc]
        if key != self._inputs():
            return  # the values changed meanwhile: a newer check is due
        self.plan = plan
        self._checked_for = key
        self.report_view.setHtml(report_html(plan))
        self.status_label.setText(
            "The dataset can be uploaded." if plan.ok else "Fix the problems above first."
        )
        self._update_buttons()

    @Slot(str)
    def _on_check_failed(self, message: str) -> None:
        self.plan = None
        self._checked_for = None
        self.report_view.setHtml(f"<p style='{error_style()}'>{escape(message)}</p>")
        self.status_label.setText("The dataset could not be checked.")
        self._update_buttons()

    @Slot(str)
    def _on_key_link(self, _link: str) -> None:
        from ftstudio.qt.dialogs.settings_dialog import AccountsDialog

        dialog = AccountsDialog(self)
        dialog.accounts.sig_changed.connect(self.refresh_key)
        dialog.finished.connect(lambda _result: self.refresh_key())
        dialog.open()

    # ---- Internals
    def _inputs(self) -> tuple[Any, ...]:
        return (str(self.dataset() or ""), self.config())

    def _plan_ready(self) -> bool:
        return (
            self.plan is not None
            and self.plan.ok
            and self._checked_for is not None
            and self._checked_for == self._inputs()
            and not self.is_checking()
        )

    @Slot()
    def _update_buttons(self) -> None:
        confirming = self.stack.currentIndex() == 1
        self.back_button.setVisible(confirming)
        self.next_button.setVisible(not confirming)
        self.upload_button.setVisible(confirming)
        self.next_button.setEnabled(self._plan_ready())
        self.upload_button.setEnabled(self.can_upload())
        if confirming:
            missing = []
            if not self.key_stored:
                missing.append(
                    "store an OpenAI API key (<a href='accounts'>Settings ▸ Accounts</a>)"
                )
            if self.offline:
                missing.append("turn offline mode off")
            if not self.understood.isChecked():
                missing.append("tick the box above")
            self.status_label.setText(
                "To upload: " + "; ".join(missing) + "." if missing else "Ready to upload."
            )


def report_html(plan: Any) -> str:
    """The check report of an ``UploadPlan`` as rich text: what stops the job, the examples
    with problems (by line), then counts, epochs, tokens, files and notes."""
    report = plan.report
    parts: list[str] = []
    if plan.problems:
        items = "".join(f"<li>{escape(problem)}</li>" for problem in plan.problems)
        parts.append(f"<p style='{error_style()}'><b>The job cannot start:</b></p><ul>{items}</ul>")
    issues = [issue for issue in report.issues if issue.record >= 0]
    if plan.validation_report is not None:
        issues += [issue for issue in plan.validation_report.issues if issue.record >= 0]
    if issues:
        rows = "".join(
            f"<li><b>line {issue.line}</b> · {escape(issue.severity)}"
            f"{' · ' + escape(issue.field) if issue.field else ''}: {escape(issue.message)}</li>"
            for issue in issues[:MAX_ISSUES_SHOWN]
        )
        more = (
            f"<p>…and {len(issues) - MAX_ISSUES_SHOWN:,} more.</p>"
            if len(issues) > MAX_ISSUES_SHOWN
            else ""
        )
        parts.append(f"<p>Examples with problems (errors are left out):</p><ul>{rows}</ul>{more}")
    parts.append("<p>" + "<br>".join(escape(line) for line in report.summary().splitlines()))
    if report.auto:
        epochs = (
            f"Epochs: auto. OpenAI chooses them from the number of training examples: 3, more "
            f"for fewer than 34 examples (up to 25), fewer above 8,333. For "
            f"{len(report.usable):,} examples that is {report.epochs}."
        )
    else:
        epochs = f"Epochs: {report.epochs}, as set."
    parts.append(f"</p><p>{escape(epochs)}</p>")
    if plan.validation_report is not None:
        first = plan.validation_report.summary().splitlines()[0]
        parts.append(f"<p>Validation: {escape(first)}</p>")
    if plan.files:
        files = "".join(
            f"<li>{escape(item.filename)}: {item.examples:,} {escape(item.role)} examples, "
            f"about {item.tokens:,} tokens</li>"
            for item in plan.files
        )
        parts.append(f"<p>Files to upload (after your confirmation):</p><ul>{files}</ul>")
    if plan.notes:
        notes = "".join(f"<li>{escape(note)}</li>" for note in plan.notes)
        parts.append(f"<p>Good to know:</p><ul>{notes}</ul>")
    return "".join(parts)


def _watch(editor: QWidget, slot: Any) -> None:
    """Call ``slot`` whenever ``editor``'s value changes."""
    if isinstance(editor, QComboBox):
        editor.currentIndexChanged.connect(slot)
    elif isinstance(editor, QCheckBox):
        editor.toggled.connect(slot)
    elif isinstance(editor, QSpinBox | QDoubleSpinBox):
        editor.valueChanged.connect(slot)
    elif isinstance(editor, QLineEdit):
        editor.textChanged.connect(slot)
    elif isinstance(editor, FolderEdit):
        editor.line_edit.textChanged.connect(slot)


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return str(path)
