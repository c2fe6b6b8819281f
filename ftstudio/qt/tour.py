"""The first-run tour: a few callouts over the window, from deciding to shipping.

Each step shows a page, rings its navigation entry and the part of the page that
matters, and explains it in a callout bubble with Back, Next and Skip. The tour never
blocks: the dimmed layer lets every click through, and the window works as usual while
it is shown. In the bubble, Esc ends the tour and the arrow keys move between steps.

The window starts it once, the first time the sample project opens (see
``MainWindow.offer_first_run_tour``); Help ▸ Take the Tour shows it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ftstudio.qt.style import tone

if TYPE_CHECKING:
    from ftstudio.qt.main_window import MainWindow

RING_MARGIN = 6
"""Space between a highlighted widget and its ring, in pixels."""
BUBBLE_WIDTH = 360
BUBBLE_GAP = 18
"""Space between the ring and the bubble."""


@dataclass(frozen=True)
class TourStep:
    """One step: which page to show, what to ring and what to say.

    Attributes:
        page: the page key to show (``""``: stay on the page shown).
        title: the bubble's heading.
        text: the explanation (rich text allowed).
        targets: attribute names of the page's widgets to ring (those visible are);
            ``help_menu`` rings the Help menu in the menu bar; none visible rings the
            whole page.
    """

    page: str
    title: str
    text: str
    targets: tuple[str, ...] = ()


TOUR_STEPS: tuple[TourStep, ...] = (
    TourStep(
        "guide",
        "Decide first",
        "A few questions tell whether fine-tuning suits your problem, or whether a "
        "better prompt or a document search would do. The verdict is kept with the "
        "project.",
        ("question_card", "outcome_card"),
    ),
    TourStep(
        "dataset",
        "Curate the examples",
        "Your training conversations live here. Every problem is shown at its line; "
        "fix answers in the editor, filter and tag them, and see which tokens the "
        "model will learn from.",
        ("table",),
    ),
    TourStep(
        "train",
        "Plan, then train",
        "<b>Plan a training run…</b> opens the wizard: it picks a method, a model that "
        "fits your GPU and sensible settings, each with its reason. Then <b>Start "
        "training</b> and watch the curves live; Stop keeps a checkpoint.",
        ("plan_button", "start_button"),
    ),
    TourStep(
        "evaluate",
        "Compare with the base model",
        "Chat with the tuned model and its base side by side, score both on held-out "
        "examples, rate the answers, and find the examples the model found hardest.",
        ("picker", "stack"),
    ),
    TourStep(
        "runs",
        "Keep track of every run",
        "Each run stays here with its settings and curves. Select two to compare their "
        "configurations, or re-run the best one with a change.",
        ("table", "empty_label"),
    ),
    TourStep(
        "export",
        "Ship it",
        "Export an adapter, a merged model, a GGUF file or an Ollama model. A parity "
        "check proves the export answers like the model you evaluated.",
        ("form_card",),
    ),
    TourStep(
        "",
        "Help is one key away",
        "<b>F1</b> opens advice for the page you are on, <b>Ctrl+/</b> lists every "
        "keyboard shortcut, and <b>Help ▸ Take the Tour</b> shows this tour again.",
        ("help_menu",),
    ),
)
"""The tour, in order."""


class TourOverlay(QWidget):
    """Dims the window except the rings; every mouse event passes through it."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("tourOverlay")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.rings: list[QRect] = []

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        """The dim layer with a hole and a ring around each highlighted area."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        dim = QPainterPath()
        dim.addRect(QRectF(self.rect()))
        holes = QPainterPath()
        for ring in self.rings:
            holes.addRoundedRect(QRectF(ring), 8, 8)
        painter.fillPath(dim.subtracted(holes), _rgba(tone("tour_dim", self.palette())))
        painter.setPen(QPen(QColor(tone("accent", self.palette())), 3))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for ring in self.rings:
            painter.drawRoundedRect(QRectF(ring), 8, 8)
        painter.end()


class TourBubble(QFrame):
    """The callout: step count, title, text and the Back / Next / Skip buttons.

    Keys (while the bubble has the focus): Esc ends the tour, Right or Enter goes on,
    Left goes back.
    """

    sig_next = Signal()
    sig_back = Signal()
    sig_skip = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("tourBubble")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAutoFillBackground(False)
        self.setFixedWidth(BUBBLE_WIDTH)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 14)
        layout.setSpacing(8)
        self.step_label = QLabel()
        self.step_label.setObjectName("tourStep")
        layout.addWidget(self.step_label)
        self.title_label = QLabel()
        self.title_label.setObjectName("tourTitle")
        self.title_label.setWordWrap(True)
        layout.addWidget(self.title_label)
        self.text_label = QLabel()
        self.text_label.setObjectName("tourText")
        self.text_label.setWordWrap(True)
        self.text_label.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.text_label)
        row = QHBoxLayout()
        row.setContentsMargins(0, 6, 0, 0)
        self.skip_button = QPushButton("Skip tour")
        self.skip_button.setObjectName("tourSkip")
        self.skip_button.setToolTip("End the tour (Esc); Help ▸ Take the Tour shows it again")
        self.skip_button.setFlat(True)
        self.back_button = QPushButton("Back")
        self.back_button.setObjectName("tourBack")
        self.back_button.setToolTip("The previous step (Left arrow)")
        self.next_button = QPushButton("Next")
        self.next_button.setObjectName("tourNext")
        self.next_button.setToolTip("The next step (Right arrow)")
        self.next_button.setDefault(True)
        row.addWidget(self.skip_button)
        row.addStretch(1)
        row.addWidget(self.back_button)
        row.addWidget(self.next_button)
        layout.addLayout(row)
        self.skip_button.clicked.connect(self.sig_skip)
        self.back_button.clicked.connect(self.sig_back)
        self.next_button.clicked.connect(self.sig_next)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        """Esc: skip; Right, Enter: next; Left: back."""
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.sig_skip.emit()
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.sig_next.emit()
        elif key == Qt.Key.Key_Left:
            if self.back_button.isEnabled():
                self.sig_back.emit()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        """A rounded card in the palette's colours with an accent border."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(tone("accent", self.palette())), 2))
        painter.setBrush(self.palette().base())
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(1, 1, -1, -1), 10, 10)
        painter.end()
        super().paintEvent(event)


class Tour(QObject):
    """The tour over ``window``: start it with :meth:`start`.

    Signals:
        sig_finished(bool): the tour ended; ``True`` when the last step was reached and
            closed with Done, ``False`` when skipped.

    Attributes:
        steps: the steps shown.
        index: the step on screen (``-1`` before the start and after the end).
        overlay: the dim layer with the rings.
        bubble: the callout.
    """

    sig_finished = Signal(bool)

    def __init__(self, window: MainWindow, steps: Sequence[TourStep] = TOUR_STEPS) -> None:
        super().__init__(window)
        self.window = window
        self.steps = tuple(steps)
        self.index = -1
        self.overlay = TourOverlay(window)
        self.overlay.hide()
        self.bubble = TourBubble(window)
        self.bubble.hide()
        self.bubble.sig_next.connect(self.next)
        self.bubble.sig_back.connect(self.back)
        self.bubble.sig_skip.connect(self.skip)
        window.installEventFilter(self)

    # ---- Public API
    def is_active(self) -> bool:
        """Whether the tour is on screen."""
        return self.index >= 0

    def start(self) -> None:
        """Show the first step."""
        self.show_step(0)

    def next(self) -> None:
        """The next step, or the end after the last one."""
        if self.index >= len(self.steps) - 1:
            self.finish(completed=True)
        else:
            self.show_step(self.index + 1)

    def back(self) -> None:
        """The previous step."""
        if self.index > 0:
            self.show_step(self.index - 1)

    def skip(self) -> None:
        """End the tour early."""
        self.finish(completed=False)

    def finish(self, *, completed: bool) -> None:
        """Hide the tour and say how it ended."""
        if self.index < 0:
            return
        self.index = -1
        self.overlay.hide()
        self.bubble.hide()
        self.sig_finished.emit(completed)

    def show_step(self, index: int) -> None:
        """Show step ``index``: its page, rings and bubble."""
        self.index = max(0, min(index, len(self.steps) - 1))
        step = self.steps[self.index]
        if step.page:
            self.window.show_page(step.page)
        bubble = self.bubble
        bubble.step_label.setText(f"Step {self.index + 1} of {len(self.steps)}")
        bubble.title_label.setText(step.title)
        bubble.text_label.setText(step.text)
        bubble.back_button.setEnabled(self.index > 0)
        last = self.index == len(self.steps) - 1
        bubble.next_button.setText("Done" if last else "Next")
        self.overlay.show()
        bubble.show()
        self.relayout()
        bubble.next_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def targets(self) -> list[QWidget]:
        """The widgets ringed by the current step (visible ones only)."""
        if self.index < 0:
            return []
        step = self.steps[self.index]
        if "help_menu" in step.targets:
            return [self.window.menuBar()]
        page = self.window.current_page()
        found = [getattr(page, name, None) for name in step.targets]
        shown = [w for w in found if isinstance(w, QWidget) and w.isVisible()]
        return shown or [page]

    def relayout(self) -> None:
        """Place the overlay, the rings and the bubble for the window's current size."""
        if self.index < 0:
            return
        window = self.window
        self.overlay.setGeometry(window.rect())
        targets = self.targets()
        for widget in targets[:1]:  # a page scrolls to show what the step is about
            _scroll_into_view(widget)
        step = self.steps[self.index]
        rings = [self._ring(widget) for widget in targets]
        if "help_menu" in step.targets:  # only the Help title of the menu bar
            bar = window.menuBar()
            title = bar.actionGeometry(window.help_menu.menuAction())
            rings = [QRect(bar.mapTo(window, title.topLeft()), title.size()).adjusted(-2, 1, 2, -1)]
        if step.page:
            item = window.navigation.item(window.pages.index(window.page(step.page)))
            nav = window.navigation.visualItemRect(item)
            top_left = window.navigation.viewport().mapTo(window, nav.topLeft())
            rings.append(QRect(top_left, nav.size()).adjusted(-3, -3, 3, 3))
        self.overlay.rings = [ring.intersected(window.rect()) for ring in rings]
        self.overlay.raise_()
        self.overlay.update()
        self.bubble.adjustSize()  # its width is fixed: this sets the height for the text
        self.bubble.move(self._bubble_position(rings[0], self.bubble.size()))
        self.bubble.raise_()

    # ---- Qt events
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """Follow the window's size."""
        if watched is self.window and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self.relayout()
        return super().eventFilter(watched, event)

    # ---- Internals
    def _ring(self, widget: QWidget) -> QRect:
        top_left = widget.mapTo(self.window, QPoint(0, 0))
        rect = QRect(top_left, widget.size())
        visible = widget.visibleRegion().boundingRect()  # a widget inside a scroll area
        if not visible.isEmpty():
            rect = QRect(widget.mapTo(self.window, visible.topLeft()), visible.size())
        return rect.adjusted(-RING_MARGIN, -RING_MARGIN, RING_MARGIN, RING_MARGIN)

    def _bubble_position(self, ring: QRect, size: QSize) -> QPoint:
        """Beside the ring where there is room (right, left, below, above), in the window."""
        area = self.window.rect().adjusted(12, 12, -12, -12)
        width, height = size.width(), size.height()
        middle_y = ring.center().y() - height // 2
        middle_x = ring.center().x() - width // 2
        candidates = (
            QPoint(ring.right() + BUBBLE_GAP, middle_y),
            QPoint(ring.left() - BUBBLE_GAP - width, middle_y),
            QPoint(middle_x, ring.bottom() + BUBBLE_GAP),
            QPoint(middle_x, ring.top() - BUBBLE_GAP - height),
        )
        for point in candidates:
            if area.contains(QRect(point, size)):
                return point
        # No room beside it (a ring as big as the page): inside, near its bottom right.
        point = QPoint(ring.right() - width - 24, ring.bottom() - height - 24)
        x = min(max(point.x(), area.left()), area.right() - width)
        y = min(max(point.y(), area.top()), area.bottom() - height)
        return QPoint(x, y)


def _scroll_into_view(widget: QWidget) -> None:
    """Scroll the scroll areas holding ``widget`` so that it shows (its top first)."""
    parent = widget.parentWidget()
    while parent is not None:
        area = parent.parentWidget()
        if isinstance(area, QScrollArea) and area.viewport() is parent:
            area.ensureWidgetVisible(widget, 40, 40)
        parent = parent.parentWidget()


def _rgba(text: str) -> QColor:
    """A ``rgba(r, g, b, alpha)`` or ``#rrggbb`` colour of :data:`~ftstudio.qt.style.TONES`."""
    if text.startswith("rgba("):
        red, green, blue, alpha = (part.strip() for part in text[5:-1].split(","))
        return QColor(int(red), int(green), int(blue), round(float(alpha) * 255))
    return QColor(text)
