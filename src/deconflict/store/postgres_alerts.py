"""The alert outbox, subscriptions and webhook deliveries in the PostgreSQL store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from .postgres_rows import (
    ALERT,
    SUBSCRIPTION,
    Repo,
    alert,
    fetch,
    fetch_one,
    insert,
    subscription,
    values,
)
from .records import AlertRecord, SubscriptionRecord, WebhookDelivery
from .sqlite_rows import dump

__all__ = ["PostgresAlerts"]

_STATES = {
    "all": "true",
    "undelivered": "delivered_at IS NULL",
    "unacknowledged": "acked_at IS NULL",
}

_DELIVERIES = "FROM webhook_deliveries AS d JOIN subscriptions AS s ON s.id = d.subscription"
_OPEN = "d.delivered_at IS NULL AND s.ended_at IS NULL"


def _prefixed(columns: str, table: str) -> str:
    return ", ".join(f"{table}.{c.strip()}" for c in columns.split(","))


def _delivery(*columns: Any) -> WebhookDelivery:
    """A delivery from its attempts and next time, then :data:`ALERT`, then :data:`SUBSCRIPTION`."""
    attempts, next_at, *rest = columns
    split = len(ALERT.split(","))
    return WebhookDelivery(alert(*rest[:split]), subscription(*rest[split:]), attempts, next_at)


class PostgresAlerts(Repo):
    # --- subscriptions ----------------------------------------------------------------------

    def add_subscription(self, r: SubscriptionRecord) -> None:
        self._c.execute(
            insert("subscriptions", SUBSCRIPTION),
            values(r, SUBSCRIPTION, doc=dump(r.doc)),
        )

    def subscription(self, subscription_id: str) -> SubscriptionRecord | None:
        query = f"SELECT {SUBSCRIPTION} FROM subscriptions WHERE id = %s"
        return fetch_one(self._c, subscription, query, (subscription_id,))

    def subscriptions(self, party: str | None = None) -> list[SubscriptionRecord]:
        """Active subscriptions, of one party or of all."""
        query = (
            f"SELECT {SUBSCRIPTION} FROM subscriptions"
            " WHERE ended_at IS NULL AND party = coalesce(%s, party) ORDER BY created_at, id"
        )
        return fetch(self._c, subscription, query, (party,))

    def end_subscription(self, subscription_id: str, at: dt.datetime) -> bool:
        cur = self._c.execute(
            "UPDATE subscriptions SET ended_at = %s WHERE id = %s AND ended_at IS NULL",
            (at, subscription_id),
        )
        return cur.rowcount == 1

    # --- the outbox -------------------------------------------------------------------------

    def add(self, items: Sequence[tuple[str, str, dt.datetime, dict[str, Any]]]) -> list[int]:
        """Append ``(party, type, at, data)`` alerts; returns their event ids, in order."""
        with self._c.cursor() as cur:
            cur.executemany(
                "INSERT INTO alerts (party, type, at, data) VALUES (%s, %s, %s, %s) RETURNING seq",
                [(party, kind, at, dump(data)) for party, kind, at, data in items],
                returning=True,
            )
            return [row[0] for _ in cur.results() for row in cur.fetchall()]

    def after(self, party: str, seq: int, limit: int = 1000) -> list[AlertRecord]:
        """The party's alerts with an event id above ``seq``, oldest first."""
        return self.query(party, "all", seq, limit)

    def last_seq(self, party: str) -> int:
        row = self._c.execute(
            "SELECT coalesce(max(seq), 0) FROM alerts WHERE party = %s", (party,)
        ).fetchone()
        return int(row[0]) if row else 0

    def query(
        self, party: str, state: str = "all", after: int = 0, limit: int = 1000
    ) -> list[AlertRecord]:
        query = (
            f"SELECT {ALERT} FROM alerts WHERE party = %s AND seq > %s AND {_STATES[state]}"
            " ORDER BY seq LIMIT %s"
        )
        return fetch(self._c, alert, query, (party, after, limit))

    def mark_streamed(self, seqs: Sequence[int], at: dt.datetime) -> list[int]:
        """Mark alerts taken by a stream (and so delivered); returns those no stream took before."""
        rows = self._c.execute(
            "UPDATE alerts SET streamed_at = %s, delivered_at = COALESCE(delivered_at, %s)"
            " WHERE seq = ANY(%s::bigint[]) AND streamed_at IS NULL RETURNING seq",
            (at, at, list(seqs)),
        ).fetchall()
        return sorted(r[0] for r in rows)

    def acknowledge(self, party: str, seqs: Sequence[int], at: dt.datetime) -> list[int]:
        """Mark the party's alerts acknowledged; returns those that were not already."""
        rows = self._c.execute(
            "UPDATE alerts SET acked_at = %s"
            " WHERE seq = ANY(%s::bigint[]) AND party = %s AND acked_at IS NULL RETURNING seq",
            (at, list(seqs), party),
        ).fetchall()
        return sorted(r[0] for r in rows)

    # --- webhook deliveries -----------------------------------------------------------------

    def add_deliveries(self, items: Sequence[tuple[int, str, dt.datetime]]) -> None:
        """Queue ``(event id, subscription, first attempt at)`` webhook deliveries."""
        with self._c.cursor() as cur:
            cur.executemany(
                "INSERT INTO webhook_deliveries (alert_seq, subscription, next_at)"
                " VALUES (%s, %s, %s)",
                items,
            )

    def due(self, now: dt.datetime, limit: int = 100) -> list[WebhookDelivery]:
        query = (
            f"SELECT d.attempts, d.next_at, {_prefixed(ALERT, 'a')}, {_prefixed(SUBSCRIPTION, 's')}"
            f" {_DELIVERIES} JOIN alerts AS a ON a.seq = d.alert_seq"
            f" WHERE {_OPEN} AND d.next_at <= %s ORDER BY d.next_at, d.alert_seq LIMIT %s"
        )
        return fetch(self._c, _delivery, query, (now, limit))

    def next_due(self) -> dt.datetime | None:
        row = self._c.execute(f"SELECT min(d.next_at) {_DELIVERIES} WHERE {_OPEN}").fetchone()
        return None if row is None else row[0]

    def reschedule(
        self, seq: int, subscription: str, at: dt.datetime, attempts: int, error: str | None
    ) -> None:
        self._c.execute(
            "UPDATE webhook_deliveries SET next_at = %s, attempts = %s, last_error = %s"
            " WHERE alert_seq = %s AND subscription = %s AND delivered_at IS NULL",
            (at, attempts, error, seq, subscription),
        )

    def delivered(self, seq: int, subscription: str, at: dt.datetime, ledger_idx: int) -> None:
        self._c.execute(
            "UPDATE webhook_deliveries SET delivered_at = %s, ledger_idx = %s"
            " WHERE alert_seq = %s AND subscription = %s",
            (at, ledger_idx, seq, subscription),
        )
        self._c.execute(
            "UPDATE alerts SET delivered_at = COALESCE(delivered_at, %s) WHERE seq = %s",
            (at, seq),
        )

    def pending(self, party: str) -> list[tuple[int, str, int, str | None]]:
        """``(event id, subscription, attempts, last error)`` of undelivered webhooks."""
        return self._c.execute(
            "SELECT d.alert_seq, d.subscription, d.attempts, d.last_error"
            f" {_DELIVERIES} JOIN alerts AS a ON a.seq = d.alert_seq"
            f" WHERE {_OPEN} AND a.party = %s"
            " ORDER BY d.alert_seq",
            (party,),
        ).fetchall()
