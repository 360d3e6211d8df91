"""Live tracks: position reports, conformance, closest approach between parties, incursions.

A batch of reports is taken in one write transaction: every report is kept
(late and out-of-order ones too, within the retention window); an aircraft's
state moves only forward in time. Then, for each aircraft whose state moved:

- **conformance**: is it inside (within a tolerance) an active operation
  volume of its own party? A change either way alerts the owner;
- **incursion**: is it inside, or predicted within the lookahead to enter, a
  protected place or a movement's corridor of another party? Both owners are
  alerted when it starts;
- **proximity**: across all fresh states, pairs of aircraft of different
  parties predicted to lose separation within the lookahead alert both
  parties, once, with the relative position and the time to closest approach
  but not the other's aircraft identity.

Alerts are raised when a condition starts (and, for conformance, when it
ends), never on every report: raised conditions are kept in the store.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from deconflict import errors
from deconflict.alerts.center import AlertCenter
from deconflict.altitude import w84_interval
from deconflict.clock import Clock
from deconflict.config import Settings
from deconflict.disclosure import Viewer
from deconflict.engine import footprint_of_core
from deconflict.fleet import Fleet
from deconflict.geometry import BBox, Footprint, circle, corridor
from deconflict.interchange import format_instant
from deconflict.ledger.log import Ledger
from deconflict.model import (
    AltitudeBand,
    AltitudeReference,
    Buffers,
    NoticeKind,
    Role,
    TimeWindow,
    Volume,
)
from deconflict.proximity import Thresholds, approaches
from deconflict.screen import Candidates, screen, to_micros, w84_bounds
from deconflict.sphere import EARTH_RADIUS_M, lonlat_to_unit
from deconflict.store import DisclosureRecord, Extent, Store, Transaction
from deconflict.store.records import TrackPoint
from deconflict.volumes import ALTITUDE_RANGE_M, parse_altitude, parse_instant

__all__ = ["TrackMonitor", "parse_reports"]

_NONE = Buffers(0.0, 0.0, 0.0)
_INSTANT = dt.timedelta(microseconds=1)
_FUTURE = dt.timedelta(seconds=60)
_KEYS = {"aircraft", "time", "lon", "lat", "altitude", "velocity"}


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise errors.WrongType("a number is expected", field=field)
    if not math.isfinite(value):
        raise errors.NotFinite("must be a finite number", field=field)
    return float(value)


_NUMBER = (int, float)  # exact types: a bool is not a number here
_ALTITUDE_KEYS = {"value", "reference", "units"}
_VELOCITY_KEYS = {"east", "north", "up"}


class _Reading:
    """What every report of one batch is checked against."""

    def __init__(self, party: str, now: dt.datetime, settings: Settings) -> None:
        self.party = party
        self.latest = now + _FUTURE
        self.oldest = now - dt.timedelta(hours=settings.track_retention_hours)
        self.datum = settings.policy.datum
        self.instants: dict[Any, dt.datetime] = {}  # a batch tends to share a few instants

    def instant(self, stamp: Any, field: str) -> dt.datetime:
        time = self.instants.get(stamp) if type(stamp) is str else None
        if time is None:
            time = parse_instant(stamp, field)
            self.instants[stamp] = time
        if time > self.latest:
            raise errors.InvalidValue("the report is from the future", field=field)
        if time < self.oldest:
            raise errors.InvalidValue("the report is older than the retention window", field=field)
        return time

    def quick(self, report: Any) -> TrackPoint | None:
        """The report if every field has its usual form and range; else None (see ``strict``)."""
        if type(report) is not dict or not report.keys() <= _KEYS:
            return None
        fields: Any = report  # looked at as loosely as JSON is typed
        aircraft, lon, lat = fields.get("aircraft"), fields.get("lon"), fields.get("lat")
        altitude, velocity = fields.get("altitude"), fields.get("velocity")
        if (
            type(aircraft) is not str
            or not 0 < len(aircraft) <= 64
            or type(lon) not in _NUMBER
            or type(lat) not in _NUMBER
            or not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0)
            or type(altitude) is not dict
            or not altitude.keys() <= _ALTITUDE_KEYS
            or altitude.get("reference") != "W84"
            or altitude.get("units", "m") != "m"
        ):
            return None
        value: Any = altitude.get("value")
        if type(value) not in _NUMBER or not ALTITUDE_RANGE_M[0] <= value <= ALTITUDE_RANGE_M[1]:
            return None
        east = north = up = 0.0
        if velocity is not None:
            if type(velocity) is not dict or not velocity.keys() <= _VELOCITY_KEYS:
                return None
            east, north, up = (
                velocity.get("east", 0.0),
                velocity.get("north", 0.0),
                velocity.get("up", 0.0),
            )
            if type(east) not in _NUMBER or type(north) not in _NUMBER or type(up) not in _NUMBER:
                return None
            if not (east * east + north * north <= 1e6 and -200.0 <= up <= 200.0):
                return None
        time = self.instants.get(fields.get("time"))
        if time is None or not self.oldest <= time <= self.latest:
            return None
        height = float(value)
        return TrackPoint(
            self.party,
            aircraft,
            time,
            float(lon),
            float(lat),
            height,
            height,
            float(east),
            float(north),
            float(up),
        )

    def strict(self, report: Any, where: str) -> TrackPoint:
        """The report, checked field by field; the first fault raises, naming the field."""
        if not isinstance(report, dict):
            raise errors.WrongType("a report is an object", field=where)
        for key in report:
            if key not in _KEYS:
                raise errors.InvalidValue(f"unknown field {key!r}", field=f"{where}.{key}")
        aircraft = report.get("aircraft")
        if not isinstance(aircraft, str) or not 0 < len(aircraft) <= 64:
            raise errors.WrongType("aircraft is 1–64 characters", field=f"{where}.aircraft")
        time = self.instant(report.get("time"), f"{where}.time")
        lon = _number(report.get("lon"), f"{where}.lon")
        lat = _number(report.get("lat"), f"{where}.lat")
        if not -180.0 <= lon <= 180.0:
            raise errors.InvalidValue("lon is within [-180, 180]", field=f"{where}.lon")
        if not -90.0 <= lat <= 90.0:
            raise errors.LatitudeOutOfRange("lat is within [-90, 90]", field=f"{where}.lat")
        altitude = report.get("altitude")
        if not isinstance(altitude, dict) or "value" not in altitude:
            raise errors.WrongType(
                "altitude is {value, reference, units}", field=f"{where}.altitude"
            )
        value = _number(altitude["value"], f"{where}.altitude.value")
        for key in altitude:
            if key not in _ALTITUDE_KEYS:
                raise errors.InvalidValue(f"unknown field {key!r}", field=f"{where}.altitude.{key}")
        band = parse_altitude(
            {k: v for k, v in altitude.items() if k != "value"} | {"lower": value, "upper": value},
            f"{where}.altitude",
        )
        lo, hi = w84_interval(band, self.datum)
        velocity = report.get("velocity")
        velocity = {} if velocity is None else velocity
        if not isinstance(velocity, dict):
            raise errors.WrongType("velocity is {east, north, up}", field=f"{where}.velocity")
        for key in velocity:
            if key not in _VELOCITY_KEYS:
                raise errors.InvalidValue(f"unknown field {key!r}", field=f"{where}.velocity.{key}")
        east, north, up = (
            _number(velocity.get(k, 0.0), f"{where}.velocity.{k}") for k in ("east", "north", "up")
        )
        if math.hypot(east, north) > 1000.0 or abs(up) > 200.0:
            raise errors.InvalidValue("velocity is beyond any aircraft", field=f"{where}.velocity")
        return TrackPoint(self.party, aircraft, time, lon, lat, lo, hi, east, north, up)


def parse_reports(body: Any, party: str, now: dt.datetime, settings: Settings) -> list[TrackPoint]:
    """Validate a batch; each report's altitude becomes a W84 interval.

    Most reports take a quick path that only looks at types and ranges; anything
    unusual (another datum, a missing or odd field, a new instant) takes the
    strict path, which either accepts it too or names the field at fault.
    """
    if not isinstance(body, dict):
        raise errors.WrongType("the body must be a JSON object", field="body")
    reports = body.get("reports")
    if not isinstance(reports, list) or not reports:
        raise errors.WrongType("reports is a non-empty list", field="reports")
    if len(reports) > settings.max_track_batch:
        raise errors.PayloadTooLarge(
            f"at most {settings.max_track_batch} reports per batch", field="reports"
        )
    reading = _Reading(party, now, settings)
    points = []
    for i, report in enumerate(reports):
        point = reading.quick(report)
        points.append(point if point is not None else reading.strict(report, f"reports[{i}]"))
    return points


def _hits(volume: Volume, rows: list[tuple[Any, ...]], datum: Any) -> list[int]:
    """Indices of the candidate rows whose volume meets ``volume`` exactly."""
    if not rows:
        return []
    candidates = Candidates.from_packed([r[5] for r in rows])

    def exact(k: int) -> Footprint:
        return footprint_of_core(candidates.cores[k], float(candidates.radius[k]))

    return np.flatnonzero(screen(volume, candidates, _NONE, datum, exact)).tolist()


def _turned(key: tuple[str, str, str]) -> tuple[str, str, str]:
    """A proximity condition seen from the other aircraft's side."""
    party, aircraft = key[2].split("/", 1)
    return (party, aircraft, f"{key[0]}/{key[1]}")


def _other(key: tuple[str, str, str]) -> tuple[str, str]:
    party, aircraft = key[2].split("/", 1)
    return (party, aircraft)


class _Batch:
    """A batch's states as columns."""

    def __init__(self, points: Sequence[TrackPoint]) -> None:
        rows = np.array(
            [(p.lon, p.lat, p.alt_lo, p.alt_hi, p.east, p.north, p.up) for p in points],
            dtype=np.float64,
        )
        self.lon, self.lat, self.alt_lo, self.alt_hi, self.east, self.north, self.up = rows.T
        self.micros = np.array([to_micros(p.time) for p in points], dtype=np.int64)
        self.first = min(p.time for p in points)
        self.last = max(p.time for p in points)
        self.units = lonlat_to_unit(self.lon, self.lat)

    def box(self) -> BBox:
        """A box around every position (the whole width of the map if it spans ±180°)."""
        return BBox(
            float(self.lon.min()),
            float(self.lat.min()),
            float(self.lon.max()),
            float(self.lat.max()),
        )


def _caps(c: Candidates) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """A cap on the sphere around each candidate footprint: centre (unit vector), radius (rad).

    The cap around a core's vertices holds the core's hull, since a cap under a
    hemisphere is convex; the footprint's own radius is added. A cap too wide to
    say anything is widened to the whole sphere.
    """
    coords, which = shapely.get_coordinates(c.cores, return_index=True)
    units = lonlat_to_unit(coords[:, 0], coords[:, 1])
    centre = np.zeros((len(c), 3))
    np.add.at(centre, which, units)
    norm = np.linalg.norm(centre, axis=1)
    centre /= np.where(norm > 1e-9, norm, 1.0)[:, None]
    spread = np.zeros(len(c))
    angle = np.arccos(np.clip(np.sum(units * centre[which], axis=1), -1.0, 1.0))
    np.maximum.at(spread, which, angle)
    radius = spread + c.radius + 1e-9
    return centre, np.where((norm > 1e-9) & (spread < math.pi / 2), radius, math.pi)


class TrackMonitor:
    """Takes position reports and raises track alerts."""

    def __init__(
        self, store: Store, ledger: Ledger, clock: Clock, settings: Settings, alerts: AlertCenter
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._clock = clock
        self._settings = settings
        self._alerts = alerts
        self._fleet = Fleet()

    @property
    def thresholds(self) -> Thresholds:
        s = self._settings
        return Thresholds(s.proximity_horizontal_m, s.proximity_vertical_m, s.lookahead_s)

    def _probe(self, p: TrackPoint, radius_m: float, vertical_m: float, ahead_s: float) -> Volume:
        """The space an aircraft may occupy from now until ``ahead_s`` later."""
        later = p.time + dt.timedelta(seconds=ahead_s)
        climb = p.up * ahead_s
        band = AltitudeBand(
            min(p.alt_lo, p.alt_lo + climb) - vertical_m,
            max(p.alt_hi, p.alt_hi + climb) + vertical_m,
            AltitudeReference.W84,
        )
        travel = math.hypot(p.east, p.north) * ahead_s
        if travel < 1.0:
            footprint = circle(p.lon, p.lat, max(radius_m, 1.0))
        else:
            course = math.atan2(p.east, p.north)
            start = lonlat_to_unit(p.lon, p.lat)
            east = np.array([-math.sin(math.radians(p.lon)), math.cos(math.radians(p.lon)), 0.0])
            north = np.cross(start, east)
            d = travel / EARTH_RADIUS_M
            end = math.cos(d) * start + math.sin(d) * (
                math.sin(course) * east + math.cos(course) * north
            )
            footprint = corridor(start, end, max(radius_m, 1.0))
        return Volume(footprint, band, TimeWindow(p.time, later + _INSTANT))

    def ingest(self, viewer: Viewer, body: Any) -> dict[str, Any]:
        if viewer.role is Role.AUDITOR:
            raise errors.Forbidden("an auditor may read metadata but not report tracks")
        now = self._clock.now()
        points = parse_reports(body, viewer.party, now, self._settings)
        stale = dt.timedelta(seconds=self._settings.track_stale_s)
        try:
            with self._ledger.write() as tx:
                self._fleet.follow(tx)
                tx.tracks.add_reports(points)
                moved = tx.tracks.advance(points)
                if moved:
                    self._fleet.put(moved)
                    self._fleet.seq += 1  # this batch's change
                raised = self._conformance(tx, moved) + self._incursion(tx, viewer.party, moved)
                if moved:
                    keys = {(p.party, p.aircraft) for p in moved}
                    raised += self._proximity(tx, now, viewer.party, keys)
                tx.tracks.prune(now - dt.timedelta(hours=self._settings.track_retention_hours))
        except BaseException:
            self._fleet.forget()  # it may hold what was rolled back: reload it next time
            raise
        self._fleet.drop_older(now - 2 * stale)
        self._alerts.notifier.notify()
        return {"accepted": len(points), "moved": len(moved), "alerts": raised}

    # --- the three checks, each raising alerts on a change ----------------------------------

    def _batch_rows(
        self, tx: Transaction, extent: Extent, keep: Any, exclude_party: str | None = None
    ) -> tuple[list[tuple[Any, ...]], Candidates | None]:
        """Indexed volumes meeting one extent around a whole batch, and their columns."""
        rows = [r for r in tx.notices.candidate_volumes([extent], exclude_party) if keep(r)]
        return rows, (Candidates.from_packed([r[5] for r in rows]) if rows else None)

    def _conforming(self, tx: Transaction, moved: Sequence[TrackPoint]) -> list[bool]:
        """Which aircraft are within their party's operations, all decided together.

        One index query covers the batch. Circles (most operation areas) are decided
        in one vectorised pass: the distance on the sphere to the centre against
        radius plus tolerance, with the band and the window. Other shapes go through
        the exact screen, only where an enclosing cap says they might hold it.
        """
        s = self._settings
        if not moved:
            return []
        lateral, vertical = s.conformance_lateral_m, s.conformance_vertical_m
        a = _Batch(moved)
        extent = Extent(
            a.box().padded(lateral),
            float(a.alt_lo.min()) - vertical,
            float(a.alt_hi.max()) + vertical,
            a.first,
            a.last + _INSTANT,
        )
        party = moved[0].party
        rows, c = self._batch_rows(
            tx, extent, lambda r: r[3] == party and r[4] == NoticeKind.OPERATION.value
        )
        if c is None:
            return [False] * len(moved)
        lo, hi = w84_bounds(c, s.policy.datum)
        t = a.micros[:, None]
        timely = (
            (c.start <= t)
            & (t < c.end)
            & (a.alt_hi[:, None] + vertical >= lo)
            & (a.alt_lo[:, None] - vertical <= hi)
        )
        centre, reach = _caps(c)
        gap = np.arccos(np.clip(a.units @ centre.T, -1.0, 1.0))
        near = timely & (gap <= reach + lateral / EARTH_RADIUS_M)
        circles = shapely.get_type_id(c.cores) == 0
        inside = (near & circles).any(axis=1)  # for a circle its cap is the footprint itself
        for k in np.flatnonzero(~inside & (near & ~circles).any(axis=1)):
            try:
                volume = self._probe(moved[int(k)], lateral, vertical, 0.0)
            except errors.ContainsPole:  # within the tolerance of a pole: no exact test
                continue  # the safe answer is "not inside": its owner hears of it
            maybe = [rows[n] for n in np.flatnonzero(near[k] & ~circles)]
            inside[k] = bool(_hits(volume, maybe, s.policy.datum))
        return [bool(x) for x in inside]

    def _conformance(self, tx: Transaction, moved: Sequence[TrackPoint]) -> int:
        if not moved:
            return 0
        flagged = tx.tracks.flags("nonconforming", moved[0].party)
        start: list[tuple[str, str, str]] = []
        end: list[tuple[str, str, str]] = []
        items: list[tuple[str, str, dict[str, Any]]] = []
        for p, inside in zip(moved, self._conforming(tx, moved), strict=True):
            key = (p.party, p.aircraft, "")
            where = {
                "aircraft": p.aircraft,
                "time": format_instant(p.time),
                "lon": p.lon,
                "lat": p.lat,
            }
            if not inside and key not in flagged:
                start.append(key)
                items.append((p.party, "track.nonconforming", where))
            elif inside and key in flagged:
                end.append(key)
                items.append((p.party, "track.conforming", where))
        tx.tracks.raise_flags("nonconforming", start, self._clock.now())
        tx.tracks.clear_flags("nonconforming", end)
        return self._alerts.track_alerts(tx, items)

    def _incursions(
        self, tx: Transaction, party: str, moved: Sequence[TrackPoint]
    ) -> list[dict[str, tuple[str, str]]]:
        """For each aircraft, the protected places and movements of others it is in or will
        enter within the lookahead: notice id → (party, kind).

        One index query covers the whole batch's predicted paths; enclosing caps on
        the sphere pick the few pairs worth the exact test against the path (a corridor).
        """
        found: list[dict[str, tuple[str, str]]] = [{} for _ in moved]
        if not moved:
            return found
        ahead = self._settings.lookahead_s
        a = _Batch(moved)
        travel = np.hypot(a.east, a.north) * ahead + 10.0
        low = np.minimum(a.alt_lo, a.alt_lo + a.up * ahead)
        high = np.maximum(a.alt_hi, a.alt_hi + a.up * ahead)
        extent = Extent(
            a.box().padded(float(travel.max())),  # wraps at ±180° as needed
            float(low.min()),
            float(high.max()),
            a.first,
            a.last + dt.timedelta(seconds=ahead) + _INSTANT,
        )
        kinds = (NoticeKind.PROTECTED.value, NoticeKind.MOVEMENT.value)
        rows, c = self._batch_rows(tx, extent, lambda r: r[4] in kinds, party)
        if c is None:
            return found
        lo, hi = w84_bounds(c, self._settings.policy.datum)
        t = a.micros[:, None]
        centre, reach = _caps(c)
        gap = np.arccos(np.clip(a.units @ centre.T, -1.0, 1.0))
        maybe = (
            (c.start <= t + int(ahead * 1e6))
            & (t < c.end)
            & (high[:, None] >= lo)
            & (low[:, None] <= hi)
            & (gap <= reach + travel[:, None] / EARTH_RADIUS_M)
        )
        for k in np.flatnonzero(maybe.any(axis=1)):
            near = [rows[n] for n in np.flatnonzero(maybe[k])]
            try:
                volume = self._probe(moved[int(k)], 1.0, 0.0, ahead)
            except errors.ContainsPole:  # hovering on a pole: no exact test
                hits = list(range(len(near)))  # the safe answer: every place the caps allow
            else:
                hits = _hits(volume, near, self._settings.policy.datum)
            found[k] = {near[n][1]: (near[n][3], near[n][4]) for n in hits}
        return found

    def _incursion(self, tx: Transaction, party: str, moved: Sequence[TrackPoint]) -> int:
        flagged = tx.tracks.flags("incursion", party)
        start: list[tuple[str, str, str]] = []
        end: list[tuple[str, str, str]] = []
        items: list[tuple[str, str, dict[str, Any]]] = []
        shown: list[DisclosureRecord] = []
        now = self._clock.now()
        for p, found in zip(moved, self._incursions(tx, party, moved), strict=True):
            for notice_id, (owner, kind) in found.items():
                key = (p.party, p.aircraft, notice_id)
                if key in flagged:
                    continue
                start.append(key)
                place = {"id": notice_id, "party": owner, "kind": kind}
                data = {"aircraft": p.aircraft, "notice": place, "time": format_instant(p.time)}
                items.append((p.party, "track.incursion", data))
                items.append(
                    (
                        owner,
                        "track.incursion",
                        {
                            "notice": {"id": notice_id},
                            "aircraft_party": p.party,
                            "time": format_instant(p.time),
                        },
                    )
                )
                record = tx.notices.get(notice_id)
                version = record.version if record is not None else 0
                shown.append(
                    DisclosureRecord(
                        now, p.party, owner, notice_id, version, "incursion", "minimal", place
                    )
                )
            end.extend(k for k in flagged if k[:2] == (p.party, p.aircraft) and k[2] not in found)
        tx.tracks.raise_flags("incursion", start, now)
        tx.tracks.clear_flags("incursion", end)
        return self._alerts.track_alerts(tx, items, shown)

    def _proximity(
        self, tx: Transaction, now: dt.datetime, party: str, moved: set[tuple[str, str]]
    ) -> int:
        """Pairs with an aircraft of this batch; pairs of others were checked when they moved.

        Every aircraft is taken where it is now, not where it was reported.
        Raised conditions are kept both ways round (one per party), raised and
        cleared together; this batch's party's side is the one looked up.
        """
        fleet = self._fleet.at(now, now - dt.timedelta(seconds=self._settings.track_stale_s))
        focus = np.array(sorted(fleet.row[k] for k in moved if k in fleet.row), dtype=np.int64)
        current: dict[tuple[str, str, str], dict[str, Any]] = {}
        for i, j, a in approaches(
            fleet.motion, self.thresholds, fleet.margins, focus=focus, group=fleet.group
        ):
            (pi, ai), (pj, aj) = fleet.keys[i], fleet.keys[j]
            common = {
                "t_loss_s": a.t_loss_s,
                "t_cpa_s": a.t_cpa_s,
                "horizontal_m": a.horizontal_m,
                "vertical_m": a.vertical_m,
            }
            current[(pi, ai, f"{pj}/{aj}")] = common | {
                "aircraft": ai,
                "other_party": pj,
                "relative": {"east_m": a.east_m, "north_m": a.north_m},
            }
            current[(pj, aj, f"{pi}/{ai}")] = common | {
                "aircraft": aj,
                "other_party": pi,
                "relative": {"east_m": -a.east_m, "north_m": -a.north_m},
            }
        flagged = tx.tracks.flags("proximity", party)
        new = [k for k in current if k[0] == party and k not in flagged]
        new += [_turned(k) for k in new]
        # Only pairs re-examined now may clear: one side moved, or went stale.
        cleared = [
            k
            for k in flagged
            if k not in current
            and (
                (k[0], k[1]) in moved or (k[0], k[1]) not in fleet.row or _other(k) not in fleet.row
            )
        ]
        cleared += [_turned(k) for k in cleared]
        tx.tracks.raise_flags("proximity", new, now)
        tx.tracks.clear_flags("proximity", cleared)
        items = [(k[0], "track.proximity", current[k]) for k in new]
        return self._alerts.track_alerts(tx, items)

    def latest(self, viewer: Viewer, within_s: float) -> list[dict[str, Any]]:
        """The caller's own aircraft, each where it was last reported within ``within_s``.

        Other parties' positions are never listed: they are told only as alerts.
        """
        if not 0.0 < within_s <= 86_400.0:
            raise errors.InvalidValue("within_s is within (0, 86400]", field="within_s")
        since = self._clock.now() - dt.timedelta(seconds=within_s)
        with self._store.read() as tx:
            states = tx.tracks.states(since)
        return [
            {
                "aircraft": p.aircraft,
                "time": format_instant(p.time),
                "lon": p.lon,
                "lat": p.lat,
                "altitude": {"lower": p.alt_lo, "upper": p.alt_hi, "reference": "W84"},
                "velocity": {"east": p.east, "north": p.north, "up": p.up},
            }
            for p in states
            if p.party == viewer.party
        ]

    # --- identification -----------------------------------------------------------------

    def near(
        self,
        viewer: Viewer,
        lon: float,
        lat: float,
        alt: tuple[float, float],
        start: dt.datetime,
        end: dt.datetime,
        tolerance_m: float,
    ) -> list[dict[str, Any]]:
        """Aircraft reported near a point in a time window: the owner, and to it the details."""
        reach = max(tolerance_m, 50.0)
        box = BBox(lon, lat, lon, lat).padded(reach)
        found = []
        with self._store.read() as tx:
            for piece in box.pieces():
                found += tx.tracks.reports_near(piece, start, end)
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        here = lonlat_to_unit(lon, lat)
        for p in found:
            gap = float(np.arccos(np.clip(here @ lonlat_to_unit(p.lon, p.lat), -1, 1)))
            if gap * EARTH_RADIUS_M > reach or p.alt_hi < alt[0] or p.alt_lo > alt[1]:
                continue
            view: dict[str, Any] = {"party": p.party, "kind": "track"}
            if p.party == viewer.party:
                view |= {
                    "aircraft": p.aircraft,
                    "time": format_instant(p.time),
                    "lon": p.lon,
                    "lat": p.lat,
                }
            seen[(p.party, p.aircraft)] = view  # the newest report of each aircraft
        return list(seen.values())
