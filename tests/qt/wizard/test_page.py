"""The planning wizard with real widgets on a copy of the sample project (tiny model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialog

from ftstudio.core.train_config import load_config
from ftstudio.qt.pages.wizard import PlanWizardPage
from ftstudio.qt.wizard.fields import FieldRow
from ftstudio.qt.wizard.gpu import GpuProbe, gpu_choice
from ftstudio.qt.wizard.plan import CONFIGS_KEY, STEPS
from tests.qt.wizard.conftest import drop_preferences

LEFT = Qt.MouseButton.LeftButton


def _make(qtbot, project, detect=list) -> PlanWizardPage:  # noqa: ANN001
    page = PlanWizardPage(gpu_probe=GpuProbe(detect=detect))
    qtbot.addWidget(page, before_close_func=lambda w: w.shutdown())
    page.resize(1120, 800)
    page.set_project(project)
    page.show()
    qtbot.waitExposed(page)
    return page


@pytest.fixture
def wizard(qtbot, sample_project) -> PlanWizardPage:  # noqa: ANN001
    page = _make(qtbot, sample_project)
    qtbot.waitUntil(lambda: page.planner.stats is not None)
    return page


def _row(page: PlanWizardPage, field: str) -> FieldRow:
    return page.steps["hyperparameters"].rows[field]


def _type(qtbot, row: FieldRow, text: str) -> None:  # noqa: ANN001
    row.editor.selectAll()
    qtbot.keyClicks(row.editor, text)


def _click(qtbot, button) -> None:  # noqa: ANN001
    """Click a radio button or check box where it reacts: its indicator, at the left."""
    qtbot.waitUntil(lambda: button.height() > 0)  # laid out since it was last shown
    qtbot.mouseClick(button, LEFT, pos=QPoint(8, button.height() // 2))


def _settled_total(qtbot, page: PlanWizardPage) -> float:  # noqa: ANN001
    qtbot.waitUntil(lambda: not page.memory_timer.isActive())
    return page.memory_bar.estimate.total_gb


def test_walk_every_step_on_the_sample_project(qtbot, wizard) -> None:  # noqa: ANN001
    assert wizard.current_step() == "model"
    model = wizard.steps["model"]
    assert model.source_buttons["catalogue"].isChecked()
    assert model.table.item(model.table.currentRow(), 0).text() == "ftstudio tiny model"
    assert model.table.item(model.table.currentRow(), 1).text() == "224 K"
    assert [box.text() for box in model.module_boxes.values()][:4] == [
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
    ]
    assert model.preset_combo.currentData() == "recommended"
    assert not wizard.back_button.isEnabled()
    assert wizard.memory_bar.isVisible()
    for expected in STEPS[1:]:
        assert wizard.next_button.isEnabled(), wizard.status_label.text()
        qtbot.mouseClick(wizard.next_button, LEFT)
        assert wizard.current_step() == expected
        assert wizard.steps[expected].isVisible()
        assert wizard.memory_bar.isVisible()  # on every step
        assert wizard.step_list.currentRow() == STEPS.index(expected)
    data = wizard.steps["data"]
    assert "77 usable examples" in data.summary_label.text()
    assert "minimum" in data.band_label.text()
    assert "Characters per example" in data.lengths_label.text()
    review = wizard.steps["review"]
    assert not wizard.next_button.isVisible()
    assert wizard.save_button.isVisible()
    assert wizard.save_button.isEnabled()
    assert "base_model: ftstudio:tiny" in review.yaml_view.toPlainText()
    assert "Training time:" in review.time_label.text()
    assert "configs/qlora-sft.yaml" in review.path_label.text()
    qtbot.mouseClick(wizard.back_button, LEFT)
    assert wizard.current_step() == "hyperparameters"
    wizard.step_list.setCurrentRow(0)
    assert wizard.current_step() == "model"


def test_changing_rank_and_max_length_moves_the_memory_bar(qtbot, wizard) -> None:  # noqa: ANN001
    wizard.steps["model"].table.selectRow(2)  # Llama 3.1 8B: the numbers are large
    assert wizard.planner.model_value == "meta-llama/Llama-3.1-8B-Instruct"
    wizard.go_to("hyperparameters")
    first = _settled_total(qtbot, wizard)
    _type(qtbot, _row(wizard, "r"), "64")
    assert wizard.memory_timer.isActive()  # debounced: redrawn after the typing pauses
    assert wizard.memory_bar.estimate.total_gb == first
    rank = _settled_total(qtbot, wizard)
    assert rank > first
    assert f"{rank:.1f} GB" in wizard.memory_bar.total_label.text()
    _type(qtbot, _row(wizard, "max_length"), "4096")
    longer = _settled_total(qtbot, wizard)
    assert longer > rank
    assert wizard.planner.config().max_length == 4096
    assert wizard.planner.config().alpha == 128  # alpha follows 2 × r


def test_an_invalid_value_is_explained_inline_and_blocks_next(qtbot, wizard) -> None:  # noqa: ANN001
    wizard.go_to("hyperparameters")
    row = _row(wizard, "learning_rate")
    _type(qtbot, row, "abc")
    assert row.message_label.isVisible()
    assert "'abc' is not a number" in row.message_label.text()
    assert not wizard.next_button.isEnabled()
    assert "Learning rate" in wizard.status_label.text()
    assert "1 value to fix" in wizard.steps["hyperparameters"].problems_label.text()
    review = wizard.step_list.item(STEPS.index("review"))
    assert not review.flags() & Qt.ItemFlag.ItemIsEnabled
    assert not wizard.go_to("review")
    _type(qtbot, row, "0.5")
    assert "out of range: enter a value from 1e-8 to 0.01" in row.message_label.text()
    _type(qtbot, row, "3e-4")
    assert not row.message_label.isVisible()
    assert wizard.next_button.isEnabled()
    assert wizard.planner.config().learning_rate == 3e-4
    _type(qtbot, row, "1e-3")  # valid, but outside QLoRA's range: a warning, not a block
    assert "outside QLoRA's usual" in row.message_label.text()
    assert wizard.next_button.isEnabled()


def test_reset_to_recommended_restores_the_values(qtbot, wizard) -> None:  # noqa: ANN001
    wizard.go_to("hyperparameters")
    step = wizard.steps["hyperparameters"]
    recommended = wizard.planner.config()
    assert not step.reset_button.isEnabled()
    _type(qtbot, _row(wizard, "r"), "32")
    _type(qtbot, _row(wizard, "epochs"), "abc")
    _click(qtbot, _row(wizard, "packing").editor)
    scheduler = _row(wizard, "lr_scheduler").editor
    scheduler.setFocus()
    qtbot.keyClick(scheduler, Qt.Key.Key_Down)
    assert wizard.planner.config().lr_scheduler == "linear"
    assert wizard.planner.config().packing
    assert "↺ Recommended: 8" in _row(wizard, "r").recommended_button.text()
    assert step.reset_button.isEnabled()
    qtbot.mouseClick(step.reset_button, LEFT)
    assert wizard.planner.config() == recommended
    assert _row(wizard, "r").editor.text() == "8"
    assert _row(wizard, "epochs").editor.text() == "5"
    assert not _row(wizard, "epochs").message_label.isVisible()
    assert not _row(wizard, "packing").editor.isChecked()
    assert scheduler.currentText() == "cosine"
    assert _row(wizard, "r").recommended_button.text() == "✓ recommended"
    assert not step.reset_button.isEnabled()
    # One field back to its recommendation with its own button.
    _type(qtbot, _row(wizard, "seed"), "7")
    qtbot.mouseClick(_row(wizard, "seed").recommended_button, LEFT)
    assert _row(wizard, "seed").editor.text() == "0"


def test_each_field_shows_its_help_and_the_reason(wizard) -> None:  # noqa: ANN001
    wizard.go_to("hyperparameters")
    rank = _row(wizard, "r")
    assert rank.editor.toolTip().startswith("Size of the adapter matrices. 8: lightweight")
    assert rank.help_label.text() == "Size of the adapter matrices."
    assert "77 examples: rank 8" in rank.why_label.text()
    assert "99 % of your examples fit" in _row(wizard, "max_length").why_label.text()
    assert _row(wizard, "dpo_beta").why_label.text() == "Used by DPO only."


def test_save_writes_yaml_that_loads_back_equal(qtbot, wizard, sample_project) -> None:  # noqa: ANN001
    wizard.go_to("hyperparameters")
    _type(qtbot, _row(wizard, "r"), "16")
    _type(qtbot, _row(wizard, "seed"), "42")
    wizard.go_to("review")
    review = wizard.steps["review"]
    review.name_edit.clear()
    qtbot.keyClicks(review.name_edit, "support-v1")
    with qtbot.waitSignal(wizard.sig_saved) as blocker:
        qtbot.mouseClick(wizard.save_button, LEFT)
    path = sample_project.folder / "configs" / "support-v1.yaml"
    assert blocker.args == [path]
    loaded = load_config(path)
    assert loaded == wizard.planner.config()
    assert (loaded.r, loaded.seed, loaded.base_model) == (16, 42, "ftstudio:tiny")
    assert review.yaml_view.toPlainText() == path.read_text(encoding="utf-8")
    assert "# Run it with: ftstudio train configs/support-v1.yaml" in review.yaml_view.toPlainText()
    assert "Saved" in review.saved_label.text()
    assert str(path) in review.saved_label.text()
    manifest = json.loads(sample_project.manifest_path.read_text(encoding="utf-8"))
    assert manifest[CONFIGS_KEY] == {"support-v1": "configs/support-v1.yaml"}
    assert manifest["datasets"]["train"] == "datasets/it_support.jsonl"  # other keys kept
    qtbot.keyClicks(review.name_edit, "/x")
    assert not wizard.save_button.isEnabled()
    assert "letters, digits" in review.path_label.text()


def test_dpo_is_offered_only_with_preference_pairs(qtbot, sample_project) -> None:  # noqa: ANN001
    page = _make(qtbot, sample_project)
    page.go_to("method")
    method = page.steps["method"]
    dpo = method.objective_buttons["dpo"]
    assert dpo.isEnabled()
    _click(qtbot, dpo)
    assert page.planner.objective == "dpo"
    page.go_to("data")
    qtbot.waitUntil(lambda: page.planner.stats is not None)
    data = page.steps["data"]
    assert "datasets/preferences.jsonl" in data.file_label.text()
    assert page.planner.stats.records == 28
    assert page.planner.config().epochs == 1
    page.shutdown()

    drop_preferences(sample_project)
    page = _make(qtbot, sample_project)
    page.go_to("method")
    method = page.steps["method"]
    assert not method.objective_buttons["dpo"].isEnabled()
    assert "this project has none yet" in method.dpo_note.text()
    assert method.objective_buttons["sft"].isChecked()


def test_method_choice_updates_defaults_and_memory_lines(qtbot, wizard) -> None:  # noqa: ANN001
    wizard.go_to("method")
    method = wizard.steps["method"]
    assert "GB" in method.memory_labels["full"].text()
    _click(qtbot, method.method_buttons["full"])
    assert wizard.planner.config().method == "full"
    assert wizard.planner.config().learning_rate == 1e-5
    wizard.go_to("hyperparameters")
    assert "Not used by full fine-tuning." in _row(wizard, "r").why_label.text()
    wizard.go_to("method")
    _click(qtbot, method.task_buttons["knowledge"])
    _click(qtbot, method.method_buttons["qlora"])
    assert wizard.planner.config().r == 16  # one rank step up for new knowledge


def test_a_model_folder_is_read_and_its_errors_shown(qtbot, wizard, model_folder: Path) -> None:  # noqa: ANN001
    model = wizard.steps["model"]
    _click(qtbot, model.source_buttons["folder"])
    assert model.source_pages["folder"].isVisible()
    assert not model.source_pages["catalogue"].isVisible()
    assert not wizard.next_button.isEnabled()  # no folder yet
    qtbot.keyClicks(model.folder_edit, str(model_folder))
    assert not model.error_label.isVisible()
    assert "my-qwen" in model.summary_label.text()
    assert wizard.planner.config().base_model == str(model_folder)
    assert wizard.next_button.isEnabled()
    (model_folder / "tokenizer.json").unlink()
    model.folder_edit.setText(str(model_folder))
    model.folder_edit.setText(str(model_folder) + "/")
    assert model.error_label.isVisible()
    assert "has no tokenizer" in model.error_label.text()
    assert not wizard.next_button.isEnabled()
    assert "Base model" in wizard.status_label.text()


def test_a_hub_id_is_refused_offline(qtbot, wizard) -> None:  # noqa: ANN001
    model = wizard.steps["model"]
    _click(qtbot, model.source_buttons["hub"])
    qtbot.keyClicks(model.hub_edit, "Qwen/Qwen2.5-7B-Instruct")
    assert "You are offline" in model.error_label.text()
    assert not wizard.next_button.isEnabled()
    assert not model.offline_probe.is_running()  # HF_HUB_OFFLINE answers without probing
    _click(qtbot, model.source_buttons["catalogue"])
    assert wizard.next_button.isEnabled()


def test_catalogue_choice_and_target_presets(qtbot, wizard) -> None:  # noqa: ANN001
    model = wizard.steps["model"]
    row = next(i for i, e in enumerate(model.entries) if e.name == "phi-3-mini-4k")
    model.table.selectRow(row)
    assert wizard.planner.model_value == "microsoft/Phi-3-mini-4k-instruct"
    assert list(model.module_boxes) == ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
    model.preset_combo.setCurrentIndex(model.preset_combo.findData("full"))
    model.preset_combo.activated.emit(model.preset_combo.currentIndex())
    assert wizard.planner.config().target_modules == (
        "qkv_proj",
        "o_proj",
        "gate_up_proj",
        "down_proj",
    )
    _click(qtbot, model.module_boxes["down_proj"])
    assert model.preset_combo.currentData() == "custom"
    for name in ("qkv_proj", "o_proj", "gate_up_proj"):
        _click(qtbot, model.module_boxes[name])
    assert "at least one target module" in model.targets_message.text()
    assert not wizard.next_button.isEnabled()
    qtbot.mouseClick(model.targets_recommended, LEFT)
    assert wizard.planner.target_choice is None
    assert wizard.next_button.isEnabled()


def test_a_detected_gpu_is_planned_for(qtbot, sample_project) -> None:  # noqa: ANN001
    card = gpu_choice("NVIDIA GeForce RTX 4090", 23.99)
    page = _make(qtbot, sample_project, detect=lambda: [card])
    qtbot.waitUntil(lambda: page.planner.gpu == card)
    assert page.memory_bar.gpu_status.text() == "Detected:"
    assert page.memory_bar.gpu_combo.currentText() == card.label
    page.go_to("review")
    assert "NVIDIA GeForce RTX 4090" in page.steps["review"].time_label.text()


def test_the_cheapest_fix_can_be_applied(qtbot, wizard) -> None:  # noqa: ANN001
    model = wizard.steps["model"]
    model.table.selectRow(2)  # Llama 3.1 8B
    wizard.go_to("method")
    _click(qtbot, wizard.steps["method"].method_buttons["lora"])
    wizard.go_to("hyperparameters")
    _type(qtbot, _row(wizard, "per_device_batch_size"), "16")
    _type(qtbot, _row(wizard, "max_length"), "4096")
    qtbot.waitUntil(lambda: wizard.memory_bar.apply_button.isVisible())
    before = wizard.memory_bar.estimate
    assert before.verdict == "won't fit"
    qtbot.mouseClick(wizard.memory_bar.apply_button, LEFT)
    after = _settled_total(qtbot, wizard)
    assert after == pytest.approx(before.suggestions[0].total_gb)
    assert wizard.memory_bar.estimate.verdict == "fits"


def test_token_lengths_measured_with_the_models_tokenizer(
    qtbot, wizard, tiny_model_dir: Path
) -> None:  # noqa: ANN001
    wizard.planner.choose_model(str(tiny_model_dir), "folder")
    wizard.go_to("data")
    data = wizard.steps["data"]
    assert data.measure_button.isVisible()
    qtbot.waitUntil(lambda: data.measure_button.height() > 0)
    with qtbot.waitSignal(data.measurer.sig_idle, timeout=60_000):
        qtbot.mouseClick(data.measure_button, LEFT)
    assert wizard.planner.stats.token_counts
    assert "Tokens per example (measured)" in data.lengths_label.text()
    assert not data.measure_button.isVisible()
    advice = wizard.planner.advice("max_length")
    assert "Estimated from characters" not in advice.why


def test_validation_share_is_checked_on_the_data_step(qtbot, wizard) -> None:  # noqa: ANN001
    wizard.go_to("data")
    row = wizard.steps["data"].val_row
    _type(qtbot, row, "0.9")
    assert "out of range" in row.message_label.text()
    assert not wizard.next_button.isEnabled()
    _type(qtbot, row, "0.2")
    assert wizard.next_button.isEnabled()
    assert "15 examples held back" in wizard.steps["data"].split_label.text()


def test_without_a_project_nothing_can_be_saved(qtbot) -> None:  # noqa: ANN001
    page = PlanWizardPage(gpu_probe=GpuProbe(detect=list))
    qtbot.addWidget(page, before_close_func=lambda w: w.shutdown())
    page.show()
    assert page.planner.project is None
    assert page.go_to("data")
    assert "No project is open" in page.steps["data"].summary_label.text()
    assert not page.next_button.isEnabled()
    assert not page.go_to("review")


def test_the_main_window_opens_the_wizard_on_its_project(qtbot, user_dirs, sample_project) -> None:  # noqa: ANN001
    from ftstudio.core.settings import SettingsStore
    from ftstudio.qt.main_window import MainWindow

    window = MainWindow(SettingsStore(user_dirs["config"]), remember=False)
    qtbot.addWidget(window)
    window.set_project(sample_project)
    window.show()
    window.show_plan_wizard()
    dialog = next(d for d in window.findChildren(QDialog) if d.isVisible())
    page = dialog.findChild(PlanWizardPage)
    assert page.planner.project is sample_project
    with qtbot.waitSignal(dialog.destroyed):
        dialog.reject()


def test_the_hub_is_probed_when_offline_mode_is_off(qtbot, wizard, monkeypatch) -> None:  # noqa: ANN001
    """Without HF_HUB_OFFLINE the wizard asks the network once; whatever the answer, the
    hub id is judged by it (an error offline, a download note online)."""
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE")
    wizard.set_project(wizard.project)  # a new planner that does not know yet
    assert wizard.planner.offline is None
    model = wizard.steps["model"]
    with qtbot.waitSignal(model.offline_probe.sig_idle, timeout=10_000):
        _click(qtbot, model.source_buttons["hub"])
        qtbot.keyClicks(model.hub_edit, "Qwen/Qwen2.5-7B-Instruct")
    assert wizard.planner.offline in (True, False)
    if wizard.planner.offline:
        assert "You are offline" in model.error_label.text()
        assert not wizard.next_button.isEnabled()
    else:
        assert "only when training starts" in model.note_label.text()
        assert wizard.next_button.isEnabled()


def test_gpu_detection_starts_when_shown_not_when_built(qtbot, sample_project) -> None:  # noqa: ANN001
    calls = []
    probe = GpuProbe(detect=lambda: calls.append(1) or [])
    page = PlanWizardPage(gpu_probe=probe)
    qtbot.addWidget(page, before_close_func=lambda w: w.shutdown())
    page.set_project(sample_project)
    assert calls == []
    assert page.memory_bar.gpu_status.text() == "Looking for a GPU…"
    with qtbot.waitSignal(probe.sig_finished):
        page.show()
    assert calls == [1]
    assert page.memory_bar.gpu_status.text() == "No CUDA GPU found; plan for:"
    assert page.planner.gpu.memory_gb == 24.0


def test_large_files_are_read_off_the_gui_thread(qtbot, sample_project) -> None:  # noqa: ANN001
    page = PlanWizardPage(gpu_probe=GpuProbe(detect=list))
    qtbot.addWidget(page, before_close_func=lambda w: w.shutdown())
    data = page.steps["data"]
    data.inline_read_bytes = 0  # every file counts as large
    with qtbot.waitSignal(data.reader.sig_finished, timeout=10_000):
        page.set_project(sample_project)
        assert page.planner.stats is None  # not read yet: the thread is working
        assert data.reader.is_running()
    assert page.planner.stats.usable == 77
    assert page.planner.config().r == 8  # the recommendation follows the data
