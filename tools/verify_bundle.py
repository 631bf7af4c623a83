#!/usr/bin/env python3
"""Verify an Armory evidence bundle with nothing but CRC-32, SHA-256 and Ed25519.

    python3 tools/verify_bundle.py BUNDLE.zip [--key VKEY_FILE_OR_TEXT]
                                              [--checkpoint OLD_CHECKPOINT_FILE]

Needs Python 3.10 or later and PyNaCl (`pip install pynacl`). It imports nothing from Armory, so
a bundle can be checked without trusting the software that produced it.

--key         the production's verifier key (a file holding the key line, or the line itself),
              obtained from the production by some channel other than the bundle. Without it the
              bundle's own log.vkey is used and a WARNING says so: a forger could replace both.
--checkpoint  a signed checkpoint you received earlier from the same production; the bundle
              must extend it (the log was only appended to since, never rewritten).

The checks, in order; the first that fails prints one line `FAIL: <reason>` and exits 1:

1. The zip is in the one canonical layout of a bundle (see "Check 1" below): it holds
   checkpoint, log.vkey, entries.jsonl, optionally leaves and attachments/<sha256>, and
   README.txt, in that order, stored uncompressed, and nothing else; every header byte has the
   one value the layout allows; every file matches its CRC-32. So a change to any byte of the
   zip is noticed. This only tells an altered or damaged file from a sound one: nothing in the
   bundle is trusted until the signature holds.
2. The key: --key if given (the bundle's log.vkey must then be the same key), else log.vkey.
   A key line is `<name>+<key id, 8 hex>+<base64(0x01 || 32-byte Ed25519 public key)>`, where
   the key id is the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key).
3. The checkpoint is a signed note (c2sp.org/signed-note) carrying a valid Ed25519 signature by
   that key over its text, which is a checkpoint (c2sp.org/tlog-checkpoint) of three lines: the
   origin `<key name>/<book>`, the number of entries, and the base64 RFC 9162 root hash.
4. entries.jsonl: each line is a JSON object with exactly actor, book, data, index, time, type
   (and optionally refs); its index is its 0-based line number; its book is the checkpoint's.
5. The RFC 9162 section 2.1 Merkle tree of the lines (leaf = SHA-256(0x00 || line without its
   newline), node = SHA-256(0x01 || left || right)) has the signed size and root. If not, and
   the optional `leaves` file reproduces the signed root, the first entry whose hash differs
   from its signed leaf is named.
6. Each attachments/<name> file has SHA-256 equal to its name.
7. With --checkpoint: that checkpoint verifies with the same key, has the same origin, and its
   root is the root of the bundle's first <its size> entries.

On success it prints `OK: <size> entries of book <book>, root <hex>, signed by <key name>` and
exits 0. Warnings go to standard error. Usage errors and unreadable input files exit 2.

What OK means: the key holder signed exactly these bytes as the entries of the book, in this
order, as the whole book at that size. It does not re-check that each line is RFC 8785 canonical
JSON: the signature covers the bytes as they are. An attachment is covered only through the entry
that records its hash. README.txt and `leaves` are not signed: only their CRC-32 is checked.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import re
import struct
import sys
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, NamedTuple

try:
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey
except ImportError:
    sys.exit("error: this verifier needs PyNaCl for Ed25519: pip install pynacl")

HASH_SIZE = 32
MAX_NOTE_SIZE = 1 << 16  # a checkpoint or key is a few hundred bytes: a bound on the work


class Failure(Exception):
    """The bundle does not verify; the message says why, in one line."""


class UsageError(Exception):
    """The command line or one of the files it names cannot be used."""


# --- Check 1: the zip container (PKWARE APPNOTE.TXT 6.3.10 section numbers) -------------------
#
# Members lie end to end from byte 0, then the central directory, then the end records. Every
# header field has one fixed value except a member's name, size, CRC-32 and offset. Every member
# has a zip64 field and the zip64 end records are always there, so there is one layout at any
# size. The check reads each member's name, size and CRC-32 from its local header, builds the
# headers and directory those call for and compares them with the file byte for byte. Each
# member's content must match its CRC-32, which catches any change of up to 32 consecutive bits.

VERSION = 45  # 4.4.3.2: version 4.5, which brought zip64
MADE_BY = 3 << 8 | VERSION  # 4.4.2: made on Unix, so the attributes are a Unix file mode
FILE_MODE = 0o100644 << 16  # 4.4.15: a regular file, rw-r--r--
DOS_DATE = 1 << 5 | 1  # 4.4.6: 1980-01-01, the earliest date a zip can hold; time 00:00:00
IN_ZIP64 = 0xFFFFFFFF  # 4.4.8: "the value is in the zip64 field"
LOCAL = struct.Struct("<4s5H3L2H")  # 4.3.7 local file header
CENTRAL = struct.Struct("<4s6H3L5H2L")  # 4.3.12 central directory file header
ZIP64_END = struct.Struct("<4sQ2H2L4Q")  # 4.3.14 zip64 end of central directory record
ZIP64_LOCATOR = struct.Struct("<4sLQL")  # 4.3.15
END = struct.Struct("<4s4H2LH")  # 4.3.16 end of central directory record
ORDER = ("checkpoint", "log.vkey", "entries.jsonl", "leaves", "attachments", "README.txt")
NAMES = re.compile(
    r"checkpoint|log\.vkey|entries\.jsonl|leaves|attachments/[0-9a-f]{64}|README\.txt"
)


def local_header(name: bytes, size: int, crc: int) -> bytes:
    """4.3.7, then the 4.5.3 zip64 field: id 1, 16 bytes, size, compressed size."""
    fixed = (VERSION, 0, 0, 0, DOS_DATE)  # version needed, flags, method 0 (stored), time, date
    head = LOCAL.pack(b"PK\x03\x04", *fixed, crc, IN_ZIP64, IN_ZIP64, len(name), 20)
    return head + name + struct.pack("<2H2Q", 1, 16, size, size)


def directory_record(name: bytes, size: int, crc: int, offset: int) -> bytes:
    """4.3.12 (no comment, disk 0, no internal attributes), then a zip64 field with the sizes
    and the local header's offset."""
    fixed = (MADE_BY, VERSION, 0, 0, 0, DOS_DATE)
    sizes_and_lengths = (crc, IN_ZIP64, IN_ZIP64, len(name), 28, 0, 0, 0)
    head = CENTRAL.pack(b"PK\x01\x02", *fixed, *sizes_and_lengths, FILE_MODE, IN_ZIP64)
    return head + name + struct.pack("<2H3Q", 1, 24, size, size, offset)


def end_records(count: int, at: int, size: int) -> bytes:
    """The zip64 end record and locator, then the end record, whose fields each hold their value
    if it fits, else all ones (4.4.1.4)."""
    short = min(count, 0xFFFF)
    return (
        ZIP64_END.pack(b"PK\x06\x06", 44, MADE_BY, VERSION, 0, 0, count, count, size, at)
        + ZIP64_LOCATOR.pack(b"PK\x06\x07", 0, at + size, 1)
        + END.pack(b"PK\x05\x06", 0, 0, short, short, min(size, IN_ZIP64), min(at, IN_ZIP64), 0)
    )


def damaged(detail: str) -> Failure:
    return Failure(f"the zip file is damaged or altered: {detail}")


def require_canonical(actual: bytes, expected: bytes, offset: int) -> None:
    if actual != expected:
        pairs = enumerate(zip(actual, expected, strict=False))
        differs = next((i for i, (a, b) in pairs if a != b), min(len(actual), len(expected)))
        raise damaged(f"byte {offset + differs} differs from the canonical layout of a bundle")


class Member(NamedTuple):
    at: int  # where its content starts
    size: int


def chunks(file: BinaryIO, member: Member) -> Iterator[bytes]:
    """A member's content, a megabyte at a time."""
    position, end = member.at, member.at + member.size
    while position < end:
        file.seek(position)  # every time, so that other reads may come in between
        chunk = file.read(min(end - position, 1 << 20))
        if not chunk:
            raise damaged("it became shorter while it was read")
        position += len(chunk)
        yield chunk


def read_member(file: BinaryIO, member: Member) -> bytes:
    return b"".join(chunks(file, member))


def read_container(file: BinaryIO) -> dict[str, Member]:
    """Check 1; return the members by name."""
    file_size = file.seek(0, io.SEEK_END)
    members: dict[str, Member] = {}
    directory: list[bytes] = []
    position, last_place = 0, (-1, "")
    while True:
        file.seek(position)
        head = file.read(LOCAL.size)
        if len(head) < LOCAL.size or not head.startswith(b"PK\x03\x04"):
            break  # the directory, checked below
        (crc,) = struct.unpack_from("<L", head, 14)  # 4.3.7: the CRC-32 is at byte 14,
        (name_length,) = struct.unpack_from("<H", head, 26)  # the name's length at byte 26
        raw_name = file.read(name_length)
        zip64 = file.read(20)
        size = int.from_bytes(zip64[4:12], "little")
        header = local_header(raw_name, size, crc)
        require_canonical(head + raw_name + zip64, header, position)
        name = raw_name.decode("ascii", "backslashreplace")
        if not NAMES.fullmatch(name):
            raise Failure(f"the bundle holds an unexpected file {name!a}")
        place = (ORDER.index(name.partition("/")[0]), name)  # attachments go by name
        if place <= last_place:
            raise damaged(f"{name} is out of the canonical order of the files, or there twice")
        last_place, member = place, Member(position + len(header), size)
        if member.at + size > file_size:
            raise damaged(f"{name} is cut short")
        crc_of_content = 0
        for chunk in chunks(file, member):
            crc_of_content = zlib.crc32(chunk, crc_of_content)
        if crc_of_content != crc:
            raise damaged(f"{name} does not match its CRC-32")
        members[name] = member
        directory.append(directory_record(raw_name, size, crc, position))
        position = member.at + size
    if not members:
        raise damaged("it does not start with the header of a zip member")
    records = b"".join(directory)
    expected = records + end_records(len(members), position, len(records))
    file.seek(position)
    require_canonical(file.read(len(expected) + 1), expected, position)
    for name in ("checkpoint", "log.vkey", "entries.jsonl", "README.txt"):
        if name not in members:
            raise Failure(f"the bundle has no {name}")
    return members


# --- Checks 2 and 3: the key and the signed checkpoint ----------------------------------------


class VerifierKey(NamedTuple):
    name: str
    key_id: bytes  # 4 bytes
    public_key: bytes  # 32 bytes
    line: str


def strict_b64decode(text: str) -> bytes:
    """Standard padded base64 with nothing else in it, and in the one form that encodes to it."""
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return raw


def is_valid_key_name(name: str) -> bool:
    """signed-note: a key name is non-empty and holds no whitespace and no '+'."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def parse_vkey(line: str) -> VerifierKey:
    """Parse `<name>+<8 hex key id>+<base64(0x01 || public key)>`; ValueError says what is wrong."""
    name, _, rest = line.partition("+")
    id_hex, _, key_b64 = rest.partition("+")
    if not is_valid_key_name(name):
        raise ValueError(f"{name!a} is not a valid key name")
    if not re.fullmatch(r"[0-9a-f]{8}", id_hex):
        raise ValueError("the key id is not 8 lowercase hex digits")
    try:
        material = strict_b64decode(key_b64)
    except ValueError:
        raise ValueError("the key is not valid base64") from None
    if len(material) != 33 or material[0] != 0x01:
        raise ValueError("the key is not 0x01 followed by a 32-byte Ed25519 public key")
    # signed-note Ed25519 key id: the first 4 bytes of SHA-256(name || 0x0A || 0x01 || key)
    if hashlib.sha256(name.encode() + b"\n" + material).hexdigest()[:8] != id_hex:
        raise ValueError(f"the key id {id_hex} does not match the key's hash")
    return VerifierKey(name, bytes.fromhex(id_hex), material[1:], line)


def open_note(raw: bytes, key: VerifierKey) -> str:
    """Return the text of a signed note after checking a signature on it by `key`.

    signed-note: UTF-8 without control characters other than newline; the text ends with a
    newline and is followed by a blank line and lines `<U+2014> <name> <base64(key id || sig)>`.
    Signatures by other keys (witness cosignatures) are allowed and ignored.
    """
    try:
        note = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Failure("it is not UTF-8 text") from None
    if any(c < " " and c != "\n" for c in note):
        raise Failure("it contains control characters")
    text, blank_line, signatures = note.rpartition("\n\n")
    lines = signatures.split("\n")
    if not blank_line or lines.pop() != "":
        raise Failure("it is not a text, a blank line, then signature lines")
    signed_by_key = False
    for number, line in enumerate(lines, 1):
        dash, _, rest = line.partition(" ")
        name, _, signature_b64 = rest.partition(" ")
        try:
            signature = strict_b64decode(signature_b64)
        except ValueError:
            signature = b""
        if dash != "\u2014" or not is_valid_key_name(name) or len(signature) < 5:
            raise Failure(f"signature line {number} is not '<em dash> <key name> <base64>'")
        if name != key.name or signature[:4] != key.key_id:
            continue  # another key's signature: not ours to judge
        try:
            VerifyKey(key.public_key).verify((text + "\n").encode("utf-8"), signature[4:])
        except (BadSignatureError, ValueError):
            raise Failure(f"the signature by {key.name} does not verify") from None
        signed_by_key = True
    if not signed_by_key:
        raise Failure(f"it carries no signature by the trusted key {key.name}+{key.key_id.hex()}")
    return text + "\n"


class Checkpoint(NamedTuple):
    origin: str
    book: str
    size: int
    root: bytes


def parse_checkpoint(raw: bytes, key: VerifierKey) -> Checkpoint:
    """A tlog-checkpoint signed by `key`: origin `<key name>/<book>`, size, base64 root hash."""
    if len(raw) > MAX_NOTE_SIZE:
        raise Failure(f"it is {len(raw)} bytes, too long for a checkpoint")
    lines = open_note(raw, key)[:-1].split("\n")
    if len(lines) != 3:
        raise Failure(f"its text has {len(lines)} lines, not origin, size and root hash")
    origin, size, root_b64 = lines
    book = origin.removeprefix(key.name + "/")
    if book == origin or not book:
        raise Failure(f"its origin {origin!a} is not '{key.name}/<book>'")
    if not re.fullmatch(r"0|[1-9][0-9]*", size):
        raise Failure(f"its size {size!a} is not a decimal number")
    try:
        root = strict_b64decode(root_b64)
    except ValueError:
        root = b""
    if len(root) != HASH_SIZE:
        raise Failure("its root hash is not the base64 of 32 bytes")
    return Checkpoint(origin, book, int(size), root)


# --- Checks 4 and 5: the entries and their Merkle tree (RFC 9162 section 2.1) -----------------


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the leaf hashes (a leaf hash is SHA-256(0x00 || entry)), in one pass.

    The stack holds the roots of complete subtrees, largest first: after each leaf, two subtrees
    of equal size merge into SHA-256(0x01 || left || right). What remains are the subtrees
    RFC 9162 splits n into (the largest power of two smaller than n, then the rest,
    recursively), joined from the right.
    """
    stack: list[bytes] = []
    for count, leaf in enumerate(leaf_hashes, 1):
        stack.append(leaf)
        merges = count
        while merges % 2 == 0:
            right = stack.pop()
            stack[-1] = hashlib.sha256(b"\x01" + stack[-1] + right).digest()
            merges //= 2
    root = stack.pop() if stack else hashlib.sha256(b"").digest()
    while stack:
        root = hashlib.sha256(b"\x01" + stack.pop() + root).digest()
    return root


def reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


JSON = json.JSONDecoder(parse_constant=reject_constant)  # Python also reads NaN, which is not JSON
TIME = re.compile(  # UTC with milliseconds: 2026-11-24T10:00:00.000Z
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"\.[0-9]{3}Z"
)
KEYS = {"actor", "book", "data", "index", "time", "type"}


def check_entry(line: bytes, index: int, book: str) -> None:
    """Check 4 for one line of entries.jsonl, which must be entry number `index` of `book`."""
    try:
        text = line.decode("utf-8")
        entry, end = JSON.raw_decode(text)  # no whitespace around, nothing after
    except UnicodeDecodeError:
        raise Failure("the line is not UTF-8") from None
    except (ValueError, RecursionError) as error:
        raise Failure(f"the line is not valid JSON ({error})") from None
    if end != len(text) or type(entry) is not dict:
        raise Failure("the line is not a JSON object, or is more than one")
    if entry.keys() != KEYS and entry.keys() != KEYS | {"refs"}:
        raise Failure(f"its members are {sorted(entry)!a}, not {sorted(KEYS)} and maybe refs")
    if type(entry["index"]) is not int or entry["index"] != index:
        raise Failure(f"the line at position {index} says index {entry['index']!a}")
    if entry["book"] != book:
        raise Failure(f"it belongs to book {entry['book']!a}, not {book}")
    if type(entry["actor"]) is not str or type(entry["type"]) is not str:
        raise Failure("its actor and type must be strings")
    if type(entry["data"]) is not dict:
        raise Failure("its data is not a JSON object")
    refs = entry.get("refs", [])
    if type(refs) is not list or any(type(ref) is not dict for ref in refs):
        raise Failure("its refs are not a list of JSON objects")
    if type(entry["time"]) is not str or not TIME.fullmatch(entry["time"]):
        raise Failure(f"its time {entry['time']!a} is not YYYY-MM-DDTHH:MM:SS.mmmZ")


def read_entries(file: BinaryIO, member: Member, book: str) -> list[bytes]:
    """Check 4 for every line; return their leaf hashes."""
    leaves: list[bytes] = []
    rest = b""
    for chunk in chunks(file, member):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            try:
                check_entry(line, len(leaves), book)
            except Failure as failure:
                raise Failure(f"entry {len(leaves)}: {failure}") from None
            leaves.append(hashlib.sha256(b"\x00" + line).digest())  # leaf_hash, inlined for speed
    if rest:
        raise Failure(f"entry {len(leaves)}: the last line of entries.jsonl has no newline")
    return leaves


def explain_mismatch(leaves: list[bytes], checkpoint: Checkpoint, listed: bytes) -> str:
    """Check 5 failed: say how. `listed` (the leaves file) is believed only if its own root is
    the signed root; then the first entry that differs from it is named."""
    count, size = len(leaves), checkpoint.size
    if count > size and merkle_root(leaves[:size]) == checkpoint.root:
        return f"there are {count} entries, but entry {size} onward is not covered by the signature"
    signed = [listed[i : i + HASH_SIZE] for i in range(0, len(listed), HASH_SIZE)]
    if len(signed) == size and merkle_root(signed) == checkpoint.root:
        for index, (ours, theirs) in enumerate(zip(leaves, signed, strict=False)):
            if ours != theirs:
                return f"entry {index} does not match the signed tree"
        return f"the checkpoint signs {size} entries but entry {count} onward is missing"
    return (
        f"the entries do not match the signed checkpoint ({count} entries, {size} signed; no "
        "leaves file reproduces the signed root to point at the first bad entry)"
    )


# --- Checks 6 and 7, and the whole check ------------------------------------------------------


def read_key_argument(value: str) -> VerifierKey:
    """--key: a file holding a key line, or the key line itself."""
    try:
        text = Path(value).read_text(encoding="utf-8") if Path(value).is_file() else value
        return parse_vkey(text.strip())
    except (OSError, ValueError) as error:
        raise UsageError(f"--key is neither a key file nor a verifier key: {error}") from None


def bundle_key(vkey: bytes, trusted: VerifierKey | None) -> VerifierKey:
    """Check 2: the key the investigator gave, which log.vkey must repeat; or else log.vkey."""
    if trusted is not None:
        if vkey != trusted.line.encode("utf-8") + b"\n":
            raise Failure(f"the bundle's log.vkey is not the key you gave ({trusted.name})")
        return trusted
    try:
        key = parse_vkey(vkey.decode("utf-8").removesuffix("\n"))
    except ValueError as error:  # UnicodeDecodeError is a ValueError
        raise Failure(f"log.vkey is not a verifier key: {error}") from None
    if not vkey.endswith(b"\n"):
        raise Failure("log.vkey is not a verifier key: it does not end with a newline")
    print(
        f"WARNING: no --key given, so the key {key.name}+{key.key_id.hex()} was taken from the "
        "bundle itself, which proves nothing about who made it; compare it with a copy obtained "
        "independently from the production",
        file=sys.stderr,
    )
    return key


def check_old_checkpoint(
    raw: bytes, key: VerifierKey, signed: Checkpoint, leaves: list[bytes]
) -> int:
    """Check 7: the bundle extends a checkpoint the investigator already holds."""
    try:
        old = parse_checkpoint(raw, key)
    except Failure as failure:
        raise Failure(f"the checkpoint you hold: {failure}") from None
    if old.origin != signed.origin:
        raise Failure(f"the checkpoint you hold is for {old.origin!a}, not {signed.origin}")
    if old.size > signed.size:
        raise Failure(
            f"the checkpoint you hold signs {old.size} entries, more than this bundle's "
            f"{signed.size}: the log was cut short, or the bundle is older than your checkpoint"
        )
    if merkle_root(leaves[: old.size]) != old.root:
        raise Failure(
            f"the log was rewritten: its first {old.size} entries do not match your checkpoint"
        )
    return old.size


def verify(file: BinaryIO, trusted: VerifierKey | None, old_checkpoint: bytes | None) -> str:
    """Run checks 1 to 7 in order; return the summary, or raise Failure at the first failure."""
    members = read_container(file)
    for name in ("log.vkey", "checkpoint"):
        if members[name].size > MAX_NOTE_SIZE:
            raise Failure(f"{name} is {members[name].size} bytes long, far too long for what it is")
    key = bundle_key(read_member(file, members["log.vkey"]), trusted)
    try:
        checkpoint = parse_checkpoint(read_member(file, members["checkpoint"]), key)
    except Failure as failure:
        raise Failure(f"checkpoint: {failure}") from None
    leaves = read_entries(file, members["entries.jsonl"], checkpoint.book)
    root = merkle_root(leaves)
    if len(leaves) != checkpoint.size or root != checkpoint.root:
        listed = members.get("leaves", Member(0, 0))
        listed = listed if listed.size == checkpoint.size * HASH_SIZE else Member(0, 0)
        raise Failure(explain_mismatch(leaves, checkpoint, read_member(file, listed)))
    for name, member in members.items():  # check 6
        if name.startswith("attachments/"):
            digest = hashlib.sha256()
            for chunk in chunks(file, member):
                digest.update(chunk)
            if digest.hexdigest() != name.removeprefix("attachments/"):
                raise Failure(f"{name}: its SHA-256 is {digest.hexdigest()}, not its name")
    summary = f"OK: {len(leaves)} entries of book {checkpoint.book}, root {root.hex()}, "
    summary += f"signed by {key.name}"
    if old_checkpoint is not None:
        old_size = check_old_checkpoint(old_checkpoint, key, checkpoint, leaves)
        summary += f"\nOK: consistent with the checkpoint you hold ({old_size} entries)"
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify an Armory evidence bundle.")
    parser.add_argument("bundle", metavar="BUNDLE.zip")
    parser.add_argument("--key", metavar="VKEY_FILE_OR_TEXT", help="the key you trust")
    parser.add_argument("--checkpoint", metavar="OLD_CHECKPOINT_FILE", help="a checkpoint you hold")
    args = parser.parse_args(argv)
    for stream in (sys.stdout, sys.stderr):  # never fail on printing a name from the bundle
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:
        trusted = read_key_argument(args.key) if args.key is not None else None
        old_checkpoint = Path(args.checkpoint).read_bytes() if args.checkpoint else None
        with Path(args.bundle).open("rb") as file:
            summary = verify(file, trusted, old_checkpoint)
    except (UsageError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Failure as failure:
        print(f"FAIL: {failure}")
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
