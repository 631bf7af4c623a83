"""Evidence bundles (SPEC §6): writing them, and verifying them without trusting the database.

A bundle is a zip holding `checkpoint` (the signed note), `log.vkey` (the verifier key),
`entries.jsonl` (one canonical entry per line, in index order), `leaves` (the 32-byte leaf
hashes, an aid to name a bad entry), `attachments/<sha256>` and `README.txt`.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import BinaryIO

from armory.errors import InvalidInput, VerificationFailed
from armory.ledger.checkpoint import Checkpoint, open_checkpoint
from armory.ledger.entry import ENTRY_KEYS, OPTIONAL_KEYS, TIME_PATTERN
from armory.ledger.merkle import HASH_SIZE, Frontier, root_of
from armory.ledger.note import VerifierKey

REQUIRED_FILES = ("checkpoint", "log.vkey", "entries.jsonl", "README.txt")


def readme(origin: str, size: int, book: str, exported_at: str) -> str:
    """The README.txt of a bundle: what it is and how to verify it by hand."""
    template = resources.files("armory.ledger").joinpath("bundle_readme.txt").read_text("utf-8")
    return template.format(origin=origin, size=size, book=book, exported_at=exported_at)


def write_bundle(
    out: BinaryIO,
    *,
    checkpoint_note: str,
    vkey: str,
    rows: Iterable[tuple[bytes, bytes]],
    readme: str,
    attachments: Iterable[tuple[str, bytes]] = (),
) -> None:
    """Write a bundle from (entry bytes, leaf hash) pairs in index order."""
    leaves = bytearray()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("checkpoint", checkpoint_note)
        zf.writestr("log.vkey", vkey + "\n")
        with zf.open("entries.jsonl", "w", force_zip64=True) as entries:
            buffer = io.BufferedWriter(entries, buffer_size=1 << 20)
            for body, leaf in rows:
                buffer.write(body)
                buffer.write(b"\n")
                leaves += leaf
            buffer.flush()
        zf.writestr("leaves", bytes(leaves), compress_type=zipfile.ZIP_STORED)
        for digest, content in attachments:
            zf.writestr(f"attachments/{digest}", content)
        zf.writestr("README.txt", readme)


@dataclass(frozen=True)
class BundleReport:
    """What a verified bundle proves."""

    book: str
    size: int
    root: bytes
    signer: str
    key_from_bundle: bool
    consistent_with: int | None


def verify_bundle(
    source: BinaryIO, trusted: VerifierKey | None = None, old_note: str | None = None
) -> BundleReport:
    """Verify a bundle read from `source`; raise VerificationFailed naming what does not hold.

    `trusted` pins the key the investigator trusts; without it the bundle's own key is used
    (and the report says so). `old_note` is a checkpoint the investigator already holds: the
    bundle must extend it.
    """
    try:
        with zipfile.ZipFile(source) as zf:
            return _verify_open_bundle(zf, trusted, old_note)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as problem:
        raise VerificationFailed(f"the bundle is not a readable zip file: {problem}") from None


def _read_text(zf: zipfile.ZipFile, name: str) -> str:
    try:
        return zf.read(name).decode("utf-8")
    except KeyError:
        raise VerificationFailed(f"the bundle has no {name} file") from None
    except UnicodeDecodeError:
        raise VerificationFailed(f"the bundle's {name} is not UTF-8 text") from None


def _verify_open_bundle(
    zf: zipfile.ZipFile, trusted: VerifierKey | None, old_note: str | None
) -> BundleReport:
    names = set(zf.namelist())
    for required in REQUIRED_FILES:
        if required not in names:
            raise VerificationFailed(f"the bundle has no {required} file")
    key, checkpoint, book = _signed_head(zf, trusted)
    old = _old_checkpoint(old_note, key, checkpoint) if old_note is not None else None
    old_root: bytes | None = None

    frontier = Frontier()
    leaf_hashes: list[bytes] = []
    with zf.open("entries.jsonl") as stream:
        for index, line in enumerate(stream):
            if index >= checkpoint.size:
                raise VerificationFailed(
                    f"the bundle holds more entries than the {checkpoint.size} its checkpoint "
                    "signs",
                    index,
                )
            if not line.endswith(b"\n"):
                raise VerificationFailed(
                    f"entry {index} is cut short: the file is truncated", index
                )
            body = line[:-1]
            _check_entry_shape(body, index, book)
            leaf = hashlib.sha256(b"\x00" + body).digest()
            leaf_hashes.append(leaf)
            frontier.append(leaf)
            if old is not None and frontier.size == old.size:
                old_root = frontier.root()
    if frontier.size != checkpoint.size:
        raise VerificationFailed(
            f"the checkpoint signs {checkpoint.size} entries but the bundle holds "
            f"{frontier.size}: entry {frontier.size} is missing",
            frontier.size,
        )
    if frontier.root() != checkpoint.root_hash:
        _name_the_bad_entry(zf, leaf_hashes, checkpoint)
    if old is not None and old_root != old.root_hash:
        raise VerificationFailed(
            f"the log was rewritten: its first {old.size} entries do not match the checkpoint "
            "you hold"
        )
    for name in names:
        if name.startswith("attachments/"):
            digest = hashlib.sha256(zf.read(name)).hexdigest()
            if name.removeprefix("attachments/") != digest:
                raise VerificationFailed(f"attachment {name} does not match its hash")
    return BundleReport(
        book=book,
        size=checkpoint.size,
        root=checkpoint.root_hash,
        signer=key.name,
        key_from_bundle=trusted is None,
        consistent_with=old.size if old is not None else None,
    )


def _signed_head(
    zf: zipfile.ZipFile, trusted: VerifierKey | None
) -> tuple[VerifierKey, Checkpoint, str]:
    """The key to trust, the checkpoint it signed, and the book that checkpoint is of."""
    try:
        bundled_key = VerifierKey.parse(_read_text(zf, "log.vkey").strip("\n"))
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
        checkpoint = open_checkpoint(_read_text(zf, "checkpoint"), key)
    except InvalidInput as problem:
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
    except InvalidInput as problem:
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


def _check_entry_shape(body: bytes, index: int, book: str) -> None:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise VerificationFailed(f"entry {index} is not valid JSON", index) from None
    if not isinstance(value, dict):
        raise VerificationFailed(f"entry {index} is not a JSON object", index)
    keys = value.keys()
    if not keys >= ENTRY_KEYS or keys - ENTRY_KEYS - OPTIONAL_KEYS:
        raise VerificationFailed(f"entry {index} does not have the members of an entry", index)
    if value["index"] != index or type(value["index"]) is not int:
        raise VerificationFailed(
            f"entry {index} says it is entry {value['index']}: entries were moved or inserted",
            index,
        )
    if value["book"] != book:
        raise VerificationFailed(f"entry {index} belongs to book {value['book']!r}", index)
    time = value["time"]
    if not isinstance(time, str) or not TIME_PATTERN.match(time):
        raise VerificationFailed(f"entry {index} has no valid time", index)


def _name_the_bad_entry(zf: zipfile.ZipFile, computed: list[bytes], checkpoint: Checkpoint) -> None:
    """The entries do not give the signed root: use the listed leaves, if they are the signed
    ones, to say which entry changed."""
    try:
        listed = zf.read("leaves")
    except KeyError:
        listed = b""
    if len(listed) == HASH_SIZE * checkpoint.size:
        hashes = [listed[i : i + HASH_SIZE] for i in range(0, len(listed), HASH_SIZE)]
        if root_of(hashes) == checkpoint.root_hash:
            for index, (ours, theirs) in enumerate(zip(computed, hashes, strict=True)):
                if ours != theirs:
                    raise VerificationFailed(
                        f"entry {index} does not match the signed tree: it was altered", index
                    )
    raise VerificationFailed("the entries do not match the signed checkpoint")
