"""Strict conversion between JSON values and the core's frozen dataclasses.

Commands arrive as JSON from people and scripts, so every field is checked: its presence, its
type, its length, its allowed values. Anything else (a missing or extra field, a boolean where a
number belongs, a date that does not exist) is an InvalidInput naming the field. The same rules
turn projections back into dataclasses when they are read from storage.
"""

from __future__ import annotations

import dataclasses
import datetime
import types
import typing
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Literal, TypeAlias, TypeVar, Union, get_args, get_origin, get_type_hints

from armory.errors import InvalidInput

MAX_TEXT = 2000  # characters in any one string field
MAX_ITEMS = 1000  # elements in any one list or object field
ID_MAX = 64

T = TypeVar("T")


class Date(str):
    """A calendar date written YYYY-MM-DD (validated on parsing)."""

    __slots__ = ()


def json_name(field: dataclasses.Field[Any]) -> str:
    """The JSON member name of a field: its `json` metadata, or its own name."""
    name: str = field.metadata.get("json", field.name)
    return name


# Where a value is in the command: a path like `chambers[2].content`, kept as nested pairs
# (where its container is, its member name or element number) and written out only for an
# error message. A command is read far more often than it is wrong.
Where: TypeAlias = "str | tuple[Where, str | int]"

# How a value of one type hint is checked and converted: (value, where it is) -> the value.
Converter = Callable[[object, Where], Any]


@cache
def _field_hints(cls: Any) -> tuple[tuple[str, str, Any], ...]:
    """A dataclass's fields: attribute, JSON member name, type hint."""
    hints = get_type_hints(cls)
    return tuple((f.name, json_name(f), hints[f.name]) for f in dataclasses.fields(cls))


@cache
def _fields(cls: Any) -> tuple[frozenset[str], tuple[tuple[str, str, Converter, bool], ...]]:
    """A dataclass's JSON member names, and for each field: attribute, member name, converter,
    whether it is required. Worked out once per class from its type hints."""
    fields = tuple(
        (
            attribute,
            name,
            _converter(hint),
            f.metadata.get("required", False)
            or (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING),
        )
        for f, (attribute, name, hint) in zip(
            dataclasses.fields(cls), _field_hints(cls), strict=True
        )
    )
    return frozenset(name for _, name, _, _ in fields), fields


def from_json(cls: type[T], value: object, where: Where = "") -> T:
    """Build a dataclass of type `cls` from a JSON object, or raise InvalidInput."""
    read: Converter = _reader(typing.cast(Any, cls))
    built: T = read(value, where)
    return built


_reading: set[Any] = set()  # classes whose reader is being made


@cache
def _reader(cls: Any) -> Converter:
    """A function that builds a `cls` from a JSON object, made once per class: the checks of
    each field in turn, written out as statements (like `_encoder`). A command is read for
    every line of `armory do`; its nested records (an inspection's chambers and witnesses) are
    read by their own functions."""
    _reading.add(cls)
    try:
        known, fields = _fields(cls)
    finally:
        _reading.discard(cls)
    defaults = {f.name: f for f in dataclasses.fields(cls)}
    namespace: dict[str, Any] = {
        "cls": cls,
        "known": known,
        "Mapping": Mapping,
        "refuse_value": _refuse_value,
        "refuse_members": _refuse_members,
        "refuse_missing": _refuse_missing,
    }
    lines = [
        "def read(value, where):",
        "    if type(value) is not dict and not isinstance(value, Mapping):",
        "        refuse_value(where)",
        "    if not known.issuperset(value):",
        "        refuse_members(where, value, known)",
    ]
    arguments = []
    for number, (attribute, name, convert, required) in enumerate(fields):
        namespace[f"convert{number}"] = convert
        reading = f"convert{number}(value[{name!r}], (where, {name!r}))"
        if required:
            lines.append(f"    if {name!r} not in value: refuse_missing(where, {name!r})")
            lines.append(f"    a{number} = {reading}")
        else:
            declared = defaults[attribute]
            if declared.default is not dataclasses.MISSING:
                namespace[f"default{number}"] = declared.default
                fallback = f"default{number}"
            else:
                namespace[f"default{number}"] = declared.default_factory
                fallback = f"default{number}()"
            lines.append(f"    a{number} = {reading} if {name!r} in value else {fallback}")
        arguments.append(f"{attribute}=a{number}")
    lines.append(f"    return cls({', '.join(arguments)})")
    reader: Converter = _function("read", lines, namespace, f"from_json of {cls}")
    return reader


def _function(name: str, lines: list[str], namespace: dict[str, Any], label: str) -> Any:
    """The function `name` that `lines` define, compiled with the names in `namespace`. The
    code is made here, from a class's own field names and type hints; `label` names it in
    tracebacks."""
    exec(compile("\n".join(lines), f"<{label}>", "exec"), namespace)  # noqa: S102 -- see above
    return namespace[name]


def _refuse_value(where: Where) -> None:
    raise InvalidInput(f"{_place(where) or 'the command'} must be a JSON object")


def _refuse_members(where: Where, value: Mapping[str, Any], known: frozenset[str]) -> None:
    extra = sorted(set(value) - known)
    raise InvalidInput(f"{_place((where, extra[0]))} is not a field here")


def _refuse_missing(where: Where, name: str) -> None:
    raise InvalidInput(f"{_place((where, name))} is required")


def _place(where: Where) -> str:
    """The path `where` stands for, as a person reads it."""
    if isinstance(where, str):
        return where
    parent, name = where
    return _at(_place(parent), name)


def _at(where: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{where}[{name}]"
    return f"{where}.{name}" if where else name


@cache
def _converter(hint: Any) -> Converter:  # noqa: PLR0911 -- one converter per kind of hint
    """The converter of a type hint, made once: a command of twenty fields is read without
    asking the typing module what each hint is."""
    origin = get_origin(hint)
    if hint is Any:
        return _as_is
    if origin in (Union, types.UnionType):
        return _union_converter(get_args(hint))
    if origin is Literal:
        return _literal_converter(get_args(hint))
    simple = _SIMPLE.get(hint)
    if simple is not None:
        return simple
    if origin in (tuple, list):
        args = get_args(hint)
        return _sequence_converter(_converter(args[0] if args else Any))
    if origin in (dict, Mapping, typing.Mapping):
        args = get_args(hint)
        return _mapping_converter(_converter(args[1] if len(args) == 2 else Any))
    if dataclasses.is_dataclass(hint):
        cls = typing.cast(Any, hint)
        if cls in _reading:  # a record that contains itself: found when it is read
            return lambda value, where: _reader(cls)(value, where)  # noqa: PLW0108 -- made later, when it is called
        return _reader(cls)
    return _unreadable


def _as_is(value: object, _where: Where) -> object:
    return value


def _unreadable(_value: object, where: Where) -> object:
    raise InvalidInput(f"{_place(where)} has a type this version cannot read")


def _union_converter(options: tuple[Any, ...]) -> Converter:
    nullable = type(None) in options
    converters = tuple(_converter(option) for option in options if option is not type(None))

    def convert(value: object, where: Where) -> Any:
        if value is None and nullable:
            return None
        problems: list[str] = []
        for option in converters:
            try:
                return option(value, where)
            except InvalidInput as problem:
                problems.append(problem.message)
        raise InvalidInput(
            problems[0] if len(problems) == 1 else f"{_place(where)} is not in a valid form"
        )

    return convert


def _literal_converter(allowed: tuple[Any, ...]) -> Converter:
    boolean = any(isinstance(a, bool) for a in allowed)
    choices = ", ".join(str(a) for a in allowed)

    def convert(value: object, where: Where) -> Any:
        if value not in allowed or isinstance(value, bool) != boolean:
            raise InvalidInput(f"{_place(where)} must be one of: {choices}")
        return value

    return convert


def _null(value: object, where: Where) -> None:
    if value is not None:
        raise InvalidInput(f"{_place(where)} must be null")


def _bool(value: object, where: Where) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{_place(where)} must be true or false")
    return value


def _int(value: object, where: Where) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{_place(where)} must be a whole number")
    if not -(2**53) < value < 2**53:
        raise InvalidInput(f"{_place(where)} is out of range")
    return value


def _as_date(value: object, where: Where) -> Date:
    return Date(_date(value, where))


def _sequence_converter(element: Converter) -> Converter:
    def convert(value: object, where: Where) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise InvalidInput(f"{_place(where)} must be a list")
        if len(value) > MAX_ITEMS:
            raise InvalidInput(f"{_place(where)} has more than {MAX_ITEMS} elements")
        return tuple(element(item, (where, n)) for n, item in enumerate(value))

    return convert


def _mapping_converter(element: Converter) -> Converter:
    def convert(value: object, where: Where) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise InvalidInput(f"{_place(where)} must be an object")
        if len(value) > MAX_ITEMS:
            raise InvalidInput(f"{_place(where)} has more than {MAX_ITEMS} members")
        return {_text(k, where): element(v, (where, k)) for k, v in value.items()}

    return convert


def _text(value: object, where: Where) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{_place(where)} must be a string")
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{_place(where)} is longer than {MAX_TEXT} characters")
    if not value.strip():
        raise InvalidInput(f"{_place(where)} must not be empty")
    return value


def _date(value: object, where: Where) -> str:
    if not isinstance(value, str) or len(value) != 10:
        raise InvalidInput(f"{_place(where)} must be a date written YYYY-MM-DD")
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{_place(where)} is not a real date (YYYY-MM-DD)") from None
    return value


_SIMPLE: dict[Any, Converter] = {
    type(None): _null,
    bool: _bool,
    int: _int,
    Date: _as_date,
    str: _text,
}


@cache
def _json_fields(cls: Any) -> tuple[tuple[str, str, bool], ...]:
    return tuple(
        (f.name, json_name(f), bool(f.metadata.get("omit_none", False)))
        for f in dataclasses.fields(cls)
    )


# The types `to_json` returns as they are, found by one set lookup (subclasses by isinstance).
_PLAIN = frozenset({str, int, float, bool, type(None), Date})


def to_json(value: object) -> Any:
    """The JSON value of a dataclass (or of values made of them), member names as in JSON."""
    cls: Any = type(value)
    if cls in _PLAIN or isinstance(value, str | int | float | bool):
        return value
    if hasattr(cls, "__dataclass_fields__"):
        return _encoder(cls)(value)
    return _walk(value, to_json)


def _generic_json(value: object) -> Any:
    """`to_json` that asks every value its type as it comes, all the way down: the reference
    the functions `_encoder` makes are tested against."""
    return _walk(value, _generic_json)


def _walk(value: object, each: Callable[[object], Any]) -> Any:
    """The JSON value of `value` by its type, with `each` writing what it holds."""
    cls: Any = type(value)
    if cls in _PLAIN or isinstance(value, str | int | float | bool):
        return value
    if hasattr(cls, "__dataclass_fields__"):
        out: dict[str, Any] = {}
        for attribute, name, omit_none in _json_fields(cls):
            item = getattr(value, attribute)
            if item is None and omit_none:
                continue
            out[name] = each(item)
        return out
    if isinstance(value, tuple | list):
        return [each(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): each(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(each(item) for item in value)
    return value


# Type hints whose values `to_json` returns as they are.
_PLAIN_HINTS = frozenset({str, int, float, bool, type(None), Date})
_building: set[Any] = set()  # classes whose encoder is being made (a class that contains itself)


@cache
def _encoder(cls: Any) -> Callable[[Any], dict[str, Any]]:
    """A function that writes a dataclass of type `cls` as `_generic_json` does, made once per
    class from its type hints: one statement per field, and no question at run time about what
    a field holds. Projections write the documents of what each command changed, and asking
    every value its type was most of that time (docs/architecture.md)."""
    namespace: dict[str, Any] = {}
    lines = ["def encode(value):", "    out = {}"]
    _building.add(cls)
    try:
        hints = get_type_hints(cls)
        for number, (attribute, name, omit_none) in enumerate(_json_fields(cls)):
            convert = _value_encoder(hints[attribute])
            if convert is None:
                expression = "item"
            else:
                namespace[f"convert{number}"] = convert
                expression = f"None if item is None else convert{number}(item)"
            lines.append(f"    item = value.{attribute}")
            target = f"out[{name!r}] = {expression}"
            lines.append(f"    if item is not None: {target}" if omit_none else f"    {target}")
    finally:
        _building.discard(cls)
    lines.append("    return out")
    encoder: Callable[[Any], dict[str, Any]]
    encoder = _function("encode", lines, namespace, f"to_json of {cls}")
    return encoder


def _value_encoder(hint: Any) -> Callable[[Any], Any] | None:  # noqa: PLR0911 -- one per shape
    """How a field of type `hint` is written (never given None: the caller tests for it), or
    None when its value is written as it is."""
    origin = get_origin(hint)
    if hint in _PLAIN_HINTS or origin is Literal:
        return None
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        encoders = [_value_encoder(option) for option in options]
        if all(encoder is None for encoder in encoders):
            return None
        return encoders[0] if len(options) == 1 else to_json
    if origin in (tuple, list, frozenset, set):
        args = get_args(hint)
        element = _value_encoder(args[0]) if args and args[0] is not Any else to_json
        ordered = origin in (frozenset, set)  # a set is written as a sorted list
        if element is None:
            return sorted if ordered else list
        return _sorted_of(element) if ordered else _list_of(element)
    if origin in (dict, Mapping, typing.Mapping):
        args = get_args(hint)
        member = _value_encoder(args[1]) if len(args) == 2 and args[1] is not Any else to_json
        return _object_of(member if member is not None else _as_it_is)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and hint not in _building:
        return _encoder(hint)
    return to_json


def _as_it_is(value: Any) -> Any:
    return value


def _list_of(element: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    return lambda value: [element(item) for item in value]


def _sorted_of(element: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    return lambda value: sorted(element(item) for item in value)


def _object_of(member: Callable[[Any], Any]) -> Callable[[Any], dict[str, Any]]:
    return lambda value: {str(key): member(item) for key, item in value.items()}


def restore(hint: Any, value: Any) -> Any:  # noqa: PLR0911 -- one return per JSON shape
    """Rebuild a value of type `hint` from JSON written by `to_json`, trusting its content
    (projections the service wrote itself); only its shape is followed."""
    origin = get_origin(hint)
    if value is None or hint is Any:
        return value
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        structured = [a for a in options if dataclasses.is_dataclass(a)]
        if isinstance(value, Mapping) and structured:
            return restore(structured[0], value)
        return value
    if origin in (tuple, list):
        args = get_args(hint)
        return tuple(restore(args[0] if args else Any, item) for item in value)
    if origin in (frozenset, set):
        args = get_args(hint)
        return frozenset(restore(args[0] if args else Any, item) for item in value)
    if origin in (dict, Mapping, typing.Mapping):
        args = get_args(hint)
        element = args[1] if len(args) == 2 else Any
        return {key: restore(element, item) for key, item in value.items()}
    if dataclasses.is_dataclass(hint):
        cls = typing.cast(type, hint)
        return cls(
            **{
                attribute: restore(field_hint, value[name])
                for attribute, name, field_hint in _field_hints(cls)
                if name in value
            }
        )
    return value
