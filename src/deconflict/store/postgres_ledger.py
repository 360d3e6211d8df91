"""The ledger's tables in the PostgreSQL store: entries, tree nodes, checkpoints, keys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from .postgres_notices import HISTORY
from .postgres_rows import DISCLOSURE, Repo, disclosure, fetch, fetch_one, insert, notice, values
from .records import (
    AckRecord,
    CheckpointRecord,
    CosignatureRecord,
    DisclosureRecord,
    LedgerEntry,
    NoticeRecord,
)

__all__ = ["PostgresLedger"]

_ENTRY = "idx, type, at, entry, salt, record"
_CHECKPOINT = "SELECT size, note, at, published_at FROM ledger_checkpoints"
_COSIGNATURE_COLUMNS = "party, size, timestamp, line, at, ledger_idx"
_COSIGNATURE = f"SELECT {_COSIGNATURE_COLUMNS} FROM cosignatures"
_ACK_COLUMNS = "notice_id, version, party, at, ledger_idx"
_ACK = f"SELECT {_ACK_COLUMNS} FROM acks"


class PostgresLedger(Repo):
    # --- keys -----------------------------------------------------------------------------

    def signing_keys(self) -> list[tuple[str, dt.datetime, dt.datetime | None]]:
        """``(private key, created, retired)`` of every signing key, oldest first."""
        return self._c.execute(
            "SELECT private_key, created_at, retired_at FROM ledger_keys ORDER BY created_at"
        ).fetchall()

    def add_key(self, key_id: str, name: str, private_key: str, vkey: str, at: dt.datetime) -> None:
        row = (key_id, name, private_key, vkey, at)
        self._c.execute(insert("ledger_keys", "key_id, name, private_key, vkey, created_at"), row)

    def retire_key(self, key_id: str, at: dt.datetime) -> None:
        self._c.execute(
            "UPDATE ledger_keys SET retired_at = %s WHERE key_id = %s AND retired_at IS NULL",
            (at, key_id),
        )

    # --- the tree -------------------------------------------------------------------------

    def size(self) -> int:
        row = self._c.execute("SELECT coalesce(max(idx) + 1, 0) FROM ledger_entries").fetchone()
        return int(row[0]) if row else 0

    def node(self, level: int, idx: int) -> bytes | None:
        row = self._c.execute(
            "SELECT hash FROM ledger_nodes WHERE level = %s AND idx = %s", (level, idx)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def nodes(self, level: int, start: int, end: int) -> list[bytes]:
        """Complete nodes ``start <= idx < end`` at ``level``, in order (stops at a gap)."""
        # Indexes only grow, so the first gap leaves every later node behind its expected index.
        rows = self._c.execute(
            "SELECT hash FROM (SELECT idx, hash, %s + row_number() OVER (ORDER BY idx) - 1 AS due"
            "  FROM ledger_nodes WHERE level = %s AND idx >= %s AND idx < %s) AS n"
            " WHERE idx = due ORDER BY idx",
            (start, level, start, end),
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def append(
        self, entries: Sequence[LedgerEntry], nodes: Sequence[tuple[int, int, bytes]]
    ) -> None:
        with self._c.cursor() as cur:
            cur.executemany(
                insert("ledger_entries", _ENTRY), [values(e, _ENTRY, idx=e.index) for e in entries]
            )
            cur.executemany(insert("ledger_nodes", "level, idx, hash"), nodes)

    def entries(self, start: int, end: int) -> list[LedgerEntry]:
        return fetch(
            self._c,
            LedgerEntry,
            f"SELECT {_ENTRY} FROM ledger_entries WHERE idx >= %s AND idx < %s ORDER BY idx",
            (start, end),
        )

    # --- checkpoints ----------------------------------------------------------------------

    def put_checkpoint(self, size: int, note: str, at: dt.datetime) -> None:
        self._c.execute(insert("ledger_checkpoints", "size, note, at"), (size, note, at))

    def checkpoint(self, size: int) -> CheckpointRecord | None:
        return fetch_one(self._c, CheckpointRecord, f"{_CHECKPOINT} WHERE size = %s", (size,))

    def latest_checkpoint(self, published: bool = False) -> CheckpointRecord | None:
        where = "WHERE published_at IS NOT NULL" if published else ""
        query = f"{_CHECKPOINT} {where} ORDER BY size DESC LIMIT 1"
        return fetch_one(self._c, CheckpointRecord, query)

    def publish(self, size: int, at: dt.datetime) -> None:
        self._c.execute(
            "UPDATE ledger_checkpoints SET published_at = %s"
            " WHERE size = %s AND published_at IS NULL",
            (at, size),
        )

    def checkpoints(self, start: int = 0, limit: int = 1000) -> list[CheckpointRecord]:
        """Checkpoints of size ``>= start``, smallest first."""
        query = f"{_CHECKPOINT} WHERE size >= %s ORDER BY size LIMIT %s"
        return fetch(self._c, CheckpointRecord, query, (start, limit))

    # --- cosigning keys, cosignatures and acknowledgements ---------------------------------

    def add_party_key(
        self, party: str, key_id: str, vkey: str, at: dt.datetime, ledger_idx: int
    ) -> None:
        row = (party, key_id, vkey, at, ledger_idx)
        self._c.execute(insert("party_keys", "party, key_id, vkey, added_at, ledger_idx"), row)

    def party_keys(self, party: str) -> list[str]:
        query = "SELECT vkey FROM party_keys WHERE party = %s ORDER BY added_at"
        return fetch(self._c, str, query, (party,))

    def add_cosignature(self, record: CosignatureRecord) -> bool:
        """Store a cosignature; False if this one (party, size, timestamp) is known."""
        query = insert("cosignatures", _COSIGNATURE_COLUMNS) + " ON CONFLICT DO NOTHING"
        cur = self._c.execute(query, values(record, _COSIGNATURE_COLUMNS))
        return cur.rowcount == 1

    def cosignatures(self, party: str | None = None, limit: int = 1000) -> list[CosignatureRecord]:
        return fetch(
            self._c,
            CosignatureRecord,
            f"{_COSIGNATURE} WHERE party = coalesce(%s, party)"
            " ORDER BY size DESC, timestamp DESC LIMIT %s",
            (party, limit),
        )

    def add_ack(self, record: AckRecord) -> bool:
        """Store an acknowledgement; False if the party had already acknowledged that version."""
        query = insert("acks", _ACK_COLUMNS) + " ON CONFLICT DO NOTHING"
        cur = self._c.execute(query, values(record, _ACK_COLUMNS))
        return cur.rowcount == 1

    def acks(self, notice_id: str) -> list[AckRecord]:
        query = f"{_ACK} WHERE notice_id = %s ORDER BY version, at, party"
        return fetch(self._c, AckRecord, query, (notice_id,))

    # --- what the audit compares with the ledger -------------------------------------------

    def logged_notice_versions(self, start: int, end: int) -> list[NoticeRecord]:
        """Notice versions logged by entries ``start <= idx < end``."""
        query = f"{HISTORY} WHERE v.ledger_idx >= %s AND v.ledger_idx < %s ORDER BY v.ledger_idx"
        return fetch(self._c, notice, query, (start, end))

    def logged_disclosures(self, start: int, end: int) -> list[DisclosureRecord]:
        """Disclosures logged by entries ``start <= idx < end``, in the order written."""
        query = (
            f"SELECT {DISCLOSURE} FROM disclosures"
            " WHERE ledger_idx >= %s AND ledger_idx < %s ORDER BY seq"
        )
        return fetch(self._c, disclosure, query, (start, end))

    def all_acks(self) -> list[AckRecord]:
        return fetch(self._c, AckRecord, f"{_ACK} ORDER BY ledger_idx")

    def party_key_rows(self) -> list[tuple[str, str, int]]:
        """``(party, vkey, ledger index)`` of every registered cosigning key."""
        return self._c.execute(
            "SELECT party, vkey, ledger_idx FROM party_keys ORDER BY ledger_idx"
        ).fetchall()

    def notices_unlike_history(self) -> list[str]:
        """Notices whose current row is not their newest stored version, verbatim."""
        return fetch(
            self._c,
            str,
            "SELECT n.id FROM notices AS n LEFT JOIN LATERAL ("
            "  SELECT version, state, doc FROM notice_versions WHERE notice_id = n.id"
            "  ORDER BY version DESC LIMIT 1) AS v ON true"
            " WHERE (v.version, v.state, v.doc) IS DISTINCT FROM (n.version, n.state, n.doc)"
            " ORDER BY n.id",
        )

    def unlogged(self) -> dict[str, int]:
        """How many notice versions and disclosures no ledger entry accounts for."""
        row = self._c.execute(
            "SELECT (SELECT count(*) FROM notice_versions WHERE ledger_idx IS NULL),"
            " (SELECT count(*) FROM disclosures WHERE ledger_idx IS NULL)"
        ).fetchone()
        counts = row if row is not None else (0, 0)
        return {"notice_versions": int(counts[0]), "disclosures": int(counts[1])}
