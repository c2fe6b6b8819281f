"""Setters that touch a widget only when the value changes.

The editor re-shows the record after every keystroke; with these, a sync where
nothing changed costs a few getter calls and no repaint, relayout or restyle.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractButton, QComboBox, QLabel, QWidget


def set_text(label: QLabel, text: str) -> None:
    """``label.setText(text)`` unless it already shows ``text``."""
    if label.text() != text:
        label.setText(text)


def set_visible(widget: QWidget, visible: bool) -> None:
    """Show or hide ``widget`` unless it already is."""
    if widget.isHidden() == visible:
        widget.setVisible(visible)


def set_enabled(item: QWidget | QAction, enabled: bool) -> None:
    """Enable or disable ``item`` unless it already is."""
    if isinstance(item, QAction):
        if item.isEnabled() != enabled:
            item.setEnabled(enabled)
    elif item.testAttribute(Qt.WidgetAttribute.WA_Disabled) == enabled:
        item.setEnabled(enabled)


def set_checked(button: QAbstractButton, checked: bool) -> None:
    """Check or uncheck ``button`` (signals blocked) unless it already is."""
    if button.isChecked() != checked:
        blocked = button.blockSignals(True)
        button.setChecked(checked)
        button.blockSignals(blocked)


def set_current_index(combo: QComboBox, index: int) -> None:
    """Select ``index`` in ``combo`` (signals blocked) unless it is selected."""
    if combo.currentIndex() != index:
        blocked = combo.blockSignals(True)
        combo.setCurrentIndex(index)
        combo.blockSignals(blocked)


def set_style_property(widget: QWidget, name: str, value: Any) -> None:
    """Set a property the style sheet selects on, and restyle, unless it has ``value``."""
    if widget.property(name) != value:
        widget.setProperty(name, value)
        widget.style().unpolish(widget)
        widget.style().polish(widget)
