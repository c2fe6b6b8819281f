"""Self-describing config dataclasses: help text, bounds and validation in one place.

A config field is declared with :func:`option`, which stores its label, help text,
bounds and choices in the dataclass field metadata. Forms (Qt) and command-line
options are built from :func:`field_specs`; files are read with
:func:`from_mapping`, which reports *every* problem at once, by key.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

_META_KEY = "ftstudio"


@dataclass(frozen=True)
class FieldSpec:
    """What a form or a CLI needs to know about one config field."""

    name: str
    label: str
    help: str
    type: Any
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    advanced: bool = False
    widget: str | None = None
    placeholder: str = ""


@dataclass(frozen=True)
class FieldProblem:
    """One problem found while reading a config mapping."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigError(ValueError):
    """A config mapping had one or more problems; ``problems`` lists them all."""

    def __init__(self, source: str, problems: Sequence[FieldProblem]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{source} has {len(self.problems)} problem(s):\n{lines}")


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,  # noqa: A002 - mirrors argparse and trl's metadata key
    label: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: Sequence[Any] | None = None,
    advanced: bool = False,
    widget: str | None = None,
    placeholder: str = "",
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """Declare a dataclass field with its help text, label, bounds and choices.

    ``widget`` asks forms for a special editor (``"folder"``: a path with a Browse
    button); ``placeholder`` is the grey hint shown in an empty text field.
    """
    meta = {
        _META_KEY: {
            "help": help,
            "label": label,
            "minimum": minimum,
            "maximum": maximum,
            "choices": tuple(choices) if choices is not None else None,
            "advanced": advanced,
            "widget": widget,
            "placeholder": placeholder,
        }
    }
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def field_specs(cls: type) -> list[FieldSpec]:
    """The :class:`FieldSpec` of every declared field of dataclass ``cls``, in order."""
    hints = typing.get_type_hints(cls)
    specs = []
    for field in dataclasses.fields(cls):
        meta = field.metadata.get(_META_KEY)
        if meta is None:
            continue
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = None
        specs.append(
            FieldSpec(
                name=field.name,
                label=meta["label"] or field.name.replace("_", " ").capitalize(),
                help=meta["help"],
                type=hints[field.name],
                default=default,
                minimum=meta["minimum"],
                maximum=meta["maximum"],
                choices=meta["choices"],
                advanced=meta["advanced"],
                widget=meta["widget"],
                placeholder=meta["placeholder"],
            )
        )
    return specs


def check_value(spec: FieldSpec, value: Any) -> str | None:
    """Return a plain-language problem with ``value`` for ``spec``, or ``None`` if it is fine."""
    if not _matches(value, spec.type):
        return f"expected {_type_name(spec.type)}, got {_shown(value)}"
    if spec.choices is not None and value not in spec.choices:
        allowed = ", ".join(repr(choice) for choice in spec.choices)
        return f"{value!r} is not one of {allowed}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            return f"{value!r} is below the minimum {spec.minimum!r}"
        if spec.maximum is not None and value > spec.maximum:
            return f"{value!r} is above the maximum {spec.maximum!r}"
    return None


def from_mapping(
    cls: type[T], data: Mapping[str, Any], *, source: str, keep_unknown: bool = False
) -> tuple[T, dict[str, Any]]:
    """Build ``cls`` from ``data``, checking every key; missing keys take their defaults.

    Returns the instance and the unknown keys (only when ``keep_unknown`` is true;
    otherwise an unknown key is a problem). Raises :class:`ConfigError` listing every
    problem when any key has the wrong type or is out of bounds.
    """
    specs = {spec.name: spec for spec in field_specs(cls)}
    problems: list[FieldProblem] = []
    unknown: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for key, value in data.items():
        spec = specs.get(key)
        if spec is None:
            if keep_unknown:
                unknown[key] = value
            else:
                known = ", ".join(specs)
                problems.append(FieldProblem(key, f"unknown key; known keys are: {known}"))
            continue
        value = _coerce(value, spec.type)
        problem = check_value(spec, value)
        if problem:
            problems.append(FieldProblem(key, problem))
        else:
            values[key] = value
    if problems:
        raise ConfigError(source, problems)
    return cls(**values), unknown


def to_mapping(obj: Any) -> dict[str, Any]:
    """The declared fields of dataclass instance ``obj`` as a JSON-ready dict."""
    return {spec.name: _plain(getattr(obj, spec.name)) for spec in field_specs(type(obj))}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def _coerce(value: Any, annotation: Any) -> Any:
    """Accept what JSON can express for the annotation: a list for a tuple, an int for a float."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        if _matches(value, annotation):
            return value
        for arg in typing.get_args(annotation):
            coerced = _coerce(value, arg)
            if coerced is not value and _matches(coerced, arg):
                return coerced
        return value
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _matches(value: Any, annotation: Any) -> bool:
    if annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in args)
    if annotation is type(None):
        return value is None
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(item, args[0]) for item in value)
        return len(args) == len(value) and all(map(_matches, value, args))
    if origin is list:
        return isinstance(value, list) and all(_matches(item, args[0]) for item in value)
    if origin is typing.Literal:
        return value in args
    if annotation is bool:
        return isinstance(value, bool)
    if annotation in (int, float):
        return isinstance(value, annotation) and not isinstance(value, bool)
    return isinstance(value, annotation)


def _shown(value: Any) -> str:
    """``value`` as the user wrote it in the file, with JSON's type names, not Python's."""
    if value is None or isinstance(value, bool):
        return _json(value)
    return f"{_json_type_name(value)} {_json(value)}"


def _json_type_name(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int):
        return "a whole number"
    return "a decimal number" if isinstance(value, float) else type(value).__name__


def _json(value: Any) -> str:
    try:
        return json.dumps(_plain(value), ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in args)
    if origin in (tuple, list):
        plural = {bool: "true/false values", int: "whole numbers", float: "numbers", str: "text"}
        return f"a list of {plural.get(args[0], _type_name(args[0]))}"
    if annotation is type(None):
        return "null"
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))
