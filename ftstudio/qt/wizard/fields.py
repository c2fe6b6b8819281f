"""One configuration field in the wizard: its editor, help, recommendation and problems.

A :class:`FieldRow` is built from the field's :class:`~ftstudio.core.fields.FieldSpec`
(label, help, bounds, choices): numbers are typed as text (``2e-4`` is easier to type
than to spin to), checked as they are typed, and explained inline when out of range;
choices are a combo box; switches a check box. Next to the editor, the recommended
value, with a button to go back to it; under it, the help's first sentence (the whole
help is the tooltip), the recommendation's one-line reason, and the field's problem
(red, blocks Next) or range warnings (amber).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from ftstudio.core.fields import FieldSpec
from ftstudio.qt.style import readable
from ftstudio.qt.widgets.dataclass_form import FolderEdit
from ftstudio.qt.wizard.values import escape, format_value, parse_text

ERROR_COLOUR = "#c62828"
WARNING_COLOUR = "#b26a00"
LABEL_WIDTH = 190
EDITOR_WIDTH = 230
FOLDER_WIDTH = 420


def first_sentence(text: str) -> str:
    """The help text's first sentence (the short line under a number or text editor;
    a choice's whole help is shown, as it explains the choices)."""
    head, found, _ = text.partition(". ")
    return f"{head}." if found and len(head) >= 20 else text


def message_html(problem: str | None, warnings: list[str]) -> str:
    """Rich text for a field's problem (red) or warnings (amber); "" for none."""
    if problem:
        return f"<span style='color:{readable(ERROR_COLOUR)}'>✖ {escape(problem)}</span>"
    return "<br>".join(
        f"<span style='color:{readable(WARNING_COLOUR)}'>⚠ {escape(text)}</span>"
        for text in warnings
    )


class FieldRow(QWidget):
    """Editor, recommendation and messages of one field (see the module docstring).

    Signals:
        sig_text_edited(str field, str text): the user typed in a text editor.
        sig_value_chosen(str field, object value): the user picked a choice or a switch.
        sig_recommended_requested(str field): the user asked for the recommended value.
    """

    sig_text_edited = Signal(str, str)
    sig_value_chosen = Signal(str, object)
    sig_recommended_requested = Signal(str)

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self._updating = False
        self.setObjectName(f"row-{spec.name}")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 4, 0, 4)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(1)
        self.label = QLabel(spec.label)
        self.label.setFixedWidth(LABEL_WIDTH)
        self.label.setToolTip(spec.help)
        grid.addWidget(self.label, 0, 0)
        self.editor = self._make_editor()
        self.editor.setObjectName(f"field-{spec.name}")
        self.editor.setToolTip(spec.help)
        self.editor.setAccessibleName(spec.label)
        self.editor.setFixedWidth(FOLDER_WIDTH if spec.widget == "folder" else EDITOR_WIDTH)
        self.label.setBuddy(self.editor)
        grid.addWidget(self.editor, 0, 1)
        self.recommended_button = QPushButton()
        self.recommended_button.setObjectName("recommendedButton")
        self.recommended_button.setFlat(True)
        self.recommended_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.recommended_button.clicked.connect(self._on_recommended_clicked)
        grid.addWidget(self.recommended_button, 0, 2, Qt.AlignmentFlag.AlignLeft)
        grid.setColumnStretch(2, 1)
        short = spec.help if spec.choices is not None else first_sentence(spec.help)
        self.help_label = self._line(escape(short), "muted")
        self.help_label.setToolTip(spec.help)
        grid.addWidget(self.help_label, 1, 1, 1, 2)
        self.why_label = self._line("", "fieldWhy")
        grid.addWidget(self.why_label, 2, 1, 1, 2)
        self.message_label = self._line("", "fieldMessage")
        grid.addWidget(self.message_label, 3, 1, 1, 2)
        self.recommended: Any = None

    # ---- Public API
    def set_state(
        self,
        value: Any,
        *,
        recommended: Any,
        why: str,
        problem: str | None,
        warnings: list[str],
        note: str = "",
    ) -> None:
        """Show ``value`` (unless the editor already shows it, or holds an invalid text),
        the recommendation and its reason, and the problem or warnings."""
        if problem is None or self._text_is_valid():  # never overwrite what is being fixed
            self._show_value(value)
        self.recommended = recommended
        same = recommended is None or (value == recommended and self._shows(value))
        if recommended is None:
            self.recommended_button.setText("")
        elif same:
            self.recommended_button.setText("✓ recommended")
        else:
            self.recommended_button.setText(f"↺ Recommended: {format_value(recommended)}")
        self.recommended_button.setEnabled(not same)
        self.recommended_button.setVisible(recommended is not None)
        self.recommended_button.setToolTip(
            "" if same else f"Use the recommended value, {format_value(recommended)}"
        )
        reason = " ".join(part for part in (note, why) if part)
        self.why_label.setText(escape(reason))
        self.why_label.setVisible(bool(reason))
        message = message_html(problem, warnings)
        self.message_label.setText(message)
        self.message_label.setVisible(bool(message))

    # ---- Internals
    def _make_editor(self) -> QWidget:
        spec = self.spec
        if spec.choices is not None:
            combo = QComboBox()
            for choice in spec.choices:
                combo.addItem(str(choice), choice)
            combo.activated.connect(self._on_combo_activated)
            return combo
        if spec.type is bool:
            box = QCheckBox("Off")
            box.toggled.connect(lambda on: box.setText("On" if on else "Off"))
            box.clicked.connect(self._on_check_clicked)
            return box
        if spec.widget == "folder":
            folder = FolderEdit("", spec.placeholder)
            folder.line_edit.textChanged.connect(self._on_folder_text_changed)
            return folder
        line = QLineEdit()
        line.setPlaceholderText(spec.placeholder)
        line.textEdited.connect(self._on_text_edited)
        return line

    @staticmethod
    def _line(text: str, name: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName(name)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setWordWrap(True)
        label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        label.setVisible(bool(text))
        return label

    def _text_is_valid(self) -> bool:
        if isinstance(self.editor, QComboBox | QCheckBox):
            return True
        return parse_text(self.spec, self.editor.text())[1] is None

    def _shows(self, value: Any) -> bool:
        """Whether the editor shows ``value`` (not an invalid text typed over it)."""
        if isinstance(self.editor, QComboBox | QCheckBox):
            return True
        shown, problem = parse_text(self.spec, self.editor.text())
        return problem is None and shown == value

    def _show_value(self, value: Any) -> None:
        editor = self.editor
        if isinstance(editor, QComboBox):
            index = editor.findData(value)
            if index >= 0 and index != editor.currentIndex():
                editor.setCurrentIndex(index)
        elif isinstance(editor, QCheckBox):
            if editor.isChecked() != bool(value):
                editor.setChecked(bool(value))
        else:
            shown, problem = parse_text(self.spec, editor.text())
            if problem is not None or shown != value:
                self._updating = True  # a FolderEdit reports every change, ours too
                editor.setText(format_value(value))
                self._updating = False

    @Slot(str)
    def _on_text_edited(self, text: str) -> None:
        self.sig_text_edited.emit(self.spec.name, text)

    @Slot(str)
    def _on_folder_text_changed(self, text: str) -> None:
        if not self._updating:
            self.sig_text_edited.emit(self.spec.name, text)

    @Slot(int)
    def _on_combo_activated(self, index: int) -> None:
        assert isinstance(self.editor, QComboBox)
        self.sig_value_chosen.emit(self.spec.name, self.editor.itemData(index))

    @Slot(bool)
    def _on_check_clicked(self, checked: bool) -> None:
        self.sig_value_chosen.emit(self.spec.name, checked)

    @Slot()
    def _on_recommended_clicked(self) -> None:
        self.sig_recommended_requested.emit(self.spec.name)
