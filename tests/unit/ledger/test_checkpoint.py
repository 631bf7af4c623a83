"""C2SP tlog-checkpoint: text form, strict parsing, signing and verification."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from armory.errors import InvalidInput, VerificationFailed
from armory.ledger.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    open_checkpoint,
    sign_checkpoint,
)
from armory.ledger.note import SignerKey, open_note, sign_note

ARMORY_ERRORS = (InvalidInput, VerificationFailed)
ROOT = hashlib.sha256(b"root").digest()
ROOT_B64 = base64.b64encode(ROOT).decode("ascii")
URL_SAFE_ROOT = base64.urlsafe_b64encode(bytes([0xFF]) * 32).decode("ascii")
ORIGIN = "armory.example/node-1/demo"
# A fixed seed keeps these tests deterministic; it signs nothing outside this file.
SIGNER = SignerKey(ORIGIN, bytes(range(32)))


def test_text_form() -> None:
    checkpoint = Checkpoint(ORIGIN, 7, ROOT)
    assert checkpoint.to_text() == f"{ORIGIN}\n7\n{ROOT_B64}\n"
    with_extensions = Checkpoint(ORIGIN, 0, ROOT, ("ext one", "\u2014 two"))
    assert with_extensions.to_text() == f"{ORIGIN}\n0\n{ROOT_B64}\next one\n\u2014 two\n"


@pytest.mark.parametrize(
    "checkpoint",
    [
        Checkpoint(ORIGIN, 0, bytes(32)),
        Checkpoint(ORIGIN, 1, ROOT),
        Checkpoint("a", MAX_TREE_SIZE, ROOT),
        Checkpoint("log+with+plus/\u00e9", 10**12, ROOT, ("x", "y z", "\U0001f600")),
    ],
)
def test_round_trip(checkpoint: Checkpoint) -> None:
    assert Checkpoint.parse(checkpoint.to_text()) == checkpoint
    assert Checkpoint.parse_bytes(checkpoint.to_text().encode("utf-8")) == checkpoint


MALFORMED = {
    "leading zero": f"{ORIGIN}\n07\n{ROOT_B64}\n",
    "double zero": f"{ORIGIN}\n00\n{ROOT_B64}\n",
    "plus sign": f"{ORIGIN}\n+1\n{ROOT_B64}\n",
    "negative": f"{ORIGIN}\n-1\n{ROOT_B64}\n",
    "minus zero": f"{ORIGIN}\n-0\n{ROOT_B64}\n",
    "underscore": f"{ORIGIN}\n1_000\n{ROOT_B64}\n",
    "hex size": f"{ORIGIN}\n0x10\n{ROOT_B64}\n",
    "space in size": f"{ORIGIN}\n 1\n{ROOT_B64}\n",
    "arabic digit": f"{ORIGIN}\n\u0661\n{ROOT_B64}\n",
    "fullwidth digit": f"{ORIGIN}\n\uff11\n{ROOT_B64}\n",
    "empty size": f"{ORIGIN}\n\n{ROOT_B64}\n",
    "size 2**63": f"{ORIGIN}\n{2**63}\n{ROOT_B64}\n",
    "size 2**64": f"{ORIGIN}\n{2**64}\n{ROOT_B64}\n",
    "huge size": f"{ORIGIN}\n{'9' * 5000}\n{ROOT_B64}\n",
    "31-byte root": f"{ORIGIN}\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",
    "33-byte root": f"{ORIGIN}\n1\n{base64.b64encode(ROOT + b'x').decode()}\n",
    "empty root": f"{ORIGIN}\n1\n\n",
    "unpadded root": f"{ORIGIN}\n1\n{ROOT_B64.rstrip('=')}\n",
    "url-safe root": f"{ORIGIN}\n1\n{URL_SAFE_ROOT}\n",
    "non-base64 root": f"{ORIGIN}\n1\n{'!' * 44}\n",
    "root with space": f"{ORIGIN}\n1\n{ROOT_B64[:10]} {ROOT_B64[10:]}\n",
    "padding bits": f"{ORIGIN}\n1\n{base64.b64encode(bytes(32)).decode()[:-2]}B=\n",
    "missing newline": f"{ORIGIN}\n1\n{ROOT_B64}",
    "missing root": f"{ORIGIN}\n1\n",
    "only origin": f"{ORIGIN}\n",
    "empty": "",
    "just newline": "\n",
    "empty origin": f"\n1\n{ROOT_B64}\n",
    "space in origin": f"armory example\n1\n{ROOT_B64}\n",
    "nbsp in origin": f"armory\u00a0example\n1\n{ROOT_B64}\n",
    "tab in origin": f"armory\texample\n1\n{ROOT_B64}\n",
    "empty extension": f"{ORIGIN}\n1\n{ROOT_B64}\n\n",
    "empty middle extension": f"{ORIGIN}\n1\n{ROOT_B64}\na\n\nb\n",
    "control in extension": f"{ORIGIN}\n1\n{ROOT_B64}\na\x00b\n",
    "carriage return": f"{ORIGIN}\r\n1\r\n{ROOT_B64}\r\n",
    "lone surrogate": f"{ORIGIN}\ud800\n1\n{ROOT_B64}\n",
    "surrogate extension": f"{ORIGIN}\n1\n{ROOT_B64}\n\udfff\n",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_checkpoints_are_rejected(name: str) -> None:
    with pytest.raises(InvalidInput):
        Checkpoint.parse(MALFORMED[name])


def test_a_huge_size_is_rejected_without_printing_it() -> None:
    with pytest.raises(InvalidInput, match="tree size"):
        Checkpoint(ORIGIN, 10**5000, ROOT)


# Every character Python calls a space, the ASCII ones and the Unicode ones alike.
SPACES = [chr(point) for point in range(0x110000) if chr(point).isspace()]


def test_an_origin_with_any_kind_of_space_is_rejected_and_other_characters_are_not() -> None:
    assert len(SPACES) > 20  # tab and newline, NBSP, the ideographic space, ...
    for space in SPACES:
        with pytest.raises(InvalidInput, match="origin"):
            Checkpoint(f"armory{space}example", 1, ROOT)
    # Letters from other scripts and symbols that look alike are not spaces.
    assert Checkpoint("armory\u00b7example/\u00e9\u200b", 1, ROOT).size == 1


def test_parse_bytes_rejects_bad_utf8() -> None:
    with pytest.raises(InvalidInput, match="not valid UTF-8"):
        Checkpoint.parse_bytes(b"\xff\n1\n" + ROOT_B64.encode() + b"\n")


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 1, ROOT, ()),
        ("has space", 1, ROOT, ()),
        (ORIGIN, -1, ROOT, ()),
        (ORIGIN, 2**63, ROOT, ()),
        (ORIGIN, True, ROOT, ()),
        (ORIGIN, 1, ROOT[:31], ()),
        (ORIGIN, 1, ROOT + b"x", ()),
        (ORIGIN, 1, ROOT, ("",)),
        (ORIGIN, 1, ROOT, ("two\nlines",)),
        (ORIGIN, 1, ROOT, ("cr\r",)),
        (ORIGIN, 1, ROOT, ["a list"]),
        (ORIGIN, 1, bytearray(ROOT), ()),
    ],
)
def test_invalid_fields_are_rejected_at_construction(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidInput):
        Checkpoint(origin, size, root, extensions)


# --- Signing ----------------------------------------------------------------------------------


def test_signature_round_trip_with_a_generated_key() -> None:
    signer = SignerKey.generate(ORIGIN)
    checkpoint = Checkpoint(ORIGIN, 42, ROOT, ("extension",))
    note = sign_checkpoint(checkpoint, signer)
    assert note.startswith(checkpoint.to_text() + "\n\u2014 " + ORIGIN + " ")
    assert open_checkpoint(note, signer.verifier()) == checkpoint
    assert open_checkpoint(note, signer.verifier(), origin=ORIGIN) == checkpoint
    assert open_note(note, [signer.verifier()]).text == checkpoint.to_text()


def test_wrong_origin_is_rejected() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), SIGNER)
    with pytest.raises(VerificationFailed, match=r"not 'armory\.example/other'"):
        open_checkpoint(note, SIGNER.verifier(), origin="armory.example/other")


def test_wrong_key_is_rejected() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), SIGNER)
    other = SignerKey.generate(ORIGIN)
    with pytest.raises(VerificationFailed, match="not signed by a trusted key"):
        open_checkpoint(note, other.verifier())


@pytest.mark.parametrize(
    ("old", "new"),
    [("\n5\n", "\n6\n"), ("\n5\n", "\n05\n"), (ROOT_B64[:4], "AAAA"), ("node-1", "node-2")],
)
def test_tampered_checkpoints_are_rejected(old: str, new: str) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, ROOT), SIGNER)
    tampered = note.replace(old, new, 1)
    assert tampered != note
    with pytest.raises(VerificationFailed):
        open_checkpoint(tampered, SIGNER.verifier())


def test_every_single_byte_change_of_a_signed_checkpoint_is_rejected() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, ROOT, ("ext",)), SIGNER).encode("utf-8")
    for position in range(len(note)):
        for flip in (0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80):
            mutated = bytearray(note)
            mutated[position] ^= flip
            try:
                text = mutated.decode("utf-8")
            except UnicodeDecodeError:
                continue  # Callers decode strictly first; the note tests cover raw bytes.
            with pytest.raises(ARMORY_ERRORS):
                open_checkpoint(text, SIGNER.verifier())


def test_a_signed_body_that_is_not_a_checkpoint_is_invalid_input() -> None:
    note = sign_note("not\na checkpoint\n", SIGNER)
    with pytest.raises(InvalidInput):
        open_checkpoint(note, SIGNER.verifier())


# --- Fuzzing ----------------------------------------------------------------------------------


@settings(max_examples=500)
@given(st.text(st.characters() | st.sampled_from(["\n", "0", "1", "="]), max_size=80))
def test_parse_raises_only_invalid_input_on_arbitrary_text(text: str) -> None:
    try:
        checkpoint = Checkpoint.parse(text)
    except InvalidInput:
        return
    assert checkpoint.to_text() == text  # Whatever parses has exactly this one text form.


@settings(max_examples=500)
@given(st.binary(max_size=120))
def test_parse_bytes_raises_only_invalid_input_on_arbitrary_bytes(data: bytes) -> None:
    try:
        checkpoint = Checkpoint.parse_bytes(data)
    except InvalidInput:
        return
    assert checkpoint.to_text().encode("utf-8") == data


@settings(max_examples=300)
@given(
    st.integers(0, 120),
    st.text(st.sampled_from(["0", "9", "\n", "A", "=", " ", "+", "-", "x"]), max_size=6),
)
def test_parse_raises_only_invalid_input_on_edited_checkpoints(start: int, insert: str) -> None:
    text = Checkpoint(ORIGIN, 1234, ROOT, ("ext",)).to_text()
    edited = text[:start] + insert + text[start + len(insert) :]
    try:
        checkpoint = Checkpoint.parse(edited)
    except InvalidInput:
        return
    assert checkpoint.to_text() == edited


@given(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Zs", "Zl", "Zp"]), min_size=1),
    st.integers(0, MAX_TREE_SIZE),
    st.binary(min_size=32, max_size=32),
    st.lists(st.text(st.characters(codec="utf-8", exclude_categories=["Cc"]), min_size=1)),
)
def test_any_valid_checkpoint_round_trips(
    origin: str, size: int, root: bytes, extensions: list[str]
) -> None:
    try:
        checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    except InvalidInput:
        return  # Some other Unicode space slipped through the strategy's filter.
    assert Checkpoint.parse(checkpoint.to_text()) == checkpoint
