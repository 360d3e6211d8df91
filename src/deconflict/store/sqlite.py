"""The embedded backend: one SQLite file in WAL mode with durable commits.

All writes go through one connection that runs each transaction inside
``BEGIN IMMEDIATE``, so admission is serialised; reads use one connection per
thread and see a consistent snapshot. ``synchronous=FULL`` makes every
committed write survive a crash or power loss.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from deconflict.model import Channel, Party, Role

from .facade import FacadeDocs
from .meters import Meters, Showings
from .records import ConflictRecord, DisclosureRecord, Extent, NoticeRecord, PartyRecord, VolumeRow
from .sqlite_alerts import SqliteAlerts
from .sqlite_ledger import SqliteLedger
from .sqlite_rows import disclosure
from .sqlite_rows import dump as _dump
from .sqlite_rows import instant as _instant
from .sqlite_rows import ts as _ts
from .sqlite_tracks import SqliteTracks

__all__ = ["SqliteStore"]

_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
_FAR_MINUTES = 1.0e8  # open-ended notices reach ~190 years past the epoch
_FAR_ALT = 1.0e7
_MMAP_BYTES = 256 * 1024 * 1024
_CACHE_KIB = 16 * 1024


def _minutes(instant: dt.datetime, round_up: bool) -> float:
    minutes = (instant - _EPOCH).total_seconds() / 60.0
    return float(math.ceil(minutes) if round_up else math.floor(minutes))


def _alt(value: float) -> float:
    return max(-_FAR_ALT, min(_FAR_ALT, value))


class _Parties:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    def _record(self, row: sqlite3.Row | None) -> PartyRecord | None:
        if row is None:
            return None
        party = Party(row["id"], row["name"], Role(row["role"]), row["contact"])
        expires = row["token_expires_at"]
        return PartyRecord(
            party,
            bytes(row["token_hash"]),
            _instant(row["created_at"]),
            None if expires is None else _instant(expires),
        )

    def add(
        self,
        party: Party,
        token_hash: bytes,
        at: dt.datetime,
        expires_at: dt.datetime | None = None,
    ) -> None:
        self._c.execute(
            "INSERT INTO parties (id, name, role, contact, token_hash, created_at,"
            " token_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                party.id,
                party.name,
                party.role.value,
                party.contact,
                token_hash,
                _ts(at),
                None if expires_at is None else _ts(expires_at),
            ),
        )

    def get(self, party_id: str) -> PartyRecord | None:
        return self._record(
            self._c.execute("SELECT * FROM parties WHERE id = ?", (party_id,)).fetchone()
        )

    def by_token_hash(self, token_hash: bytes) -> PartyRecord | None:
        row = self._c.execute(
            "SELECT * FROM parties WHERE token_hash = ?", (token_hash,)
        ).fetchone()
        return self._record(row)

    def set_token_hash(
        self, party_id: str, token_hash: bytes, expires_at: dt.datetime | None = None
    ) -> bool:
        cur = self._c.execute(
            "UPDATE parties SET token_hash = ?, token_expires_at = ? WHERE id = ?",
            (token_hash, None if expires_at is None else _ts(expires_at), party_id),
        )
        return cur.rowcount == 1

    def all(self) -> list[PartyRecord]:
        rows = self._c.execute("SELECT * FROM parties ORDER BY id").fetchall()
        return [r for r in map(self._record, rows) if r is not None]


class _Channels:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    def _members(self, channel_id: str) -> frozenset[str]:
        rows = self._c.execute(
            "SELECT party_id FROM channel_members WHERE channel_id = ?", (channel_id,)
        ).fetchall()
        return frozenset(r[0] for r in rows)

    def add(self, channel: Channel, at: dt.datetime) -> None:
        self._c.execute(
            "INSERT INTO channels (id, name, created_at) VALUES (?, ?, ?)",
            (channel.id, channel.name, _ts(at)),
        )

    def get(self, channel_id: str) -> Channel | None:
        row = self._c.execute("SELECT * FROM channels WHERE id = ?", (channel_id,)).fetchone()
        if row is None:
            return None
        return Channel(row["id"], row["name"], self._members(channel_id))

    def all(self) -> list[Channel]:
        rows = self._c.execute("SELECT id FROM channels ORDER BY id").fetchall()
        return [c for c in (self.get(r[0]) for r in rows) if c is not None]

    def _change(
        self, channel_id: str, party_id: str, action: str, at: dt.datetime, by: str
    ) -> None:
        self._c.execute(
            "INSERT INTO channel_history (channel_id, party_id, action, at, by_party)"
            " VALUES (?, ?, ?, ?, ?)",
            (channel_id, party_id, action, _ts(at), by),
        )

    def join(self, channel_id: str, party_id: str, at: dt.datetime, by: str) -> bool:
        cur = self._c.execute(
            "INSERT OR IGNORE INTO channel_members (channel_id, party_id) VALUES (?, ?)",
            (channel_id, party_id),
        )
        if cur.rowcount:
            self._change(channel_id, party_id, "join", at, by)
        return bool(cur.rowcount)

    def leave(self, channel_id: str, party_id: str, at: dt.datetime, by: str) -> bool:
        cur = self._c.execute(
            "DELETE FROM channel_members WHERE channel_id = ? AND party_id = ?",
            (channel_id, party_id),
        )
        if cur.rowcount:
            self._change(channel_id, party_id, "leave", at, by)
        return bool(cur.rowcount)

    def of_party(self, party_id: str) -> frozenset[str]:
        rows = self._c.execute(
            "SELECT channel_id FROM channel_members WHERE party_id = ?", (party_id,)
        ).fetchall()
        return frozenset(r[0] for r in rows)


def _notice(row: sqlite3.Row) -> NoticeRecord:
    return NoticeRecord(
        id=row["id"],
        party=row["party"],
        kind=row["kind"],
        version=row["version"],
        state=row["state"],
        doc=json.loads(row["doc"]),
        created_at=_instant(row["created_at"]),
        updated_at=_instant(row["updated_at"]),
    )


_CANDIDATES = (
    "SELECT v.id, v.notice_id, v.idx, v.party, v.kind, v.packed"
    " FROM volume_index AS r JOIN volumes AS v ON v.id = r.id >> 1"
    " WHERE r.lon_max >= ? AND r.lon_min <= ? AND r.lat_max >= ? AND r.lat_min <= ?"
    " AND r.alt_max >= ? AND r.alt_min <= ? AND r.t_max >= ? AND r.t_min <= ?"
    " AND v.party != ?"
)


def _box(extent: Extent, piece: tuple[float, float, float, float]) -> tuple[float, ...]:
    """R*Tree bounds of one piece of an extent (outward rounding is SQLite's)."""
    west, south, east, north = piece
    lo, hi = _alt(extent.alt_lo), _alt(extent.alt_hi)
    t_lo = _minutes(extent.start, False)
    t_hi = _FAR_MINUTES if extent.end is None else _minutes(extent.end, True)
    return (west, east, south, north, min(lo, hi), max(lo, hi), t_lo, t_hi)


class _Notices:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    def put(self, record: NoticeRecord, volumes: Sequence[VolumeRow]) -> None:
        doc = _dump(record.doc)
        self._c.execute(
            "INSERT INTO notices (id, party, kind, version, state, doc, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET version = excluded.version,"
            " state = excluded.state, doc = excluded.doc, updated_at = excluded.updated_at",
            (
                record.id,
                record.party,
                record.kind,
                record.version,
                record.state,
                doc,
                _ts(record.created_at),
                _ts(record.updated_at),
            ),
        )
        self._c.execute(
            "INSERT INTO notice_versions (notice_id, version, state, doc, at, ledger_idx)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.version,
                record.state,
                doc,
                _ts(record.updated_at),
                record.ledger_idx,
            ),
        )
        self._unindex(record.id)
        self._index(record, volumes)

    def put_many(self, items: Sequence[tuple[NoticeRecord, Sequence[VolumeRow]]]) -> None:
        """Store many new notices at once (bulk import); none may exist yet."""
        self._c.executemany(
            "INSERT INTO notices (id, party, kind, version, state, doc, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.id,
                    r.party,
                    r.kind,
                    r.version,
                    r.state,
                    _dump(r.doc),
                    _ts(r.created_at),
                    _ts(r.updated_at),
                )
                for r, _ in items
            ],
        )
        self._c.executemany(
            "INSERT INTO notice_versions (notice_id, version, state, doc, at, ledger_idx)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (r.id, r.version, r.state, _dump(r.doc), _ts(r.updated_at), r.ledger_idx)
                for r, _ in items
            ],
        )
        for record, volumes in items:
            self._index(record, volumes)

    def _unindex(self, notice_id: str) -> None:
        old = [
            r[0]
            for r in self._c.execute("SELECT id FROM volumes WHERE notice_id = ?", (notice_id,))
        ]
        self._c.executemany(
            "DELETE FROM volume_index WHERE id = ?", [(2 * v + k,) for v in old for k in (0, 1)]
        )
        self._c.execute("DELETE FROM volumes WHERE notice_id = ?", (notice_id,))

    def _index(self, record: NoticeRecord, volumes: Sequence[VolumeRow]) -> None:
        for volume in volumes:
            cur = self._c.execute(
                "INSERT INTO volumes (notice_id, idx, party, kind, packed) VALUES (?, ?, ?, ?, ?)",
                (record.id, volume.idx, record.party, record.kind, volume.packed),
            )
            self._c.executemany(
                "INSERT INTO volume_index VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (2 * int(cur.lastrowid or 0) + k, *_box(volume.extent, piece))
                    for k, piece in enumerate(volume.extent.box.pieces())
                ],
            )

    def candidate_volumes(
        self, queries: Sequence[Extent], exclude_party: str | None = None
    ) -> list[tuple[Any, ...]]:
        """Rows (see :data:`VOLUME_HIT_COLUMNS`) of indexed volumes meeting any query extent."""
        return self.candidate_pairs(queries, exclude_party)[0]

    def candidate_pairs(
        self, queries: Sequence[Extent], exclude_party: str | None = None
    ) -> tuple[list[tuple[Any, ...]], list[tuple[int, int]]]:
        seen: dict[int, int] = {}
        found: list[tuple[Any, ...]] = []
        pairs: set[tuple[int, int]] = set()
        for k, q in enumerate(queries):
            for piece in q.box.pieces():
                args = (*_box(q, piece), "" if exclude_party is None else exclude_party)
                for row in self._c.execute(_CANDIDATES, args):
                    at = seen.setdefault(row[0], len(found))
                    if at == len(found):
                        found.append(tuple(row))
                    pairs.add((k, at))
        return found, sorted(pairs)

    def get(self, notice_id: str) -> NoticeRecord | None:
        row = self._c.execute("SELECT * FROM notices WHERE id = ?", (notice_id,)).fetchone()
        return None if row is None else _notice(row)

    def history(self, notice_id: str) -> list[NoticeRecord]:
        current = self.get(notice_id)
        if current is None:
            return []
        rows = self._c.execute(
            "SELECT * FROM notice_versions WHERE notice_id = ? ORDER BY version", (notice_id,)
        ).fetchall()
        return [
            NoticeRecord(
                id=notice_id,
                party=current.party,
                kind=current.kind,
                version=r["version"],
                state=r["state"],
                doc=json.loads(r["doc"]),
                created_at=current.created_at,
                updated_at=_instant(r["at"]),
                ledger_idx=r["ledger_idx"],
            )
            for r in rows
        ]

    def candidates(self, queries: Sequence[Extent]) -> list[NoticeRecord]:
        ids = sorted({row[1] for row in self.candidate_volumes(queries)})
        return self._many(ids) if ids else []

    def get_many(self, notice_ids: Sequence[str]) -> list[NoticeRecord]:
        return self._many(list(notice_ids))

    def _many(self, ids: list[str]) -> list[NoticeRecord]:
        out: list[NoticeRecord] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._c.execute(f"SELECT * FROM notices WHERE id IN ({marks})", chunk)
            out.extend(_notice(r) for r in rows)
        out.sort(key=lambda r: r.id)
        return out

    def of_party(self, party_id: str) -> list[NoticeRecord]:
        rows = self._c.execute(
            "SELECT * FROM notices WHERE party = ? ORDER BY created_at, id", (party_id,)
        ).fetchall()
        return [_notice(r) for r in rows]


def _conflict(row: sqlite3.Row) -> ConflictRecord:
    return ConflictRecord(
        a=row["a"],
        a_party=row["a_party"],
        a_version=row["a_version"],
        b=row["b"],
        b_party=row["b_party"],
        b_version=row["b_version"],
        kind=row["kind"],
        status=row["status"],
        pairs=tuple((int(i), int(j)) for i, j in json.loads(row["pairs"])),
        detected_at=_instant(row["detected_at"]),
        updated_at=_instant(row["updated_at"]),
    )


class _Conflicts:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    def put(self, r: ConflictRecord) -> None:
        self.put_many([r])

    def put_many(self, records: Sequence[ConflictRecord]) -> None:
        self._c.executemany(
            "INSERT INTO conflicts (a, b, a_party, b_party, a_version, b_version, kind, status,"
            " pairs, detected_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (a, b) DO UPDATE SET a_version = excluded.a_version,"
            " b_version = excluded.b_version, kind = excluded.kind, status = excluded.status,"
            " pairs = excluded.pairs, detected_at = excluded.detected_at,"
            " updated_at = excluded.updated_at",
            [
                (
                    r.a,
                    r.b,
                    r.a_party,
                    r.b_party,
                    r.a_version,
                    r.b_version,
                    r.kind,
                    r.status,
                    _dump([list(p) for p in r.pairs]),
                    _ts(r.detected_at),
                    _ts(r.updated_at),
                )
                for r in records
            ],
        )

    def get(self, a: str, b: str) -> ConflictRecord | None:
        row = self._c.execute("SELECT * FROM conflicts WHERE a = ? AND b = ?", (a, b)).fetchone()
        return None if row is None else _conflict(row)

    def _where(
        self, clause: str, args: tuple[Any, ...], status: str | None
    ) -> list[ConflictRecord]:
        sql = f"SELECT * FROM conflicts WHERE ({clause})"
        if status is not None:
            sql += " AND status = ?"
            args = (*args, status)
        rows = self._c.execute(sql + " ORDER BY detected_at, a, b", args).fetchall()
        return [_conflict(r) for r in rows]

    def involving(self, notice_id: str, status: str | None = "open") -> list[ConflictRecord]:
        return self._where("a = ? OR b = ?", (notice_id, notice_id), status)

    def of_party(self, party_id: str, status: str | None = "open") -> list[ConflictRecord]:
        return self._where("a_party = ? OR b_party = ?", (party_id, party_id), status)


class _Disclosures:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    def record(self, items: Sequence[DisclosureRecord]) -> None:
        self._c.executemany(
            "INSERT INTO disclosures (at, recipient, owner, notice_id, notice_version, reason,"
            " level, view, ledger_idx) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    _ts(d.at),
                    d.recipient,
                    d.owner,
                    d.notice_id,
                    d.notice_version,
                    d.reason,
                    d.level,
                    _dump(d.view),
                    d.ledger_idx,
                )
                for d in items
            ],
        )

    def query(
        self, recipient: str | None = None, notice_id: str | None = None, limit: int = 1000
    ) -> list[DisclosureRecord]:
        clauses, args = ["1 = 1"], []
        if recipient is not None:
            clauses.append("recipient = ?")
            args.append(recipient)
        if notice_id is not None:
            clauses.append("notice_id = ?")
            args.append(notice_id)
        rows = self._c.execute(
            f"SELECT * FROM disclosures WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [disclosure(r) for r in rows]


class _Idempotency:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    def get(self, party_id: str, key: str) -> tuple[str, int, dict[str, Any]] | None:
        row = self._c.execute(
            "SELECT fingerprint, status, body FROM idempotency WHERE party = ? AND key = ?",
            (party_id, key),
        ).fetchone()
        return None if row is None else (str(row[0]), int(row[1]), json.loads(row[2]))

    def put(
        self,
        party_id: str,
        key: str,
        fingerprint: str,
        status: int,
        body: dict[str, Any],
        at: dt.datetime,
    ) -> None:
        self._c.execute(
            "INSERT INTO idempotency (party, key, fingerprint, status, body, at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (party_id, key, fingerprint, status, _dump(body), _ts(at)),
        )


class _Tx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.parties = _Parties(conn)
        self.channels = _Channels(conn)
        self.notices = _Notices(conn)
        self.conflicts = _Conflicts(conn)
        self.disclosures = _Disclosures(conn)
        self.idempotency = _Idempotency(conn)
        self.ledger = SqliteLedger(conn)
        self.alerts = SqliteAlerts(conn)
        self.tracks = SqliteTracks(conn)
        self.facade = FacadeDocs(conn, "?")
        self.meters = Meters(conn, "?")
        self.shown = Showings(conn, "?")


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("deconflict.store") / "migrations" / "sqlite"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class SqliteStore:
    """A store in one SQLite file; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        self._lock = threading.Lock()
        self._local = threading.local()
        self._writer = self._connect()
        self._migrate()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
        # Reads map the file and keep hot pages: the R*Tree and volume rows are read on
        # every admission. Both are bounded, so memory stays bounded as the store grows.
        conn.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
        conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
        return conn

    def _migrate(self) -> None:
        with self._lock:
            current = self._writer.execute("PRAGMA user_version").fetchone()[0]
            for number, script in _migrations():
                if number <= current:
                    continue
                self._writer.execute("BEGIN IMMEDIATE")
                try:
                    for statement in script.split(";\n"):
                        if statement.strip():
                            self._writer.execute(statement)
                    self._writer.execute(f"PRAGMA user_version = {number}")
                except BaseException:
                    self._writer.execute("ROLLBACK")
                    raise
                self._writer.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return int(self._writer.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def write(self) -> Iterator[_Tx]:
        with self._lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield _Tx(self._writer)
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[_Tx]:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        conn.execute("BEGIN")
        try:
            yield _Tx(conn)
        finally:
            conn.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            self._writer.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
