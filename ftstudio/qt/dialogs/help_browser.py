"""Help ▸ Fine-tuning advice: the advice topics (Markdown in ``resources/help``), searchable.

Each topic is one Markdown file named ``NN-topic-id.md`` (``NN`` orders the list); its
first ``# heading`` is its title. Topics link to each other with ordinary Markdown links
to the file name, with or without the number (``[text](dataset-size.md)``). Each page of
the studio has a topic (:data:`PAGE_TOPICS`), opened by F1 or the page's "?" button.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeySequence, QTextDocument
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ftstudio.core import paths
from ftstudio.qt.ui_state import remember_splitter

HELP_FOLDER = "help"
"""The folder of :func:`ftstudio.core.paths.resource` holding the topics."""
START_TOPIC = "start-here"
PAGE_TOPICS = {
    "welcome": START_TOPIC,
    "guide": "fine-tune-or-not",
    "dataset": "data-quality",
    "train": "methods",
    "wizard": "base-model",
    "evaluate": "evaluation",
    "runs": "iterating",
    "export": "export-formats",
}
"""The topic shown for each page (and ``welcome``: no project open)."""

_NUMBER = re.compile(r"^\d+-")


def _word(word: str) -> re.Pattern[str]:
    """Matches ``word`` at the start of a word, in any case."""
    return re.compile(rf"\b{re.escape(word)}", re.IGNORECASE)


@dataclass(frozen=True)
class HelpTopic:
    """One advice topic: ``id`` (the file name without number and ``.md``), its title
    (the first heading) and its Markdown text."""

    id: str
    title: str
    text: str

    def matches(self, query: str) -> bool:
        """Whether every word of ``query`` starts a word of the title or the text (any
        case): ``rate`` finds "rates", not "separate"."""
        haystack = f"{self.title}\n{self.text}"
        return all(_word(word).search(haystack) for word in query.split())

    def relevance(self, query: str) -> int:
        """How well the topic answers ``query``: all words in the title first, then the
        most mentions."""
        words = query.split()
        in_title = all(_word(word).search(self.title) for word in words)
        mentions = sum(len(_word(word).findall(self.text)) for word in words)
        return (1_000_000 if in_title else 0) + mentions


def topic_id(name: str) -> str:
    """The topic id of a file name or link: ``"03-dataset-size.md"`` → ``"dataset-size"``."""
    stem = Path(name.split("#", 1)[0]).name
    stem = stem.removesuffix(".md")
    return _NUMBER.sub("", stem)


def load_topics(folder: Path | None = None) -> list[HelpTopic]:
    """The topics in ``folder`` (default: the bundled help), in file-name order.

    Raises:
        ValueError: a file has no ``# title`` line (the message names it).
    """
    folder = folder or paths.resource(HELP_FOLDER)
    topics = []
    for path in sorted(folder.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), "")
        if not title:
            raise ValueError(f"{path} has no title: start it with a line like '# Topic name'.")
        topics.append(HelpTopic(topic_id(path.name), title, text))
    return topics


def topic_for_page(key: str) -> str:
    """The topic id for page ``key`` (the start topic for an unknown page)."""
    return PAGE_TOPICS.get(key, START_TOPIC)


class HelpBrowser(QDialog):
    """A non-modal window with the topic list, a search box and the topic's text.

    Signals:
        sig_topic_shown(str): a topic (its id) is now shown.

    Attributes:
        topics: every topic, in list order.
        search_edit: filters the list as you type.
        topic_list: the topics matching the search.
        browser: the topic's text.
    """

    sig_topic_shown = Signal(str)

    def __init__(self, parent: QWidget | None = None, topics: list[HelpTopic] | None = None):
        super().__init__(parent)
        self.setObjectName("helpBrowser")
        self.setWindowTitle("Fine-tuning advice")
        self.setModal(False)
        self.resize(940, 680)
        self.topics = topics if topics is not None else load_topics()
        self._by_id = {topic.id: topic for topic in self.topics}
        self._history: list[str] = []
        self._position = -1
        self._current = ""

        layout = QVBoxLayout(self)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        side = QWidget()
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("helpSearch")
        self.search_edit.setPlaceholderText("Search the advice…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self.set_filter)
        self.search_edit.returnPressed.connect(self._on_search_return)
        column.addWidget(self.search_edit)
        self.topic_list = QListWidget()
        self.topic_list.setObjectName("helpTopics")
        self.topic_list.setWordWrap(True)
        self.topic_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.topic_list.currentItemChanged.connect(self._on_current_item_changed)
        column.addWidget(self.topic_list, 1)
        self.empty_label = QLabel("No topic mentions that.")
        self.empty_label.setObjectName("muted")
        self.empty_label.setWordWrap(True)
        self.empty_label.hide()
        column.addWidget(self.empty_label)
        splitter.addWidget(side)
        main = QWidget()
        right = QVBoxLayout(main)
        right.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.back_button = QPushButton("← Back")
        self.back_button.setShortcut(QKeySequence("Alt+Left"))
        self.back_button.setToolTip("The topic shown before (Alt+Left)")
        self.back_button.clicked.connect(self.back)
        self.forward_button = QPushButton("Forward →")
        self.forward_button.setShortcut(QKeySequence("Alt+Right"))
        self.forward_button.setToolTip("The next topic in your history (Alt+Right)")
        self.forward_button.clicked.connect(self.forward)
        row.addWidget(self.back_button)
        row.addWidget(self.forward_button)
        row.addStretch(1)
        right.addLayout(row)
        self.browser = QTextBrowser()
        self.browser.setObjectName("helpText")
        self.browser.setOpenLinks(False)
        self.browser.anchorClicked.connect(self._on_anchor_clicked)
        self.browser.document().setDocumentMargin(14)
        right.addWidget(self.browser, 1)
        splitter.addWidget(main)
        splitter.setStretchFactor(1, 1)
        if not remember_splitter(splitter, "help/splitter"):
            splitter.setSizes([280, 660])
        self.splitter = splitter
        layout.addWidget(splitter, 1)
        self.set_filter("")
        self.show_topic(START_TOPIC)

    # ---- Public API
    def current_topic(self) -> str:
        """The id of the topic shown."""
        return self._current

    def listed_topics(self) -> list[str]:
        """The ids of the topics in the list (those matching the search)."""
        return [
            self.topic_list.item(row).data(Qt.ItemDataRole.UserRole)
            for row in range(self.topic_list.count())
        ]

    def show_topic(self, topic: str, *, record: bool = True) -> bool:
        """Show the topic with id ``topic`` (a file name works too); ``False`` if unknown."""
        found = self._by_id.get(topic_id(topic))
        if found is None:
            return False
        if found.id != self._current:
            self.browser.setMarkdown(found.text)
            self._current = found.id
            if record:
                del self._history[self._position + 1 :]
                self._history.append(found.id)
                self._position = len(self._history) - 1
            self._highlight_search()
        self._select_in_list(found.id)
        self._update_buttons()
        self.sig_topic_shown.emit(found.id)
        return True

    def set_filter(self, text: str) -> None:
        """List only the topics mentioning every word of ``text``, the most relevant first
        (all of them, in their order, when ``text`` is empty)."""
        blocked = self.topic_list.blockSignals(True)
        self.topic_list.clear()
        found = [topic for topic in self.topics if topic.matches(text)]
        if text.strip():
            found.sort(key=lambda topic: -topic.relevance(text))  # stable: ties keep order
        for topic in found:
            item = QListWidgetItem(topic.title)
            item.setData(Qt.ItemDataRole.UserRole, topic.id)
            self.topic_list.addItem(item)
        self.topic_list.blockSignals(blocked)
        self.empty_label.setVisible(self.topic_list.count() == 0)
        listed = self.listed_topics()
        if text.strip() and listed and self._current not in listed:
            self.show_topic(listed[0], record=False)  # the best match, as you type
        self._select_in_list(self._current)
        self._highlight_search()

    def back(self) -> None:
        """Show the topic shown before this one."""
        if self._position > 0:
            self._position -= 1
            self.show_topic(self._history[self._position], record=False)

    def forward(self) -> None:
        """Show the next topic of the history."""
        if self._position < len(self._history) - 1:
            self._position += 1
            self.show_topic(self._history[self._position], record=False)

    # ---- Internals
    def _select_in_list(self, topic: str) -> None:
        blocked = self.topic_list.blockSignals(True)
        self.topic_list.setCurrentRow(-1)
        for row in range(self.topic_list.count()):
            if self.topic_list.item(row).data(Qt.ItemDataRole.UserRole) == topic:
                self.topic_list.setCurrentRow(row)
        self.topic_list.blockSignals(blocked)

    def _highlight_search(self) -> None:
        """Select the first occurrence of the search's first word in the text."""
        words = self.search_edit.text().split()
        if not words:
            return
        cursor = self.browser.document().find(words[0], 0, QTextDocument.FindFlag(0))
        if not cursor.isNull():
            self.browser.setTextCursor(cursor)
            self.browser.ensureCursorVisible()

    def _update_buttons(self) -> None:
        self.back_button.setEnabled(self._position > 0)
        self.forward_button.setEnabled(self._position < len(self._history) - 1)

    def _on_current_item_changed(self, item: QListWidgetItem | None, _previous: object) -> None:
        if item is not None:
            self.show_topic(item.data(Qt.ItemDataRole.UserRole))

    def _on_search_return(self) -> None:
        ids = self.listed_topics()
        if ids:
            self.show_topic(ids[0])

    def _on_anchor_clicked(self, url: QUrl) -> None:
        if url.scheme() in ("http", "https", "mailto"):
            QDesktopServices.openUrl(url)
            return
        if url.path():
            self.show_topic(url.path())
        if url.fragment():
            self.browser.scrollToAnchor(url.fragment())
