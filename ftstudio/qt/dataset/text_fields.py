"""Text fields of the example editor: they grow with their text and undo through the document.

Each keystroke in the editor becomes an edit of the dataset document (merged into one
undo step per field), so the fields' own undo history is switched off and Ctrl+Z /
Ctrl+Shift+Z go to the document's :class:`QUndoStack` instead. Otherwise a field would
undo its text locally and the editor would record that as one more edit.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QFontMetricsF, QKeyEvent, QKeySequence, QResizeEvent, QUndoStack
from PySide6.QtWidgets import QFrame, QLineEdit, QPlainTextEdit, QSizePolicy, QWidget

_UNDO = QKeySequence.StandardKey.Undo
_REDO = QKeySequence.StandardKey.Redo


def _route_undo(stack: QUndoStack | None, event: QEvent) -> bool:
    """Handle Ctrl+Z / Ctrl+Shift+Z with ``stack``; return whether the event was used."""
    if stack is None or not isinstance(event, QKeyEvent):
        return False
    if event.matches(_UNDO) or event.matches(_REDO):
        if event.type() == QEvent.Type.KeyPress:
            if event.matches(_UNDO):
                stack.undo()
            else:
                stack.redo()
        event.accept()  # a ShortcutOverride accepted here keeps window shortcuts out
        return True
    return False


class GrowingTextEdit(QPlainTextEdit):
    """A plain-text editor as tall as its text, between ``min_lines`` and ``max_lines``.

    Beyond ``max_lines`` it scrolls. Tab moves to the next field (conversations rarely
    need tab characters, keyboard users need to move on).

    Attributes:
        undo_stack: the document's stack that Ctrl+Z / Ctrl+Shift+Z drive.
    """

    def __init__(
        self, min_lines: int = 2, max_lines: int = 16, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.undo_stack: QUndoStack | None = None
        self._source = ""  # the value last shown or typed (may differ from the text in \r)
        self._min_lines = min_lines
        self._max_lines = max_lines
        self.setUndoRedoEnabled(False)
        self.setTabChangesFocus(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.document().contentsChanged.connect(self.fit_height)
        self.textChanged.connect(self._on_text_changed)
        self.fit_height()

    def set_text_keeping_cursor(self, text: str) -> None:
        """Replace the text without signals; a focused field keeps its cursor (clamped).

        Nothing happens when ``text`` is what the field last showed or what the user
        typed, so syncing after the user's own edit never moves the cursor.
        """
        if text == self._source or text == self.toPlainText():
            self._source = text
            return
        self._source = text
        position = self.textCursor().position()
        bar = self.verticalScrollBar().value()
        blocked = self.blockSignals(True)
        try:
            self.setPlainText(text)
        finally:
            self.blockSignals(blocked)
        if self.hasFocus():  # the user is here (e.g. pressed Ctrl+Z): keep their place
            cursor = self.textCursor()
            cursor.setPosition(min(position, len(text)))
            self.setTextCursor(cursor)
            self.verticalScrollBar().setValue(bar)
        self.fit_height()

    def _on_text_changed(self) -> None:
        self._source = self.toPlainText()

    def visual_lines(self, limit: int) -> int:
        """Wrapped lines of the text at the current width, counting at most ``limit``."""
        document = self.document()
        layout = document.documentLayout()
        lines = 0
        block = document.firstBlock()
        while block.isValid() and lines < limit:
            # QPlainTextEdit lays out lazily; force it for the blocks we count.
            layout.ensureBlockLayout(block)  # type: ignore[attr-defined]
            lines += max(1, block.lineCount())
            block = block.next()
        return lines

    def fit_height(self) -> None:
        """Resize to the text: one line per wrapped line, within the limits."""
        lines = min(max(self.visual_lines(self._max_lines + 1), self._min_lines), self._max_lines)
        line_height = QFontMetricsF(self.font()).lineSpacing()
        margins = self.contentsMargins()
        frame = 2 * self.document().documentMargin() + margins.top() + margins.bottom()
        height = int(lines * line_height + frame + 2)
        if height != self.height() or self.minimumHeight() != height:
            self.setFixedHeight(height)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """Width from the base class, height from the text."""
        return QSize(super().sizeHint().width(), self.height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        """Re-wrap, then refit: a narrower field needs more lines."""
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self.fit_height()

    def event(self, event: QEvent) -> bool:
        """Route undo/redo shortcuts to :attr:`undo_stack` before Qt's text control sees them."""
        if event.type() == QEvent.Type.ShortcutOverride and _route_undo(self.undo_stack, event):
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        """Undo/redo through the document; everything else as usual."""
        if not _route_undo(self.undo_stack, event):
            super().keyPressEvent(event)


class UndoLineEdit(QLineEdit):
    """A line edit whose Ctrl+Z / Ctrl+Shift+Z drive the document's undo stack."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.undo_stack: QUndoStack | None = None

    def set_text_keeping_cursor(self, text: str) -> None:
        """Replace the text without signals; a focused field keeps its cursor (clamped)."""
        if text == self.text():
            return
        position = self.cursorPosition()
        blocked = self.blockSignals(True)
        try:
            self.setText(text)
        finally:
            self.blockSignals(blocked)
        if self.hasFocus():  # the user is here (e.g. pressed Ctrl+Z): keep their place
            self.setCursorPosition(min(position, len(text)))

    def event(self, event: QEvent) -> bool:
        """Route undo/redo shortcuts to :attr:`undo_stack` before QLineEdit's own undo."""
        if event.type() == QEvent.Type.ShortcutOverride and _route_undo(self.undo_stack, event):
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        """Undo/redo through the document; everything else as usual."""
        if not _route_undo(self.undo_stack, event):
            super().keyPressEvent(event)
