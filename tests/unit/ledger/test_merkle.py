"""The RFC 9162 Merkle tree: public vectors, a naive reference, mutations, and an outside oracle."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from armory.errors import ArmoryError, VerificationFailed
from armory.ledger import merkle
from armory.ledger.merkle import NodeId
from tests.shared_vectors import MISSING, require_vectors, vectors_dir

# The eight reference leaves of RFC 6962/9162 test suites (hex), as listed beside ROOTS.txt.
REFERENCE_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]


def naive_root(entries: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH, written as the recursive definition."""
    if not entries:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = merkle.split_point(len(entries))
    return hashlib.sha256(b"\x01" + naive_root(entries[:k]) + naive_root(entries[k:])).digest()


class Tree:
    """A tree held in a dict of nodes, filled the way a store is filled: by appending."""

    def __init__(self, entries: Sequence[bytes]) -> None:
        self.entries = list(entries)
        self.nodes: dict[NodeId, bytes] = {}
        self.frontier = merkle.Frontier()
        for index, entry in enumerate(entries):
            completed = self.frontier.append(merkle.leaf_hash(entry))
            for level in range(len(completed) // merkle.HASH_SIZE):
                digest = completed[level * merkle.HASH_SIZE : (level + 1) * merkle.HASH_SIZE]
                self.nodes[(level, index >> level)] = digest
        self.reads: list[int] = []

    def read(self, wanted: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        self.reads.append(len(wanted))
        return {node: self.nodes[node] for node in wanted if node in self.nodes}


def vector_files(kind: str) -> list[Path]:
    base = vectors_dir()
    if base is None:
        return []
    return sorted((base / "merkle" / kind).rglob("*.json"))


def vector_params(kind: str) -> list[Any]:
    """The vector files of `kind` as test parameters; where there are none, one parameter that
    is skipped with the reason, instead of pytest's "got empty parameter set"."""
    files = vector_files(kind)
    if not files:
        return [pytest.param(None, id="absent", marks=pytest.mark.skip(reason=MISSING))]
    return [pytest.param(p, id=p.parent.name + "/" + p.stem) for p in files]


def decode(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def test_the_public_vectors_are_present_or_the_skip_says_why() -> None:
    require_vectors("merkle", "inclusion")
    require_vectors("merkle", "consistency")
    assert vector_files("inclusion")
    assert vector_files("consistency")


@pytest.mark.parametrize("path", vector_params("inclusion"))
def test_inclusion_vectors_are_accepted_exactly_when_they_should_be(path: Path) -> None:
    probe: dict[str, Any] = json.loads(path.read_text())

    def check() -> None:
        proof = [decode(h) for h in probe["proof"] or []]
        merkle.verify_inclusion(
            decode(probe["leafHash"]),
            probe["leafIdx"],
            probe["treeSize"],
            proof,
            decode(probe["root"]),
        )

    if probe["wantErr"]:
        with pytest.raises((ArmoryError, binascii.Error)):
            check()
    else:
        check()


@pytest.mark.parametrize("path", vector_params("consistency"))
def test_consistency_vectors_are_accepted_exactly_when_they_should_be(path: Path) -> None:
    probe: dict[str, Any] = json.loads(path.read_text())

    def check() -> None:
        proof = [decode(h) for h in probe["proof"] or []]
        merkle.verify_consistency(
            probe["size1"], probe["size2"], decode(probe["root1"]), decode(probe["root2"]), proof
        )

    if probe["wantErr"]:
        with pytest.raises((ArmoryError, binascii.Error)):
            check()
    else:
        check()


def test_roots_of_the_reference_leaves_match_the_published_roots() -> None:
    roots_file = require_vectors("merkle", "ROOTS.txt")
    published: dict[int, bytes] = {}
    for line in roots_file.read_text().splitlines():
        if line and not line.startswith("#"):
            size_text, root_hex = line.split()
            published[int(size_text)] = bytes.fromhex(root_hex)
    assert published
    leaves = [bytes.fromhex(h) for h in REFERENCE_LEAVES]
    for size, root in published.items():
        assert merkle.root_of(merkle.leaf_hash(e) for e in leaves[:size]) == root
        assert Tree(leaves[:size]).frontier.root() == root


entries_strategy = st.lists(st.binary(max_size=8), min_size=1, max_size=140)


@settings(max_examples=150, deadline=None)
@given(entries=entries_strategy, data=st.data())
def test_every_inclusion_proof_verifies_against_the_naive_root(
    entries: list[bytes], data: st.DataObject
) -> None:
    tree = Tree(entries)
    size = data.draw(st.integers(1, len(entries)), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    root = naive_root(entries[:size])
    assert merkle.root_at(size, tree.read) == root
    proof = merkle.inclusion_proof(index, size, tree.read)
    merkle.verify_inclusion(merkle.leaf_hash(entries[index]), index, size, proof, root)


@settings(max_examples=150, deadline=None)
@given(entries=entries_strategy, data=st.data())
def test_every_consistency_proof_verifies_against_the_naive_roots(
    entries: list[bytes], data: st.DataObject
) -> None:
    tree = Tree(entries)
    new = data.draw(st.integers(1, len(entries)), label="new")
    old = data.draw(st.integers(0, new), label="old")
    proof = merkle.consistency_proof(old, new, tree.read)
    if old == 0:
        assert proof == []
        return
    merkle.verify_consistency(old, new, naive_root(entries[:old]), naive_root(entries[:new]), proof)


def mutations(proof: list[bytes]) -> list[list[bytes]]:
    """Bit flips in every hash, one hash dropped, one hash added."""
    variants: list[list[bytes]] = []
    for i, digest in enumerate(proof):
        flipped = bytes([digest[0] ^ 0x01]) + digest[1:]
        variants.append([*proof[:i], flipped, *proof[i + 1 :]])
        variants.append(proof[:i] + proof[i + 1 :])
    variants.append([*proof, hashlib.sha256(b"extra").digest()])
    variants.append([hashlib.sha256(b"extra").digest(), *proof])
    return variants


@settings(max_examples=120, deadline=None)
@given(
    entries=st.lists(st.binary(max_size=4), min_size=2, max_size=70, unique=True), data=st.data()
)
def test_every_mutated_inclusion_proof_fails(entries: list[bytes], data: st.DataObject) -> None:
    tree = Tree(entries)
    size = len(entries)
    index = data.draw(st.integers(0, size - 1), label="index")
    root = tree.frontier.root()
    leaf = merkle.leaf_hash(entries[index])
    proof = merkle.inclusion_proof(index, size, tree.read)
    for variant in mutations(proof):
        with pytest.raises(VerificationFailed):
            merkle.verify_inclusion(leaf, index, size, variant, root)
    # A wrong size is not always caught by the path alone (index 0 of 3 and of 4 hash alike):
    # RFC 9162 binds the size through the signed checkpoint, so only the index is mutated here.
    for wrong_index in {index + 1, index - 1, index ^ 1} - {index}:
        if 0 <= wrong_index < size:
            with pytest.raises(VerificationFailed):
                merkle.verify_inclusion(leaf, wrong_index, size, proof, root)
    with pytest.raises(VerificationFailed):
        merkle.verify_inclusion(
            merkle.leaf_hash(b"other" + entries[index]), index, size, proof, root
        )


@settings(max_examples=120, deadline=None)
@given(
    entries=st.lists(st.binary(max_size=4), min_size=3, max_size=70, unique=True), data=st.data()
)
def test_every_mutated_consistency_proof_fails(entries: list[bytes], data: st.DataObject) -> None:
    tree = Tree(entries)
    new = len(entries)
    old = data.draw(st.integers(1, new - 1), label="old")
    old_root, new_root = naive_root(entries[:old]), naive_root(entries)
    proof = merkle.consistency_proof(old, new, tree.read)
    for variant in mutations(proof):
        with pytest.raises(VerificationFailed):
            merkle.verify_consistency(old, new, old_root, new_root, variant)
    # As with inclusion, the new size is bound by its signed checkpoint; the old one is mutated.
    for wrong_old in (old - 1, old + 1):
        if 0 < wrong_old < new:
            with pytest.raises(VerificationFailed):
                merkle.verify_consistency(wrong_old, new, old_root, new_root, proof)
    forked = naive_root([*entries[:old], b"forked", *entries[old + 1 :]])
    with pytest.raises(VerificationFailed):
        merkle.verify_consistency(old, new, old_root, forked, proof)


def test_a_proof_costs_logarithmic_reads_in_one_round_trip() -> None:
    tree = Tree([bytes([i % 256, i // 256]) for i in range(1000)])
    for index in (0, 1, 499, 998, 999):
        tree.reads.clear()
        merkle.inclusion_proof(index, 1000, tree.read)
        assert len(tree.reads) == 1
        assert tree.reads[0] <= 2 * 10
    tree.reads.clear()
    merkle.consistency_proof(333, 1000, tree.read)
    assert len(tree.reads) == 1
    assert tree.reads[0] <= 2 * 10


def test_verifiers_reject_hashes_that_are_not_32_bytes() -> None:
    good = hashlib.sha256(b"x").digest()
    with pytest.raises(VerificationFailed, match="32 bytes"):
        merkle.verify_inclusion(good[:31], 0, 1, [], good)
    with pytest.raises(VerificationFailed, match="32 bytes"):
        merkle.verify_consistency(1, 2, good, good, [good + b"\x00"])


def test_index_at_or_beyond_the_size_and_old_beyond_new_are_refused() -> None:
    good = hashlib.sha256(b"x").digest()
    with pytest.raises(VerificationFailed, match="outside"):
        merkle.verify_inclusion(good, 4, 4, [good, good], good)
    with pytest.raises(VerificationFailed, match="cannot be a prefix"):
        merkle.verify_consistency(5, 4, good, good, [])


def test_equal_sizes_need_equal_roots_and_an_empty_proof() -> None:
    a, b = hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()
    merkle.verify_consistency(3, 3, a, a, [])
    with pytest.raises(VerificationFailed, match="fork"):
        merkle.verify_consistency(3, 3, a, b, [])
    with pytest.raises(VerificationFailed, match="empty"):
        merkle.verify_consistency(3, 3, a, a, [a])


def test_a_missing_node_is_reported_with_the_entry_that_should_hold_it() -> None:
    tree = Tree([b"a", b"b", b"c", b"d"])
    del tree.nodes[(1, 1)]
    with pytest.raises(VerificationFailed) as failure:
        merkle.inclusion_proof(0, 4, tree.read)
    assert failure.value.index == 3


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 9, 100, 257, 1000])
def test_roots_equal_those_of_pymerkle_an_independent_implementation(size: int) -> None:
    pymerkle = pytest.importorskip("pymerkle", reason="pymerkle is a development dependency")
    oracle = pymerkle.InmemoryTree(algorithm="sha256")
    entries = [f"entry {i}".encode() for i in range(size)]
    for entry in entries:
        oracle.append_entry(entry)
    assert merkle.root_of(merkle.leaf_hash(e) for e in entries) == oracle.get_root()
    for old in {1, size // 2 or 1, size}:
        assert merkle.root_at(old, Tree(entries).read) == oracle.get_root(old)


def test_a_proof_whose_node_the_store_lacks_names_the_lowest_missing_node_and_its_entry() -> None:
    tree = Tree([b"entry %d" % n for n in range(13)])
    plan = merkle.inclusion_ranges(5, 13)
    needed = {node for start, end in plan for node in merkle.range_nodes(start, end)}
    lost = sorted(needed)[1:3]
    extra = {node: tree.nodes[node] for node in sorted(tree.nodes.keys() - needed)[:3]}

    def damaged(wanted: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        # Answers more than it was asked for, yet not everything it was asked for.
        found = {node: tree.nodes[node] for node in wanted if node not in lost}
        return {**found, **extra}

    with pytest.raises(VerificationFailed, match="missing node") as failed:
        merkle.inclusion_proof(5, 13, damaged)
    assert f"missing node {lost[0]}" in str(failed.value)
    assert failed.value.index == merkle.node_home(lost[0])[0]
