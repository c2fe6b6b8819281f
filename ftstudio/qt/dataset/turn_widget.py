"""One turn of a conversation as a card: role, content, the "train on this answer" toggle.

The card only shows a message and reports what the user did (signals carrying the turn
number); :class:`ftstudio.qt.dataset.turn_list.TurnList` turns that into a new list of
messages and the editor writes it to the document, so every change is undoable.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QIcon,
    QImage,
    QKeySequence,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.dataset.records import ROLES
from ftstudio.qt.dataset.text_fields import GrowingTextEdit
from ftstudio.qt.dataset.widget_sync import (
    set_checked,
    set_current_index,
    set_enabled,
    set_style_property,
    set_text,
    set_visible,
)

ROLE_LABELS = {"system": "System", "user": "User", "assistant": "Assistant"}

TURN_ACTIONS: tuple[tuple[str, str, str, str], ...] = (
    # (action, text, tooltip, shortcut)
    ("up", "Move up", "Move this turn up", "Alt+Up"),
    ("down", "Move down", "Move this turn down", "Alt+Down"),
    ("duplicate", "Duplicate", "Insert a copy of this turn below it", "Ctrl+Shift+D"),
    ("add", "Add below", "Insert a new turn below this one", "Ctrl+Return"),
    ("remove", "Remove", "Remove this turn", "Ctrl+Shift+Backspace"),
)
"""The per-turn commands, with the keys that trigger them while the turn has focus."""

ICON_SIZE = 16


def action_icon(name: str, color: QColor) -> QIcon:
    """A small line icon for a turn command, drawn here (no font or theme needed)."""
    scale = 3  # drawn large, scaled down smoothly on any screen
    size = ICON_SIZE * scale
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(color, 1.4, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)  # in icon pixels
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.scale(scale, scale)
    if name in ("up", "down"):
        tip, tail, wing = (3.5, 12.5, 7.5) if name == "up" else (12.5, 3.5, 8.5)
        painter.drawLine(QPointF(8, tip), QPointF(8, tail))
        painter.drawLine(QPointF(8, tip), QPointF(4, wing))
        painter.drawLine(QPointF(8, tip), QPointF(12, wing))
    elif name == "duplicate":
        painter.drawRoundedRect(QRectF(2.5, 5.5, 8, 8), 1.5, 1.5)
        painter.drawPolyline([QPointF(5.5, 2.5), QPointF(13.5, 2.5), QPointF(13.5, 10.5)])
    elif name == "add":
        painter.drawLine(QPointF(8, 3), QPointF(8, 13))
        painter.drawLine(QPointF(3, 8), QPointF(13, 8))
    elif name == "remove":
        painter.drawLine(QPointF(4, 4), QPointF(12, 12))
        painter.drawLine(QPointF(12, 4), QPointF(4, 12))
    painter.end()
    return QIcon(QPixmap.fromImage(image))


def _not_text_warning(content: Any) -> str:
    kind = {list: "a list", dict: "an object", int: "a number", float: "a number"}.get(
        type(content), type(content).__name__
    )
    if isinstance(content, bool):
        kind = "true/false"
    return f"This content is {kind}, not text. Typing here replaces it with text."


class TurnCard(QFrame):
    """A card editing one message of a list.

    Signals:
        sig_role_changed(int turn, str role): the user picked a role.
        sig_content_edited(int turn, str text): the user changed the content.
        sig_train_toggled(int turn, bool on): the user switched "Train on this answer".
        sig_action_requested(int turn, str action): ``add``, ``remove``, ``up``, ``down``
            or ``duplicate`` was clicked or its shortcut pressed.
        sig_focused(int turn): a field of the card got the keyboard focus.
    """

    sig_role_changed = Signal(int, str)
    sig_content_edited = Signal(int, str)
    sig_train_toggled = Signal(int, bool)
    sig_action_requested = Signal(int, str)
    sig_focused = Signal(int)

    def __init__(self, noun: str = "Turn", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("turnCard")
        self.setProperty("selected", False)
        self.turn = 0
        self.noun = noun
        self._message: Any = None
        self._content: Any = object()  # last content shown; a sentinel forces the first sync

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(6)
        header = QHBoxLayout()
        header.setSpacing(6)
        self.title_label = QLabel()
        self.title_label.setObjectName("turnTitle")
        header.addWidget(self.title_label)
        self.role_combo = QComboBox()
        self.role_combo.setObjectName("turnRole")
        for role in ROLES:
            self.role_combo.addItem(ROLE_LABELS[role], role)
        self.role_combo.setToolTip("Who speaks in this turn")
        self.role_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.role_combo.currentIndexChanged.connect(self._on_role_combo_changed)
        header.addWidget(self.role_combo)
        self.train_check = QCheckBox("Train")
        self.train_check.setObjectName("turnTrain")
        self.train_check.setToolTip(
            "Train on this answer. When on, the model learns to write this answer (it "
            "carries loss). Switch it off for answers that only set the scene: they stay "
            'in the text but are not learned (saved as "weight": 0).'
        )
        self.train_check.toggled.connect(self._on_train_check_toggled)
        header.addWidget(self.train_check)
        header.addStretch(1)
        self.buttons: dict[str, QToolButton] = {}
        self.actions_by_name: dict[str, QAction] = {}
        color = self.palette().color(QPalette.ColorRole.ButtonText)
        for name, text, tip, keys in TURN_ACTIONS:
            action = QAction(action_icon(name, color), text, self)
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.setWhatsThis(tip)  # the keyboard-shortcut cheat sheet lists it so
            action.setToolTip(f"{tip} ({QKeySequence(keys).toString(QKeySequence.NativeText)})")
            action.triggered.connect(lambda _checked=False, n=name: self._request(n))
            self.addAction(action)
            button = QToolButton()
            button.setDefaultAction(action)
            button.setAutoRaise(True)
            button.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
            button.setObjectName(f"turn-{name}")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            header.addWidget(button)
            self.buttons[name] = button
            self.actions_by_name[name] = action
        layout.addLayout(header)

        self.content_edit = GrowingTextEdit(min_lines=2, max_lines=16)
        self.content_edit.setObjectName("turnContent")
        self.content_edit.setPlaceholderText("Empty: type the message")
        self.content_edit.textChanged.connect(self._on_content_text_changed)
        layout.addWidget(self.content_edit)
        self.warning_label = QLabel()
        self.warning_label.setObjectName("turnWarning")
        self.warning_label.setWordWrap(True)
        self.warning_label.hide()
        layout.addWidget(self.warning_label)
        self.issue_label = QLabel()
        self.issue_label.setObjectName("turnIssues")
        self.issue_label.setWordWrap(True)
        self.issue_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.issue_label.hide()
        layout.addWidget(self.issue_label)
        for widget in (self.role_combo, self.train_check, self.content_edit):
            widget.installEventFilter(self)

    # ---- Public API
    def set_message(self, message: Any, turn: int, count: int, allow_train: bool) -> None:
        """Show ``message`` as turn ``turn`` of ``count`` without emitting any signal.

        Fields whose value did not change are left alone, so the cursor and the
        selection in the content stay where the user left them.
        """
        self.turn = turn
        self._message = message
        set_text(self.title_label, f"{self.noun} {turn + 1}")
        is_object = isinstance(message, dict)
        role = message.get("role") if is_object else None
        self._show_role(role)
        set_enabled(self.role_combo, is_object)
        set_visible(self.train_check, allow_train and role == "assistant")
        set_checked(self.train_check, not is_object or message.get("weight", 1) != 0)
        set_enabled(self.actions_by_name["up"], turn > 0)
        set_enabled(self.actions_by_name["down"], turn < count - 1)
        set_enabled(self.actions_by_name["duplicate"], is_object)
        content = message.get("content") if is_object else message
        if content != self._content or type(content) is not type(self._content):
            self._content = content
            self.content_edit.set_text_keeping_cursor(
                content if isinstance(content, str) else _json_text(content)
            )
        if self.content_edit.isReadOnly() == is_object:
            self.content_edit.setReadOnly(not is_object)
        if not is_object:
            warning = "This turn is not an object with a role and content; remove it or fix it."
        elif content is None or isinstance(content, str):
            warning = ""
        else:
            warning = _not_text_warning(content)
        set_text(self.warning_label, warning)
        set_visible(self.warning_label, bool(warning))
        set_style_property(self, "role", role if role in ROLES else "other")

    def set_issues(self, messages: list[str]) -> None:
        """Show the validation problems of this turn (none hides the line)."""
        set_text(self.issue_label, "\n".join(f"⚠ {message}" for message in messages))
        set_visible(self.issue_label, bool(messages))

    def set_selected(self, selected: bool) -> None:
        """Mark the card as the turn the user was sent to (e.g. from an issue)."""
        set_style_property(self, "selected", selected)

    def is_selected(self) -> bool:
        """Whether the card is marked as the selected turn."""
        return bool(self.property("selected"))

    def mark_content_sent(self, text: str) -> None:
        """Remember ``text`` as shown (it came from this card), so a sync leaves it alone."""
        self._content = text

    # ---- Qt overrides
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """Report focus on any field of the card (the editor marks the turn selected)."""
        if event.type() == QEvent.Type.FocusIn:
            self.sig_focused.emit(self.turn)
        return False

    # ---- Private
    def _show_role(self, role: Any) -> None:
        index = self.role_combo.findData(role) if role in ROLES else -1
        if index >= 0 and self.role_combo.count() == len(ROLES):
            set_current_index(self.role_combo, index)
            return
        blocked = self.role_combo.blockSignals(True)
        try:
            while self.role_combo.count() > len(ROLES):
                self.role_combo.removeItem(self.role_combo.count() - 1)
            if index < 0:
                text = f"{role} (unsupported)" if isinstance(role, str) else "(no role)"
                self.role_combo.addItem(text, role if isinstance(role, str) else None)
                index = self.role_combo.count() - 1
                self.role_combo.setItemData(
                    index,
                    "This role is not system, user or assistant; pick one of those.",
                    Qt.ItemDataRole.ToolTipRole,
                )
            self.role_combo.setCurrentIndex(index)
        finally:
            self.role_combo.blockSignals(blocked)

    def _request(self, action: str) -> None:
        self.sig_action_requested.emit(self.turn, action)

    def _on_role_combo_changed(self, _index: int) -> None:
        role = self.role_combo.currentData()
        if isinstance(role, str):
            self.sig_role_changed.emit(self.turn, role)

    def _on_train_check_toggled(self, checked: bool) -> None:
        self.sig_train_toggled.emit(self.turn, checked)

    def _on_content_text_changed(self) -> None:
        if self.content_edit.isReadOnly():
            return
        text = self.content_edit.toPlainText()
        self._content = text
        self.sig_content_edited.emit(self.turn, text)


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)
