"""Read use cases: a notice, a search, conflicts, what-if checks, identification, disclosures.

Each answer shows only what the caller may see, and every showing of another
party's notice is recorded as a disclosure.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from typing import Any

from deconflict import engine, errors
from deconflict.altitude import w84_interval
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
from deconflict.geometry import BBox, circle
from deconflict.incident import build_report, incident_question
from deconflict.incident_views import for_reader
from deconflict.interchange import conflict_to_json, format_instant
from deconflict.model import (
    AltitudeBand,
    AltitudeReference,
    Conflict,
    Notice,
    NoticeKind,
    Role,
    TimeWindow,
    Volume,
)
from deconflict.notices import parse_notice
from deconflict.ratelimit import RateLimiter
from deconflict.store import Extent
from deconflict.tracks import TrackMonitor
from deconflict.views import NoticeViews
from deconflict.volumes import parse_bbox, parse_instant

__all__ = ["Queries"]

_WORLD = BBox(-180.0, -90.0, 180.0, 90.0)


class Queries(NoticeViews):
    """The reads of the application; :class:`~deconflict.service.Service` adds the writes."""

    tracks: TrackMonitor
    _identify_limit: RateLimiter
    _check_limit: RateLimiter

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
        """What-if: the conflicts a notice would have. Nothing is stored but what it showed."""
        notice = parse_notice(
            body, notice_id="what-if", party=viewer.party, version=0, limits=self.settings.limits
        )
        self._check_limit.take(viewer.party)  # probes of others' notices are rationed
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

    def incident(
        self, viewer: Viewer, at: Any, lon: float, lat: float, radius_km: float, window_min: float
    ) -> dict[str, Any]:
        """The incident report around a place and time, for auditors and admins.

        It shows the reader notice content only where its party is the owner or in
        the audience, as for any member: the rest is metadata and proofs.
        """
        if viewer.role is Role.MEMBER:
            raise errors.Forbidden("incident reports are for auditors and admins")
        question = incident_question(at, lon, lat, radius_km, window_min)
        return for_reader(build_report(self.store, question, self.settings.policy.datum), viewer)

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
