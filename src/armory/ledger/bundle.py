"""Evidence bundles (SPEC §6): writing them, and verifying them without trusting the database.

A bundle is a zip holding `checkpoint` (the signed note), `log.vkey` (the verifier key),
`entries.jsonl` (one canonical entry per line, in index order), `leaves` (the 32-byte leaf
hashes, an aid to name a bad entry), `attachments/<sha256>` and `README.txt`.

The zip has one canonical layout, so that no byte of it goes unchecked and any change to it is
refused (PKWARE APPNOTE.TXT 6.3.10 section numbers below):

- the members are stored uncompressed (method 0, 4.4.5), in the order checkpoint, log.vkey,
  entries.jsonl, leaves, attachments/* sorted by name, README.txt, end to end from byte 0;
- every header field has one fixed value except a member's name, size, CRC-32 and offset:
  1980-01-01 00:00:00, made on Unix with mode 0644, no flags, no comments, no data descriptors;
- every member carries a zip64 field (4.5.3) and the directory ends with the zip64 end records
  (4.3.14, 4.3.15), whatever the sizes: one layout for every bundle, rather than a second one
  that only a bundle over 4 GiB would ever exercise.

A verifier reads each member's name, size and CRC-32 from its local header, rebuilds the headers
and directory those call for and compares them with the file byte for byte; each member's
content must match its CRC-32, which catches every change of up to 32 consecutive bits.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import BinaryIO

import orjson

from armory.errors import InvalidInput, VerificationFailed
from armory.ledger.checkpoint import Checkpoint, open_checkpoint
from armory.ledger.entry import ENTRY_KEYS, OPTIONAL_KEYS, TIME_PATTERN
from armory.ledger.merkle import HASH_SIZE, Frontier, root_of
from armory.ledger.note import VerifierKey

# The canonical order of the members; attachments/<sha256> go between leaves and README.txt.
_LEADING_MEMBERS = ("checkpoint", "log.vkey", "entries.jsonl", "leaves")
REQUIRED_FILES = ("checkpoint", "log.vkey", "entries.jsonl", "README.txt")
_ATTACHMENT = re.compile(r"attachments/[0-9a-f]{64}\Z")
_MAX_NOTE_SIZE = 1 << 16  # checkpoint and log.vkey are a few hundred bytes
_CHUNK_SIZE = 1 << 20
_ENTRY_KEYS_WITH_REFS = ENTRY_KEYS | OPTIONAL_KEYS

# APPNOTE.TXT: the one value of each fixed header field.
_ZIP_VERSION = 45  # 4.4.3.2: version 4.5, the one that brought zip64
_MADE_BY = 3 << 8 | _ZIP_VERSION  # 4.4.2: made on Unix, so the attributes are a Unix mode
_FILE_MODE = 0o100644 << 16  # 4.4.15: a regular file, rw-r--r--
_DOS_DATE = 1 << 5 | 1  # 4.4.6: 1980-01-01, the earliest date a zip can hold; time 00:00:00
_IN_ZIP64 = 0xFFFFFFFF  # 4.4.8, 4.4.16: "the value is in the zip64 field"
_LOCAL = struct.Struct("<4s5H3L2H")  # 4.3.7 local file header
_LOCAL_ZIP64 = struct.Struct("<2H2Q")  # 4.5.3: id 1, length, size, compressed size
_CENTRAL = struct.Struct("<4s6H3L5H2L")  # 4.3.12 central directory file header
_CENTRAL_ZIP64 = struct.Struct("<2H3Q")  # 4.5.3: the sizes, then the local header's offset
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")  # 4.3.14 zip64 end of central directory record
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # 4.3.15
_END = struct.Struct("<4s4H2LH")  # 4.3.16 end of central directory record


def readme(origin: str, size: int, book: str, exported_at: str) -> str:
    """The README.txt of a bundle: what it is and how to verify it by hand."""
    template = resources.files("armory.ledger").joinpath("bundle_readme.txt").read_text("utf-8")
    return template.format(origin=origin, size=size, book=book, exported_at=exported_at)


# The canonical zip layout


def _local_header(name: bytes, size: int, crc: int) -> bytes:
    fixed = (_ZIP_VERSION, 0, 0, 0, _DOS_DATE)  # version needed, flags, method, time, date
    extra = _LOCAL_ZIP64.size
    head = _LOCAL.pack(b"PK\x03\x04", *fixed, crc, _IN_ZIP64, _IN_ZIP64, len(name), extra)
    return head + name + _LOCAL_ZIP64.pack(1, extra - 4, size, size)


def _directory_record(name: bytes, size: int, crc: int, offset: int) -> bytes:
    fixed = (_MADE_BY, _ZIP_VERSION, 0, 0, 0, _DOS_DATE)
    extra = _CENTRAL_ZIP64.size
    lengths = (len(name), extra, 0, 0, 0)  # name, extra field, comment; disk 0; no text flag
    head = _CENTRAL.pack(
        b"PK\x01\x02", *fixed, crc, _IN_ZIP64, _IN_ZIP64, *lengths, _FILE_MODE, _IN_ZIP64
    )
    return head + name + _CENTRAL_ZIP64.pack(1, extra - 4, size, size, offset)


def _end_records(count: int, directory_at: int, directory_size: int) -> bytes:
    """The zip64 end record, its locator, then the classic end record holding each value that
    fits in its field, and all ones for one that does not (4.4.1.4)."""
    zip64_end_at = directory_at + directory_size
    short_count = min(count, 0xFFFF)
    return (
        _ZIP64_END.pack(
            b"PK\x06\x06", 44, _MADE_BY, _ZIP_VERSION, 0, 0, count, count, directory_size,
            directory_at,
        )
        + _ZIP64_LOCATOR.pack(b"PK\x06\x07", 0, zip64_end_at, 1)
        + _END.pack(
            b"PK\x05\x06", 0, 0, short_count, short_count, min(directory_size, _IN_ZIP64),
            min(directory_at, _IN_ZIP64), 0,
        )
    )  # fmt: skip


class _CanonicalZipWriter:
    """Writes members, in the order given, as the canonical layout; never seeks `out`."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.position = 0
        self.directory: list[bytes] = []

    def add(self, name: str, content: bytes) -> None:
        self.add_file(name, io.BytesIO(content), len(content), zlib.crc32(content))

    def add_file(self, name: str, source: BinaryIO, size: int, crc: int) -> None:
        raw_name = name.encode("ascii")
        header = _local_header(raw_name, size, crc)
        self.out.write(header)
        shutil.copyfileobj(source, self.out, _CHUNK_SIZE)
        self.directory.append(_directory_record(raw_name, size, crc, self.position))
        self.position += len(header) + size

    def finish(self) -> None:
        directory = b"".join(self.directory)
        self.out.write(directory)
        self.out.write(_end_records(len(self.directory), self.position, len(directory)))


def write_bundle(
    out: BinaryIO,
    *,
    checkpoint_note: str,
    vkey: str,
    rows: Iterable[tuple[bytes, bytes]],
    readme: str,
    attachments: Iterable[tuple[str, bytes]] = (),
) -> None:
    """Write a bundle from (entry bytes, leaf hash) pairs in index order.

    The same arguments always give the same bytes. `rows` is read once: entries.jsonl is
    spooled to a temporary file, since its size and CRC-32 go in the header before it.
    """
    leaves = bytearray()
    with tempfile.TemporaryFile() as spool:
        size = crc = 0
        lines: list[bytes] = []
        for body, leaf in rows:
            lines.append(body)
            leaves += leaf
            if len(lines) == 4096:
                size, crc = _spool(spool, lines, size, crc)
        size, crc = _spool(spool, lines, size, crc)
        spool.seek(0)
        zip_file = _CanonicalZipWriter(out)
        zip_file.add("checkpoint", checkpoint_note.encode("utf-8"))
        zip_file.add("log.vkey", f"{vkey}\n".encode())
        zip_file.add_file("entries.jsonl", spool, size, crc)
        zip_file.add("leaves", bytes(leaves))
        for digest, content in sorted(dict(attachments).items()):
            zip_file.add(f"attachments/{digest}", content)
        zip_file.add("README.txt", readme.encode("utf-8"))
        zip_file.finish()


def _spool(spool: BinaryIO, lines: list[bytes], size: int, crc: int) -> tuple[int, int]:
    """Append the lines, each ending in a newline; return the new size and CRC-32."""
    if not lines:
        return size, crc
    chunk = b"\n".join(lines) + b"\n"
    lines.clear()
    spool.write(chunk)
    return size + len(chunk), zlib.crc32(chunk, crc)


# Verification


@dataclass(frozen=True)
class BundleReport:
    """What a verified bundle proves."""

    book: str
    size: int
    root: bytes
    signer: str
    key_from_bundle: bool
    consistent_with: int | None


@dataclass(frozen=True)
class _Member:
    at: int  # where its content starts
    size: int
    crc: int = 0  # its CRC-32, once checked


def verify_bundle(
    source: BinaryIO, trusted: VerifierKey | None = None, old_note: str | None = None
) -> BundleReport:
    """Verify a bundle read from `source`; raise VerificationFailed naming what does not hold.

    `trusted` pins the key the investigator trusts; without it the bundle's own key is used
    (and the report says so). `old_note` is a checkpoint the investigator already holds: the
    bundle must extend it. `source` must be seekable.
    """
    try:
        members = _read_canonical_zip(source)
        key, checkpoint, book = _signed_head(source, members, trusted)
        old = _old_checkpoint(old_note, key, checkpoint) if old_note is not None else None
        count, leaves, root, old_root = _read_entries(
            source, members["entries.jsonl"], book, checkpoint.size, old
        )
        if count != checkpoint.size or root != checkpoint.root_hash:
            raise _mismatch(source, members.get("leaves"), count, leaves, root, checkpoint)
        if old is not None and old_root != old.root_hash:
            raise VerificationFailed(
                f"the log was rewritten: its first {old.size} entries do not match the "
                "checkpoint you hold"
            )
        _check_attachments(source, members)
    except OSError as problem:
        raise VerificationFailed(f"the bundle could not be read: {problem}") from None
    return BundleReport(
        book=book,
        size=checkpoint.size,
        root=checkpoint.root_hash,
        signer=key.name,
        key_from_bundle=trusted is None,
        consistent_with=old.size if old is not None else None,
    )


def _read_canonical_zip(source: BinaryIO) -> dict[str, _Member]:
    """The members by name, once the file is checked to be exactly the canonical layout of
    those members and each member's content to match its CRC-32."""
    end = source.seek(0, io.SEEK_END)
    members: dict[str, _Member] = {}
    directory: list[bytes] = []
    position = 0
    last_place = (-1, "")
    while True:
        source.seek(position)
        head = source.read(_LOCAL.size)
        if len(head) < _LOCAL.size or head[:4] != b"PK\x03\x04":
            break  # the directory, checked below
        (crc,) = struct.unpack_from("<L", head, 14)  # 4.3.7: the CRC-32 is at byte 14,
        (name_length,) = struct.unpack_from("<H", head, 26)  # the name's length at byte 26
        raw_name = source.read(name_length)
        zip64 = source.read(_LOCAL_ZIP64.size)
        size = int.from_bytes(zip64[4:12], "little")  # the rest is checked against the rebuild
        header = _local_header(raw_name, size, crc)
        _require_canonical(head + raw_name + zip64, header, position)
        name = raw_name.decode("ascii", "backslashreplace")
        place = _place(name)
        if place <= last_place:
            raise VerificationFailed(
                f"the bundle's {name} is out of the canonical order of its files, or there "
                "twice: the zip was altered"
            )
        last_place = place
        at = position + len(header)
        if at + size > end:
            raise VerificationFailed(f"the bundle's {name} is cut short: the file is truncated")
        if _crc_of(source, _Member(at, size)) != crc:
            raise VerificationFailed(
                f"the bundle's {name} does not match its CRC-32: the file was damaged or altered"
            )
        members[name] = _Member(at, size, crc)
        directory.append(_directory_record(raw_name, size, crc, position))
        position = at + size
    if not members:
        raise VerificationFailed(
            "the file is not an evidence bundle, or its zip structure was altered: it does not "
            "start with a zip member header"
        )
    records = b"".join(directory)
    expected = records + _end_records(len(members), position, len(records))
    source.seek(position)
    _require_canonical(source.read(len(expected) + 1), expected, position)
    for required in REQUIRED_FILES:
        if required not in members:
            raise VerificationFailed(f"the bundle has no {required} file")
    return members


def _place(name: str) -> tuple[int, str]:
    """Where a member goes in the canonical order; a name no bundle holds is refused."""
    if name in _LEADING_MEMBERS:
        return _LEADING_MEMBERS.index(name), ""
    if _ATTACHMENT.match(name):
        return len(_LEADING_MEMBERS), name
    if name == "README.txt":
        return len(_LEADING_MEMBERS) + 1, ""
    raise VerificationFailed(f"the bundle holds an unexpected file {name!r:.80}")


def _require_canonical(actual: bytes, expected: bytes, offset: int) -> None:
    if actual != expected:
        differs = next(
            (i for i, (a, b) in enumerate(zip(actual, expected, strict=False)) if a != b),
            min(len(actual), len(expected)),
        )
        raise VerificationFailed(
            f"the bundle's zip structure was altered or damaged: byte {offset + differs} "
            "differs from the canonical layout"
        )


def _chunks(source: BinaryIO, member: _Member) -> Iterator[bytes]:
    position, left = member.at, member.size
    while left > 0:
        source.seek(position)  # each time, so that other reads may come in between
        chunk = source.read(min(left, _CHUNK_SIZE))
        if not chunk:
            raise VerificationFailed("the bundle file became shorter while it was read")
        position, left = position + len(chunk), left - len(chunk)
        yield chunk


def _crc_of(source: BinaryIO, member: _Member) -> int:
    crc = 0
    for chunk in _chunks(source, member):
        crc = zlib.crc32(chunk, crc)
    return crc


def _read_text(source: BinaryIO, members: dict[str, _Member], name: str) -> str:
    member = members[name]
    if member.size > _MAX_NOTE_SIZE:
        raise VerificationFailed(f"the bundle's {name} is {member.size} bytes, far too long")
    try:
        return b"".join(_chunks(source, member)).decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationFailed(f"the bundle's {name} is not UTF-8 text") from None


def _signed_head(
    source: BinaryIO, members: dict[str, _Member], trusted: VerifierKey | None
) -> tuple[VerifierKey, Checkpoint, str]:
    """The key to trust, the checkpoint it signed, and the book that checkpoint is of."""
    try:
        bundled_key = VerifierKey.parse(_read_text(source, members, "log.vkey").strip("\n"))
    except InvalidInput as problem:
        raise VerificationFailed(
            f"the bundle's log.vkey is not a verifier key: {problem}"
        ) from None
    if trusted is not None and bundled_key != trusted:
        raise VerificationFailed(
            "the bundle's log.vkey is not the key you trust: it was signed by someone else"
        )
    key = trusted or bundled_key
    try:
        checkpoint = open_checkpoint(_read_text(source, members, "checkpoint"), key)
    except (InvalidInput, VerificationFailed) as problem:
        raise VerificationFailed(f"the bundle's checkpoint is not valid: {problem}") from None
    prefix = f"{key.name}/"
    if not checkpoint.origin.startswith(prefix):
        raise VerificationFailed(
            f"the checkpoint's origin {checkpoint.origin!r} is not a book of {key.name}"
        )
    return key, checkpoint, checkpoint.origin[len(prefix) :]


def _old_checkpoint(note: str, key: VerifierKey, current: Checkpoint) -> Checkpoint:
    try:
        old = open_checkpoint(note, key)
    except (InvalidInput, VerificationFailed) as problem:
        raise VerificationFailed(f"the checkpoint you hold is not valid: {problem}") from None
    if old.origin != current.origin:
        raise VerificationFailed(
            f"the checkpoint you hold is of {old.origin!r}, not of {current.origin!r}"
        )
    if old.size > current.size:
        raise VerificationFailed(
            f"the checkpoint you hold signs {old.size} entries but the bundle only {current.size}: "
            "entries were removed since"
        )
    if old.size == 0:
        raise VerificationFailed("the checkpoint you hold is of an empty book: nothing to compare")
    return old


def _read_entries(
    source: BinaryIO, member: _Member, book: str, size: int, old: Checkpoint | None
) -> tuple[int, bytes, bytes, bytes | None]:
    """Check every line of entries.jsonl. Return how many there are, the leaf hashes of the
    first `size` (concatenated), the root of those, and the root of the first `old.size`.

    A big bundle on a machine with a second core has its lines' shapes checked there, by a
    second process reading the same file, while this one hashes them (docs/architecture.md).
    The verdict is the one a single pass gives: the first malformed line, else a cut-short
    last line, else the counts and roots.
    """
    elsewhere = _shapes_elsewhere(source, member, book)
    count, leaves, root, old_root, cut_short = _hash_entries(
        source, member, book, size, old, check=elsewhere is None
    )
    if elsewhere is not None:
        problem = _shape_verdict(elsewhere, member)
        if problem is None:  # the second process could not say: check here, as it would have
            _check_shapes(_chunks(source, member), book)
        elif problem:
            message, index = problem
            raise VerificationFailed(message, index)
    if cut_short:
        raise VerificationFailed(
            f"entry {count} is cut short: the last line of entries.jsonl has no newline", count
        )
    return count, leaves, root, old_root


def _hash_entries(
    source: BinaryIO, member: _Member, book: str, size: int, old: Checkpoint | None, check: bool
) -> tuple[int, bytes, bytes, bytes | None, bool]:
    sha256 = hashlib.sha256  # bound locally: the loops below run once per entry
    frontier = Frontier()
    leaves = bytearray()
    old_root: bytes | None = None
    count = 0
    tail: list[bytes] = []
    for lines in _whole_lines(_chunks(source, member), tail):
        if check:
            _check_lines(lines, count, book)
        signed = lines[: max(size - count, 0)]
        count += len(lines)
        hashes = [sha256(b"\x00" + line).digest() for line in signed]
        leaves += b"".join(hashes)
        if old is not None and frontier.size < old.size <= frontier.size + len(hashes):
            cut = old.size - frontier.size  # the old tree ends in this chunk: note its root
            frontier.extend(hashes[:cut])
            old_root = frontier.root()
            hashes = hashes[cut:]
        frontier.extend(hashes)
    return count, bytes(leaves), frontier.root(), old_root, bool(tail[0])


def _whole_lines(chunks: Iterable[bytes], tail: list[bytes]) -> Iterator[list[bytes]]:
    """The lines ended by a newline, a chunk's worth at a time; what follows the last newline
    is appended to `tail` once the chunks are read."""
    rest = b""
    for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield lines
    tail.append(rest)


def _check_lines(lines: list[bytes], first: int, book: str) -> None:
    shape = _check_entry_shape  # bound locally: runs once per entry
    for index, line in enumerate(lines, first):
        shape(line, index, book)


def _check_shapes(chunks: Iterable[bytes], book: str) -> None:
    """Check the shape of every whole line."""
    count = 0
    for lines in _whole_lines(chunks, []):
        _check_lines(lines, count, book)
        count += len(lines)


# Entries from which a bundle's lines are checked by a second process (about 100,000 entries).
PARALLEL_FROM = 32 << 20

# A line's fault (its message and index), or () when every line is well-formed.
ShapeVerdict = tuple[str, int | None] | tuple[()]
# Waits for the second process: the CRC-32 of the bytes it read and its verdict, or None.
Elsewhere = Callable[[], tuple[int, ShapeVerdict] | None]


def _shapes_elsewhere(source: BinaryIO, member: _Member, book: str) -> Elsewhere | None:
    """The shape check of entries.jsonl started in a second process, where that pays.

    A plain `python -m armory.ledger.shape_check` rather than multiprocessing, which would
    import the caller's main module again in the new process (and run it, in a script that
    does not guard against that)."""
    path = getattr(source, "name", None)
    if member.size < PARALLEL_FROM or (os.cpu_count() or 1) < 2 or not isinstance(path, str):
        return None
    command = [sys.executable, "-m", "armory.ledger.shape_check", path, str(member.at)]
    command += [str(member.size), book]
    try:
        process = subprocess.Popen(  # noqa: S603 -- this interpreter, arguments as a list
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
    except (OSError, ValueError):  # ValueError: an argument no process can be given
        return None  # no way to start one here: the check runs in this process

    def wait() -> tuple[int, ShapeVerdict] | None:
        out, _ = process.communicate()
        if process.returncode != 0:
            return None
        try:
            said = orjson.loads(out)
            crc, fault = int(said["crc"]), said["fault"]
            if fault is None:
                return crc, ()
            return crc, (str(fault[0]), None if fault[1] is None else int(fault[1]))
        except (orjson.JSONDecodeError, TypeError, KeyError, IndexError, ValueError):
            return None  # not what shape_check prints: no verdict

    return wait


def shapes_in_file(path: str, at: int, size: int, book: str) -> tuple[int, ShapeVerdict]:
    """The second process's work: the CRC-32 of the bytes read and the first malformed line."""
    crc = 0

    def read(source: BinaryIO) -> Iterator[bytes]:
        nonlocal crc
        for chunk in _chunks(source, _Member(at, size)):
            crc = zlib.crc32(chunk, crc)
            yield chunk

    with open(path, "rb") as source:  # noqa: PTH123 -- a plain handle for _chunks
        try:
            _check_shapes(read(source), book)
        except VerificationFailed as problem:
            return 0, (problem.message, problem.index)
    return crc, ()


def _shape_verdict(elsewhere: Elsewhere, member: _Member) -> ShapeVerdict | None:
    """The second process's verdict: () for every line well-formed, (message, index) for the
    first that is not; None when it could not give one for these very bytes."""
    answer = elsewhere()
    if answer is None:
        return None
    crc, verdict = answer
    if verdict:
        return verdict
    return () if crc == member.crc else None


# RFC 8259 whitespace other than the newline that ends a line: the parser skips it around a
# value, so an entry that starts or ends with it is refused as not being one JSON value.
_SURROUNDING = (b" ", b"\t", b"\r")


def _check_entry_shape(body: bytes, index: int, book: str) -> None:
    """Entry `index` of `book` is a JSON object with the members of an entry (SPEC §6), each of
    its type; its index is its line number. Raise VerificationFailed naming what is wrong."""
    try:
        # orjson reads strict RFC 8259 from UTF-8 bytes: invalid UTF-8, NaN and Infinity are
        # refused; three times faster than the standard library here (docs/architecture.md).
        value = orjson.loads(body)
    except orjson.JSONDecodeError:  # also raised for nesting too deep
        raise _not_json(body, index) from None
    whole = body[:1] not in _SURROUNDING and body[-1:] not in _SURROUNDING
    # The common case in one expression, as this runs once per entry: a dict lookup that finds
    # nothing gives None, which no test below accepts, so six members pass only if all are there.
    if (
        whole
        and type(value) is dict
        and value.get("index") == index
        and type(value["index"]) is int
        and value.get("book") == book
        and type(value.get("actor")) is str
        and type(value.get("type")) is str
        and type(value.get("data")) is dict
        and type(value.get("time")) is str
        and TIME_PATTERN.match(value["time"])
        and (len(value) == 6 or (len(value) == 7 and _are_refs(value.get("refs"))))
    ):
        return
    raise _entry_problem(value, whole, index, book)


def _not_json(body: bytes, index: int) -> VerificationFailed:
    """Why an entry is not JSON: a value with more after it is named as such (read again by
    the standard library's decoder, which stops after one value)."""
    not_json = VerificationFailed(f"entry {index} is not valid JSON", index)
    try:
        text = body.decode("utf-8")
        _value, end = json.JSONDecoder().raw_decode(text)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return not_json
    return _entry_problem(None, False, index, "") if end < len(text) else not_json


def _are_refs(refs: object) -> bool:
    return type(refs) is list and all(type(ref) is dict for ref in refs)


def _entry_problem(value: object, whole: bool, index: int, book: str) -> VerificationFailed:
    """Why `_check_entry_shape` refused a parsed entry, in words."""
    problem = "it is not a well-formed entry"
    if not whole:
        problem = "it is not one JSON value"
    elif type(value) is not dict:
        problem = "it is not a JSON object"
    elif value.keys() != ENTRY_KEYS and value.keys() != _ENTRY_KEYS_WITH_REFS:
        problem = "it does not have the members of an entry"
    elif type(value["index"]) is not int or value["index"] != index:
        problem = f"it says it is entry {value['index']!r:.40}: entries were moved or inserted"
    elif value["book"] != book:
        problem = f"it belongs to book {value['book']!r:.80}"
    elif type(value["actor"]) is not str or type(value["type"]) is not str:
        problem = "its actor or type is not text"
    elif type(value["data"]) is not dict:
        problem = "its data is not a JSON object"
    elif not _are_refs(value.get("refs", [])):
        problem = "its refs are not JSON objects"
    elif type(value["time"]) is not str or not TIME_PATTERN.match(value["time"]):
        problem = "it has no valid time"
    return VerificationFailed(f"entry {index} is malformed: {problem}", index)


def _hashes(concatenated: bytes) -> Iterator[bytes]:
    for start in range(0, len(concatenated), HASH_SIZE):
        yield concatenated[start : start + HASH_SIZE]


def _mismatch(
    source: BinaryIO,
    member: _Member | None,
    count: int,
    computed: bytes,
    root: bytes,
    checkpoint: Checkpoint,
) -> VerificationFailed:
    """The entries do not give the signed size and root: say which entry is at fault, using the
    listed leaves if, and only if, they reproduce the signed root. `computed` are the leaf
    hashes of the first (up to) `checkpoint.size` entries and `root` is their root."""
    size = checkpoint.size
    if count > size and root == checkpoint.root_hash:
        return VerificationFailed(
            f"the bundle holds {count} entries but its checkpoint signs only {size}: "
            f"entry {size} onward is not covered by the signature",
            size,
        )
    listed = b""
    if member is not None and member.size == HASH_SIZE * size:
        listed = b"".join(_chunks(source, member))
    if listed and root_of(_hashes(listed)) == checkpoint.root_hash:
        for index in range(min(count, size)):
            start = index * HASH_SIZE
            if computed[start : start + HASH_SIZE] != listed[start : start + HASH_SIZE]:
                return VerificationFailed(
                    f"entry {index} does not match the signed tree: it was altered", index
                )
    if count < size:
        return VerificationFailed(
            f"the checkpoint signs {size} entries but the bundle holds {count}: "
            f"entry {count} onward is missing",
            count,
        )
    if count > size:
        return VerificationFailed(
            f"the bundle holds {count} entries but its checkpoint signs {size}, and the entries "
            "do not match the signed checkpoint"
        )
    return VerificationFailed("the entries do not match the signed checkpoint")


def _check_attachments(source: BinaryIO, members: dict[str, _Member]) -> None:
    for name, member in members.items():
        if name.startswith("attachments/"):
            digest = hashlib.sha256()
            for chunk in _chunks(source, member):
                digest.update(chunk)
            if name.removeprefix("attachments/") != digest.hexdigest():
                raise VerificationFailed(f"attachment {name} does not match its hash")
