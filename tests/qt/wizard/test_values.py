"""Values typed and shown by the wizard, GPU choices and the tokens of an epoch."""

from __future__ import annotations

import pytest

from ftstudio.core.dataset.formats import load_dataset
from ftstudio.core.dataset.stats import compute_stats
from ftstudio.qt.wizard.plan import SPECS
from ftstudio.qt.wizard.values import (
    DEFAULT_GPU,
    GPU_CHOICES,
    format_value,
    hub_cached,
    hub_offline_by_setting,
    parameters_text,
    parse_text,
    tokens_per_epoch,
)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(2e-4, "2e-4"), (1.5e-5, "1.5e-5"), (0.05, "0.05"), (0.1, "0.1"), (16, "16"), (True, "on")],
)
def test_values_are_shown_as_people_write_them(value, shown) -> None:  # noqa: ANN001
    assert format_value(value) == shown


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        ("learning_rate", "2e-4", 2e-4),
        ("learning_rate", " 0.0002 ", 2e-4),
        ("r", "16", 16),
        ("max_length", "2,048", 2048),
        ("seed", "1_000", 1000),
        ("output_dir", " runs/a ", "runs/a"),
    ],
)
def test_typed_text_becomes_the_value(field: str, text: str, value) -> None:  # noqa: ANN001
    assert parse_text(SPECS[field], text) == (value, None)


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        ("r", "", "enter a whole number, e.g. 16"),
        ("r", "16.5", "'16.5' is not a whole number"),
        ("r", "0", "0 is out of range: enter a value from 1 to 1024"),
        ("learning_rate", "abc", "'abc' is not a number; enter one, e.g. 2e-4"),
        ("learning_rate", "0,1", "(use a point, not a comma)"),
        ("learning_rate", "0.5", "0.5 is out of range: enter a value from 1e-8 to 0.01"),
        ("learning_rate", "nan", "'nan' is not a finite number"),
        ("val_fraction", "0.9", "0.9 is out of range: enter a value from 0 to 0.5"),
    ],
)
def test_bad_text_is_explained(field: str, text: str, expected: str) -> None:
    value, problem = parse_text(SPECS[field], text)
    assert problem is not None
    assert expected in problem


def test_parameter_counts_read_like_model_cards() -> None:
    assert parameters_text(8_030_261_248) == "8.0 B"
    assert parameters_text(494_032_768) == "494 M"
    assert parameters_text(223_552) == "224 K"


def test_the_default_card_is_24_gb_and_listed() -> None:
    assert DEFAULT_GPU.memory_gb == 24.0
    assert DEFAULT_GPU in GPU_CHOICES
    assert len({choice.label for choice in GPU_CHOICES}) == len(GPU_CHOICES)


def test_offline_setting_and_hub_cache(monkeypatch, tmp_path) -> None:  # noqa: ANN001
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub_offline_by_setting()
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    assert not hub_offline_by_setting()
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert not hub_cached("org/model")
    snapshot = tmp_path / "models--org--model" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    assert hub_cached("org/model")


def test_tokens_per_epoch_from_characters_cut_at_max_length(sample_project) -> None:  # noqa: ANN001
    stats = compute_stats(load_dataset(sample_project.dataset_path("train")))
    assert tokens_per_epoch(None, 512, 0.1) is None
    full = tokens_per_epoch(stats, 100_000, 0.0)
    assert full == int(sum(count / 3.5 for count in stats.char_counts))
    assert abs(tokens_per_epoch(stats, 100_000, 0.5) - full / 2) <= 1
    assert tokens_per_epoch(stats, 64, 0.0) == 64 * len(stats.char_counts)
    assert tokens_per_epoch(stats, 64, 0.0, "dpo") == 2 * 64 * len(stats.char_counts)
