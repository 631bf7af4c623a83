#!/usr/bin/env python3
"""Verify an Armory evidence bundle with nothing but SHA-256 and Ed25519.

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

1. The zip is intact: it opens; it holds checkpoint, log.vkey, entries.jsonl and README.txt,
   optionally leaves and attachments/<sha256>, and nothing else; every member's length, CRC-32
   and deflate stream hold; local headers repeat the zip directory and no bytes lie outside the
   members and the directory. This only tells a damaged file from a sound one: nothing in the
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
that records its hash. README.txt, `leaves` and the zip's own metadata are not signed.
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
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

try:
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey
except ImportError:
    sys.exit("error: this verifier needs PyNaCl for Ed25519: pip install pynacl")

REQUIRED_MEMBERS = ("checkpoint", "log.vkey", "entries.jsonl", "README.txt")
ATTACHMENT_NAME = re.compile(r"attachments/[0-9a-f]{64}")
ENTRY_KEYS = frozenset({"actor", "book", "data", "index", "time", "type"})
ENTRY_KEYS_WITH_REFS = ENTRY_KEYS | {"refs"}
TIME_FORMAT = re.compile(  # UTC with milliseconds: 2026-11-24T10:00:00.000Z
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"\.[0-9]{3}Z"
)
DECIMAL = re.compile(r"0|[1-9][0-9]*")
HASH_SIZE = 32
CHUNK_SIZE = 1 << 20
MAX_NOTE_SIZE = 1 << 16
MAX_SIGNATURES = 100  # as golang.org/x/mod/sumdb/note, so a note cannot make us work forever


class Failure(Exception):
    """The bundle does not verify; the message says why, in one line."""


class UsageError(Exception):
    """The command line or one of the files it names cannot be used."""


# --- Keys and signed notes (c2sp.org/signed-note) ------------------------------------------


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_id: bytes  # 4 bytes
    public_key: bytes  # 32 bytes
    line: str

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id.hex()}"


def strict_b64decode(text: str) -> bytes:
    """Standard padded base64 with nothing else in it, and in the one form that encodes to it."""
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return raw


def is_valid_key_name(name: str) -> bool:
    """signed-note: a key name is non-empty and holds no whitespace and no '+'."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, public_key: bytes) -> bytes:
    """signed-note Ed25519 key id: the first 4 bytes of SHA-256(name || 0x0A || 0x01 || key)."""
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + public_key).digest()[:4]


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
    public_key = material[1:]
    if key_id(name, public_key).hex() != id_hex:
        raise ValueError(f"the key id {id_hex} does not match the key's hash")
    return VerifierKey(name, bytes.fromhex(id_hex), public_key, line)


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
    split = note.rfind("\n\n")
    if split < 0:
        raise Failure("it has no blank line before its signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    if not signatures.endswith("\n"):
        raise Failure("its last signature line does not end with a newline")
    lines = signatures[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise Failure(f"it has more than {MAX_SIGNATURES} signature lines")
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
            VerifyKey(key.public_key).verify(text.encode("utf-8"), signature[4:])
        except (BadSignatureError, ValueError):
            raise Failure(f"the signature by {key} does not verify") from None
        signed_by_key = True
    if not signed_by_key:
        raise Failure(f"it carries no signature by the trusted key {key}")
    return text


@dataclass(frozen=True)
class Checkpoint:
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
    if not DECIMAL.fullmatch(size):
        raise Failure(f"its size {size!a} is not a decimal number")
    try:
        root = strict_b64decode(root_b64)
    except ValueError:
        root = b""
    if len(root) != HASH_SIZE:
        raise Failure("its root hash is not the base64 of 32 bytes")
    return Checkpoint(origin, book, int(size), root)


# --- The Merkle tree (RFC 9162 section 2.1) ------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH of the leaves, in one pass and O(log n) memory.

    The stack holds the roots of complete subtrees, largest first: after each leaf, two subtrees
    of equal size merge. What remains are the subtrees RFC 9162 splits n into (the largest
    power of two smaller than n, then the rest, recursively), joined from the right.
    """
    stack: list[bytes] = []
    for count, leaf in enumerate(leaf_hashes, 1):
        stack.append(leaf)
        merges = count
        while merges % 2 == 0:
            right = stack.pop()
            stack[-1] = node_hash(stack[-1], right)
            merges //= 2
    if not stack:
        return hashlib.sha256(b"").digest()
    root = stack.pop()
    while stack:
        root = node_hash(stack.pop(), root)
    return root


def hashes_in(concatenated: bytes, count: int) -> Iterator[bytes]:
    """The first `count` 32-byte hashes of a concatenation of hashes."""
    for start in range(0, count * HASH_SIZE, HASH_SIZE):
        yield concatenated[start : start + HASH_SIZE]


# --- The zip container (PKWARE APPNOTE.TXT section 4.3) -------------------------------------
#
# None of this is about trust: it tells a damaged or altered file from a sound one. The zip
# module only reads the directory; the checks below cover every member's bytes and headers, so
# that any change is noticed except in what no reader can check: fields whose every value is
# legal ("version made by", file attributes) and the padding bits of deflate streams.

LOCAL_HEADER = struct.Struct("<4sBBHHHHLLLHH")  # 4.3.7
DATA_DESCRIPTOR = b"PK\x07\x08"  # 4.3.9
END_RECORD = struct.Struct("<4sHHHHLLH")  # 4.3.16
ZIP64_END_RECORD = struct.Struct("<4sQHHLLQQQQ")  # 4.3.14
ZIP64_LOCATOR = struct.Struct("<4sLQL")  # 4.3.15
ZIP64_EXTRA = 0x0001  # 4.5.3
ZIP32_MAX = 0xFFFFFFFF
KNOWN_FLAGS = 0x080E  # 4.4.4: deflate options (bits 1, 2), data descriptor (3), UTF-8 name (11)
STORED, DEFLATED = 0, 8
ZIP_ERRORS = (zipfile.BadZipFile, OSError, UnicodeDecodeError, struct.error)


def damaged(detail: str) -> Failure:
    return Failure(f"the zip file is damaged or altered: {detail}")


def extra_fields(extra: bytes, name: str) -> dict[int, bytes]:
    """4.5.1: the extra field is a run of (id, length, data) records that fills it exactly."""
    fields: dict[int, bytes] = {}
    while extra:
        if len(extra) < 4:
            raise damaged(f"{name} has a malformed extra field")
        field_id, length = struct.unpack_from("<HH", extra)
        if len(extra) < 4 + length or field_id in fields:
            raise damaged(f"{name} has a malformed extra field")
        fields[field_id] = extra[4 : 4 + length]
        extra = extra[4 + length :]
    return fields


def dos_date_time(info: zipfile.ZipInfo) -> tuple[int, int]:
    year, month, day, hour, minute, second = info.date_time
    return (year - 1980) << 9 | month << 5 | day, hour << 11 | minute << 5 | second // 2


@dataclass(frozen=True)
class Member:
    info: zipfile.ZipInfo
    data_at: int  # where its compressed bytes start
    end: int  # where the next member or the directory must start


def check_member_layout(file: BinaryIO, info: zipfile.ZipInfo, position: int) -> Member:
    """The member starts at `position` and its local header repeats its directory record.

    Sizes in the local header may be zero when a data descriptor follows the data, or
    0xFFFFFFFF when a zip64 extra field holds them.
    """
    name = info.orig_filename
    if info.header_offset != position:
        raise damaged(f"{name} does not start where the previous member ends")
    if info.flag_bits & 1:
        raise damaged(f"{name} is encrypted")
    if info.flag_bits & ~KNOWN_FLAGS or info.compress_type not in (STORED, DEFLATED):
        raise damaged(f"{name} uses zip features that a bundle never uses")
    if info.compress_type == STORED and info.compress_size != info.file_size:
        raise damaged(f"{name} is stored uncompressed but has two different sizes")
    if info.volume or info.internal_attr & ~1 or info.comment:
        raise damaged(f"the zip directory record of {name} has unexpected fields")
    file.seek(position)
    header = file.read(LOCAL_HEADER.size)
    if len(header) != LOCAL_HEADER.size:
        raise damaged(f"{name} is cut short")
    fields: tuple[bytes, int, int, int, int, int, int, int, int, int, int, int]
    fields = LOCAL_HEADER.unpack(header)
    signature, version, os_version, flags, method, time, date = fields[:7]
    crc, packed_size, size, name_length, extra_length = fields[7:]
    local_name = file.read(name_length)
    local_extra = extra_fields(file.read(extra_length), name)
    central_extra = extra_fields(info.extra, name)
    zip64 = local_extra.pop(ZIP64_EXTRA, None)  # 4.5.3: both sizes, and 0xFFFFFFFF in their place
    if zip64 is not None:
        if len(zip64) != 16 or (packed_size, size) != (ZIP32_MAX, ZIP32_MAX):
            raise damaged(f"the local header of {name} has a malformed zip64 field")
        size, packed_size = struct.unpack("<QQ", zip64)
    central_extra.pop(ZIP64_EXTRA, None)
    expected = (info.CRC, info.compress_size, info.file_size)
    if (
        signature != b"PK\x03\x04"
        or local_name != name.encode("ascii")
        or (version, os_version) != (info.extract_version, info.reserved)
        or (flags, method) != (info.flag_bits, info.compress_type)
        or (date, time) != dos_date_time(info)
        or local_extra != central_extra
        or (crc, packed_size, size) not in (expected, (0, 0, 0) if flags & 8 else expected)
    ):
        raise damaged(f"the local header of {name} does not match the zip directory")
    data_at = position + LOCAL_HEADER.size + name_length + extra_length
    end = data_at + info.compress_size
    if not flags & 8:
        return Member(info, data_at, end)
    file.seek(end)
    descriptor = file.read(24)
    if descriptor[:16] == struct.pack("<4sLLL", DATA_DESCRIPTOR, *expected):
        return Member(info, data_at, end + 16)
    if descriptor == struct.pack("<4sLQQ", DATA_DESCRIPTOR, *expected):
        return Member(info, data_at, end + 24)
    raise damaged(f"the data descriptor of {name} does not match the zip directory")


def check_end_records(file: BinaryIO, bundle: zipfile.ZipFile) -> None:
    """The directory follows the last member and the end record(s) follow it, with no comment."""
    record_at = file.seek(0, io.SEEK_END) - END_RECORD.size
    file.seek(record_at)
    signature, disk, directory_disk, *counts_and_place, comment_length = END_RECORD.unpack(
        file.read(END_RECORD.size)
    )
    if signature != b"PK\x05\x06" or comment_length or disk or directory_disk:
        raise damaged("the file does not end with a plain end-of-directory record")
    here, count, size, offset = counts_and_place
    directory_end = record_at
    file.seek(record_at - ZIP64_LOCATOR.size)
    locator = file.read(ZIP64_LOCATOR.size)
    if locator.startswith(b"PK\x06\x07"):
        here, count, size, offset, directory_end = zip64_end_record(file, locator, record_at)
        real = (here, count, size, offset)
        limits = (0xFFFF, 0xFFFF, ZIP32_MAX, ZIP32_MAX)
        for short, value, limit in zip(counts_and_place, real, limits, strict=True):
            if short not in (min(value, limit), limit):  # 4.4.1.4: the real value, or all ones
                raise damaged("the end-of-directory record disagrees with the zip64 one")
    if here != count or count != len(bundle.infolist()):
        raise damaged("the zip directory's count of members is wrong")
    if offset != bundle.start_dir or offset + size != directory_end:
        raise damaged("the zip directory is not where its end record says")
    check_directory_records(file, bundle, size)


def zip64_end_record(file: BinaryIO, locator: bytes, record_at: int) -> tuple[int, ...]:
    """4.3.14-15: the zip64 record sits just before its locator, just before the end record.

    Returns its member counts, directory size and place, and where the record starts.
    """
    zip64_at = record_at - ZIP64_LOCATOR.size - ZIP64_END_RECORD.size
    _, locator_disk, locator_points_at, disks = ZIP64_LOCATOR.unpack(locator)
    file.seek(max(zip64_at, 0))
    record = ZIP64_END_RECORD.unpack(file.read(ZIP64_END_RECORD.size))
    signature, record_size, _, needed, disk, directory_disk, here, count, size, offset = record
    if (
        signature != b"PK\x06\x06"
        or record_size != ZIP64_END_RECORD.size - 12
        or not 45 <= needed <= 63  # zip64 came with version 4.5; 6.3 is the last
        or (locator_points_at, locator_disk, disks, disk, directory_disk) != (zip64_at, 0, 1, 0, 0)
    ):
        raise damaged("the zip64 end-of-directory records are malformed")
    return here, count, size, offset, zip64_at


def check_directory_records(file: BinaryIO, bundle: zipfile.ZipFile, size: int) -> None:
    """4.3.12: the directory records fill the directory exactly, with the lengths they state.

    (The zip module quietly shortens a name, extra field or comment that runs past the end.)
    """
    file.seek(bundle.start_dir)
    directory = file.read(size)
    position = 0
    for info in bundle.infolist():
        name_length, extra_length, comment_length = struct.unpack_from(
            "<HHH", directory, position + 28
        )
        name_at = position + 46
        if (
            directory[name_at : name_at + name_length] != info.orig_filename.encode("ascii")
            or extra_length != len(info.extra)
            or comment_length != len(info.comment)
        ):
            raise damaged(f"the zip directory record of {info.orig_filename} is cut short")
        position = name_at + name_length + extra_length + comment_length
    if position != size:
        raise damaged("the zip directory records do not fill the zip directory")


def check_zip_layout(file: BinaryIO, bundle: zipfile.ZipFile) -> dict[str, Member]:
    """Members lie end to end from byte 0, then the directory, then the end record(s)."""
    members: dict[str, Member] = {}
    position = 0
    for info in sorted(bundle.infolist(), key=lambda info: info.header_offset):
        members[info.orig_filename] = check_member_layout(file, info, position)
        position = members[info.orig_filename].end
    if position != bundle.start_dir:
        raise damaged("there are stray bytes before the zip directory")
    check_end_records(file, bundle)
    return members


def member_chunks(file: BinaryIO, member: Member) -> Iterator[bytes]:
    """A member's bytes, in chunks of at most CHUNK_SIZE.

    Read to the end, it has been checked whole: its length and CRC-32 are the directory's, and
    a deflated member's stream (RFC 1951) ends exactly at the end of its compressed bytes.
    """
    info, name = member.info, member.info.orig_filename
    inflater = zlib.decompressobj(-15) if info.compress_type == DEFLATED else None
    position, left, length, crc = member.data_at, info.compress_size, 0, 0
    try:
        while left > 0:
            file.seek(position)
            data = file.read(min(CHUNK_SIZE, left))
            if not data:
                raise damaged(f"{name} is cut short")
            position, left = position + len(data), left - len(data)
            while data:
                if inflater is None:
                    chunk, data = data, b""
                else:
                    chunk = inflater.decompress(data, CHUNK_SIZE)
                    data = inflater.unconsumed_tail
                length, crc = length + len(chunk), zlib.crc32(chunk, crc)
                if length > info.file_size:
                    raise damaged(f"{name} is longer than the zip directory says")
                yield chunk
        if inflater is not None:
            chunk = inflater.flush()
            length, crc = length + len(chunk), zlib.crc32(chunk, crc)
            yield chunk
            if not inflater.eof or inflater.unused_data:
                raise damaged(f"the compressed data of {name} does not end where it should")
    except zlib.error as error:
        raise damaged(f"the compressed data of {name} is corrupt ({error})") from None
    if length != info.file_size or crc != info.CRC:
        raise damaged(f"{name} does not have the length and CRC-32 the zip directory gives")


def read_member(file: BinaryIO, member: Member) -> bytes:
    return b"".join(member_chunks(file, member))


@dataclass(frozen=True)
class Bundle:
    file: BinaryIO
    members: dict[str, Member]
    checkpoint: bytes
    vkey: bytes


def check_member_names(bundle: zipfile.ZipFile) -> None:
    """The bundle's files are there, once each, and nothing else is."""
    names: set[str] = set()
    for info in bundle.infolist():
        name = info.orig_filename
        if name not in (*REQUIRED_MEMBERS, "leaves") and not ATTACHMENT_NAME.fullmatch(name):
            raise Failure(f"the bundle holds an unexpected file {name!a}")
        if name in names:
            raise Failure(f"the bundle holds two files named {name}")
        names.add(name)
    for name in REQUIRED_MEMBERS:
        if name not in names:
            raise Failure(f"the bundle has no {name}")


def open_bundle(file: BinaryIO) -> Bundle:
    """Check 1: the zip opens, holds the bundle's files and nothing else, and is intact."""
    try:
        bundle = zipfile.ZipFile(file)
    except ZIP_ERRORS as error:
        raise Failure(f"the bundle is not a readable zip file ({error})") from None
    except NotImplementedError as error:
        raise damaged(str(error)) from None
    check_member_names(bundle)
    try:
        members = check_zip_layout(file, bundle)
    except struct.error as error:
        raise damaged(str(error)) from None
    for name in ("checkpoint", "log.vkey"):
        if members[name].info.file_size > MAX_NOTE_SIZE:
            raise Failure(f"{name} is {members[name].info.file_size} bytes long, far too long")
    for name in ("README.txt", "leaves"):  # not used unless needed, but must be intact
        if name in members:
            for _ in member_chunks(file, members[name]):
                pass
    return Bundle(
        file=file,
        members=members,
        checkpoint=read_member(file, members["checkpoint"]),
        vkey=read_member(file, members["log.vkey"]),
    )


# --- Entries ----------------------------------------------------------------------------------


def check_entry(line: bytes, index: int, book: str) -> None:
    """Check 4 for one line of entries.jsonl, which must be entry number `index` of `book`."""
    if not line:
        raise Failure("entries.jsonl has a blank line there")
    try:
        text = line.decode("utf-8")
        entry, end = JSON.raw_decode(text)  # no whitespace around, nothing after
    except UnicodeDecodeError:
        raise Failure("the line is not UTF-8") from None
    except (ValueError, RecursionError) as error:
        raise Failure(f"the line is not valid JSON ({error})") from None
    if end != len(text):
        raise Failure(f"the line has more than one JSON value (at character {end})")
    if type(entry) is not dict:
        raise Failure("the line is not a JSON object")
    if entry.keys() != ENTRY_KEYS and entry.keys() != ENTRY_KEYS_WITH_REFS:
        raise Failure(
            f"its members are {sorted(entry)!a}, not actor, book, data, index, time, type "
            "and optionally refs"
        )
    if type(entry["index"]) is not int or entry["index"] != index:
        raise Failure(
            f"the line at position {index} says index {entry['index']!a} "
            "(a line was deleted, inserted, moved or edited)"
        )
    if entry["book"] != book:
        raise Failure(f"it belongs to book {entry['book']!a}, not {book}")
    if type(entry["actor"]) is not str or type(entry["type"]) is not str:
        raise Failure("its actor and type must be strings")
    if type(entry["data"]) is not dict:
        raise Failure("its data is not a JSON object")
    if "refs" in entry and (
        type(entry["refs"]) is not list or any(type(ref) is not dict for ref in entry["refs"])
    ):
        raise Failure("its refs are not a list of JSON objects")
    if type(entry["time"]) is not str or not TIME_FORMAT.fullmatch(entry["time"]):
        raise Failure(f"its time {entry['time']!a} is not YYYY-MM-DDTHH:MM:SS.mmmZ")


def reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


# Python's decoder also reads NaN and Infinity, which are not JSON.
JSON = json.JSONDecoder(parse_constant=reject_constant)


@dataclass(frozen=True)
class Entries:
    count: int  # lines in entries.jsonl
    leaves: bytes  # the leaf hashes of the first lines, up to the signed size, concatenated


def read_entries(file: BinaryIO, member: Member, book: str, size: int) -> Entries:
    """Check every line of entries.jsonl; keep the leaf hashes of the first `size` lines.

    The file is read to its end even after a bad line, so that a damaged zip is reported as
    damaged rather than as the garbage it decompresses to.
    """
    leaves = bytearray()
    problem: Failure | None = None
    index = 0
    rest = b""
    for chunk in member_chunks(file, member):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            if problem is None:
                try:
                    check_entry(line, index, book)
                except Failure as failure:
                    problem = Failure(f"entry {index}: {failure}")
            if index < size:
                leaves += hashlib.sha256(b"\x00" + line).digest()  # leaf_hash, inline for speed
            index += 1
    if problem is not None:
        raise problem
    if rest:
        raise Failure(f"entry {index}: the last line of entries.jsonl does not end with a newline")
    return Entries(index, bytes(leaves))


def explain_mismatch(entries: Entries, root: bytes, checkpoint: Checkpoint, bundle: Bundle) -> str:
    """Check 5 failed: name the first entry that differs from the signed tree, where possible.

    The `leaves` file is believed only if its own root is the signed root.
    """
    count, size = entries.count, checkpoint.size
    if count > size and root == checkpoint.root:
        return (
            f"entries.jsonl has {count} entries but the checkpoint signs only {size}: "
            f"entry {size} onward is not covered by the signature"
        )
    member = bundle.members.get("leaves")
    leaves = b""
    if member is not None and member.info.file_size == size * HASH_SIZE:
        leaves = read_member(bundle.file, member)
    if leaves and merkle_root(hashes_in(leaves, size)) == checkpoint.root:
        for index in range(min(count, size)):
            start = index * HASH_SIZE
            if entries.leaves[start : start + HASH_SIZE] != leaves[start : start + HASH_SIZE]:
                return f"entry {index} does not match the signed tree"
        if count < size:
            return (
                f"entries.jsonl has {count} entries but the checkpoint signs {size}: "
                f"entry {count} onward is missing"
            )
    if count != size:
        return (
            f"entries.jsonl has {count} entries but the checkpoint signs {size}, and the "
            "entries do not match the signed checkpoint"
        )
    return (
        f"the entries do not match the signed checkpoint: their root is {root.hex()}, the "
        f"signed root is {checkpoint.root.hex()} (no leaves file reproduces the signed root to "
        "point at the first bad entry)"
    )


# --- The whole check ------------------------------------------------------------------------


def read_key_argument(value: str) -> VerifierKey:
    """--key: a file holding a key line, or the key line itself."""
    path = Path(value)
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else value
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read the key file {value}: {error}") from None
    try:
        return parse_vkey(text.strip())
    except ValueError as error:
        raise UsageError(f"--key is neither a key file nor a verifier key: {error}") from None


def bundle_key(bundle: Bundle, trusted: VerifierKey | None) -> VerifierKey:
    """Check 2: the key the investigator gave, which log.vkey must repeat; or else log.vkey."""
    if trusted is not None:
        if bundle.vkey != trusted.line.encode("utf-8") + b"\n":
            raise Failure(f"the bundle's log.vkey is not the key you gave ({trusted})")
        return trusted
    try:
        key = parse_vkey(bundle.vkey.decode("utf-8").removesuffix("\n"))
    except ValueError as error:
        raise Failure(f"log.vkey is not a verifier key: {error}") from None
    if not bundle.vkey.endswith(b"\n"):
        raise Failure("log.vkey is not a verifier key: it does not end with a newline")
    print(
        f"WARNING: no --key given, so the key {key} was taken from the bundle itself, which "
        "proves nothing about who made it; compare it with a copy obtained independently from "
        "the production",
        file=sys.stderr,
    )
    return key


def check_attachments(bundle: Bundle) -> None:
    """Check 6: every attachments/<name> file has SHA-256 equal to its name."""
    for name, member in sorted(bundle.members.items()):
        if name.startswith("attachments/"):
            digest = hashlib.sha256()
            for chunk in member_chunks(bundle.file, member):
                digest.update(chunk)
            if digest.hexdigest() != name.removeprefix("attachments/"):
                raise Failure(f"{name}: its SHA-256 is {digest.hexdigest()}, not its name")


def check_old_checkpoint(raw: bytes, key: VerifierKey, signed: Checkpoint, leaves: bytes) -> int:
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
    if merkle_root(hashes_in(leaves, old.size)) != old.root:
        raise Failure(
            f"the log was rewritten: its first {old.size} entries do not match the checkpoint "
            "you hold"
        )
    return old.size


def verify(file: BinaryIO, trusted: VerifierKey | None, old_checkpoint: bytes | None) -> str:
    """Run checks 1 to 7 in order; return the summary, or raise Failure at the first failure."""
    bundle = open_bundle(file)
    key = bundle_key(bundle, trusted)
    try:
        checkpoint = parse_checkpoint(bundle.checkpoint, key)
    except Failure as failure:
        raise Failure(f"checkpoint: {failure}") from None
    entries = read_entries(
        bundle.file, bundle.members["entries.jsonl"], checkpoint.book, checkpoint.size
    )
    root = merkle_root(hashes_in(entries.leaves, len(entries.leaves) // HASH_SIZE))
    if entries.count != checkpoint.size or root != checkpoint.root:
        raise Failure(explain_mismatch(entries, root, checkpoint, bundle))
    check_attachments(bundle)
    summary = (
        f"OK: {checkpoint.size} entries of book {checkpoint.book}, root {root.hex()}, "
        f"signed by {key.name}"
    )
    if old_checkpoint is not None:
        old_size = check_old_checkpoint(old_checkpoint, key, checkpoint, entries.leaves)
        summary += (
            f"\nOK: the bundle is consistent with the checkpoint you hold ({old_size} entries)"
        )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Verify an Armory evidence bundle with SHA-256 and Ed25519 only."
    )
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
