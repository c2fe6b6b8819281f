"""Project ▸ Settings: the app preferences, as a form built from :class:`AppSettings`."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from ftstudio.core.settings import AppSettings
from ftstudio.qt.widgets.dataclass_form import DataclassForm


class SettingsDialog(QDialog):
    """Edits :class:`AppSettings`; read the result with :meth:`settings` after ``exec()``."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        note = QLabel("Hover over a setting to see what it does.")
        note.setObjectName("muted")
        layout.addWidget(note)
        self.form = DataclassForm(settings)
        layout.addWidget(self.form)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def settings(self) -> AppSettings:
        """The edited settings."""
        value: AppSettings = self.form.value()
        return value
