"""The rating row on its own: refusals explained, pairs appended, files that cannot take one."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from ftstudio.core.project import Project
from ftstudio.qt.evaluate.rating import EVALUATION_VERDICTS, Candidate, RatingBar

PROMPT = ({"role": "user", "content": "How do I map the S: drive?"},)


def candidates(base: str = "Ask IT.", tuned: str = "Open File Explorer, then Map drive."):
    return [
        Candidate("reference", "Reference answer", "Use Map network drive.", PROMPT),
        Candidate("base", "Base model's answer", base, PROMPT),
        Candidate("tuned", "Tuned model's answer", tuned, PROMPT),
    ]


def test_nothing_to_rate_disables_the_buttons(qtbot) -> None:  # noqa: ANN001
    bar = RatingBar(EVALUATION_VERDICTS)
    qtbot.addWidget(bar)
    assert not any(button.isEnabled() for button in bar.buttons)
    assert not bar.edit_button.isEnabled()
    assert bar.rate("tuned", "base") is None
    assert bar.edit() is None


def test_a_pair_is_appended_to_a_new_preference_file(qtbot, sample_project: Project) -> None:  # noqa: ANN001
    project = sample_project
    project.set("datasets", {k: v for k, v in project.datasets.items() if k != "preferences"})
    bar = RatingBar(EVALUATION_VERDICTS)
    qtbot.addWidget(bar)
    bar.set_project(project)
    bar.set_candidates(candidates(), source="evaluation: test")
    assert all(button.isEnabled() for button in bar.buttons)
    saved = []
    bar.sig_saved.connect(lambda path, line: saved.append((path, line)))
    qtbot.mouseClick(bar.buttons[2], Qt.MouseButton.LeftButton)  # Reference is better
    path = project.folder / "datasets" / "preferences.jsonl"
    assert saved == [(path, len(path.read_text(encoding="utf-8").splitlines()))]
    record = json.loads(path.read_text(encoding="utf-8").splitlines()[-1])
    assert record == {
        "prompt": list(PROMPT),
        "chosen": [{"role": "assistant", "content": "Use Map network drive."}],
        "rejected": [{"role": "assistant", "content": "Open File Explorer, then Map drive."}],
        "source": "evaluation: test",
    }
    assert project.datasets["preferences"] == "datasets/preferences.jsonl"


def test_identical_answers_and_unwritable_files_are_explained(
    qtbot,
    sample_project: Project,  # noqa: ANN001
) -> None:
    bar = RatingBar(EVALUATION_VERDICTS)
    qtbot.addWidget(bar)
    bar.set_project(sample_project)
    path = sample_project.folder / "datasets" / "preferences.jsonl"
    before = path.read_bytes()
    bar.set_candidates(candidates(base="Same.", tuned="Same. "))
    assert bar.rate("tuned", "base") is None
    assert bar.status_label.text().startswith("Both answers are the same")
    assert path.read_bytes() == before

    path.write_text('[{"prompt": "x"}]\n', encoding="utf-8")  # a JSON array: no appending
    bar.set_candidates(candidates())
    assert bar.rate("tuned", "base") is None
    assert bar.status_label.text().startswith("Not saved: ")
    assert "JSON array" in bar.status_label.text()
