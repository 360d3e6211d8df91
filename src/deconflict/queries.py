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
from deconflict.altitude import FEET, w84_interval
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
from deconflict.grid import cell_around, round_window
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
from deconflict.store import Extent
from deconflict.store.protocols import Transaction
from deconflict.theater import detect_all
from deconflict.tracks import TrackMonitor
from deconflict.views import NoticeViews
from deconflict.volumes import parse_bbox, parse_instant

__all__ = ["Queries"]

_WORLD = BBox(-180.0, -90.0, 180.0, 90.0)


class Queries(NoticeViews):
    """The reads of the application; :class:`~deconflict.service.Service` adds the writes."""

    tracks: TrackMonitor

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
        with self.ledger.write() as tx:  # what is shown is paid for and recorded together
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
                    view = self._conflict_view(tx, viewer, conflict, me, other, r.status)
                view["detected_at"] = format_instant(r.detected_at)
                views.append(view)
                disclosures.append(self._disclosure(viewer, other, "conflict", view))
            self._disclose(tx, disclosures)
        self.alerts.notifier.notify()
        return len(every), views

    def check(self, viewer: Viewer, body: Any) -> dict[str, Any]:
        """What-if: the conflicts a notice would have. Nothing is stored but what it showed.

        Another party's notice is shown as existence only (id, kind, owner); each
        check draws on the same ration as refused writes.
        """
        notice = parse_notice(
            body, notice_id="what-if", party=viewer.party, version=0, limits=self.settings.limits
        )
        self.operation_limits(notice)
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
            if other.party != viewer.party:
                disclosures.append(self._disclosure(viewer, other, "check", view))
        with self.ledger.write() as tx:
            self.rations.take(tx, ("probe", viewer.party), self.settings.check_per_minute)
            self._probed(tx, viewer, [others[c.b] for c in found])
            self._disclose(tx, disclosures)
        self.alerts.notifier.notify()
        return {"conflicts": views}

    def operation_limits(self, notice: Notice) -> None:
        """Operations fit real activity: area and duration per volume, and how far ahead."""
        if notice.kind is not NoticeKind.OPERATION:
            return
        settings = self.settings
        horizon = self.clock.now() + dt.timedelta(days=settings.max_horizon_days)
        longest = dt.timedelta(hours=settings.max_operation_hours)
        for i, volume in enumerate(notice.volumes):
            area_km2 = volume.footprint.area_m2 / 1e6
            if area_km2 > settings.max_operation_area_km2:
                raise errors.AreaTooLarge(
                    f"an operation volume covers at most {settings.max_operation_area_km2:,.0f} "
                    f"km² (max_operation_area_km2); this one {area_km2:,.0f} km²",
                    field=f"volumes[{i}].footprint",
                )
            end = volume.time.end
            if end is None or end - volume.time.start > longest:
                raise errors.InvalidValue(
                    f"an operation volume lasts at most {settings.max_operation_hours:g} h "
                    "(max_operation_hours)",
                    field=f"volumes[{i}].time.end",
                )
            if end > horizon:
                raise errors.InvalidValue(
                    f"operations may be notified at most {settings.max_horizon_days:g} "
                    "days ahead (max_horizon_days)",
                    field=f"volumes[{i}].time.end",
                )

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
        """Whose operations cover a point at an instant: the owner and kind, nothing more.

        ``alt`` is in metres, or in flight levels (hundreds of feet) when ``alt_ref``
        is FL. Operations are identified only near the current time (outside it the
        answer names the window and lists none); tracks at any time still kept.
        Each identification draws on the caller's ration and on one per owner
        found; an invalid probe costs nothing.
        """
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
        now = self.clock.now()
        window = dt.timedelta(minutes=self.settings.identify_window_min)
        about_now = abs(instant - now) <= window
        metres = alt * 100.0 * FEET if reference is AltitudeReference.FL else alt
        spread = dt.timedelta(seconds=tolerance_s)
        probe = Notice(
            "identify",
            viewer.party + "/identify",
            NoticeKind.OPERATION,
            (
                Volume(
                    circle(lon, lat, max(tolerance_m, 0.01), self.settings.limits, "point"),
                    AltitudeBand(metres, metres, reference),
                    TimeWindow(instant - spread, instant + spread + dt.timedelta(microseconds=1)),
                ),
            ),
        )
        zero = replace(
            self.settings.policy,
            airspace=replace(self.settings.policy.airspace, lateral_m=0, vertical_m=0, time_s=0),
        )
        coarse = self._grid_probe(probe, lon, lat, metres, tolerance_m)
        records = []
        if about_now:  # operations are identified only around now; tracks at any kept time
            with self.store.read() as tx:
                boxes = engine.extents(coarse, self.settings.policy, pad=False)
                records = tx.notices.candidates(boxes)
        views, disclosures, found = [], [], []
        for record in records:
            notice = self._load(record)
            # The audience is told exactly; anyone else is answered for the whole grid
            # cell, layer and slot around the point, so a sweep learns no finer.
            asked = probe if sees_in_full(viewer, notice) else coarse
            if notice.kind is not NoticeKind.OPERATION or not detect_all([asked, notice], zero):
                continue
            view = full_view(notice) if sees_in_full(viewer, notice) else identify_view(notice)
            views.append(view)
            if notice.party != viewer.party:
                disclosures.append(self._disclosure(viewer, notice, "identify", view))
                if not sees_in_full(viewer, notice):
                    found.append(notice)
        with self.ledger.write() as tx:
            self._identified(tx, viewer, found)
            self._disclose(tx, disclosures)
        self.alerts.notifier.notify()
        band = w84_interval(AltitudeBand(metres, metres, reference), self.settings.policy.datum)
        tracks = self.tracks.near(
            viewer,
            lon,
            lat,
            band,
            instant - spread - dt.timedelta(seconds=self.settings.track_stale_s),
            instant + spread,
            tolerance_m,
        )
        answer: dict[str, Any] = {"operations": views, "tracks": tracks}
        if not about_now:
            answer["operations_window"] = {
                "start": format_instant(now - window),
                "end": format_instant(now + window),
            }
        return answer

    def _grid_probe(
        self, probe: Notice, lon: float, lat: float, metres: float, tolerance_m: float
    ) -> Notice:
        """The probe widened to the disclosure grid's cell, layer and slot around the point."""
        grid = self.settings.grid
        (volume,) = probe.volumes
        c_lon, c_lat, radius = cell_around(lon, lat, grid.resolution)
        floor = math.floor(metres / grid.layer_m) * grid.layer_m
        start, end = round_window(volume.time.start, volume.time.end, grid.slot_s)
        widened = Volume(
            circle(c_lon, c_lat, radius + tolerance_m, self.settings.limits, "point"),
            replace(volume.altitude, lower_m=floor, upper_m=floor + grid.layer_m),
            TimeWindow(start, end),
        )
        return replace(probe, volumes=(widened,))

    def _identified(self, tx: Transaction, viewer: Viewer, found: list[Notice]) -> None:
        """Ration an identification per caller and per owner found; alert owners past the limit."""
        settings = self.settings
        self.rations.take(tx, ("identify", viewer.party), settings.identify_per_minute)
        owners = sorted({n.party for n in found})
        for owner in owners:
            key = ("identify", viewer.party, owner)
            self.rations.take(tx, key, settings.identify_per_owner_per_minute)
        limit = settings.identify_alert_per_day
        self.alerts.need_to_know(
            tx,
            [
                (
                    owner,
                    {
                        "reason": "identify",
                        "recipient": viewer.party,
                        "message": f"{viewer.party}'s identifications have found your operations"
                        f" more than {limit:g} times within a day",
                    },
                )
                for owner in owners
                if self.rations.tally(tx, ("identified", viewer.party, owner), 1.0, limit)
            ],
        )

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
            # What was shown is content: only its recipient and the notice's owner read
            # it, and an auditor reads none.
            | ({"view": d.view} if show_view and viewer.party in (d.recipient, d.owner) else {})
            for d in rows
        ]
