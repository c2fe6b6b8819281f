"""A form built from a config dataclass declared with :func:`ftstudio.core.fields.option`.

Each field becomes the natural editor for its type (check box, spin box, line edit,
combo box), labelled and with its help text as tooltip; bounds come from the field.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ftstudio.core.fields import FieldSpec, field_specs


class DataclassForm(QWidget):
    """Edits an instance of a config dataclass; :meth:`value` returns the edited copy."""

    def __init__(self, instance: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._instance = instance
        self.editors: dict[str, QWidget] = {}
        self._specs = field_specs(type(instance))
        layout = QFormLayout(self)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for spec in self._specs:
            editor = _make_editor(spec, getattr(instance, spec.name))
            editor.setToolTip(spec.help)
            editor.setObjectName(f"field-{spec.name}")
            self.editors[spec.name] = editor
            if isinstance(editor, QCheckBox):
                editor.setText(spec.label)
                layout.addRow("", editor)
            else:
                layout.addRow(f"{spec.label}:", editor)

    def value(self) -> Any:
        """A copy of the instance with the edited values."""
        changes = {spec.name: _read_editor(self.editors[spec.name], spec) for spec in self._specs}
        return dataclasses.replace(self._instance, **changes)


class FolderEdit(QWidget):
    """A folder path: a line edit and a Browse… button."""

    def __init__(self, text: str, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.line_edit = QLineEdit(text)
        self.line_edit.setPlaceholderText(placeholder)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._on_browse_clicked)
        row.addWidget(self.line_edit, 1)
        row.addWidget(self.browse_button)

    def text(self) -> str:
        """The path as typed."""
        return self.line_edit.text()

    def setText(self, text: str) -> None:  # noqa: N802 - mirrors QLineEdit
        """Replace the path."""
        self.line_edit.setText(text)

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder", self.text())
        if folder:
            self.setText(folder)


def _make_editor(spec: FieldSpec, value: Any) -> QWidget:
    if spec.choices is not None:
        combo = QComboBox()
        for choice in spec.choices:
            combo.addItem(str(choice), choice)
        combo.setCurrentIndex(max(0, combo.findData(value)))
        return combo
    if spec.type is bool:
        box = QCheckBox()
        box.setChecked(bool(value))
        return box
    if spec.type is int:
        spin = QSpinBox()
        # A spin box holds 32-bit signed numbers: wider bounds (a seed's 2**32 - 1) are
        # clamped to what it can show.
        low = max(-(2**31), int(_bound(spec.minimum, -(2**31))))
        high = min(2**31 - 1, int(_bound(spec.maximum, 2**31 - 1)))
        spin.setRange(low, high)
        spin.setValue(int(value))
        return spin
    if spec.type is float:
        dspin = QDoubleSpinBox()
        dspin.setDecimals(6 if (spec.maximum or 1e9) <= 1 else 2)
        dspin.setRange(_bound(spec.minimum, -1e12), _bound(spec.maximum, 1e12))
        dspin.setValue(float(value))
        return dspin
    if spec.widget == "folder":
        return FolderEdit(str(value), spec.placeholder)
    if spec.type is str or typing.get_origin(spec.type) is None:
        line = QLineEdit(str(value))
        line.setPlaceholderText(spec.placeholder)
        return line
    raise TypeError(f"No editor for field {spec.name} of type {spec.type!r}")


def _read_editor(editor: QWidget, spec: FieldSpec) -> Any:
    if isinstance(editor, QComboBox):
        return editor.currentData()
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, QSpinBox | QDoubleSpinBox):
        return editor.value()
    if isinstance(editor, QLineEdit | FolderEdit):
        return editor.text().strip()
    raise TypeError(f"Unknown editor for {spec.name}")


def _bound(value: float | None, fallback: float) -> float:
    return fallback if value is None else float(value)
