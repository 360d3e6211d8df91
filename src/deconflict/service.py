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
import math
import secrets
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from deconflict import engine, errors
from deconflict.accounts import Accounts
from deconflict.acknowledgements import Acknowledgements
from deconflict.alerts.center import AlertCenter
from deconflict.altitude import w84_interval
from deconflict.clock import Clock
from deconflict.config import Settings
from deconflict.conflicts import conflict_between
from deconflict.disclosure import (
    Viewer,
    auditor_view,
    check_view,
    full_view,
    identify_view,
    minimal_view,
    sees_in_full,
)
from deconflict.geometry import BBox, GeometryLimits, circle
from deconflict.interchange import conflict_to_json, format_instant
from deconflict.ledger.entries import disclosure_item, notice_entry
from deconflict.ledger.log import Ledger
from deconflict.model import (
    AltitudeBand,
    AltitudeReference,
    Conflict,
    Notice,
    NoticeKind,
    NoticeState,
    Role,
    TimeWindow,
    Volume,
)
from deconflict.notices import Awareness, notice_to_doc, parse_awareness, parse_notice
from deconflict.ratelimit import RateLimiter
from deconflict.store import ConflictRecord, DisclosureRecord, Extent, NoticeRecord, Store
from deconflict.store.protocols import Transaction
from deconflict.tracks import TrackMonitor
from deconflict.volumes import parse_bbox, parse_instant

__all__ = ["Service"]

_CACHE_SIZE = 5_000  # parsed notices; each holds its full geometry
_WORLD = BBox(-180.0, -90.0, 180.0, 90.0)
#: Stored notices were valid when written; limits tightened since must not hide them.
_STORED = GeometryLimits(
    max_vertices=10**9,
    max_area_km2=1e12,
    max_movement_slices=10**9,
    max_corridor_half_width_m=1e9,
)
#: What each kind of disclosure shows someone outside the audience.
_LEVELS = {"conflict": "minimal", "check": "existence", "identify": "owner", "metadata": "metadata"}


@dataclass
class _Outcome:
    status: int
    body: dict[str, Any]
    error: errors.DeconflictError | None = None


class Service:
    """The application: every use case a party, an auditor or the operator can run."""

    def __init__(self, store: Store, clock: Clock, settings: Settings) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.ledger = Ledger(store, clock, settings.ledger_origin)
        self.accounts = Accounts(store, clock, self.ledger)
        self.acknowledgements = Acknowledgements(store, self.ledger, clock, self._load)
        self.alerts = AlertCenter(store, self.ledger, clock, settings, self._disclose)
        self.tracks = TrackMonitor(store, self.ledger, clock, settings, self.alerts)
        self._identify_limit = RateLimiter(settings.identify_per_minute, clock)
        self._cache: OrderedDict[tuple[str, int], Notice] = OrderedDict()

    # --- loading and indexing -----------------------------------------------------------

    def _load(self, record: NoticeRecord) -> Notice:
        key = (record.id, record.version)
        notice = self._cache.get(key)
        if notice is None:
            notice = parse_notice(
                record.doc,
                notice_id=record.id,
                party=record.party,
                version=record.version,
                limits=_STORED,
            )
            self._cache[key] = notice
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return notice

    def _detect(self, tx: Transaction, notice: Notice) -> tuple[list[Conflict], dict[str, Notice]]:
        """Filter with the index, decide with the exact screen, then describe what conflicts.

        Other notices are read as shells (identity, audience, contact); only those the
        caller may see in full are parsed whole.
        """
        found = engine.conflicts_in_store(tx, notice, self.settings.policy)
        others: dict[str, Notice] = {}
        conflicts = []
        for other_id in sorted(found):
            record = tx.notices.get(other_id)
            if record is None:
                continue
            others[other_id] = self._shell(record)
            kind, overlaps = found[other_id]
            overlaps.sort(key=lambda o: (o.a_volume, o.b_volume))
            conflicts.append(
                Conflict(notice.id, notice.version, other_id, record.version, kind, tuple(overlaps))
            )
        return conflicts, others

    def _shell(self, record: NoticeRecord) -> Notice:
        """A stored notice without its geometry: identity, audience and contact."""
        return parse_notice(
            record.doc,
            notice_id=record.id,
            party=record.party,
            version=record.version,
            limits=_STORED,
            geometry=False,
        )

    def _full(self, tx: Transaction, notice: Notice) -> Notice:
        """The whole notice behind a shell."""
        if notice.volumes:
            return notice
        record = tx.notices.get(notice.id)
        return self._load(record) if record is not None else notice

    # --- views and disclosures ----------------------------------------------------------

    def _acks(self, tx: Transaction, notice_id: str) -> list[dict[str, Any]]:
        """Who acknowledged which version: shown to the owner only."""
        return [
            {"party": a.party, "version": a.version, "at": format_instant(a.at)}
            for a in tx.ledger.acks(notice_id)
        ]

    def _conflict_view(
        self, viewer: Viewer, conflict: Conflict, mine: Notice, other: Notice, status: str
    ) -> dict[str, Any]:
        overlap = conflict_to_json(conflict)["overlap"]
        if sees_in_full(viewer, other):
            shown = full_view(other)
        else:  # the other side's volume indices would hint at volumes it may not see
            shown = minimal_view(other, None)
            overlap = {k: v for k, v in overlap.items() if k != "volumes"}
        return {
            "kind": conflict.kind.value,
            "status": status,
            "notice": {"id": mine.id, "version": mine.version},
            "other": shown,
            "overlap": overlap,
        }

    def _disclosure(
        self, viewer: Viewer, notice: Notice, reason: str, view: dict[str, Any]
    ) -> DisclosureRecord:
        level = "full" if sees_in_full(viewer, notice) else _LEVELS.get(reason, reason)
        return DisclosureRecord(
            at=self.clock.now(),
            recipient=viewer.party,
            owner=notice.party,
            notice_id=notice.id,
            notice_version=notice.version,
            reason=reason,
            level=level,
            view=view,
        )

    def _disclose(self, tx: Transaction, disclosures: Sequence[DisclosureRecord]) -> None:
        """Store disclosures, each answer to each party logged as one ledger entry."""
        groups: dict[tuple[str, str], list[DisclosureRecord]] = {}
        for d in disclosures:
            groups.setdefault((d.recipient, d.reason), []).append(d)
        logged = self.ledger.log_many(
            tx,
            [
                (
                    "disclosure",
                    {
                        "recipient": recipient,
                        "reason": reason,
                        "items": [disclosure_item(d) for d in items],
                    },
                )
                for (recipient, reason), items in groups.items()
            ],
        )
        tx.disclosures.record(
            [
                replace(d, ledger_idx=entry.index)
                for entry, items in zip(logged, groups.values(), strict=True)
                for d in items
            ]
        )

    def _record(self, disclosures: Sequence[DisclosureRecord]) -> None:
        if disclosures:
            with self.ledger.write() as tx:
                self._disclose(tx, disclosures)

    # --- writes -------------------------------------------------------------------------

    def _require_writer(self, viewer: Viewer) -> None:
        if viewer.role is Role.AUDITOR:
            raise errors.Forbidden("an auditor may read metadata but not notify")

    def _check_limits(self, tx: Transaction, notice: Notice) -> None:
        if notice.kind is NoticeKind.OPERATION:
            horizon = self.clock.now() + dt.timedelta(days=self.settings.max_horizon_days)
            for i, volume in enumerate(notice.volumes):
                if volume.time.end is not None and volume.time.end > horizon:
                    raise errors.InvalidValue(
                        f"operations may be notified at most {self.settings.max_horizon_days:g} "
                        "days ahead",
                        field=f"volumes[{i}].time.end",
                    )
        for i, party in enumerate(sorted(notice.audience.parties)):
            if tx.parties.get(party) is None:
                raise errors.InvalidValue(f"no party {party!r}", field=f"audience.parties[{i}]")
        for i, channel in enumerate(sorted(notice.audience.channels)):
            if tx.channels.get(channel) is None:
                raise errors.InvalidValue(
                    f"no channel {channel!r}", field=f"audience.channels[{i}]"
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
            tx.conflicts.put(record)
            changes.append(("changed" if is_open else "opened", record))
        for key, before in existing.items():
            if key not in current and before.status == "open":
                resolved = replace(before, status="resolved", updated_at=now)
                tx.conflicts.put(resolved)
                changes.append(("resolved", resolved))
        return changes

    def _admit(
        self,
        tx: Transaction,
        viewer: Viewer,
        notice: Notice,
        awareness: Awareness,
        created_at: dt.datetime | None,
        status: int,
        previous: Notice | None = None,
    ) -> _Outcome:
        found, others = self._detect(tx, notice) if notice.in_force else ([], {})
        for other_id, other in others.items():
            if sees_in_full(viewer, other):
                others[other_id] = self._full(tx, other)
        views = [self._conflict_view(viewer, c, notice, others[c.b], "open") for c in found]
        disclosures = [
            self._disclosure(viewer, others[c.b], "conflict", v)
            for c, v in zip(found, views, strict=True)
        ]
        missing = [
            v["other"] | {"overlap": v["overlap"]}
            for c, v in zip(found, views, strict=True)
            if awareness.seen.get(c.b) != c.b_version
        ]
        if awareness.strict and missing:
            self._disclose(tx, disclosures)
            error = errors.AwarenessMissing(
                f"{len(missing)} conflicting notice(s) missing from aware_of", field="aware_of"
            )
            return _Outcome(409, {"error": error.to_dict(), "missing": missing}, error)
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
        return _Outcome(status, body)

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
            outcome: _Outcome = work(tx)
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

        def work(tx: Transaction) -> _Outcome:
            self._check_limits(tx, notice)
            return self._admit(tx, viewer, notice, awareness, None, 201)

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

        def work(tx: Transaction) -> _Outcome:
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
            self._check_limits(tx, notice)
            previous = self._load(record)
            return self._admit(tx, viewer, notice, awareness, record.created_at, 200, previous)

        return self._idempotent(viewer, idempotency_key, ("update", notice_id, body), work)

    def cancel(
        self, viewer: Viewer, notice_id: str, version: Any, idempotency_key: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Cancel a notice: a new version in state ``cancelled``; its conflicts resolve."""
        self._require_writer(viewer)

        def work(tx: Transaction) -> _Outcome:
            record = self._owned(tx, viewer, notice_id, version)
            previous = self._load(record)
            notice = replace(previous, version=record.version + 1, state=NoticeState.CANCELLED)
            return self._admit(
                tx, viewer, notice, Awareness({}, False), record.created_at, 200, previous
            )

        return self._idempotent(viewer, idempotency_key, ("cancel", notice_id, version), work)

    # --- reads --------------------------------------------------------------------------

    def get(self, viewer: Viewer, notice_id: str) -> dict[str, Any]:
        """A notice as the caller may see it: full, metadata, minimal, or not at all."""
        with self.store.read() as tx:
            record = tx.notices.get(notice_id)
            if record is None:
                raise errors.NotFound(f"no notice {notice_id!r}")
            notice = self._load(record)
            related = [
                c
                for c in tx.conflicts.involving(notice_id)
                if viewer.party in (c.a_party, c.b_party)
            ]
            acks = self._acks(tx, notice_id) if viewer.party == record.party else []
        if sees_in_full(viewer, notice):
            view = full_view(notice, record.created_at, record.updated_at)
            reason = "read"
            if viewer.party == record.party:
                view["acks"] = acks
        elif viewer.role is Role.AUDITOR:
            view, reason = auditor_view(notice), "metadata"
        elif related:
            view, reason = minimal_view(notice, None), "conflict"
        else:
            raise errors.NotFound(f"no notice {notice_id!r}")
        if notice.party != viewer.party:
            self._record([self._disclosure(viewer, notice, reason, view)])
        return view

    def search(
        self,
        viewer: Viewer,
        bbox: str | None = None,
        start: str | None = None,
        end: str | None = None,
        kind: str | None = None,
    ) -> list[dict[str, Any]]:
        """Notices in force that the caller may see, whose bounding box meets the query."""
        box = parse_bbox(bbox.split(","), "bbox") if bbox else _WORLD
        t0 = parse_instant(start, "start") if start else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        t1 = parse_instant(end, "end") if end else None
        if t1 is not None and t1 <= t0:
            raise errors.TimeInverted("end must be after start", field="end")
        if kind is not None and kind not in {k.value for k in NoticeKind}:
            raise errors.InvalidValue("kind must be operation, protected or movement", field="kind")
        query = Extent(box, -math.inf, math.inf, t0, t1)
        with self.store.read() as tx:
            records = tx.notices.candidates([query])
        views: list[dict[str, Any]] = []
        disclosures = []
        for record in records:
            if kind is not None and record.kind != kind:
                continue
            notice = self._load(record)
            if sees_in_full(viewer, notice):
                view = full_view(notice, record.created_at, record.updated_at)
            elif viewer.role is Role.AUDITOR:
                view = auditor_view(notice)
            else:
                continue
            views.append(view)
            if notice.party != viewer.party:
                disclosures.append(self._disclosure(viewer, notice, "search", view))
        self._record(disclosures)
        return views

    def conflicts(
        self,
        viewer: Viewer,
        status: str | None = "open",
        limit: int = 1000,
        offset: int = 0,
    ) -> tuple[int, list[dict[str, Any]]]:
        """One page of the conflicts involving the caller's notices, seen from its side.

        Returns the total count and the page, oldest first; only the page is disclosed.
        """
        if status not in ("open", "resolved", None):
            raise errors.InvalidValue("status must be open or resolved", field="status")
        if limit < 1 or offset < 0:
            raise errors.InvalidValue(
                "limit must be positive and offset not negative", field="limit"
            )
        with self.store.read() as tx:
            every = tx.conflicts.of_party(viewer.party, status)
            records = every[offset : offset + limit]
            mine: dict[str, Notice] = {}
            others: dict[str, Notice] = {}
            current: dict[tuple[str, str], Conflict] = {}
            for r in records:  # one vectorised detection per notice of mine, not per pair
                mine_id = r.a if r.a_party == viewer.party else r.b
                if mine_id in mine or (stored := tx.notices.get(mine_id)) is None:
                    continue
                notice = mine[mine_id] = self._load(stored)
                if notice.in_force:
                    found, shells = self._detect(tx, notice)
                    others.update(shells)
                    current.update({(mine_id, c.b): c for c in found})
            for r in records:
                other_id = r.b if r.a_party == viewer.party else r.a
                if other_id not in others and (stored := tx.notices.get(other_id)) is not None:
                    others[other_id] = self._shell(stored)
            for other_id, other in others.items():
                if sees_in_full(viewer, other):
                    others[other_id] = self._full(tx, other)
        views, disclosures = [], []
        for r in records:
            mine_id, other_id = (r.a, r.b) if r.a_party == viewer.party else (r.b, r.a)
            if mine_id not in mine or other_id not in others:
                continue
            me, other = mine[mine_id], others[other_id]
            conflict = current.get((mine_id, other_id))
            if conflict is None:  # resolved since: show what was recorded, without overlap
                view = {
                    "kind": r.kind,
                    "status": r.status,
                    "notice": {"id": me.id, "version": me.version},
                    "other": full_view(other)
                    if sees_in_full(viewer, other)
                    else minimal_view(other, None),
                    "overlap": None,
                }
            else:
                view = self._conflict_view(viewer, conflict, me, other, r.status)
            view["detected_at"] = format_instant(r.detected_at)
            views.append(view)
            disclosures.append(self._disclosure(viewer, other, "conflict", view))
        self._record(disclosures)
        return len(every), views

    def check(self, viewer: Viewer, body: Any) -> dict[str, Any]:
        """What-if: the conflicts a notice would have. Nothing is stored."""
        notice = parse_notice(
            body, notice_id="what-if", party=viewer.party, version=0, limits=self.settings.limits
        )
        with self.store.read() as tx:
            found, others = self._detect(tx, notice)
            for other_id, other in others.items():
                if sees_in_full(viewer, other):
                    others[other_id] = self._full(tx, other)
        views, disclosures = [], []
        for c in found:
            other = others[c.b]
            if sees_in_full(viewer, other):
                view = {
                    "kind": c.kind.value,
                    "other": full_view(other),
                    "overlap": conflict_to_json(c)["overlap"],
                }
            else:
                view = {"kind": c.kind.value, "other": check_view(other)}
            views.append(view)
            disclosures.append(self._disclosure(viewer, other, "check", view))
        self._record(disclosures)
        return {"conflicts": views}

    def identify(
        self,
        viewer: Viewer,
        lon: float,
        lat: float,
        alt: float,
        time: str,
        alt_ref: str = "W84",
        tolerance_m: float = 0.0,
        tolerance_s: float = 0.0,
    ) -> dict[str, Any]:
        """Whose operations cover a point at an instant: the owner and kind, nothing more."""
        self._identify_limit.take(viewer.party)
        instant = parse_instant(time, "time")
        for name, value in (
            ("lon", lon),
            ("lat", lat),
            ("alt", alt),
            ("tolerance_m", tolerance_m),
            ("tolerance_s", tolerance_s),
        ):
            if not math.isfinite(value):
                raise errors.NotFinite("must be a finite number", field=name)
        if not -90.0 <= lat <= 90.0:
            raise errors.LatitudeOutOfRange("latitude must be within [-90, 90]", field="lat")
        if not 0.0 <= tolerance_m <= self.settings.max_identify_tolerance_m:
            raise errors.InvalidValue(
                f"tolerance_m must be within [0, {self.settings.max_identify_tolerance_m:g}]",
                field="tolerance_m",
            )
        if not 0.0 <= tolerance_s <= 3600.0:
            raise errors.InvalidValue("tolerance_s must be within [0, 3600]", field="tolerance_s")
        try:
            reference = AltitudeReference(alt_ref)
        except ValueError:
            raise errors.UnknownAltitudeReference(
                "alt_ref must be W84, AMSL, FL or AGL", field="alt_ref"
            ) from None
        spread = dt.timedelta(seconds=tolerance_s)
        probe = Notice(
            "identify",
            viewer.party + "/identify",
            NoticeKind.OPERATION,
            (
                Volume(
                    circle(lon, lat, max(tolerance_m, 0.01), self.settings.limits, "point"),
                    AltitudeBand(alt, alt, reference),
                    TimeWindow(instant - spread, instant + spread + dt.timedelta(microseconds=1)),
                ),
            ),
        )
        zero = replace(
            self.settings.policy,
            airspace=replace(self.settings.policy.airspace, lateral_m=0, vertical_m=0, time_s=0),
        )
        with self.store.read() as tx:
            records = tx.notices.candidates(engine.extents(probe, self.settings.policy, pad=False))
        views, disclosures = [], []
        for record in records:
            notice = self._load(record)
            if (
                notice.kind is not NoticeKind.OPERATION
                or conflict_between(probe, notice, zero) is None
            ):
                continue
            view = full_view(notice) if sees_in_full(viewer, notice) else identify_view(notice)
            views.append(view)
            if notice.party != viewer.party:
                disclosures.append(self._disclosure(viewer, notice, "identify", view))
        self._record(disclosures)
        band = w84_interval(AltitudeBand(alt, alt, reference), self.settings.policy.datum)
        tracks = self.tracks.near(
            viewer,
            lon,
            lat,
            band,
            instant - spread - dt.timedelta(seconds=self.settings.track_stale_s),
            instant + spread,
            tolerance_m,
        )
        return {"operations": views, "tracks": tracks}

    def disclosures(
        self,
        viewer: Viewer,
        recipient: str | None = None,
        notice_id: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Disclosure records: auditors and admins see all; an owner sees those of its notice."""
        if viewer.role is Role.MEMBER:
            if notice_id is None:
                recipient = viewer.party
            else:
                with self.store.read() as tx:
                    record = tx.notices.get(notice_id)
                if record is None or record.party != viewer.party:
                    recipient = viewer.party
        with self.store.read() as tx:
            rows = tx.disclosures.query(recipient, notice_id, max(1, min(limit, 10_000)))
        show_view = viewer.role is not Role.AUDITOR
        return [
            {
                "at": format_instant(d.at),
                "recipient": d.recipient,
                "owner": d.owner,
                "notice_id": d.notice_id,
                "notice_version": d.notice_version,
                "reason": d.reason,
                "level": d.level,
                "ledger_index": d.ledger_idx,
            }
            | ({"view": d.view} if show_view else {})
            for d in rows
        ]
