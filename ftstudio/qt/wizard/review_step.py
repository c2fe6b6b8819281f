"""Review step: the run in a few lines, the time estimate, and the YAML that Save writes.

Save (a button of the page) writes ``<project>/configs/<name>.yaml`` and lists it in
``project.json`` under ``configs``; the step says where before and after. "Several GPUs"
exports ``<project>/configs/<name>.accelerate.yaml`` beside it and the
``accelerate launch`` command that trains on them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ftstudio.core.launch import (
    STRATEGIES,
    STRATEGY_NAMES,
    accelerate_config,
    accelerate_yaml_path,
    caveats,
    launch_command,
    mixed_precision_for,
    write_accelerate_config,
)
from ftstudio.core.train_config import TrainConfig, command_path, config_to_yaml
from ftstudio.qt.style import readable
from ftstudio.qt.widgets.card import Card
from ftstudio.qt.wizard.fields import ERROR_COLOUR, WARNING_COLOUR, message_html
from ftstudio.qt.wizard.memory_bar import VERDICT_WORDS, capacity_text
from ftstudio.qt.wizard.plan import SPECS, STEP_FIELDS, STEP_TITLES, STEPS, Planner
from ftstudio.qt.wizard.step import WizardStep, text_label
from ftstudio.qt.wizard.values import escape

METHOD_NAMES = {"qlora": "QLoRA", "lora": "LoRA", "full": "Full fine-tuning"}


class ReviewStep(WizardStep):
    """The summary, the time estimate, the file name and the YAML.

    Attributes (for tests): ``summary_label``, ``time_label``, ``name_edit``,
    ``path_label``, ``yaml_view``, ``saved_label``, ``problems_label``; for several GPUs
    ``gpus_spin``, ``strategy_combo``, ``export_button``, ``command_edit``,
    ``copy_button``, ``launch_label``.
    """

    key = "review"
    question = "Check the plan and save it"

    sig_saved = Signal(object)
    """The configuration was saved at this path by exporting launch files."""

    def __init__(self, planner: Planner, parent: QWidget | None = None) -> None:
        super().__init__(planner, parent)
        self.saved_path: Path | None = None
        top = QHBoxLayout()
        top.setSpacing(14)
        summary = Card("The run")
        self.summary_label = text_label()
        summary.add(self.summary_label)
        self.time_label = text_label()
        summary.add(self.time_label)
        self.problems_label = text_label()
        summary.add(self.problems_label)
        top.addWidget(summary, 3)

        save = Card("Save as")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("Configuration name")
        self.name_edit.setPlaceholderText("qlora-sft")
        self.name_edit.textEdited.connect(self._on_name_edited)
        row.addWidget(self.name_edit, 1)
        row.addWidget(QLabel(".yaml"))
        holder = QWidget()
        holder.setLayout(row)
        save.add(holder)
        self.path_label = text_label(name="muted")
        save.add(self.path_label)
        self.saved_label = text_label()
        save.add(self.saved_label)
        top.addWidget(save, 2)
        self.layout_.addLayout(top)
        self.layout_.addWidget(self._build_launch_card())

        self.yaml_view = QPlainTextEdit()
        self.yaml_view.setObjectName("yamlView")
        self.yaml_view.setReadOnly(True)
        self.yaml_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.yaml_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.yaml_view.setAccessibleName("The configuration file")
        self.yaml_view.setMinimumHeight(160)
        self.layout_.addWidget(self.yaml_view, 1)
        self._name_edited = False
        self.refresh()

    # ---- Public API
    def name(self) -> str:
        """The configuration name typed (or proposed)."""
        return self.name_edit.text().strip() or self.planner.default_name()

    def set_saved(self, path: Path | None, error: str = "") -> None:
        """Say where the configuration was saved, or why it was not."""
        self.saved_path = path
        if error:
            text = (
                f"<span style='color:{readable(ERROR_COLOUR)}'>✖ Not saved: {escape(error)}</span>"
            )
        elif path is not None and self.planner.project is not None:
            relative = path.relative_to(self.planner.project.folder).as_posix()
            text = (
                f"<b>Saved</b> {escape(str(path))}, and listed in project.json under "
                f"configs. Train with: <code>ftstudio train {escape(relative)}</code>"
            )
        else:
            text = ""
        self.saved_label.setText(text)
        self.saved_label.setVisible(bool(text))

    def set_planner(self, planner: Planner) -> None:
        """A new project: propose a new name."""
        self._name_edited = False
        self.set_saved(None)
        super().set_planner(planner)

    def refresh(self) -> None:
        """Show the summary, time estimate, target path and YAML of the current plan."""
        planner = self.planner
        if not self._name_edited:
            self.name_edit.setText(planner.default_name())
        config = planner.config()
        path = planner.config_path(self.name())
        self.summary_label.setText(self._summary())
        estimate = planner.time_estimate()
        if estimate is None:
            self.time_label.setText("Training time: known once the model and the data are read.")
        else:
            caveats = " ".join(estimate.caveats)
            duration = "under a minute" if estimate.high_s < 60 else estimate.text()
            self.time_label.setText(
                f"<b>Training time:</b> {escape(duration)} on "
                f"{escape(planner.gpu.label)} ({estimate.tokens:,} tokens, "
                f"{estimate.tokens_per_s[0]:,.0f}–{estimate.tokens_per_s[1]:,.0f} tokens/s "
                "expected)."
                + (f"<br><span style='color:gray'>{escape(caveats)}</span>" if caveats else "")
            )
        problem = planner.name_problem(self.name_edit.text() or planner.default_name())
        if path is None:
            where = "Open a project to save the configuration."
        else:
            where = f"Will be written to {escape(str(path))}"
            if path.exists() and path != self.saved_path:
                where += " (replacing the file there)"
            where += "."
        self.path_label.setText(message_html(problem, []) if problem else where)
        self._show_problems()
        text = config_to_yaml(
            config, name=command_path(path) if path is not None else "CONFIG.yaml"
        )
        if self.yaml_view.toPlainText() != text:
            self.yaml_view.setPlainText(text)

    def export_launch_files(self) -> Path | None:
        """Write ``<name>.accelerate.yaml`` beside the configuration (saving the configuration
        first when the file does not hold the current plan) and show the launch command;
        the launch file's path, or ``None`` (the reason is shown)."""
        planner = self.planner
        name = self.name()
        path = planner.config_path(name)
        if path is None:
            self._show_launch("", ["Open a project to export launch files."], error=True)
            return None
        strategy = self.strategy_combo.currentData()
        try:
            if not self._holds_current_plan(path):
                path = planner.save(name)
                self.set_saved(path)
                self.refresh()
                self.sig_changed.emit()
                self.sig_saved.emit(path)
            config = planner.config()
            settings = accelerate_config(
                self.gpus_spin.value(),
                strategy,
                mixed_precision=mixed_precision_for(config.precision),
                zero_stage=3 if strategy == "deepspeed" and config.method == "full" else 2,
            )
            launch_path = Path(accelerate_yaml_path(path))
            write_accelerate_config(launch_path, settings)
        except (ValueError, OSError) as error:
            self._show_launch("", [f"Not exported: {error}"], error=True)
            return None
        assert planner.project is not None
        folder = planner.project.folder
        command = launch_command(
            path.relative_to(folder).as_posix(), launch_path.relative_to(folder).as_posix()
        )
        notes = [f"Wrote {launch_path}. Run the command below in {folder}."]
        self._show_launch(command, notes + caveats(config.method, strategy))
        return launch_path

    # ---- Internals
    def _build_launch_card(self) -> Card:
        card = Card(
            "Several GPUs",
            "Train on several GPUs of one machine with accelerate: export a launch file "
            "beside the configuration and the command that uses it.",
        )
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("GPUs"))
        self.gpus_spin = QSpinBox()
        self.gpus_spin.setRange(2, 64)
        self.gpus_spin.setAccessibleName("Number of GPUs")
        self.gpus_spin.valueChanged.connect(self._on_launch_choice_changed)
        row.addWidget(self.gpus_spin)
        row.addWidget(QLabel("Strategy"))
        self.strategy_combo = QComboBox()
        self.strategy_combo.setAccessibleName("Multi-GPU strategy")
        for strategy in STRATEGIES:
            self.strategy_combo.addItem(STRATEGY_NAMES[strategy], strategy)
        self.strategy_combo.setToolTip(
            "DDP: a copy of the model on every GPU (fastest when it fits on one). FSDP and "
            "DeepSpeed ZeRO: the model is shared out between the GPUs."
        )
        self.strategy_combo.currentIndexChanged.connect(self._on_launch_choice_changed)
        row.addWidget(self.strategy_combo)
        self.export_button = QPushButton("Export launch files")
        self.export_button.setToolTip(
            "Save the configuration if needed and write <name>.accelerate.yaml beside it"
        )
        self.export_button.clicked.connect(self.export_launch_files)
        row.addWidget(self.export_button)
        row.addStretch(1)
        holder = QWidget()
        holder.setLayout(row)
        card.add(holder)

        command_row = QHBoxLayout()
        command_row.setContentsMargins(0, 0, 0, 0)
        self.command_edit = QLineEdit()
        self.command_edit.setReadOnly(True)
        self.command_edit.setAccessibleName("Launch command")
        self.command_edit.setPlaceholderText("The launch command appears here after export.")
        self.command_edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        command_row.addWidget(self.command_edit, 1)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the launch command")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self._on_copy)
        command_row.addWidget(self.copy_button)
        command_holder = QWidget()
        command_holder.setLayout(command_row)
        card.add(command_holder)
        self.launch_label = text_label()
        self.launch_label.setVisible(False)
        card.add(self.launch_label)
        return card

    def _holds_current_plan(self, path: Path) -> bool:
        """Whether ``path`` was saved here and still holds the current plan's YAML."""
        if path != self.saved_path or not path.is_file():
            return False
        text = config_to_yaml(self.planner.config(), name=command_path(path))
        return path.read_text(encoding="utf-8") == text

    def _show_launch(self, command: str, notes: list[str], *, error: bool = False) -> None:
        self.command_edit.setText(command)
        self.copy_button.setEnabled(bool(command))
        html = "<br>".join(escape(note) for note in notes)
        if error and html:
            html = f"<span style='color:{readable(ERROR_COLOUR)}'>✖ {html}</span>"
        self.launch_label.setText(html)
        self.launch_label.setVisible(bool(html))

    @Slot()
    def _on_launch_choice_changed(self) -> None:
        if self.command_edit.text():
            self._show_launch("", [])

    @Slot()
    def _on_copy(self) -> None:
        QGuiApplication.clipboard().setText(self.command_edit.text())

    def _summary(self) -> str:
        planner = self.planner
        config = planner.config()
        spec = planner.spec
        model = escape(spec.name if spec is not None else config.base_model or "no model")
        method = METHOD_NAMES[config.method] + (" + DPO" if config.objective == "dpo" else "")
        adapters = (
            f", rank {config.r} on {', '.join(config.target_modules)}"
            if config.method != "full"
            else ""
        )
        stats = planner.stats
        data = escape(config.dataset or "no dataset")
        if stats is not None:
            data += f" ({stats.usable:,} usable examples)"
        if config.init_adapter:
            run = planner.run_for(config.init_adapter)
            start = f"Starts from the adapter in {escape(config.init_adapter)}"
            if run is not None:
                start += (
                    f": run {escape(run.name)} ({escape(run.method_text)}, finished "
                    f"{escape(run.date_text)})"
                )
            start += "."
        else:
            start = "Starts from the base model."
        warning = planner.start_warning()
        if warning:
            start += (
                f"<br><span style='color:{readable(WARNING_COLOUR)}'>⚠ {escape(warning)}</span>"
            )
        lines = [
            f"<b>{model}</b> with {method}{escape(adapters)}.",
            start,
            f"Data: {data}, {config.val_fraction:g} held back; {_length(config)}, effective "
            f"batch {config.effective_batch}, max length {config.max_length:,} tokens.",
        ]
        memory = planner.memory()
        if memory is not None:
            lines.append(
                f"Memory: about {memory.total_gb:.1f} GB of {capacity_text(memory.gpu_gb)}, "
                f"{VERDICT_WORDS[memory.verdict].lower()}."
            )
        return "<br>".join(lines)

    def _show_problems(self) -> None:
        problems = self.planner.problems()
        lines = []
        for step in STEPS[:-1]:
            for field, message in problems.items():
                if field in STEP_FIELDS[step]:
                    label = SPECS[field].label if field in SPECS else field
                    lines.append(f"{STEP_TITLES[step]} step, {escape(label)}: {escape(message)}")
        self.problems_label.setText(
            f"<span style='color:{readable(ERROR_COLOUR)}'>✖ To fix before saving:<br>"
            + "<br>".join(lines)
            + "</span>"
            if lines
            else ""
        )
        self.problems_label.setVisible(bool(lines))

    @Slot(str)
    def _on_name_edited(self, _text: str) -> None:
        self._name_edited = True
        self.refresh()
        self.sig_changed.emit()


def _length(config: TrainConfig) -> str:
    """How long the run trains: epochs, or the step limit that ends it sooner."""
    epochs = f"{config.epochs} epoch{'s' if config.epochs != 1 else ''}"
    if config.max_steps:
        return f"{config.max_steps:,} steps (at most {epochs})"
    return epochs
