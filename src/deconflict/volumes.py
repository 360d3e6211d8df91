"""Parsing of the shared JSON shapes: altitude bands, time windows, volumes and routes.

Every error names the full field path, so a user can find the bad value in a
large document.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from . import errors
from .altitude import FEET
from .geometry import (
    BBox,
    GeometryLimits,
    finite_number,
    footprint_from_geojson,
    parse_position,
)
from .model import AltitudeBand, AltitudeReference, Route, TimeWindow, Volume
from .movement import check_route

__all__ = [
    "ALTITUDE_RANGE_M",
    "parse_altitude",
    "parse_bbox",
    "parse_instant",
    "parse_route",
    "parse_time_window",
    "parse_volume",
    "require",
]


def require(obj: dict[str, Any], key: str, field_name: str) -> Any:
    if key not in obj or obj[key] is None:
        raise errors.MissingField(f"{key} is required", field=f"{field_name}.{key}")
    return obj[key]


def _object(value: Any, field_name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.WrongType("expected an object", field=field_name)
    return value


_EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)
_TOO_EARLY = dt.datetime(1, 1, 1, tzinfo=dt.UTC)


def parse_instant(value: Any, field_name: str) -> dt.datetime:
    """An RFC 3339 instant with an explicit offset, returned in UTC."""
    if not isinstance(value, str):
        raise errors.WrongType("expected an RFC 3339 time string", field=field_name)
    try:
        instant = dt.datetime.fromisoformat(value)
    except ValueError:
        raise errors.InvalidValue(f"{value!r} is not an RFC 3339 time", field=field_name) from None
    if instant.tzinfo is None:
        raise errors.InvalidValue(
            "a time needs a UTC offset (for example 2026-05-01T10:00:00Z)", field=field_name
        )
    try:
        instant = instant.astimezone(dt.UTC)
    except OverflowError:
        instant = _TOO_EARLY
    if not _EARLIEST <= instant <= _LATEST:
        raise errors.InvalidValue("times must lie between 1970 and 9000", field=field_name)
    return instant


def parse_time_window(value: Any, field_name: str, *, open_end: bool = False) -> TimeWindow:
    obj = _object(value, field_name)
    start = parse_instant(require(obj, "start", field_name), f"{field_name}.start")
    if obj.get("end") is None:
        if open_end:
            return TimeWindow(start, None)
        raise errors.MissingField("end is required", field=f"{field_name}.end")
    end = parse_instant(obj["end"], f"{field_name}.end")
    if end <= start:
        raise errors.TimeInverted(
            "end must be after start (windows are half-open [start, end))",
            field=f"{field_name}.end",
        )
    return TimeWindow(start, end)


#: Altitudes beyond these (metres) are refused: below the deepest mine, above the mesosphere.
ALTITUDE_RANGE_M = (-12_000.0, 1_000_000.0)


def _limit(value: Any, special: str, scale: float, field_name: str) -> float | None:
    if value == special:
        return None
    metres = finite_number(value, field_name, f"expected a number or {special!r}") * scale
    if not ALTITUDE_RANGE_M[0] <= metres <= ALTITUDE_RANGE_M[1]:
        raise errors.InvalidValue(
            f"altitude must lie within {ALTITUDE_RANGE_M[0]:g} m and {ALTITUDE_RANGE_M[1]:g} m",
            field=field_name,
        )
    return metres


def parse_altitude(value: Any, field_name: str) -> AltitudeBand:
    obj = _object(value, field_name)
    ref_text = require(obj, "reference", field_name)
    try:
        reference = AltitudeReference(ref_text)
    except ValueError:
        choices = ", ".join(r.value for r in AltitudeReference)
        raise errors.UnknownAltitudeReference(
            f"unknown altitude reference {ref_text!r}; use one of {choices}",
            field=f"{field_name}.reference",
        ) from None
    units = obj.get("units", "m")
    if reference is AltitudeReference.FL:
        scale, units = 100.0 * FEET, "FL"
    elif units == "m":
        scale = 1.0
    elif units == "ft":
        scale = FEET
    else:
        raise errors.InvalidValue("units must be 'm' or 'ft'", field=f"{field_name}.units")
    lower = _limit(require(obj, "lower", field_name), "SFC", scale, f"{field_name}.lower")
    upper = _limit(require(obj, "upper", field_name), "UNL", scale, f"{field_name}.upper")
    floor = 0.0 if reference is AltitudeReference.AGL else None
    effective_lower = lower if lower is not None else floor
    if effective_lower is not None and upper is not None and effective_lower > upper:
        raise errors.AltitudeInverted("lower must not be above upper", field=f"{field_name}.lower")
    return AltitudeBand(lower, upper, reference, units)


def parse_volume(
    value: Any, field_name: str, limits: GeometryLimits, *, open_end: bool = False
) -> Volume:
    obj = _object(value, field_name)
    footprint = footprint_from_geojson(
        require(obj, "footprint", field_name), limits, f"{field_name}.footprint"
    )
    altitude = parse_altitude(require(obj, "altitude", field_name), f"{field_name}.altitude")
    window = parse_time_window(
        require(obj, "time", field_name), f"{field_name}.time", open_end=open_end
    )
    return Volume(footprint, altitude, window)


def parse_route(
    coordinates: Any,
    times: Any,
    half_width: Any,
    altitude: AltitudeBand,
    field_name: str,
    limits: GeometryLimits | None = None,
) -> Route:
    """A movement route from a LineString's coordinates and one time per waypoint."""
    if not isinstance(coordinates, list) or len(coordinates) < 2:
        raise errors.InvalidValue(
            "a route needs at least two waypoints", field=f"{field_name}.coordinates"
        )
    points = [
        parse_position(position, f"{field_name}.coordinates[{i}]")
        for i, position in enumerate(coordinates)
    ]
    if not isinstance(times, list):
        raise errors.WrongType(
            "a movement needs waypoint_times, one per waypoint", field="waypoint_times"
        )
    if len(times) != len(points):
        raise errors.InvalidValue(
            f"{len(times)} waypoint times for {len(points)} waypoints", field="waypoint_times"
        )
    instants = [parse_instant(t, f"waypoint_times[{i}]") for i, t in enumerate(times)]
    for i in range(1, len(instants)):
        if instants[i] <= instants[i - 1]:
            raise errors.WaypointTimesNotIncreasing(
                "waypoint times must strictly increase", field=f"waypoint_times[{i}]"
            )
    half_width = finite_number(half_width, "corridor_half_width_m", "expected a number of metres")
    if half_width <= 0:
        raise errors.RadiusNotPositive(
            "corridor_half_width_m must be positive", field="corridor_half_width_m"
        )
    route = Route(tuple(points), tuple(instants), float(half_width), altitude)
    check_route(route, limits or GeometryLimits(), field_name)
    return route


def parse_bbox(values: Any, field_name: str) -> BBox:
    """``[west, south, east, north]`` in degrees; ``west > east`` crosses the antimeridian."""
    if not isinstance(values, list | tuple) or len(values) != 4:
        raise errors.InvalidValue("a bbox is west,south,east,north", field=field_name)
    try:
        west, south, east, north = (float(v) for v in values)
    except (TypeError, ValueError):
        raise errors.InvalidValue("bbox values must be numbers", field=field_name) from None
    if any(isinstance(v, bool) for v in values):
        raise errors.InvalidValue("bbox values must be numbers", field=field_name)
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise errors.NotFinite("bbox values must be finite", field=field_name)
    if not (-90.0 <= south <= north <= 90.0):
        raise errors.InvalidValue("bbox needs -90 <= south <= north <= 90", field=field_name)
    if not (-180.0 <= west <= 180.0 and -180.0 <= east <= 180.0):
        raise errors.InvalidValue("bbox longitudes must be within [-180, 180]", field=field_name)
    return BBox(west, south, east, north)
