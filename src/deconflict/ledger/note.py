"""C2SP signed notes, checkpoints, cosignatures and tlog-proofs, with Ed25519.

Everything here is text in, text out, byte for byte as the C2SP formats define
them, so that any standard tool can check what the service signs.

>>> signer = Signer.generate("example.org/log")
>>> note = signer.sign(format_checkpoint(Checkpoint("example.org/log", 0, EMPTY_ROOT)))
>>> text, names = open_note(note, [Verifier.parse(signer.vkey)])
>>> parse_checkpoint(text).size, names
(0, ['example.org/log'])
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass
from typing import Final, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from deconflict import errors

from .merkle import EMPTY_ROOT, HASH_SIZE

__all__ = [
    "COSIGNATURE",
    "EMPTY_ROOT",
    "NOTE",
    "PROOF_HEADER",
    "Checkpoint",
    "Cosigner",
    "Signer",
    "TlogProof",
    "Verifier",
    "cosigned_message",
    "format_checkpoint",
    "format_proof",
    "open_note",
    "parse_checkpoint",
    "parse_proof",
    "split_note",
    "verify_cosignature",
]

#: Signature types: a note signature, and a timestamped cosignature (cosignature/v1).
NOTE: Final = 0x01
COSIGNATURE: Final = 0x04
PROOF_HEADER: Final = "c2sp.org/tlog-proof@v1"
_DASH: Final = "\u2014 "


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise errors.InvalidValue(f"{what} is not valid base64") from None


def _decimal(text: str) -> bool:
    """An ASCII decimal with no leading zeroes."""
    return text.isascii() and text.isdigit() and (text == "0" or not text.startswith("0"))


def _check_text(text: str) -> str:
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise errors.InvalidValue("a note's text has no control characters but newlines")
    return text


def _key_id(name: str, kind: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([kind]) + public).digest()[:4]


def _check_name(name: str) -> str:
    if not name or any(c in name for c in " +\n") or not name.isprintable():
        raise errors.InvalidValue(f"{name!r} is not a valid key name")
    return name


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A named Ed25519 public key, as a vkey: ``name+keyid+base64(type ‖ key)``."""

    name: str
    kind: int
    key_id: bytes
    public: bytes

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise errors.InvalidValue("a verifier key is name+keyid+base64")
        name, hex_id, material = parts
        _check_name(name)
        raw = _unb64(material, "the verifier key")
        if len(raw) != 33 or raw[0] not in (NOTE, COSIGNATURE):
            raise errors.InvalidValue("the verifier key is not an Ed25519 key (type 0x01 or 0x04)")
        kind, public = raw[0], raw[1:]
        key_id = _key_id(name, kind, public)
        if hex_id.lower() != key_id.hex():
            raise errors.InvalidValue("the verifier key's id does not match its name and key")
        return cls(name, kind, key_id, public)

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{_b64(bytes([self.kind]) + self.public)}"

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class _Key:
    """An Ed25519 private key with a name and a signature type."""

    kind = NOTE

    def __init__(self, name: str, seed: bytes) -> None:
        if len(seed) != 32:
            raise errors.InvalidValue("an Ed25519 seed is 32 bytes")
        self.name = _check_name(name)
        self.seed = seed
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self.verifier = Verifier(
            name,
            self.kind,
            _key_id(name, self.kind, _raw(self._private.public_key())),
            _raw(self._private.public_key()),
        )

    @classmethod
    def generate(cls, name: str) -> Self:
        seed = Ed25519PrivateKey.generate().private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        return cls(name, seed)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Read ``PRIVATE+KEY+name+keyid+base64(type ‖ seed)``."""
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise errors.InvalidValue("a private key is PRIVATE+KEY+name+keyid+base64")
        raw = _unb64(parts[4], "the private key")
        if len(raw) != 33 or raw[0] != cls.kind:
            raise errors.InvalidValue(f"the private key is not of type {cls.kind:#04x}")
        key = cls(parts[2], raw[1:])
        if parts[3].lower() != key.verifier.key_id.hex():
            raise errors.InvalidValue("the private key's id does not match its name and key")
        return key

    @property
    def vkey(self) -> str:
        return self.verifier.vkey

    @property
    def private_key(self) -> str:
        material = _b64(bytes([self.kind]) + self.seed)
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{material}"


class Signer(_Key):
    """Signs notes, such as the log's checkpoints."""

    kind = NOTE

    def signature_line(self, text: str) -> str:
        signature = self._private.sign(text.encode("utf-8"))
        return f"{_DASH}{self.name} {_b64(self.verifier.key_id + signature)}\n"

    def sign(self, text: str) -> str:
        """The signed note: ``text``, a blank line, and this key's signature line."""
        if not text.endswith("\n"):
            raise errors.InvalidValue("a note's text ends with a newline")
        return _check_text(text) + "\n" + self.signature_line(text)


class Cosigner(_Key):
    """Cosigns checkpoints with a timestamp (C2SP tlog-cosignature, cosignature/v1)."""

    kind = COSIGNATURE

    def cosign(self, checkpoint_text: str, timestamp: int) -> str:
        """A signature line stating that, at ``timestamp``, this was the largest tree seen."""
        message = cosigned_message(checkpoint_text, timestamp)
        signature = self._private.sign(message)
        payload = self.verifier.key_id + struct.pack(">Q", timestamp) + signature
        return f"{_DASH}{self.name} {_b64(payload)}\n"


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    if not 0 <= timestamp < 2**63:
        raise errors.InvalidValue("a cosignature's timestamp is 0 to 2^63 - 1")
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """A note's text and its signature lines as ``(name, key id ‖ signature)``."""
    text, sep, block = note.rpartition("\n\n")
    if not sep or not text or not block.endswith("\n"):
        raise errors.InvalidValue("not a signed note: text, a blank line, then signatures")
    signatures = []
    for line in block[:-1].split("\n"):
        if not line.startswith(_DASH):
            raise errors.InvalidValue("a signature line starts with an em dash and a space")
        name, space, material = line[len(_DASH) :].partition(" ")
        if not space:
            raise errors.InvalidValue("a signature line is a name and a base64 signature")
        raw = _unb64(material, "a signature")
        if len(raw) < 5:
            raise errors.InvalidValue("a signature is too short")
        signatures.append((name, raw))
    return _check_text(text + "\n"), signatures


def open_note(note: str, verifiers: list[Verifier]) -> tuple[str, list[str]]:
    """The note's text and the names of the given keys that signed it.

    Raises when none of them did, or when a line that claims one of them is bad.
    """
    text, signatures = split_note(note)
    signed = []
    for name, raw in signatures:
        for verifier in verifiers:
            if verifier.kind != NOTE or name != verifier.name or raw[:4] != verifier.key_id:
                continue
            if len(raw) != 68 or not verifier.verify(raw[4:], text.encode("utf-8")):
                raise errors.InvalidValue(f"the signature by {name} does not verify")
            signed.append(name)
    if not signed:
        raise errors.InvalidValue("the note carries no signature by a known key")
    return text, signed


def verify_cosignature(checkpoint_text: str, line: str, verifier: Verifier) -> int:
    """Check a cosignature line over a checkpoint's text; returns its timestamp."""
    _, signatures = split_note("x\n\n" + (line if line.endswith("\n") else line + "\n"))
    name, raw = signatures[0]
    if verifier.kind != COSIGNATURE:
        raise errors.InvalidValue("the cosigner's key is not a cosignature key (type 0x04)")
    if name != verifier.name or raw[:4] != verifier.key_id or len(raw) != 76:
        raise errors.InvalidValue("the cosignature is not by this cosigner's key")
    (timestamp,) = struct.unpack(">Q", raw[4:12])
    if timestamp >= 2**63 or not verifier.verify(
        raw[12:], cosigned_message(checkpoint_text, timestamp)
    ):
        raise errors.InvalidValue("the cosignature does not verify")
    return int(timestamp)


@dataclass(frozen=True)
class Checkpoint:
    """A log's state: origin, size and root hash (C2SP tlog-checkpoint)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def format_checkpoint(checkpoint: Checkpoint) -> str:
    lines = [checkpoint.origin, str(checkpoint.size), _b64(checkpoint.root)]
    return "\n".join([*lines, *checkpoint.extensions]) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not lines[0]:
        raise errors.InvalidValue("a checkpoint is an origin, a size and a root hash, one a line")
    origin, size_text, root_text, *extensions = lines[:-1]
    if not _decimal(size_text):
        raise errors.InvalidValue("a checkpoint's size is a decimal with no leading zeroes")
    root = _unb64(root_text, "the checkpoint's root hash")
    if len(root) != HASH_SIZE:
        raise errors.InvalidValue("a checkpoint's root hash is 32 bytes")
    if any(not line for line in extensions):
        raise errors.InvalidValue("a checkpoint has no empty lines")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


@dataclass(frozen=True)
class TlogProof:
    """An offline proof that an entry is in a log (C2SP tlog-proof)."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: str  # the signed note, verbatim
    extra: bytes | None = None


def format_proof(proof: TlogProof) -> str:
    lines = [PROOF_HEADER]
    if proof.extra is not None:
        lines.append(f"extra {_b64(proof.extra)}")
    lines.append(f"index {proof.index}")
    lines.extend(_b64(h) for h in proof.proof)
    return "\n".join(lines) + "\n\n" + proof.checkpoint


def parse_proof(text: str) -> TlogProof:
    head, sep, checkpoint = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or lines[0] != PROOF_HEADER:
        raise errors.InvalidValue(f"a tlog-proof starts with {PROOF_HEADER!r}")
    lines.pop(0)
    extra = None
    if lines and lines[0].startswith("extra "):
        extra = _unb64(lines.pop(0)[6:], "the proof's extra data")
    if not lines or not lines[0].startswith("index "):
        raise errors.InvalidValue("a tlog-proof names the entry's index")
    index_text = lines.pop(0)[6:]
    if not _decimal(index_text):
        raise errors.InvalidValue("the index is a decimal with no leading zeroes")
    hashes = tuple(_unb64(line, "a proof hash") for line in lines)
    if any(len(h) != HASH_SIZE for h in hashes):
        raise errors.InvalidValue("every proof hash is 32 bytes")
    return TlogProof(int(index_text), hashes, checkpoint, extra)
