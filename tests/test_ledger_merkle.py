"""RFC 9162 Merkle hashing and proofs: published vectors, edge cases, properties.

The vectors come from transparency-dev/merkle, the CT C++ implementation and
RFC 6962 §2.1.3; they are kept in ``tests/data/tlog-vectors.json``, which names
each source. The property tests draw prefixes of one 10,000-leaf tree, and
compare roots, subtrees, proofs and appended nodes with an oracle written here
straight from the RFC definitions.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from deconflict.ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MemoryTree,
    append_nodes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_nodes,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS_PATH = Path(__file__).resolve().parent / "data" / "tlog-vectors.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
KATS: dict[str, Any] = VECTORS["hashing"]["kats"]
TREE8: dict[str, Any] = VECTORS["tree8"]
RFC_EXAMPLE: dict[str, Any] = TREE8["rfc6962_s2_1_3_example_7_leaves"]


def props(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def flip(value: bytes, bit: int) -> bytes:
    """``value`` with bit ``bit`` (0 = the low bit of the first byte) inverted."""
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def tree_of(leaf_hashes: list[bytes]) -> MemoryTree:
    tree = MemoryTree()
    for value in leaf_hashes:
        tree.append(value)
    return tree


TREE8_LEAVES = [h(x) for x in TREE8["leaf_hashes_hex"]]
TREE8_TREE = tree_of(TREE8_LEAVES)


# --- The RFC 9162 oracle: recursive definitions over leaf data, hashlib only. ----------------

N = 10_000
_rng = random.Random(9162)
DATA: list[bytes] = [_rng.randbytes(_rng.randrange(0, 48)) for _ in range(N)]


def oracle_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def oracle_split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@functools.cache
def mth(lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) of RFC 9162 §2.1.1 (memoised on the range)."""
    n = hi - lo
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return oracle_leaf(DATA[lo])
    k = oracle_split(n)
    return hashlib.sha256(b"\x01" + mth(lo, lo + k) + mth(lo + k, hi)).digest()


def oracle_path(m: int, lo: int, hi: int) -> list[bytes]:
    """PATH(m, D[lo:hi]) of RFC 9162 §2.1.3.1, ``m`` relative to ``lo``."""
    n = hi - lo
    if n == 1:
        return []
    k = oracle_split(n)
    if m < k:
        return [*oracle_path(m, lo, lo + k), mth(lo + k, hi)]
    return [*oracle_path(m - k, lo + k, hi), mth(lo, lo + k)]


def oracle_subproof(m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[lo:hi], b) of RFC 9162 §2.1.4.1."""
    n = hi - lo
    if m == n:
        return [] if whole else [mth(lo, hi)]
    k = oracle_split(n)
    if m <= k:
        return [*oracle_subproof(m, lo, lo + k, whole), mth(lo + k, hi)]
    return [*oracle_subproof(m - k, lo + k, hi, False), mth(lo, lo + k)]


def oracle_proof(m: int, n: int) -> list[bytes]:
    """PROOF(m, D[0:n]) of RFC 9162 §2.1.4.1 (defined for 0 < m < n)."""
    return oracle_subproof(m, 0, n, True)


LEAVES: list[bytes] = [oracle_leaf(d) for d in DATA]
TREE = tree_of(LEAVES)


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, N))
    return draw(st.integers(0, size - 1)), size


@st.composite
def sizes_m_le_n(draw: st.DrawFn, min_m: int = 0) -> tuple[int, int]:
    n = draw(st.integers(max(1, min_m), N))
    return draw(st.integers(min_m, n)), n


@st.composite
def aligned_range(draw: st.DrawFn) -> tuple[int, int]:
    """A range a proof or a root can refer to: start aligned to the width's power of two."""
    width = draw(st.integers(1, N))
    span = 1 << (width - 1).bit_length()
    start = span * draw(st.integers(0, (N - width) // span))
    return start, start + width


# --- Known answers. ---------------------------------------------------------------------------


def test_empty_root_kat() -> None:
    assert h(KATS["empty_root"]["input_hex"]) == b""
    assert h(KATS["empty_root"]["hash_hex"]) == EMPTY_ROOT
    assert MemoryTree().root() == EMPTY_ROOT
    assert root_from_nodes(0, TREE8_TREE.node) == EMPTY_ROOT


@pytest.mark.parametrize("name", ["leaf_empty", "leaf_L123456"])
def test_leaf_hash_kats(name: str) -> None:
    assert leaf_hash(h(KATS[name]["input_hex"])) == h(KATS[name]["hash_hex"])


def test_node_hash_kat() -> None:
    left, right = (h(x) for x in KATS["node_N123_N456"]["input_hex"])
    assert (left, right) == (b"N123", b"N456")
    assert node_hash(left, right) == h(KATS["node_N123_N456"]["hash_hex"])


def test_tree8_leaf_hashes() -> None:
    inputs = [h(x) for x in TREE8["leaf_inputs_hex"]]
    assert [leaf_hash(x) for x in inputs] == TREE8_LEAVES
    assert TREE8_TREE.size == 8
    assert TREE8_TREE.level(0) == TREE8_LEAVES


@pytest.mark.parametrize("size", range(9))
def test_tree8_roots_by_size(size: int) -> None:
    expected = h(TREE8["roots_by_size_hex"][str(size)])
    assert TREE8_TREE.root(size) == expected
    # A tree holding exactly ``size`` leaves agrees with the prefix of the larger one.
    assert tree_of(TREE8_LEAVES[:size]).root() == expected


def test_tree8_default_root_is_the_whole_tree() -> None:
    assert TREE8_TREE.root() == h(TREE8["roots_by_size_hex"]["8"])


def test_tree8_complete_subtree_hashes_by_level() -> None:
    levels = [[h(x) for x in level] for level in TREE8["complete_subtree_hashes_by_level_hex"]]
    assert len(levels) == 4
    for level, expected in enumerate(levels):
        assert TREE8_TREE.level(level) == expected
        for index, value in enumerate(expected):
            assert TREE8_TREE.node(level, index) == value
    assert TREE8_TREE.level(len(levels)) == []


@pytest.mark.parametrize(
    "case",
    TREE8["inclusion_proofs"],
    ids=lambda c: f"leaf{c['leaf_index']}-size{c['tree_size']}",
)
def test_inclusion_proof_vectors(case: dict[str, Any]) -> None:
    index, size = case["leaf_index"], case["tree_size"]
    leaf, root = h(case["leaf_hash_hex"]), h(case["root_hex"])
    expected = [h(x) for x in case["proof_hex"]]
    assert leaf_hash(h(case["leaf_input_hex"])) == leaf
    assert TREE8_TREE.root(size) == root
    assert inclusion_proof(index, size, TREE8_TREE.node) == expected
    assert verify_inclusion(index, size, leaf, expected, root) is True


@pytest.mark.parametrize(
    "case",
    TREE8["consistency_proofs"],
    ids=lambda c: f"{c['size1']}to{c['size2']}",
)
def test_consistency_proof_vectors(case: dict[str, Any]) -> None:
    old, new = case["size1"], case["size2"]
    old_root, new_root = h(case["root1_hex"]), h(case["root2_hex"])
    expected = [h(x) for x in case["proof_hex"]]
    assert TREE8_TREE.root(old) == old_root
    assert TREE8_TREE.root(new) == new_root
    assert consistency_proof(old, new, TREE8_TREE.node) == expected
    assert verify_consistency(old, new, old_root, new_root, expected) is True


def _labels(names: list[str]) -> list[bytes]:
    return [h(RFC_EXAMPLE["labels_hex"][name]) for name in names]


def test_rfc6962_example_labels_are_the_seven_leaf_tree() -> None:
    tree7 = tree_of(TREE8_LEAVES[:7])
    assert tree7.root() == h(RFC_EXAMPLE["labels_hex"]["hash"])
    # a..f are the leaves d0..d5 (j is d6); g, h, i are their pairs; k is the first four.
    assert _labels(list("abcdef")) == TREE8_LEAVES[:6]
    assert _labels(["j"]) == TREE8_LEAVES[6:7]
    assert _labels(list("ghi")) == tree7.level(1)
    assert _labels(["k"]) == tree7.level(2)
    assert _labels(["l"]) == [subtree_hash(4, 7, tree7.node)]


@pytest.mark.parametrize("index", [0, 3, 4, 6])
def test_rfc6962_example_audit_paths(index: int) -> None:
    tree7 = tree_of(TREE8_LEAVES[:7])
    expected = _labels(RFC_EXAMPLE[f"audit_path_d{index}"])
    assert inclusion_proof(index, 7, tree7.node) == expected
    assert verify_inclusion(index, 7, TREE8_LEAVES[index], expected, tree7.root()) is True


@pytest.mark.parametrize("old", [3, 4, 6])
def test_rfc6962_example_consistency_proofs(old: int) -> None:
    tree7 = tree_of(TREE8_LEAVES[:7])
    expected = _labels(RFC_EXAMPLE[f"PROOF({old},D7)"])
    assert consistency_proof(old, 7, tree7.node) == expected
    assert verify_consistency(old, 7, tree7.root(old), tree7.root(), expected) is True


# --- Edge semantics (edge_case_semantics in the vectors). -------------------------------------

ROOT8 = TREE8_TREE.root(8)
ROOT5 = TREE8_TREE.root(5)


@pytest.mark.parametrize("new", [0, 1, 5, 8])
def test_consistency_from_the_empty_tree_needs_an_empty_proof(new: int) -> None:
    new_root = TREE8_TREE.root(new)
    assert consistency_proof(0, new, TREE8_TREE.node) == []
    assert verify_consistency(0, new, EMPTY_ROOT, new_root, []) is True
    assert verify_consistency(0, new, EMPTY_ROOT, new_root, [TREE8_LEAVES[0]]) is False


@pytest.mark.parametrize("size", [1, 5, 8])
def test_consistency_between_equal_sizes_needs_equal_roots_and_no_proof(size: int) -> None:
    root = TREE8_TREE.root(size)
    assert consistency_proof(size, size, TREE8_TREE.node) == []
    assert verify_consistency(size, size, root, root, []) is True
    assert verify_consistency(size, size, root, flip(root, 0), []) is False
    assert verify_consistency(size, size, flip(root, 255), root, []) is False
    assert verify_consistency(size, size, root, root, [root]) is False


def test_consistency_to_a_smaller_tree_fails() -> None:
    proof = consistency_proof(5, 8, TREE8_TREE.node)
    assert verify_consistency(8, 5, ROOT8, ROOT5, proof) is False
    assert verify_consistency(8, 5, ROOT8, ROOT5, []) is False
    assert verify_consistency(-1, 5, EMPTY_ROOT, ROOT5, []) is False
    with pytest.raises(ValueError):
        consistency_proof(8, 5, TREE8_TREE.node)
    with pytest.raises(ValueError):
        consistency_proof(-1, 5, TREE8_TREE.node)


def test_consistency_rejects_hashes_of_the_wrong_length() -> None:
    proof = consistency_proof(5, 8, TREE8_TREE.node)
    assert verify_consistency(5, 8, ROOT5, ROOT8, proof) is True
    assert verify_consistency(5, 8, ROOT5, ROOT8, [*proof[:-1], proof[-1] + b"\x00"]) is False
    assert verify_consistency(5, 8, ROOT5, ROOT8, [proof[0][:31], *proof[1:]]) is False


@pytest.mark.parametrize(("old", "new"), [(2, 8), (1, 8), (3, 8), (2, 5)])
def test_consistency_proof_for_a_subtree_does_not_prove_a_larger_size(old: int, new: int) -> None:
    # PROOF(old, D[0:4]) leads from root(old) to root(4); a larger tree needs more hashes.
    proof = consistency_proof(old, 4, TREE8_TREE.node)
    old_root, root4 = TREE8_TREE.root(old), TREE8_TREE.root(4)
    assert verify_consistency(old, 4, old_root, root4, proof) is True
    assert verify_consistency(old, new, old_root, root4, proof) is False


def test_consistency_to_a_larger_tree_needs_a_proof() -> None:
    # An old tree that is a power of two starts the path with its own root: still not enough.
    assert verify_consistency(4, 8, TREE8_TREE.root(4), ROOT8, []) is False
    assert verify_consistency(5, 8, ROOT5, ROOT8, []) is False


@pytest.mark.parametrize("index", [8, 9, 100, -1])
def test_inclusion_index_outside_the_tree_fails(index: int) -> None:
    proof = inclusion_proof(7, 8, TREE8_TREE.node)
    assert verify_inclusion(index, 8, TREE8_LEAVES[7], proof, ROOT8) is False
    with pytest.raises(ValueError):
        inclusion_proof(index, 8, TREE8_TREE.node)


def test_inclusion_in_an_empty_tree_fails() -> None:
    assert verify_inclusion(0, 0, TREE8_LEAVES[0], [], EMPTY_ROOT) is False
    with pytest.raises(ValueError):
        inclusion_proof(0, 0, TREE8_TREE.node)


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_inclusion_leaf_hash_must_be_32_bytes(length: int) -> None:
    leaf = TREE8_LEAVES[3]
    proof = inclusion_proof(3, 8, TREE8_TREE.node)
    assert verify_inclusion(3, 8, leaf, proof, ROOT8) is True
    wrong = (leaf * 2)[:length]
    assert verify_inclusion(3, 8, wrong, proof, ROOT8) is False


def test_inclusion_length_check_is_not_just_a_mismatch() -> None:
    # In a one-leaf tree the root is the leaf: a value of any other length is still refused.
    for value in (b"", b"x" * 31, b"x" * 33):
        assert verify_inclusion(0, 1, value, [], value) is False
    assert verify_inclusion(0, 1, b"x" * 32, [], b"x" * 32) is True


@pytest.mark.parametrize("index", range(4))
def test_inclusion_proof_for_a_subtree_does_not_prove_a_larger_size(index: int) -> None:
    # The path up to the first four leaves reaches root(4), but a tree of 8 needs one more hash.
    proof = inclusion_proof(index, 4, TREE8_TREE.node)
    root4 = TREE8_TREE.root(4)
    assert verify_inclusion(index, 4, TREE8_LEAVES[index], proof, root4) is True
    assert verify_inclusion(index, 8, TREE8_LEAVES[index], proof, root4) is False
    assert verify_inclusion(index, 5, TREE8_LEAVES[index], proof, root4) is False


def test_inclusion_of_the_leaf_data_instead_of_its_hash_fails() -> None:
    # A 32-byte leaf input has the right length, but it is not the leaf hash.
    proof = inclusion_proof(0, 1, TREE8_TREE.node)
    data = bytes(32)
    assert verify_inclusion(0, 1, leaf_hash(data), proof, leaf_hash(data)) is True
    assert verify_inclusion(0, 1, data, proof, leaf_hash(data)) is False


def test_inclusion_rejects_proof_hashes_of_the_wrong_length() -> None:
    proof = inclusion_proof(5, 8, TREE8_TREE.node)
    assert verify_inclusion(5, 8, TREE8_LEAVES[5], [*proof[:2], proof[2][:31]], ROOT8) is False
    assert verify_inclusion(5, 8, TREE8_LEAVES[5], [proof[0] + b"\x00", *proof[1:]], ROOT8) is False


def test_subtree_hash_of_an_empty_range_is_refused() -> None:
    with pytest.raises(ValueError):
        subtree_hash(3, 3, TREE8_TREE.node)


# --- Properties over prefixes of one 10,000-leaf tree. ----------------------------------------


def test_the_property_tree_is_the_oracle_tree() -> None:
    assert TREE.size == N
    assert TREE.root() == mth(0, N)
    assert [leaf_hash(d) for d in DATA[:64]] == LEAVES[:64]


@props(300)
@given(index_and_size())
def test_inclusion_proofs_match_the_rfc_and_verify(case: tuple[int, int]) -> None:
    index, size = case
    proof = inclusion_proof(index, size, TREE.node)
    assert proof == oracle_path(index, 0, size)
    assert verify_inclusion(index, size, LEAVES[index], proof, TREE.root(size)) is True


@props(300)
@given(sizes_m_le_n())
def test_consistency_proofs_match_the_rfc_and_verify(case: tuple[int, int]) -> None:
    m, n = case
    proof = consistency_proof(m, n, TREE.node)
    assert proof == (oracle_proof(m, n) if 0 < m < n else [])
    assert verify_consistency(m, n, TREE.root(m), TREE.root(n), proof) is True


@props(400)
@given(index_and_size(), st.sampled_from(["proof", "root", "leaf"]), st.data())
def test_inclusion_fails_with_any_bit_flipped(
    case: tuple[int, int], target: str, data: st.DataObject
) -> None:
    index, size = case
    leaf, root = LEAVES[index], TREE.root(size)
    proof = inclusion_proof(index, size, TREE.node)
    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="bit")
    if target == "proof":
        assume(proof)
        which = data.draw(st.integers(0, len(proof) - 1), label="which")
        proof[which] = flip(proof[which], bit)
    elif target == "root":
        root = flip(root, bit)
    else:
        leaf = flip(leaf, bit)
    assert verify_inclusion(index, size, leaf, proof, root) is False


@props(400)
@given(sizes_m_le_n(min_m=1), st.sampled_from(["proof", "old_root", "new_root"]), st.data())
def test_consistency_fails_with_any_bit_flipped(
    case: tuple[int, int], target: str, data: st.DataObject
) -> None:
    m, n = case
    old_root, new_root = TREE.root(m), TREE.root(n)
    proof = consistency_proof(m, n, TREE.node)
    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="bit")
    if target == "proof":
        assume(proof)
        which = data.draw(st.integers(0, len(proof) - 1), label="which")
        proof[which] = flip(proof[which], bit)
    elif target == "old_root":
        old_root = flip(old_root, bit)
    else:
        new_root = flip(new_root, bit)
    assert verify_consistency(m, n, old_root, new_root, proof) is False


@props(300)
@given(index_and_size(), st.booleans(), st.data())
def test_inclusion_fails_with_a_hash_dropped_or_appended(
    case: tuple[int, int], drop: bool, data: st.DataObject
) -> None:
    index, size = case
    proof = inclusion_proof(index, size, TREE.node)
    if drop:
        assume(proof)
        del proof[data.draw(st.integers(0, len(proof) - 1), label="dropped")]
    else:
        proof.append(LEAVES[data.draw(st.integers(0, N - 1), label="appended")])
    assert verify_inclusion(index, size, LEAVES[index], proof, TREE.root(size)) is False


@props(300)
@given(sizes_m_le_n(), st.booleans(), st.data())
def test_consistency_fails_with_a_hash_dropped_or_appended(
    case: tuple[int, int], drop: bool, data: st.DataObject
) -> None:
    m, n = case
    proof = consistency_proof(m, n, TREE.node)
    if drop:
        assume(proof)
        del proof[data.draw(st.integers(0, len(proof) - 1), label="dropped")]
    else:
        proof.append(LEAVES[data.draw(st.integers(0, N - 1), label="appended")])
    assert verify_consistency(m, n, TREE.root(m), TREE.root(n), proof) is False


@props(300)
@given(index_and_size(), st.data())
def test_inclusion_fails_at_a_wrong_index(case: tuple[int, int], data: st.DataObject) -> None:
    index, size = case
    assume(size > 1)
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="other")
    proof = inclusion_proof(index, size, TREE.node)
    assume(inclusion_proof(other, size, TREE.node) != proof)
    assert verify_inclusion(other, size, LEAVES[index], proof, TREE.root(size)) is False


@props(300)
@given(index_and_size(), st.data())
def test_inclusion_proof_too_short_for_the_claimed_size_fails(
    case: tuple[int, int], data: st.DataObject
) -> None:
    index, size = case
    proof = inclusion_proof(index, size, TREE.node)
    larger = data.draw(st.integers(size + 1, N), label="larger") if size < N else N
    assume(len(inclusion_proof(index, larger, TREE.node)) > len(proof))
    # The proof still reaches root(size); it must not pass as a proof for ``larger``.
    assert verify_inclusion(index, larger, LEAVES[index], proof, TREE.root(size)) is False


@props(300)
@given(sizes_m_le_n(min_m=1), st.data())
def test_consistency_proof_too_short_for_the_claimed_size_fails(
    case: tuple[int, int], data: st.DataObject
) -> None:
    m, n = case
    assume(m < n < N)
    proof = consistency_proof(m, n, TREE.node)
    larger = data.draw(st.integers(n + 1, N), label="larger")
    assume(len(consistency_proof(m, larger, TREE.node)) > len(proof))
    # The proof still leads from root(m) to root(n); it must not pass for ``larger``.
    assert verify_consistency(m, larger, TREE.root(m), TREE.root(n), proof) is False


@props(200)
@given(st.integers(0, N))
def test_root_from_nodes_is_the_rfc_mth(size: int) -> None:
    assert root_from_nodes(size, TREE.node) == mth(0, size)
    assert TREE.root(size) == mth(0, size)


@props(200)
@given(aligned_range())
def test_subtree_hash_is_the_rfc_mth(bounds: tuple[int, int]) -> None:
    start, end = bounds
    assert subtree_hash(start, end, TREE.node) == mth(start, end)


@props(200)
@given(st.integers(0, 13), st.data())
def test_stored_nodes_are_the_rfc_complete_subtrees(level: int, data: st.DataObject) -> None:
    count = N >> level
    assert len(TREE.level(level)) == count
    index = data.draw(st.integers(0, count - 1), label="index")
    assert TREE.node(level, index) == mth(index << level, (index + 1) << level)


@props(200)
@given(st.integers(0, N - 1), st.data())
def test_append_nodes_completes_exactly_the_rfc_subtrees(size: int, data: st.DataObject) -> None:
    count = data.draw(st.integers(1, min(70, N - size)), label="count")
    end = size + count
    reads: list[tuple[int, int]] = []

    def node(level: int, index: int) -> bytes:
        reads.append((level, index))
        return TREE.node(level, index)

    made = append_nodes(size, LEAVES[size:end], node)

    # Only left siblings already in the tree of ``size`` leaves are read.
    assert all((index + 1) << level <= size for level, index in reads)
    # Every complete subtree that ends in the appended range, and no other.
    expected = {
        (level, index)
        for level in range(end.bit_length())
        for index in range(size >> level, end >> level)
        if (index + 1) << level > size
    }
    assert [(level, index) for level, index, _ in made] == sorted(
        expected, key=lambda li: ((li[1] + 1) << li[0], li[0])
    )
    for level, index, value in made:
        assert value == mth(index << level, (index + 1) << level)
