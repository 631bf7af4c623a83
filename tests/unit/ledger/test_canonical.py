"""RFC 8785 canonical JSON: golden bytes from the RFC, number layout, strict parsing, properties."""

from __future__ import annotations

import json
import struct
from enum import IntEnum

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from armory.errors import InvalidInput
from armory.ledger.canonical import (
    MAX_DEPTH,
    MAX_SAFE_INTEGER,
    JSONValue,
    _fast_path_safe,
    _slow_canonical_json,
    canonical_json,
    format_number,
    is_canonical,
    parse_json,
    require_canonical,
)

# --- Golden bytes from RFC 8785 ---------------------------------------------------------------

# RFC 8785 §3.2.2: the sample input, exactly as the RFC prints it (whitespace included).
RFC_SAMPLE_INPUT = rb"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""


def test_rfc8785_section_3_2_2_sample_is_canonicalized_byte_for_byte() -> None:
    expected = r"""{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"""  # noqa: E501
    output = canonical_json(parse_json(RFC_SAMPLE_INPUT))
    assert output == expected.encode("utf-8")
    assert is_canonical(output)
    assert not is_canonical(RFC_SAMPLE_INPUT)


def test_rfc8785_section_3_2_3_sorts_keys_by_utf16_code_units() -> None:
    source = rb"""{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }"""
    output = canonical_json(parse_json(source))
    keys = list(json.loads(output))
    # The order RFC 8785 §3.2.3 gives for this example.
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert output == expected.encode("utf-8")


# RFC 8785 Appendix B: IEEE-754 bit patterns and their required serialization.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B)
def test_rfc8785_appendix_b_number_serialization(bits: str, expected: str) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(bits))
    assert format_number(number) == expected
    assert canonical_json(number) == expected.encode("ascii")
    assert canonical_json([number]) == f"[{expected}]".encode("ascii")


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_rfc8785_appendix_b_nan_and_infinity_are_rejected(bits: str) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(bits))
    with pytest.raises(InvalidInput, match="NaN and Infinity"):
        canonical_json({"x": number})


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (-1.5, "-1.5"),
        (100.0, "100"),
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1e-6, "0.000001"),
        (123456789012345680000.0, "123456789012345680000"),
        (2.0**60, "1152921504606847000"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (9007199254740991.0, "9007199254740991"),
        (-1e-7, "-1e-7"),
        (1.2345e25, "1.2345e+25"),
    ],
)
def test_float_layout_follows_ecmascript(number: float, expected: str) -> None:
    assert canonical_json(number) == expected.encode("ascii")


@pytest.mark.parametrize("number", [0, 1, -1, 50, MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER])
def test_integers_in_the_safe_range_are_written_as_integers(number: int) -> None:
    assert canonical_json(number) == str(number).encode("ascii")
    assert canonical_json({"n": number}) == f'{{"n":{number}}}'.encode("ascii")


# --- An Armory-like entry ---------------------------------------------------------------------


def test_armory_entry_golden_bytes() -> None:
    entry = {
        "book": "demo",
        "index": 7,
        "time": "2026-11-24T10:00:00.000Z",
        "actor": "ana",
        "type": "box_received",
        "data": {"box": "B-1", "count": 50, "label": "45 LONG COLT DUMMIES"},
    }
    assert canonical_json(entry) == (
        b'{"actor":"ana","book":"demo","data":{"box":"B-1","count":50,'
        b'"label":"45 LONG COLT DUMMIES"},"index":7,"time":"2026-11-24T10:00:00.000Z",'
        b'"type":"box_received"}'
    )
    assert _fast_path_safe(entry, 0)  # The common case must take the fast path.


# --- Strings ----------------------------------------------------------------------------------


def test_only_quote_backslash_and_controls_are_escaped() -> None:
    text = "".join(chr(code) for code in range(0x00, 0x80)) + "\u2028\u2029\u00e9\U0001f600/"
    encoded = canonical_json(text).decode("utf-8")
    assert encoded == (
        '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r'
        "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
        "\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f !\\\"#$%&'()*+,-./0123456789:;<=>?"
        "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\x7f"
        '\u2028\u2029\u00e9\U0001f600/"'
    )
    assert _slow_canonical_json(text).decode("utf-8") == encoded


# --- What canonical_json refuses ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (MAX_SAFE_INTEGER + 1, "safe range"),
        ({"n": -MAX_SAFE_INTEGER - 1}, "safe range"),
        ([2**64], "safe range"),
        ([2**20000], "of 20001 bits"),
        (float("nan"), "NaN"),
        ({"x": [float("-inf")]}, "NaN"),
        ({1: "a"}, "key must be a string"),
        ({None: "a"}, "key must be a string"),
        ({"a": b"bytes"}, "type bytes"),
        ((1, 2), "type tuple"),
        ({"a": {1, 2}}, "type set"),
        ({"a": object()}, "type object"),
        ("\ud800", "lone surrogate"),
        ({"a": ["ok", "x\udfffy"]}, "lone surrogate"),
        ({"\udc00": 1}, "lone surrogate"),
    ],
)
def test_canonical_json_rejects(value: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        canonical_json(value)


def test_nesting_limit_and_cycles_are_reported() -> None:
    deep: JSONValue = []
    for _ in range(MAX_DEPTH - 1):
        deep = [deep]
    assert canonical_json(deep) == b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    with pytest.raises(InvalidInput, match="nested more than"):
        canonical_json([deep])
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(InvalidInput, match="nested more than"):
        canonical_json({"a": cycle})


def test_subclasses_of_int_and_str_are_written_as_their_values() -> None:
    class Count(IntEnum):
        FIFTY = 50

    class Name(str):
        pass

    assert canonical_json({Name("b"): Count.FIFTY, "a": Name("x")}) == b'{"a":"x","b":50}'
    assert canonical_json([True, False, None, 1]) == b"[true,false,null,1]"


# --- Strict parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a":1,"a":2}', "more than once"),
        (b'[{"x":{"a":1,"b":2,"a":3}}]', "more than once"),
        (b"NaN", "NaN"),
        (b"[Infinity]", "Infinity"),
        (b'{"a":-Infinity}', "Infinity"),
        (b"1e400", "too large"),
        (b"[-1e400]", "too large"),
        (b"1" * 400, "too large"),
        (b"-" + b"9" * 5000, "too large"),
        (b"{} x", "malformed"),
        (b"[1,]", "malformed"),
        (b"{'a':1}", "malformed"),
        (b"", "malformed"),
        (b"01", "malformed"),
        (b'"tab\there"', "malformed"),
        (b"\xff", "not valid UTF-8"),
        (b'"\xc3("', "not valid UTF-8"),
        ('{"a":1}'.encode("utf-16"), "not valid UTF-8"),
        (b"\xef\xbb\xbf{}", "byte order mark"),
        (b'"\\ud800"', "lone surrogate"),
        (b'{"\\uDFFF":1}', "lone surrogate"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested more than"),
        (b"[" * 100_000, "nested more than"),
        ("[\u0661]".encode(), "malformed"),  # An Arabic-Indic digit is not a JSON digit.
    ],
)
def test_parse_json_rejects(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_json(data)
    assert not is_canonical(data)


def test_parse_json_accepts_valid_surrogate_pairs_and_whitespace() -> None:
    assert parse_json(b' {"e" : "\\ud83d\\ude00" }\r\n\t') == {"e": "\U0001f600"}
    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


@pytest.mark.parametrize(
    "data",
    [
        b'{"b":1,"a":2}',  # Unsorted keys.
        b'{"a": 1}',  # Whitespace.
        b"1.0",  # Not the shortest number form.
        b"1E3",
        b"-0",
        b'"\\/"',  # Needless escape.
        b'"\\u00e9"',  # Non-ASCII must be raw UTF-8.
        b'"\\u000F"',  # Hex must be lowercase.
        b'"\\u0008"',  # Must use the short form \b.
        b"[1] ",
    ],
)
def test_valid_json_that_is_not_canonical(data: bytes) -> None:
    parse_json(data)
    assert not is_canonical(data)
    with pytest.raises(InvalidInput, match="not in RFC 8785 canonical form"):
        require_canonical(data)


def test_integer_literals_beyond_the_safe_range_are_read_as_doubles() -> None:
    # RFC 8785 §3.2.2.3: every JSON number is an IEEE-754 double.
    assert parse_json(b"9007199254740992") == 2.0**53
    assert isinstance(parse_json(b"9007199254740992"), float)
    assert is_canonical(b"9007199254740992")
    assert is_canonical(b"295147905179352830000")  # 2**68, written the ECMAScript way.
    assert parse_json(b"9007199254740993") == 2.0**53
    assert not is_canonical(b"9007199254740993")  # The literal is not the double it names.
    assert parse_json(b"9007199254740991") == MAX_SAFE_INTEGER
    assert isinstance(parse_json(b"-9007199254740991"), int)


def test_require_canonical_returns_the_value() -> None:
    data = b'{"a":[1,0.5,"\\u001f",true,null],"b":{}}'
    assert require_canonical(data) == {"a": [1, 0.5, "\x1f", True, None], "b": {}}
    assert is_canonical(data)


# --- Properties -------------------------------------------------------------------------------

# Characters chosen to exercise every ordering and escaping rule: ASCII, controls, the BMP above
# the surrogates (where UTF-16 order differs) and astral characters.
_CHARS = st.characters(codec="utf-8") | st.sampled_from(
    ["\x00", "\x1f", '"', "\\", "\u0080", "\ue000", "\ufb33", "\uffff", "\U0001f600", "\U0010ffff"]
)
_TEXT = st.text(_CHARS, max_size=12)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_TEXT, inner, max_size=5),
    max_leaves=30,
)
# Values that mostly qualify for the fast path: no floats, keys below U+D800.
FAST_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | _TEXT,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.text(st.characters(max_codepoint=0xD7FF), max_size=8), inner, max_size=5
        )
    ),
    max_leaves=30,
)


@given(FAST_VALUES | JSON_VALUES)
def test_fast_and_slow_paths_agree(value: JSONValue) -> None:
    slow = _slow_canonical_json(value)
    assert canonical_json(value) == slow
    if _fast_path_safe(value, 0):
        assert orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == slow


def test_the_fast_path_writes_every_code_point_as_the_pure_python_encoder_does() -> None:
    # Every code point but the surrogates, 256 to a string, as a value and as a key.
    codes = [code for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF]
    taken = 0
    for start in range(0, len(codes), 256):
        text = "".join(chr(code) for code in codes[start : start + 256])
        value = {"text": text, "list": [text, 0, True, None], text[:8]: {"nested": text}}
        taken += _fast_path_safe(value, 0)
        assert canonical_json(value) == _slow_canonical_json(value), hex(codes[start])
    assert taken > 200  # keys below U+D800 take the fast path


@given(JSON_VALUES)
def test_canonical_output_parses_back_to_the_same_canonical_bytes(value: JSONValue) -> None:
    encoded = canonical_json(value)
    assert canonical_json(parse_json(encoded)) == encoded
    assert is_canonical(encoded)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_float_round_trips_exactly(number: float) -> None:
    parsed = parse_json(canonical_json(number))
    assert isinstance(parsed, int | float)
    assert parsed == number  # -0.0 comes back as 0, which RFC 8785 §3.2.2.3 allows.


@given(st.dictionaries(_TEXT, st.integers(0, 9), min_size=2, max_size=8))
def test_keys_are_ordered_by_utf16_code_units(value: dict[str, int]) -> None:
    keys_in_output = list(json.loads(canonical_json(value)))
    assert keys_in_output == sorted(value, key=lambda key: key.encode("utf-16-be"))


def test_astral_keys_sort_before_high_bmp_keys() -> None:
    # U+1F600 is D83D DE00 in UTF-16, so it sorts before U+E000 and U+FB33 although its code
    # point is higher; Python's own string order would put it last.
    value = {"\ufb33": 1, "\U0001f600": 2, "\ue000": 3, "z": 4}
    assert canonical_json(value) == '{"z":4,"\U0001f600":2,"\ue000":3,"\ufb33":1}'.encode()
    assert sorted(value) != ["z", "\U0001f600", "\ue000", "\ufb33"]


@settings(max_examples=300)
@given(st.binary(max_size=64) | st.text(max_size=32).map(lambda text: text.encode("utf-8")))
def test_parse_json_raises_only_invalid_input(data: bytes) -> None:
    try:
        value = parse_json(data)
    except InvalidInput:
        return
    canonical_json(value)  # Whatever parses can be canonicalized.


def _strictly_canonical(data: bytes) -> JSONValue | InvalidInput:
    """What the strict reader alone says of `data`: its value if canonical, else the error."""
    try:
        value = parse_json(data)
    except InvalidInput as problem:
        return problem
    if canonical_json(value) != data:
        return InvalidInput("the JSON is valid but not in RFC 8785 canonical form")
    return value


@given(JSON_VALUES, st.binary(max_size=3), st.integers(min_value=0), st.booleans())
def test_require_canonical_accepts_exactly_what_the_strict_reader_accepts(
    value: JSONValue, noise: bytes, at: int, insert: bool
) -> None:
    encoded = canonical_json(value)
    place = at % (len(encoded) + 1)
    cut = place if insert else min(place + len(noise), len(encoded))
    data = encoded[:place] + noise + encoded[cut:]
    strict = _strictly_canonical(data)
    try:
        got: JSONValue | InvalidInput = require_canonical(data)
    except InvalidInput as problem:
        got = problem
    if isinstance(strict, InvalidInput):
        assert isinstance(got, InvalidInput), data
        assert str(got).startswith(str(strict)), data
    else:
        assert not isinstance(got, InvalidInput), data
        assert canonical_json(got) == canonical_json(strict) == data
