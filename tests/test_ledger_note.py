"""C2SP signed notes, checkpoints, cosignatures and tlog-proofs: vectors, rejections, properties.

The signed-note vectors are the C2SP spec's example and golang.org/x/mod/sumdb/note's
PeterNeumann key; the signed checkpoint and tlog-proof were derived with the same
(deterministic) Ed25519 seed and cross-checked with the Go implementation. They are
kept in ``tests/data/tlog-vectors.json``, which names each source.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.errors import InvalidValue
from deconflict.ledger.merkle import MemoryTree, inclusion_proof, leaf_hash, verify_inclusion
from deconflict.ledger.note import (
    COSIGNATURE,
    NOTE,
    Checkpoint,
    Cosigner,
    Signer,
    TlogProof,
    Verifier,
    cosigned_message,
    format_checkpoint,
    format_proof,
    open_note,
    parse_checkpoint,
    parse_proof,
    split_note,
    verify_cosignature,
)

VECTORS_PATH = Path(__file__).resolve().parent / "data" / "tlog-vectors.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
NOTES: list[dict[str, Any]] = VECTORS["signed_notes"]
DERIVED: dict[str, Any] = VECTORS["derived_signed_checkpoint"]
TREE8: dict[str, Any] = VECTORS["tree8"]
PETER = next(v for v in NOTES if v["private_key"] is not None)

BODY: str = DERIVED["checkpoint_body"]
SIGNED: str = DERIVED["signed_checkpoint"]
LOG_SIGNER = Signer.parse(DERIVED["private_key_go_format"])
LOG_VERIFIER = Verifier.parse(DERIVED["vkey"])
SEED = bytes(range(32))

PROPS = settings(deadline=None, derandomize=True, database=None, max_examples=100)


def flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def signature_payload(line: str) -> tuple[str, bytes]:
    """A signature line's key name and decoded ``key id ‖ …`` payload."""
    assert line.startswith("\u2014 ")
    name, payload = line.removeprefix("\u2014 ").rstrip("\n").split(" ")
    return name, base64.b64decode(payload, validate=True)


def with_payload(line: str, payload: bytes) -> str:
    name, _ = signature_payload(line)
    return f"\u2014 {name} {b64(payload)}\n"


def tree8() -> MemoryTree:
    tree = MemoryTree()
    for value in TREE8["leaf_hashes_hex"]:
        tree.append(bytes.fromhex(value))
    return tree


# --- Signed-note vectors. ---------------------------------------------------------------------


@pytest.mark.parametrize("vector", NOTES, ids=lambda v: v["key_name"])
def test_vkey_parses_to_the_vector_key(vector: dict[str, Any]) -> None:
    verifier = Verifier.parse(vector["vkey"])
    assert verifier.name == vector["key_name"]
    assert verifier.kind == NOTE
    assert verifier.key_id == bytes.fromhex(vector["key_id_hex"])
    assert verifier.public == bytes.fromhex(vector["ed25519_public_key_hex"])
    assert verifier.vkey == vector["vkey"]


@pytest.mark.parametrize("vector", NOTES, ids=lambda v: v["key_name"])
def test_vector_note_opens(vector: dict[str, Any]) -> None:
    note = vector["text"] + "\n" + vector["signature_line"] + "\n"
    assert open_note(note, [Verifier.parse(vector["vkey"])]) == (
        vector["text"],
        [vector["key_name"]],
    )


def test_vector_signer_reproduces_the_signature_line() -> None:
    signer = Signer.parse(PETER["private_key"])
    assert signer.seed == bytes.fromhex(PETER["ed25519_seed_hex"])
    assert signer.vkey == PETER["vkey"]
    assert signer.private_key == PETER["private_key"]
    assert signer.signature_line(PETER["text"]) == PETER["signature_line"] + "\n"
    assert signer.sign(PETER["text"]) == PETER["text"] + "\n" + PETER["signature_line"] + "\n"


def test_open_note_ignores_signatures_by_unknown_keys() -> None:
    foo, peter = NOTES[0], PETER
    other = Signer.parse(peter["private_key"])
    note = foo["text"] + "\n" + foo["signature_line"] + "\n" + other.signature_line(foo["text"])
    assert open_note(note, [Verifier.parse(foo["vkey"])]) == (foo["text"], [foo["key_name"]])
    both = [Verifier.parse(foo["vkey"]), Verifier.parse(peter["vkey"])]
    assert open_note(note, both) == (foo["text"], [foo["key_name"], peter["key_name"]])


# --- The derived signed checkpoint and tlog-proof. --------------------------------------------


def test_derived_checkpoint_is_signed_byte_for_byte() -> None:
    assert LOG_SIGNER.vkey == DERIVED["vkey"]
    assert LOG_SIGNER.sign(BODY) == SIGNED
    assert open_note(SIGNED, [LOG_VERIFIER]) == (BODY, ["example.com/tlog-vectors"])


def test_derived_checkpoint_parses_to_the_tree8_root() -> None:
    checkpoint = parse_checkpoint(BODY)
    root8 = bytes.fromhex(TREE8["roots_by_size_hex"]["8"])
    assert checkpoint == Checkpoint("example.com/tlog-vectors", 8, root8)
    assert tree8().root() == root8
    assert format_checkpoint(checkpoint) == BODY


def test_derived_tlog_proof_is_formatted_byte_for_byte() -> None:
    tree = tree8()
    path = tuple(inclusion_proof(5, 8, tree.node))
    vector = next(
        p for p in TREE8["inclusion_proofs"] if (p["leaf_index"], p["tree_size"]) == (5, 8)
    )
    assert path == tuple(bytes.fromhex(x) for x in vector["proof_hex"])
    proof = TlogProof(5, path, SIGNED)
    assert format_proof(proof) == DERIVED["tlog_proof_leaf5"]
    assert parse_proof(DERIVED["tlog_proof_leaf5"]) == proof


def test_derived_tlog_proof_verifies_offline() -> None:
    proof = parse_proof(DERIVED["tlog_proof_leaf5"])
    text, names = open_note(proof.checkpoint, [LOG_VERIFIER])
    checkpoint = parse_checkpoint(text)
    assert names == ["example.com/tlog-vectors"]
    leaf = leaf_hash(bytes.fromhex(TREE8["leaf_inputs_hex"][5]))
    assert verify_inclusion(proof.index, checkpoint.size, leaf, proof.proof, checkpoint.root)


def test_tlog_proof_with_extra_data_round_trips() -> None:
    proof = TlogProof(5, tuple(inclusion_proof(5, 8, tree8().node)), SIGNED, b"\x00extra\xff")
    text = format_proof(proof)
    assert text.startswith("c2sp.org/tlog-proof@v1\nextra AGV4dHJh/w==\nindex 5\n")
    assert parse_proof(text) == proof
    assert format_proof(parse_proof(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "c2sp.org/tlog-proof@v2\nindex 5\n\n" + SIGNED,
        "c2sp.org/tlog-proof@v1\n\n" + SIGNED,
        "c2sp.org/tlog-proof@v1\nindex 05\n\n" + SIGNED,
        "c2sp.org/tlog-proof@v1\nindex -5\n\n" + SIGNED,
        "c2sp.org/tlog-proof@v1\nindex 5\n" + b64(bytes(31)) + "\n\n" + SIGNED,
        "c2sp.org/tlog-proof@v1\nindex 5\nnot*base64\n\n" + SIGNED,
        "c2sp.org/tlog-proof@v1\nindex 5\n",
        "c2sp.org/tlog-proof@v1\nindex 5",
    ],
    ids=[
        "header",
        "no-index",
        "leading-zero",
        "negative",
        "short-hash",
        "bad-b64",
        "no-note",
        "no-blank-line",
    ],
)
def test_malformed_tlog_proofs_are_refused(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_proof(text)


# --- Notes that must not open. ----------------------------------------------------------------


@pytest.mark.parametrize("bit", [0, 7, 100, 300, 511])
def test_a_flipped_signature_bit_fails(bit: int) -> None:
    line = SIGNED[len(BODY) + 1 :]
    _, payload = signature_payload(line)
    forged = payload[:4] + flip(payload[4:], bit)
    with pytest.raises(InvalidValue):
        open_note(BODY + "\n" + with_payload(line, forged), [LOG_VERIFIER])


def test_a_flipped_key_id_bit_leaves_no_known_signature() -> None:
    line = SIGNED[len(BODY) + 1 :]
    _, payload = signature_payload(line)
    with pytest.raises(InvalidValue, match="no signature by a known key"):
        open_note(BODY + "\n" + with_payload(line, flip(payload, 3)), [LOG_VERIFIER])


@pytest.mark.parametrize("position", [0, len("example.com/tlog-vectors\n"), len(BODY) - 3])
def test_a_flipped_text_bit_fails(position: int) -> None:
    char = chr(ord(SIGNED[position]) ^ 1)
    assert char.isprintable()
    forged = SIGNED[:position] + char + SIGNED[position + 1 :]
    with pytest.raises(InvalidValue):
        open_note(forged, [LOG_VERIFIER])


def test_a_different_key_fails() -> None:
    other = Signer.generate("example.com/tlog-vectors")
    with pytest.raises(InvalidValue):
        open_note(SIGNED, [Verifier.parse(other.vkey)])
    # Same name and key id, other public key: the line claims the key and must verify.
    impostor = Verifier(LOG_VERIFIER.name, NOTE, LOG_VERIFIER.key_id, other.verifier.public)
    with pytest.raises(InvalidValue, match="does not verify"):
        open_note(SIGNED, [impostor])


def test_a_signature_line_under_another_name_is_not_the_key() -> None:
    # Same key and key id under another name: the line names a key this verifier is not.
    renamed = Verifier("example.com/other", NOTE, LOG_VERIFIER.key_id, LOG_VERIFIER.public)
    with pytest.raises(InvalidValue, match="no signature by a known key"):
        open_note(SIGNED, [renamed])


def test_a_truncated_signature_claiming_the_key_fails() -> None:
    line = SIGNED[len(BODY) + 1 :]
    _, payload = signature_payload(line)
    with pytest.raises(InvalidValue):
        open_note(BODY + "\n" + with_payload(line, payload[:-1]), [LOG_VERIFIER])


@pytest.mark.parametrize(
    "note",
    [
        BODY,
        BODY + "\n",
        BODY + "\n" + SIGNED[len(BODY) + 1 :].rstrip("\n"),
        BODY + "\n" + SIGNED[len(BODY) + 1 :].replace("\u2014", "-"),
        BODY + "\n\u2014 example.com/tlog-vectors not*base64\n",
        BODY + "\n\u2014 example.com/tlog-vectors AAAA\n",
        SIGNED[:-1] + " ",
    ],
    ids=[
        "unsigned",
        "empty-block",
        "no-final-newline",
        "hyphen",
        "bad-b64",
        "too-short",
        "junk-for-final-newline",
    ],
)
def test_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(InvalidValue):
        open_note(note, [LOG_VERIFIER])


def test_sign_requires_a_final_newline() -> None:
    with pytest.raises(InvalidValue):
        LOG_SIGNER.sign(BODY.rstrip("\n"))


# --- Verifier keys that must not parse. -------------------------------------------------------

FOO_VKEY: str = NOTES[0]["vkey"]


def test_vkey_with_a_wrong_key_id_is_refused() -> None:
    name, key_id, material = FOO_VKEY.split("+", 2)
    wrong = f"{int(key_id, 16) ^ 1:08x}"
    with pytest.raises(InvalidValue, match="id"):
        Verifier.parse(f"{name}+{wrong}+{material}")


@pytest.mark.parametrize("kind", [0x00, 0x02, 0x03, 0xFF])
def test_vkey_with_a_wrong_type_byte_is_refused(kind: int) -> None:
    verifier = Verifier.parse(FOO_VKEY)
    # Recompute the id for the new type so that only the type byte is wrong.
    key_id = hashlib.sha256(
        verifier.name.encode() + b"\n" + bytes([kind]) + verifier.public
    ).digest()[:4]
    material = b64(bytes([kind]) + verifier.public)
    with pytest.raises(InvalidValue, match="type"):
        Verifier.parse(f"{verifier.name}+{key_id.hex()}+{material}")


@pytest.mark.parametrize(
    "vkey",
    [
        FOO_VKEY[:-1],
        FOO_VKEY[:-4] + "*" + FOO_VKEY[-3:],
        FOO_VKEY[:-2] + "=" + FOO_VKEY[-1:],
        FOO_VKEY.replace("+Aeky", "+\u00e9eky"),
    ],
    ids=["truncated", "bad-char", "padding-inside", "non-ascii"],
)
def test_vkey_with_bad_base64_is_refused(vkey: str) -> None:
    with pytest.raises(InvalidValue):
        Verifier.parse(vkey)


@pytest.mark.parametrize(
    "vkey",
    ["example.com/foo+530d903a", "", "bad name+530d903a+" + FOO_VKEY.split("+", 2)[2]],
    ids=["two-parts", "empty", "space-in-name"],
)
def test_vkey_of_the_wrong_shape_is_refused(vkey: str) -> None:
    with pytest.raises(InvalidValue):
        Verifier.parse(vkey)


def test_vkey_of_the_wrong_length_is_refused() -> None:
    verifier = Verifier.parse(FOO_VKEY)
    short = verifier.public[:31]
    key_id = hashlib.sha256(verifier.name.encode() + b"\n\x01" + short).digest()[:4]
    material = b64(b"\x01" + short)
    with pytest.raises(InvalidValue):
        Verifier.parse(f"{verifier.name}+{key_id.hex()}+{material}")


def test_private_key_with_a_wrong_id_or_type_is_refused() -> None:
    parts = PETER["private_key"].split("+", 4)
    parts[3] = "00000000"
    with pytest.raises(InvalidValue):
        Signer.parse("+".join(parts))
    # A note key is not a cosignature key, nor the other way round.
    with pytest.raises(InvalidValue):
        Cosigner.parse(PETER["private_key"])
    with pytest.raises(InvalidValue):
        Signer.parse(Cosigner("w", SEED).private_key)


# --- Checkpoints. -----------------------------------------------------------------------------

ROOT_B64 = BODY.split("\n")[2]


@pytest.mark.parametrize(
    "text",
    [
        BODY.rstrip("\n"),
        BODY + "ext",
        BODY.replace("\n8\n", "\n08\n"),
        BODY.replace("\n8\n", "\n00\n"),
        BODY.replace("\n8\n", "\n-8\n"),
        BODY.replace("\n8\n", "\n+8\n"),
        BODY.replace("\n8\n", "\n 8\n"),
        BODY.replace("\n8\n", "\n\n"),
        BODY.replace(ROOT_B64, b64(bytes(31))),
        BODY.replace(ROOT_B64, b64(bytes(33))),
        BODY.replace(ROOT_B64, ROOT_B64[:-1]),
        BODY + "\n",
        BODY + "\next\n",
        BODY + "ext\n\n",
        "\n8\n" + ROOT_B64 + "\n",
        "example.com/log\n8\n",
    ],
    ids=[
        "no-final-newline",
        "extension-without-final-newline",
        "leading-zero",
        "double-zero",
        "negative",
        "plus-sign",
        "space",
        "empty-size",
        "root-31-bytes",
        "root-33-bytes",
        "root-bad-b64",
        "empty-extension",
        "empty-line-before-extension",
        "empty-line-after-extension",
        "empty-origin",
        "no-root",
    ],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_checkpoint(text)


@pytest.mark.parametrize(
    "size", ["\u00b2", "\u0668", "\uff18"], ids=["superscript", "arabic", "fullwidth"]
)
def test_checkpoint_size_is_ascii_decimal(size: str) -> None:
    with pytest.raises(InvalidValue):
        parse_checkpoint(BODY.replace("\n8\n", f"\n{size}\n"))


@pytest.mark.parametrize(
    "index", ["\u00b2", "\u0668", "\uff18"], ids=["superscript", "arabic", "fullwidth"]
)
def test_tlog_proof_index_is_ascii_decimal(index: str) -> None:
    with pytest.raises(InvalidValue):
        parse_proof(f"c2sp.org/tlog-proof@v1\nindex {index}\n\n" + SIGNED)


@pytest.mark.parametrize("text", ["tab\there\n", "bell\x07\n"])
def test_control_characters_are_refused_in_notes(text: str) -> None:
    signer = Signer.generate("example.com/ctl")
    with pytest.raises(InvalidValue):
        signer.sign(text)
    forged = text + "\n" + signer.signature_line(text)
    with pytest.raises(InvalidValue):
        open_note(forged, [Verifier.parse(signer.vkey)])


def test_checkpoint_with_extensions_round_trips() -> None:
    checkpoint = Checkpoint("example.com/log", 0, bytes(32), ("ext one", "ext two"))
    text = format_checkpoint(checkpoint)
    assert text == f"example.com/log\n0\n{b64(bytes(32))}\next one\next two\n"
    assert parse_checkpoint(text) == checkpoint


# --- Cosignatures (tlog-cosignature, cosignature/v1). -----------------------------------------

WITNESS = Cosigner("witness.example/w1", SEED)
WITNESS_VERIFIER = Verifier.parse(WITNESS.vkey)
TIMESTAMP = 1_760_000_000


def test_cosignature_round_trips_to_its_timestamp() -> None:
    cosigner = Cosigner.generate("witness.example/fresh")
    line = cosigner.cosign(BODY, TIMESTAMP)
    assert verify_cosignature(BODY, line, Verifier.parse(cosigner.vkey)) == TIMESTAMP
    # The line may come without its newline, as when split out of a note.
    assert verify_cosignature(BODY, line.rstrip("\n"), Verifier.parse(cosigner.vkey)) == TIMESTAMP


def test_cosignature_line_layout_and_signed_message() -> None:
    line = WITNESS.cosign(BODY, TIMESTAMP)
    assert line.endswith("\n")
    name, payload = signature_payload(line)
    assert name == "witness.example/w1"
    assert len(payload) == 4 + 8 + 64
    assert payload[:4] == WITNESS_VERIFIER.key_id
    assert payload[4:12] == struct.pack(">Q", TIMESTAMP)
    message = f"cosignature/v1\ntime {TIMESTAMP}\n".encode() + BODY.encode()
    assert cosigned_message(BODY, TIMESTAMP) == message
    # Raises InvalidSignature unless exactly this message was signed.
    Ed25519PublicKey.from_public_bytes(WITNESS_VERIFIER.public).verify(payload[12:], message)


def test_cosigner_key_id_uses_type_0x04() -> None:
    assert WITNESS_VERIFIER.kind == COSIGNATURE == 0x04
    name = WITNESS_VERIFIER.name.encode()
    public = WITNESS_VERIFIER.public
    assert WITNESS_VERIFIER.key_id == hashlib.sha256(name + b"\n\x04" + public).digest()[:4]
    assert WITNESS_VERIFIER.key_id != hashlib.sha256(name + b"\n\x01" + public).digest()[:4]
    assert base64.b64decode(WITNESS.vkey.split("+", 2)[2])[0] == 0x04
    assert Signer("witness.example/w1", SEED).verifier.key_id != WITNESS_VERIFIER.key_id


def test_cosignature_over_another_checkpoint_fails() -> None:
    line = WITNESS.cosign(BODY, TIMESTAMP)
    other = format_checkpoint(Checkpoint("example.com/tlog-vectors", 9, bytes(32)))
    with pytest.raises(InvalidValue):
        verify_cosignature(other, line, WITNESS_VERIFIER)


def test_cosignature_by_another_key_fails() -> None:
    line = WITNESS.cosign(BODY, TIMESTAMP)
    other = Cosigner("witness.example/w1", bytes(32))
    with pytest.raises(InvalidValue):
        verify_cosignature(BODY, line, Verifier.parse(other.vkey))
    impostor = Verifier(WITNESS.name, COSIGNATURE, WITNESS_VERIFIER.key_id, other.verifier.public)
    with pytest.raises(InvalidValue, match="does not verify"):
        verify_cosignature(BODY, line, impostor)
    renamed = Cosigner("witness.example/w2", SEED)
    with pytest.raises(InvalidValue):
        verify_cosignature(BODY, line, Verifier.parse(renamed.vkey))
    # Same key and key id under another name: not this cosigner's line.
    alias = Verifier(
        "witness.example/w2", COSIGNATURE, WITNESS_VERIFIER.key_id, WITNESS.verifier.public
    )
    with pytest.raises(InvalidValue, match="not by this cosigner"):
        verify_cosignature(BODY, line, alias)


@pytest.mark.parametrize("byte", range(8))
def test_cosignature_with_a_flipped_timestamp_byte_fails(byte: int) -> None:
    line = WITNESS.cosign(BODY, TIMESTAMP)
    _, payload = signature_payload(line)
    # Bit 7 of the first byte makes the timestamp 2**63 or more: refused as well.
    forged = flip(payload, 8 * (4 + byte) + (7 if byte == 0 else 0))
    with pytest.raises(InvalidValue):
        verify_cosignature(BODY, with_payload(line, forged), WITNESS_VERIFIER)


def test_cosignature_with_a_flipped_signature_bit_fails() -> None:
    line = WITNESS.cosign(BODY, TIMESTAMP)
    _, payload = signature_payload(line)
    with pytest.raises(InvalidValue):
        verify_cosignature(BODY, with_payload(line, flip(payload, 8 * 12 + 5)), WITNESS_VERIFIER)


def test_a_note_key_is_refused_as_a_cosigner() -> None:
    line = WITNESS.cosign(BODY, TIMESTAMP)
    note_key = Verifier.parse(Signer("witness.example/w1", SEED).vkey)
    assert note_key.kind == NOTE
    with pytest.raises(InvalidValue, match="0x04"):
        verify_cosignature(BODY, line, note_key)


def test_a_cosignature_does_not_sign_the_note() -> None:
    note = SIGNED + WITNESS.cosign(BODY, TIMESTAMP)
    # The log's signature still opens the note; the cosigner's key is no note key.
    assert open_note(note, [LOG_VERIFIER, WITNESS_VERIFIER]) == (BODY, [LOG_VERIFIER.name])
    with pytest.raises(InvalidValue):
        open_note(note, [WITNESS_VERIFIER])


@pytest.mark.parametrize("timestamp", [-1, 2**63, 2**64])
def test_cosignature_timestamp_out_of_range_is_refused(timestamp: int) -> None:
    with pytest.raises(InvalidValue):
        WITNESS.cosign(BODY, timestamp)


# --- Properties. ------------------------------------------------------------------------------

PROP_SIGNER = Signer("example.org/prop", SEED)
PROP_VERIFIER = Verifier.parse(PROP_SIGNER.vkey)

# Printable lines (no control, separator or surrogate characters), at least one character each,
# so the text never holds a blank line.
lines = st.text(st.characters(exclude_categories=("C", "Zl", "Zp")), min_size=1, max_size=40)
texts = st.lists(lines, min_size=1, max_size=8).map(lambda ls: "\n".join(ls) + "\n")


@PROPS
@given(texts)
def test_signed_notes_open(text: str) -> None:
    assert "\n\n" not in text
    note = PROP_SIGNER.sign(text)
    assert split_note(note)[0] == text
    assert open_note(note, [PROP_VERIFIER]) == (text, [PROP_SIGNER.name])


@PROPS
@given(texts, st.integers(0, 64 * 8 - 1))
def test_any_flipped_signature_bit_fails(text: str, bit: int) -> None:
    line = PROP_SIGNER.signature_line(text)
    _, payload = signature_payload(line)
    forged = payload[:4] + flip(payload[4:], bit)
    with pytest.raises(InvalidValue):
        open_note(text + "\n" + with_payload(line, forged), [PROP_VERIFIER])


@PROPS
@given(texts, st.integers(0, 2**63 - 1))
def test_cosignatures_round_trip(text: str, timestamp: int) -> None:
    line = WITNESS.cosign(text, timestamp)
    assert verify_cosignature(text, line, WITNESS_VERIFIER) == timestamp
