"""The alert center: what is alerted to whom, the outbox, delivery and acknowledgement records.

Alerts are written to the store's outbox inside the transaction that caused
them, so a committed change always has its alerts, and a crash before
delivery loses none. Each write makes at most one conflict alert per party,
listing every conflict it opened, changed or resolved for that party, naming
the notices by id with minimal disclosure. Subscriptions made and ended,
deliveries (to a stream or a webhook) and acknowledgements are ledger entries.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import hashlib
import secrets
import threading
from collections.abc import Callable, Sequence
from typing import Any

from deconflict import errors
from deconflict.clock import Clock
from deconflict.config import Settings
from deconflict.disclosure import Viewer, sees_in_full
from deconflict.engine import extents
from deconflict.interchange import format_instant
from deconflict.ledger.entries import canonical
from deconflict.ledger.log import Ledger
from deconflict.model import Notice, NoticeState, Role
from deconflict.store import ConflictRecord, DisclosureRecord, Store, Transaction
from deconflict.store.records import AlertRecord, SubscriptionRecord, WebhookDelivery

from .subscriptions import matches, parse_subscription

__all__ = ["AlertCenter", "Notifier", "alert_json"]


class Notifier:
    """Wakes the stream and webhook loops when a write commits alerts or a token changes.

    Any thread may notify.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        """Take this before reading the outbox, then wait on it: no wake-up is missed."""
        if self._event is None:
            raise RuntimeError("the notifier is not bound to an event loop")
        return self._event

    def notify(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._event is not None:
            self._event.set()
        self._event = asyncio.Event()

    @staticmethod
    async def wait(event: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


class StreamSlots:
    """The live streams each party holds open in this process, up to a limit.

    Each stream costs a connection and a poll loop; past the limit a party gets 429
    until one of its streams closes.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def take(self, party: str) -> None:
        with self._lock:
            if self._open[party] >= self._limit:
                raise errors.RateLimited(
                    f"{self._limit} alert streams are open for this party already; close one "
                    "(one stream carries every alert of the party)",
                    retry_after=_STREAM_RETRY_S,
                )
            self._open[party] += 1

    def give_back(self, party: str) -> None:
        with self._lock:
            self._open[party] -= 1
            if self._open[party] <= 0:
                del self._open[party]

    def held(self, party: str) -> int:
        with self._lock:
            return self._open[party]


#: What a party refused a stream is told to wait.
_STREAM_RETRY_S = 5.0


def alert_json(alert: AlertRecord) -> dict[str, Any]:
    """An alert as a party sees it: event id, type, time and what happened."""
    return {"id": alert.seq, "type": alert.type, "at": format_instant(alert.at)} | alert.data


def _digest(alert: AlertRecord) -> str:
    return hashlib.sha256(canonical(alert_json(alert))).hexdigest()


def _backoff(attempts: int, cap_s: float) -> dt.timedelta:
    """1 s, 2 s, 4 s … up to ``cap_s`` between webhook attempts."""
    return dt.timedelta(seconds=min(cap_s, 2.0 ** max(0, attempts - 1)))


class AlertCenter:
    """Every use case on alerts, and the hooks the write path calls inside its transaction."""

    def __init__(
        self,
        store: Store,
        ledger: Ledger,
        clock: Clock,
        settings: Settings,
        disclose: Callable[[Transaction, Sequence[DisclosureRecord]], None],
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._clock = clock
        self.settings = settings
        self._disclose = disclose
        self.notifier = Notifier()
        self.streams = StreamSlots(settings.max_streams_per_party)

    def now(self) -> dt.datetime:
        return self._clock.now()

    # --- what the write path calls, inside its transaction ------------------------------------

    def _queue(
        self,
        tx: Transaction,
        items: list[tuple[str, str, dict[str, Any]]],
        wants: Callable[..., Any],
    ) -> None:
        """Append alerts and queue a webhook delivery for each subscription that wants it."""
        if not items:
            return
        now = self._clock.now()
        seqs = tx.alerts.add([(party, kind, now, data) for party, kind, data in items])
        hooks = [s for s in tx.alerts.subscriptions() if s.webhook_url]
        deliveries = [
            (seq, s.id, now)
            for seq, (party, kind, data) in zip(seqs, items, strict=True)
            for s in hooks
            if s.party == party and wants(s, kind, data)
        ]
        tx.alerts.add_deliveries(deliveries)

    def conflicts_changed(
        self, tx: Transaction, cause: Notice, changes: Sequence[tuple[str, ConflictRecord]]
    ) -> None:
        """One alert per party concerned, listing the conflicts ``cause``'s write changed.

        ``changes`` are ``(opened|changed|resolved, record)``. Each side is named by
        notice id, version and owner party only: minimal disclosure.
        """
        per_party: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for change, r in changes:
            sides: tuple[dict[str, Any], dict[str, Any]] = (
                {"id": r.a, "version": r.a_version, "party": r.a_party},
                {"id": r.b, "version": r.b_version, "party": r.b_party},
            )
            for mine, theirs in (sides, sides[::-1]):
                lists = per_party.setdefault(
                    str(mine["party"]), {"opened": [], "changed": [], "resolved": []}
                )
                lists[change].append(
                    {
                        "kind": r.kind,
                        "notice": {"id": mine["id"], "version": mine["version"]},
                        "other": theirs,
                    }
                )
        now = self._clock.now()
        items, disclosures = [], []
        for party, lists in sorted(per_party.items()):
            data = {
                "cause": {"id": cause.id, "version": cause.version, "party": cause.party},
                **{k: v for k, v in lists.items() if v},
            }
            items.append((party, "conflict", data))
            if party != cause.party:  # the cause's owner was shown these in its answer
                for entries in lists.values():
                    for entry in entries:
                        other = entry["other"]
                        disclosures.append(
                            DisclosureRecord(
                                now,
                                party,
                                other["party"],
                                other["id"],
                                other["version"],
                                "alert",
                                "minimal",
                                other,
                            )
                        )
        self._queue(tx, items, lambda s, kind, data: "conflict" in s.doc["events"])
        self._disclose(tx, disclosures)

    def need_to_know(self, tx: Transaction, items: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Tell owners and admins what one party is being shown: ``(party, data)`` items.

        These are ``disclosure`` alerts: a budget spent, a large share of a notice
        shown, many probes of a notice or identifications of an owner's operations.
        """
        self._queue(
            tx,
            [(party, "disclosure", data) for party, data in items],
            lambda s, kind, data: "disclosure" in s.doc["events"],
        )

    def track_alerts(
        self,
        tx: Transaction,
        items: list[tuple[str, str, dict[str, Any]]],
        disclosures: Sequence[DisclosureRecord] = (),
    ) -> int:
        """Queue track alerts for ``(party, type, condition)`` items; returns how many.

        One alert per party and type holds every condition of the batch as ``items``,
        as one conflict alert lists every conflict of a write: a fleet's batch may
        start hundreds of conditions at once, and a party wants to hear of them
        together. Webhooks go to ``track`` subscriptions.
        """
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for party, kind, data in items:
            grouped.setdefault((party, kind), []).append(data)
        alerts = [(party, kind, {"items": found}) for (party, kind), found in grouped.items()]
        self._queue(tx, alerts, lambda s, kind, data: "track" in s.doc["events"])
        self._disclose(tx, disclosures)
        return len(alerts)

    def notice_changed(self, tx: Transaction, notice: Notice, previous: Notice | None) -> None:
        """Alert every subscription that matches the notice and whose party may see it."""
        event = (
            "notice.cancelled"
            if notice.state is NoticeState.CANCELLED
            else ("notice.updated" if previous is not None else "notice.created")
        )
        boxes = extents(notice, self.settings.policy, pad=False)
        if previous is not None:
            boxes += extents(previous, self.settings.policy, pad=False)
        datum = self.settings.policy.datum
        matched: dict[str, list[SubscriptionRecord]] = {}
        for s in tx.alerts.subscriptions():
            if "notice" not in s.doc["events"]:
                continue
            viewer = Viewer(s.party, Role.MEMBER, tx.channels.of_party(s.party))
            if sees_in_full(viewer, notice) and matches(s.doc, notice.kind.value, boxes, datum):
                matched.setdefault(s.party, []).append(s)
        view = {
            "id": notice.id,
            "version": notice.version,
            "party": notice.party,
            "kind": notice.kind.value,
            "state": notice.state.value,
        }
        items = [
            (party, event, {"notice": view, "subscriptions": [s.id for s in subs]})
            for party, subs in sorted(matched.items())
        ]
        self._queue(tx, items, lambda s, kind, data: s.id in data["subscriptions"])
        now = self._clock.now()
        self._disclose(
            tx,
            [
                DisclosureRecord(
                    now, party, notice.party, notice.id, notice.version, "alert", "full", view
                )
                for party, _, _ in items
                if party != notice.party
            ],
        )

    # --- subscriptions ------------------------------------------------------------------------

    def subscribe(self, viewer: Viewer, body: Any) -> dict[str, Any]:
        """Add a subscription, ledgered (its webhook secret only as a digest); the secret
        is shown once, here."""
        parsed = parse_subscription(body, self.settings.webhook_hosts)
        secret = "whsec_" + secrets.token_urlsafe(32) if parsed.webhook_url else None
        record = SubscriptionRecord(
            "s-" + secrets.token_hex(8),
            viewer.party,
            parsed.doc,
            parsed.webhook_url,
            secret,
            self._clock.now(),
        )
        with self._ledger.write() as tx:
            if len(tx.alerts.subscriptions(viewer.party)) >= self.settings.max_subscriptions:
                raise errors.RateLimited(
                    f"a party may keep at most {self.settings.max_subscriptions} subscriptions",
                    field="body",
                )
            tx.alerts.add_subscription(record)
            logged = self._ledger.log(tx, "subscription.add", _subscription_entry(record))
            receipt = self._ledger.receipt(tx, logged)
        shown = _subscription_json(record)
        return shown | ({"secret": secret} if secret else {}) | {"receipt": receipt}

    def subscriptions(self, viewer: Viewer) -> list[dict[str, Any]]:
        with self._store.read() as tx:
            return [_subscription_json(s) for s in tx.alerts.subscriptions(viewer.party)]

    def unsubscribe(self, viewer: Viewer, subscription_id: str) -> dict[str, Any]:
        with self._ledger.write() as tx:
            record = tx.alerts.subscription(subscription_id)
            if record is None or record.party != viewer.party or record.ended_at is not None:
                raise errors.NotFound(f"no subscription {subscription_id!r}")
            tx.alerts.end_subscription(subscription_id, self._clock.now())
            logged = self._ledger.log(
                tx, "subscription.end", {"party": record.party, "id": subscription_id}
            )
            receipt = self._ledger.receipt(tx, logged)
        return _subscription_json(record) | {"ended": True, "receipt": receipt}

    # --- reading, delivering and acknowledging --------------------------------------------

    def _party(self, viewer: Viewer, party: str | None) -> str:
        if party is None or party == viewer.party:
            return viewer.party
        if viewer.role is Role.MEMBER:
            raise errors.Forbidden("only an admin or an auditor may read another party's alerts")
        return party

    def alerts(
        self, viewer: Viewer, state: str, after: int, limit: int, party: str | None = None
    ) -> list[dict[str, Any]]:
        """A party's alerts: all, those never delivered, or those never acknowledged."""
        who = self._party(viewer, party)
        with self._store.read() as tx:
            rows = tx.alerts.query(who, state, after, max(1, min(limit, 10_000)))
        show = who == viewer.party  # another party's alerts name its notices: metadata only
        return [
            {
                "id": a.seq,
                "type": a.type,
                "at": format_instant(a.at),
                "delivered_at": format_instant(a.delivered_at),
                "acked_at": format_instant(a.acked_at),
            }
            | ({"data": a.data} if show else {})
            for a in rows
        ]

    def pending_webhooks(self, viewer: Viewer, party: str | None = None) -> list[dict[str, Any]]:
        """Webhook deliveries not yet accepted by the receiver: who failed to receive what.

        Each is ``queued`` (not tried yet) or ``failed``, whatever the failure: an
        HTTP error answer, a refused connection and a timeout look alike, so that a
        party cannot use its webhooks to learn which ports answer. Why an attempt
        failed is in the server's log.
        """
        who = self._party(viewer, party)
        with self._store.read() as tx:
            rows = tx.alerts.pending(who)
        return [
            {
                "id": seq,
                "subscription": sub,
                "attempts": attempts,
                "status": "failed" if attempts else "queued",
            }
            for seq, sub, attempts, _ in rows
        ]

    def start_after(self, viewer: Viewer, last_event_id: str | None) -> int:
        """Where a stream starts: after Last-Event-ID, or after the newest alert."""
        if last_event_id is not None:
            text = last_event_id.strip()
            if not text.isascii() or not text.isdigit() or len(text) > 18:
                raise errors.InvalidValue("Last-Event-ID is an alert id", field="Last-Event-ID")
            return int(text)
        with self._store.read() as tx:
            return tx.alerts.last_seq(viewer.party)

    def take(
        self,
        party: str,
        after: int,
        limit: int = 500,
        confirm: Callable[[], None] | None = None,
    ) -> list[dict[str, Any]]:
        """The party's alerts after ``after``, recorded as delivered to its streams.

        An alert is ledgered as delivered once, when the first of the party's streams
        takes it; a second stream, or a replay after ``Last-Event-ID``, logs nothing new.
        ``confirm`` runs after the alerts are read and before anything is recorded;
        it raises to deliver nothing (the token that opened the stream has ended).
        Since it runs after the read, an alert committed after the token's end is
        never delivered.
        """
        with self._store.read() as tx:
            batch = tx.alerts.after(party, after, limit)
        if not batch:
            return []
        if confirm is not None:
            confirm()
        with self._ledger.write() as tx:
            fresh = set(tx.alerts.mark_streamed([a.seq for a in batch], self._clock.now()))
            if fresh:
                self._ledger.log(
                    tx,
                    "delivery",
                    {
                        "party": party,
                        "channel": "stream",
                        "alerts": [
                            {"id": a.seq, "sha256": _digest(a)} for a in batch if a.seq in fresh
                        ],
                    },
                )
        return [alert_json(a) for a in batch]

    def acknowledge(self, viewer: Viewer, body: Any) -> dict[str, Any]:
        """Acknowledge alerts by id (``ids``) or everything up to an id (``up_to``)."""
        if not isinstance(body, dict):
            raise errors.WrongType("the body must be a JSON object", field="body")
        ids, up_to = body.get("ids"), body.get("up_to")
        if (ids is None) == (up_to is None):
            raise errors.InvalidValue("give either ids or up_to", field="ids")
        if ids is not None and (
            not isinstance(ids, list)
            or not 0 < len(ids) <= 10_000
            or not all(
                isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**53 for i in ids
            )
        ):
            raise errors.WrongType("ids is a list of 1 to 10000 alert ids", field="ids")
        if up_to is not None and (
            isinstance(up_to, bool) or not isinstance(up_to, int) or not 0 <= up_to < 2**53
        ):
            raise errors.WrongType("up_to is an alert id", field="up_to")
        with self._ledger.write() as tx:
            if up_to is not None:
                ids = [
                    a.seq
                    for a in tx.alerts.query(viewer.party, "unacknowledged", 0, 10_000)
                    if a.seq <= up_to
                ]
            done = tx.alerts.acknowledge(viewer.party, ids or [], self._clock.now())
            receipt = None
            if done:
                logged = self._ledger.log(tx, "alert.ack", {"party": viewer.party, "alerts": done})
                receipt = self._ledger.receipt(tx, logged)
        return {"acknowledged": done} | ({"receipt": receipt} if receipt else {})

    # --- webhooks ---------------------------------------------------------------------------

    def claim(self, limit: int = 50) -> list[WebhookDelivery]:
        """Due webhook deliveries, reserved for a while so that no other worker sends them."""
        now = self._clock.now()
        # Reserved for longer than an attempt can take, so that a sender that dies
        # mid-attempt (a crash, kill -9) delays the delivery a little, never loses it.
        lease = dt.timedelta(seconds=max(10.0, 3 * self.settings.webhook_timeout_s))
        with self._store.write() as tx:
            due = tx.alerts.due(now, limit)
            for d in due:
                tx.alerts.reschedule(d.alert.seq, d.subscription.id, now + lease, d.attempts, None)
        return due

    def next_due_in(self) -> float | None:
        with self._store.read() as tx:
            at = tx.alerts.next_due()
        return None if at is None else max(0.0, (at - self._clock.now()).total_seconds())

    def record(self, outcomes: Sequence[tuple[WebhookDelivery, int | None]]) -> None:
        """Record a round of attempts at once: ``(delivery, 2xx status or None)``.

        Each accepted delivery is ledgered; each failure waits 1 s, 2 s, 4 s … longer.
        A failure is stored as just that: why is for the sender's log.
        """
        now = self._clock.now()
        done = [(d, status) for d, status in outcomes if status is not None]
        with self._ledger.write() as tx:
            logged = (
                self._ledger.log_many(
                    tx,
                    [
                        (
                            "delivery",
                            {
                                "party": d.alert.party,
                                "channel": "webhook",
                                "subscription": d.subscription.id,
                                "status": status,
                                "alerts": [{"id": d.alert.seq, "sha256": _digest(d.alert)}],
                            },
                        )
                        for d, status in done
                    ],
                )
                if done
                else []
            )
            for (d, _), entry in zip(done, logged, strict=True):
                tx.alerts.delivered(d.alert.seq, d.subscription.id, now, entry.index)
            for d, status in outcomes:
                if status is None:
                    attempts = d.attempts + 1
                    later = now + _backoff(attempts, self.settings.webhook_max_backoff_s)
                    tx.alerts.reschedule(d.alert.seq, d.subscription.id, later, attempts, "failed")


def _subscription_entry(s: SubscriptionRecord) -> dict[str, Any]:
    """A subscription as logged: whose, what it asks for, and its webhook. The secret is
    logged as its SHA-256 only, which proves which secret was issued without giving it."""
    entry: dict[str, Any] = {"party": s.party, "id": s.id, **s.doc}
    if s.webhook_url:
        entry["webhook"] = {"url": s.webhook_url}
        if s.secret:
            digest = hashlib.sha256(s.secret.encode("utf-8")).hexdigest()
            entry["webhook"]["secret_sha256"] = digest
    return entry


def _subscription_json(s: SubscriptionRecord) -> dict[str, Any]:
    return {
        "id": s.id,
        "party": s.party,
        **s.doc,
        "webhook": {"url": s.webhook_url} if s.webhook_url else None,
        "created_at": format_instant(s.created_at),
    }
