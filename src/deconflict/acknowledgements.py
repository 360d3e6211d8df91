"""Acknowledgements: a recipient acknowledges a notice version, or cosigns a checkpoint.

A per-notice acknowledgement says "party X received version N of this notice";
a cosignature (C2SP tlog-cosignature) says "party X had seen the whole log up
to size N by time T". Both are ledgered, so either can be proved later.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from deconflict import errors
from deconflict.clock import Clock
from deconflict.disclosure import Viewer, sees_in_full, sees_logged
from deconflict.interchange import format_instant
from deconflict.ledger.entries import metadata
from deconflict.ledger.log import Ledger
from deconflict.ledger.note import (
    COSIGNATURE,
    Verifier,
    parse_checkpoint,
    split_note,
    verify_cosignature,
)
from deconflict.model import Notice, Role
from deconflict.store import NoticeRecord, Store
from deconflict.store.records import AckRecord, CosignatureRecord

__all__ = ["Acknowledgements"]

#: How far ahead of the service's clock a cosignature's timestamp may be.
_SKEW = dt.timedelta(seconds=60)
#: Record fields that name a party the record concerns.
_NAMED = ("party", "recipient", "by", "owner")


def _text(body: Any, name: str, limit: int = 10_000) -> str:
    if not isinstance(body, dict):
        raise errors.WrongType("the body must be a JSON object", field="body")
    value = body.get(name)
    if value is None:
        raise errors.MissingField(f"{name} is required", field=name)
    if not isinstance(value, str):
        raise errors.WrongType(f"{name} is a string", field=name)
    if not value or len(value) > limit:
        raise errors.InvalidValue(f"{name} is 1 to {limit} characters", field=name)
    return value


class Acknowledgements:
    """Use cases on acknowledgements, cosigning keys and ledger records."""

    def __init__(
        self,
        store: Store,
        ledger: Ledger,
        clock: Clock,
        load: Callable[[NoticeRecord], Notice],
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._clock = clock
        self._load = load

    def register_key(self, viewer: Viewer, body: Any) -> dict[str, Any]:
        """Register the caller's Ed25519 cosigning key (a vkey of type 0x04)."""
        text = _text(body, "vkey", 500)
        try:
            verifier = Verifier.parse(text)
        except errors.DeconflictError as exc:
            raise errors.InvalidValue(exc.message, field="vkey") from None
        if verifier.kind != COSIGNATURE:
            raise errors.InvalidValue(
                "a cosigning key is an Ed25519 vkey of type 0x04 (tlog-cosignature)",
                field="vkey",
            )
        with self._ledger.write() as tx:
            if verifier.vkey in tx.ledger.party_keys(viewer.party):
                raise errors.Conflict("this key is already registered", field="vkey")
            logged = self._ledger.log(
                tx, "party.key", {"party": viewer.party, "vkey": verifier.vkey}
            )
            tx.ledger.add_party_key(
                viewer.party, verifier.key_id.hex(), verifier.vkey, self._clock.now(), logged.index
            )
            receipt = self._ledger.receipt(tx, logged)
        return {"party": viewer.party, "vkey": verifier.vkey, "receipt": receipt}

    def cosign(self, viewer: Viewer, body: Any) -> dict[str, Any]:
        """Accept the caller's cosignature of one of this log's checkpoints."""
        note = _text(body, "checkpoint")
        line = _text(body, "cosignature", 1000)
        try:
            text = split_note(note)[0] if "\n\n" in note else note
            checkpoint = parse_checkpoint(text)
        except errors.DeconflictError as exc:
            raise errors.InvalidValue(exc.message, field="checkpoint") from None
        if checkpoint.origin != self._ledger.origin or checkpoint.size >= 2**53:
            raise errors.InvalidValue(
                f"not a checkpoint of this log ({self._ledger.origin})", field="checkpoint"
            )
        with self._ledger.write() as tx:
            ours = tx.ledger.checkpoint(checkpoint.size)
            if ours is None or split_note(ours.note)[0] != text:
                raise errors.InvalidValue("this log signed no such checkpoint", field="checkpoint")
            timestamp = None
            for vkey in tx.ledger.party_keys(viewer.party):
                try:
                    timestamp = verify_cosignature(text, line, Verifier.parse(vkey))
                    break
                except errors.DeconflictError:
                    continue
            if timestamp is None:
                raise errors.InvalidValue(
                    "the cosignature does not verify with any key the caller registered",
                    field="cosignature",
                )
            now = self._clock.now()
            if timestamp > (now + _SKEW).timestamp():
                raise errors.InvalidValue(
                    "the cosignature's timestamp is in the future", field="cosignature"
                )
            logged = self._ledger.log(
                tx,
                "cosignature",
                {
                    "party": viewer.party,
                    "size": checkpoint.size,
                    "root": base64.b64encode(checkpoint.root).decode("ascii"),
                    "timestamp": timestamp,
                    "cosignature": line.rstrip("\n"),
                },
            )
            added = tx.ledger.add_cosignature(
                CosignatureRecord(
                    viewer.party, checkpoint.size, timestamp, line.rstrip("\n"), now, logged.index
                )
            )
            if not added:
                raise errors.Conflict("this cosignature was already recorded", field="cosignature")
            receipt = self._ledger.receipt(tx, logged)
        return {
            "party": viewer.party,
            "size": checkpoint.size,
            "timestamp": timestamp,
            "receipt": receipt,
        }

    def cosignatures(self, viewer: Viewer, party: str | None, limit: int) -> list[dict[str, Any]]:
        """Cosignatures are public statements: any party may list them."""
        with self._store.read() as tx:
            rows = tx.ledger.cosignatures(party, max(1, min(limit, 10_000)))
        return [
            {
                "party": c.party,
                "size": c.size,
                "timestamp": c.timestamp,
                "cosignature": c.line,
                "at": format_instant(c.at),
                "ledger_index": c.ledger_idx,
            }
            for c in rows
        ]

    def ack(self, viewer: Viewer, notice_id: str, body: Any) -> dict[str, Any]:
        """Acknowledge receipt of a notice version the caller may read."""
        if not isinstance(body, dict):
            raise errors.WrongType("the body must be a JSON object", field="body")
        version = body.get("version")
        if version is None:
            raise errors.MissingField("version is required", field="version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise errors.WrongType("version is an integer", field="version")
        with self._ledger.write() as tx:
            record = tx.notices.get(notice_id)
            # Whoever may read the notice may acknowledge it: its audience, and the
            # parties shown it through a conflict with their own notices.
            known = record is not None and (
                sees_in_full(viewer, self._load(record))
                or any(
                    viewer.party in (c.a_party, c.b_party)
                    for c in tx.conflicts.involving(notice_id, status=None)
                )
            )
            if record is None or not known:
                raise errors.NotFound(f"no notice {notice_id!r}")
            if record.party == viewer.party:
                raise errors.InvalidValue("an owner does not acknowledge its own notice")
            if not 1 <= version <= record.version:
                raise errors.InvalidValue(
                    f"version {version} does not exist; the current version is {record.version}",
                    field="version",
                )
            logged = self._ledger.log(
                tx,
                "ack",
                {
                    "party": viewer.party,
                    "notice": notice_id,
                    "version": version,
                    "owner": record.party,
                },
            )
            added = tx.ledger.add_ack(
                AckRecord(notice_id, version, viewer.party, self._clock.now(), logged.index)
            )
            if not added:  # raising rolls the entry back with the rest of the transaction
                raise errors.Conflict(
                    f"version {version} was already acknowledged", field="version"
                )
            receipt = self._ledger.receipt(tx, logged)
        return {"notice": notice_id, "version": version, "party": viewer.party, "receipt": receipt}

    def entry(self, viewer: Viewer, index: int) -> dict[str, Any]:
        """A ledger record, for an auditor, an admin or a party it names.

        A record that holds content (a notice version) comes whole, with its salt,
        only to those who could read that content: its owner and audience. Anyone
        else gets its metadata and the entry, which proves it is in the log but
        cannot be opened without the record and salt.
        """
        with self._store.read() as tx:
            found = tx.ledger.entries(index, index + 1) if 0 <= index < 2**53 else []
        if not found:
            raise errors.NotFound(f"no ledger entry {index}")
        entry = found[0]
        record = json.loads(entry.record)
        named = {record.get(k) for k in _NAMED}
        if viewer.role is Role.MEMBER and viewer.party not in named:
            raise errors.NotFound(f"no ledger entry {index}")
        answer = {
            "index": entry.index,
            "type": entry.type,
            "entry": base64.b64encode(entry.entry).decode("ascii"),
        }
        shown = None if sees_logged(viewer, record) else metadata(record)
        if shown is not None:
            return answer | {"record": shown, "redacted": True}
        return answer | {"salt": base64.b64encode(entry.salt).decode("ascii"), "record": record}
