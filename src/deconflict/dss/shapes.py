"""The F3548 shapes the facade reads and writes: ids, times, Volume4D, references.

Every error names the field it is about, in the request's own terms
(``extents[0].volume.outline_polygon.vertices[2].lat``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from deconflict import errors
from deconflict.geometry import GeometryLimits, circle, finite_number, footprint_from_geojson
from deconflict.interchange import format_instant
from deconflict.model import AltitudeBand, AltitudeReference, TimeWindow, Volume
from deconflict.volumes import parse_instant

__all__ = [
    "NULL_SUBSCRIPTION",
    "as_object",
    "check_entity_id",
    "check_new_entity_id",
    "check_ovn",
    "is_hashed_alias",
    "native_alias",
    "notice_of_alias",
    "parse_extents",
    "parse_volume4d",
    "span",
    "time_json",
]

_UUID4 = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
)

#: The subscription an Accepted operational intent without one refers to.
NULL_SUBSCRIPTION = "00000000-0000-4000-8000-000000000000"

#: The latest instant the facade writes for an open end (a protected place until cancelled).
_OPEN_END = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


def check_entity_id(value: str, field_name: str) -> str:
    """A version-4 UUID, as every F3548 entity and subscription id is; else 400."""
    if not _UUID4.match(value) or value == NULL_SUBSCRIPTION:
        raise errors.BadRequest(f"{value[:60]!r} is not a version-4 UUID", field=field_name)
    return value.lower()


def check_ovn(value: str) -> str:
    """An OVN as the standard bounds it (16 to 128 characters); else 400."""
    if not 16 <= len(value) <= 128:
        raise errors.BadRequest("an OVN is 16 to 128 characters", field="ovn")
    return value


_NATIVE = "dec0f11c-0000-4"
_HASHED = "dec0f11d-"


def check_new_entity_id(value: str) -> str:
    """An id a USS may create an entity under: not one that names native notices."""
    entity_id = check_entity_id(value, "entityid")
    if entity_id.startswith((_NATIVE, _HASHED)):
        raise errors.BadRequest(
            "ids starting dec0f11c-0000-4 or dec0f11d- name native notices", field="entityid"
        )
    return entity_id


def native_alias(notice_id: str) -> str:
    """The UUID a native notice is listed under.

    Ids the service made (``n-`` and 16 hex digits) are spelt into the UUID, so the
    facade can find the notice again; any other id is hashed.
    """
    tail = notice_id[2:]
    if notice_id.startswith("n-") and len(tail) == 16 and re.fullmatch(r"[0-9a-f]{16}", tail):
        return f"{_NATIVE}{tail[:3]}-8{tail[3:6]}-{tail[6:]}00"
    digest = hashlib.sha256(notice_id.encode("utf-8")).hexdigest()
    return f"{_HASHED}{digest[:4]}-4{digest[4:7]}-8{digest[7:10]}-{digest[10:22]}"


def is_hashed_alias(entity_id: str) -> bool:
    return entity_id.startswith(_HASHED)


def notice_of_alias(entity_id: str) -> str | None:
    """The native notice a UUID from :func:`native_alias` names, when it can be told."""
    if not entity_id.startswith(_NATIVE):
        return None
    hex_digits = entity_id.replace("-", "")
    return "n-" + hex_digits[13:16] + hex_digits[17:20] + hex_digits[20:30]


def time_json(instant: dt.datetime | None) -> dict[str, str]:
    return {"value": str(format_instant(instant or _OPEN_END)), "format": "RFC3339"}


def as_object(value: Any, field_name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.WrongType("expected an object", field=field_name)
    return value


def _time(value: Any, field_name: str) -> dt.datetime:
    obj = as_object(value, field_name)
    if obj.get("format", "RFC3339") != "RFC3339":
        raise errors.InvalidValue("format must be RFC3339", field=f"{field_name}.format")
    return parse_instant(obj.get("value"), f"{field_name}.value")


def _altitude(value: Any, field_name: str) -> float:
    obj = as_object(value, field_name)
    if obj.get("reference") != "W84":
        raise errors.InvalidValue("reference must be W84", field=f"{field_name}.reference")
    if obj.get("units") != "M":
        raise errors.InvalidValue("units must be M", field=f"{field_name}.units")
    metres = finite_number(obj.get("value"), f"{field_name}.value")
    if not -8000.0 <= metres <= 100_000.0:
        raise errors.InvalidValue(
            "an altitude lies within -8000 and 100000 m", field=f"{field_name}.value"
        )
    return metres


def _point(value: Any, field_name: str) -> tuple[float, float]:
    obj = as_object(value, field_name)
    lat = finite_number(obj.get("lat"), f"{field_name}.lat")
    lng = finite_number(obj.get("lng"), f"{field_name}.lng")
    if not -90.0 <= lat <= 90.0:
        raise errors.LatitudeOutOfRange("lat lies within -90 and 90", field=f"{field_name}.lat")
    if not -180.0 <= lng <= 180.0:
        raise errors.InvalidValue("lng lies within -180 and 180", field=f"{field_name}.lng")
    return lng, lat


def _outline(volume: dict[str, Any], field_name: str, limits: GeometryLimits) -> Any:
    polygon, disc = volume.get("outline_polygon"), volume.get("outline_circle")
    if (polygon is None) == (disc is None):
        raise errors.InvalidValue(
            "give exactly one of outline_polygon and outline_circle", field=field_name
        )
    if disc is not None:
        where = f"{field_name}.outline_circle"
        obj = as_object(disc, where)
        lon, lat = _point(obj.get("center"), f"{where}.center")
        radius = as_object(obj.get("radius"), f"{where}.radius")
        if radius.get("units") != "M":
            raise errors.InvalidValue("units must be M", field=f"{where}.radius.units")
        metres = finite_number(radius.get("value"), f"{where}.radius.value")
        return circle(lon, lat, metres, limits, where)
    where = f"{field_name}.outline_polygon"
    vertices = as_object(polygon, where).get("vertices")
    if not isinstance(vertices, list) or len(vertices) < 3:
        raise errors.InvalidValue("a polygon has at least 3 vertices", field=f"{where}.vertices")
    if len(vertices) > limits.max_vertices:
        raise errors.TooManyVertices(
            f"at most {limits.max_vertices} vertices", field=f"{where}.vertices"
        )
    ring = [list(_point(v, f"{where}.vertices[{i}]")) for i, v in enumerate(vertices)]
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return footprint_from_geojson({"type": "Polygon", "coordinates": [ring]}, limits, where)


def parse_volume4d(
    value: Any, field_name: str, limits: GeometryLimits, *, complete: bool
) -> Volume:
    """A Volume4D as a volume; ``complete`` requires both times and both altitudes.

    A missing altitude is the surface or unlimited; a missing start is the Unix
    epoch and a missing end is open.
    """
    obj = as_object(value, field_name)
    volume = as_object(obj.get("volume"), f"{field_name}.volume")
    footprint = _outline(volume, f"{field_name}.volume", limits)
    limits_m: list[float | None] = []
    for side in ("altitude_lower", "altitude_upper"):
        raw = volume.get(side)
        if raw is None:
            if complete:
                raise errors.MissingField(
                    f"{side} is required", field=f"{field_name}.volume.{side}"
                )
            limits_m.append(None)
        else:
            limits_m.append(_altitude(raw, f"{field_name}.volume.{side}"))
    lower, upper = limits_m
    if lower is not None and upper is not None and lower > upper:
        raise errors.AltitudeInverted(
            "altitude_lower must not be above altitude_upper",
            field=f"{field_name}.volume.altitude_lower",
        )
    times: list[dt.datetime | None] = []
    for side in ("time_start", "time_end"):
        raw = obj.get(side)
        if raw is None:
            if complete:
                raise errors.MissingField(f"{side} is required", field=f"{field_name}.{side}")
            times.append(None)
        else:
            times.append(_time(raw, f"{field_name}.{side}"))
    start = times[0] or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    end = times[1]
    if end is not None and end <= start:
        raise errors.TimeInverted(
            "time_end must be after time_start", field=f"{field_name}.time_end"
        )
    band = AltitudeBand(lower, upper, AltitudeReference.W84, "m")
    return Volume(footprint, band, TimeWindow(start, end))


def parse_extents(
    value: Any, field_name: str, limits: GeometryLimits, *, now: dt.datetime
) -> tuple[Volume, ...]:
    """A non-empty list of complete Volume4Ds that have not all ended."""
    if not isinstance(value, list) or not value:
        raise errors.MissingField("at least one Volume4D is required", field=field_name)
    if len(value) > limits.max_movement_slices:
        raise errors.InvalidValue(f"at most {limits.max_movement_slices} volumes", field=field_name)
    volumes = tuple(
        parse_volume4d(v, f"{field_name}[{i}]", limits, complete=True) for i, v in enumerate(value)
    )
    last = max(v.time.end for v in volumes if v.time.end is not None)
    if last <= now:
        raise errors.InvalidValue("the end time may not be in the past", field=field_name)
    return volumes


def span(volumes: tuple[Volume, ...]) -> tuple[dt.datetime, dt.datetime | None]:
    """The first start and last end of some volumes (``None`` if any is open)."""
    ends = [v.time.end for v in volumes]
    end = None if None in ends else max(e for e in ends if e is not None)
    return min(v.time.start for v in volumes), end
