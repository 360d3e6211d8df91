"""Use cases on notices: one transaction each, over the store and the pure core.

Submit, update and cancel run inside one serialised write transaction: the
candidates are read, the exact test decides, the awareness precondition is
checked, and the notice, its conflicts and the disclosures are written
together, or nothing is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from deconflict import engine, errors
from deconflict.accounts import Accounts
from deconflict.acknowledgements import Acknowledgements
from deconflict.alerts.center import AlertCenter
from deconflict.clock import Clock
from deconflict.config import Settings
from deconflict.disclosure import (
    Viewer,
    full_view,
    rounded_window,
    sees_in_full,
)
from deconflict.ledger.entries import notice_entry
from deconflict.model import (
    Conflict,
    Notice,
    NoticeState,
    Role,
)
from deconflict.notices import (
    Awareness,
    notice_to_doc,
    parse_awareness,
    parse_notice,
)
from deconflict.queries import Queries
from deconflict.store import ConflictRecord, NoticeRecord, Store
from deconflict.store.protocols import Transaction
from deconflict.tracks import TrackMonitor

__all__ = ["Outcome", "Service"]


@dataclass
class Outcome:
    """A write's answer: its status and body, and the error to raise once committed.

    A refusal for missing awareness also keeps, for the F3548 facade, each missing
    notice's overlap window rounded outward to the disclosure grid.
    """

    status: int
    body: dict[str, Any]
    error: errors.DeconflictError | None = None
    windows: dict[str, tuple[dt.datetime, dt.datetime | None]] = field(default_factory=dict)


class Service(Queries):
    """The application: every use case a party, an auditor or the operator can run."""

    def __init__(self, store: Store, clock: Clock, settings: Settings) -> None:
        super().__init__(store, clock, settings)
        self.alerts = AlertCenter(store, self.ledger, clock, settings, self._disclose)
        self.accounts = Accounts(
            store,
            clock,
            self.ledger,
            settings.token_lifetime_days,
            token_changed=self.alerts.notifier.notify,
        )
        self.acknowledgements = Acknowledgements(store, self.ledger, clock, self._load)
        self.tracks = TrackMonitor(store, self.ledger, clock, settings, self.alerts)

    # --- writes -------------------------------------------------------------------------

    def _require_writer(self, viewer: Viewer) -> None:
        if viewer.role is Role.AUDITOR:
            raise errors.Forbidden("an auditor may read metadata but not notify")

    def check_limits(self, tx: Transaction, viewer: Viewer, notice: Notice) -> None:
        """Refuse an operation beyond the limits, or an audience the caller may not name.

        A channel is named only by its members: one the caller is not in gets the
        same answer as one that does not exist, so channel names cannot be probed.
        Parties are listed to every party (``GET /v1/parties``), so an unknown one
        is simply named.
        """
        self.operation_limits(notice)
        for i, party in enumerate(sorted(notice.audience.parties)):
            if tx.parties.get(party) is None:
                raise errors.InvalidValue(f"no party {party!r}", field=f"audience.parties[{i}]")
        for i, channel in enumerate(sorted(notice.audience.channels)):
            if channel not in viewer.channels or tx.channels.get(channel) is None:
                raise errors.InvalidValue(
                    f"no channel {channel!r} that the caller belongs to",
                    field=f"audience.channels[{i}]",
                )

    def _save_conflicts(
        self, tx: Transaction, notice: Notice, found: list[Conflict], others: dict[str, Notice]
    ) -> list[tuple[str, ConflictRecord]]:
        """Store the notice's conflicts as they now are; returns what opened, changed, resolved."""
        changes: list[tuple[str, ConflictRecord]] = []
        now = self.clock.now()
        existing = {(r.a, r.b): r for r in tx.conflicts.involving(notice.id, status=None)}
        current = set()
        for conflict in found:
            other = others[conflict.b]
            pairs = tuple((o.a_volume, o.b_volume) for o in conflict.overlaps)
            first, second = (notice, other) if notice.id < other.id else (other, notice)
            if first is other:
                pairs = tuple((j, i) for i, j in pairs)
            key = (first.id, second.id)
            current.add(key)
            before = existing.get(key)
            is_open = before is not None and before.status == "open"
            record = ConflictRecord(
                first.id,
                first.party,
                first.version,
                second.id,
                second.party,
                second.version,
                conflict.kind.value,
                "open",
                pairs,
                before.detected_at if before is not None and is_open else now,
                now,
            )
            changes.append(("changed" if is_open else "opened", record))
        for key, before in existing.items():
            if key not in current and before.status == "open":
                resolved = replace(before, status="resolved", updated_at=now)
                changes.append(("resolved", resolved))
        tx.conflicts.put_many([record for _, record in changes])
        return changes

    def admit(
        self,
        tx: Transaction,
        viewer: Viewer,
        notice: Notice,
        awareness: Awareness,
        created_at: dt.datetime | None,
        status: int,
        previous: Notice | None = None,
    ) -> Outcome:
        found, others = self._detect(tx, notice) if notice.in_force else ([], {})
        for other_id, other in others.items():
            if sees_in_full(viewer, other):
                others[other_id] = self._full(tx, other)
        unproven = [c for c in found if not awareness.proven(c.b, c.b_version)]
        if awareness.strict and unproven:
            return self._refuse(tx, viewer, unproven, others)
        views = [self._conflict_view(tx, viewer, c, notice, others[c.b], "open") for c in found]
        self._probed(tx, viewer, [others[c.b] for c in found])
        disclosures = [
            self._disclosure(viewer, others[c.b], "conflict", v)
            for c, v in zip(found, views, strict=True)
        ]
        now = self.clock.now()
        created = created_at or now
        record = NoticeRecord(
            notice.id,
            notice.party,
            notice.kind.value,
            notice.version,
            notice.state.value,
            notice_to_doc(notice),
            created,
            now,
        )
        logged = self.ledger.log(tx, "notice", notice_entry(record))
        tx.notices.put(
            replace(record, ledger_idx=logged.index),
            engine.volume_rows(notice, self.settings.policy) if notice.in_force else [],
        )
        changes = self._save_conflicts(tx, notice, found, others)
        self._disclose(tx, disclosures)
        self.alerts.conflicts_changed(tx, notice, changes)
        self.alerts.notice_changed(tx, notice, previous)
        body = {
            "notice": full_view(notice, created, now) | {"acks": self._acks(tx, notice.id)},
            "conflicts": views,
            "receipt": self.ledger.receipt(tx, logged),
        }
        return Outcome(status, body)

    def _refuse(
        self, tx: Transaction, viewer: Viewer, unproven: list[Conflict], others: dict[str, Notice]
    ) -> Outcome:
        """409 for missing awareness: who and what, never where; rationed like a check.

        A refusal stores nothing, so it must teach no more than a what-if check:
        id, version, kind and owner of each missing notice, and it draws on the
        same ration.
        """
        missing = [others[c.b] for c in unproven]
        if not all(sees_in_full(viewer, n) for n in missing):
            self.rations.take(tx, ("probe", viewer.party), self.settings.check_per_minute)
        views = [
            {"id": n.id, "version": n.version, "kind": n.kind.value, "party": n.party}
            for n in missing
        ]
        self._probed(tx, viewer, missing)
        self._disclose(
            tx,
            [
                self._disclosure(viewer, n, "refusal", v)
                for n, v in zip(missing, views, strict=True)
                if n.party != viewer.party
            ],
        )
        windows = {c.b: rounded_window(c, self.settings.grid) for c in unproven}
        error = errors.AwarenessMissing(
            f"{len(missing)} conflicting notice(s) missing from aware_of", field="aware_of"
        )
        return Outcome(409, {"error": error.to_dict(), "missing": views}, error, windows)

    def _idempotent(
        self, viewer: Viewer, key: str | None, request: tuple[Any, ...], work: Any
    ) -> tuple[int, dict[str, Any]]:
        """Run ``work`` once per key: a retry of the same request replays the first answer.

        A key reused for a different request is refused, so a 2xx always means the
        request it answers was applied.
        """
        if key is not None and (not key or len(key) > 200):
            raise errors.InvalidValue(
                "Idempotency-Key is 1–200 characters", field="Idempotency-Key"
            )
        fingerprint = hashlib.sha256(
            json.dumps(request, sort_keys=True, default=str).encode("utf-8")
        ).hexdigest()
        with self.ledger.write() as tx:
            if key is not None:
                replay = tx.idempotency.get(viewer.party, key)
                if replay is not None:
                    if replay[0] != fingerprint:
                        raise errors.InvalidValue(
                            "this Idempotency-Key was used for a different request",
                            field="Idempotency-Key",
                        )
                    return replay[1], replay[2]
            outcome: Outcome = work(tx)
            # Render before committing: an answer that cannot be sent must not be applied.
            json.dumps(outcome.body, allow_nan=False)
            if key is not None and outcome.error is None:
                tx.idempotency.put(
                    viewer.party, key, fingerprint, outcome.status, outcome.body, self.clock.now()
                )
        self.alerts.notifier.notify()
        if outcome.error is not None:
            outcome.error.extra["missing"] = outcome.body["missing"]
            raise outcome.error
        return outcome.status, outcome.body

    def submit(
        self, viewer: Viewer, body: Any, idempotency_key: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """File a new notice; the answer lists every conflict it has."""
        self._require_writer(viewer)
        notice = parse_notice(
            body,
            notice_id="n-" + secrets.token_hex(8),
            party=viewer.party,
            version=1,
            limits=self.settings.limits,
        )
        awareness = parse_awareness(body)

        def work(tx: Transaction) -> Outcome:
            self.check_limits(tx, viewer, notice)
            return self.admit(tx, viewer, notice, awareness, None, 201)

        return self._idempotent(viewer, idempotency_key, ("submit", body), work)

    def _owned(self, tx: Transaction, viewer: Viewer, notice_id: str, version: Any) -> NoticeRecord:
        record = tx.notices.get(notice_id)
        if record is None:
            raise errors.NotFound(f"no notice {notice_id!r}")
        if record.party != viewer.party:
            if sees_in_full(viewer, self._load(record)):
                raise errors.Forbidden("only the owner may change a notice")
            raise errors.NotFound(f"no notice {notice_id!r}")
        if version is None:
            raise errors.MissingField("the current version is required", field="version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise errors.WrongType("version is an integer", field="version")
        if version != record.version:
            raise errors.StaleVersion(
                f"version {version} is stale; the current version is {record.version}",
                field="version",
                current_version=record.version,
            )
        if record.state in (NoticeState.ENDED.value, NoticeState.CANCELLED.value):
            raise errors.Conflict(f"the notice is {record.state} and can no longer change")
        return record

    def update(
        self, viewer: Viewer, notice_id: str, body: Any, idempotency_key: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Replace a notice with a new version; ``version`` must be the current one."""
        self._require_writer(viewer)
        if not isinstance(body, dict):
            raise errors.WrongType("the body must be a JSON object", field="body")
        awareness = parse_awareness(body)

        def work(tx: Transaction) -> Outcome:
            record = self._owned(tx, viewer, notice_id, body.get("version"))
            notice = parse_notice(
                body,
                notice_id=notice_id,
                party=viewer.party,
                version=record.version + 1,
                limits=self.settings.limits,
            )
            if notice.kind.value != record.kind:
                raise errors.InvalidValue("a notice's kind cannot change", field="kind")
            self.check_limits(tx, viewer, notice)
            previous = self._load(record)
            return self.admit(tx, viewer, notice, awareness, record.created_at, 200, previous)

        return self._idempotent(viewer, idempotency_key, ("update", notice_id, body), work)

    def cancel(
        self, viewer: Viewer, notice_id: str, version: Any, idempotency_key: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Cancel a notice: a new version in state ``cancelled``; its conflicts resolve."""
        self._require_writer(viewer)

        def work(tx: Transaction) -> Outcome:
            record = self._owned(tx, viewer, notice_id, version)
            previous = self._load(record)
            notice = replace(previous, version=record.version + 1, state=NoticeState.CANCELLED)
            return self.admit(
                tx, viewer, notice, Awareness({}, False), record.created_at, 200, previous
            )

        return self._idempotent(viewer, idempotency_key, ("cancel", notice_id, version), work)
