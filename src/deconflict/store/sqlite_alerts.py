"""The alert outbox, subscriptions and webhook deliveries in the embedded store."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from .records import AlertRecord, SubscriptionRecord, WebhookDelivery
from .sqlite_rows import dump as _dump
from .sqlite_rows import fixed_ts as _ts

__all__ = ["SqliteAlerts"]


def _instant(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def _required(text: str) -> dt.datetime:
    """A NOT NULL time column."""
    return dt.datetime.fromisoformat(text)


def _subscription(row: sqlite3.Row, prefix: str = "") -> SubscriptionRecord:
    return SubscriptionRecord(
        row[f"{prefix}id"],
        row[f"{prefix}party"],
        json.loads(row[f"{prefix}doc"]),
        row[f"{prefix}webhook_url"],
        row[f"{prefix}secret"],
        _required(row[f"{prefix}created_at"]),
        _instant(row[f"{prefix}ended_at"]),
    )


def _alert(row: sqlite3.Row) -> AlertRecord:
    return AlertRecord(
        row["seq"],
        row["party"],
        row["type"],
        _required(row["at"]),
        json.loads(row["data"]),
        _instant(row["delivered_at"]),
        _instant(row["acked_at"]),
    )


_STATES = {
    "all": "1 = 1",
    "undelivered": "delivered_at IS NULL",
    "unacknowledged": "acked_at IS NULL",
}


class SqliteAlerts:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    # --- subscriptions ----------------------------------------------------------------------

    def add_subscription(self, record: SubscriptionRecord) -> None:
        self._c.execute(
            "INSERT INTO subscriptions (id, party, doc, webhook_url, secret, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.party,
                _dump(record.doc),
                record.webhook_url,
                record.secret,
                _ts(record.created_at),
            ),
        )

    def subscription(self, subscription_id: str) -> SubscriptionRecord | None:
        row = self._c.execute(
            "SELECT * FROM subscriptions WHERE id = ?", (subscription_id,)
        ).fetchone()
        return None if row is None else _subscription(row)

    def subscriptions(self, party: str | None = None) -> list[SubscriptionRecord]:
        """Active subscriptions, of one party or of all."""
        where, args = ("AND party = ?", (party,)) if party is not None else ("", ())
        rows = self._c.execute(
            f"SELECT * FROM subscriptions WHERE ended_at IS NULL {where} ORDER BY created_at, id",
            args,
        ).fetchall()
        return [_subscription(r) for r in rows]

    def end_subscription(self, subscription_id: str, at: dt.datetime) -> bool:
        cur = self._c.execute(
            "UPDATE subscriptions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
            (_ts(at), subscription_id),
        )
        return cur.rowcount == 1

    # --- the outbox -------------------------------------------------------------------------

    def add(self, items: Sequence[tuple[str, str, dt.datetime, dict[str, Any]]]) -> list[int]:
        """Append ``(party, type, at, data)`` alerts; returns their event ids, in order."""
        seqs = []
        for party, kind, at, data in items:
            cur = self._c.execute(
                "INSERT INTO alerts (party, type, at, data) VALUES (?, ?, ?, ?)",
                (party, kind, _ts(at), _dump(data)),
            )
            seqs.append(int(cur.lastrowid or 0))
        return seqs

    def after(self, party: str, seq: int, limit: int = 1000) -> list[AlertRecord]:
        """The party's alerts with an event id above ``seq``, oldest first."""
        rows = self._c.execute(
            "SELECT * FROM alerts WHERE party = ? AND seq > ? ORDER BY seq LIMIT ?",
            (party, seq, limit),
        ).fetchall()
        return [_alert(r) for r in rows]

    def last_seq(self, party: str) -> int:
        row = self._c.execute("SELECT MAX(seq) FROM alerts WHERE party = ?", (party,)).fetchone()
        return 0 if row[0] is None else int(row[0])

    def query(
        self, party: str, state: str = "all", after: int = 0, limit: int = 1000
    ) -> list[AlertRecord]:
        rows = self._c.execute(
            f"SELECT * FROM alerts WHERE party = ? AND seq > ? AND {_STATES[state]}"
            " ORDER BY seq LIMIT ?",
            (party, after, limit),
        ).fetchall()
        return [_alert(r) for r in rows]

    def mark_streamed(self, seqs: Sequence[int], at: dt.datetime) -> list[int]:
        """Mark alerts taken by a stream (and so delivered); returns those no stream took before."""
        done = []
        for seq in seqs:
            cur = self._c.execute(
                "UPDATE alerts SET streamed_at = ?, delivered_at = COALESCE(delivered_at, ?)"
                " WHERE seq = ? AND streamed_at IS NULL",
                (_ts(at), _ts(at), seq),
            )
            if cur.rowcount == 1:
                done.append(seq)
        return done

    def acknowledge(self, party: str, seqs: Sequence[int], at: dt.datetime) -> list[int]:
        """Mark the party's alerts acknowledged; returns those that were not already."""
        done = []
        for seq in sorted(set(seqs)):
            cur = self._c.execute(
                "UPDATE alerts SET acked_at = ? WHERE seq = ? AND party = ? AND acked_at IS NULL",
                (_ts(at), seq, party),
            )
            if cur.rowcount == 1:
                done.append(seq)
        return done

    # --- webhook deliveries -----------------------------------------------------------------

    def add_deliveries(self, items: Sequence[tuple[int, str, dt.datetime]]) -> None:
        """Queue ``(event id, subscription, first attempt at)`` webhook deliveries."""
        self._c.executemany(
            "INSERT INTO webhook_deliveries (alert_seq, subscription, next_at) VALUES (?, ?, ?)",
            [(seq, sub, _ts(at)) for seq, sub, at in items],
        )

    def due(self, now: dt.datetime, limit: int = 100) -> list[WebhookDelivery]:
        rows = self._c.execute(
            "SELECT d.attempts AS d_attempts, d.next_at AS d_next_at, a.*,"
            " s.id AS s_id, s.party AS s_party, s.doc AS s_doc, s.webhook_url AS s_webhook_url,"
            " s.secret AS s_secret, s.created_at AS s_created_at, s.ended_at AS s_ended_at"
            " FROM webhook_deliveries AS d"
            " JOIN alerts AS a ON a.seq = d.alert_seq"
            " JOIN subscriptions AS s ON s.id = d.subscription"
            " WHERE d.delivered_at IS NULL AND d.next_at <= ? AND s.ended_at IS NULL"
            " ORDER BY d.next_at, d.alert_seq LIMIT ?",
            (_ts(now), limit),
        ).fetchall()
        out = []
        for r in rows:
            out.append(
                WebhookDelivery(
                    _alert(r), _subscription(r, "s_"), r["d_attempts"], _required(r["d_next_at"])
                )
            )
        return out

    def next_due(self) -> dt.datetime | None:
        row = self._c.execute(
            "SELECT MIN(d.next_at) FROM webhook_deliveries AS d"
            " JOIN subscriptions AS s ON s.id = d.subscription"
            " WHERE d.delivered_at IS NULL AND s.ended_at IS NULL"
        ).fetchone()
        return _instant(row[0])

    def reschedule(
        self, seq: int, subscription: str, at: dt.datetime, attempts: int, error: str | None
    ) -> None:
        self._c.execute(
            "UPDATE webhook_deliveries SET next_at = ?, attempts = ?, last_error = ?"
            " WHERE alert_seq = ? AND subscription = ? AND delivered_at IS NULL",
            (_ts(at), attempts, error, seq, subscription),
        )

    def delivered(self, seq: int, subscription: str, at: dt.datetime, ledger_idx: int) -> None:
        self._c.execute(
            "UPDATE webhook_deliveries SET delivered_at = ?, ledger_idx = ?"
            " WHERE alert_seq = ? AND subscription = ?",
            (_ts(at), ledger_idx, seq, subscription),
        )
        self._c.execute(
            "UPDATE alerts SET delivered_at = COALESCE(delivered_at, ?) WHERE seq = ?",
            (_ts(at), seq),
        )

    def pending(self, party: str) -> list[tuple[int, str, int, str | None]]:
        """``(event id, subscription, attempts, last error)`` of undelivered webhooks."""
        rows = self._c.execute(
            "SELECT d.alert_seq, d.subscription, d.attempts, d.last_error"
            " FROM webhook_deliveries AS d JOIN alerts AS a ON a.seq = d.alert_seq"
            " JOIN subscriptions AS s ON s.id = d.subscription"
            " WHERE a.party = ? AND d.delivered_at IS NULL AND s.ended_at IS NULL"
            " ORDER BY d.alert_seq",
            (party,),
        ).fetchall()
        return [(int(r[0]), str(r[1]), int(r[2]), r[3]) for r in rows]
