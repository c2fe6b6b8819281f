"""Token counts in the dataset studio, with the real tiny-model tokenizer.

The page counts every example's tokens with the project's base model in a worker, then
shows tokens in the table, checks ``too_long`` against the shared max length, counts
an edited example again and draws the statistics in tokens. A model that is not on
this computer leaves the lengths in characters, with a plain message.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from ftstudio.core.dataset.formats import load_dataset
from ftstudio.core.dataset.validate import validate_record
from ftstudio.core.train_config import TrainConfig, save_config
from ftstudio.engine.chat_mask import ChatTemplateTokenizer, load_tokenizer
from ftstudio.qt.dataset.table_model import COL_LENGTH, HEADERS, TOKENS_HEADER
from ftstudio.qt.dataset.token_counter import (
    NOT_COUNTED,
    TokenCache,
    TokenSummary,
    counts_automatically,
)
from ftstudio.qt.pages.dataset import DatasetPage
from tests.qt.dataset.data import chat, wait_loaded, write_jsonl

HORIZONTAL = Qt.Orientation.Horizontal
TIP = Qt.ItemDataRole.ToolTipRole


@pytest.fixture(scope="module")
def encoder(tiny_model_dir: Path) -> ChatTemplateTokenizer:
    """The tiny model's tokenizer with its chat template: what the counts must equal."""
    return ChatTemplateTokenizer(load_tokenizer(tiny_model_dir))


@pytest.fixture
def tiny_project(sample_project, tiny_model_dir):  # noqa: ANN001, ANN201
    """The sample project with the tiny model's folder as its (local) base model."""
    sample_project.set("base_model", str(tiny_model_dir))
    return sample_project


def make_page(qtbot, project) -> DatasetPage:  # noqa: ANN001
    page = DatasetPage()
    qtbot.addWidget(page)
    page.auto_count_delay_ms = 20  # the window opens first; tests need not wait 1.5 s
    page.set_project(project)
    wait_loaded(qtbot, page.document)
    page.resize(1200, 780)
    return page


@pytest.fixture
def page(qtbot, tiny_project):  # noqa: ANN001, ANN201
    widget = make_page(qtbot, tiny_project)
    yield widget
    widget.shutdown()


@pytest.fixture
def counted(page: DatasetPage, qtbot) -> DatasetPage:  # noqa: ANN001
    """The page shown, with every token counted and the file checked again."""
    with qtbot.waitSignal(page.document.sig_tokens_changed, timeout=60_000):
        page.show()
    wait_loaded(qtbot, page.document)
    return page


def issue_rows(page: DatasetPage) -> list[tuple[int, str, str]]:
    model = page.issues_panel.model
    return [
        (model.issue(r).record, model.issue(r).code, model.issue(r).severity)
        for r in range(model.rowCount())
    ]


def test_tokens_are_counted_once_the_page_shows(page: DatasetPage, qtbot, encoder) -> None:
    model, doc = page.model, page.document
    assert not doc.token_runner.is_running(), "nothing is counted before the page is shown"
    assert model.headerData(COL_LENGTH, HORIZONTAL) == HEADERS[COL_LENGTH] == "Characters"
    chars = sum(len(m["content"]) for m in doc.record(0).data["messages"])
    assert model.index(0, COL_LENGTH).data() == f"{chars:,}", "characters until tokens are known"
    with qtbot.waitSignal(doc.sig_tokens_changed, timeout=60_000):
        page.show()
    assert model.headerData(COL_LENGTH, HORIZONTAL) == TOKENS_HEADER == "Tokens"
    total = trained = 0
    for row in range(model.rowCount()):
        example = encoder.tokenize_example(doc.record(row).data)
        assert model.index(row, COL_LENGTH).data() == f"{len(example.ids):,}"
        tip = model.index(row, COL_LENGTH).data(TIP)
        assert tip.startswith(f"{len(example.ids):,} tokens, {example.trained_count:,} of them")
        total += len(example.ids)
        trained += example.trained_count
    assert model.token_totals() == (total, trained)
    assert f"{total:,} tokens, {trained:,} of them trained" in model.headerData(
        COL_LENGTH, HORIZONTAL, TIP
    )
    assert page.count_label.text() == f"{model.rowCount()} examples · {total:,} tokens"
    assert not page.tokens_button.isEnabled(), "nothing left to count"
    assert not page.token_message.isVisible()
    assert "tokens" in page.min_length_filter.toolTip()


def test_the_count_waits_while_the_user_scrolls(page: DatasetPage, qtbot) -> None:
    page.auto_count_delay_ms = 1000
    page.resize(900, 400)
    page.show()
    scrollbar = page.table.verticalScrollBar()
    assert scrollbar.maximum() > 15
    for step in range(16):  # 1.6 s of scrolling (longer than the pause), a step per 100 ms
        scrollbar.setValue(step)
        qtbot.wait(100)
    assert not page.document.token_runner.is_running(), "not while the user is busy"
    assert not page.document.tokens_known()
    with qtbot.waitSignal(page.document.sig_tokens_changed, timeout=60_000):
        pass  # starts once the user pauses
    assert page.model.headerData(COL_LENGTH, HORIZONTAL) == "Tokens"


def test_sorting_and_the_length_filter_use_tokens(counted: DatasetPage, qtbot) -> None:
    page, model = counted, counted.model
    tokens = model.token_columns()[0]
    page.proxy.sort(COL_LENGTH, Qt.SortOrder.DescendingOrder)
    shown = [tokens[page.proxy.record_at(r)] for r in range(page.proxy.rowCount())]
    assert shown == sorted(tokens, reverse=True)
    limit = sorted(tokens)[len(tokens) // 2]
    page.max_length_filter.setValue(limit)
    page.apply_filters()
    visible = [tokens[page.proxy.record_at(r)] for r in range(page.proxy.rowCount())]
    assert visible
    assert all(count <= limit for count in visible)
    assert len(visible) == sum(1 for count in tokens if count <= limit)


def test_lowering_the_max_length_reports_too_long(counted: DatasetPage, qtbot, encoder) -> None:
    page, doc = counted, counted.document
    assert "too_long" not in {code for _, code, _ in issue_rows(page)}
    example = encoder.tokenize_example(doc.record(0).data)
    first_trained = example.trained.index(True)
    # Part of the answer beyond the max length: a warning.
    page.preview.max_length_spin.setValue(len(example.ids) - 5)
    assert page.max_length() == doc.max_length == page.stats_panel.max_length
    qtbot.waitUntil(lambda: (0, "too_long", "warning") in issue_rows(page), timeout=10_000)
    assert page.bottom_tabs.tabText(0).startswith("Issues (")
    # The whole answer beyond it: an error, the example teaches nothing.
    page.preview.max_length_spin.setValue(max(8, first_trained - 1))
    qtbot.waitUntil(lambda: (0, "too_long", "error") in issue_rows(page), timeout=10_000)
    message = next(i.message for i in doc.issues if i.record == 0 and i.code == "too_long")
    assert f"max length of {max(8, first_trained - 1):,}" in message
    page.preview.max_length_spin.setValue(4096)
    qtbot.waitUntil(lambda: "too_long" not in {c for _, c, _ in issue_rows(page)}, timeout=10_000)


def test_an_edited_example_is_counted_again(counted: DatasetPage, encoder) -> None:
    page, doc, model = counted, counted.document, counted.model
    before = model.index(0, COL_LENGTH).data()
    data = copy.deepcopy(doc.record(0).data)
    data["messages"][-1]["content"] += " Then restart the laptop and sign in again." * 3
    doc.replace_record_data(0, data, "Longer answer")
    expected = encoder.tokenize_example(data)
    assert model.index(0, COL_LENGTH).data() == f"{len(expected.ids):,}", "counted at once"
    assert f"{expected.trained_count:,} of them trained" in model.index(0, COL_LENGTH).data(TIP)
    doc.undo_stack.undo()
    assert model.index(0, COL_LENGTH).data() == before
    page.add_example()  # a new, empty conversation is counted too
    row = page.current_record
    empty = encoder.tokenize_example(doc.record(row).data)
    assert model.index(row, COL_LENGTH).data() == f"{len(empty.ids):,}"


def test_statistics_draw_token_lengths_with_the_max_length(counted: DatasetPage, qtbot) -> None:
    page = counted
    panel = page.stats_panel
    with qtbot.waitSignal(panel._runner.sig_finished, timeout=20_000):
        page.side_tabs.setCurrentIndex(2)
    tokens = [t for t in page.model.token_columns()[0] if t >= 0]
    assert sorted(panel.stats.token_counts) == sorted(tokens)
    assert "tokens" in panel._histogram.getPlotItem().titleLabel.text
    assert panel.max_line.value() == page.max_length()
    assert "tokens" in panel.facts_label.text()


def test_a_hub_model_not_downloaded_keeps_characters(qtbot, sample_project) -> None:
    sample_project.set("base_model", "example-org/not-downloaded-7b")
    page = make_page(qtbot, sample_project)
    try:
        page.show()
        qtbot.wait(100)
        assert not page.document.token_runner.is_running(), "a hub model is counted on request"
        assert page.token_message.isVisible()
        assert "must be downloaded" in page.token_message.text()
        assert page.tokens_button.isEnabled()
        with qtbot.waitSignal(page.document.sig_tokens_failed, timeout=30_000):
            qtbot.mouseClick(page.tokens_button, Qt.MouseButton.LeftButton)
        text = page.token_message.text()
        assert "example-org/not-downloaded-7b is not on this computer" in text
        assert "Lengths stay in characters" in text
        assert page.model.headerData(COL_LENGTH, HORIZONTAL) == "Characters"
        chars = sum(len(m["content"]) for m in page.document.record(0).data["messages"])
        assert page.model.index(0, COL_LENGTH).data() == f"{chars:,}"
        assert page.tokens_button.isEnabled(), "the user may try again"
    finally:
        page.shutdown()


def test_a_tokenizer_without_chat_template_keeps_characters(
    qtbot, sample_project, tiny_model_dir, tmp_path
) -> None:
    folder = shutil.copytree(tiny_model_dir, tmp_path / "no-template")
    (folder / "chat_template.jinja").unlink()
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    sample_project.set("base_model", str(folder))
    page = make_page(qtbot, sample_project)
    try:
        with qtbot.waitSignal(page.document.sig_tokens_failed, timeout=60_000):
            page.show()  # a local folder is counted on its own
        assert "has no chat template" in page.token_message.text()
        assert page.token_message.isVisible()
        assert page.model.headerData(COL_LENGTH, HORIZONTAL) == "Characters"
    finally:
        page.shutdown()


def test_the_max_length_starts_at_the_saved_training_config(qtbot, tiny_project) -> None:
    path = save_config(TrainConfig(max_length=640), tiny_project.folder / "configs" / "short.yaml")
    tiny_project.set("configs", {"short": path.relative_to(tiny_project.folder).as_posix()})
    page = make_page(qtbot, tiny_project)
    try:
        assert page.max_length() == 640
        assert page.preview.max_length_spin.value() == 640
        assert page.stats_panel.max_length == 640
        assert page.document.max_length == 640
    finally:
        page.shutdown()


def test_progress_eta_and_cancel_of_a_long_count(qtbot, tiny_project) -> None:
    rows = [
        chat(f"Question {n}: " + "why does the printer jam " * 12, "Open the tray. " * 40)
        for n in range(5000)
    ]
    big = write_jsonl(tiny_project.folder / "datasets" / "big.jsonl", rows)
    page = make_page(qtbot, tiny_project)
    try:
        page.auto_count_delay_ms = 60_000  # counted on request only, in this test
        page.open_path(big)
        wait_loaded(qtbot, page.document, timeout=60_000)
        page.show()
        page.count_tokens()
        assert page.progress_row.isVisible()
        qtbot.waitUntil(lambda: " left" in page.progress_label.text(), timeout=60_000)
        assert page.progress_label.text().startswith("Counting tokens… ")
        assert not page.tokens_button.isEnabled()
        with qtbot.waitSignal(page.document.token_runner.sig_cancelled, timeout=10_000):
            qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
        assert "Token counting was stopped" in page.token_message.text()
        assert page.model.headerData(COL_LENGTH, HORIZONTAL) == "Characters"
        assert page.tokens_button.isEnabled()
        qtbot.waitUntil(lambda: not page.progress_row.isVisible())
    finally:
        page.shutdown()


def test_token_summaries_answer_like_the_tokenized_example(encoder, sample_project) -> None:
    dataset = load_dataset(sample_project.folder / "datasets" / "it_support.jsonl")
    cache = TokenCache(encoder, ("tiny", None), "here")
    for index, record in enumerate(dataset.records[:10]):
        example = encoder.tokenize_example(record.data)
        summary = cache.tokenize_example(record.data)
        assert isinstance(summary, TokenSummary)
        assert len(summary.ids) == len(example.ids)
        assert summary.trained == example.trained
        assert summary.trained_count == example.trained_count
        for limit in (1, 50, len(example.ids) // 2, len(example.ids) - 1, 10_000):
            assert summary.truncated_trained(limit) == example.truncated_trained(limit)
        for limit in (40, len(example.ids) - 3):
            direct = validate_record(record, index, tokenizer=encoder, max_length=limit)
            cached = validate_record(record, index, tokenizer=cache, max_length=limit)
            assert cached == direct
    assert cache.lookup(dataset.records[0].data) is not None
    assert cache.lookup(copy.deepcopy(dataset.records[0].data)) is None, "keyed by identity"


def test_what_cannot_be_tokenised_is_marked_not_counted(encoder) -> None:
    from ftstudio.core.dataset.records import Record

    cache = TokenCache(encoder, ("tiny", None), "here")
    broken = Record({"messages": "not a list"}, line=3)
    assert isinstance(cache.count(broken.data), str)
    assert cache.columns([broken, Record(None, raw="{bad", line=4)]) == (
        [NOT_COUNTED, NOT_COUNTED],
        [NOT_COUNTED, NOT_COUNTED],
    )
    with pytest.raises(ValueError, match="list"):
        cache.tokenize_example(broken.data)


def test_which_base_models_are_counted_on_their_own(tmp_path, tiny_model_dir) -> None:
    assert counts_automatically("ftstudio:tiny", tmp_path)
    assert counts_automatically(str(tiny_model_dir), tmp_path)
    assert not counts_automatically("meta-llama/Llama-3.2-1B-Instruct", tmp_path)
    assert not counts_automatically(str(tmp_path / "missing-folder"), tmp_path)
