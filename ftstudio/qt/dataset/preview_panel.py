"""The "What the model learns" preview: the shown example as the base model is trained on it.

The record is rendered through the base model's chat template (the exact training
text) and tokenised with the same loss mask the training engine uses
(:mod:`ftstudio.engine.chat_mask`). Tokens that carry loss are shaded green, the rest
stay plain grey; neighbouring tokens alternate between two shades so their
boundaries show; tokens beyond the max length are struck through in red. The line
above says how many tokens there are, how many are trained and what is cut off.

Loading the tokenizer and tokenising run in :mod:`ftstudio.qt.dataset.preview_worker`'s
thread; only drawing the result happens in the GUI thread. While the user types, the
preview follows after a short pause (:data:`DEBOUNCE_MS`). Changing the max length
only redraws: the tokens do not change.
"""

from __future__ import annotations

import contextlib
import copy
import html
from bisect import bisect_right
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QFontDatabase, QTextOption
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QTextEdit,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core.project import TINY_MODEL
from ftstudio.qt.dataset.preview_worker import PreviewThread
from ftstudio.qt.style import is_dark, readable, readable_background

if TYPE_CHECKING:
    from ftstudio.core.dataset.records import Record
    from ftstudio.qt.dataset.document import DatasetDocument

DEBOUNCE_MS = 300
"""Pause after the last keystroke before the preview is recomputed."""
DEFAULT_MAX_LENGTH = 1024
"""Max length shown until the page sets the training one."""

TRAINED_SHADES = (QColor("#c6ebd0"), QColor("#9fdcae"))
TRAINED_TEXT = QColor("#0f3d1e")
MASKED_SHADES = (QColor(0, 0, 0, 0), QColor(128, 128, 128, 40))
MASKED_TEXT = QColor("#7b8190")
CUT_SHADES = (QColor("#f7cdcd"), QColor("#efb3b3"))
CUT_TEXT = QColor("#8c1d1d")


def _css(color: QColor) -> str:
    return f"rgba({color.red()},{color.green()},{color.blue()},{color.alphaF():.3f})"


TOKEN_CLASSES = {
    # (trained, cut, shade) -> CSS class; short names keep the HTML small
    (True, False, 0): "t0",
    (True, False, 1): "t1",
    (False, False, 0): "m0",
    (False, False, 1): "m1",
    (True, True, 0): "c0",
    (True, True, 1): "c1",
    (False, True, 0): "c0",
    (False, True, 1): "c1",
}


def token_colours(dark: bool = False) -> dict[str, tuple[tuple[QColor, ...], QColor]]:
    """Per kind of token (``t`` trained, ``m`` masked, ``c`` cut off): its two shades
    and its text colour, for the light theme or (``dark``) for the dark one."""
    colours = {
        "t": (TRAINED_SHADES, TRAINED_TEXT),
        "m": (MASKED_SHADES, MASKED_TEXT),
        "c": (CUT_SHADES, CUT_TEXT),
    }
    if not dark:
        return colours
    return {
        key: (
            tuple(
                shade if shade.alpha() < 255 else QColor(readable_background(shade, dark=True))
                for shade in shades
            ),
            QColor(readable(text, dark=True)),
        )
        for key, (shades, text) in colours.items()
    }


def token_style_sheet(dark: bool = False) -> str:
    """The preview document's style sheet: one class per kind of token and shade.

    Classes instead of inline styles make the HTML five times smaller and
    ``setHtml`` about five times faster (5,000 tokens: ~13 ms instead of ~70 ms).
    """
    rules = []
    colours = token_colours(dark)
    for prefix, extra in (("t", ""), ("m", ""), ("c", "text-decoration:line-through;")):
        shades, text = colours[prefix]
        for shade, color in enumerate(shades):
            rules.append(
                f"span.{prefix}{shade}{{background-color:{_css(color)};color:{_css(text)};{extra}}}"
            )
    return "\n".join(rules)


def utf16_length(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (how QTextDocument counts positions)."""
    return len(text.encode("utf-16-le")) // 2


def render_tokens(tokens: list[dict[str, Any]], max_length: int) -> tuple[str, list[int]]:
    """HTML showing ``tokens`` and where each starts in the resulting document.

    The whole preview is one ``setHtml`` call (with :func:`token_style_sheet` as the
    document's default style sheet) instead of one formatted insert per token:
    thousands of tokens draw in milliseconds, with few calls into Qt. Neighbouring
    tokens alternate between two shades, so every boundary shows.

    Returns:
        The HTML, and per token its first character position in the document.
    """
    parts = ['<pre style="white-space:pre-wrap;margin:0">']
    starts: list[int] = []
    position = 0
    shade = 0
    for index, token in enumerate(tokens):
        starts.append(position)
        piece = token["token"].replace("\r\n", "\n").replace("\r", "\n")
        if not piece:
            continue  # part of a character split over several tokens
        css_class = TOKEN_CLASSES[bool(token["trained"]), index >= max_length, shade]
        parts.append(f"<span class={css_class}>{html.escape(piece, quote=False)}</span>")
        position += utf16_length(piece)
        shade ^= 1
    parts.append("</pre>")
    return "".join(parts), starts


PANEL_STYLE = """
QLabel#previewTitle { font-weight: 600; font-size: 11pt; }
QLabel#previewCount { font-weight: 600; }
/* The error colour of previewCount[cut] and previewError is in studio.qss (per theme). */
QLabel#previewNotes { color: palette(placeholder-text); }
QLabel.legend { padding: 1px 6px; border-radius: 3px; }
"""


def count_text(count: int, trained: int, max_length: int, cut: int, cut_trained: int) -> str:
    """``"412 / 1024 tokens, 96 trained"``, plus what is cut off beyond the max length."""
    text = f"{count:,} / {max_length:,} tokens, {trained:,} trained"
    if cut:
        text += f"; {cut:,} cut off"
        if cut_trained:
            text += f" ({cut_trained:,} of them trained)"
        if trained and cut_trained >= trained:
            text += ": the whole answer is cut off, so the model learns nothing from this example"
    return text


class LearnPreview(QWidget):
    """Shows which tokens of the shown example the model is trained on.

    Use :meth:`set_document`, :meth:`set_tokenizer_source` (the project's base model)
    and :meth:`show_record`; call :meth:`shutdown` before the widget goes away (it is
    also done when the widget is destroyed or the application quits).

    Signals:
        sig_max_length_changed(int): the user changed the max length (the page may pass
            it on to validation and training).
        sig_rendered(): a preview (or a message) was drawn; tests wait for it.
    """

    sig_max_length_changed = Signal(int)
    sig_rendered = Signal()
    _sig_load_requested = Signal(int, str, object)
    _sig_preview_requested = Signal(int, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("learnPreview")
        self.setStyleSheet(PANEL_STYLE)
        self.doc: DatasetDocument | None = None
        self.index: int | None = None
        self.preview: dict[str, Any] | None = None
        """The latest tokenisation (``preview_example`` with no max length), if any."""
        self.last_seconds = 0.0
        """How long the latest tokenisation took in the worker."""
        self.tokenizer_location = ""
        self._starts: list[int] = []
        self._source: tuple[str, Path | None] | None = None
        self._thread: PreviewThread | None = None
        self._loaded = False
        self._load = 0
        self._request = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._on_timer_timeout)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        top = QHBoxLayout()
        title = QLabel("What the model learns")
        title.setObjectName("previewTitle")
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(QLabel("Max length:"))
        self.max_length_spin = QSpinBox()
        self.max_length_spin.setObjectName("previewMaxLength")
        self.max_length_spin.setRange(8, 1_048_576)
        self.max_length_spin.setSingleStep(128)
        self.max_length_spin.setSuffix(" tokens")
        self.max_length_spin.setValue(DEFAULT_MAX_LENGTH)
        self.max_length_spin.setToolTip(
            "Training cuts every example after this many tokens; what falls beyond it is "
            "struck through in red and never learnt."
        )
        self.max_length_spin.valueChanged.connect(self._on_max_length_spin_changed)
        top.addWidget(self.max_length_spin)
        layout.addLayout(top)

        self.count_label = QLabel()
        self.count_label.setObjectName("previewCount")
        self.count_label.setWordWrap(True)
        layout.addWidget(self.count_label)
        self.legend = QWidget()
        legend = QHBoxLayout(self.legend)
        legend.setContentsMargins(0, 0, 0, 0)
        legend.setSpacing(6)
        colours = token_colours(is_dark(self.palette()))
        for text, background, foreground, tip in (
            ("trained", colours["t"][0][0], colours["t"][1], "Carries loss: the model learns it."),
            ("not trained", QColor(128, 128, 128, 40), colours["m"][1], "Context only, no loss."),
            ("cut off", colours["c"][0][0], colours["c"][1], "Beyond the max length: dropped."),
        ):
            chip = QLabel(text)
            chip.setProperty("class", "legend")
            chip.setToolTip(tip)
            chip.setStyleSheet(f"background: {background.name(QColor.NameFormat.HexArgb)};"
                               f"color: {foreground.name()};")  # fmt: skip
            legend.addWidget(chip)
        legend.addStretch(1)
        layout.addWidget(self.legend)

        self.message_label = QLabel()
        self.message_label.setObjectName("previewError")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.hide()
        layout.addWidget(self.message_label)
        self.text_edit = QTextEdit()
        self.text_edit.setObjectName("previewText")
        self.text_edit.setReadOnly(True)
        self.text_edit.setUndoRedoEnabled(False)
        self.text_edit.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.text_edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text_edit.document().setDefaultStyleSheet(token_style_sheet(is_dark(self.palette())))
        self.text_edit.viewport().installEventFilter(self)
        layout.addWidget(self.text_edit, 1)
        self.notes_label = QLabel()
        self.notes_label.setObjectName("previewNotes")
        self.notes_label.setWordWrap(True)
        self.notes_label.hide()
        layout.addWidget(self.notes_label)
        self._show_message("Choose a base model to see which tokens it learns.")

    # ---- Public API
    def set_document(self, doc: DatasetDocument | None) -> None:
        """Preview records of ``doc``; shows no record until :meth:`show_record`."""
        if self.doc is not None:
            for signal, slot in self._connections(self.doc):
                with contextlib.suppress(RuntimeError):  # the old document is already gone
                    signal.disconnect(slot)
        self.doc = doc
        if doc is not None:
            for signal, slot in self._connections(doc):
                signal.connect(slot)
        self.show_record(None)

    def _connections(self, doc: DatasetDocument) -> list[tuple[Any, Any]]:
        return [
            (doc.sig_record_changed, self._on_doc_record_changed),
            (doc.sig_reset, self._on_doc_reset),
            (doc.sig_rows_inserted, self._on_doc_rows_inserted),
            (doc.sig_rows_removed, self._on_doc_rows_removed),
        ]

    def set_tokenizer_source(self, base_model: str, project_folder: Path | None) -> None:
        """Use the tokenizer of the project's ``base_model`` (loaded in the worker thread)."""
        source = (base_model, Path(project_folder) if project_folder is not None else None)
        if source == self._source:
            return
        self._source = source
        self._loaded = False
        self.tokenizer_location = ""
        self.preview = None
        if self._thread is None:
            self._start_thread()
        self._load += 1
        if base_model == TINY_MODEL:
            loading = "Loading the tiny model's tokenizer (built on first use, in seconds)…"
        else:
            loading = f"Loading the tokenizer of {base_model}…"
        self._show_message(loading, error=False)
        self._sig_load_requested.emit(self._load, source[0], source[1])

    def show_record(self, index: int | None) -> None:
        """Preview record ``index`` of the document now (``None``: nothing)."""
        if self.doc is None or index is None or not 0 <= index < len(self.doc.dataset.records):
            index = None
        self.index = index
        self._timer.stop()
        self._update()

    def max_length(self) -> int:
        """The max length in tokens the preview marks."""
        return self.max_length_spin.value()

    def set_max_length(self, value: int) -> None:
        """Mark what falls beyond ``value`` tokens (without emitting the change signal)."""
        blocked = self.max_length_spin.blockSignals(True)
        self.max_length_spin.setValue(value)
        self.max_length_spin.blockSignals(blocked)
        self._render()

    def is_ready(self) -> bool:
        """Whether the tokenizer is loaded."""
        return self._loaded

    def shutdown(self) -> None:
        """Stop the worker thread (waits for a tokenizer still loading)."""
        self._timer.stop()
        if self._thread is not None:
            self._thread.stop()
            self._thread = None

    # ---- Qt overrides
    def token_at(self, position: int) -> int | None:
        """Index of the token drawn at document ``position`` (``None``: no token there)."""
        if self.preview is None or not self._starts:
            return None
        index = bisect_right(self._starts, position) - 1
        while index > 0 and not self.preview["tokens"][index]["token"]:
            index -= 1  # an empty piece shares its character with the token before
        return index if 0 <= index < len(self.preview["tokens"]) else None

    # ---- Qt overrides
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """Tool tip over a token: its number, id and whether it is trained."""
        if event.type() == QEvent.Type.ToolTip and watched is self.text_edit.viewport():
            position = self.text_edit.cursorForPosition(event.pos()).position()  # type: ignore[attr-defined]
            index = self.token_at(position)
            if index is not None and self.preview is not None:
                token = self.preview["tokens"][index]
                cut = index >= self.max_length()
                state = "cut off" if cut else ("trained" if token["trained"] else "not trained")
                tip = f"Token {index + 1}: id {token['id']} {token['token']!r}, {state}"
                QToolTip.showText(event.globalPos(), tip, self.text_edit)  # type: ignore[attr-defined]
            else:
                QToolTip.hideText()
            return True
        return super().eventFilter(watched, event)

    # ---- Worker
    def _start_thread(self) -> None:
        self._thread = PreviewThread()
        worker = self._thread.worker
        self._sig_load_requested.connect(worker.load)
        self._sig_preview_requested.connect(worker.preview)
        worker.sig_loaded.connect(self._on_worker_loaded)
        worker.sig_load_failed.connect(self._on_worker_load_failed)
        worker.sig_previewed.connect(self._on_worker_previewed)
        worker.sig_preview_failed.connect(self._on_worker_preview_failed)
        # If the widget goes away without shutdown(), the thread still ends on its own.
        self.destroyed.connect(self._thread.thread.quit)

    @Slot(int, str)
    def _on_worker_loaded(self, load: int, location: str) -> None:
        if load != self._load:
            return
        self._loaded = True
        self.tokenizer_location = location
        self._update()

    @Slot(int, str)
    def _on_worker_load_failed(self, load: int, message: str) -> None:
        if load != self._load:
            return
        self._show_message(f"The tokenizer could not be loaded. {message}")

    @Slot(int, object, float)
    def _on_worker_previewed(self, request: int, preview: dict[str, Any], seconds: float):
        if request != self._request:
            return
        self.preview = preview
        self.last_seconds = seconds
        self._render()

    @Slot(int, str)
    def _on_worker_preview_failed(self, request: int, message: str) -> None:
        if request != self._request:
            return
        self.preview = None
        self._show_message(f"The chat template cannot write this example: {message}")

    # ---- Document
    @Slot(int)
    def _on_doc_record_changed(self, index: int) -> None:
        if index == self.index:
            self._timer.start()  # restarted by every keystroke: runs after a pause

    @Slot()
    def _on_doc_reset(self) -> None:
        self.show_record(None)

    @Slot(int, int)
    def _on_doc_rows_inserted(self, first: int, last: int) -> None:
        if self.index is not None and self.index >= first:
            self.index += last - first + 1

    @Slot(int, int)
    def _on_doc_rows_removed(self, first: int, last: int) -> None:
        if self.index is None or self.index < first:
            return
        if self.index <= last:
            self.show_record(None)
        else:
            self.index -= last - first + 1

    @Slot()
    def _on_timer_timeout(self) -> None:
        self._update()

    def _on_max_length_spin_changed(self, value: int) -> None:
        self._render()
        self.sig_max_length_changed.emit(value)

    # ---- Drawing
    def _update(self) -> None:
        """Ask the worker for the shown record, or say why there is nothing to show."""
        self._request += 1
        if self._thread is not None:
            self._thread.worker.latest_request = self._request
        if self._source is None:
            self._show_message("Choose a base model to see which tokens it learns.", error=False)
            return
        if not self._loaded:
            return  # the loading message (or its error) stays; the record follows on load
        record = self._record()
        if record is None:
            self._show_message("Select an example to see what the model learns from it.", False)
            return
        if not record.is_parsed:
            self._show_message("This line could not be read, so there is nothing to train on "
                               "yet. Fix it in the editor first.")  # fmt: skip
            return
        assert self._thread is not None
        self._sig_preview_requested.emit(self._request, copy.deepcopy(record.data))

    def _render(self) -> None:
        """Draw :attr:`preview` with the current max length."""
        preview = self.preview
        if preview is None:
            return
        max_length = self.max_length()
        tokens = preview["tokens"]
        count, trained = preview["count"], preview["trained_count"]
        cut = max(0, count - max_length)
        cut_trained = sum(1 for token in tokens[max_length:] if token["trained"])
        self.count_label.setText(count_text(count, trained, max_length, cut, cut_trained))
        self.count_label.setProperty("cut", bool(cut))
        self.count_label.style().unpolish(self.count_label)
        self.count_label.style().polish(self.count_label)
        record = self._record()
        notes = list(preview.get("notes", []))
        if preview.get("kind") == "preference":
            notes.insert(
                0,
                "A preference pair: shown with the chosen answer, the one the model is "
                "pushed towards (the rejected answer is scored the same way).",
            )
        if record is not None and record.review == "rejected":
            notes.insert(0, "This example is rejected: it stays in the file but is not trained on.")
        if trained == 0:
            notes.insert(
                0, "No token carries loss: switch on an answer to learn from this example."
            )
        self.notes_label.setText("\n".join(notes))
        self.notes_label.setVisible(bool(notes))
        self.message_label.hide()
        self.count_label.show()
        self.legend.show()

        scroll = self.text_edit.verticalScrollBar().value()
        markup, self._starts = render_tokens(tokens, max_length)
        self.text_edit.setHtml(markup)
        self.text_edit.verticalScrollBar().setValue(scroll)
        self.sig_rendered.emit()

    def _record(self) -> Record | None:
        if self.doc is None or self.index is None:
            return None
        return self.doc.dataset.records[self.index]

    def _show_message(self, message: str, error: bool = True) -> None:
        """Replace the preview with ``message`` (an error in red, or a plain hint)."""
        self._starts = []
        self.text_edit.clear()
        self.count_label.setText("")
        self.count_label.hide()
        self.legend.hide()
        self.notes_label.hide()
        self.message_label.setText(message)
        self.message_label.setObjectName("previewError" if error else "previewNotes")
        self.message_label.style().unpolish(self.message_label)
        self.message_label.style().polish(self.message_label)
        self.message_label.show()
        self.sig_rendered.emit()
