"""The service's ledger over the store: append records, sign checkpoints, hand out proofs.

Every write transaction that logs something ends by signing a checkpoint of
the new tree, inside the same transaction ("sign at commit"), so a receipt's
checkpoint always covers its entry and a crash can never leave an entry that
no signed checkpoint covers. The ledger append is the one serialisation point:
it runs inside the store's single writer.

Leaves are salted commitments, ``SHA-256(salt ‖ RFC 8785 JSON of the record)``,
so the tree and its tiles can be published without disclosing any notice.
"""

from __future__ import annotations

import base64
import secrets
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from deconflict import errors
from deconflict.clock import Clock
from deconflict.interchange import format_instant
from deconflict.store import Store, Transaction
from deconflict.store.records import CheckpointRecord, LedgerEntry

from . import merkle
from .entries import canonical, commitment
from .note import (
    Checkpoint,
    Signer,
    TlogProof,
    format_checkpoint,
    format_proof,
)

__all__ = ["TILE_WIDTH", "Ledger", "Logged", "node_source"]

TILE_WIDTH = 256
_LARGEST = 2**53
_TILE_HEIGHT = 8


@dataclass(frozen=True)
class Logged:
    """A record just appended: its index, leaf bytes, salt and the record itself."""

    index: int
    entry: bytes
    salt: bytes
    record: dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


#: Nodes each open transaction has read or written. A complete node never changes, so
#: within a transaction it is read from the store once. Each cache goes with its
#: transaction: one that rolls back takes its nodes with it.
_TX_NODES: weakref.WeakKeyDictionary[Any, dict[tuple[int, int], bytes]] = (
    weakref.WeakKeyDictionary()
)


def _known(tx: Transaction) -> dict[tuple[int, int], bytes]:
    return _TX_NODES.setdefault(tx, {})


def node_source(tx: Transaction) -> merkle.NodeSource:
    """Read complete nodes from the store; a missing one means the store is damaged."""
    known = _known(tx)

    def node(level: int, index: int) -> bytes:
        value = known.get((level, index))
        if value is None:
            value = tx.ledger.node(level, index)
            if value is None:
                raise errors.StoreCorrupt(f"ledger node ({level}, {index}) is missing")
            known[(level, index)] = value
        return value

    return node


class Ledger:
    """The append-only log of everything the service was told, decided and disclosed."""

    def __init__(self, store: Store, clock: Clock, origin: str | None = None) -> None:
        self._store = store
        self._clock = clock
        with store.write() as tx:
            keys = tx.ledger.signing_keys()
            if keys:
                self.signer = Signer.parse(keys[-1][0])
            else:
                name = origin or f"deconflict.local/{secrets.token_hex(4)}"
                self.signer = Signer.generate(name)
                tx.ledger.add_key(
                    self.signer.verifier.key_id.hex(),
                    name,
                    self.signer.private_key,
                    self.signer.vkey,
                    clock.now(),
                )
            self.seal(tx)
            if tx.ledger.latest_checkpoint(published=True) is None:
                self._publish(tx)

    def rotate_key(self) -> str:
        """Sign from now on with a new key of the same name; returns its verifier key.

        The old key is kept, marked retired, so checkpoints it signed still verify
        with its verifier key. A running server picks the new key up on restart.
        """
        with self._store.write() as tx:
            now = self._clock.now()
            signer = Signer.generate(self.origin)
            tx.ledger.retire_key(self.signer.verifier.key_id.hex(), now)
            tx.ledger.add_key(
                signer.verifier.key_id.hex(), signer.name, signer.private_key, signer.vkey, now
            )
        self.signer = signer
        return signer.vkey

    @property
    def origin(self) -> str:
        return self.signer.name

    @property
    def vkey(self) -> str:
        """The verifier key string that checks every checkpoint: ``name+keyid+base64``."""
        return self.signer.vkey

    # --- appending ----------------------------------------------------------------------

    def log(self, tx: Transaction, kind: str, fields: dict[str, Any]) -> Logged:
        """Append one record of type ``kind``; it is signed for when the transaction seals."""
        return self.log_many(tx, [(kind, fields)])[0]

    def log_many(
        self, tx: Transaction, items: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[Logged]:
        now = self._clock.now()
        at = format_instant(now)
        size = tx.ledger.size()
        logged, rows = [], []
        for offset, (kind, fields) in enumerate(items):
            record = {"type": kind, "at": at, **fields}
            data = canonical(record)
            salt = secrets.token_bytes(32)
            entry = commitment(salt, data)
            logged.append(Logged(size + offset, entry, salt, record))
            rows.append(LedgerEntry(size + offset, kind, now, entry, salt, data))
        nodes = merkle.append_nodes(
            size, [merkle.leaf_hash(r.entry) for r in rows], node_source(tx)
        )
        tx.ledger.append(rows, nodes)
        _known(tx).update(((level, index), value) for level, index, value in nodes)
        return logged

    def seal(self, tx: Transaction) -> CheckpointRecord:
        """Sign a checkpoint of the tree as it stands, unless one exists for this size."""
        size = tx.ledger.size()
        existing = tx.ledger.checkpoint(size)
        if existing is not None:
            return existing
        root = merkle.root_from_nodes(size, node_source(tx))
        note = self.signer.sign(format_checkpoint(Checkpoint(self.origin, size, root)))
        tx.ledger.put_checkpoint(size, note, self._clock.now())
        checkpoint = tx.ledger.checkpoint(size)
        if checkpoint is None:
            raise errors.StoreCorrupt(f"the checkpoint of size {size} was not stored")
        return checkpoint

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """A store write transaction that seals what it logged before committing."""
        with self._store.write() as tx:
            yield tx
            self.seal(tx)

    def receipt(self, tx: Transaction, logged: Logged) -> dict[str, Any]:
        """What the submitter keeps to prove, offline, that this record was logged."""
        checkpoint = self.seal(tx)
        proof = merkle.inclusion_proof(logged.index, checkpoint.size, node_source(tx))
        return {
            "index": logged.index,
            "tlog_proof": format_proof(TlogProof(logged.index, tuple(proof), checkpoint.note)),
            "entry": _b64(logged.entry),
            "record": logged.record,
            "salt": _b64(logged.salt),
        }

    # --- publishing -----------------------------------------------------------------------

    def _publish(self, tx: Transaction) -> CheckpointRecord:
        latest = self.seal(tx)
        tx.ledger.publish(latest.size, self._clock.now())
        return latest

    def publish(self) -> str:
        """Publish the newest checkpoint (the one served at ``/ledger/checkpoint``)."""
        with self._store.write() as tx:
            return self._publish(tx).note

    def publish_if_new(self) -> bool:
        """Publish the newest checkpoint if it is not yet; True if one was published."""
        with self._store.read() as tx:
            latest = tx.ledger.latest_checkpoint()
            published = tx.ledger.latest_checkpoint(published=True)
        if latest is not None and published is not None and latest.size == published.size:
            return False
        self.publish()
        return True

    def published(self) -> str:
        with self._store.read() as tx:
            latest = tx.ledger.latest_checkpoint(published=True)
        if latest is None:
            raise errors.NotFound("no checkpoint has been published yet")
        return latest.note

    # --- proofs and tiles -----------------------------------------------------------------

    def _checkpoint(self, tx: Transaction, size: int | None, field: str) -> CheckpointRecord:
        if size is None:
            found = tx.ledger.latest_checkpoint()
        else:  # no log grows past 2^53 entries; larger numbers would not fit the store
            found = tx.ledger.checkpoint(size) if 0 <= size < _LARGEST else None
        if found is None:
            raise errors.NotFound(f"no signed checkpoint of size {size}", field=field)
        return found

    def inclusion(self, index: int, size: int | None = None) -> dict[str, Any]:
        """A proof of entry ``index`` in the signed tree of ``size`` (default: the newest)."""
        with self._store.read() as tx:
            checkpoint = self._checkpoint(tx, size, "size")
            if not 0 <= index < checkpoint.size:
                raise errors.InvalidValue(
                    f"entry {index} is not in the tree of size {checkpoint.size}", field="index"
                )
            proof = merkle.inclusion_proof(index, checkpoint.size, node_source(tx))
            (entry,) = tx.ledger.entries(index, index + 1)
        return {
            "index": index,
            "size": checkpoint.size,
            "entry": _b64(entry.entry),
            "proof": [_b64(h) for h in proof],
            "checkpoint": checkpoint.note,
            "tlog_proof": format_proof(TlogProof(index, tuple(proof), checkpoint.note)),
        }

    def consistency(self, old: int, new: int | None = None) -> dict[str, Any]:
        """A consistency proof between two signed checkpoints, both included."""
        with self._store.read() as tx:
            first = self._checkpoint(tx, old, "from")
            second = self._checkpoint(tx, new, "to")
            if first.size > second.size:
                raise errors.InvalidValue("'from' is larger than 'to'", field="from")
            proof = merkle.consistency_proof(first.size, second.size, node_source(tx))
        return {
            "old": first.note,
            "new": second.note,
            "proof": [_b64(h) for h in proof],
        }

    def tile(self, level: int, index: int, width: int) -> bytes:
        """A C2SP tlog-tiles hash tile: ``width`` hashes at tree level ``8 * level``."""
        with self._store.read() as tx:
            start = index * TILE_WIDTH
            hashes = tx.ledger.nodes(level * _TILE_HEIGHT, start, start + width)
        if len(hashes) != width:
            raise errors.NotFound("no such tile")
        return b"".join(hashes)

    def entry_bundle(self, index: int, width: int) -> bytes:
        """A C2SP tlog-tiles entry bundle: each leaf's bytes after a big-endian u16 length."""
        with self._store.read() as tx:
            entries = tx.ledger.entries(index * TILE_WIDTH, index * TILE_WIDTH + width)
        if len(entries) != width:
            raise errors.NotFound("no such entry bundle")
        return b"".join(len(e.entry).to_bytes(2, "big") + e.entry for e in entries)
