"""No single-byte change to a real evidence bundle is ever accepted.

The issue asks that "1,000 random single-byte mutations of a bundle are never accepted". The
bundle here is exported by the ledger service from a SQLite book of 200 entries; each mutated
copy goes to Armory's verifier (what `armory verify` runs) and to tools/verify_bundle.py, both
in-process for speed, and a sample goes to both programs as an investigator would run them.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import random
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from armory.errors import VerificationFailed
from armory.ledger.bundle import verify_bundle
from armory.ledger.canonical import JSONValue
from armory.ledger.entry import Draft
from tests.contract.conftest import TEST_SIGNER, sql_ledger

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDALONE = REPO_ROOT / "tools" / "verify_bundle.py"
BOOK = "prod-rust"
SEED = 20261124
MUTATIONS = 1000


def drafts(start: int, count: int) -> list[Draft]:
    """A day on set: revolvers received, inspected, loaded with dummies, handed over, returned."""
    kinds = ("firearm_received", "firearm_inspected", "firearm_loaded", "handed_over", "returned")
    result = []
    for number in range(start, start + count):
        kind = kinds[number % len(kinds)]
        data: dict[str, JSONValue] = {
            "firearm": f"revolver-{number % 7}",
            "scene": f"{12 + number // 40}A",
            "rounds": [f"dummy-{slot}" for slot in range(number % 6)],
            "witness": "safety:kim" if number % 3 else None,
            "note": f"step {number}: chambers shown to the actor and the first AD, all clear",
        }
        refs: list[dict[str, JSONValue]] = []
        if kind == "returned":  # the return points at the hand-over it closes
            refs.append({"book": BOOK, "index": number})
        result.append(Draft.of(f"armorer:{'ana' if number % 2 else 'raj'}", kind, data, refs))
    return result


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A bundle exported through the real service from a SQLite ledger."""
    database = tmp_path_factory.mktemp("ledger") / "armory.db"
    ledger, engine = sql_ledger(f"sqlite:///{database}")
    try:
        ledger.create_book(BOOK, "production", "Rust", "admin")
        for start in range(0, 200, 50):
            ledger.append(BOOK, drafts(start, 50))
        out = io.BytesIO()
        ledger.export(BOOK, out, "investigator:kim", "CASE-7")
    finally:
        engine.dispose()
    return out.getvalue()


@functools.cache
def standalone() -> ModuleType:
    """tools/verify_bundle.py loaded as a module, to call its `verify` without a process."""
    spec = importlib.util.spec_from_file_location("standalone_verify_bundle", STANDALONE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it is loading
    spec.loader.exec_module(module)
    return module


def mutations(original: bytes) -> Iterator[tuple[int, int, bytes]]:
    """The same 1,000 random single-byte changes every run: (offset, xor, mutated bytes)."""
    rng = random.Random(SEED)
    for _ in range(MUTATIONS):
        offset, flip = rng.randrange(len(original)), rng.randrange(1, 256)
        mutated = bytearray(original)
        mutated[offset] ^= flip
        yield offset, flip, bytes(mutated)


def structure_offsets(original: bytes) -> list[int]:
    """Every byte of the zip that is a header, the directory or an end record."""
    content: set[int] = set()
    with zipfile.ZipFile(io.BytesIO(original)) as zf:
        for info in zf.infolist():
            start = info.header_offset + 30 + len(info.orig_filename) + 20
            content.update(range(start, start + info.file_size))
    return [offset for offset in range(len(original)) if offset not in content]


def standalone_accepts(data: bytes) -> bool:
    verifier = standalone()
    trusted = verifier.parse_vkey(TEST_SIGNER.verifier().to_text())
    try:
        verifier.verify(io.BytesIO(data), trusted, None)
    except verifier.Failure:
        return False
    return True


def armory_accepts(data: bytes) -> bool:
    try:
        verify_bundle(io.BytesIO(data), TEST_SIGNER.verifier())
    except VerificationFailed:
        return False
    return True


def test_the_exported_bundle_itself_verifies_with_both_verifiers(exported: bytes) -> None:
    assert verify_bundle(io.BytesIO(exported), TEST_SIGNER.verifier()).size == 202
    assert standalone_accepts(exported)


def test_a_thousand_random_single_byte_mutations_are_never_accepted_by_armory(
    exported: bytes,
) -> None:
    accepted = [
        (offset, flip) for offset, flip, data in mutations(exported) if armory_accepts(data)
    ]

    assert accepted == []


def test_a_thousand_random_single_byte_mutations_are_never_accepted_by_the_standalone_verifier(
    exported: bytes,
) -> None:
    accepted = [
        (offset, flip) for offset, flip, data in mutations(exported) if standalone_accepts(data)
    ]

    assert accepted == []


def test_a_change_to_any_byte_of_the_zip_structure_is_refused_by_both_verifiers(
    exported: bytes,
) -> None:
    offsets = structure_offsets(exported)
    accepted = []
    for offset in offsets:
        mutated = bytearray(exported)
        mutated[offset] ^= 0x5A
        if armory_accepts(bytes(mutated)) or standalone_accepts(bytes(mutated)):
            accepted.append(offset)

    assert accepted == []
    assert len(offsets) > 700  # six headers, the directory and the end records


def refused_with_one_line(result: subprocess.CompletedProcess[str]) -> None:
    """Exit status 1, one line `FAIL: ...` in all the output, and no traceback."""
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert output.startswith("FAIL: "), output


def sample(exported: bytes, tmp_path: Path, count: int) -> list[Path]:
    """Every (1000 / count)th of the random mutations, written to files."""
    paths = []
    for number, (offset, _, data) in enumerate(mutations(exported)):
        if number % (MUTATIONS // count) == 0:
            path = tmp_path / f"mutated-at-{offset}.zip"
            path.write_bytes(data)
            paths.append(path)
    return paths


def test_mutated_bundles_are_refused_by_the_standalone_program_in_one_line(
    exported: bytes, tmp_path: Path
) -> None:
    key = TEST_SIGNER.verifier().to_text()
    for path in sample(exported, tmp_path, 10):
        result = subprocess.run(
            [sys.executable, str(STANDALONE), str(path), "--key", key],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

        refused_with_one_line(result)


def test_mutated_bundles_are_refused_by_the_armory_verify_command_in_one_line(
    exported: bytes, tmp_path: Path
) -> None:
    command = [sys.executable, "-c", "from armory.entrypoints.cli.main import run; run()"]
    for path in sample(exported, tmp_path, 3):
        result = subprocess.run(
            [*command, "verify", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
        )

        refused_with_one_line(result)
