"""The notice interchange format: a GeoJSON FeatureCollection, one Feature per volume.

Features that share ``properties.notice_id`` are the volumes of one notice.
Used by ``deconflict check``, ``import`` and ``export``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from . import errors
from .geometry import (
    Footprint,
    GeometryLimits,
    circle,
    footprint_from_geojson,
    parse_position,
    polygons_in_bulk,
)
from .model import Audience, Conflict, Notice, NoticeKind, Volume
from .movement import slices
from .volumes import parse_altitude, parse_instant, parse_route, parse_time_window, require

__all__ = ["conflict_to_json", "format_instant", "notices_from_geojson"]


def format_instant(instant: dt.datetime | None) -> str | None:
    if instant is None:
        return None
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _feature(
    feature: Any, index: int, limits: GeometryLimits, parsed: Footprint | None = None
) -> tuple[str, str, NoticeKind, str | None, list[Volume], Any]:
    """One feature as a notice's parts; ``parsed`` is its footprint if already parsed in bulk."""
    path = f"features[{index}]"
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise errors.WrongType("expected a GeoJSON Feature", field=path)
    props = feature.get("properties")
    if not isinstance(props, dict):
        raise errors.MissingField("properties are required", field=f"{path}.properties")
    ppath = f"{path}.properties"
    notice_id = require(props, "notice_id", ppath)
    party = require(props, "party", ppath)
    for key, value in (("notice_id", notice_id), ("party", party)):
        if not isinstance(value, str) or not value:
            raise errors.WrongType(f"{key} must be a non-empty string", field=f"{ppath}.{key}")
    try:
        kind = NoticeKind(require(props, "kind", ppath))
    except ValueError:
        raise errors.InvalidValue(
            "kind must be operation, protected or movement", field=f"{ppath}.kind"
        ) from None
    category = props.get("category")
    if category is not None and not isinstance(category, str):
        raise errors.WrongType("category must be a string", field=f"{ppath}.category")
    geometry = require(feature, "geometry", path)
    if kind is NoticeKind.MOVEMENT:
        volumes = _movement(geometry, props, path, limits)
        return notice_id, party, kind, category, volumes, props.get("contact")
    if parsed is not None:
        footprint = parsed
    elif isinstance(geometry, dict) and geometry.get("type") == "Point":
        footprint = _point_circle(geometry, props, path, limits)
    else:
        footprint = footprint_from_geojson(geometry, limits, f"{path}.geometry")
    volume = Volume(
        footprint,
        parse_altitude(require(props, "altitude", ppath), f"{ppath}.altitude"),
        parse_time_window(
            require(props, "time", ppath), f"{ppath}.time", open_end=kind is NoticeKind.PROTECTED
        ),
    )
    return notice_id, party, kind, category, [volume], props.get("contact")


def _geometry(feature: Any) -> Any:
    """A feature's geometry, for parsing in bulk (movements are routes, parsed apart)."""
    if type(feature) is not dict:
        return None
    props = feature.get("properties")
    if type(props) is dict and props.get("kind") == NoticeKind.MOVEMENT.value:
        return None
    return feature.get("geometry")


def _point_circle(
    geometry: dict[str, Any], props: dict[str, Any], path: str, limits: GeometryLimits
) -> Footprint:
    """A ``Point`` with ``properties.radius_m``: a geodesic circle."""
    ppath = f"{path}.properties"
    lon, lat = parse_position(geometry.get("coordinates"), f"{path}.geometry.coordinates")
    radius = require(props, "radius_m", ppath)
    if isinstance(radius, bool) or not isinstance(radius, int | float):
        raise errors.WrongType("radius_m must be a number of metres", field=f"{ppath}.radius_m")
    try:
        return circle(lon, lat, float(radius), limits, path)
    except errors.DeconflictError as exc:
        if exc.field == f"{path}.radius_m":
            exc.field = f"{ppath}.radius_m"
        elif exc.field == f"{path}.center":
            exc.field = f"{path}.geometry.coordinates"
        else:
            exc.field = f"{path}.geometry"
        raise


def _movement(
    geometry: Any, props: dict[str, Any], path: str, limits: GeometryLimits
) -> list[Volume]:
    ppath = f"{path}.properties"
    if not isinstance(geometry, dict) or geometry.get("type") != "LineString":
        raise errors.UnsupportedGeometry(
            "a movement's geometry is a LineString route", field=f"{path}.geometry.type"
        )
    altitude = parse_altitude(require(props, "altitude", ppath), f"{ppath}.altitude")
    try:
        route = parse_route(
            geometry.get("coordinates"),
            require(props, "waypoint_times", ppath),
            require(props, "corridor_half_width_m", ppath),
            altitude,
            f"{path}.geometry",
            limits,
        )
    except errors.DeconflictError as exc:
        if exc.field and exc.field.startswith(("waypoint_times", "corridor_half_width_m")):
            raise exc.at(ppath) from None
        raise
    window = props.get("time")
    if isinstance(window, dict):
        for key, expected in (("start", route.times[0]), ("end", route.times[-1])):
            if window.get(key) is not None:
                given = parse_instant(window[key], f"{ppath}.time.{key}")
                if given != expected:
                    raise errors.InvalidValue(
                        f"a movement's time {key} is its {'first' if key == 'start' else 'last'} "
                        "waypoint time",
                        field=f"{ppath}.time.{key}",
                    )
    return list(slices(route))


def notices_from_geojson(
    doc: Any,
    limits: GeometryLimits | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Notice]:
    """Notices from an interchange FeatureCollection, in order of first appearance.

    ``progress(k)`` is told as each ``k`` features are parsed.
    """
    limits = limits or GeometryLimits()
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise errors.WrongType("expected a GeoJSON FeatureCollection", field="type")
    features = doc.get("features")
    if not isinstance(features, list):
        raise errors.WrongType("features must be a list", field="features")
    grouped: dict[str, dict[str, Any]] = {}
    footprints = polygons_in_bulk([_geometry(f) for f in features], limits)
    for index, feature in enumerate(features):
        try:
            notice_id, party, kind, category, volumes, contact = _feature(
                feature, index, limits, footprints[index]
            )
        except errors.DeconflictError as exc:
            exc.extra.setdefault("feature", index)
            raise
        if progress is not None and index % 1000 == 999:
            progress(1000)
        entry = grouped.get(notice_id)
        if entry is None:
            grouped[notice_id] = {
                "party": party,
                "kind": kind,
                "category": category,
                "volumes": volumes,
                "contact": contact,
            }
            continue
        for key, value in (("party", party), ("kind", kind)):
            if entry[key] != value:
                raise errors.InvalidValue(
                    f"features of notice {notice_id!r} disagree on {key}",
                    field=f"features[{index}].properties.{key}",
                    feature=index,
                )
        entry["volumes"].extend(volumes)
    return [
        Notice(
            id=notice_id,
            party=entry["party"],
            kind=entry["kind"],
            volumes=tuple(entry["volumes"]),
            category=entry["category"],
            contact=entry["contact"],
            audience=Audience(),
        )
        for notice_id, entry in grouped.items()
    ]


def _finite(value: float) -> float | str:
    if math.isinf(value):
        return "UNL" if value > 0 else "SFC"
    return round(value, 3)


def conflict_to_json(conflict: Conflict) -> dict[str, Any]:
    """The ``deconflict check --json`` shape of one conflict."""
    overlaps = conflict.overlaps
    polygons: list[Any] = []
    for o in overlaps:
        if o.footprint is None:
            continue
        if o.footprint["type"] == "Polygon":
            polygons.append(o.footprint["coordinates"])
        else:
            polygons.extend(o.footprint["coordinates"])
    footprint: dict[str, Any] | None = None
    if len(polygons) == 1:
        footprint = {"type": "Polygon", "coordinates": polygons[0]}
    elif polygons:
        footprint = {"type": "MultiPolygon", "coordinates": polygons}
    ends = [o.time[1] for o in overlaps]
    return {
        "a": conflict.a,
        "b": conflict.b,
        "kind": conflict.kind.value,
        "overlap": {
            "footprint": footprint,
            "distance_m": min(o.distance_m for o in overlaps),
            "altitude": {
                "lower": _finite(min(o.altitude[0] for o in overlaps)),
                "upper": _finite(max(o.altitude[1] for o in overlaps)),
                "reference": overlaps[0].altitude[2],
                "units": "m",
            },
            "time": {
                "start": format_instant(min(o.time[0] for o in overlaps)),
                "end": None if None in ends else format_instant(max(e for e in ends if e)),
            },
            "volumes": [[o.a_volume, o.b_volume] for o in overlaps],
        },
    }
