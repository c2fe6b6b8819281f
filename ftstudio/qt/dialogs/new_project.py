"""Project ▸ New: name, folder and base model of a new project."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.project import TINY_MODEL, Project, ProjectError, create_project
from ftstudio.qt.style import error_style


class NewProjectDialog(QDialog):
    """Asks for a name, a parent folder and a base model, then creates the project.

    After ``exec()`` returns ``Accepted``, :attr:`project` holds the new project.
    """

    def __init__(self, projects_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.setMinimumWidth(560)
        self.project: Project | None = None
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. Support answers")
        form.addRow("Name:", self.name_edit)
        location = QWidget()
        row = QHBoxLayout(location)
        row.setContentsMargins(0, 0, 0, 0)
        self.location_edit = QLineEdit(str(projects_dir))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        row.addWidget(self.location_edit)
        row.addWidget(browse)
        form.addRow("Create in:", location)
        self.model_combo = QComboBox()
        self.model_combo.setEditable(True)
        self.model_combo.addItem(TINY_MODEL)
        self.model_combo.setToolTip(
            f"{TINY_MODEL} is a small model built on this computer, for trying the flow "
            "offline. Type a hub id (e.g. Qwen/Qwen2.5-1.5B-Instruct) or a local model folder."
        )
        form.addRow("Base model:", self.model_combo)
        layout.addLayout(form)
        self.preview = QLabel()
        self.preview.setObjectName("muted")
        self.preview.setWordWrap(True)
        layout.addWidget(self.preview)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(error_style())
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        self.buttons.accepted.connect(self._on_create)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.name_edit.textChanged.connect(self._update_preview)
        self.location_edit.textChanged.connect(self._update_preview)
        self._update_preview()

    def target_folder(self) -> Path:
        """The folder the project will be created in."""
        return Path(self.location_edit.text().strip()).expanduser() / self.name_edit.text().strip()

    def _update_preview(self) -> None:
        has_name = bool(self.name_edit.text().strip())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(has_name)
        self.preview.setText(
            f"The project folder will be {self.target_folder()}" if has_name else ""
        )
        self.error.clear()

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Create the project in", self.location_edit.text()
        )
        if folder:
            self.location_edit.setText(folder)

    def _on_create(self) -> None:
        try:
            self.project = create_project(
                self.target_folder(),
                self.name_edit.text(),
                base_model=self.model_combo.currentText().strip() or TINY_MODEL,
            )
        except ProjectError as error:
            self.error.setText(str(error))
            return
        self.accept()
