"""Config dataclasses: specs from metadata, and reading mappings with every problem named."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from ftstudio.core.fields import (
    ConfigError,
    FieldProblem,
    FieldSpec,
    check_value,
    field_specs,
    from_mapping,
    option,
    to_mapping,
)


@dataclass(frozen=True)
class Demo:
    enabled: bool = option(True, help="Turn the feature on.")
    max_steps: int = option(100, help="How many steps to run.", minimum=1, maximum=1000)
    learning_rate: float = option(
        0.5, label="LR", help="Step size.", minimum=0.0, maximum=1.0, advanced=True
    )
    mode: str = option("fast", help="How hard to try.", choices=("fast", "slow"))
    tags: tuple[str, ...] = option(default_factory=lambda: ("a", "b"), help="Labels.")
    limit: int | None = option(None, help="Optional cap.", minimum=0)
    internal: str = field(default="not an option")  # no option(): not part of the config


KNOWN = ["enabled", "max_steps", "learning_rate", "mode", "tags", "limit"]


def specs_by_name() -> dict[str, FieldSpec]:
    return {spec.name: spec for spec in field_specs(Demo)}


def problems_of(data: dict[str, object], **kwargs: bool) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        from_mapping(Demo, data, source="demo.json", **kwargs)
    return {problem.key: problem.message for problem in caught.value.problems}


# ---- field_specs


def test_specs_cover_option_fields_in_declaration_order() -> None:
    assert [spec.name for spec in field_specs(Demo)] == KNOWN


def test_labels_default_from_the_field_name() -> None:
    specs = specs_by_name()
    assert specs["enabled"].label == "Enabled"
    assert specs["max_steps"].label == "Max steps"
    assert specs["learning_rate"].label == "LR", "an explicit label wins"


def test_specs_carry_help_bounds_choices_and_types() -> None:
    specs = specs_by_name()
    assert specs["max_steps"].help == "How many steps to run."
    assert (specs["max_steps"].minimum, specs["max_steps"].maximum) == (1, 1000)
    assert (specs["learning_rate"].minimum, specs["learning_rate"].maximum) == (0.0, 1.0)
    assert specs["enabled"].minimum is None
    assert specs["enabled"].maximum is None
    assert specs["mode"].choices == ("fast", "slow")
    assert specs["max_steps"].choices is None
    assert specs["learning_rate"].advanced is True
    assert specs["mode"].advanced is False
    assert specs["enabled"].type is bool
    assert specs["tags"].type == tuple[str, ...]
    assert specs["limit"].type == int | None


def test_spec_defaults_include_default_factories() -> None:
    specs = specs_by_name()
    assert specs["max_steps"].default == 100
    assert specs["tags"].default == ("a", "b")
    assert specs["limit"].default is None


def test_option_choices_become_a_tuple() -> None:
    @dataclass
    class Listed:
        colour: str = option("red", help="A colour.", choices=["red", "blue"])

    assert field_specs(Listed)[0].choices == ("red", "blue")


# ---- from_mapping


def test_empty_mapping_gives_defaults() -> None:
    assert from_mapping(Demo, {}, source="demo.json") == (Demo(), {})


def test_valid_mapping_sets_every_field() -> None:
    data = {
        "enabled": False,
        "max_steps": 1000,
        "learning_rate": 0.0,
        "mode": "slow",
        "tags": ["x"],
        "limit": 0,
    }
    demo, unknown = from_mapping(Demo, data, source="demo.json")
    assert demo == Demo(False, 1000, 0.0, "slow", ("x",), 0)
    assert unknown == {}


def test_every_problem_is_reported_at_once_by_key() -> None:
    problems = problems_of(
        {
            "bogus": 1,
            "enabled": "yes",
            "max_steps": 0,
            "learning_rate": 1.5,
            "mode": "medium",
            "tags": ["ok", 2],
            "limit": -1,
        }
    )
    assert set(problems) == {
        "bogus",
        "enabled",
        "max_steps",
        "learning_rate",
        "mode",
        "tags",
        "limit",
    }
    assert problems["bogus"] == "unknown key; known keys are: " + ", ".join(KNOWN)
    assert problems["enabled"] == 'expected true or false, got text "yes"'
    assert problems["max_steps"] == "0 is below the minimum 1"
    assert problems["learning_rate"] == "1.5 is above the maximum 1.0"
    assert problems["mode"] == "'medium' is not one of 'fast', 'slow'"
    assert problems["tags"].startswith("expected a list of text")
    assert problems["limit"] == "-1 is below the minimum 0"


@pytest.mark.parametrize("key", ["max_steps", "limit", "learning_rate"])
@pytest.mark.parametrize("value", [True, False])
def test_a_bool_is_not_a_number(key: str, value: bool) -> None:
    """JSON true is an int subclass in Python; a config must still reject it."""
    problems = problems_of({key: value})
    assert list(problems) == [key]
    assert f"got {str(value).lower()}" in problems[key]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("max_steps", 5.0, "expected a whole number, got a decimal number 5.0"),
        ("max_steps", "5", 'expected a whole number, got text "5"'),
        ("learning_rate", "0.1", 'expected a number, got text "0.1"'),
        ("limit", 2.5, "expected a whole number or null, got a decimal number 2.5"),
        ("tags", "abc", 'expected a list of text, got text "abc"'),
        ("mode", None, "expected text, got null"),
        ("enabled", 1, "expected true or false, got a whole number 1"),
    ],
)
def test_wrong_types_are_named_in_plain_words(key: str, value: object, expected: str) -> None:
    assert problems_of({key: value}) == {key: expected}


def test_bounds_are_inclusive() -> None:
    demo, _ = from_mapping(
        Demo, {"max_steps": 1, "learning_rate": 1.0, "limit": 0}, source="demo.json"
    )
    assert (demo.max_steps, demo.learning_rate, demo.limit) == (1, 1.0, 0)
    assert problems_of({"max_steps": 1001}) == {"max_steps": "1001 is above the maximum 1000"}


def test_unknown_keys_are_problems_unless_kept() -> None:
    data = {"max_steps": 7, "from_the_future": {"x": [1]}, "other": None}
    assert set(problems_of(data)) == {"from_the_future", "other"}
    demo, unknown = from_mapping(Demo, data, source="demo.json", keep_unknown=True)
    assert demo.max_steps == 7
    assert unknown == {"from_the_future": {"x": [1]}, "other": None}


def test_keep_unknown_still_reports_bad_known_keys() -> None:
    assert problems_of({"future": 1, "mode": "turbo"}, keep_unknown=True) == {
        "mode": "'turbo' is not one of 'fast', 'slow'"
    }


def test_json_shapes_are_coerced() -> None:
    """JSON has lists, not tuples, and writes 1 for 1.0."""
    demo, _ = from_mapping(Demo, {"tags": ["x", "y"], "learning_rate": 1}, source="demo.json")
    assert demo.tags == ("x", "y")
    assert isinstance(demo.tags, tuple)
    assert demo.learning_rate == 1.0
    assert type(demo.learning_rate) is float


def test_optional_int_accepts_null_and_ints() -> None:
    assert from_mapping(Demo, {"limit": None}, source="s")[0].limit is None
    assert from_mapping(Demo, {"limit": 12}, source="s")[0].limit == 12


# ---- to_mapping


def test_to_mapping_is_json_ready_and_round_trips() -> None:
    demo = Demo(False, 3, 0.25, "slow", ("x", "y"), 9, internal="skipped")
    data = to_mapping(demo)
    assert data == {
        "enabled": False,
        "max_steps": 3,
        "learning_rate": 0.25,
        "mode": "slow",
        "tags": ["x", "y"],
        "limit": 9,
    }
    reread = json.loads(json.dumps(data))
    assert from_mapping(Demo, reread, source="demo.json") == (
        Demo(False, 3, 0.25, "slow", ("x", "y"), 9),
        {},
    )


# ---- errors and check_value


def test_config_error_message_lists_each_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        from_mapping(Demo, {"max_steps": 0, "mode": "x"}, source="/cfg/train.json")
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.source == "/cfg/train.json"
    assert str(error) == (
        "/cfg/train.json has 2 problem(s):\n"
        "  - max_steps: 0 is below the minimum 1\n"
        "  - mode: 'x' is not one of 'fast', 'slow'"
    )


def test_field_problem_reads_as_key_and_message() -> None:
    assert str(FieldProblem("a.b", "is wrong")) == "a.b: is wrong"


def test_check_value_returns_none_for_good_values() -> None:
    specs = specs_by_name()
    assert check_value(specs["max_steps"], 500) is None
    assert check_value(specs["mode"], "fast") is None
    assert check_value(specs["tags"], ()) is None
    assert check_value(specs["limit"], None) is None
    assert check_value(specs["max_steps"], 0) == "0 is below the minimum 1"


@dataclass(frozen=True)
class Optional_:
    ratio: float | None = option(None, help="A ratio, or null for automatic.", maximum=1.0)
    pair: tuple[int, int] = option((1, 2), help="Two whole numbers.")


def test_a_whole_number_is_accepted_for_an_optional_float() -> None:
    value, _ = from_mapping(Optional_, {"ratio": 1}, source="x.json")
    assert value.ratio == 1.0
    assert isinstance(value.ratio, float)
    assert from_mapping(Optional_, {"ratio": None}, source="x.json")[0].ratio is None
    with pytest.raises(ConfigError, match="above the maximum"):
        from_mapping(Optional_, {"ratio": 2}, source="x.json")


def test_a_wrong_list_is_described_as_the_user_wrote_it() -> None:
    with pytest.raises(ConfigError) as caught:
        from_mapping(Optional_, {"pair": [1, "b"]}, source="x.json")
    assert (
        str(caught.value.problems[0])
        == 'pair: expected a list of whole numbers, got a list [1, "b"]'
    )
