"""Help ▸ Fine-tuning advice: the topics, their links, the search, and help per page."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl

from ftstudio.core.paths import resource
from ftstudio.core.settings import SettingsStore
from ftstudio.qt.dialogs.help_browser import (
    PAGE_TOPICS,
    START_TOPIC,
    HelpBrowser,
    HelpTopic,
    load_topics,
    topic_for_page,
    topic_id,
)
from ftstudio.qt.main_window import MainWindow
from ftstudio.qt.pages import NAVIGATION

REPO = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)]+)\)")


@pytest.fixture
def window(qtbot, user_dirs):  # noqa: ANN001, ANN201
    win = MainWindow(SettingsStore(user_dirs["config"]))
    qtbot.addWidget(win)
    return win


@pytest.fixture
def browser(qtbot):  # noqa: ANN001, ANN201
    dialog = HelpBrowser()
    qtbot.addWidget(dialog)
    return dialog


def test_the_topics_cover_the_guide() -> None:
    topics = load_topics()
    ids = [topic.id for topic in topics]
    assert ids[0] == START_TOPIC
    assert len(ids) == len(set(ids))
    for wanted in (
        "fine-tune-or-not",  # fine-tune vs RAG vs prompting
        "dataset-size",
        "data-quality",
        "base-model",  # a 24 GB GPU
        "methods",  # LoRA, QLoRA, full
        "hyperparameters",  # learning-rate ranges
        "epochs-overfitting",
        "evaluation",
        "dpo",
        "export-formats",
    ):
        assert wanted in ids
    text = {topic.id: topic.text for topic in topics}
    assert "1e-4 to 3e-4" in text["hyperparameters"]
    assert "2e-4 to 5e-4" in text["hyperparameters"]
    assert "500 to 1,000" in text["dataset-size"]
    assert "24 GB" in text["base-model"]


def test_every_link_between_topics_leads_to_a_topic() -> None:
    topics = load_topics()
    ids = {topic.id for topic in topics}
    linked = set()
    for topic in topics:
        for target in LINK.findall(topic.text):
            if target.startswith(("http://", "https://")):
                continue
            assert topic_id(target) in ids, f"{topic.id} links to {target}, which is no topic"
            linked.add(topic_id(target))
    assert ids - {START_TOPIC} <= linked, "a topic no other topic links to"


def test_every_page_has_a_topic() -> None:
    ids = {topic.id for topic in load_topics()}
    for page in NAVIGATION:
        assert topic_for_page(page.key) in ids
    assert set(PAGE_TOPICS.values()) <= ids
    assert topic_for_page("no such page") == START_TOPIC


def test_a_topic_without_a_title_is_named(tmp_path: Path) -> None:
    (tmp_path / "01-x.md").write_text("no heading here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"01-x\.md has no title"):
        load_topics(tmp_path)


def test_the_help_is_packaged() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    included = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert included["resources/help"] == "ftstudio/_resources/help"
    assert resource("help").is_dir()


def test_topics_render_as_markdown_and_links_work(browser: HelpBrowser) -> None:
    assert browser.current_topic() == START_TOPIC
    assert not browser.isModal()
    assert browser.show_topic("methods")
    shown = browser.browser.toPlainText()
    assert shown.startswith("LoRA, QLoRA or full fine-tuning")  # the heading, rendered
    assert "# " not in shown.splitlines()[0]
    assert "**" not in shown
    browser.browser.anchorClicked.emit(QUrl("dpo.md"))
    assert browser.current_topic() == "dpo"
    browser.browser.anchorClicked.emit(QUrl("08-epochs-overfitting.md"))
    assert browser.current_topic() == "epochs-overfitting"
    assert browser.topic_list.currentItem().text() == "Epochs, early stopping and overfitting"
    browser.back()
    assert browser.current_topic() == "dpo"
    browser.back()
    assert browser.current_topic() == "methods"
    browser.forward()
    assert browser.current_topic() == "dpo"
    assert not browser.show_topic("no-such-topic")
    assert browser.current_topic() == "dpo"


def test_choosing_a_topic_in_the_list_shows_it(browser: HelpBrowser) -> None:
    row = browser.listed_topics().index("export-formats")
    browser.topic_list.setCurrentRow(row)
    assert browser.current_topic() == "export-formats"
    assert "GGUF" in browser.browser.toPlainText()


def test_the_search_filters_the_topics(browser: HelpBrowser, qtbot) -> None:
    everything = browser.listed_topics()
    qtbot.keyClicks(browser.search_edit, "QLoRA")
    found = browser.listed_topics()
    assert "methods" in found
    assert "base-model" in found
    assert len(found) < len(everything)
    assert browser.current_topic() in found  # the best match is shown as you type
    assert "QLoRA" in browser.browser.textCursor().selectedText()
    browser.search_edit.setText("learning rate")  # the topic named so comes first
    assert browser.listed_topics()[0] == "hyperparameters"
    browser.search_edit.setText("overfitting dropout")
    assert "epochs-overfitting" in browser.listed_topics()
    assert all(
        "overfitting" in browser._by_id[topic].text.lower() for topic in browser.listed_topics()
    )
    browser.search_edit.setText("rate")  # whole-word starts: not "separate"
    for topic in browser.listed_topics():
        assert re.search(r"\brate", browser._by_id[topic].text, re.IGNORECASE)
    browser.search_edit.setText("zzzqqq")
    assert browser.listed_topics() == []
    assert browser.empty_label.isVisibleTo(browser)
    browser.search_edit.clear()
    assert browser.listed_topics() == everything
    assert not browser.empty_label.isVisibleTo(browser)


def test_topic_matching_ignores_case() -> None:
    topic = HelpTopic("x", "Learning rate", "Use warm-up.")
    assert topic.matches("LEARNING warm")
    assert not topic.matches("learning cosine")
    assert topic.matches("")


def test_f1_opens_the_advice_for_the_page_on_screen(window, sample_project) -> None:
    window.help_action.trigger()  # no project: where to start
    assert window.help_browser is not None
    assert window.help_browser.isVisible()
    assert window.help_browser.current_topic() == START_TOPIC
    window.set_project(sample_project)
    assert window.help_action.shortcut().toString() == "F1"
    for key in ("guide", "dataset", "train", "evaluate", "runs", "export"):
        window.show_page(key)
        window.help_action.trigger()
        assert window.help_browser.current_topic() == PAGE_TOPICS[key]
    assert len(window.findChildren(HelpBrowser)) == 1  # one window, reused


def test_each_pages_question_mark_opens_its_topic(window, sample_project, qtbot) -> None:
    window.set_project(sample_project)
    window.show()
    for page in window.pages:
        window.show_page(page.key)
        assert page.help_button.isVisible()
        qtbot.mouseClick(page.help_button, Qt.MouseButton.LeftButton)
        assert window.help_browser.current_topic() == PAGE_TOPICS[page.key]
