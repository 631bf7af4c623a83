"""The Merkle tree of RFC 9162 §2.1: hashes, proofs, and their hardened verification.

A node is named by `(level, index)`: the perfect subtree of `2**level` leaves that starts at leaf
`index * 2**level`. Level 0 is a leaf hash. Every hash the tree is made of is one such node, or a
fold of the nodes on its right edge, so a proof is planned as a list of leaf ranges, the ranges
are decomposed into nodes, the nodes are fetched in one read, and the proof is assembled. That
keeps every proof at O(log n) node reads from any store.

Storage layout used by the stores: each entry carries the hashes it completes. Appending leaf `i`
completes its leaf hash and one interior node per trailing 1-bit of `i`; those hashes, lowest
level first, are stored with entry `i` (`node_home` says where any node lives).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from armory.errors import InvalidInput, VerificationFailed

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 9162 §2.1.1: MTH({}) = SHA-256()

NodeId = tuple[int, int]
NodeReader = Callable[[Sequence[NodeId]], Mapping[NodeId, bytes]]
Range = tuple[int, int]

_sha256 = hashlib.sha256


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1: the hash of a leaf is SHA-256(0x00 || entry)."""
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: the hash of an interior node is SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than n (RFC 9162 §2.1.1's k), for n > 1."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Iterable[bytes]) -> bytes:
    """The Merkle Tree Hash of a sequence of leaf hashes, in one pass and O(log n) memory."""
    frontier = Frontier()
    for leaf in leaf_hashes:
        frontier.append(leaf)
    return frontier.root()


def node_home(node: NodeId) -> tuple[int, int]:
    """Where a node is stored: (the entry index that completes it, its slot in that entry)."""
    level, index = node
    return ((index + 1) << level) - 1, level


def range_nodes(start: int, end: int) -> list[NodeId]:
    """The perfect subtrees, largest first, whose fold is the hash of leaves [start, end).

    Only ranges produced by the RFC 9162 recursion are valid here: `start` is then a multiple of
    the largest perfect subtree in the range.
    """
    nodes: list[NodeId] = []
    position = start
    remaining = end - start
    while remaining:
        level = remaining.bit_length() - 1
        nodes.append((level, position >> level))
        position += 1 << level
        remaining -= 1 << level
    return nodes


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """Fold right-edge subtree hashes (largest first) into the hash of the range they cover."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) as leaf ranges, the leaf's sibling first."""
    _check_index(index, size)
    path: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index - start < k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start += k
    path.reverse()
    return path


def consistency_ranges(old: int, new: int) -> list[Range]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n]) as leaf ranges, deepest first; empty when m is 0 or n."""
    _check_sizes(old, new)
    if old in (0, new):
        return []
    path: list[Range] = []
    start, end = 0, new
    covers_old_root = True  # SUBPROOF's b: the old tree is exactly this subtree's left edge
    while old - start != end - start:
        k = split_point(end - start)
        if old - start <= k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start += k
            covers_old_root = False
    if not covers_old_root:
        path.append((start, end))
    path.reverse()
    return path


def read_ranges(ranges: Sequence[Range], read: NodeReader) -> list[bytes]:
    """The hashes of leaf ranges, fetching every node they need in one read."""
    # All but at most one range of a proof is a perfect subtree, one node: planned here as
    # that node, which needs neither the general decomposition nor a fold (a warm proof is
    # mostly this bookkeeping: 25 µs instead of 33 µs when every node is cached).
    plans: list[NodeId | list[NodeId]] = []
    wanted: set[NodeId] = set()
    for start, end in ranges:
        width = end - start
        if width and not width & (width - 1):
            level = width.bit_length() - 1
            node = (level, start >> level)
            plans.append(node)
            wanted.add(node)
        else:
            nodes = range_nodes(start, end)
            plans.append(nodes)
            wanted.update(nodes)
    found = read(list(wanted))
    if not found.keys() >= wanted:
        missing = min(node for node in wanted if node not in found)
        raise VerificationFailed(
            f"the tree is missing node {missing}: run `armory verify --book` to find the damage",
            index=node_home(missing)[0],
        )
    return [
        found[plan] if isinstance(plan, tuple) else fold_right([found[node] for node in plan])
        for plan in plans
    ]


def inclusion_proof(index: int, size: int, read: NodeReader) -> list[bytes]:
    """The inclusion proof of leaf `index` in the tree of `size` leaves."""
    return read_ranges(inclusion_ranges(index, size), read)


def consistency_proof(old: int, new: int, read: NodeReader) -> list[bytes]:
    """The consistency proof between the trees of `old` and `new` leaves."""
    return read_ranges(consistency_ranges(old, new), read)


def root_at(size: int, read: NodeReader) -> bytes:
    """The root of the tree of `size` leaves, from its O(log n) right-edge nodes."""
    if size == 0:
        return EMPTY_ROOT
    return read_ranges([(0, size)], read)[0]


@dataclass
class Frontier:
    """The right edge of a tree: one perfect-subtree hash per set bit of its size, largest first.

    Appending a leaf returns every hash that leaf completes (its leaf hash, then the interior
    nodes it closes, lowest level first): exactly what a store persists with the entry.
    """

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    @classmethod
    def load(cls, size: int, read: NodeReader) -> Frontier:
        """The frontier of the tree of `size` leaves, read from a store."""
        nodes = range_nodes(0, size)
        found = read(nodes)
        try:
            return cls(size, [found[node] for node in nodes])
        except KeyError as missing:
            raise VerificationFailed(
                f"the tree is missing node {missing.args[0]}: run `armory verify --book`"
            ) from None

    def copy(self) -> Frontier:
        return Frontier(self.size, list(self.hashes))

    def append(self, leaf: bytes) -> bytes:
        """Add a leaf hash; return the hashes it completes, lowest level first, concatenated."""
        return self.extend([leaf])[0]

    def extend(self, leaves: Iterable[bytes]) -> list[bytes]:
        """Add leaf hashes in order; for each, the hashes it completes (see `append`).

        Leaf `i` closes one interior node per trailing 1-bit of `i`, each the hash of the
        right-edge subtree to its left and the node just made (RFC 9162 §2.1.1).
        """
        sha256 = _sha256  # bound locally: this loop runs a million times in a bulk append
        edge = self.hashes
        pop = edge.pop
        push = edge.append
        position = self.size
        completed: list[bytes] = []
        keep = completed.append
        for leaf in leaves:
            node = done = leaf
            closing = position
            while closing & 1:
                node = sha256(b"\x01" + pop() + node).digest()
                done += node
                closing >>= 1
            push(node)
            keep(done)
            position += 1
        self.size = position
        return completed

    def root(self) -> bytes:
        """The Merkle Tree Hash of every leaf appended so far."""
        if not self.hashes:
            return EMPTY_ROOT
        return fold_right(self.hashes)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2: raise VerificationFailed unless `proof` puts `leaf` at `index`."""
    _require_hashes(leaf, root, *proof)
    if not 0 <= index < size:
        raise VerificationFailed(f"index {index} is outside a tree of {size} entries")
    expected = len(inclusion_ranges(index, size))
    if len(proof) != expected:
        raise VerificationFailed(
            f"an inclusion proof for index {index} in a tree of {size} has {expected} hashes, "
            f"not {len(proof)}"
        )
    fn, sn = index, size - 1
    result = leaf
    for sibling in proof:
        if sn == 0:
            raise VerificationFailed("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0 or result != root:
        raise VerificationFailed(
            f"entry {index} is not included in the tree of {size} with that root", index=index
        )


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: raise VerificationFailed unless the old tree is a prefix of the new."""
    if _settled_without_hashing(old, new, old_root, new_root, proof):
        return
    _require_hashes(old_root, new_root, *proof)
    expected = len(consistency_ranges(old, new))
    if len(proof) != expected:
        raise VerificationFailed(
            f"a consistency proof from {old} to {new} has {expected} hashes, not {len(proof)}"
        )
    path = list(proof)
    if old & (old - 1) == 0:  # old is a power of two: its root is the first node of the path
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            raise VerificationFailed("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise VerificationFailed(
            f"the tree of {new} entries is not an extension of the tree of {old}: "
            "its history was rewritten"
        )


def _settled_without_hashing(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """The cases of a consistency check decided before any hashing: true when they pass."""
    if old < 0 or new < 0:
        raise VerificationFailed("tree sizes cannot be negative")
    if old > new:
        raise VerificationFailed(f"a tree of {old} entries cannot be a prefix of one of {new}")
    if old == 0:
        # Every tree extends the empty one, so such a proof would prove nothing; a caller that
        # holds an empty checkpoint has nothing to compare (RFC 9162 §2.1.4 defines 0 < m < n).
        raise VerificationFailed("consistency with the empty tree proves nothing: nothing to check")
    if old == new:
        # Nothing is hashed here: the two roots are compared as they are (as the public
        # vectors require, whatever their length).
        if proof:
            raise VerificationFailed("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise VerificationFailed(f"two different roots for the same size {old}: a fork")
        return True
    return False


def _require_hashes(*hashes: bytes) -> None:
    for value in hashes:
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            raise VerificationFailed("every hash must be exactly 32 bytes")


def _check_index(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise InvalidInput(f"index {index} is outside a tree of {size} entries")


def _check_sizes(old: int, new: int) -> None:
    if not 0 <= old <= new:
        raise InvalidInput(f"cannot prove consistency from size {old} to size {new}")
