"""RFC 9162 Merkle tree hashing, proofs and their verification. Pure: no I/O.

A tree is read through a *node source*: a function ``node(level, index)``
returning the hash of the complete subtree of ``2**level`` leaves that starts
at leaf ``index * 2**level``. The store keeps exactly those nodes, so proofs
for a million-entry log need a few dozen lookups, never a rebuild.

>>> tree = MemoryTree()
>>> for data in (b"a", b"b", b"c"):
...     _ = tree.append(leaf_hash(data))
>>> root = tree.root()
>>> proof = inclusion_proof(2, 3, tree.node)
>>> verify_inclusion(2, 3, leaf_hash(b"c"), proof, root)
True
>>> verify_inclusion(1, 3, leaf_hash(b"c"), proof, root)
False
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryTree",
    "NodeSource",
    "append_nodes",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_nodes",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: ``node(level, index)``: the hash of a complete, aligned subtree.
NodeSource = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 ‖ data).

    >>> leaf_hash(b"").hex()[:16]
    '6e340b9cffb37a98'
    """
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(start: int, end: int, node: NodeSource) -> bytes:
    """MTH(D[start:end]) for a subtree as RFC 9162 forms them.

    ``start`` must be a multiple of the smallest power of two that is at least
    ``end - start``: true of every subtree a proof or a root refers to. The range
    splits into complete subtrees, largest first, which fold from the right.
    """
    if end <= start:
        raise ValueError(f"empty range [{start}, {end})")
    parts = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start % (1 << level):
            level -= 1
        parts.append(node(level, start >> level))
        start += 1 << level
    value = parts.pop()
    while parts:
        value = node_hash(parts.pop(), value)
    return value


def root_from_nodes(size: int, node: NodeSource) -> bytes:
    """The root of the first ``size`` leaves."""
    return subtree_hash(0, size, node) if size else EMPTY_ROOT


def inclusion_proof(index: int, size: int, node: NodeSource) -> list[bytes]:
    """RFC 9162 PATH(index, D[0:size]): siblings from the leaf up to the root."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(subtree_hash(lo + k, hi, node))
            hi = lo + k
        else:
            path.append(subtree_hash(lo, lo + k, node))
            lo += k
    path.reverse()
    return path


def consistency_proof(old: int, new: int, node: NodeSource) -> list[bytes]:
    """RFC 9162 PROOF(old, D[0:new]); empty when ``old`` is 0 or equals ``new``."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    if old in (0, new):
        return []
    proof: list[bytes] = []
    lo, hi, m, whole = 0, new, old, True
    while True:
        if m == hi - lo:
            if not whole:
                proof.append(subtree_hash(lo, hi, node))
            break
        k = _split(hi - lo)
        if m <= k:
            proof.append(subtree_hash(lo + k, hi, node))
            hi = lo + k
        else:
            proof.append(subtree_hash(lo, lo + k, node))
            lo, m, whole = lo + k, m - k, False
    proof.reverse()
    return proof


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` place ``leaf`` at ``index`` under ``root``?"""
    if not 0 <= index < size or len(leaf) != HASH_SIZE:
        return False
    fn, sn = index, size - 1
    value = leaf
    for sibling in proof:
        if sn == 0 or len(sibling) != HASH_SIZE:
            return False
        if fn & 1 or fn == sn:
            value = node_hash(sibling, value)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            value = node_hash(value, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and value == root


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree of ``new_root`` an extension of ``old_root``'s?

    An empty old tree is consistent with everything (with an empty proof); equal
    sizes need equal roots and an empty proof.
    """
    if not 0 <= old <= new or any(len(h) != HASH_SIZE for h in proof):
        return False
    if old == 0:
        return not proof
    if old == new:
        return not proof and old_root == new_root
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def append_nodes(
    size: int, leaves: Sequence[bytes], node: NodeSource
) -> list[tuple[int, int, bytes]]:
    """The nodes that appending ``leaves`` to a tree of ``size`` completes.

    Returned as ``(level, index, hash)``, leaves included, in the order they are
    completed; ``node`` is read only for left siblings already in the tree.
    """
    made: dict[tuple[int, int], bytes] = {}
    out: list[tuple[int, int, bytes]] = []
    for offset, value in enumerate(leaves):
        index, level = size + offset, 0
        made[(0, index)] = value
        out.append((0, index, value))
        while index & 1:
            left = made.get((level, index - 1))
            value = node_hash(left if left is not None else node(level, index - 1), value)
            level, index = level + 1, index >> 1
            made[(level, index)] = value
            out.append((level, index, value))
    return out


class MemoryTree:
    """A whole tree kept in lists, one per level: for tests, audits and benchmarks."""

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, leaf: bytes) -> int:
        """Add a leaf hash; returns its index."""
        index = self.size
        for level, _, value in append_nodes(index, [leaf], self.node):
            if level == len(self._levels):
                self._levels.append([])
            self._levels[level].append(value)
        return index

    def node(self, level: int, index: int) -> bytes:
        return self._levels[level][index]

    def level(self, level: int) -> list[bytes]:
        """Every complete node at ``level``, left to right."""
        return self._levels[level] if level < len(self._levels) else []

    def root(self, size: int | None = None) -> bytes:
        return root_from_nodes(self.size if size is None else size, self.node)
