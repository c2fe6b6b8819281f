"""Model step: a catalogue model, a model folder or a hub id, and the target modules.

The catalogue lists the base models whose ``config.json`` ships with ftstudio, so
planning works offline; a folder is read from disk (its config.json and tokenizer);
a hub id is downloaded only when training starts, and cannot be used while offline
(whether the hub is reachable is asked once, off the GUI thread). Problems are shown
under the choice and block Next. The target modules are the model's own linear-layer
names: a preset (minimum, recommended, full) or any set of them.
"""

from __future__ import annotations

import socket

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from ftstudio.core.models import PRESET_NAMES, CatalogueEntry, find_entry, load_catalogue
from ftstudio.core.models.catalogue import TINY_ENTRY
from ftstudio.core.project import TINY_MODEL
from ftstudio.qt.dataset.workers import TaskContext, TaskRunner
from ftstudio.qt.style import readable
from ftstudio.qt.widgets.card import Card
from ftstudio.qt.wizard.fields import ERROR_COLOUR, WARNING_COLOUR, message_html
from ftstudio.qt.wizard.plan import Planner
from ftstudio.qt.wizard.step import WizardStep, text_label
from ftstudio.qt.wizard.values import MODEL_KINDS, escape, hub_offline_by_setting, parameters_text

HUB_HOST = ("huggingface.co", 443)
SOURCE_LABELS = {
    "catalogue": "From the catalogue",
    "folder": "A model folder on this computer",
    "hub": "A Hugging Face hub id",
}
PRESET_LABELS = {
    "minimum": "Minimum",
    "recommended": "Recommended",
    "full": "Full (attention and MLP)",
}


def hub_reachable(_task: TaskContext | None = None, timeout_s: float = 3.0) -> bool:
    """Whether a connection to the Hugging Face hub can be opened now."""
    try:
        with socket.create_connection(HUB_HOST, timeout=timeout_s):
            return True
    except OSError:
        return False


def entry_value(entry: CatalogueEntry, hub_id: str | None = None) -> str:
    """The ``base_model`` value for a catalogue entry: ``ftstudio:tiny`` or a hub id."""
    if entry.name == TINY_ENTRY:
        return TINY_MODEL
    return hub_id or (entry.hub_ids[0] if entry.hub_ids else entry.name)


class ModelStep(WizardStep):
    """Choose the base model and its target modules (see the module docstring).

    Attributes (for tests): ``source_buttons`` (kind → radio button), ``source_pages``
        (kind → what is shown for it), ``table``,
    ``hub_combo``, ``folder_edit``, ``browse_button``, ``hub_edit``, ``error_label``,
    ``note_label``, ``summary_label``, ``preset_combo``, ``module_boxes``.
    """

    key = "model"
    question = "Which model do you want to fine-tune?"

    def __init__(self, planner: Planner, parent: QWidget | None = None) -> None:
        super().__init__(planner, parent)
        self.entries = load_catalogue()
        self._building = False
        self.offline_probe = TaskRunner(self)
        self.offline_probe.sig_finished.connect(self._on_probe_finished)

        sources = QHBoxLayout()
        sources.setSpacing(18)
        self.source_group = QButtonGroup(self)
        self.source_buttons: dict[str, QRadioButton] = {}
        for kind in MODEL_KINDS:
            button = QRadioButton(SOURCE_LABELS[kind])
            button.setObjectName(f"source-{kind}")
            self.source_group.addButton(button)
            self.source_buttons[kind] = button
            button.toggled.connect(self._on_source_toggled)
            sources.addWidget(button)
        sources.addStretch(1)
        self.layout_.addLayout(sources)

        # One of these is shown at a time (each only as tall as it needs).
        self.source_pages = {
            "catalogue": self._build_catalogue(),
            "folder": self._build_folder(),
            "hub": self._build_hub(),
        }
        for page in self.source_pages.values():
            self.layout_.addWidget(page)

        self.error_label = text_label()
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.layout_.addWidget(self.error_label)
        self.note_label = text_label(name="muted")
        self.layout_.addWidget(self.note_label)
        self.summary_label = text_label()
        self.layout_.addWidget(self.summary_label)
        self.layout_.addWidget(self._build_targets())
        self.layout_.addStretch(1)
        self.refresh()

    # ---- Building
    def _build_catalogue(self) -> QWidget:
        page = QWidget()
        column = QHBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        self.table = QTableWidget(len(self.entries), 4)
        self.table.setObjectName("catalogueTable")
        self.table.setHorizontalHeaderLabels(["Model", "Size", "Family", "Notes"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        for row, entry in enumerate(self.entries):
            cells = [
                entry.display_name,
                parameters_text(entry.parameters),
                entry.family,
                entry.note,
            ]
            for column_index, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(entry.note or entry.display_name)
                if column_index == 1:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(row, column_index, item)
        header = self.table.horizontalHeader()
        for column_index in range(3):
            header.setSectionResizeMode(column_index, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(200)
        self.table.itemSelectionChanged.connect(self._on_table_selection_changed)
        column.addWidget(self.table, 1)

        side = Card("Hub repository")
        side.setMinimumWidth(240)
        side.setMaximumWidth(300)
        self.hub_combo = QComboBox()
        self.hub_combo.setAccessibleName("Hub repository")
        self.hub_combo.activated.connect(self._on_hub_combo_activated)
        side.add(self.hub_combo)
        self.hub_combo_note = text_label(name="muted")
        side.add(self.hub_combo_note)
        column.addWidget(side, 0, Qt.AlignmentFlag.AlignTop)
        return page

    def _build_folder(self) -> QWidget:
        page = QWidget()
        row = QHBoxLayout(page)
        row.setContentsMargins(0, 0, 0, 0)
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("The folder with the model's config.json and tokenizer")
        self.folder_edit.setAccessibleName("Model folder")
        self.folder_edit.textChanged.connect(self._on_folder_text_changed)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._on_browse_clicked)
        row.addWidget(self.folder_edit, 1)
        row.addWidget(self.browse_button)
        return page

    def _build_hub(self) -> QWidget:
        page = QWidget()
        row = QHBoxLayout(page)
        row.setContentsMargins(0, 0, 0, 0)
        self.hub_edit = QLineEdit()
        self.hub_edit.setPlaceholderText("organisation/name, e.g. Qwen/Qwen2.5-1.5B-Instruct")
        self.hub_edit.setAccessibleName("Hub id")
        self.hub_edit.textChanged.connect(self._on_hub_text_changed)
        row.addWidget(self.hub_edit, 1)
        return page

    def _build_targets(self) -> Card:
        card = Card("Target modules: the layers that get adapters")
        row = QHBoxLayout()
        row.setSpacing(10)
        self.preset_combo = QComboBox()
        self.preset_combo.setAccessibleName("Target-module preset")
        for name in PRESET_NAMES:
            self.preset_combo.addItem(PRESET_LABELS[name], name)
        self.preset_combo.addItem("Custom", "custom")
        self.preset_combo.activated.connect(self._on_preset_activated)
        row.addWidget(self.preset_combo)
        self.targets_recommended = QPushButton()
        self.targets_recommended.setObjectName("recommendedButton")
        self.targets_recommended.setFlat(True)
        self.targets_recommended.clicked.connect(self._on_targets_recommended_clicked)
        row.addWidget(self.targets_recommended)
        row.addStretch(1)
        holder = QWidget()
        holder.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        card.add(holder)
        boxes = QWidget()
        self.boxes_layout = QHBoxLayout(boxes)
        self.boxes_layout.setContentsMargins(0, 0, 0, 0)
        self.boxes_layout.setSpacing(12)
        self.boxes_layout.addStretch(1)
        card.add(boxes)
        self.module_boxes: dict[str, QCheckBox] = {}
        self.targets_why = text_label(name="muted")
        card.add(self.targets_why)
        self.targets_message = text_label()
        card.add(self.targets_message)
        self.targets_card = card
        return card

    # ---- Showing
    def refresh(self) -> None:
        """Show the planner's model choice, its problems, and the target modules."""
        planner = self.planner
        self._building = True
        kind = planner.model_kind
        self.source_buttons[kind].setChecked(True)
        self._show_source(kind)
        if kind == "catalogue":
            self._select_entry(planner.model_value)
        elif kind == "folder" and self.folder_edit.text() != planner.model_value:
            self.folder_edit.setText(planner.model_value)
        elif kind == "hub" and self.hub_edit.text() != planner.model_value:
            self.hub_edit.setText(planner.model_value)
        self._building = False
        error = planner.model_error
        self.error_label.setText(
            f"<span style='color:{readable(ERROR_COLOUR)}'>✖ {escape(error)}</span>"
            if error
            else ""
        )
        self.error_label.setVisible(bool(error))
        self.note_label.setText(escape(planner.model_note))
        self.note_label.setVisible(bool(planner.model_note))
        self.summary_label.setText(self._summary())
        self._show_targets()

    def _summary(self) -> str:
        spec = self.planner.spec
        if spec is None:
            return ""
        context = (
            f", context {spec.max_position_embeddings:,} tokens"
            if spec.max_position_embeddings
            else ""
        )
        text = (
            f"<b>{escape(spec.name)}</b>: {parameters_text(spec.parameters)} parameters, "
            f"{spec.num_layers} layers, hidden size {spec.hidden_size:,}, vocabulary "
            f"{spec.vocab_size:,}{context} ({escape(spec.architecture)})."
        )
        if spec.caveat:
            text += (
                f"<br><span style='color:{readable(WARNING_COLOUR)}'>⚠ {escape(spec.caveat)}</span>"
            )
        return text

    def _select_entry(self, value: str) -> None:
        entry = find_entry(value) if value else None
        row = self.entries.index(entry) if entry in self.entries else -1
        if row >= 0 and self.table.currentRow() != row:
            self.table.selectRow(row)
        self._fill_hub_combo(entry, value)

    def _fill_hub_combo(self, entry: CatalogueEntry | None, value: str) -> None:
        self.hub_combo.clear()
        ids = entry.hub_ids if entry is not None else ()
        for hub_id in ids:
            self.hub_combo.addItem(hub_id, hub_id)
        if value in ids:
            self.hub_combo.setCurrentIndex(ids.index(value))
        self.hub_combo.setEnabled(len(ids) > 1)
        self.hub_combo.setVisible(bool(ids))
        if entry is None:
            note = "Choose a model in the table."
        elif not ids:
            note = "Built on this computer; there is nothing to download."
        else:
            note = "Instruct versions answer in chat form already; base versions do not."
        self.hub_combo_note.setText(note)

    def _show_targets(self) -> None:
        planner = self.planner
        names = planner.linear_names()
        if tuple(self.module_boxes) != names:
            for box in self.module_boxes.values():
                self.boxes_layout.removeWidget(box)
                box.hide()
                box.deleteLater()
            self.module_boxes = {}
            for name in names:
                box = QCheckBox(name)
                box.setObjectName(f"module-{name}")
                box.clicked.connect(self._on_module_clicked)
                self.boxes_layout.insertWidget(len(self.module_boxes), box)
                box.show()
                self.module_boxes[name] = box
        modules = planner.target_modules()
        for name, box in self.module_boxes.items():
            box.setChecked(name in modules)
        preset = next((n for n, m in planner.presets().items() if set(m) == set(modules)), None)
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(preset or "custom"))
        advice = planner.advice("target_modules")
        follows = planner.target_choice is None
        self.targets_recommended.setVisible(advice is not None)
        self.targets_recommended.setEnabled(not follows)
        self.targets_recommended.setText("✓ recommended" if follows else "↺ Recommended")
        self.targets_why.setText(escape(advice.why) if advice is not None else "")
        self.targets_why.setVisible(advice is not None)
        problem = planner.step_problems("model").get("target_modules")
        full = planner.method == "full"
        note = "Full fine-tuning trains every weight; target modules are not used." if full else ""
        self.targets_message.setText(message_html(problem, [note] if note else []))
        self.targets_message.setVisible(bool(problem or note))

    # ---- Slots
    @Slot(bool)
    def _on_source_toggled(self, checked: bool) -> None:
        if not checked or self._building:
            return
        kind = next(k for k, b in self.source_buttons.items() if b.isChecked())
        self._show_source(kind)
        if kind == "catalogue":
            row = self.table.currentRow()
            entry = self.entries[row] if row >= 0 else None
            value = entry_value(entry, self.hub_combo.currentData()) if entry else ""
        elif kind == "folder":
            value = self.folder_edit.text()
        else:
            value = self.hub_edit.text()
        self._choose(value, kind)

    @Slot()
    def _on_table_selection_changed(self) -> None:
        if self._building:
            return
        row = self.table.currentRow()
        if row < 0:
            return
        entry = self.entries[row]
        self._fill_hub_combo(entry, entry_value(entry))
        self._choose(entry_value(entry, self.hub_combo.currentData()), "catalogue")

    @Slot(int)
    def _on_hub_combo_activated(self, _index: int) -> None:
        row = self.table.currentRow()
        if row >= 0:
            entry = self.entries[row]
            self._choose(entry_value(entry, self.hub_combo.currentData()), "catalogue")

    @Slot(str)
    def _on_folder_text_changed(self, text: str) -> None:
        if not self._building:
            self._choose(text, "folder")

    @Slot(str)
    def _on_hub_text_changed(self, text: str) -> None:
        if not self._building:
            self._choose(text, "hub")

    @Slot()
    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Choose the model folder", self.folder_edit.text()
        )
        if folder:
            self.folder_edit.setText(folder)

    @Slot(int)
    def _on_preset_activated(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        if name in PRESET_NAMES:
            self.planner.set_target_choice(name)
            self._changed()

    @Slot()
    def _on_targets_recommended_clicked(self) -> None:
        self.planner.set_target_choice(None)
        self._changed()

    @Slot(bool)
    def _on_module_clicked(self, _checked: bool) -> None:
        chosen = tuple(name for name, box in self.module_boxes.items() if box.isChecked())
        self.planner.set_target_choice(chosen)
        self._changed()

    @Slot(object)
    def _on_probe_finished(self, reachable: object) -> None:
        self.planner.set_offline(not reachable)
        self._changed()

    # ---- Internals
    def _show_source(self, kind: str) -> None:
        for name, page in self.source_pages.items():
            page.setVisible(name == kind)

    def set_planner(self, planner: Planner) -> None:
        """A new project: show its base model (and ask about the hub if it needs it)."""
        super().set_planner(planner)
        self._probe_if_hub()

    def _choose(self, value: str, kind: str) -> None:
        self.planner.choose_model(value, kind)
        self._probe_if_hub()
        self._changed()

    def _probe_if_hub(self) -> None:
        planner = self.planner
        # Only a typed hub id may touch the network; catalogue entries plan offline.
        if planner.model_kind == "hub" and planner.model_value not in ("", TINY_MODEL):
            self._probe_hub()

    def _changed(self) -> None:
        self.refresh()
        self.sig_changed.emit()

    def _probe_hub(self) -> None:
        """Ask once whether the hub is reachable (the offline setting answers at once)."""
        unknown = self.planner.offline is None and not hub_offline_by_setting()
        if unknown and not self.offline_probe.is_running():
            self.offline_probe.start(hub_reachable, "Checking the connection to the hub")

    def shutdown(self) -> None:
        """Stop the connection check (call before the step goes away)."""
        self.offline_probe.shutdown()
