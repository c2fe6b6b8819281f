"""Train ▸ Train with OpenAI…: the check, the confirmation step, and the job in the monitor.

The real ``openai`` client talks to the loopback server of ``tests/openai_server.py``
(OpenAI's endpoints, recording every request);
the API key is in keyring's real API with an in-memory backend plugged in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt

from ftstudio.core.events import Finished
from ftstudio.core.project import Project
from ftstudio.core.runs import read_run_file
from ftstudio.core.settings import AppSettings
from ftstudio.qt.dialogs.settings_dialog import AccountsDialog
from ftstudio.qt.openai.dialog import UNDERSTOOD, OpenAIDialog
from ftstudio.qt.pages.train import TrainPage
from ftstudio.qt.wizard.gpu import GpuReport, gpu_choice
from tests.fake_keyring import MemoryKeyring
from tests.openai_server import (
    API_KEY,
    SUCCESS,
    TUNED,
    Step,
    metrics,
    tree_bytes,
)
from tests.qt.helpers import answer_next_box

LONG_JOB = [Step("running", [metrics(1, 100, 2.5)])] + [Step("running") for _ in range(2000)]
"""A job that keeps running (one step reported) for as long as a test needs."""


@pytest.fixture
def stored_key(memory_keyring: MemoryKeyring) -> str:
    memory_keyring.passwords[("ftstudio", "openai")] = API_KEY
    return API_KEY


def checked(qtbot, dialog: OpenAIDialog) -> Any:  # noqa: ANN001
    qtbot.waitUntil(lambda: dialog.plan is not None and not dialog.is_checking(), timeout=15_000)
    return dialog.plan


@pytest.fixture
def page(qtbot, sample_project: Project) -> Iterator[TrainPage]:  # noqa: ANN001
    widget = TrainPage()
    qtbot.addWidget(widget)
    widget.set_project(sample_project)
    widget.openai_poll_interval = 0.01
    widget.resize(1100, 1500)
    widget.show()
    yield widget
    if widget.openai_runner.is_running():
        widget.openai_runner.detach()
        assert widget.openai_runner.wait(30)
        qtbot.waitUntil(lambda: not widget.is_running(), timeout=10_000)


# ---------------------------------------------------------------------------- the dialog


def test_the_check_shows_counts_epochs_and_tokens(
    qtbot,
    sample_project: Project,
    stored_key: str,  # noqa: ANN001
) -> None:
    dialog = OpenAIDialog(sample_project)
    qtbot.addWidget(dialog)
    assert dialog.dataset_combo.currentText() == "datasets/it_support.jsonl"
    plan = checked(qtbot, dialog)
    assert plan.ok
    report = dialog.report_view.toPlainText()
    assert "70 of 70 training examples usable" in report
    assert "Epochs: auto. OpenAI chooses them from the number of training examples" in report
    assert f"about {plan.billed_tokens:,} trained tokens billed" in report
    assert "it_support-train.jsonl: 70 training examples" in report
    assert "it_support-validation.jsonl: 7 validation examples" in report
    assert dialog.next_button.isEnabled()
    assert not dialog.upload_button.isVisible()
    assert "stored in the OS keyring" in dialog.key_label.text()

    epochs = dialog.form.editors["n_epochs"]
    assert epochs.text() == "auto"
    epochs.setValue(2)
    assert not dialog.next_button.isEnabled(), "the plan is stale until checked again"
    plan = checked(qtbot, dialog)
    assert plan.epochs == 2
    qtbot.waitUntil(lambda: "Epochs: 2, as set." in dialog.report_view.toPlainText())
    assert dialog.next_button.isEnabled()


def test_problems_are_listed_with_their_lines(
    qtbot,
    sample_project: Project,
    stored_key: str,  # noqa: ANN001
) -> None:
    lines = (sample_project.folder / "datasets" / "it_support.jsonl").read_text().splitlines()
    broken = json.loads(lines[2])
    broken["messages"] = [m for m in broken["messages"] if m["role"] != "assistant"]
    rows = [lines[0], lines[1], json.dumps(broken), *lines[3:6]]
    (sample_project.folder / "datasets" / "few.jsonl").write_text("\n".join(rows) + "\n")
    dialog = OpenAIDialog(sample_project)
    qtbot.addWidget(dialog)
    checked(qtbot, dialog)
    dialog.dataset_combo.setCurrentIndex(dialog.dataset_combo.findText("datasets/few.jsonl"))
    qtbot.waitUntil(lambda: dialog.plan.dataset_path.endswith("few.jsonl"), timeout=15_000)
    plan = checked(qtbot, dialog)
    assert not plan.ok
    report = dialog.report_view.toPlainText()
    assert "The job cannot start:" in report
    assert "at least 10" in report
    assert "line 3" in report
    assert not dialog.next_button.isEnabled()
    dialog.show_step(1)
    assert dialog.stack.currentIndex() == 0, "no confirmation step for a plan with problems"


def test_the_checkbox_gates_the_upload_and_cancelling_sends_nothing(
    qtbot,
    sample_project: Project,
    stored_key: str,
    openai_server,  # noqa: ANN001
) -> None:
    server = openai_server(SUCCESS)
    dialog = OpenAIDialog(sample_project, base_url=server.base_url)
    qtbot.addWidget(dialog)
    dialog.show()
    plan = checked(qtbot, dialog)
    confirmed: list[Any] = []
    dialog.sig_confirmed.connect(confirmed.append)
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    assert dialog.stack.currentIndex() == 1
    assert dialog.confirm_text.text() == plan.confirmation_text()
    assert f"Upload to 127.0.0.1:{server.server.server_address[1]}" in dialog.confirm_text.text()
    assert dialog.understood.text() == UNDERSTOOD
    assert not dialog.understood.isChecked()
    assert dialog.upload_button.isVisible()
    assert not dialog.upload_button.isEnabled()
    assert "tick the box above" in dialog.status_label.text()
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    dialog.confirm()
    assert confirmed == []

    dialog.understood.setChecked(True)
    assert dialog.upload_button.isEnabled()
    dialog.understood.setChecked(False)
    qtbot.mouseClick(dialog.back_button, Qt.MouseButton.LeftButton)
    assert dialog.stack.currentIndex() == 0
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == dialog.DialogCode.Rejected
    assert confirmed == []
    assert server.requests == [], "nothing left the machine"
    runs = sample_project.folder / "runs"
    assert not runs.exists() or not [p for p in runs.iterdir() if p.is_dir()]


def test_without_a_key_the_dialog_links_to_the_accounts_settings(
    qtbot,
    sample_project: Project,
    memory_keyring: MemoryKeyring,  # noqa: ANN001
) -> None:
    dialog = OpenAIDialog(sample_project)
    qtbot.addWidget(dialog)
    dialog.show()
    checked(qtbot, dialog)
    assert "No OpenAI API key is stored yet" in dialog.key_label.text()
    assert "Settings ▸ Accounts" in dialog.key_label.text()
    dialog.show_step(1)
    dialog.understood.setChecked(True)
    assert not dialog.upload_button.isEnabled()
    assert "store an OpenAI API key" in dialog.status_label.text()

    dialog.key_label.linkActivated.emit("accounts")
    accounts = dialog.findChild(AccountsDialog)
    assert accounts is not None
    qtbot.waitUntil(lambda: accounts.accounts.loaded)
    row = accounts.accounts.rows["openai"]
    qtbot.keyClicks(row.edit, API_KEY)
    qtbot.mouseClick(row.save_button, Qt.MouseButton.LeftButton)
    assert memory_keyring.passwords[("ftstudio", "openai")] == API_KEY
    assert dialog.key_stored
    assert dialog.upload_button.isEnabled()
    accounts.reject()


def test_offline_mode_blocks_the_upload(
    qtbot,
    sample_project: Project,
    stored_key: str,  # noqa: ANN001
) -> None:
    dialog = OpenAIDialog(sample_project, offline=True)
    qtbot.addWidget(dialog)
    dialog.show()
    plan = checked(qtbot, dialog)
    assert plan.ok, "the check works offline"
    assert plan.report.token_method.startswith("estimated")
    assert dialog.offline_label.isVisible()
    assert "Offline mode is on (Settings ▸ Privacy ▸ Offline mode)" in dialog.offline_label.text()
    dialog.show_step(1)
    dialog.understood.setChecked(True)
    assert not dialog.can_upload()
    assert not dialog.upload_button.isEnabled()


# ---------------------------------------------------------------------------- the monitor


def test_a_confirmed_job_is_followed_in_the_train_page_monitor(
    qtbot,
    page: TrainPage,
    sample_project: Project,
    stored_key: str,
    openai_server,  # noqa: ANN001
) -> None:
    server = openai_server(SUCCESS)
    page.openai_base_url = server.base_url
    assert page.openai_button.isEnabled()
    qtbot.mouseClick(page.openai_button, Qt.MouseButton.LeftButton)
    dialog = page.openai_dialog
    assert isinstance(dialog, OpenAIDialog)
    checked(qtbot, dialog)
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    dialog.understood.setChecked(True)
    statuses: list[Any] = []
    page.openai_runner.sig_status.connect(statuses.append)
    with qtbot.waitSignal(page.sig_run_finished, timeout=60_000) as done:
        qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
        assert page.is_running()
        assert not page.start_button.isEnabled()
        assert not page.openai_button.isEnabled()
        assert page.stop_button.isEnabled()
    result = done.args[0]
    assert result.status == "finished", result.message
    assert result.fine_tuned_model == TUNED
    # The curves: training loss per step, validation loss where OpenAI reported it.
    assert list(page.history.series["loss"].y) == [2.10, 1.70, 1.40, 1.20]
    assert list(page.history.series["eval_loss"].x) == [2.0, 4.0]
    assert list(page.history.series["eval_loss"].y) == [1.90, 1.45]
    assert page.plots is not None
    assert page.progress.value() == page.progress.maximum() == 4
    assert TUNED in page.status_label.text()
    log = page.log.toPlainText()
    assert "OpenAI: Validating training file" in log
    assert "Some examples were truncated" in log  # OpenAI's warning
    assert [s.status for s in statuses if not s.message] == [
        "validating_files",
        "queued",
        "running",
        "succeeded",
    ]
    # Exactly the confirmed files were uploaded; the run is in the project.
    assert [u["content"] for u in server.uploads] == [f.content for f in dialog.plan.files]
    info = read_run_file(result.run_dir)
    assert (info["backend"], info["status"]) == ("openai", "finished")
    assert result.run_dir.parent == sample_project.folder / "runs"
    assert API_KEY.encode() not in tree_bytes(sample_project.folder)
    assert not page.is_running()
    assert page.openai_button.isEnabled()
    assert not page.reattach_row.isVisible()


def test_stop_asks_then_cancels_the_job_at_openai(
    qtbot,
    page: TrainPage,
    sample_project: Project,
    stored_key: str,
    openai_server,  # noqa: ANN001
) -> None:
    server = openai_server(LONG_JOB)
    page.openai_base_url = server.base_url
    dialog = page.open_openai_dialog()
    plan = checked(qtbot, dialog)
    steps: list[Any] = []
    page.openai_runner.sig_event.connect(steps.append)
    assert page.start_openai(plan)
    qtbot.waitUntil(lambda: len(page.history.series["loss"]) == 1, timeout=30_000)

    answer_next_box("Keep it running")
    assert page.stop_openai() == "keep"
    assert page.openai_runner.is_running()
    assert not page.openai_runner.cancel_requested()

    with qtbot.waitSignal(page.sig_run_finished, timeout=30_000) as done:
        answer_next_box("Cancel the job")
        qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
    assert done.args[0].status == "stopped"
    assert "POST /v1/fine_tuning/jobs/ftjob-Loopback0001/cancel" in server.paths()
    finished = [event for event in steps if isinstance(event, Finished)]
    assert finished[-1].status == "stopped"
    assert "cancelled as you asked" in page.status_label.text()


def test_closing_detaches_and_the_job_can_be_followed_again(
    qtbot,
    page: TrainPage,
    sample_project: Project,
    stored_key: str,
    openai_server,  # noqa: ANN001
) -> None:
    script = [
        Step("running", [metrics(1, 4, 2.10)]),
        *[Step("running") for _ in range(30)],
        *SUCCESS[3:],
    ]
    server = openai_server(script)
    page.openai_base_url = server.base_url
    plan = checked(qtbot, page.open_openai_dialog())
    assert page.start_openai(plan)
    qtbot.waitUntil(lambda: len(page.history.series["loss"]) == 1, timeout=30_000)
    with qtbot.waitSignal(page.sig_run_finished, timeout=30_000) as done:
        assert page.confirm_close(page), "closing never waits for an OpenAI job"
    assert done.args[0].status == "detached"
    assert "goes on at OpenAI" in page.status_label.text()

    # Next time the project is opened, the page offers to follow the job again.
    again = TrainPage()
    qtbot.addWidget(again)
    again.openai_poll_interval = 0.01
    again.set_project(sample_project)
    again.show()
    assert again.reattach_row.isVisible()
    assert done.args[0].run_dir.name in again.reattach_label.text()
    with qtbot.waitSignal(again.sig_run_finished, timeout=60_000) as followed:
        qtbot.mouseClick(again.reattach_button, Qt.MouseButton.LeftButton)
        assert not again.reattach_row.isVisible()
    result = followed.args[0]
    assert result.status == "finished", result.message
    assert result.fine_tuned_model == TUNED
    assert list(again.history.series["loss"].x) == [3.0, 4.0], "steps 1-2 were seen before"
    assert not again.reattach_row.isVisible()
    assert len(server.uploads) == 2, "following again uploads nothing"


def test_offline_mode_keeps_the_page_from_uploading(
    qtbot,
    page: TrainPage,
    stored_key: str,
    openai_server,  # noqa: ANN001
) -> None:
    server = openai_server(SUCCESS)
    page.openai_base_url = server.base_url
    page.set_app_settings(AppSettings(offline=True))
    dialog = page.open_openai_dialog()
    assert dialog.offline
    plan = checked(qtbot, dialog)
    assert not page.start_openai(plan)
    assert "Offline mode is on" in page.status_label.text()
    assert server.requests == []


def test_without_a_gpu_the_page_points_to_openai(page: TrainPage) -> None:
    page._on_gpus_detected(GpuReport())
    assert page.openai_hint.isVisible()
    assert "No CUDA GPU was found" in page.openai_hint.text()
    page._on_gpus_detected(GpuReport((gpu_choice("NVIDIA H200", 141.0),)))
    assert not page.openai_hint.isVisible()
    page._on_gpus_detected(GpuReport(error="GPU detection failed: no driver"))
    assert not page.openai_hint.isVisible(), "unknown is not the same as none"
