"""A model that ships its own code: the studio asks each time, and the answer holds for one run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ftstudio.core.project import Project
from ftstudio.core.settings import AppSettings
from ftstudio.qt.dialogs.remote_code import DONT_RUN, RUN_CODE, remote_code_for
from ftstudio.qt.pages.train import TrainPage
from tests.engine.test_base_model import cache_holding, custom_code_model, modules_cache  # noqa: F401
from tests.qt.helpers import answer_next_box
from tests.qt.training.conftest import save_plan
from tests.tiny import tiny_config

pytestmark = pytest.mark.slow


@pytest.fixture
def custom_model(tmp_path: Path, tiny_model_dir: Path) -> Path:
    return custom_code_model(tiny_model_dir, tmp_path / "acme-model")


@pytest.fixture
def page(qtbot, small_project: Project, custom_model: Path):  # noqa: ANN001, ANN201
    config = tiny_config(custom_model, max_steps=1, eval_steps=0, save_steps=1, val_fraction=0.0)
    save_plan(small_project, "custom", config)
    widget = TrainPage()
    qtbot.addWidget(widget)
    widget.set_project(small_project)
    widget.show()
    yield widget
    if widget.is_running():
        widget.runner.stop()
        assert widget.runner.wait(120_000)
        qtbot.waitUntil(lambda: not widget.is_running(), timeout=10_000)


def test_the_code_is_found_in_a_folder_or_the_model_cache(
    tmp_path: Path, custom_model: Path, tiny_model_dir: Path
) -> None:
    assert remote_code_for(str(custom_model), None, tmp_path / "cache") is not None
    assert remote_code_for(str(tiny_model_dir), None, tmp_path / "cache") is None
    assert remote_code_for("acme/custom", None, tmp_path / "cache") is None  # not downloaded
    cache_holding(tmp_path / "cache", "acme/custom", custom_model)
    code = remote_code_for("acme/custom", None, tmp_path / "cache")
    assert code is not None
    assert code.model_type == "acme_llama"


def test_refusing_keeps_the_code_from_running_and_the_run_says_why(
    qtbot,
    page: TrainPage,
    custom_model: Path,
    modules_cache: Path,  # noqa: ANN001, F811
) -> None:
    seen: list[dict[str, Any]] = []
    with qtbot.waitSignal(page.sig_run_finished, timeout=120_000) as done:
        answer_next_box(DONT_RUN, seen, tries=None)
        assert page.start()
    [box] = seen
    assert box["name"] == "askRemoteCode"
    assert str(custom_model) in box["text"]
    assert "with your permissions" in box["text"]
    assert "modeling_acme.AcmeForCausalLM" in box["informative"]
    assert "applies to this run only" in box["informative"]
    assert box["buttons"] == [RUN_CODE, DONT_RUN]
    assert box["escape"] == DONT_RUN
    result = done.args[0]
    assert result.status == "failed"
    assert "needs its own Python code to load" in page.status_label.text()
    assert not modules_cache.exists(), "none of the model's code ran"


def test_allowing_runs_the_code_for_this_run_only(
    qtbot,
    page: TrainPage,
    modules_cache: Path,  # noqa: ANN001, F811
) -> None:
    seen: list[dict[str, Any]] = []
    with qtbot.waitSignal(page.sig_run_finished, timeout=120_000) as done:
        answer_next_box(RUN_CODE, seen, tries=None)
        assert page.start()
    assert len(seen) == 1
    assert done.args[0].status == "finished", done.args[0].message
    assert modules_cache.read_text(encoding="utf-8") == "ran"
    assert "You allowed" in page.log.toPlainText()

    # Asked again next time.
    with qtbot.waitSignal(page.sig_run_finished, timeout=120_000):
        answer_next_box(DONT_RUN, seen, tries=None)
        assert page.start()
    assert len(seen) == 2


def test_the_never_policy_does_not_ask(qtbot, page: TrainPage) -> None:  # noqa: ANN001
    page.set_app_settings(AppSettings(trust_remote_code="never"))
    with qtbot.waitSignal(page.sig_run_finished, timeout=120_000) as done:
        assert page.start()  # a box would block here: none is shown
    assert done.args[0].status == "failed"
    assert "needs its own Python code to load" in done.args[0].message
