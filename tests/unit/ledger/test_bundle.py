"""Evidence bundles: the canonical zip `write_bundle` makes, and what `verify_bundle` refuses."""

from __future__ import annotations

import hashlib
import io
import json
import random
import struct
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from armory.errors import ArmoryError, VerificationFailed
from armory.ledger import bundle
from armory.ledger.bundle import BundleReport, verify_bundle, write_bundle
from armory.ledger.checkpoint import Checkpoint, sign_checkpoint
from armory.ledger.merkle import leaf_hash, root_of
from armory.ledger.note import SignerKey

# Fixed seeds: the same bundle bytes every run. These keys sign nothing outside this file.
SIGNER = SignerKey("armory.test", bytes(range(32)))
OTHER_SIGNER = SignerKey("armory.test", bytes(range(1, 33)))
BOOK = "prod-1"
ORIGIN = f"{SIGNER.name}/{BOOK}"
COUNT = 10
PHOTO = b"a photo of revolver-1"


def entry(position: int, **fields: object) -> bytes:
    """Entry `position` of BOOK as canonical JSON (plain ASCII: sorted compact JSON is JCS)."""
    value: dict[str, object] = {
        "actor": "armorer:ana",
        "book": BOOK,
        "data": {"firearm": "revolver-1", "chambers": [0, 0, 1, 0, 0, 0]},
        "index": position,
        "time": f"2026-11-24T10:00:{position % 60:02d}.000Z",
        "type": "firearm_inspected",
    }
    if position % 4 == 3:
        value["refs"] = [{"book": BOOK, "index": position - 1}]
    value.update(fields)
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def entries(count: int = COUNT) -> list[bytes]:
    return [entry(index) for index in range(count)]


def note_for(lines: Sequence[bytes], signer: SignerKey = SIGNER) -> str:
    """A checkpoint over `lines`, signed."""
    root = root_of(leaf_hash(line) for line in lines)
    return sign_checkpoint(Checkpoint(ORIGIN, len(lines), root), signer)


def bundle_bytes(lines: Sequence[bytes], *, signer: SignerKey = SIGNER) -> bytes:
    """A bundle of `lines`, written by `write_bundle`, with a checkpoint `signer` signed."""
    out = io.BytesIO()
    write_bundle(
        out,
        checkpoint_note=note_for(lines, signer),
        vkey=SIGNER.verifier().to_text(),
        rows=[(line, leaf_hash(line)) for line in lines],
        readme="How to verify this bundle.\n",
        attachments=[(hashlib.sha256(PHOTO).hexdigest(), PHOTO)],
    )
    return out.getvalue()


def members_of(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(name, zf.read(name)) for name in zf.namelist()]


def canonical_zip(members: Sequence[tuple[str, bytes]]) -> bytes:
    """The members, in the order given, in the canonical layout (any files, any order)."""
    out = io.BytesIO()
    writer = bundle._CanonicalZipWriter(out)
    for name, content in members:
        writer.add(name, content)
    writer.finish()
    return out.getvalue()


def with_member(data: bytes, name: str, content: bytes) -> bytes:
    """The bundle with one file's content replaced, in the canonical layout: what a forger who
    knows the format would write."""
    return canonical_zip([(n, content if n == name else c) for n, c in members_of(data)])


def verify(data: bytes, *, old: str | None = None) -> BundleReport:
    return verify_bundle(io.BytesIO(data), SIGNER.verifier(), old)


def refusal(data: bytes, *, old: str | None = None) -> VerificationFailed:
    with pytest.raises(VerificationFailed) as refused:
        verify(data, old=old)
    return refused.value


@pytest.fixture(scope="module")
def sound() -> bytes:
    return bundle_bytes(entries())


# --- Writing -----------------------------------------------------------------------------------


def test_a_written_bundle_verifies_and_reports_its_book_size_root_and_signer(sound: bytes) -> None:
    report = verify(sound)

    root = root_of(leaf_hash(line) for line in entries())
    assert report == BundleReport(BOOK, COUNT, root, SIGNER.name, False, None)


def test_without_a_pinned_key_the_report_says_the_key_came_from_the_bundle(sound: bytes) -> None:
    assert verify_bundle(io.BytesIO(sound)).key_from_bundle


def test_an_empty_book_verifies() -> None:
    assert verify(bundle_bytes([])).size == 0


def test_the_same_inputs_always_give_the_same_bytes() -> None:
    photos = [(hashlib.sha256(p).hexdigest(), p) for p in (b"one", b"two", b"three")]

    def write(attachments: list[tuple[str, bytes]]) -> bytes:
        out = io.BytesIO()
        write_bundle(
            out,
            checkpoint_note=note_for(entries()),
            vkey=SIGNER.verifier().to_text(),
            rows=iter([(line, leaf_hash(line)) for line in entries()]),
            readme="README\n",
            attachments=attachments,
        )
        return out.getvalue()

    assert write(photos) == write(photos) == write(list(reversed(photos)))


def test_the_bundle_is_an_ordinary_zip_of_uncompressed_files_in_the_canonical_order(
    sound: bytes,
) -> None:
    with zipfile.ZipFile(io.BytesIO(sound)) as zf:
        assert zf.testzip() is None
        infos = zf.infolist()
        names = [info.filename for info in infos]
        assert names == [
            "checkpoint",
            "log.vkey",
            "entries.jsonl",
            "leaves",
            f"attachments/{hashlib.sha256(PHOTO).hexdigest()}",
            "README.txt",
        ]
        assert zf.read("entries.jsonl") == b"".join(line + b"\n" for line in entries())
        assert {info.compress_type for info in infos} == {zipfile.ZIP_STORED}
        assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {info.external_attr >> 16 for info in infos} == {0o100644}


# --- Content tampering: the entry at fault is named -------------------------------------------


def edited(lines: list[bytes]) -> list[bytes]:
    return [*lines[:3], entry(3, actor="someone-else"), *lines[4:]]


def deleted(lines: list[bytes]) -> list[bytes]:
    return lines[:3] + lines[4:]


def inserted(lines: list[bytes]) -> list[bytes]:
    return [*lines[:3], entry(3, actor="intruder"), *lines[3:]]


def swapped(lines: list[bytes]) -> list[bytes]:
    return [*lines[:3], lines[4], lines[3], *lines[5:]]


def renumbered(
    change: Callable[[list[bytes]], list[bytes]],
) -> Callable[[list[bytes]], list[bytes]]:
    """The same change, by a forger who then rewrites every index to match its line."""

    def change_and_renumber(lines: list[bytes]) -> list[bytes]:
        values = [json.loads(line) for line in change(lines)]
        return [
            json.dumps({**value, "index": index}, sort_keys=True, separators=(",", ":")).encode()
            for index, value in enumerate(values)
        ]

    return change_and_renumber


def replaced(index: int, line: bytes) -> Callable[[list[bytes]], list[bytes]]:
    return lambda lines: [*lines[:index], line, *lines[index + 1 :]]


@pytest.mark.parametrize(
    ("change", "index", "phrase"),
    [
        pytest.param(edited, 3, "does not match the signed tree", id="edited"),
        pytest.param(deleted, 3, "says it is entry 4", id="deleted"),
        pytest.param(inserted, 4, "says it is entry 3", id="inserted"),
        pytest.param(swapped, 3, "says it is entry 4", id="swapped"),
        pytest.param(renumbered(deleted), 3, "does not match the signed tree", id="deleted-renum"),
        pytest.param(
            renumbered(inserted), 3, "does not match the signed tree", id="inserted-renum"
        ),
        pytest.param(renumbered(swapped), 3, "does not match the signed tree", id="swapped-renum"),
        pytest.param(replaced(3, entry(3, index=30)), 3, "says it is entry 30", id="index"),
        pytest.param(replaced(3, entry(3, index=True)), 3, "says it is entry True", id="bool"),
        pytest.param(replaced(3, entry(3, book="prod-2")), 3, "belongs to book", id="book"),
        pytest.param(replaced(3, b'{"index":3'), 3, "not valid JSON", id="cut-json"),
        pytest.param(replaced(3, b""), 3, "not valid JSON", id="blank"),
        pytest.param(replaced(3, b"\xff"), 3, "not valid JSON", id="not-utf8"),
        pytest.param(replaced(3, entry(3) + b" 1"), 3, "not one JSON value", id="two-values"),
        pytest.param(replaced(3, b"[1]"), 3, "not a JSON object", id="array"),
        pytest.param(replaced(3, entry(3, extra=1)), 3, "members of an entry", id="extra"),
        pytest.param(replaced(3, entry(3, data=[1])), 3, "data is not", id="data"),
        pytest.param(replaced(3, entry(3, time="2026-11-24 10:00")), 3, "no valid time", id="time"),
        pytest.param(replaced(3, entry(3, refs=[1])), 3, "refs", id="refs"),
        pytest.param(
            replaced(3, entry(3).replace(b'"index":3', b'"index":NaN')), 3, "not valid", id="nan"
        ),
        pytest.param(lambda lines: lines[:-1], COUNT - 1, "onward is missing", id="last-missing"),
        pytest.param(
            lambda lines: [*lines, entry(COUNT)], COUNT, "not covered by the signature", id="more"
        ),
    ],
)
def test_tampered_entries_fail_naming_the_first_entry_at_fault(
    sound: bytes, change: Callable[[list[bytes]], list[bytes]], index: int, phrase: str
) -> None:
    lines = change(entries())
    forged = with_member(sound, "entries.jsonl", b"".join(line + b"\n" for line in lines))

    failure = refusal(forged)

    assert failure.index == index
    assert phrase in failure.message
    assert f"entry {index}" in failure.message


def verdict_from_file(data: bytes, folder: Path) -> BundleReport | VerificationFailed:
    path = folder / f"bundle-{hashlib.sha256(data).hexdigest()[:12]}.zip"
    path.write_bytes(data)
    try:
        with path.open("rb") as source:
            return verify_bundle(source, SIGNER.verifier(), None)
    except VerificationFailed as failure:
        return failure


def test_with_a_second_process_checking_the_lines_the_verdicts_are_the_same(
    sound: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = b"".join(line + b"\n" for line in entries())
    cases = {
        "sound": sound,
        "edited": with_member(
            sound, "entries.jsonl", b"".join(x + b"\n" for x in edited(entries()))
        ),
        "index": with_member(sound, "entries.jsonl", whole.replace(b'"index":3', b'"index":30')),
        "time": with_member(
            sound, "entries.jsonl", whole.replace(entry(3), entry(3, time="2026-11-24 10:00"))
        ),
        "cut-short": with_member(sound, "entries.jsonl", whole[:-1]),
        # A malformed line comes before the missing newline, as in one pass.
        "both": with_member(sound, "entries.jsonl", whole.replace(entry(2), b"[1]")[:-1]),
    }
    alone = {name: verdict_from_file(data, tmp_path) for name, data in cases.items()}
    monkeypatch.setattr(bundle, "PARALLEL_FROM", 0)
    started: list[object] = []
    start = bundle._shapes_elsewhere

    def counted(*args: object) -> object:
        started.append(start(*args))  # type: ignore[arg-type]
        return started[-1]

    monkeypatch.setattr(bundle, "_shapes_elsewhere", counted)
    checked_here: list[str] = []
    check_here = bundle._check_shapes

    def fallback(chunks: Iterable[bytes], book: str) -> None:
        checked_here.append(book)
        check_here(chunks, book)

    monkeypatch.setattr(bundle, "_check_shapes", fallback)  # this process's copy only
    for name, data in cases.items():
        paired = verdict_from_file(data, tmp_path)
        assert type(paired) is type(alone[name]), name
        if isinstance(paired, VerificationFailed):
            expected = alone[name]
            assert isinstance(expected, VerificationFailed)
            assert (paired.message, paired.index) == (expected.message, expected.index)
        else:
            assert paired == alone[name], name
    assert len(started) == len(cases)
    assert all(future is not None for future in started)
    assert checked_here == []  # every verdict came from the second process
    assert isinstance(alone["sound"], BundleReport)
    assert isinstance(alone["both"], VerificationFailed)
    assert alone["both"].index == 2


def test_a_second_process_that_read_other_bytes_is_not_believed(
    sound: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = b"".join(line + b"\n" for line in entries())
    forged = with_member(sound, "entries.jsonl", whole.replace(b'"index":3', b'"index":30'))
    # "Every line is fine", of bytes with another CRC-32.
    monkeypatch.setattr(bundle, "_shapes_elsewhere", lambda *_args: lambda: (12345, ()))

    failure = verdict_from_file(forged, tmp_path)

    assert isinstance(failure, VerificationFailed)
    assert failure.index == 3
    assert "says it is entry 30" in failure.message


def test_an_entries_file_without_its_last_newline_fails_naming_the_last_entry(
    sound: bytes,
) -> None:
    body = b"".join(line + b"\n" for line in entries())[:-1]

    failure = refusal(with_member(sound, "entries.jsonl", body))

    assert failure.index == COUNT - 1
    assert "cut short" in failure.message


def test_an_edit_covered_by_rewritten_leaves_fails_without_naming_an_entry(sound: bytes) -> None:
    tampered = edited(entries())
    forged = with_member(sound, "entries.jsonl", b"".join(line + b"\n" for line in tampered))
    forged = with_member(forged, "leaves", b"".join(leaf_hash(line) for line in tampered))

    failure = refusal(forged)

    assert failure.index is None
    assert failure.message == "the entries do not match the signed checkpoint"


def test_an_attachment_whose_bytes_do_not_match_its_name_fails(sound: bytes) -> None:
    name = f"attachments/{hashlib.sha256(PHOTO).hexdigest()}"

    assert "does not match its hash" in refusal(with_member(sound, name, b"another")).message


def test_a_bundle_checked_against_another_pinned_key_fails(sound: bytes) -> None:
    with pytest.raises(VerificationFailed, match="not the key you trust"):
        verify_bundle(io.BytesIO(sound), OTHER_SIGNER.verifier())


def test_a_checkpoint_signed_by_another_key_fails_even_with_the_real_key_in_the_bundle() -> None:
    forged = bundle_bytes(edited(entries()), signer=OTHER_SIGNER)

    assert "checkpoint is not valid" in refusal(forged).message


# --- A checkpoint the investigator already holds ----------------------------------------------


def test_a_bundle_that_extends_a_checkpoint_you_hold_is_consistent_with_it(sound: bytes) -> None:
    for size in (1, 4, COUNT):
        assert verify(sound, old=note_for(entries()[:size])).consistent_with == size


def test_a_checkpoint_you_hold_proves_a_resigned_rewrite_inconsistent() -> None:
    rewritten = bundle_bytes(edited(entries()))  # signed again by the key holder

    failure = refusal(rewritten, old=note_for(entries()[:6]))

    assert "the log was rewritten" in failure.message


@pytest.mark.parametrize(
    ("old", "phrase"),
    [
        pytest.param(note_for(entries(COUNT + 1)), "entries were removed", id="larger"),
        pytest.param(note_for(entries(3), OTHER_SIGNER), "not valid", id="other-key"),
        pytest.param(note_for([]), "empty book", id="empty"),
    ],
)
def test_a_checkpoint_you_hold_that_the_bundle_cannot_extend_fails(
    sound: bytes, old: str, phrase: str
) -> None:
    assert phrase in refusal(sound, old=old).message


# --- Container tampering: the same files, any other zip, are refused ----------------------------


def local_header_at(data: bytes, name: str) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.getinfo(name).header_offset


def directory_record_of(data: bytes, name: str) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        position = zf.start_dir
        for info in zf.infolist():
            if info.filename == name:
                return position
            position += 46 + len(info.filename) + len(info.extra)
    raise AssertionError(name)


def patched(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new) :]


def new_timestamp_in_local_header(data: bytes) -> bytes:
    at = local_header_at(data, "entries.jsonl")
    return patched(data, at + 10, struct.pack("<HH", 0x6000, 0x5B78))  # 2025-11-24 12:00


def new_timestamp_in_directory(data: bytes) -> bytes:
    at = directory_record_of(data, "entries.jsonl")
    return patched(data, at + 12, struct.pack("<HH", 0x6000, 0x5B78))


def new_attributes(data: bytes) -> bytes:
    at = directory_record_of(data, "README.txt")
    return patched(data, at + 38, struct.pack("<L", 0o100600 << 16))


def made_on_windows(data: bytes) -> bytes:
    return patched(data, directory_record_of(data, "checkpoint") + 4, struct.pack("<H", 45))


def text_flag(data: bytes) -> bytes:
    return patched(data, directory_record_of(data, "log.vkey") + 36, b"\x01")


def extra_field_in_directory(data: bytes) -> bytes:
    """A harmless extra field (id 0xCAFE, empty) after the zip64 one of README.txt's record,
    with the directory's size in both end records grown to match: still a valid zip."""
    at = directory_record_of(data, "README.txt")
    grown = patched(data, at + 30, struct.pack("<H", 32))
    record_end = at + 46 + len("README.txt") + 28
    grown = grown[:record_end] + struct.pack("<HH", 0xCAFE, 0) + grown[record_end:]
    end = len(grown) - 22
    zip64_end = end - 20 - 56
    (size,) = struct.unpack_from("<Q", grown, zip64_end + 40)
    grown = patched(grown, zip64_end + 40, struct.pack("<Q", size + 4))
    grown = patched(grown, end - 20 + 8, struct.pack("<Q", zip64_end))
    return patched(grown, end + 12, struct.pack("<L", size + 4))


def comment(data: bytes) -> bytes:
    return data[:-2] + struct.pack("<H", 9) + b"a comment"


def trailing_bytes(data: bytes) -> bytes:
    return data + b"\x00" * 16


def leading_bytes(data: bytes) -> bytes:
    return b"#!/bin/sh\n" + data


def reordered(data: bytes) -> bytes:
    members = members_of(data)
    return canonical_zip([members[1], members[0], *members[2:]])


def twice(data: bytes) -> bytes:
    members = members_of(data)
    return canonical_zip([*members[:5], members[4], members[5]])


def unexpected_file(data: bytes) -> bytes:
    return canonical_zip([*members_of(data), ("notes.txt", b"x")])


def compressed(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members_of(data):
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), content)
    return out.getvalue()


@pytest.mark.parametrize(
    "alter",
    [
        new_timestamp_in_local_header,
        new_timestamp_in_directory,
        new_attributes,
        made_on_windows,
        text_flag,
        extra_field_in_directory,
        comment,
        trailing_bytes,
        leading_bytes,
        reordered,
        twice,
        unexpected_file,
        compressed,
    ],
)
def test_the_same_files_in_a_zip_that_is_not_the_canonical_layout_are_refused(
    sound: bytes, alter: Callable[[bytes], bytes]
) -> None:
    altered = alter(sound)
    if alter not in (unexpected_file, twice):
        # Any zip reader still finds the very same files: only the layout check can object.
        assert sorted(members_of(altered)) == sorted(members_of(sound))

    failure = refusal(altered)

    assert any(word in failure.message for word in ("altered", "unexpected file"))


def test_a_bundle_cut_short_anywhere_fails_as_a_verification_failure(sound: bytes) -> None:
    for length in range(len(sound)):
        with pytest.raises(VerificationFailed):
            verify(sound[:length])


def test_every_single_byte_change_to_a_bundle_is_refused() -> None:
    data = bundle_bytes(entries(3))
    rng = random.Random(20261124)

    for offset in range(len(data)):
        mutated = bytearray(data)
        mutated[offset] ^= rng.randrange(1, 256)
        with pytest.raises(VerificationFailed):
            verify(bytes(mutated))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_are_answered_with_an_armory_error_and_never_a_crash(data: bytes) -> None:
    with pytest.raises(ArmoryError):
        verify_bundle(io.BytesIO(data))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_bundle_with_any_stretch_replaced_is_answered_with_an_armory_error(
    sound: bytes, data: st.DataObject
) -> None:
    start = data.draw(st.integers(0, len(sound)))
    end = data.draw(st.integers(start, min(len(sound), start + 64)))
    replacement = data.draw(st.binary(max_size=64))
    altered = sound[:start] + replacement + sound[end:]

    if altered != sound:
        with pytest.raises(ArmoryError):
            verify_bundle(io.BytesIO(altered))


def test_a_second_process_that_fails_gives_no_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle, "PARALLEL_FROM", 0)
    gone = io.BytesIO(b"")
    gone.name = str(tmp_path / "gone.zip")  # a file that is not there
    member = bundle._Member(0, 1 << 20, 0)
    elsewhere = bundle._shapes_elsewhere(gone, member, BOOK)
    assert elsewhere is not None
    assert elsewhere() is None
    assert bundle._shape_verdict(lambda: None, member) is None
    # An argument no process can be given: no second process, and no error either.
    assert bundle._shapes_elsewhere(gone, member, "prod\x00") is None
