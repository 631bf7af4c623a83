"""tools/verify_bundle.py, run as an investigator runs it: a separate program, given a zip.

The bundles are built here from scratch (entries, RFC 9162 tree, signed checkpoint, canonical
zip) with a key made for each test, so the verifier is checked against an independent writer of
the format; one test checks that Armory's own writer gives the very same bytes.
"""

from __future__ import annotations

import ast
import base64
import functools
import hashlib
import importlib.util
import io
import json
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from armory.ledger import bundle as armory_bundle
from tests.shared_vectors import require_vectors

REPO_ROOT = Path(__file__).resolve().parents[2]
VERIFIER = REPO_ROOT / "tools" / "verify_bundle.py"
KEY_NAME = "armory.example"
BOOK = "prod-rust"
ORIGIN = f"{KEY_NAME}/{BOOK}"
ENTRY_COUNT = 12
README = "How to verify this bundle: see tools/verify_bundle.py.\n" * 20


# --- An independent writer of the bundle format -----------------------------------------------


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def vkey_line(name: str, key: SigningKey) -> str:
    """signed-note verifier key: name+hex(key id)+base64(0x01 || public key)."""
    public = bytes(key.verify_key)
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    material = b"\x01" + public
    return f"{name}+{key_id.hex()}+{b64(material)}"


def sign_note(text: str, name: str, key: SigningKey) -> bytes:
    """A signed note: the text, a blank line, one Ed25519 signature line."""
    key_id = bytes.fromhex(vkey_line(name, key).split("+")[1])
    signature = key.sign(text.encode()).signature
    return f"{text}\n\u2014 {name} {b64(key_id + signature)}\n".encode()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def merkle_root(entries: Sequence[bytes]) -> bytes:
    """RFC 9162 section 2.1 MTH, written as its recursive definition."""
    if not entries:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    split = 1
    while split * 2 < len(entries):
        split *= 2
    left, right = merkle_root(entries[:split]), merkle_root(entries[split:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def checkpoint(key: SigningKey, entries: Sequence[bytes], origin: str = ORIGIN) -> bytes:
    """A signed tlog-checkpoint over `entries`."""
    text = f"{origin}\n{len(entries)}\n{b64(merkle_root(entries))}\n"
    return sign_note(text, KEY_NAME, key)


def entry(position: int, book: str = BOOK, **fields: object) -> bytes:
    """One entry's canonical bytes (plain ASCII values, for which sorted compact JSON is JCS)."""
    value: dict[str, object] = {
        "actor": f"person-{position % 3}",
        "book": book,
        "data": {
            "firearm": "revolver-1",
            "chambers": [0, 0, 1, 0, 0, 0],
            "note": f"step {position}",
        },
        "index": position,
        "time": f"2026-11-24T{position // 3600 % 24:02d}:{position // 60 % 60:02d}:"
        f"{position % 60:02d}.{position % 1000:03d}Z",
        "type": "firearm_inspected",
    }
    if position % 5 == 4:
        value["refs"] = [{"book": book, "index": position - 1}]
    value.update(fields)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entries(count: int = ENTRY_COUNT) -> list[bytes]:
    return [entry(index) for index in range(count)]


MEMBER_ORDER = ("checkpoint", "log.vkey", "entries.jsonl", "leaves", "attachments/", "README.txt")


def canonical_order(name: str) -> tuple[int, str]:
    """The bundle's member order; names a bundle never holds go last."""
    if name.startswith("attachments/"):
        return MEMBER_ORDER.index("attachments/"), name
    return (MEMBER_ORDER.index(name) if name in MEMBER_ORDER else len(MEMBER_ORDER)), name


def canonical_zip(members: Sequence[tuple[str, bytes]]) -> bytes:
    """The members, in the order given, as the canonical zip layout of a bundle, written from
    PKWARE APPNOTE.TXT with literal values: stored, 1980-01-01 00:00, made on Unix (3) by
    version 4.5 (0x032D) with mode 0100644, a zip64 field in every header, zip64 end records."""
    out, directory = bytearray(), bytearray()
    for name, data in members:
        raw, crc, offset = name.encode(), zlib.crc32(data), len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, 2**32 - 1, 2**32 - 1,
                           len(raw), 20)  # fmt: skip
        out += raw + struct.pack("<HHQQ", 1, 16, len(data), len(data)) + data
        directory += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x032D, 45, 0, 0, 0, 0x21, crc,
                                 2**32 - 1, 2**32 - 1, len(raw), 28, 0, 0, 0, 0x81A40000,
                                 2**32 - 1)  # fmt: skip
        directory += raw + struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
    count, at, size = len(members), len(out), len(directory)
    out += directory
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x032D, 45, 0, 0, count, count, size, at)
    out += struct.pack("<IIQI", 0x07064B50, 0, at + size, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(count, 0xFFFF), min(count, 0xFFFF),
                       size, at, 0)  # fmt: skip
    return bytes(out)


def bundle_members(
    key: SigningKey,
    lines: Sequence[bytes],
    *,
    signed: Sequence[bytes] | None = None,
    leaves: bool = True,
    attachments: Sequence[bytes] = (),
    replace: Mapping[str, bytes] | None = None,
) -> list[tuple[str, bytes]]:
    """A bundle's files in the canonical order: its checkpoint signs `signed` (default: `lines`)
    and its entries.jsonl holds `lines`; `replace` overrides or adds any file."""
    signed = lines if signed is None else signed
    members: dict[str, bytes] = {
        "checkpoint": checkpoint(key, signed),
        "log.vkey": (vkey_line(KEY_NAME, key) + "\n").encode(),
        "entries.jsonl": b"".join(line + b"\n" for line in lines),
        "README.txt": README.encode(),
    }
    if leaves:
        members["leaves"] = b"".join(hashlib.sha256(b"\x00" + line).digest() for line in signed)
    for attachment in attachments:
        members[f"attachments/{hashlib.sha256(attachment).hexdigest()}"] = attachment
    members.update(replace or {})
    return sorted(members.items(), key=lambda member: canonical_order(member[0]))


def write_bundle(
    path: Path,
    key: SigningKey,
    lines: Sequence[bytes],
    *,
    signed: Sequence[bytes] | None = None,
    leaves: bool = True,
    attachments: Sequence[bytes] = (),
    replace: Mapping[str, bytes] | None = None,
) -> Path:
    """Write the canonical zip of `bundle_members(...)` to `path`."""
    members = bundle_members(
        key, lines, signed=signed, leaves=leaves, attachments=attachments, replace=replace
    )
    path.write_bytes(canonical_zip(members))
    return path


def run_verifier(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFIER), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def fails_with(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    """The verifier refused with exit 1 and one `FAIL:` line that says each phrase."""
    assert result.returncode == 1, result
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith("FAIL: ")
    for phrase in phrases:
        assert phrase in lines[0]


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def good_bundle(tmp_path: Path, key: SigningKey) -> Path:
    return write_bundle(tmp_path / "bundle.zip", key, entries(), attachments=[b"photo bytes"])


# --- Sound bundles pass -----------------------------------------------------------------------


def test_a_sound_bundle_passes_and_warns_that_the_key_came_from_the_bundle(
    good_bundle: Path,
) -> None:
    result = run_verifier(good_bundle)

    assert result.returncode == 0, result
    root = merkle_root(entries()).hex()
    assert result.stdout == (
        f"OK: {ENTRY_COUNT} entries of book {BOOK}, root {root}, signed by {KEY_NAME}\n"
    )
    assert result.stderr.startswith("WARNING: ")
    assert "independently" in result.stderr


def test_a_bundle_verified_against_the_pinned_right_key_passes_without_a_warning(
    tmp_path: Path, key: SigningKey, good_bundle: Path
) -> None:
    key_file = tmp_path / "production.vkey"
    key_file.write_text(vkey_line(KEY_NAME, key) + "\n")

    from_file = run_verifier(good_bundle, "--key", key_file)
    from_text = run_verifier(good_bundle, "--key", vkey_line(KEY_NAME, key))

    for result in (from_file, from_text):
        assert result.returncode == 0, result
        assert result.stdout.startswith(f"OK: {ENTRY_COUNT} entries of book {BOOK}")
        assert result.stderr == ""


def test_an_empty_book_verifies_against_the_hash_of_nothing(
    tmp_path: Path, key: SigningKey
) -> None:
    bundle = write_bundle(tmp_path / "bundle.zip", key, [])

    result = run_verifier(bundle, "--key", vkey_line(KEY_NAME, key))

    assert result.returncode == 0, result
    assert hashlib.sha256(b"").hexdigest() in result.stdout


def test_a_bundle_without_the_optional_leaves_and_attachments_passes(
    tmp_path: Path, key: SigningKey
) -> None:
    bundle = write_bundle(tmp_path / "bundle.zip", key, entries(), leaves=False)

    assert run_verifier(bundle, "--key", vkey_line(KEY_NAME, key)).returncode == 0


def test_armorys_own_writer_gives_byte_for_byte_the_bundle_this_independent_writer_gives(
    tmp_path: Path, key: SigningKey
) -> None:
    photos = [b"photo one", b"photo two"]
    lines = entries()
    members = bundle_members(key, lines, attachments=photos)
    out = io.BytesIO()

    armory_bundle.write_bundle(
        out,
        checkpoint_note=checkpoint(key, lines).decode(),
        vkey=vkey_line(KEY_NAME, key),
        rows=[(line, hashlib.sha256(b"\x00" + line).digest()) for line in lines],
        readme=README,
        attachments=[(hashlib.sha256(photo).hexdigest(), photo) for photo in reversed(photos)],
    )

    assert out.getvalue() == canonical_zip(members)
    assert run_verifier(write_bundle(tmp_path / "b.zip", key, lines)).returncode == 0


class AppendOnly(io.RawIOBase):
    """A file that can only be appended to, like a network stream: the zip module then writes
    a data descriptor after each member instead of going back to fill in its header."""

    def __init__(self, sink: io.BufferedWriter) -> None:
        self.sink = sink

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return self.sink.write(data)


@pytest.mark.parametrize(
    ("compression", "streamed", "zip64"),
    [
        pytest.param(zipfile.ZIP_STORED, False, False, id="uncompressed"),
        pytest.param(zipfile.ZIP_DEFLATED, False, False, id="compressed"),
        pytest.param(zipfile.ZIP_STORED, True, False, id="data-descriptors"),
        pytest.param(zipfile.ZIP_STORED, False, True, id="zip64-headers"),
    ],
)
def test_the_same_files_in_any_other_zip_layout_fail_as_altered(
    tmp_path: Path, key: SigningKey, compression: int, streamed: bool, zip64: bool
) -> None:
    path = tmp_path / "bundle.zip"
    with (
        path.open("wb") as file,
        zipfile.ZipFile(AppendOnly(file) if streamed else file, "w") as zf,
    ):
        for name, data in bundle_members(key, entries(), attachments=[b"photo"]):
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.compress_type = compression
            info.create_system, info.external_attr = 3, 0o100644 << 16
            with zf.open(info, "w", force_zip64=zip64) as member:
                member.write(data)

    fails_with(run_verifier(path, "--key", vkey_line(KEY_NAME, key)), "damaged or altered")


def test_a_bundle_with_more_attachments_than_a_plain_zip_can_count_passes(
    tmp_path: Path, key: SigningKey
) -> None:
    photos = [b"photo %d" % number for number in range(70_000)]  # over 65,535: zip64 end record
    bundle = write_bundle(tmp_path / "bundle.zip", key, entries(), attachments=photos)

    result = run_verifier(bundle, "--key", vkey_line(KEY_NAME, key))

    assert result.returncode == 0, result


# --- The key ----------------------------------------------------------------------------------


def test_a_bundle_checked_against_another_pinned_key_fails(
    good_bundle: Path,
) -> None:
    other = vkey_line(KEY_NAME, SigningKey.generate())

    fails_with(run_verifier(good_bundle, "--key", other), "log.vkey is not the key you gave")


def test_a_forged_bundle_carrying_the_real_key_but_signed_by_another_fails(
    tmp_path: Path, key: SigningKey
) -> None:
    forger = SigningKey.generate()
    real_vkey = (vkey_line(KEY_NAME, key) + "\n").encode()
    bundle = write_bundle(
        tmp_path / "bundle.zip", forger, entries(), replace={"log.vkey": real_vkey}
    )

    fails_with(
        run_verifier(bundle, "--key", vkey_line(KEY_NAME, key)),
        "checkpoint:",
        "no signature by the trusted key",
    )


def test_a_key_argument_that_is_neither_a_file_nor_a_key_is_a_usage_error(
    good_bundle: Path,
) -> None:
    result = run_verifier(good_bundle, "--key", "no-such-file.vkey")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")


# --- The signature ----------------------------------------------------------------------------


def test_a_checkpoint_with_a_bad_signature_fails(tmp_path: Path, key: SigningKey) -> None:
    note = bytearray(checkpoint(key, entries()))
    signature_start = note.rindex(b" ") + 1
    raw = base64.b64decode(note[signature_start:-1])
    forged = raw[:20] + bytes([raw[20] ^ 1]) + raw[21:]
    note[signature_start:-1] = b64(forged).encode()
    bundle = write_bundle(
        tmp_path / "bundle.zip", key, entries(), replace={"checkpoint": bytes(note)}
    )

    fails_with(run_verifier(bundle), "checkpoint:", "does not verify")


def test_a_checkpoint_whose_signed_text_was_changed_fails(tmp_path: Path, key: SigningKey) -> None:
    note = checkpoint(key, entries()).replace(f"\n{ENTRY_COUNT}\n".encode(), b"\n11\n")
    bundle = write_bundle(tmp_path / "bundle.zip", key, entries(), replace={"checkpoint": note})

    fails_with(run_verifier(bundle), "checkpoint:", "does not verify")


# --- Entries: editing, deleting, moving, inserting --------------------------------------------


def test_an_edited_entry_fails_and_is_named_when_the_leaves_are_present(
    tmp_path: Path, key: SigningKey
) -> None:
    original = entries()
    tampered = list(original)
    tampered[7] = entry(7, actor="someone-else")
    bundle = write_bundle(tmp_path / "bundle.zip", key, tampered, signed=original)

    fails_with(run_verifier(bundle), "entry 7 does not match the signed tree")


def test_an_edited_entry_fails_without_the_leaves_too(tmp_path: Path, key: SigningKey) -> None:
    original = entries()
    tampered = list(original)
    tampered[7] = entry(7, actor="someone-else")
    bundle = write_bundle(tmp_path / "bundle.zip", key, tampered, signed=original, leaves=False)

    fails_with(run_verifier(bundle), "the entries do not match the signed checkpoint")


def test_leaves_that_do_not_reproduce_the_signed_root_are_not_believed(
    tmp_path: Path, key: SigningKey
) -> None:
    original = entries()
    tampered = list(original)
    tampered[7] = entry(7, actor="someone-else")
    lying_leaves = b"".join(hashlib.sha256(b"\x00" + line).digest() for line in original)
    lying_leaves = lying_leaves[:32] + bytes(32) + lying_leaves[64:]
    bundle = write_bundle(
        tmp_path / "bundle.zip", key, tampered, signed=original, replace={"leaves": lying_leaves}
    )

    result = run_verifier(bundle)

    fails_with(result, "the entries do not match the signed checkpoint")
    assert "entry 1 " not in result.stdout


def delete_line(lines: list[bytes]) -> list[bytes]:
    return lines[:5] + lines[6:]


def swap_lines(lines: list[bytes]) -> list[bytes]:
    return [*lines[:5], lines[6], lines[5], *lines[7:]]


def insert_line(lines: list[bytes]) -> list[bytes]:
    return [*lines[:5], entry(5, actor="intruder"), *lines[5:]]


def wrong_index_field(lines: list[bytes]) -> list[bytes]:
    return [*lines[:5], lines[5].replace(b'"index":5', b'"index":50'), *lines[6:]]


def renumbered(
    change: Callable[[list[bytes]], list[bytes]],
) -> Callable[[list[bytes]], list[bytes]]:
    """The same change, by a forger who then rewrites every index field to match its line."""

    def change_and_renumber(lines: list[bytes]) -> list[bytes]:
        changed = [json.loads(line) for line in change(lines)]
        return [
            json.dumps({**value, "index": index}, sort_keys=True, separators=(",", ":")).encode()
            for index, value in enumerate(changed)
        ]

    return change_and_renumber


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        pytest.param(delete_line, "entry 5: the line at position 5 says index 6", id="deleted"),
        pytest.param(swap_lines, "entry 5: the line at position 5 says index 6", id="swapped"),
        pytest.param(insert_line, "entry 6: the line at position 6 says index 5", id="inserted"),
        pytest.param(
            wrong_index_field, "entry 5: the line at position 5 says index 50", id="index"
        ),
        pytest.param(renumbered(delete_line), "entry 5 does not match", id="deleted-renumbered"),
        pytest.param(renumbered(swap_lines), "entry 5 does not match", id="swapped-renumbered"),
        pytest.param(renumbered(insert_line), "entry 5 does not match", id="inserted-renumbered"),
    ],
)
def test_a_deleted_moved_or_inserted_line_fails_and_is_named(
    tmp_path: Path,
    key: SigningKey,
    change: Callable[[list[bytes]], list[bytes]],
    phrase: str,
) -> None:
    bundle = write_bundle(tmp_path / "bundle.zip", key, change(entries()), signed=entries())

    fails_with(run_verifier(bundle), phrase)


def test_a_deleted_last_line_fails_naming_the_missing_entry(
    tmp_path: Path, key: SigningKey
) -> None:
    bundle = write_bundle(tmp_path / "bundle.zip", key, entries()[:-1], signed=entries())

    fails_with(run_verifier(bundle), f"entry {ENTRY_COUNT - 1} onward is missing")


def test_entries_appended_after_the_signed_checkpoint_fail_as_unsigned(
    tmp_path: Path, key: SigningKey
) -> None:
    bundle = write_bundle(
        tmp_path / "bundle.zip", key, [*entries(), entry(ENTRY_COUNT)], signed=entries()
    )

    fails_with(run_verifier(bundle), f"entry {ENTRY_COUNT} onward is not covered")


def test_an_entry_from_another_book_fails(tmp_path: Path, key: SigningKey) -> None:
    lines = entries()
    lines[3] = entry(3, book="prod-other")
    bundle = write_bundle(tmp_path / "bundle.zip", key, lines)

    fails_with(run_verifier(bundle), "entry 3: it belongs to book")


@pytest.mark.parametrize(
    ("line", "phrase"),
    [
        pytest.param(b"", "not valid JSON", id="blank"),
        pytest.param(b"[1,2]", "not a JSON object", id="array"),
        pytest.param(b'{"index":2', "not valid JSON", id="cut"),
        pytest.param(b"\xff", "not UTF-8", id="binary"),
        pytest.param(entry(2, extra="x"), "its members are", id="extra-member"),
        pytest.param(entry(2, time="2026-11-24 10:00:02Z"), "its time", id="time"),
        pytest.param(entry(2, time="2026-13-24T10:00:02.002Z"), "its time", id="month-13"),
        pytest.param(entry(2, data=[1]), "its data is not", id="data"),
        pytest.param(entry(2, index=True), "says index True", id="boolean-index"),
    ],
)
def test_a_malformed_entry_line_fails_and_is_named_even_when_it_is_signed(
    tmp_path: Path, key: SigningKey, line: bytes, phrase: str
) -> None:
    lines = entries()
    lines[2] = line
    bundle = write_bundle(tmp_path / "bundle.zip", key, lines)

    fails_with(run_verifier(bundle), "entry 2:", phrase)


def test_an_attachment_whose_bytes_do_not_match_its_name_fails(
    tmp_path: Path, key: SigningKey
) -> None:
    name = f"attachments/{hashlib.sha256(b'the photo').hexdigest()}"
    bundle = write_bundle(tmp_path / "bundle.zip", key, entries(), replace={name: b"another"})

    fails_with(run_verifier(bundle), name, "its SHA-256 is")


def test_an_unexpected_file_in_the_bundle_fails(tmp_path: Path, key: SigningKey) -> None:
    bundle = write_bundle(tmp_path / "bundle.zip", key, entries(), replace={"notes.txt": b"x"})

    fails_with(run_verifier(bundle), "unexpected file 'notes.txt'")


# --- Consistency with a checkpoint the investigator already holds -----------------------------


def test_a_bundle_that_extends_an_older_checkpoint_is_consistent_with_it(
    tmp_path: Path, key: SigningKey, good_bundle: Path
) -> None:
    older = tmp_path / "older.checkpoint"
    older.write_bytes(checkpoint(key, entries()[:7]))

    result = run_verifier(good_bundle, "--key", vkey_line(KEY_NAME, key), "--checkpoint", older)

    assert result.returncode == 0, result
    assert "consistent with the checkpoint you hold (7 entries)" in result.stdout


def test_an_older_checkpoint_proves_a_rewritten_log_inconsistent(
    tmp_path: Path, key: SigningKey
) -> None:
    original = entries()
    older = tmp_path / "older.checkpoint"
    older.write_bytes(checkpoint(key, original[:7]))
    rewritten = list(original)
    rewritten[4] = entry(4, actor="someone-else")
    bundle = write_bundle(tmp_path / "bundle.zip", key, rewritten)  # re-signed by the key holder

    result = run_verifier(bundle, "--key", vkey_line(KEY_NAME, key), "--checkpoint", older)

    fails_with(result, "the log was rewritten: its first 7 entries do not match")


def test_an_older_checkpoint_not_signed_by_the_key_is_refused(
    tmp_path: Path, key: SigningKey, good_bundle: Path
) -> None:
    older = tmp_path / "older.checkpoint"
    older.write_bytes(checkpoint(SigningKey.generate(), entries()[:7]))

    result = run_verifier(good_bundle, "--checkpoint", older)

    fails_with(result, "the checkpoint you hold:", "no signature by the trusted key")


def test_an_older_checkpoint_larger_than_the_bundle_fails(tmp_path: Path, key: SigningKey) -> None:
    older = tmp_path / "older.checkpoint"
    older.write_bytes(checkpoint(key, entries()))
    bundle = write_bundle(tmp_path / "bundle.zip", key, entries()[:7])

    fails_with(run_verifier(bundle, "--checkpoint", older), "more than this bundle's 7")


# --- Damaged files --------------------------------------------------------------------------


def test_a_truncated_zip_fails_with_one_line_and_no_traceback(
    tmp_path: Path, good_bundle: Path
) -> None:
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good_bundle.read_bytes()[:-100])

    result = run_verifier(truncated)

    fails_with(result, "the zip file is damaged or altered")
    assert "Traceback" not in result.stderr


def test_a_missing_bundle_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run_verifier(tmp_path / "absent.zip")

    assert result.returncode == 2
    assert result.stderr.startswith("error: ")


def content_offsets(zip_bytes: bytes) -> set[int]:
    """Where the files' own bytes lie in a canonical bundle; every other byte is zip structure."""
    offsets: set[int] = set()
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        for info in zf.infolist():
            start = info.header_offset + 30 + len(info.orig_filename) + 20
            offsets.update(range(start, start + info.file_size))
    return offsets


def test_a_change_to_any_byte_of_the_zip_structure_is_refused_as_damage(good_bundle: Path) -> None:
    verifier = load_verifier()
    original = good_bundle.read_bytes()
    content = content_offsets(original)
    structure = [offset for offset in range(len(original)) if offset not in content]

    for offset in structure:
        for flip in (0x01, 0x80, 0xFF):
            mutated = bytearray(original)
            mutated[offset] ^= flip
            with pytest.raises(verifier.Failure) as refused:
                verifier.verify(io.BytesIO(mutated), None, None)
            message = str(refused.value)
            assert "damaged or altered" in message or "unexpected file" in message, (offset, flip)
    assert len(structure) > 500  # every header and the whole directory were covered


def test_a_changed_byte_is_refused_by_the_program_with_one_line_and_no_traceback(
    tmp_path: Path, good_bundle: Path
) -> None:
    original = good_bundle.read_bytes()
    for offset in (0, 40, len(original) // 2, len(original) - 30, len(original) - 1):
        mutated = bytearray(original)
        mutated[offset] ^= 0x20
        path = tmp_path / f"changed-{offset}.zip"
        path.write_bytes(mutated)

        fails_with(run_verifier(path), "the zip file is damaged or altered")


# --- The verifier's own building blocks, against public vectors -----------------------------


@functools.cache
def load_verifier() -> ModuleType:
    """The verifier as a module, to test its parts against public vectors."""
    spec = importlib.util.spec_from_file_location("verify_bundle", VERIFIER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it is loading
    spec.loader.exec_module(module)
    return module


def test_the_verifier_imports_nothing_but_the_standard_library_and_pynacl() -> None:
    tree = ast.parse(VERIFIER.read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    top_level = {name.split(".")[0] for name in imported}

    assert top_level - sys.stdlib_module_names == {"nacl"}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_the_note_parser_answers_arbitrary_bytes_with_a_failure_and_never_crashes(
    raw: bytes,
) -> None:
    verifier = load_verifier()
    key = verifier.parse_vkey(vkey_line(KEY_NAME, SigningKey(bytes(32))))
    with pytest.raises(verifier.Failure):
        verifier.parse_checkpoint(raw, key)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_the_entry_checker_answers_arbitrary_bytes_with_a_failure_and_never_crashes(
    line: bytes,
) -> None:
    verifier = load_verifier()
    with pytest.raises(verifier.Failure):
        verifier.check_entry(line, 3, BOOK)


@pytest.fixture(scope="module")
def fixed_bundle() -> bytes:
    key = SigningKey(hashlib.sha256(b"fixed test key").digest())
    return canonical_zip(bundle_members(key, entries(4), attachments=[b"photo"]))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_the_whole_verifier_answers_arbitrary_bytes_with_a_failure_and_never_crashes(
    data: bytes,
) -> None:
    verifier = load_verifier()
    with pytest.raises(verifier.Failure):
        verifier.verify(io.BytesIO(data), None, None)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_the_whole_verifier_answers_a_bundle_with_any_stretch_replaced_with_a_failure(
    fixed_bundle: bytes, data: st.DataObject
) -> None:
    verifier = load_verifier()
    start = data.draw(st.integers(0, len(fixed_bundle)))
    end = data.draw(st.integers(start, min(len(fixed_bundle), start + 64)))
    altered = fixed_bundle[:start] + data.draw(st.binary(max_size=64)) + fixed_bundle[end:]

    if altered != fixed_bundle:
        with pytest.raises(verifier.Failure):
            verifier.verify(io.BytesIO(altered), None, None)


def test_the_bundle_readme_fills_in_fits_100_columns_and_names_the_verifier() -> None:
    template = (REPO_ROOT / "src" / "armory" / "ledger" / "bundle_readme.txt").read_text()

    text = template.format(
        origin=ORIGIN, size=ENTRY_COUNT, book=BOOK, exported_at="2026-11-24T18:00:00.000Z"
    )

    assert f"{ORIGIN}\n" in text
    assert "tools/verify_bundle.py" in text
    assert len(template.splitlines()) < 120
    assert max(len(line) for line in template.splitlines()) <= 100


def test_the_verifiers_tree_root_matches_the_rfc_9162_reference_roots() -> None:
    roots = require_vectors("merkle", "ROOTS.txt")
    leaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657"]
    leaves.append("606162636465666768696a6b6c6d6e6f")
    verifier = load_verifier()
    for line in roots.read_text().splitlines():
        if line.startswith("#"):
            continue
        size, root = line.split()
        hashes = [leaf_hash(bytes.fromhex(leaf)) for leaf in leaves[: int(size)]]
        assert verifier.merkle_root(hashes).hex() == root


def test_the_verifiers_tree_root_matches_the_recursive_definition_for_every_size_to_70() -> None:
    verifier = load_verifier()
    lines = entries(70)
    for size in range(71):
        hashes = [leaf_hash(line) for line in lines[:size]]
        assert verifier.merkle_root(hashes) == merkle_root(lines[:size])


def test_the_verifier_opens_the_public_signed_note_vector() -> None:
    vectors = json.loads(require_vectors("note", "vectors.json").read_text())
    verifier = load_verifier()
    for vector in (vectors["go_sumdb_note_vector"], vectors["c2sp_signed_note_example"]):
        note = vector.get("signed_note", vector.get("note"))
        key = verifier.parse_vkey(vector["vkey"])
        assert verifier.open_note(note.encode(), key) == vector["text"]
