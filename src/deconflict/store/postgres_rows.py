"""Reading PostgreSQL rows into records, shared by the PostgreSQL store's repositories.

Queries name their columns in the order of the record's fields, so that most
records are built straight from the row; only JSON text columns need parsing.
The connection's time zone is UTC, so times come back as UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.rows import args_row

from deconflict.model import Party, Role

from .records import (
    AlertRecord,
    ConflictRecord,
    DisclosureRecord,
    NoticeRecord,
    PartyRecord,
    SubscriptionRecord,
)

__all__ = [
    "ALERT",
    "CONFLICT",
    "DISCLOSURE",
    "NOTICE",
    "PARTY",
    "SUBSCRIPTION",
    "Conn",
    "Repo",
    "alert",
    "conflict",
    "disclosure",
    "fetch",
    "fetch_one",
    "insert",
    "notice",
    "party",
    "subscription",
    "values",
]

Conn = psycopg.Connection[Any]
T = TypeVar("T")


class Repo:
    """A repository: the queries of one aggregate on the transaction's connection."""

    def __init__(self, conn: Conn) -> None:
        self._c = conn


def _names(columns: str) -> list[str]:
    return [c.strip() for c in columns.split(",")]


def insert(table: str, columns: str, key: str = "", update: str = "") -> str:
    """``INSERT INTO table (columns) VALUES (%s, …)``, one placeholder a column.

    With ``key``, a row already there under that key gets the new ``update`` columns.
    """
    names = _names(columns)
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})"
    if key:
        changed = ", ".join(f"{c} = excluded.{c}" for c in _names(update))
        sql += f" ON CONFLICT ({key}) DO UPDATE SET {changed}"
    return sql


def values(record: Any, columns: str, **encoded: Any) -> tuple[Any, ...]:
    """The record's fields named like ``columns``, in their order; ``encoded`` ones replaced."""
    return tuple(encoded[c] if c in encoded else getattr(record, c) for c in _names(columns))


def fetch(conn: Conn, make: Callable[..., T], query: str, params: Any = ()) -> list[T]:
    """Every row of ``query``, each passed column by column to ``make``."""
    with conn.cursor(row_factory=args_row(make)) as cur:
        return cur.execute(query, params).fetchall()


def fetch_one(conn: Conn, make: Callable[..., T], query: str, params: Any = ()) -> T | None:
    with conn.cursor(row_factory=args_row(make)) as cur:
        return cur.execute(query, params).fetchone()


PARTY = "id, name, role, contact, token_hash, created_at, token_expires_at"


def party(
    pid: str,
    name: str,
    role: str,
    contact: str | None,
    token: bytes,
    at: dt.datetime,
    expires: dt.datetime | None,
) -> PartyRecord:
    return PartyRecord(Party(pid, name, Role(role), contact), token, at, expires)


NOTICE = "id, party, kind, version, state, doc, created_at, updated_at"


def notice(*columns: Any) -> NoticeRecord:
    """A notice from :data:`NOTICE` columns (and optionally its ledger index)."""
    nid, owner, kind, version, state, doc, *rest = columns
    return NoticeRecord(nid, owner, kind, version, state, json.loads(doc), *rest)


CONFLICT = (
    "a, a_party, a_version, b, b_party, b_version, kind, status, pairs, detected_at, updated_at"
)


def conflict(
    a: str,
    a_party: str,
    a_version: int,
    b: str,
    b_party: str,
    b_version: int,
    kind: str,
    status: str,
    pairs: str,
    detected_at: dt.datetime,
    updated_at: dt.datetime,
) -> ConflictRecord:
    parsed = tuple((int(i), int(j)) for i, j in json.loads(pairs))
    return ConflictRecord(
        a, a_party, a_version, b, b_party, b_version, kind, status, parsed, detected_at, updated_at
    )


DISCLOSURE = "at, recipient, owner, notice_id, notice_version, reason, level, view, ledger_idx"


def disclosure(
    at: dt.datetime,
    recipient: str,
    owner: str,
    notice_id: str,
    version: int,
    reason: str,
    level: str,
    view: str,
    ledger_idx: int | None,
) -> DisclosureRecord:
    return DisclosureRecord(
        at, recipient, owner, notice_id, version, reason, level, json.loads(view), ledger_idx
    )


SUBSCRIPTION = "id, party, doc, webhook_url, secret, created_at, ended_at"


def subscription(*columns: Any) -> SubscriptionRecord:
    sid, owner, doc, *rest = columns
    return SubscriptionRecord(sid, owner, json.loads(doc), *rest)


ALERT = "seq, party, type, at, data, delivered_at, acked_at"


def alert(*columns: Any) -> AlertRecord:
    seq, owner, kind, at, data, *rest = columns
    return AlertRecord(seq, owner, kind, at, json.loads(data), *rest)
