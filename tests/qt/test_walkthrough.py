"""The five-minute walkthrough, driven through the widgets only, like a new user would.

The real studio window, on the sample project: open it from the welcome view, take the
tour, let the dataset load and check it against a max length, answer the guide, plan a
20-step LoRA run of the tiny model in the wizard, train it, evaluate it against its base
model and rate a playground answer, export it merged and as GGUF with their parity
checks, and find it on the Runs page. Every action is a click or a key press on a
widget; assertions read what the widgets show (and the files the user would get).

Set ``FTSTUDIO_WALKTHROUGH_SHOTS=<folder>`` to save a picture of every step.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from ftstudio.core.settings import SettingsStore
from ftstudio.core.train_config import load_config
from ftstudio.qt.dataset.table_model import COL_LENGTH
from ftstudio.qt.dataset.workers import wait_for_all_threads
from ftstudio.qt.main_window import MainWindow
from ftstudio.qt.pages.wizard import PlanWizardPage
from ftstudio.qt.style import apply_style
from tests.qt.walkthrough_helpers import (
    Screenshots,
    button,
    choose,
    click,
    click_option,
    click_tab,
    go_to_page,
    menu_action,
    open_dialog,
    type_over,
    wait_for,
)

pytestmark = pytest.mark.slow

STEPS = 20
MAX_LENGTH = 512
TRAIN_TIMEOUT_MS = 240_000
WORK_TIMEOUT_MS = 180_000
PLAN = {  # the Hyperparameters step's fields the user changes, as typed
    "max_steps": str(STEPS),
    "per_device_batch_size": "2",
    "grad_accum": "1",
    "max_length": str(MAX_LENGTH),
    "learning_rate": "2e-3",  # the tiny model learns visibly within 20 steps
    "eval_steps": "10",
    "save_steps": "10",
}
METRICS = ("exact_match", "rouge_l", "bleu", "loss", "perplexity")


@pytest.fixture
def window(qtbot, user_dirs):  # noqa: ANN001, ANN201
    """The studio window as it first opens (no project yet), on screen."""
    apply_style(QApplication.instance(), "light")
    win = MainWindow(SettingsStore(user_dirs["config"]), remember=False)
    # Even after a failure, the run and the workers stop before pytest-qt closes the
    # window (closing during a run asks the user, which would wait for ever).
    qtbot.addWidget(win, before_close_func=lambda w: _stop_everything(qtbot, w))
    win.resize(1280, 860)
    win.show()
    qtbot.waitExposed(win)
    yield win
    assert wait_for_all_threads(60_000), "a worker thread did not finish"


def _stop_everything(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    """Stop a run, an export and every worker, and wait until the pages know it."""
    window.shutdown_pages()
    qtbot.waitUntil(
        lambda: not window.train_page.is_running() and not window.page("export").is_running(),
        timeout=30_000,
    )


def test_from_the_sample_project_to_an_exported_model(qtbot, window, user_dirs) -> None:  # noqa: ANN001
    shot = Screenshots()

    # ---- 1. Open the sample project from the welcome view, then take the tour.
    assert window.central.currentWidget() is window.welcome
    shot(window, "welcome")
    click(qtbot, button(window.welcome, "Open the sample project"))
    assert window.windowTitle() == "IT Support Sample — ftstudio"
    project = window.project.folder
    assert project.is_relative_to(user_dirs["data"].resolve())
    menu_action(window, "Help", "Take the Tour").trigger()
    tour = window.tour
    assert tour is not None
    assert tour.is_active()
    toured = []
    while tour.is_active():
        toured.append(window.current_page().key)
        shot(window, f"tour-{len(toured)}")
        click(qtbot, tour.bubble.next_button)  # "Next", then "Done" on the last step
    assert toured == ["guide", "dataset", "train", "evaluate", "runs", "export", "export"]
    assert not tour.bubble.isVisible()

    # ---- 2. Dataset: the sample loads, its tokens are counted, then checked at 512.
    go_to_page(qtbot, window, "Dataset")
    dataset = window.dataset_page
    assert dataset.file_combo.currentText().startswith("it_support.jsonl")
    # Counting with the tiny model's tokenizer starts on its own (the model is built first).
    qtbot.waitUntil(lambda: "tokens" in dataset.count_label.text(), timeout=WORK_TIMEOUT_MS)
    assert dataset.count_label.text().startswith("77 examples · ")
    assert dataset.issues_panel.summary_label.text() == "No problems found."
    assert dataset.bottom_tabs.tabText(0) == "Issues"
    shot(window, "dataset")
    lengths = [
        int(dataset.proxy.index(row, COL_LENGTH).data().replace(",", ""))
        for row in range(dataset.proxy.rowCount())
    ]
    too_long = sum(length > MAX_LENGTH for length in lengths)
    assert len(lengths) == 77
    assert 0 < too_long < 77
    click_tab(qtbot, dataset.side_tabs, "What the model learns")
    type_over(qtbot, dataset.preview.max_length_spin, str(MAX_LENGTH), enter=True)
    summary = f"0 errors · {too_long} warning{'s' if too_long > 1 else ''}"
    qtbot.waitUntil(lambda: dataset.issues_panel.summary_label.text() == summary)
    assert dataset.bottom_tabs.tabText(0) == f"Issues ({too_long})"
    codes = dataset.issues_panel.code_combo
    assert [codes.itemText(i) for i in range(codes.count())] == [
        "All problems",
        f"too_long ({too_long})",
    ]
    shot(window, "dataset-checked")
    click_tab(qtbot, dataset.side_tabs, "Statistics")
    stats = dataset.stats_panel
    qtbot.waitUntil(lambda: f"{too_long} longer than the max length" in stats.facts_label.text())
    assert "77 usable examples" in stats.verdict_label.text()
    shot(window, "dataset-statistics")

    # ---- 3. Guide: two answers lead to the recommendation, saved with the project.
    go_to_page(qtbot, window, "Guide")
    guide = window.page("guide")
    assert guide.question_card.isVisible()
    for answer in ("needs_knowledge", "stable"):
        [choice] = [b for b in guide.answer_buttons if b.answer_id == answer]
        click(qtbot, choice)
    assert guide.outcome_card.isVisible()
    assert guide.outcome_title.text() == "Fine-tune"
    assert "77 usable examples" in guide.reasons_label.text()
    assert guide.path_card.text_label.text().count("<li") == 2
    manifest = json.loads((project / "project.json").read_text(encoding="utf-8"))
    assert manifest["guide"]["outcome"] == "fine_tune"
    shot(window, "guide")

    # ---- 4. Plan the run in the wizard (Train ▸ Plan a training run…).
    go_to_page(qtbot, window, "Train")
    train = window.train_page
    click(qtbot, train.plan_button)
    dialog = open_dialog(window, "Plan a training run")
    qtbot.waitExposed(dialog)
    [wizard] = dialog.findChildren(PlanWizardPage)
    qtbot.waitUntil(lambda: wizard.planner.stats is not None, timeout=WORK_TIMEOUT_MS)
    model = wizard.steps["model"]
    assert model.table.item(model.table.currentRow(), 0).text() == "ftstudio tiny model"
    shot(dialog, "wizard-model")
    click(qtbot, wizard.next_button)
    assert wizard.current_step() == "method"
    click_option(qtbot, wizard.steps["method"].method_buttons["lora"])
    shot(dialog, "wizard-method")
    click(qtbot, wizard.next_button)
    assert wizard.current_step() == "data"
    assert "77 usable examples" in wizard.steps["data"].summary_label.text()
    shot(dialog, "wizard-data")
    click(qtbot, wizard.next_button)
    assert wizard.current_step() == "hyperparameters"
    hyperparameters = wizard.steps["hyperparameters"]
    for field, text in PLAN.items():
        type_over(qtbot, hyperparameters.rows[field].editor, text)
        assert wizard.status_label.text() == "", f"{field}: {wizard.status_label.text()}"
    assert not hyperparameters.problems_label.isVisible()
    shot(dialog, "wizard-hyperparameters")
    click(qtbot, wizard.next_button)
    assert wizard.current_step() == "review"
    review = wizard.steps["review"]
    assert review.name_edit.text() == "lora-sft"
    assert f"max_steps: {STEPS}" in review.yaml_view.toPlainText()
    click(qtbot, wizard.save_button)
    plan = project / "configs" / "lora-sft.yaml"
    assert "Saved" in review.saved_label.text()
    assert str(plan) in review.saved_label.text()
    config = load_config(plan)
    assert (config.base_model, config.method, config.objective) == ("ftstudio:tiny", "lora", "sft")
    assert (config.max_steps, config.per_device_batch_size, config.grad_accum) == (STEPS, 2, 1)
    assert (config.max_length, config.eval_steps, config.save_steps) == (MAX_LENGTH, 10, 10)
    assert config.learning_rate == 2e-3
    shot(dialog, "wizard-saved")
    close = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Close)
    click(qtbot, close)
    qtbot.waitUntil(lambda: not dialog.isVisible())

    # ---- 5. Train the plan: 20 steps, two validations, two checkpoints.
    qtbot.waitUntil(lambda: train.config_combo.findText("lora-sft") >= 0, timeout=10_000)
    choose(qtbot, train.config_combo, "lora-sft")
    summary_rows = dict(train.summary_grid.rows)
    assert summary_rows["File"] == "configs/lora-sft.yaml"
    assert summary_rows["Length"] == f"{STEPS} steps"
    assert summary_rows["Method"].startswith("LoRA")
    shot(window, "train-plan")
    click(qtbot, train.start_button)
    assert not train.start_button.isEnabled()
    assert train.stop_button.isEnabled()
    wait_for(
        qtbot,
        lambda: not train.is_running() and train.start_button.isEnabled(),
        TRAIN_TIMEOUT_MS,
        lambda: f"{train.status_label.text()} | {train.progress_label.text()}",
    )
    assert train.status_label.text() == f"Finished all {STEPS} steps."
    assert not train.stop_button.isEnabled()
    assert (train.progress.value(), train.progress.maximum()) == (STEPS, STEPS)
    assert train.progress_label.text().startswith(f"Step {STEPS} of {STEPS}")
    assert train.plots.point_count("loss") == STEPS
    assert train.plots.point_count("eval_loss") == 2
    assert train.plots.point_count("learning_rate") == STEPS
    log = train.log.toPlainText()
    assert f"Training started: lora on cpu, {STEPS} steps" in log
    assert "Checkpoint saved at step 10" in log
    runs = [path for path in (project / "runs").iterdir() if path.is_dir()]
    assert len(runs) == 1
    run = runs[0]
    assert (run / "adapter" / "adapter_model.safetensors").is_file()
    assert (run / "checkpoint-10").is_dir()
    assert (run / "checkpoint-20").is_dir()
    assert window.counts_label.text() == "2 dataset file(s) · 1 run(s)"
    shot(window, "train-finished")

    # ---- 6. Evaluate: the held-out examples scored for both models, then the playground.
    go_to_page(qtbot, window, "Evaluate")
    evaluate = window.page("evaluate")
    assert evaluate.run_combo.count() == 1
    assert evaluate.run_combo.currentText().startswith("lora-sft · finished")
    assert evaluate.adapter_combo.currentText() == "Final adapter"
    click_tab(qtbot, evaluate.tabs, "Evaluation")
    scores = evaluate.eval_view
    type_over(qtbot, scores.limit_spin, "2")
    type_over(qtbot, scores.tokens_spin, "16")
    click(qtbot, scores.run_button)
    qtbot.waitUntil(
        lambda: scores.progress.status().startswith("Evaluated 2 examples"),
        timeout=WORK_TIMEOUT_MS,
    )
    assert scores.examples_model.rowCount() == 2
    for name in METRICS:
        for side in ("base", "tuned"):
            assert scores.summary_value(name, side), f"no {side} value for {name}"
    assert float(scores.summary_value("loss", "tuned")) < float(
        scores.summary_value("loss", "base")
    )
    assert scores.forgetting_label.text()
    assert (run / "eval" / "report.json").is_file()
    shot(window, "evaluation")

    click_tab(qtbot, evaluate.tabs, "Playground")
    playground = evaluate.playground
    type_over(qtbot, playground.settings_form.editors["max_new_tokens"], "16")
    question = "My VPN keeps disconnecting. What should I do?"
    qtbot.keyClicks(playground.prompt_edit, question)
    click(qtbot, playground.send_button)
    qtbot.waitUntil(
        lambda: playground.progress.status().startswith("Both models answered"),
        timeout=WORK_TIMEOUT_MS,
    )
    for pane in (playground.base_pane, playground.tuned_pane):
        [turn] = pane.turns
        assert (turn.question, turn.state) == (question, "done")
        assert turn.answer.strip()
    preferences = project / "datasets" / "preferences.jsonl"
    before = preferences.read_text(encoding="utf-8").splitlines()
    click(qtbot, button(playground.rating, "Tuned is better"))
    after = preferences.read_text(encoding="utf-8").splitlines()
    assert len(after) == len(before) + 1
    pair = json.loads(after[-1])
    assert pair["prompt"][-1]["content"] == question
    assert pair["chosen"][0]["content"] == playground.tuned_pane.turns[0].answer.strip()
    assert pair["rejected"][0]["content"] == playground.base_pane.turns[0].answer.strip()
    status = playground.rating.status_label.text()
    assert status.startswith(f"Saved as line {len(after)} of datasets/preferences.jsonl")
    shot(window, "playground")

    # ---- 7. Export: merged (the merge), then GGUF q8_0, each with a passed parity check.
    go_to_page(qtbot, window, "Export")
    export = window.page("export")
    assert export.run_combo.count() == 1
    assert export.run_combo.currentText().startswith(f"lora-sft · {run.name}")
    exported = []
    for fmt, quant in (("merged", None), ("gguf", "q8_0")):
        click_option(qtbot, export.format_buttons[fmt])
        if quant is not None:
            choose(qtbot, export.quant_combo, quant)
        out = Path(export.out_edit.text())
        assert out.parent == project / "exports"
        click(qtbot, export.export_button)
        qtbot.waitUntil(
            lambda: export.export_button.isEnabled() and export.status_label.text() != "",
            timeout=WORK_TIMEOUT_MS,
        )
        assert export.status_label.text().endswith("parity passed."), export.status_label.text()
        banner = export.parity_view.banner.text()
        assert banner.startswith(f"Parity passed: the {fmt} export answers like the trained")
        assert (out / "parity.json").is_file()
        exported.append(out)
        shot(window, f"export-{fmt}")
    merged, gguf = exported
    assert (merged / "model.safetensors").is_file()
    assert len(list(gguf.glob("*.gguf"))) == 1
    assert export.exports_table.topLevelItemCount() == 2

    # ---- 8. Runs: the run is listed, finished.
    go_to_page(qtbot, window, "Runs")
    runs_page = window.page("runs")
    assert runs_page.proxy.rowCount() == 1
    cells = [
        runs_page.proxy.index(0, column).data() for column in range(runs_page.proxy.columnCount())
    ]
    assert cells[:2] == ["finished", "lora-sft"]
    shot(window, "runs")

    # ---- Quit from the menu: nothing is left running.
    menu_action(window, "Project", "Quit").trigger()
    qtbot.waitUntil(lambda: not window.isVisible())
    assert not train.is_running()
    assert not export.is_running()
