"""The PostgreSQL backend: several stateless API processes share one database.

Connections come from a pool that checks each one before lending it, so a
connection broken by a server restart or a failover is replaced; a URL may
list several hosts with ``target_session_attrs=read-write`` and libpq finds
the primary. Reads are ``REPEATABLE READ READ ONLY`` snapshots. Commits keep
the server's ``synchronous_commit``, durable by default.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from importlib import resources
from typing import Any

import psycopg
from psycopg import IsolationLevel
from psycopg_pool import ConnectionPool
from psycopg_pool.base import AttemptWithBackoff

from deconflict import errors
from deconflict.model import Channel, Party

from .facade import FacadeDocs
from .meters import Meters, Showings
from .postgres_alerts import PostgresAlerts
from .postgres_ledger import PostgresLedger
from .postgres_notices import PostgresNotices
from .postgres_rows import (
    CONFLICT,
    DISCLOSURE,
    PARTY,
    Conn,
    Repo,
    conflict,
    disclosure,
    fetch,
    fetch_one,
    insert,
    party,
    values,
)
from .postgres_tracks import PostgresTracks
from .records import ConflictRecord, DisclosureRecord, PartyRecord
from .sqlite_rows import dump

__all__ = ["POOL_SIZE", "PostgresStore"]

# After a failover the pool reconnects in the background, retrying a refused
# connection with a delay that starts at 1 s and doubles: a primary promoted at
# 3.2 s was then first reached at ~7 s. Retrying every quarter second instead
# keeps the outage close to the promotion time; a local connect attempt is cheap.
AttemptWithBackoff.INITIAL_DELAY = 0.25
AttemptWithBackoff.DELAY_BACKOFF = 1.0

#: Connections per process; writes queue on one lock anyway, reads share the rest.
POOL_SIZE = 8
#: The advisory lock every write transaction takes first ("deconflt").
WRITE_LOCK = 0x6465636F6E666C74
#: The advisory lock around migrating the schema ("deconflm").
MIGRATION_LOCK = 0x6465636F6E666C6D


class _Parties(Repo):
    def add(
        self, p: Party, token_hash: bytes, at: dt.datetime, expires_at: dt.datetime | None = None
    ) -> None:
        row = (p.id, p.name, p.role.value, p.contact, token_hash, at, expires_at)
        self._c.execute(insert("parties", PARTY), row)

    def get(self, party_id: str) -> PartyRecord | None:
        return fetch_one(self._c, party, f"SELECT {PARTY} FROM parties WHERE id = %s", (party_id,))

    def by_token_hash(self, token_hash: bytes) -> PartyRecord | None:
        query = f"SELECT {PARTY} FROM parties WHERE token_hash = %s"
        return fetch_one(self._c, party, query, (token_hash,))

    def set_token_hash(
        self, party_id: str, token_hash: bytes, expires_at: dt.datetime | None = None
    ) -> bool:
        cur = self._c.execute(
            "UPDATE parties SET token_hash = %s, token_expires_at = %s WHERE id = %s",
            (token_hash, expires_at, party_id),
        )
        return cur.rowcount == 1

    def all(self) -> list[PartyRecord]:
        return fetch(self._c, party, f"SELECT {PARTY} FROM parties ORDER BY id")


def _channel(cid: str, name: str, members: list[str]) -> Channel:
    return Channel(cid, name, frozenset(members))


_CHANNELS = (
    "SELECT c.id, c.name, array_remove(array_agg(m.party_id), NULL) FROM channels AS c"
    " LEFT JOIN channel_members AS m ON m.channel_id = c.id"
)


class _Channels(Repo):
    def add(self, channel: Channel, at: dt.datetime) -> None:
        self._c.execute(insert("channels", "id, name, created_at"), (channel.id, channel.name, at))

    def get(self, channel_id: str) -> Channel | None:
        query = f"{_CHANNELS} WHERE c.id = %s GROUP BY c.id"
        return fetch_one(self._c, _channel, query, (channel_id,))

    def all(self) -> list[Channel]:
        return fetch(self._c, _channel, f"{_CHANNELS} GROUP BY c.id ORDER BY c.id")

    def _changed(
        self, done: int, channel_id: str, party_id: str, action: str, at: dt.datetime, by: str
    ) -> bool:
        if done:
            self._c.execute(
                insert("channel_history", "channel_id, party_id, action, at, by_party"),
                (channel_id, party_id, action, at, by),
            )
        return bool(done)

    def join(self, channel_id: str, party_id: str, at: dt.datetime, by: str) -> bool:
        cur = self._c.execute(
            "INSERT INTO channel_members (channel_id, party_id) VALUES (%s, %s)"
            " ON CONFLICT DO NOTHING",
            (channel_id, party_id),
        )
        return self._changed(cur.rowcount, channel_id, party_id, "join", at, by)

    def leave(self, channel_id: str, party_id: str, at: dt.datetime, by: str) -> bool:
        cur = self._c.execute(
            "DELETE FROM channel_members WHERE channel_id = %s AND party_id = %s",
            (channel_id, party_id),
        )
        return self._changed(cur.rowcount, channel_id, party_id, "leave", at, by)

    def of_party(self, party_id: str) -> frozenset[str]:
        query = "SELECT channel_id FROM channel_members WHERE party_id = %s"
        return frozenset(fetch(self._c, str, query, (party_id,)))


_PUT_CONFLICT = insert(
    "conflicts",
    CONFLICT,
    key="a, b",
    update="a_version, b_version, kind, status, pairs, detected_at, updated_at",
)


class _Conflicts(Repo):
    def put(self, r: ConflictRecord) -> None:
        self.put_many([r])

    def put_many(self, records: Sequence[ConflictRecord]) -> None:
        if not records:
            return
        rows = [values(r, CONFLICT, pairs=dump([list(p) for p in r.pairs])) for r in records]
        with self._c.cursor() as cur:
            cur.executemany(_PUT_CONFLICT, rows)

    def get(self, a: str, b: str) -> ConflictRecord | None:
        query = f"SELECT {CONFLICT} FROM conflicts WHERE a = %s AND b = %s"
        return fetch_one(self._c, conflict, query, (a, b))

    def _where(
        self, clause: str, args: tuple[Any, ...], status: str | None
    ) -> list[ConflictRecord]:
        if status is not None:
            clause, args = f"({clause}) AND status = %s", (*args, status)
        query = f"SELECT {CONFLICT} FROM conflicts WHERE {clause} ORDER BY detected_at, a, b"
        return fetch(self._c, conflict, query, args)

    def involving(self, notice_id: str, status: str | None = "open") -> list[ConflictRecord]:
        return self._where("a = %s OR b = %s", (notice_id, notice_id), status)

    def of_party(self, party_id: str, status: str | None = "open") -> list[ConflictRecord]:
        return self._where("a_party = %s OR b_party = %s", (party_id, party_id), status)


class _Disclosures(Repo):
    def record(self, items: Sequence[DisclosureRecord]) -> None:
        with self._c.cursor() as cur:
            cur.executemany(
                insert("disclosures", DISCLOSURE),
                [values(d, DISCLOSURE, view=dump(d.view)) for d in items],
            )

    def query(
        self, recipient: str | None = None, notice_id: str | None = None, limit: int = 1000
    ) -> list[DisclosureRecord]:
        """Disclosures in the order recorded; a ``None`` filter matches every row."""
        return fetch(
            self._c,
            disclosure,
            f"SELECT {DISCLOSURE} FROM disclosures"
            " WHERE recipient = coalesce(%s, recipient) AND notice_id = coalesce(%s, notice_id)"
            " ORDER BY seq LIMIT %s",
            (recipient, notice_id, limit),
        )


class _Idempotency(Repo):
    def get(self, party_id: str, key: str) -> tuple[str, int, dict[str, Any]] | None:
        row = self._c.execute(
            "SELECT fingerprint, status, body FROM idempotency WHERE party = %s AND key = %s",
            (party_id, key),
        ).fetchone()
        return None if row is None else (row[0], row[1], json.loads(row[2]))

    def put(
        self,
        party_id: str,
        key: str,
        fingerprint: str,
        status: int,
        body: dict[str, Any],
        at: dt.datetime,
    ) -> None:
        row = (party_id, key, fingerprint, status, dump(body), at)
        self._c.execute(insert("idempotency", "party, key, fingerprint, status, body, at"), row)


class _Tx:
    def __init__(self, conn: Conn) -> None:
        self.parties = _Parties(conn)
        self.channels = _Channels(conn)
        self.notices = PostgresNotices(conn)
        self.conflicts = _Conflicts(conn)
        self.disclosures = _Disclosures(conn)
        self.idempotency = _Idempotency(conn)
        self.ledger = PostgresLedger(conn)
        self.alerts = PostgresAlerts(conn)
        self.facade = FacadeDocs(conn, "%s")
        self.meters = Meters(conn, "%s")
        self.shown = Showings(conn, "%s")
        self.tracks = PostgresTracks(conn)


def _migrations() -> list[tuple[int, bytes]]:
    folder = resources.files("deconflict.store") / "migrations" / "postgres"
    found = [
        (int(entry.name.split("_", 1)[0]), entry.read_bytes())
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(found)


def _migrate(conn: Conn, create: bool) -> None:
    """Apply the migrations not yet recorded, one process at a time."""
    with conn.transaction():
        found = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
        if not create and (found is None or found[0] is None):
            where = f"database {conn.info.dbname!r} on {conn.info.host}"
            raise errors.NotFound(f"no store in {where}", field="db")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        for number, script in _migrations():
            if number not in done:
                conn.execute(script)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (number,))


def _configure(conn: Conn) -> None:
    """Every session speaks UTC, so times are read back as UTC datetimes."""
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()


def _unavailable(exc: psycopg.OperationalError) -> errors.StoreUnavailable:
    return errors.StoreUnavailable(f"the database cannot be reached: {exc}", retry_after=1)


class PostgresStore:
    """A store in one PostgreSQL database, shared by threads and by processes.

    ``write()`` serialises every write transaction of every process: its first
    statement takes one transaction-scoped advisory lock. Each write appends to
    the one ledger (a single append-only sequence of entries and tree nodes), and
    strict admission must see every notice committed before it; both need writes
    in one total order. Under that lock READ COMMITTED is enough, as every
    statement after it sees everything committed before, and no write can fail
    for serialisation and need a retry. The lock goes with the commit or rollback.
    Within a process, writers queue on a thread lock before taking a connection,
    so that waiting writers never hold the connections reads need.
    """

    def __init__(self, url: str, pool_size: int = POOL_SIZE, *, create: bool = True) -> None:
        self.url = url
        self._writing = threading.Lock()
        try:
            with psycopg.connect(url) as conn:
                _migrate(conn, create)
        except psycopg.OperationalError as exc:
            raise _unavailable(exc) from None
        self._pool: ConnectionPool[Conn] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=True,
            configure=_configure,
            check=ConnectionPool.check_connection,
            name="deconflict",
        )

    @property
    def schema_version(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[_Tx]:
        try:
            with self._pool.connection() as conn:
                conn.isolation_level = (
                    IsolationLevel.READ_COMMITTED if write else IsolationLevel.REPEATABLE_READ
                )
                conn.read_only = not write
                with conn.transaction():
                    if write:
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                    yield _Tx(conn)
        except psycopg.OperationalError as exc:
            raise _unavailable(exc) from exc

    @contextmanager
    def write(self) -> Iterator[_Tx]:
        """A write transaction, after every write committed before it; durable on commit."""
        with self._writing, self._transaction(write=True) as tx:
            yield tx

    def read(self) -> AbstractContextManager[_Tx]:
        """A consistent read-only snapshot."""
        return self._transaction(write=False)

    def close(self) -> None:
        self._pool.close()
