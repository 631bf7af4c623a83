"""C2SP signed notes: public vectors, key formats, strict parsing, mutation and fuzz tests."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from armory.errors import InvalidInput, VerificationFailed
from armory.ledger.note import (
    MAX_SIGNATURES,
    Note,
    SignerKey,
    VerifierKey,
    is_valid_key_name,
    key_id,
    open_note,
    open_note_bytes,
    sign_note,
)
from tests.shared_vectors import require_vectors

ARMORY_ERRORS = (InvalidInput, VerificationFailed)
# A fixed seed keeps these tests deterministic; it signs nothing outside this file.
TEST_SIGNER = SignerKey("test.example/log", bytes(range(32)))


def _vectors() -> dict[str, Any]:
    path = require_vectors("note", "vectors.json")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


# --- Public vectors ---------------------------------------------------------------------------


def test_c2sp_example_note_verifies_with_its_vkey() -> None:
    vector = _vectors()["c2sp_signed_note_example"]
    key = VerifierKey.parse(vector["vkey"])
    assert key.to_text() == vector["vkey"]
    note = open_note(vector["note"], [key])
    assert note == Note(vector["text"], (key,))
    assert open_note_bytes(vector["note"].encode("utf-8"), [key]) == note


def test_go_sumdb_signer_key_signs_byte_for_byte() -> None:
    vector = _vectors()["go_sumdb_note_vector"]
    signer = SignerKey.parse(vector["skey"])
    assert signer.to_text() == vector["skey"]
    assert signer.verifier() == VerifierKey.parse(vector["vkey"])
    assert signer.verifier().to_text() == vector["vkey"]
    # Ed25519 is deterministic, so the signed note must match Go's output exactly.
    assert sign_note(vector["text"], signer) == vector["signed_note"]
    assert open_note(vector["signed_note"], [signer.verifier()]).text == vector["text"]


def test_vector_notes_do_not_verify_with_each_others_keys() -> None:
    vectors = _vectors()
    c2sp = VerifierKey.parse(vectors["c2sp_signed_note_example"]["vkey"])
    go = VerifierKey.parse(vectors["go_sumdb_note_vector"]["vkey"])
    with pytest.raises(VerificationFailed, match="not signed by a trusted key"):
        open_note(vectors["go_sumdb_note_vector"]["signed_note"], [c2sp])
    with pytest.raises(VerificationFailed, match="not signed by a trusted key"):
        open_note(vectors["c2sp_signed_note_example"]["note"], [go])


def test_every_single_byte_change_of_a_signed_note_is_rejected() -> None:
    vector = _vectors()["c2sp_signed_note_example"]
    key = VerifierKey.parse(vector["vkey"])
    original = vector["note"].encode("utf-8")
    for position in range(len(original)):
        for value in range(256):
            if value == original[position]:
                continue
            mutated = original[:position] + bytes([value]) + original[position + 1 :]
            with pytest.raises(ARMORY_ERRORS):
                open_note_bytes(mutated, [key])
        # Deleting the byte must be rejected as well.
        with pytest.raises(ARMORY_ERRORS):
            open_note_bytes(original[:position] + original[position + 1 :], [key])


# --- Keys -------------------------------------------------------------------------------------


def test_generated_keys_round_trip_through_text() -> None:
    signer = SignerKey.generate("armory.example/node-1")
    assert SignerKey.parse(signer.to_text()) == signer
    verifier = signer.verifier()
    assert VerifierKey.parse(verifier.to_text()) == verifier
    assert verifier.key_id == signer.key_id == key_id(signer.name, signer.public_key)
    assert signer.seed.hex() not in repr(signer)


def test_key_id_is_the_sha256_prefix_of_name_newline_type_and_key() -> None:
    public_key = TEST_SIGNER.public_key
    digest = hashlib.sha256(b"test.example/log\n\x01" + public_key).digest()
    assert TEST_SIGNER.key_id == int.from_bytes(digest[:4], "big")


@pytest.mark.parametrize(
    "name", ["", "has space", "a+b", "tab\there", "nb\u00a0sp", "line\u2028sep", "nul\x00"]
)
def test_invalid_key_names_are_rejected(name: str) -> None:
    assert not is_valid_key_name(name)
    with pytest.raises(InvalidInput, match="key name"):
        SignerKey.generate(name)
    with pytest.raises(InvalidInput, match="key name"):
        SignerKey(name, bytes(32))


def test_valid_key_names() -> None:
    for name in ["a", "example.com/foo", "PeterNeumann", "\u00e9t\u00e9/\U0001f600", "a-b_c.d"]:
        assert is_valid_key_name(name)


def _vkey(name: str, hex_id: str, raw: bytes) -> str:
    return f"{name}+{hex_id}+{base64.b64encode(raw).decode('ascii')}"


def test_malformed_verifier_keys_are_rejected() -> None:
    good = TEST_SIGNER.verifier()
    raw = b"\x01" + good.public_key
    hex_id = f"{good.key_id:08x}"
    assert VerifierKey.parse(_vkey(good.name, hex_id, raw)) == good
    encoded = base64.b64encode(raw).decode("ascii")
    bad = [
        "",
        good.name,
        f"{good.name}+{hex_id}",
        f"{good.name}+{hex_id}+",
        _vkey(good.name, hex_id.upper(), raw),
        _vkey(good.name, hex_id[:7], raw),
        _vkey(good.name, "0" + hex_id, raw),
        _vkey(good.name, f"{(good.key_id ^ 1):08x}", raw),
        _vkey("other", hex_id, raw),
        _vkey(good.name, hex_id, b"\x02" + good.public_key),
        _vkey(good.name, hex_id, raw[:-1]),
        _vkey(good.name, hex_id, raw + b"\x00"),
        f"{good.name}+{hex_id}+{encoded}====",
        f"{good.name}+{hex_id}+{encoded[:-1]}=",
        f"{good.name}+{hex_id}+{encoded} ",
        f"{good.name}+{hex_id}+{encoded}\n",
        _vkey(good.name, hex_id, raw)[:-4] + "AQ==",  # Too short once decoded.
        f"{good.name}+{hex_id}+{encoded.replace('+', '-').replace('/', '_')}x",
        f"+{hex_id}+{encoded}",
        f"PRIVATE+KEY+{good.name}+{hex_id}+{encoded}",
    ]
    for text in bad:
        with pytest.raises(InvalidInput):
            VerifierKey.parse(text)


def test_malformed_signer_keys_are_rejected() -> None:
    good = TEST_SIGNER.to_text()
    encoded = good.rsplit("+", 1)[1]
    hex_id = f"{TEST_SIGNER.key_id:08x}"
    bad = [
        "",
        TEST_SIGNER.verifier().to_text(),
        good.replace("PRIVATE+KEY+", "PRIVATE+KEYS+"),
        good.replace("PRIVATE", "private"),
        good.replace(hex_id, f"{(TEST_SIGNER.key_id ^ 1):08x}"),
        good.replace(hex_id, hex_id.upper()) if hex_id != hex_id.upper() else good + "x",
        good[:-1],
        good + "=",
        good.replace(encoded, base64.b64encode(b"\x02" + TEST_SIGNER.seed).decode("ascii")),
        good.replace(encoded, base64.b64encode(b"\x01" + bytes(31)).decode("ascii")),
    ]
    for text in bad:
        with pytest.raises(InvalidInput):
            SignerKey.parse(text)


def test_verifier_key_fields_are_checked() -> None:
    good = TEST_SIGNER.verifier()
    with pytest.raises(InvalidInput, match="does not match"):
        VerifierKey(good.name, good.key_id ^ 1, good.public_key)
    with pytest.raises(InvalidInput, match="exactly 32 bytes"):
        VerifierKey.from_public_key(good.name, good.public_key[:31])
    with pytest.raises(InvalidInput, match="exactly 32 bytes"):
        SignerKey(good.name, bytes(31))


# --- Signing and opening ----------------------------------------------------------------------


def test_sign_and_open_round_trip() -> None:
    text = "line one\n\nline three after a blank line\n\u2014 not a signature\n"
    note = sign_note(text, TEST_SIGNER)
    opened = open_note(note, [TEST_SIGNER.verifier()])
    assert opened.text == text
    assert opened.verified_by == (TEST_SIGNER.verifier(),)


@pytest.mark.parametrize(
    "text", ["", "no newline", "carriage\r\n", "nul\x00\n", "esc\x1b\n", "lone \ud800\n"]
)
def test_sign_note_rejects_bad_text(text: str) -> None:
    with pytest.raises(InvalidInput):
        sign_note(text, TEST_SIGNER)


def test_unknown_signatures_are_ignored_and_all_known_ones_are_reported() -> None:
    other = SignerKey("other.example/witness", bytes(range(1, 33)))
    stranger = SignerKey("stranger.example", bytes(range(2, 34)))
    text = "body\n"
    line = sign_note(text, TEST_SIGNER).removeprefix(text + "\n")
    other_line = sign_note(text, other).removeprefix(text + "\n")
    stranger_line = sign_note(text, stranger).removeprefix(text + "\n")
    note = f"{text}\n{stranger_line}{line}{other_line}{line}"
    opened = open_note(note, [other.verifier(), TEST_SIGNER.verifier()])
    assert opened.verified_by == (TEST_SIGNER.verifier(), other.verifier())
    assert open_note(note, [other.verifier()]).verified_by == (other.verifier(),)
    with pytest.raises(VerificationFailed, match="not signed by a trusted key"):
        open_note(note, [])


def test_a_bad_signature_by_a_known_key_fails_even_next_to_a_good_one() -> None:
    text = "body\n"
    good_line = sign_note(text, TEST_SIGNER).removeprefix(text + "\n")
    forged_line = sign_note("other body\n", TEST_SIGNER).removeprefix("other body\n\n")
    for note in (f"{text}\n{good_line}{forged_line}", f"{text}\n{forged_line}{good_line}"):
        with pytest.raises(VerificationFailed, match="does not verify"):
            open_note(note, [TEST_SIGNER.verifier()])


def test_a_signature_of_the_wrong_length_by_a_known_key_fails() -> None:
    prefix = TEST_SIGNER.key_id.to_bytes(4, "big")
    for signature in (b"\x00", bytes(63), bytes(65)):
        encoded = base64.b64encode(prefix + signature).decode("ascii")
        note = f"body\n\n\u2014 {TEST_SIGNER.name} {encoded}\n"
        with pytest.raises(VerificationFailed, match="does not verify"):
            open_note(note, [TEST_SIGNER.verifier()])


def test_too_many_signatures_are_refused() -> None:
    text = "body\n"
    line = sign_note(text, TEST_SIGNER).removeprefix(text + "\n")
    open_note(f"{text}\n{line * MAX_SIGNATURES}", [TEST_SIGNER.verifier()])
    with pytest.raises(InvalidInput, match="more than 100 signatures"):
        open_note(f"{text}\n{line * (MAX_SIGNATURES + 1)}", [TEST_SIGNER.verifier()])


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _with_nonzero_padding_bits(encoded: str) -> str:
    """A second spelling of the same bytes that lenient base64 decoders accept."""
    assert encoded.endswith("=")  # 68 bytes of ID and signature always leave padding.
    stem = encoded.rstrip("=")
    last = _B64_ALPHABET.index(stem[-1])
    padded = stem[:-1] + _B64_ALPHABET[last | 1] + encoded[len(stem) :]
    assert base64.b64decode(padded) == base64.b64decode(encoded)
    return padded


def test_a_blank_line_inside_the_signatures_makes_them_part_of_the_text() -> None:
    # C2SP signed-note: the signature block follows the *last* blank line, so an earlier one
    # moves signature lines into the signed text, which then no longer matches the signature.
    text = "body\n"
    line = sign_note(text, TEST_SIGNER).removeprefix(text + "\n")
    with pytest.raises(VerificationFailed, match="does not verify"):
        open_note(f"{text}\n{line}\n{line}", [TEST_SIGNER.verifier()])


def _malformed_notes() -> list[str]:
    text = "body\n"
    note = sign_note(text, TEST_SIGNER)
    line = note.removeprefix(text + "\n")
    encoded = line.split(" ")[2].rstrip("\n")
    name = TEST_SIGNER.name
    return [
        "",
        text,
        note.rstrip("\n"),  # No final newline.
        text + "\n",  # Blank line but no signatures.
        text + line,  # No blank line.
        note + "\n",  # Trailing blank line.
        f"{text}\n- {name} {encoded}\n",  # Hyphen instead of an em dash.
        f"{text}\n\u2014{name} {encoded}\n",  # No space after the dash.
        f"{text}\n\u2014 {name}  {encoded}\n",  # Two spaces.
        f"{text}\n\u2014 {name} {encoded} \n",  # Trailing space.
        f"{text}\n\u2014 {name}\n",  # No signature.
        f"{text}\n\u2014 {name} \n",  # Empty signature.
        f"{text}\n\u2014  {encoded}\n",  # Empty name.
        f"{text}\n\u2014 {name} {encoded.rstrip('=')}\n",  # Missing padding.
        f"{text}\n\u2014 {name} {_with_nonzero_padding_bits(encoded)}\n",
        f"{text}\n\u2014 {name} AAAAAA==\n",  # Too short for an ID and a signature.
        f"{text}\n\u2014 a+b {encoded}\n",  # Invalid key name.
        note.replace("\n", "\r\n"),  # CRLF line endings.
        "bo\x00dy\n\n" + line,  # Control character in the text.
        "bo\ud800dy\n\n" + line,  # Lone surrogate.
    ]


@pytest.mark.parametrize("index", range(len(_malformed_notes())))
def test_malformed_notes_raise_invalid_input(index: int) -> None:
    with pytest.raises(InvalidInput):
        open_note(_malformed_notes()[index], [TEST_SIGNER.verifier()])


def test_open_note_bytes_rejects_bad_utf8() -> None:
    note = sign_note("body\n", TEST_SIGNER).encode("utf-8")
    with pytest.raises(InvalidInput, match="not valid UTF-8"):
        open_note_bytes(b"\xff" + note, [TEST_SIGNER.verifier()])
    with pytest.raises(InvalidInput, match="not valid UTF-8"):
        open_note_bytes(note.replace("\u2014".encode(), b"\xe2\x80"), [TEST_SIGNER.verifier()])


# --- Fuzzing ----------------------------------------------------------------------------------


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_open_note_bytes_raises_only_armory_errors_on_random_bytes(data: bytes) -> None:
    with pytest.raises(ARMORY_ERRORS):
        open_note_bytes(data, [TEST_SIGNER.verifier()])


_SIGNED = sign_note("fuzz body\n", TEST_SIGNER)


@settings(max_examples=500)
@given(
    st.integers(0, len(_SIGNED)),
    st.integers(0, 8),
    st.text(st.characters(codec="utf-8") | st.sampled_from(["\n", "\u2014", " ", "="]), max_size=8),
)
def test_open_note_raises_only_armory_errors_on_spliced_notes(
    start: int, length: int, insert: str
) -> None:
    mutated = _SIGNED[:start] + insert + _SIGNED[start + length :]
    try:
        opened = open_note(mutated, [TEST_SIGNER.verifier()])
    except ARMORY_ERRORS:
        return
    # The only edits that may still open are those that leave the note unchanged.
    assert mutated == _SIGNED
    assert opened.text == "fuzz body\n"
