"""tools/verify_bundle.py, run as an investigator runs it: a separate program, given a zip.

The bundles are built here from scratch (entries, RFC 9162 tree, signed checkpoint, zip) with a
key made for each test, so the verifier is checked against an independent writer of the format.
"""

from __future__ import annotations

import ast
import base64
import functools
import hashlib
import importlib.util
import io
import json
import random
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from tests.shared_vectors import require_vectors

REPO_ROOT = Path(__file__).resolve().parents[2]
VERIFIER = REPO_ROOT / "tools" / "verify_bundle.py"
KEY_NAME = "armory.example"
BOOK = "prod-rust"
ORIGIN = f"{KEY_NAME}/{BOOK}"
ENTRY_COUNT = 12
BUNDLE_DATE = (2026, 11, 24, 18, 0, 0)
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


def write_bundle(
    path: Path,
    key: SigningKey,
    lines: Sequence[bytes],
    *,
    signed: Sequence[bytes] | None = None,
    leaves: bool = True,
    attachments: Sequence[bytes] = (),
    replace: Mapping[str, bytes] | None = None,
    streamed: bool = False,
    zip64: bool = False,
    stored: bool = False,
) -> Path:
    """Write a bundle whose checkpoint signs `signed` (default: `lines`) and whose
    entries.jsonl holds `lines`; `replace` overrides any member's bytes."""
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
    with (
        path.open("wb") as file,
        zipfile.ZipFile(Unseekable(file) if streamed else file, "w") as bundle,
    ):
        for name, data in members.items():
            info = zipfile.ZipInfo(name, BUNDLE_DATE)
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            with bundle.open(info, "w", force_zip64=zip64) as member:
                member.write(data)
    return path


class Unseekable(io.RawIOBase):
    """A file that can only be appended to, like a network stream: the zip module then writes
    a data descriptor after each member instead of going back to fill in its header."""

    def __init__(self, sink: io.BufferedWriter) -> None:
        self.sink = sink

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return self.sink.write(data)


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


@pytest.mark.parametrize(
    ("streamed", "zip64", "stored"),
    [
        pytest.param(False, False, True, id="uncompressed"),
        pytest.param(True, False, False, id="data-descriptors"),
        pytest.param(False, True, False, id="zip64-headers"),
        pytest.param(True, True, True, id="all-three"),
    ],
)
def test_a_bundle_written_as_a_stream_uncompressed_or_with_zip64_headers_passes(
    tmp_path: Path, key: SigningKey, streamed: bool, zip64: bool, stored: bool
) -> None:
    bundle = write_bundle(
        tmp_path / "bundle.zip",
        key,
        entries(),
        attachments=[b"photo"],
        streamed=streamed,
        zip64=zip64,
        stored=stored,
    )

    result = run_verifier(bundle, "--key", vkey_line(KEY_NAME, key))

    assert result.returncode == 0, result


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
        pytest.param(b"", "blank line", id="blank"),
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

    fails_with(result, "not a readable zip file")
    assert "Traceback" not in result.stderr


def test_a_missing_bundle_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run_verifier(tmp_path / "absent.zip")

    assert result.returncode == 2
    assert result.stderr.startswith("error: ")


def directory_fields_without_a_wrong_value(zip_bytes: bytes) -> set[int]:
    """Offsets of the zip directory fields that no reader can check, because every value is
    legal: "version made by" and the file attributes (APPNOTE.TXT 4.4.2, 4.4.14, 4.4.15)."""
    offsets: set[int] = set()
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as bundle:
        record = bundle.start_dir
        for info in bundle.infolist():
            offsets.update(range(record + 4, record + 6))  # version made by
            offsets.add(record + 36)  # internal attributes, whose bit 0 says "text"
            offsets.update(range(record + 38, record + 42))  # external attributes
            record += 46 + len(info.orig_filename) + len(info.extra) + len(info.comment)
    return offsets


def is_deflate_padding(zip_bytes: bytes, mutated: bytes, offset: int) -> bool:
    """Whether the change is inside a member's deflate stream and that stream still decodes,
    to its proper end, to the same bytes: it touched only bits the decoder skips (RFC 1951
    3.2.4, 3.2.7: padding to a byte boundary after a block header or after the last block)."""
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as bundle:
        for info in bundle.infolist():
            name_length, extra_length = struct.unpack_from(
                "<HH", zip_bytes, info.header_offset + 26
            )
            start = info.header_offset + 30 + name_length + extra_length
            if start <= offset < start + info.compress_size:
                inflater = zlib.decompressobj(-15)
                try:
                    content = inflater.decompress(mutated[start : start + info.compress_size])
                except zlib.error:
                    return False
                return inflater.eof and not inflater.unused_data and content == bundle.read(info)
    return False


def test_no_random_single_byte_change_to_the_zip_is_accepted_unless_every_file_reads_the_same(
    tmp_path: Path,
) -> None:
    key = SigningKey(hashlib.sha256(b"fixed test key").digest())  # the same zip bytes every run
    sound = write_bundle(tmp_path / "sound.zip", key, entries(), attachments=[b"photo"])
    original = sound.read_bytes()
    free_fields = directory_fields_without_a_wrong_value(original)
    rng = random.Random(20261124)
    mutations: list[tuple[int, bytes, Path]] = []
    for number in range(200):
        offset = rng.randrange(len(original))
        mutated = bytearray(original)
        mutated[offset] ^= rng.randrange(1, 256)
        path = tmp_path / f"mutated-{number}.zip"
        path.write_bytes(mutated)
        mutations.append((offset, bytes(mutated), path))

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda mutation: run_verifier(mutation[2]), mutations))

    refused = 0
    for (offset, changed, _), result in zip(mutations, results, strict=True):
        output = result.stdout + result.stderr
        assert "Traceback" not in output, (offset, output)
        if result.returncode == 0:
            # Accepted only where the format leaves bits without meaning, so that every file in
            # the zip still reads back byte for byte the same.
            assert offset in free_fields or is_deflate_padding(original, changed, offset), offset
            continue
        assert result.returncode == 1, (offset, output)
        assert result.stdout.startswith("FAIL: "), output
        assert result.stdout.count("\n") == 1, output
        refused += 1
    assert refused >= 180  # with this seed 193: the free directory fields are 42 of 1735 bytes


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
        hashes = [verifier.leaf_hash(bytes.fromhex(leaf)) for leaf in leaves[: int(size)]]
        assert verifier.merkle_root(hashes).hex() == root


def test_the_verifiers_tree_root_matches_the_recursive_definition_for_every_size_to_70() -> None:
    verifier = load_verifier()
    lines = entries(70)
    for size in range(71):
        hashes = [verifier.leaf_hash(line) for line in lines[:size]]
        assert verifier.merkle_root(hashes) == merkle_root(lines[:size])


def test_the_verifier_opens_the_public_signed_note_vector() -> None:
    vectors = json.loads(require_vectors("note", "vectors.json").read_text())
    verifier = load_verifier()
    for vector in (vectors["go_sumdb_note_vector"], vectors["c2sp_signed_note_example"]):
        note = vector.get("signed_note", vector.get("note"))
        key = verifier.parse_vkey(vector["vkey"])
        assert verifier.open_note(note.encode(), key) == vector["text"]
