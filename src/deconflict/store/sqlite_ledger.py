"""The ledger's tables in the embedded store: entries, tree nodes, checkpoints, keys."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from .records import (
    AckRecord,
    CheckpointRecord,
    CosignatureRecord,
    DisclosureRecord,
    LedgerEntry,
    NoticeRecord,
)
from .sqlite_rows import disclosure
from .sqlite_rows import instant as _instant
from .sqlite_rows import ts as _ts

__all__ = ["SqliteLedger"]


def _checkpoint(row: sqlite3.Row | None) -> CheckpointRecord | None:
    if row is None:
        return None
    published = row["published_at"]
    return CheckpointRecord(
        row["size"], row["note"], _instant(row["at"]), _instant(published) if published else None
    )


def _ack(r: sqlite3.Row) -> AckRecord:
    return AckRecord(r["notice_id"], r["version"], r["party"], _instant(r["at"]), r["ledger_idx"])


def _blob(value: bytes | str) -> bytes:
    """A blob column; text put there by hand is read as its UTF-8 bytes."""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _entry(row: sqlite3.Row) -> LedgerEntry:
    return LedgerEntry(
        row["idx"],
        row["type"],
        _instant(row["at"]),
        _blob(row["entry"]),
        _blob(row["salt"]),
        _blob(row["record"]),
    )


class SqliteLedger:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    # --- keys -----------------------------------------------------------------------------

    def signing_keys(self) -> list[tuple[str, dt.datetime, dt.datetime | None]]:
        """``(private key, created, retired)`` of every signing key, oldest first."""
        rows = self._c.execute(
            "SELECT private_key, created_at, retired_at FROM ledger_keys ORDER BY created_at"
        ).fetchall()
        return [(r[0], _instant(r[1]), _instant(r[2]) if r[2] else None) for r in rows]

    def add_key(self, key_id: str, name: str, private_key: str, vkey: str, at: dt.datetime) -> None:
        self._c.execute(
            "INSERT INTO ledger_keys (key_id, name, private_key, vkey, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (key_id, name, private_key, vkey, _ts(at)),
        )

    def retire_key(self, key_id: str, at: dt.datetime) -> None:
        self._c.execute(
            "UPDATE ledger_keys SET retired_at = ? WHERE key_id = ? AND retired_at IS NULL",
            (_ts(at), key_id),
        )

    # --- the tree -------------------------------------------------------------------------

    def size(self) -> int:
        row = self._c.execute("SELECT MAX(idx) FROM ledger_entries").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def node(self, level: int, idx: int) -> bytes | None:
        row = self._c.execute(
            "SELECT hash FROM ledger_nodes WHERE level = ? AND idx = ?", (level, idx)
        ).fetchone()
        return None if row is None else _blob(row[0])

    def nodes(self, level: int, start: int, end: int) -> list[bytes]:
        """Complete nodes ``start <= idx < end`` at ``level``, in order (stops at a gap)."""
        rows = self._c.execute(
            "SELECT idx, hash FROM ledger_nodes WHERE level = ? AND idx >= ? AND idx < ?"
            " ORDER BY idx",
            (level, start, end),
        ).fetchall()
        out = []
        for expected, row in enumerate(rows, start):
            if row[0] != expected:
                break
            out.append(_blob(row[1]))
        return out

    def append(
        self, entries: Sequence[LedgerEntry], nodes: Sequence[tuple[int, int, bytes]]
    ) -> None:
        self._c.executemany(
            "INSERT INTO ledger_entries (idx, type, at, entry, salt, record)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(e.index, e.type, _ts(e.at), e.entry, e.salt, e.record) for e in entries],
        )
        self._c.executemany("INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)

    def entries(self, start: int, end: int) -> list[LedgerEntry]:
        rows = self._c.execute(
            "SELECT * FROM ledger_entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)
        ).fetchall()
        return [_entry(r) for r in rows]

    # --- checkpoints ----------------------------------------------------------------------

    def put_checkpoint(self, size: int, note: str, at: dt.datetime) -> None:
        self._c.execute(
            "INSERT INTO ledger_checkpoints (size, note, at) VALUES (?, ?, ?)",
            (size, note, _ts(at)),
        )

    def checkpoint(self, size: int) -> CheckpointRecord | None:
        return _checkpoint(
            self._c.execute("SELECT * FROM ledger_checkpoints WHERE size = ?", (size,)).fetchone()
        )

    def latest_checkpoint(self, published: bool = False) -> CheckpointRecord | None:
        where = "WHERE published_at IS NOT NULL" if published else ""
        return _checkpoint(
            self._c.execute(
                f"SELECT * FROM ledger_checkpoints {where} ORDER BY size DESC LIMIT 1"
            ).fetchone()
        )

    def publish(self, size: int, at: dt.datetime) -> None:
        self._c.execute(
            "UPDATE ledger_checkpoints SET published_at = ?"
            " WHERE size = ? AND published_at IS NULL",
            (_ts(at), size),
        )

    def checkpoints(self, start: int = 0, limit: int = 1000) -> list[CheckpointRecord]:
        """Checkpoints of size ``>= start``, smallest first."""
        rows = self._c.execute(
            "SELECT * FROM ledger_checkpoints WHERE size >= ? ORDER BY size LIMIT ?",
            (start, limit),
        ).fetchall()
        return [c for c in map(_checkpoint, rows) if c is not None]

    # --- cosigning keys, cosignatures and acknowledgements ---------------------------------

    def add_party_key(
        self, party: str, key_id: str, vkey: str, at: dt.datetime, ledger_idx: int
    ) -> None:
        self._c.execute(
            "INSERT INTO party_keys (party, key_id, vkey, added_at, ledger_idx)"
            " VALUES (?, ?, ?, ?, ?)",
            (party, key_id, vkey, _ts(at), ledger_idx),
        )

    def party_keys(self, party: str) -> list[str]:
        rows = self._c.execute(
            "SELECT vkey FROM party_keys WHERE party = ? ORDER BY added_at", (party,)
        ).fetchall()
        return [r[0] for r in rows]

    def add_cosignature(self, record: CosignatureRecord) -> bool:
        """Store a cosignature; False if this one (party, size, timestamp) is known."""
        cur = self._c.execute(
            "INSERT OR IGNORE INTO cosignatures (party, size, timestamp, line, at, ledger_idx)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                record.party,
                record.size,
                record.timestamp,
                record.line,
                _ts(record.at),
                record.ledger_idx,
            ),
        )
        return cur.rowcount == 1

    def cosignatures(self, party: str | None = None, limit: int = 1000) -> list[CosignatureRecord]:
        where, args = ("WHERE party = ?", [party]) if party is not None else ("", [])
        rows = self._c.execute(
            f"SELECT * FROM cosignatures {where} ORDER BY size DESC, timestamp DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [
            CosignatureRecord(
                r["party"], r["size"], r["timestamp"], r["line"], _instant(r["at"]), r["ledger_idx"]
            )
            for r in rows
        ]

    def add_ack(self, record: AckRecord) -> bool:
        """Store an acknowledgement; False if the party had already acknowledged that version."""
        cur = self._c.execute(
            "INSERT OR IGNORE INTO acks (notice_id, version, party, at, ledger_idx)"
            " VALUES (?, ?, ?, ?, ?)",
            (record.notice_id, record.version, record.party, _ts(record.at), record.ledger_idx),
        )
        return cur.rowcount == 1

    def acks(self, notice_id: str) -> list[AckRecord]:
        rows = self._c.execute(
            "SELECT * FROM acks WHERE notice_id = ? ORDER BY version, at, party", (notice_id,)
        ).fetchall()
        return [_ack(r) for r in rows]

    # --- what the audit compares with the ledger -------------------------------------------

    def logged_notice_versions(self, start: int, end: int) -> list[NoticeRecord]:
        """Notice versions logged by entries ``start <= idx < end``."""
        rows = self._c.execute(
            "SELECT v.*, n.party, n.kind, n.created_at FROM notice_versions AS v"
            " JOIN notices AS n ON n.id = v.notice_id"
            " WHERE v.ledger_idx >= ? AND v.ledger_idx < ? ORDER BY v.ledger_idx",
            (start, end),
        ).fetchall()
        return [
            NoticeRecord(
                r["notice_id"],
                r["party"],
                r["kind"],
                r["version"],
                r["state"],
                json.loads(r["doc"]),
                _instant(r["created_at"]),
                _instant(r["at"]),
                r["ledger_idx"],
            )
            for r in rows
        ]

    def logged_disclosures(self, start: int, end: int) -> list[DisclosureRecord]:
        """Disclosures logged by entries ``start <= idx < end``, in the order written."""
        rows = self._c.execute(
            "SELECT * FROM disclosures WHERE ledger_idx >= ? AND ledger_idx < ? ORDER BY seq",
            (start, end),
        ).fetchall()
        return [disclosure(r) for r in rows]

    def all_acks(self) -> list[AckRecord]:
        rows = self._c.execute("SELECT * FROM acks ORDER BY ledger_idx").fetchall()
        return [_ack(r) for r in rows]

    def party_key_rows(self) -> list[tuple[str, str, int]]:
        """``(party, vkey, ledger index)`` of every registered cosigning key."""
        rows = self._c.execute(
            "SELECT party, vkey, ledger_idx FROM party_keys ORDER BY ledger_idx"
        ).fetchall()
        return [(r[0], r[1], int(r[2])) for r in rows]

    def notices_unlike_history(self) -> list[str]:
        """Notices whose current row is not their newest stored version, verbatim."""
        rows = self._c.execute(
            "SELECT n.id FROM notices AS n"
            " LEFT JOIN notice_versions AS v ON v.notice_id = n.id AND v.version = n.version"
            " WHERE v.notice_id IS NULL OR v.doc != n.doc OR v.state != n.state"
            " OR EXISTS (SELECT 1 FROM notice_versions AS w"
            "            WHERE w.notice_id = n.id AND w.version > n.version)"
            " ORDER BY n.id"
        ).fetchall()
        return [r[0] for r in rows]

    def unlogged(self) -> dict[str, int]:
        """How many notice versions and disclosures no ledger entry accounts for."""
        out: dict[str, Any] = {}
        for table in ("notice_versions", "disclosures"):
            row = self._c.execute(
                f"SELECT COUNT(*) FROM {table} WHERE ledger_idx IS NULL"
            ).fetchone()
            out[table] = int(row[0])
        return out
