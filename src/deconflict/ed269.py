"""ED-269 UAS geographical zones (EUROCAE data model, JSON encoding) as protected notices.

Each zone that restricts anything becomes one protected notice of the importing
party: one volume per geometry item and time window.

- **Footprint:** ``horizontalProjection`` is a GeoJSON ``Polygon`` or a
  ``Circle`` (``center`` [lon, lat], ``radius`` in ``uomDimensions``).
- **Altitude:** ``lowerLimit``/``upperLimit`` in ``uomDimensions`` (``M`` or
  ``FT``, kept as given), referenced ``AGL``, ``AMSL`` or ``WGS84`` (``W84``
  here). A missing limit is the surface (lower) or unlimited (upper). When the
  two limits have different references, a lower limit of 0 AGL is the surface
  in the upper limit's reference; otherwise the band is widened into a W84 band
  that surely contains it, with the deployment's datum margins. Never a guess.
- **Time:** no ``applicability`` (or ``permanent: YES``) is in force from the
  import until cancelled; ``startDateTime``/``endDateTime`` bound a period; a
  weekly ``schedule`` (``day`` list of ``MON``…``SUN`` or ``ANY``,
  ``startTime``/``endTime`` with a UTC offset; an end at or before the start
  crosses midnight) is expanded into windows from the import to
  ``horizon_days`` later, clipped to that span, since a notice's volumes are
  explicit windows: import again to extend it. Overlapping and adjacent
  windows are merged.
- **Category:** from ``reason``: ``POPULATION``, ``PRIVACY`` and ``NOISE`` are
  ``civilian``, ``EMERGENCY`` is ``humanitarian``, anything else ``other``.
- **Contact:** the first ``zoneAuthority`` (name, contact, e-mail, phone), with
  the zone's ``identifier`` so the notice can be traced to its zone.

Zones with ``restriction: NO_RESTRICTION``, and zones with no time in force
within the horizon, are skipped and reported.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from deconflict import errors
from deconflict.altitude import FEET, DatumMargins, w84_interval
from deconflict.exchange import PlannedNotice
from deconflict.geometry import (
    GeometryLimits,
    circle,
    finite_number,
    footprint_from_geojson,
    parse_position,
)
from deconflict.interchange import format_instant
from deconflict.model import AltitudeBand, AltitudeReference
from deconflict.notices import parse_notice
from deconflict.volumes import parse_altitude, parse_instant, require

__all__ = ["DEFAULT_HORIZON_DAYS", "plan_ed269"]

DEFAULT_HORIZON_DAYS = 30
_RESTRICTIONS = ("PROHIBITED", "REQ_AUTHORISATION", "CONDITIONAL", "NO_RESTRICTION")
_REFERENCES = {"AGL": AltitudeReference.AGL, "AMSL": AltitudeReference.AMSL}
_REFERENCES["WGS84"] = AltitudeReference.W84
_UNITS = {"M": (1.0, "m"), "FT": (FEET, "ft")}
_DAYS = {"MON": 0, "TUE": 1, "WED": 2, "THU": 3, "FRI": 4, "SAT": 5, "SUN": 6}
_CATEGORIES = {
    "POPULATION": "civilian",
    "PRIVACY": "civilian",
    "NOISE": "civilian",
    "EMERGENCY": "humanitarian",
}
_MIDNIGHT = re.compile(r"24:00(:00(\.0+)?)?(?P<zone>Z|[+-]\d\d:\d\d)")
_MAX_CONTACT = 500

Window = tuple[dt.datetime, dt.datetime | None]


def _text(obj: dict[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise errors.WrongType(f"{key} must be a string", field=f"{path}.{key}")
    return value


# --- time ------------------------------------------------------------------------------


def _clock_time(value: Any, path: str) -> tuple[dt.time, int]:
    """A schedule time with its UTC offset, and how many days it lies past its date."""
    if not isinstance(value, str):
        raise errors.WrongType("expected a time such as 10:00Z", field=path)
    midnight = _MIDNIGHT.fullmatch(value)
    try:
        if midnight:
            return dt.time.fromisoformat("00:00" + midnight["zone"]), 1
        parsed = dt.time.fromisoformat(value)
    except ValueError:
        raise errors.InvalidValue(f"{value!r} is not a time such as 10:00Z", field=path) from None
    if parsed.tzinfo is None:
        raise errors.InvalidValue(
            f"{value!r} has no time zone; write it as 10:00Z or 10:00+02:00", field=path
        )
    return parsed, 0


def _days(value: Any, path: str) -> set[int]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise errors.WrongType("day is a list of MON…SUN or ANY", field=path)
    days: set[int] = set()
    for i, name in enumerate(names):
        if name == "ANY":
            days.update(range(7))
        elif name in _DAYS:
            days.add(_DAYS[name])
        else:
            raise errors.InvalidValue(
                f"unknown day {name!r}; use MON, TUE, WED, THU, FRI, SAT, SUN or ANY",
                field=f"{path}[{i}]" if isinstance(value, list) else path,
            )
    if not days:
        raise errors.InvalidValue("day names no day; use MON…SUN or ANY", field=path)
    return days


def _schedule_windows(
    entries: list[Any], path: str, start: dt.datetime, end: dt.datetime
) -> list[Window]:
    """The windows of a weekly schedule that meet ``[start, end)``, in UTC."""
    windows: list[Window] = []
    for k, entry in enumerate(entries):
        epath = f"{path}[{k}]"
        if not isinstance(entry, dict):
            raise errors.WrongType("a schedule entry is an object", field=epath)
        if not entry.get("day") and entry.get("startTime") is None and entry.get("endTime") is None:
            continue  # an empty placeholder, as some publishers write "no schedule"
        days = _days(require(entry, "day", epath), f"{epath}.day")
        begin, _ = _clock_time(require(entry, "startTime", epath), f"{epath}.startTime")
        finish, extra = _clock_time(require(entry, "endTime", epath), f"{epath}.endTime")
        date = (start - dt.timedelta(days=2)).date()
        while date <= end.date() + dt.timedelta(days=1):
            if date.weekday() in days:
                w0 = dt.datetime.combine(date, begin).astimezone(dt.UTC)
                w1 = dt.datetime.combine(date + dt.timedelta(days=extra), finish)
                w1 = w1.astimezone(dt.UTC)
                if w1 <= w0:  # the window crosses midnight
                    w1 += dt.timedelta(days=1)
                lo, hi = max(w0, start), min(w1, end)
                if lo < hi:
                    windows.append((lo, hi))
            date += dt.timedelta(days=1)
    return windows


def _windows(value: Any, path: str, now: dt.datetime, horizon: dt.datetime) -> list[Window]:
    """Time windows of a zone's applicability; ``end`` None means until cancelled."""
    if value is None or value == []:
        return [(now, None)]
    if not isinstance(value, list):
        raise errors.WrongType("applicability is a list of periods", field=path)
    windows: list[Window] = []
    for k, period in enumerate(value):
        ppath = f"{path}[{k}]"
        if not isinstance(period, dict):
            raise errors.WrongType("a period is an object", field=ppath)
        if period.get("permanent") not in (None, "YES", "NO"):
            raise errors.InvalidValue("permanent is YES or NO", field=f"{ppath}.permanent")
        start = end = None
        if period.get("startDateTime") is not None:
            start = parse_instant(period["startDateTime"], f"{ppath}.startDateTime")
        if period.get("endDateTime") is not None:
            end = parse_instant(period["endDateTime"], f"{ppath}.endDateTime")
            if start is not None and end <= start:
                raise errors.TimeInverted(
                    "endDateTime must be after startDateTime", field=f"{ppath}.endDateTime"
                )
        key = "schedule" if "schedule" in period else "dailyPeriod"
        schedule = period.get(key) or []
        if not isinstance(schedule, list):
            raise errors.WrongType("a schedule is a list", field=f"{ppath}.{key}")
        bounded_start = max(start or now, now)
        bounded_end = horizon if end is None else min(end, horizon)
        scheduled = _schedule_windows(schedule, f"{ppath}.{key}", bounded_start, bounded_end)
        if scheduled or any(isinstance(e, dict) and e.get("day") for e in schedule):
            windows.extend(scheduled)
        elif end is None or end > now:
            windows.append((start or now, end))
    return _merge(windows)


def _merge(windows: list[Window]) -> list[Window]:
    """Overlapping or adjacent half-open windows merged, in time order."""
    merged: list[Window] = []
    for start, end in sorted(windows, key=lambda w: (w[0], w[1] is None, w[1])):
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None or start <= last_end:
                later = None if last_end is None or end is None else max(last_end, end)
                merged[-1] = (last_start, later)
                continue
        merged.append((start, end))
    return merged


# --- space -----------------------------------------------------------------------------


def _footprint(value: Any, path: str, scale: float, limits: GeometryLimits) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.WrongType("horizontalProjection is an object", field=path)
    kind = value.get("type")
    if kind == "Polygon":
        shape = {"type": "Polygon", "coordinates": require(value, "coordinates", path)}
        return footprint_from_geojson(shape, limits, path).geojson
    if kind != "Circle":
        raise errors.UnsupportedGeometry(
            f"horizontalProjection type must be Polygon or Circle, not {kind!r}",
            field=f"{path}.type",
        )
    lon, lat = parse_position(require(value, "center", path), f"{path}.center")
    radius = finite_number(require(value, "radius", path), f"{path}.radius") * scale
    try:
        return circle(lon, lat, radius, limits, path).geojson
    except errors.DeconflictError as exc:
        if exc.field == f"{path}.radius_m":
            exc.field = f"{path}.radius"
        raise


def _limit(item: dict[str, Any], key: str, path: str) -> float | None:
    value = item.get(key)
    return None if value is None else finite_number(value, f"{path}.{key}")


def _reference(item: dict[str, Any], key: str, path: str) -> AltitudeReference:
    value = require(item, key, path)
    if value not in _REFERENCES:
        raise errors.UnknownAltitudeReference(
            f"unknown vertical reference {value!r}; use AGL, AMSL or WGS84", field=f"{path}.{key}"
        )
    return _REFERENCES[value]


def _altitude(item: dict[str, Any], path: str, datum: DatumMargins) -> dict[str, Any]:
    """The band of one geometry item, as the notice altitude JSON."""
    uom = require(item, "uomDimensions", path)
    if uom not in _UNITS:
        raise errors.InvalidValue("uomDimensions is M or FT", field=f"{path}.uomDimensions")
    scale, units = _UNITS[uom]
    lower, upper = _limit(item, "lowerLimit", path), _limit(item, "upperLimit", path)
    lower_ref = _reference(item, "lowerVerticalReference", path) if lower is not None else None
    upper_ref = _reference(item, "upperVerticalReference", path) if upper is not None else None
    agl = AltitudeReference.AGL
    if lower == 0 and lower_ref is agl and upper_ref is not None and upper_ref is not agl:
        lower, lower_ref = None, None  # 0 AGL is the surface, in any reference
    band: dict[str, Any]
    if (
        lower is not None
        and upper is not None
        and lower_ref
        and upper_ref
        and upper_ref is not lower_ref
    ):
        # Two references: a W84 band that surely contains both limits.
        lo = w84_interval(AltitudeBand(lower * scale, lower * scale, lower_ref), datum)[0]
        hi = w84_interval(AltitudeBand(upper * scale, upper * scale, upper_ref), datum)[1]
        band = {"lower": math.floor(lo), "upper": math.ceil(hi), "reference": "W84", "units": "m"}
    else:
        reference = upper_ref or lower_ref or AltitudeReference.AGL
        band = {
            "lower": "SFC" if lower is None else lower,
            "upper": "UNL" if upper is None else upper,
            "reference": reference.value,
            "units": units,
        }
    try:
        parse_altitude(band, path)
    except errors.DeconflictError as exc:
        suffix = (exc.field or "").removeprefix(path)
        exc.field = path + {".lower": ".lowerLimit", ".upper": ".upperLimit"}.get(suffix, suffix)
        raise
    return band


# --- zones -----------------------------------------------------------------------------


def _contact(zone: dict[str, Any], identifier: str, path: str) -> str:
    authorities = zone.get("zoneAuthority") or []
    if not isinstance(authorities, list):
        raise errors.WrongType("zoneAuthority is a list", field=f"{path}.zoneAuthority")
    parts: list[str] = []
    if authorities and isinstance(authorities[0], dict):
        first = authorities[0]
        for key in ("name", "contactName", "email", "phone"):
            text = _text(first, key, f"{path}.zoneAuthority[0]")
            if text:
                parts.append(text)
    contact = " · ".join(parts) + f" (ED-269 zone {identifier})"
    return contact if len(contact) <= _MAX_CONTACT else contact[: _MAX_CONTACT - 1] + "…"


def _category(zone: dict[str, Any], path: str) -> str:
    reasons = zone.get("reason") or []
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise errors.WrongType("reason is a list of codes", field=f"{path}.reason")
    return next((_CATEGORIES[r] for r in reasons if r in _CATEGORIES), "other")


def _zone(
    zone: Any,
    path: str,
    now: dt.datetime,
    horizon_days: float,
    limits: GeometryLimits,
    datum: DatumMargins,
) -> PlannedNotice | dict[str, str]:
    """One zone as a planned protected notice, or why it was skipped."""
    if not isinstance(zone, dict):
        raise errors.WrongType("a zone is an object", field=path)
    identifier = require(zone, "identifier", path)
    if not isinstance(identifier, str) or not identifier:
        raise errors.WrongType("identifier is a non-empty string", field=f"{path}.identifier")
    restriction = require(zone, "restriction", path)
    if restriction not in _RESTRICTIONS:
        raise errors.InvalidValue(
            f"restriction is one of {', '.join(_RESTRICTIONS)}", field=f"{path}.restriction"
        )
    geometry = require(zone, "geometry", path)
    if not isinstance(geometry, list) or not geometry:
        raise errors.MissingField("a zone needs at least one geometry", field=f"{path}.geometry")
    shapes = []
    for g, item in enumerate(geometry):
        gpath = f"{path}.geometry[{g}]"
        if not isinstance(item, dict):
            raise errors.WrongType("a geometry item is an object", field=gpath)
        uom = item.get("uomDimensions")
        scale = _UNITS[uom][0] if uom in _UNITS else 1.0
        altitude = _altitude(item, gpath, datum)
        hp = require(item, "horizontalProjection", gpath)
        shapes.append(
            (gpath, _footprint(hp, f"{gpath}.horizontalProjection", scale, limits), altitude)
        )
    category, contact = _category(zone, path), _contact(zone, identifier, path)
    horizon = now + dt.timedelta(days=horizon_days)
    windows = _windows(zone.get("applicability"), f"{path}.applicability", now, horizon)
    if restriction == "NO_RESTRICTION":
        return {"source": identifier, "reason": "restriction NO_RESTRICTION protects nothing"}
    if not windows:
        return {"source": identifier, "reason": f"not in force within {horizon_days:g} days"}
    volumes, where = [], []
    for gpath, footprint, altitude in shapes:
        for start, end in windows:
            time = {"start": format_instant(start), "end": format_instant(end)}
            volumes.append({"footprint": footprint, "altitude": altitude, "time": time})
            where.append(gpath)
    body = {"kind": "protected", "category": category, "contact": contact, "volumes": volumes}
    plan = PlannedNotice(identifier, body, path, tuple(where))
    try:
        parse_notice(body, notice_id=identifier, party="import", version=1, limits=limits)
    except errors.DeconflictError as exc:
        raise plan.locate(exc) from None
    return plan


def plan_ed269(
    doc: Any,
    now: dt.datetime,
    *,
    horizon_days: float = DEFAULT_HORIZON_DAYS,
    limits: GeometryLimits | None = None,
    datum: DatumMargins | None = None,
) -> tuple[list[PlannedNotice], list[dict[str, str]]]:
    """Protected notices from an ED-269 document, and the zones skipped with the reason.

    The document is ``{"features": [zone, …]}`` (with ``title``, ``description``)
    or a bare list of zones. Every zone is validated before any is returned.
    """
    if not 0 < horizon_days <= 366:
        raise errors.InvalidValue("the horizon is 1 to 366 days", field="horizon_days")
    limits, datum = limits or GeometryLimits(), datum or DatumMargins()
    zones = doc.get("features") if isinstance(doc, dict) else doc
    if not isinstance(zones, list):
        raise errors.WrongType(
            'expected an ED-269 document: {"features": [zones]} or a list of zones',
            field="features",
        )
    now = now.replace(microsecond=0)
    planned: list[PlannedNotice] = []
    skipped: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, zone in enumerate(zones):
        try:
            outcome = _zone(zone, f"features[{i}]", now, horizon_days, limits, datum)
        except errors.DeconflictError as exc:
            exc.extra.setdefault("feature", i)
            raise
        source = outcome.source if isinstance(outcome, PlannedNotice) else outcome["source"]
        if source in seen:
            raise errors.InvalidValue(
                f"zone {source!r} appears twice", field=f"features[{i}].identifier", feature=i
            )
        seen.add(source)
        if isinstance(outcome, PlannedNotice):
            planned.append(outcome)
        else:
            skipped.append(outcome)
    return planned, skipped
