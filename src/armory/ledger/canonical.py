"""RFC 8785 JSON Canonicalization Scheme (JCS): one byte string for every JSON value.

`canonical_json` is what gets hashed and signed, so two honest encoders must agree on every
byte. `parse_json` is the strict reader for bytes that came from elsewhere: it refuses what
I-JSON (RFC 7493) refuses, so that anything it returns can be canonicalized again.

Speed: almost every ledger entry is plain strings, small integers and ASCII keys. For those,
orjson with sorted keys already writes RFC 8785 bytes (the same escapes, lowercase hex escapes for
the other control characters, everything else as UTF-8; a test compares it with the
pure-Python encoder over every code point), so a cheap scan decides whether it may be used and
a pure-Python encoder handles the rest (floats, astral keys, errors).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import TypeAlias

import orjson

from armory.errors import InvalidInput

JSONValue: TypeAlias = "bool | int | float | str | list[JSONValue] | dict[str, JSONValue] | None"

# RFC 7493 §2.2 (I-JSON): integers beyond ±(2**53 - 1) do not survive a round trip through an
# IEEE-754 double, so two parties could disagree on their value.
MAX_SAFE_INTEGER = 2**53 - 1

# Deeper nesting is never a ledger entry; the limit also turns a cyclic structure into a clear
# error instead of a RecursionError.
MAX_DEPTH = 64

# Key characters from here up are where code-point order (Python's sort) and UTF-16 code-unit
# order (RFC 8785 §3.2.3) can differ; below it they agree.
_FIRST_UNSAFE_KEY_CHAR = "\ud800"


def canonical_json(value: object) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of `value`; InvalidInput if it is not I-JSON."""
    if _fast_path_safe(value, 0):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            # A lone surrogate in a string: the slow path says which one is wrong.
            pass
    return _slow_canonical_json(value)


def _fast_path_safe(value: object, depth: int) -> bool:
    """True when orjson is known to produce RFC 8785 bytes for `value`.

    Only exact built-in types qualify: subclasses, floats, out-of-range integers, keys that
    need UTF-16 ordering and deep nesting all go to the slow path, which also raises errors.
    """
    items: Iterable[object]
    if type(value) is dict:
        for key in value:
            if type(key) is not str or (not key.isascii() and max(key) >= _FIRST_UNSAFE_KEY_CHAR):
                return False
        items = value.values()
    elif type(value) is list:
        items = value
    else:
        return _scalar_fast_path_safe(value)
    if depth >= MAX_DEPTH:
        return False
    for item in items:
        # Scalars are checked inline: a call per value would double the cost of the scan.
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                return False
        elif not _fast_path_safe(item, depth + 1):
            return False
    return True


def _scalar_fast_path_safe(value: object) -> bool:
    if type(value) is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    return type(value) is str or type(value) is bool or value is None


def _slow_canonical_json(value: object) -> bytes:
    """The pure-Python RFC 8785 encoder: correct for every input, used when the scan says no."""
    parts: list[str] = []
    _encode(value, parts, 0)
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidInput(
            "a JSON string contains a lone surrogate, which is not valid Unicode; "
            "send well-formed UTF-8 text"
        ) from error


def _too_deep() -> InvalidInput:
    return InvalidInput(
        f"the JSON value is nested more than {MAX_DEPTH} levels deep (or contains itself); "
        "flatten it"
    )


def _encode(value: object, out: list[str], depth: int) -> None:
    """Append the canonical form of `value`; `depth` counts the containers around it."""
    # bool before int: bool is a subclass of int, and True must not become 1.
    if value is None or isinstance(value, bool):
        out.append(_LITERALS[value])
    elif isinstance(value, str):
        out.append(_encode_string(value))
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise InvalidInput(
                f"the integer {_shorten_integer(value)} is outside the I-JSON safe range "
                "±(2**53 - 1); send it as a string instead"
            )
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(format_number(value))
    elif isinstance(value, dict | list):
        if depth >= MAX_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            _encode_object(value, out, depth)
        else:
            out.append("[")
            for position, item in enumerate(value):
                if position:
                    out.append(",")
                _encode(item, out, depth + 1)
            out.append("]")
    else:
        raise InvalidInput(
            f"a value of type {type(value).__name__} cannot be written as JSON; "
            "use null, true, false, a number, a string, a list or an object"
        )


def _shorten_integer(value: int) -> str:
    # str() refuses integers beyond 4300 digits, and nobody reads that many anyway.
    return str(int(value)) if value.bit_length() <= 256 else f"of {value.bit_length()} bits"


_LITERALS: dict[object, str] = {None: "null", True: "true", False: "false"}


def _encode_object(value: dict[object, object], out: list[str], depth: int) -> None:
    keyed: list[tuple[bytes, str, object]] = []
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidInput(
                f"a JSON object key must be a string, not {type(key).__name__}; "
                "convert the key to a string"
            )
        try:
            # RFC 8785 §3.2.3: sort by UTF-16 code units; big-endian UTF-16 bytes compare in
            # exactly that order.
            sort_key = key.encode("utf-16-be")
        except UnicodeEncodeError as error:
            raise InvalidInput(
                "a JSON object key contains a lone surrogate, which is not valid Unicode; "
                "send well-formed UTF-8 text"
            ) from error
        keyed.append((sort_key, key, item))
    keyed.sort(key=lambda member: member[0])
    out.append("{")
    for position, (_, key, item) in enumerate(keyed):
        if position:
            out.append(",")
        out.append(_encode_string(key))
        out.append(":")
        _encode(item, out, depth + 1)
    out.append("}")


# RFC 8785 §3.2.2.2: only the quotation mark, the reverse solidus and U+0000..U+001F are
# escaped; the five controls with a short form use it, the rest use \u00xx in lowercase hex.
_STRING_ESCAPES = {chr(code): f"\\u{code:04x}" for code in range(0x20)}
_STRING_ESCAPES.update(
    {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
)
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]')


def _encode_string(text: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(lambda match: _STRING_ESCAPES[match.group()], text) + '"'


def format_number(number: float) -> str:
    """The RFC 8785 §3.2.2.3 form of a float: ECMAScript Number.prototype.toString.

    Python's repr gives the shortest digits that round-trip, the digits ECMA-262 (6th edition,
    §7.1.12.1) asks for; this only rearranges them into the ECMAScript layout.
    """
    if not math.isfinite(number):
        raise InvalidInput(
            "NaN and Infinity are not valid JSON numbers (RFC 8785 §3.2.2.3); "
            "send a finite number or null"
        )
    if number == 0:
        return "0"  # Both zeros serialize as "0".
    sign = "-" if number < 0 else ""
    mantissa, _, exponent_text = repr(abs(number)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    # ECMA-262 6th edition §7.1.12.1 names the value s x 10^(n-k) with k digits in s; `point`
    # is n, the position of the decimal point counted from the first digit of s.
    point = len(whole) + (int(exponent_text) if exponent_text else 0)
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    significant = significant.rstrip("0")
    k = len(significant)
    if k <= point <= 21:
        return sign + significant + "0" * (point - k)
    if 0 < point <= 21:
        return sign + significant[:point] + "." + significant[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + significant
    exponent = point - 1
    exponent_sign = "+" if exponent >= 0 else "-"
    head = significant[0] + ("." + significant[1:] if k > 1 else "")
    return f"{sign}{head}e{exponent_sign}{abs(exponent)}"


def parse_json(data: bytes) -> JSONValue:
    """Parse strict I-JSON from UTF-8 bytes; InvalidInput for anything `canonical_json` refuses.

    Refused: other encodings and a BOM, duplicate object keys, NaN and Infinity, numbers that
    overflow a double, lone surrogates, nesting deeper than MAX_DEPTH, and anything after the
    value. Integers within ±(2**53 - 1) come back as int, every other number as float.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"the JSON is not valid UTF-8 (bad byte at offset {error.start}); "
            "send UTF-8 encoded JSON"
        ) from error
    if text.startswith("\ufeff"):
        # RFC 8259 §8.1: a BOM must not be sent; json.loads would reject it less clearly.
        raise InvalidInput("the JSON starts with a byte order mark; remove it and send plain UTF-8")
    try:
        value: JSONValue = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_integer_or_double,
        )
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"the JSON is malformed at line {error.lineno} column {error.colno}: {error.msg}; "
            "fix the syntax and try again"
        ) from error
    except RecursionError as error:
        raise _too_deep() from error
    # Both checks below walk the whole value, so they run only when the text hints they could
    # fail: a surrogate can only arrive as a \uD8xx..\uDFxx escape, and depth needs brackets.
    if text.count("[") + text.count("{") > MAX_DEPTH:
        _check_depth(value, 0)
    if _SURROGATE_ESCAPE.search(text):
        _check_surrogates(value)
    return value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _object_without_duplicates(pairs: list[tuple[str, JSONValue]]) -> dict[str, JSONValue]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise InvalidInput(
                    f"the JSON object has the key {key!r:.64} more than once; keep only one"
                )
            seen.add(key)
    return result


def _reject_constant(name: str) -> float:
    raise InvalidInput(f"{name} is not valid JSON (RFC 8259 §6); send a finite number or null")


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise InvalidInput(
            f"the JSON number {text[:40]} is too large for a double; send a smaller number"
        )
    return number


def _integer_or_double(text: str) -> int | float:
    # RFC 8785 §3.2.2.3 reads every JSON number as an IEEE-754 double. Within ±(2**53 - 1) a
    # Python int is that same value; beyond it the literal means the nearest double, which is
    # what canonical_json writes back (so inexact literals fail require_canonical). The length
    # test keeps int() away from huge digit strings: 17 characters fit "-9007199254740991".
    if len(text) <= 17:
        number = int(text)
        if -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
            return number
    return _finite_float(text)


def _check_depth(value: JSONValue, depth: int) -> None:
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        raise _too_deep()
    if isinstance(value, dict):
        for item in value.values():
            _check_depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_depth(item, depth + 1)


def _check_surrogates(value: JSONValue) -> None:
    texts: list[str] = []
    pending: list[JSONValue] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict):
            texts.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise InvalidInput(
                "a JSON string contains an escaped lone surrogate, which is not valid "
                "Unicode; send well-formed text"
            ) from error


def require_canonical(data: bytes) -> JSONValue:
    """Parse `data` and insist it is already in RFC 8785 form; InvalidInput otherwise."""
    # Bytes that orjson reads and that encode back to themselves are canonical, hence strict
    # I-JSON (canonical_json writes nothing else): that is every stored entry, three times
    # faster than the strict reader. Anything else goes to the strict reader, which says why.
    try:
        read: JSONValue = orjson.loads(data)
        if canonical_json(read) == data:
            return read
    except (orjson.JSONDecodeError, InvalidInput):
        pass
    value = parse_json(data)
    if canonical_json(value) != data:
        raise InvalidInput(
            "the JSON is valid but not in RFC 8785 canonical form; "
            "re-encode it with sorted keys, no whitespace and canonical numbers"
        )
    return value


def is_canonical(data: bytes) -> bool:
    """True when `data` is strict I-JSON already in RFC 8785 canonical form."""
    try:
        require_canonical(data)
    except InvalidInput:
        return False
    return True
