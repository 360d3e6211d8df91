"""Offline verification: receipts, consistency between checkpoints, cosignatures, audits.

Nothing here talks to a server. A receipt needs only the log's verifier key;
an audit of a store recomputes every commitment, node and signed root from
the stored records, and compares the store's notice history and disclosure
rows with what the ledger says was logged, naming each entry that differs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deconflict import errors
from deconflict.store import Store

from . import merkle
from .entries import canonical, commitment, disclosure_item, notice_entry
from .log import TILE_WIDTH
from .note import (
    NOTE,
    PROOF_HEADER,
    Checkpoint,
    Signer,
    Verifier,
    open_note,
    parse_checkpoint,
    parse_proof,
    split_note,
    verify_cosignature,
)

__all__ = [
    "Report",
    "audit_store",
    "audit_tiles",
    "check_checkpoint",
    "check_consistency",
    "check_file",
    "check_receipt",
    "dump_tiles",
    "tile_path",
]

_CHUNK = 4096


@dataclass
class Report:
    """What was checked, and every problem found, each naming the entry where it can."""

    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def merge(self, other: Report) -> None:
        self.checked.extend(other.checked)
        self.problems.extend(other.problems)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "problems": self.problems}


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise errors.InvalidValue(f"{what} is a base64 string", field=what)
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise errors.InvalidValue(f"{what} is not valid base64", field=what) from None


def check_checkpoint(note: str, verifiers: list[Verifier]) -> Checkpoint:
    """The checkpoint in a signed note, once a log key's signature on it verifies."""
    try:
        text, _ = open_note(note, [v for v in verifiers if v.kind == NOTE])
    except errors.DeconflictError as exc:
        raise errors.VerificationFailed(f"checkpoint: {exc.message}") from None
    checkpoint = parse_checkpoint(text)
    if checkpoint.origin not in {v.name for v in verifiers}:
        raise errors.VerificationFailed(
            f"checkpoint origin {checkpoint.origin!r} is not the name of a given key"
        )
    return checkpoint


def check_receipt(receipt: dict[str, Any], verifiers: list[Verifier]) -> str:
    """Verify a write's receipt; returns a one-line description of what it proves."""
    if not isinstance(receipt, dict) or not isinstance(receipt.get("tlog_proof"), str):
        raise errors.InvalidValue("a receipt is an object with tlog_proof", field="tlog_proof")
    proof = parse_proof(receipt["tlog_proof"])
    checkpoint = check_checkpoint(proof.checkpoint, verifiers)
    entry = _unb64(receipt.get("entry"), "entry")
    if not merkle.verify_inclusion(
        proof.index, checkpoint.size, merkle.leaf_hash(entry), proof.proof, checkpoint.root
    ):
        raise errors.VerificationFailed(
            f"entry {proof.index} is not included in the checkpoint of size {checkpoint.size}"
        )
    what = f"entry {proof.index} is in the signed tree of size {checkpoint.size}"
    if "record" in receipt or "salt" in receipt:
        salt = _unb64(receipt.get("salt"), "salt")
        if commitment(salt, canonical(receipt.get("record"))) != entry:
            raise errors.VerificationFailed(
                f"entry {proof.index}: the record and salt do not match the entry"
            )
        record = receipt["record"]
        what += f" and commits to this {record.get('type', 'record')} record"
        if record.get("type") == "notice":
            what += f" ({record.get('notice')} v{record.get('version')}, at {record.get('at')})"
    return what


def check_consistency(doc: dict[str, Any], verifiers: list[Verifier]) -> tuple[int, int]:
    """Verify ``{"old", "new", "proof"}``: the newer signed tree extends the older one."""
    old = check_checkpoint(doc["old"], verifiers)
    new = check_checkpoint(doc["new"], verifiers)
    proof = [_unb64(h, "proof") for h in doc.get("proof", [])]
    if not merkle.verify_consistency(old.size, new.size, old.root, new.root, proof):
        raise errors.VerificationFailed(
            f"the tree of size {new.size} is not an extension of the tree of size {old.size}"
        )
    return old.size, new.size


def _cosignatures(note: str, cosigners: list[Verifier]) -> list[str]:
    """Check every cosignature line by a given cosigner; returns their names."""
    text, signatures = split_note(note)
    seen = []
    for name, raw in signatures:
        for cosigner in cosigners:
            if name == cosigner.name and raw[:4] == cosigner.key_id:
                line = f"\u2014 {name} {base64.b64encode(raw).decode('ascii')}\n"
                try:
                    timestamp = verify_cosignature(text, line, cosigner)
                except errors.DeconflictError as exc:
                    raise errors.VerificationFailed(
                        f"cosignature by {name}: {exc.message}"
                    ) from None
                seen.append(f"{name} at {timestamp}")
    return seen


def check_file(path: Path, verifiers: list[Verifier], cosigners: list[Verifier]) -> Report:
    """Verify one file, whatever it holds: a receipt, a write's answer, proofs, a checkpoint."""
    report = Report()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.BadRequest(f"cannot read {path}: {exc}", field="FILE") from None
    try:
        if text.startswith(PROOF_HEADER):
            raise errors.InvalidValue(
                f"{path}: a bare tlog-proof lacks the entry; pass the whole receipt"
            )
        if 'id="deconflict-incident"' in text or '"deconflict.incident"' in text[:200]:
            from deconflict.incident import check_report

            if text.lstrip().startswith("{"):
                doc = json.loads(text)
            else:
                from deconflict.incident_html import extract

                doc = extract(text)
            report.checked += [f"{path}: {line}" for line in check_report(doc, verifiers)]
        elif text.lstrip().startswith("{"):
            doc = json.loads(text)
            if isinstance(doc, dict) and isinstance(doc.get("receipt"), dict):
                doc = doc["receipt"]
            if isinstance(doc, dict) and {"old", "new"} <= doc.keys():
                old, new = check_consistency(doc, verifiers)
                report.checked.append(f"{path}: the tree of size {new} extends size {old}")
            else:
                report.checked.append(f"{path}: {check_receipt(doc, verifiers)}")
        else:
            checkpoint = check_checkpoint(text, verifiers)
            names = _cosignatures(text, cosigners)
            if cosigners and not names:
                raise errors.VerificationFailed("no cosignature by a given cosigner")
            extra = f", cosigned by {', '.join(names)}" if names else ""
            report.checked.append(f"{path}: signed checkpoint of size {checkpoint.size}{extra}")
    except errors.VerificationFailed as exc:
        report.problems.append(f"{path}: {exc.message}")
    except json.JSONDecodeError as exc:
        raise errors.BadRequest(f"{path}: not JSON: {exc.msg}", field="FILE") from None
    return report


# --- audits ---------------------------------------------------------------------------------


def audit_store(store: Store, verifiers: list[Verifier] | None = None) -> Report:
    """Recompute the whole ledger from the store and compare it with every table it covers."""
    report = Report()
    tree = merkle.MemoryTree()
    with store.read() as tx:
        if verifiers is None:
            verifiers = [Signer.parse(k[0]).verifier for k in tx.ledger.signing_keys()]
            report.checked.append("checkpoint signatures with the store's own key (no --key)")
        logged = _Logged()
        start, gap = 0, False
        while not gap:
            rows = tx.ledger.entries(start, start + _CHUNK)
            for row in rows:
                if row.index != tree.size:
                    report.problems.append(f"entry {tree.size} is missing")
                    gap = True
                    break
                if commitment(row.salt, row.record) != row.entry:
                    report.problems.append(
                        f"entry {row.index}: its record does not match its commitment"
                    )
                try:
                    record = json.loads(row.record)
                except ValueError:
                    record = {}
                if not isinstance(record, dict) or record.get("type") != row.type:
                    report.problems.append(f"entry {row.index}: its type was changed")
                    record = {}
                logged.add(row.index, record)
                tree.append(merkle.leaf_hash(row.entry))
            gap = gap or len(rows) < _CHUNK
            start += _CHUNK
        report.checked.append(f"{tree.size} entries against their commitments")
        _cross_check(tx, tree.size, logged, report)
        _check_nodes(tx, tree, report)
        _check_checkpoints(tx, tree, verifiers, report)
    return report


#: For each kind of row the ledger vouches for, the record fields the row must match.
_COMPARED = {
    "notice": ("notice", "version", "party", "kind", "state", "doc"),
    "disclosure": ("recipient", "reason", "items"),
    "ack": ("party", "notice", "version"),
    "cosignature": ("party", "size", "timestamp", "cosignature"),
    "party.key": ("party", "vkey"),
}
_MEMBERSHIP = ("channel.add", "channel.join", "channel.leave")


def _digest(kind: str, fields: dict[str, Any]) -> bytes:
    """What a record says about its row, compact enough to keep for a million entries."""
    return hashlib.sha256(canonical({k: fields.get(k) for k in _COMPARED[kind]})).digest()


class _Logged:
    """What the audit keeps of each entry while it walks the log."""

    def __init__(self) -> None:
        self.rows: dict[int, tuple[str, bytes]] = {}  # index → (type, digest)
        self.parties: dict[str, tuple[int, str, str]] = {}  # id → (index, name, role)
        self.members: dict[str, set[str]] = {}  # channel → members, replayed

    def add(self, index: int, record: dict[str, Any]) -> None:
        kind = record.get("type")
        if kind in _COMPARED:
            self.rows[index] = (str(kind), _digest(str(kind), record))
        elif kind == "party.add":
            name, role = str(record.get("name")), str(record.get("role"))
            self.parties[str(record.get("id"))] = (index, name, role)
        elif kind == "channel.add":
            self.members[str(record.get("id"))] = set(record.get("members") or [])
        elif kind == "channel.join":
            self.members.setdefault(str(record.get("channel")), set()).add(str(record.get("party")))
        elif kind == "channel.leave":
            channel = self.members.setdefault(str(record.get("channel")), set())
            channel.discard(str(record.get("party")))


def _cross_check(tx: Any, size: int, logged: _Logged, report: Report) -> None:
    """Every row the ledger vouches for must match the entry that logged it, and vice versa."""
    seen: set[int] = set()

    def match(kind: str, idx: int | None, fields: dict[str, Any], what: str) -> None:
        if idx is None:
            return
        seen.add(idx)
        if logged.rows.get(idx) != (kind, _digest(kind, fields)):
            report.problems.append(f"{what} differs from ledger entry {idx}")

    versions = tx.ledger.logged_notice_versions(0, size)
    for row in versions:
        match("notice", row.ledger_idx, notice_entry(row), f"notice {row.id} version {row.version}")
    for notice_id in tx.ledger.notices_unlike_history():
        report.problems.append(f"notice {notice_id}: its current row is not its logged version")
    groups: dict[int, list[Any]] = defaultdict(list)
    for d in tx.ledger.logged_disclosures(0, size):
        groups[d.ledger_idx].append(d)
    for idx, items in groups.items():
        fields = {
            "recipient": items[0].recipient,
            "reason": items[0].reason,
            "items": [disclosure_item(d) for d in items],
        }
        match("disclosure", idx, fields, f"the disclosures of ledger entry {idx}")
    for a in tx.ledger.all_acks():
        fields = {"party": a.party, "notice": a.notice_id, "version": a.version}
        match("ack", a.ledger_idx, fields, f"the ack of {a.notice_id} v{a.version} by {a.party}")
    for c in tx.ledger.cosignatures(None, 2**31):
        fields = {"party": c.party, "size": c.size, "timestamp": c.timestamp, "cosignature": c.line}
        match("cosignature", c.ledger_idx, fields, f"the cosignature by {c.party} of {c.size}")
    for party, vkey, idx in tx.ledger.party_key_rows():
        match("party.key", idx, {"party": party, "vkey": vkey}, f"the key of {party}")
    for idx in sorted(set(logged.rows) - seen):
        report.problems.append(
            f"entry {idx} logged a {logged.rows[idx][0]} the store no longer holds"
        )
    for p in tx.parties.all():
        known = logged.parties.get(p.party.id)
        if known is not None and known[1:] != (p.party.name, p.party.role.value):
            report.problems.append(f"party {p.party.id} differs from ledger entry {known[0]}")
    for pid in sorted(set(logged.parties) - {p.party.id for p in tx.parties.all()}):
        report.problems.append(f"party {pid} (ledger entry {logged.parties[pid][0]}) is gone")
    for channel in tx.channels.all():
        replayed = logged.members.get(channel.id)
        if replayed is not None and replayed != set(channel.members):
            report.problems.append(
                f"channel {channel.id}: its members differ from the logged joins and leaves"
            )
    for table, count in tx.ledger.unlogged().items():
        if count:
            report.problems.append(f"{count} row(s) of {table} were never logged")
    report.checked.append(
        f"{len(versions)} notice versions, {len(groups)} disclosure entries, acks, "
        "cosignatures, keys, parties and channel members against the ledger"
    )


def _check_nodes(tx: Any, tree: merkle.MemoryTree, report: Report) -> None:
    """The stored tree nodes (what proofs and tiles are made from) match the entries."""
    level = 0
    while tree.level(level):
        ours = tree.level(level)
        for start in range(0, len(ours), _CHUNK):
            stored = tx.ledger.nodes(level, start, start + _CHUNK)
            for offset, value in enumerate(ours[start : start + _CHUNK]):
                index = start + offset
                if offset >= len(stored) or stored[offset] != value:
                    first = index << level
                    report.problems.append(
                        f"tree node ({level}, {index}) over entries {first}–"
                        f"{first + (1 << level) - 1} does not match them"
                    )
                    break
        level += 1
    report.checked.append("every stored tree node against the entries")


def _check_checkpoints(
    tx: Any, tree: merkle.MemoryTree, verifiers: list[Verifier], report: Report
) -> None:
    count, start = 0, 0
    while True:
        batch = tx.ledger.checkpoints(start, 1000)
        for stored in batch:
            count += 1
            try:
                checkpoint = check_checkpoint(stored.note, verifiers)
            except errors.DeconflictError as exc:
                report.problems.append(f"checkpoint of size {stored.size}: {exc.message}")
                continue
            if checkpoint.size != stored.size:
                report.problems.append(f"checkpoint of size {stored.size} is misfiled")
            elif checkpoint.size > tree.size:
                report.problems.append(
                    f"checkpoint of size {stored.size} covers entries {tree.size}–"
                    f"{stored.size - 1}, which the store no longer holds"
                )
            elif tree.root(checkpoint.size) != checkpoint.root:
                report.problems.append(
                    f"checkpoint of size {stored.size}: entries 0–{stored.size - 1} do not "
                    "produce its signed root"
                )
        if len(batch) < 1000:
            break
        start = batch[-1].size + 1
    report.checked.append(f"{count} signed checkpoints against the recomputed roots")


# --- tile dumps -----------------------------------------------------------------------------


def tile_path(index: int, width: int = TILE_WIDTH) -> str:
    """C2SP tlog-tiles index encoding: 1234067 → ``x001/x234/067``.

    >>> tile_path(1234067), tile_path(5, 17)
    ('x001/x234/067', '005.p/17')
    """
    digits = f"{index:03d}"
    digits = "0" * (-len(digits) % 3) + digits
    parts = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    text = "/".join([*(f"x{p}" for p in parts[:-1]), parts[-1]])
    return text if width == TILE_WIDTH else f"{text}.p/{width}"


def _tiles(size: int, level: int) -> list[tuple[int, int]]:
    """(index, width) of every tile at ``level`` for a tree of ``size``."""
    count = size // TILE_WIDTH**level
    out = [(i, TILE_WIDTH) for i in range(count // TILE_WIDTH)]
    if count % TILE_WIDTH:
        out.append((count // TILE_WIDTH, count % TILE_WIDTH))
    return out


def dump_tiles(store: Store, out: Path) -> int:
    """Write the newest signed checkpoint, its tiles and entry bundles under ``out``."""
    with store.read() as tx:
        latest = tx.ledger.latest_checkpoint()
        size = 0 if latest is None else latest.size
        if latest is not None:
            (out / "checkpoint").parent.mkdir(parents=True, exist_ok=True)
            (out / "checkpoint").write_text(latest.note, encoding="utf-8")
        level = 0
        while size // TILE_WIDTH**level:
            for index, width in _tiles(size, level):
                data = b"".join(
                    tx.ledger.nodes(8 * level, index * TILE_WIDTH, index * TILE_WIDTH + width)
                )
                _write(out / "tile" / str(level) / tile_path(index, width), data)
                if level == 0:
                    entries = tx.ledger.entries(index * TILE_WIDTH, index * TILE_WIDTH + width)
                    bundle = b"".join(len(e.entry).to_bytes(2, "big") + e.entry for e in entries)
                    _write(out / "tile" / "entries" / tile_path(index, width), bundle)
            level += 1
    return size


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def audit_tiles(directory: Path, verifiers: list[Verifier]) -> Report:
    """Recompute a tile dump from its entry bundles up to the signed root."""
    report = Report()
    try:
        note = (directory / "checkpoint").read_text(encoding="utf-8")
    except OSError as exc:
        raise errors.BadRequest(f"no checkpoint in {directory}: {exc}", field="--tiles") from None
    try:
        checkpoint = check_checkpoint(note, verifiers)
    except errors.VerificationFailed as exc:
        report.problems.append(exc.message)
        return report
    size = checkpoint.size
    tree = merkle.MemoryTree()
    for index, width in _tiles(size, 0):
        try:
            bundle = (directory / "tile" / "entries" / tile_path(index, width)).read_bytes()
        except OSError:
            report.problems.append(f"entry bundle {tile_path(index, width)} is missing")
            return report
        pos = 0
        for i in range(width):
            length = int.from_bytes(bundle[pos : pos + 2], "big")
            entry = bundle[pos + 2 : pos + 2 + length]
            pos += 2 + length
            if len(entry) != length:
                report.problems.append(f"entry {index * TILE_WIDTH + i}: the bundle is truncated")
                return report
            tree.append(merkle.leaf_hash(entry))
    level = 0
    while size // TILE_WIDTH**level:
        hashes = tree.level(8 * level)
        for index, width in _tiles(size, level):
            name = f"tile/{level}/{tile_path(index, width)}"
            try:
                data = (directory / name).read_bytes()
            except OSError:
                report.problems.append(f"{name} is missing")
                continue
            for i in range(width):
                if data[32 * i : 32 * i + 32] != hashes[index * TILE_WIDTH + i]:
                    first = (index * TILE_WIDTH + i) * TILE_WIDTH**level
                    what = (
                        f"entry {first} was rewritten"
                        if level == 0
                        else f"entries {first}–{first + TILE_WIDTH**level - 1} were rewritten"
                    )
                    report.problems.append(f"{name}: hash {i} does not match; {what}")
        level += 1
    if tree.root(size) != checkpoint.root:
        report.problems.append(f"the entries do not produce the signed root of size {size}")
    report.checked.append(f"tile dump of {size} entries against the signed checkpoint")
    return report
