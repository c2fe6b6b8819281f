"""Project ▸ Settings: the app preferences in sections, and the tokens in the OS keyring.

The preferences are a form built from :class:`~ftstudio.core.settings.AppSettings`
(:class:`~ftstudio.qt.widgets.dataclass_form.DataclassForm`), its rows shown in the
sections General, Models & GPU and Privacy; they are saved to ``settings.json`` by the
caller when the dialog is accepted. The Accounts section is different: the Hugging Face
token and the OpenAI API key go straight to the OS keyring
(:mod:`ftstudio.core.secrets`) when Save is pressed, never through ``settings.json``,
and the field they were typed in is emptied at once.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.secrets import SECRET_LABELS, SECRET_NAMES
from ftstudio.core.settings import AppSettings, default_model_cache_dir
from ftstudio.qt.widgets.card import Card
from ftstudio.qt.widgets.dataclass_form import DataclassForm, FolderEdit

GENERAL, MODELS, ACCOUNTS, PRIVACY = "General", "Models & GPU", "Accounts", "Privacy"
SECTIONS = (GENERAL, MODELS, ACCOUNTS, PRIVACY)
"""The dialog's sections, in order."""
FIELD_SECTIONS = {
    "gpu_memory_gb": MODELS,
    "model_cache_dir": MODELS,
    "offline": PRIVACY,
    "trust_remote_code": PRIVACY,
}
"""The section of each preference; the others are in General."""
REMOTE_CODE_TEXTS = {"ask": "Ask each time", "never": "Never run it"}
"""The words shown for each ``trust_remote_code`` choice."""
SECTION_NOTES = {
    GENERAL: "Hover over a setting to see what it does.",
    MODELS: "How much GPU memory to plan for, and where downloaded models are kept.",
    PRIVACY: "What ftstudio may send over the network, and what it may run.",
}
FIELD_HINTS = {
    "gpu_memory_gb": (
        "What the training-plan wizard checks a plan's memory against. Set it to plan for "
        "the GPU of another machine."
    ),
    "model_cache_dir": (
        "Where models downloaded from the Hugging Face hub are kept. Applies to the next "
        "download; models already downloaded stay where they are."
    ),
    "offline": (
        "No model is downloaded (model folders and the model cache still work) and no "
        "dataset is uploaded to OpenAI."
    ),
    "trust_remote_code": (
        "Some models ship their own Python code, which runs with your permissions. ftstudio "
        "never runs it silently: it asks each time such a model is loaded, or refuses these "
        "models."
    ),
}
"""A line under a preference, for those whose tooltip is not enough."""
SECRET_NOTES = {
    "huggingface": (
        "For gated and private models on the Hugging Face hub (public models need none). "
        "Create a read token at <a href='https://huggingface.co/settings/tokens'>"
        "huggingface.co/settings/tokens</a>."
    ),
    "openai": (
        "For Train ▸ Train with OpenAI…, fine-tuning on OpenAI's servers without a GPU. "
        "Create a key at <a href='https://platform.openai.com/api-keys'>"
        "platform.openai.com/api-keys</a>."
    ),
}


class SettingsDialog(QDialog):
    """Edits :class:`AppSettings`; read the result with :meth:`settings` after ``exec()``.

    Args:
        settings: the preferences to edit.
        section: the section to show first (one of :data:`SECTIONS`).

    Attributes:
        form: the preferences form (its ``editors`` by field name).
        tabs: the sections.
        accounts: the Accounts section (tokens in the OS keyring).
    """

    def __init__(
        self, settings: AppSettings, parent: QWidget | None = None, *, section: str = GENERAL
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(640)
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("settingsSections")
        layout.addWidget(self.tabs)
        self.form = DataclassForm(settings, self)
        self.form.hide()  # its rows are shown in the sections; it keeps reading them
        self._section_layouts: dict[str, QFormLayout] = {}
        for name in SECTIONS:
            if name == ACCOUNTS:
                self.accounts = AccountsPanel()
                self.tabs.addTab(self.accounts, name.replace("&", "&&"))
                continue
            page = QWidget()
            page_layout = QVBoxLayout(page)
            page_layout.setContentsMargins(12, 12, 12, 12)
            page_layout.setSpacing(10)
            if name in SECTION_NOTES:
                note = QLabel(SECTION_NOTES[name])
                note.setObjectName("muted")
                note.setWordWrap(True)
                page_layout.addWidget(note)
            rows = QFormLayout()
            rows.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
            page_layout.addLayout(rows)
            page_layout.addStretch(1)
            self._section_layouts[name] = rows
            self.tabs.addTab(page, name.replace("&", "&&"))
        self._move_rows()
        self._polish_editors()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.show_section(section)

    # ---- Public API
    def settings(self) -> AppSettings:
        """The edited settings."""
        value: AppSettings = self.form.value()
        return value

    def show_section(self, name: str) -> None:
        """Show the section called ``name`` (one of :data:`SECTIONS`)."""
        self.tabs.setCurrentIndex(SECTIONS.index(name))

    def section_of(self, field: str) -> str:
        """The section a preference is shown in."""
        return FIELD_SECTIONS.get(field, GENERAL)

    # ---- Internals
    def _move_rows(self) -> None:
        """Show each row of the form in its section (the editors stay the form's)."""
        source = self.form.layout()
        assert isinstance(source, QFormLayout)
        names = {editor: name for name, editor in self.form.editors.items()}
        while source.rowCount():
            row = source.takeRow(0)
            field = row.fieldItem.widget() if row.fieldItem is not None else None
            label = row.labelItem.widget() if row.labelItem is not None else None
            if field is None:
                continue
            name = names.get(field, "")
            target = self._section_layouts[self.section_of(name)]
            if label is not None:
                target.addRow(label, field)
            else:
                target.addRow(field)
            if name in FIELD_HINTS:
                hint = QLabel(FIELD_HINTS[name])
                hint.setObjectName("muted")
                hint.setWordWrap(True)
                hint.setContentsMargins(0, 0, 0, 6)
                target.addRow(hint)

    def _polish_editors(self) -> None:
        gpu = self.form.editors.get("gpu_memory_gb")
        if isinstance(gpu, QDoubleSpinBox):
            gpu.setDecimals(1)
            gpu.setSingleStep(1.0)
            gpu.setSuffix(" GB")
            gpu.setSpecialValueText("The detected GPU (24 GB if none)")
        trust = self.form.editors.get("trust_remote_code")
        if isinstance(trust, QComboBox):
            for index in range(trust.count()):
                text = REMOTE_CODE_TEXTS.get(str(trust.itemData(index)))
                if text:
                    trust.setItemText(index, text)
        cache = self.form.editors.get("model_cache_dir")
        if isinstance(cache, FolderEdit):
            cache.line_edit.setPlaceholderText(
                f"Hugging Face's shared cache: {default_model_cache_dir()}"
            )
        offline = self.form.editors.get("offline")
        if isinstance(offline, QCheckBox):
            offline.setText("Offline mode: no network at all")


class SecretRow(Card):
    """One secret: its state in the keyring, a password field, Save and Remove.

    The field is never filled with the stored value; it is emptied after every Save.

    Signals:
        sig_save_requested(str, str): save this secret (name, value).
        sig_remove_requested(str): remove this secret (name).
    """

    sig_save_requested = Signal(str, str)
    sig_remove_requested = Signal(str)

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(SECRET_LABELS[name], parent=parent)
        self.name = name
        self.setObjectName("card")
        self.text_label.setText(SECRET_NOTES.get(name, ""))
        self.text_label.setVisible(True)
        self.text_label.setOpenExternalLinks(True)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.status_label = QLabel("Not checked yet.")
        self.status_label.setObjectName(f"secretStatus-{name}")
        self.status_label.setWordWrap(True)
        self.add(self.status_label)
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit()
        self.edit.setObjectName(f"secretEdit-{name}")
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setClearButtonEnabled(True)
        self.edit.setAccessibleName(f"New {SECRET_LABELS[name]}")
        self.edit.textChanged.connect(self._update_buttons)
        self.edit.returnPressed.connect(self._on_save_clicked)
        self.save_button = QPushButton("Save")
        self.save_button.setToolTip(f"Store this {SECRET_LABELS[name]} in the OS keyring now")
        self.save_button.clicked.connect(self._on_save_clicked)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip(f"Delete the stored {SECRET_LABELS[name]} from the keyring")
        self.remove_button.clicked.connect(lambda: self.sig_remove_requested.emit(self.name))
        line.addWidget(self.edit, 1)
        line.addWidget(self.save_button)
        line.addWidget(self.remove_button)
        self.add(row)
        self.stored = False
        self.usable = False
        self._update_buttons()

    def set_state(self, *, stored: bool, where: str = "", error: str = "") -> None:
        """Show the secret's state: stored (in keyring ``where``), not set, or ``error``."""
        self.stored, self.usable = stored, not error
        if error:
            self._set_status(error, "error")
        elif stored:
            self._set_status(f"Stored in {where}.", "success")
        else:
            self._set_status("Not set.", "")
        self.edit.setPlaceholderText(
            "" if error else ("Paste a new value to replace it" if stored else "Paste it here")
        )
        self._update_buttons()

    def show_problem(self, text: str) -> None:
        """Show why the last Save or Remove did not work (the state is unchanged)."""
        self._set_status(text, "error")

    def _set_status(self, text: str, tone: str) -> None:
        self.status_label.setText(text)
        self.status_label.setProperty("tone", tone)
        self.status_label.style().unpolish(self.status_label)
        self.status_label.style().polish(self.status_label)

    @Slot()
    def _on_save_clicked(self) -> None:
        value = self.edit.text()
        self.edit.clear()  # the value stays in no widget, whatever happens next
        if value.strip():
            self.sig_save_requested.emit(self.name, value)

    @Slot()
    def _update_buttons(self) -> None:
        self.edit.setEnabled(self.usable)
        self.save_button.setEnabled(self.usable and bool(self.edit.text().strip()))
        self.remove_button.setEnabled(self.usable and self.stored)


class AccountsPanel(QWidget):
    """The Accounts section: each secret's state, and Save/Remove in the OS keyring.

    The keyring is first read when the panel is shown (or :meth:`refresh` is called),
    not when the dialog opens: a locked keyring may ask to be unlocked.

    Signals:
        sig_changed(): a secret was saved or removed.

    Attributes:
        rows: one :class:`SecretRow` per secret name.
        where: the keyring in use, in words (``""`` when none can be used).
    """

    sig_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(10)
        self.note = QLabel(
            "Tokens are kept in your operating system's keyring and nowhere else: never in "
            "ftstudio's files, settings or logs. Save and Remove take effect at once (OK and "
            "Cancel do not change them)."
        )
        self.note.setObjectName("muted")
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.rows = {name: SecretRow(name) for name in SECRET_NAMES}
        for row in self.rows.values():
            row.sig_save_requested.connect(self.save)
            row.sig_remove_requested.connect(self.remove)
            layout.addWidget(row)
        layout.addStretch(1)
        self.where = ""
        self.loaded = False

    def refresh(self) -> None:
        """Read which secrets are stored (never their values) and show it."""
        from ftstudio.core.secrets import SecretStoreError, keyring_description, secret_status

        self.loaded = True
        try:
            self.where = keyring_description()
            status = secret_status()
        except SecretStoreError as error:
            self.where = ""
            for row in self.rows.values():
                row.set_state(stored=False, error=str(error))
            return
        for name, row in self.rows.items():
            row.set_state(stored=status[name], where=self.where)

    @Slot(str, str)
    def save(self, name: str, value: str) -> bool:
        """Store ``value`` as secret ``name``; ``False`` (with the reason shown) if not."""
        from ftstudio.core.secrets import SecretStoreError, set_secret

        try:
            set_secret(name, value)
        except (SecretStoreError, ValueError) as error:
            self.rows[name].show_problem(str(error))
            return False
        self.refresh()
        self.sig_changed.emit()
        return True

    @Slot(str)
    def remove(self, name: str) -> bool:
        """Delete secret ``name`` from the keyring; ``False`` (reason shown) if it failed."""
        from ftstudio.core.secrets import SecretStoreError, delete_secret

        try:
            delete_secret(name)
        except SecretStoreError as error:
            self.rows[name].show_problem(str(error))
            return False
        self.refresh()
        self.sig_changed.emit()
        return True

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """Read the keyring the first time the section is shown."""
        super().showEvent(event)
        if not self.loaded:
            self.refresh()


class AccountsDialog(QDialog):
    """Settings ▸ Accounts on its own (opened where a missing token is noticed).

    Attributes:
        accounts: the :class:`AccountsPanel`.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings ▸ Accounts")
        self.setMinimumWidth(600)
        layout = QVBoxLayout(self)
        self.accounts = AccountsPanel()
        layout.addWidget(self.accounts)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
