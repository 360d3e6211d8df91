"""Notice documents: the JSON a party submits, parsed into a :class:`Notice` and back.

The stored document of a notice version is exactly what :func:`notice_to_doc`
returns, and :func:`parse_notice` turns it back into the same notice, so the
store keeps JSON and the core keeps typed values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import errors
from .altitude import FEET
from .geometry import GeometryLimits
from .interchange import format_instant
from .model import (
    AltitudeBand,
    AltitudeReference,
    Audience,
    Notice,
    NoticeKind,
    NoticeState,
    Priority,
    ProtectedCategory,
    Route,
    TimeWindow,
    Volume,
)
from .movement import slices
from .volumes import parse_altitude, parse_route, parse_volume, require

__all__ = [
    "Awareness",
    "altitude_to_json",
    "notice_to_doc",
    "parse_awareness",
    "parse_notice",
    "time_to_json",
    "volume_to_json",
]

_MAX_AIRCRAFT = 1_000
_MAX_TEXT = 500


@dataclass(frozen=True)
class Awareness:
    """The ``aware_of`` precondition of a write: notice id → version the writer has seen."""

    seen: dict[str, int]
    strict: bool
    #: Other proof, by notice id and version, that the writer has seen a notice, or
    #: needs not: the F3548 facade's keys of OVNs.
    proves: Callable[[str, int], bool] | None = None

    def proven(self, notice_id: str, version: int) -> bool:
        if self.seen.get(notice_id) == version:
            return True
        return self.proves is not None and self.proves(notice_id, version)


def _strings(value: Any, field_name: str, limit: int) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise errors.WrongType("expected a list of non-empty strings", field=field_name)
    if len(value) > limit:
        raise errors.InvalidValue(f"at most {limit} entries", field=field_name)
    return tuple(value)


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise errors.WrongType(
            f"{key} must be a string of at most {_MAX_TEXT} characters", field=key
        )
    return value


def _enum(obj: dict[str, Any], key: str, enum: Any, default: Any) -> Any:
    value = obj.get(key)
    if value is None:
        return default
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(e.value for e in enum)
        raise errors.InvalidValue(f"{key} must be one of {choices}", field=key) from None


def _route(value: Any, limits: GeometryLimits) -> Route:
    if value is None:
        raise errors.MissingField("a movement needs a route", field="route")
    if not isinstance(value, dict):
        raise errors.WrongType("a route is an object", field="route")
    altitude = parse_altitude(require(value, "altitude", "route"), "route.altitude")
    try:
        return parse_route(
            require(value, "coordinates", "route"),
            require(value, "waypoint_times", "route"),
            require(value, "corridor_half_width_m", "route"),
            altitude,
            "route",
            limits,
        )
    except errors.DeconflictError as exc:
        if exc.field and not exc.field.startswith("route"):
            exc.at("route")
        raise


def parse_notice(
    body: Any,
    *,
    notice_id: str,
    party: str,
    version: int,
    limits: GeometryLimits,
    geometry: bool = True,
) -> Notice:
    """A notice from its JSON document; every error names the field.

    With ``geometry=False`` the volumes and route are skipped: a cheap shell with
    the identity, audience and contact, enough for minimal views of a stored notice.
    """
    if not isinstance(body, dict):
        raise errors.WrongType("the body must be a JSON object", field="body")
    kind = _enum(body, "kind", NoticeKind, None)
    if kind is None:
        raise errors.MissingField("kind is required", field="kind")
    route: Route | None = None
    volumes: tuple[Volume, ...] = ()
    if not geometry:
        pass
    elif kind is NoticeKind.MOVEMENT:
        route = _route(body.get("route"), limits)
        volumes = slices(route)
    else:
        raw = body.get("volumes")
        if raw is not None and not isinstance(raw, list):
            raise errors.WrongType("volumes is a list of volumes", field="volumes")
        if not raw:
            raise errors.MissingField("at least one volume is required", field="volumes")
        if len(raw) > limits.max_movement_slices:
            raise errors.InvalidValue("too many volumes", field="volumes")
        volumes = tuple(
            parse_volume(v, f"volumes[{i}]", limits, open_end=kind is NoticeKind.PROTECTED)
            for i, v in enumerate(raw)
        )
    audience = body.get("audience") or {}
    if not isinstance(audience, dict):
        raise errors.WrongType("audience is an object", field="audience")
    category = _text(body, "category")
    if kind is NoticeKind.PROTECTED and category is not None:
        _enum(body, "category", ProtectedCategory, None)
    disclose = body.get("disclose_contact", False)
    if not isinstance(disclose, bool):
        raise errors.WrongType("disclose_contact must be true or false", field="disclose_contact")
    return Notice(
        id=notice_id,
        party=party,
        kind=kind,
        volumes=volumes,
        version=version,
        state=_enum(body, "state", NoticeState, NoticeState.PLANNED),
        category=category,
        priority=_enum(body, "priority", Priority, Priority.NORMAL),
        audience=Audience(
            parties=frozenset(_strings(audience.get("parties"), "audience.parties", 1000)),
            channels=frozenset(_strings(audience.get("channels"), "audience.channels", 1000)),
        ),
        aircraft=_strings(body.get("aircraft"), "aircraft", _MAX_AIRCRAFT),
        route=route,
        contact=_text(body, "contact"),
        disclose_contact=disclose,
    )


def parse_awareness(body: dict[str, Any]) -> Awareness:
    raw = body.get("aware_of") or []
    if not isinstance(raw, list):
        raise errors.WrongType("aware_of is a list of {id, version}", field="aware_of")
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise errors.WrongType("expected {id, version}", field=f"aware_of[{i}]")
        nid, version = item.get("id"), item.get("version")
        if not isinstance(nid, str):
            raise errors.WrongType("id must be a string", field=f"aware_of[{i}].id")
        if isinstance(version, bool) or not isinstance(version, int):
            raise errors.WrongType("version must be an integer", field=f"aware_of[{i}].version")
        seen[nid] = max(seen.get(nid, 0), version)
    strict = body.get("strict", False)
    if not isinstance(strict, bool):
        raise errors.WrongType("strict must be true or false", field="strict")
    return Awareness(seen, strict)


def _limit_to_json(value: float | None, band: AltitudeBand, special: str) -> float | str:
    if value is None:
        return special
    if band.reference is AltitudeReference.FL:
        return round(value / (100 * FEET), 6)
    if band.units == "ft":
        return round(value / FEET, 6)
    return round(value, 6)


def altitude_to_json(band: AltitudeBand) -> dict[str, Any]:
    units = "ft" if band.reference is AltitudeReference.FL else band.units
    return {
        "lower": _limit_to_json(band.lower_m, band, "SFC"),
        "upper": _limit_to_json(band.upper_m, band, "UNL"),
        "reference": band.reference.value,
        "units": units if units in ("m", "ft") else "m",
    }


def time_to_json(window: TimeWindow) -> dict[str, Any]:
    return {"start": format_instant(window.start), "end": format_instant(window.end)}


def volume_to_json(volume: Volume) -> dict[str, Any]:
    return {
        "footprint": volume.footprint.geojson,
        "altitude": altitude_to_json(volume.altitude),
        "time": time_to_json(volume.time),
    }


def notice_to_doc(notice: Notice) -> dict[str, Any]:
    """The full JSON document of a notice version (what its owner submitted, normalised)."""
    doc: dict[str, Any] = {
        "kind": notice.kind.value,
        "state": notice.state.value,
        "priority": notice.priority.value,
        "audience": {
            "parties": sorted(notice.audience.parties),
            "channels": sorted(notice.audience.channels),
        },
        "aircraft": list(notice.aircraft),
        "disclose_contact": notice.disclose_contact,
    }
    if notice.category is not None:
        doc["category"] = notice.category
    if notice.contact is not None:
        doc["contact"] = notice.contact
    if notice.route is not None:
        route = notice.route
        doc["route"] = {
            "coordinates": [list(p) for p in route.waypoints],
            "waypoint_times": [format_instant(t) for t in route.times],
            "corridor_half_width_m": route.half_width_m,
            "altitude": altitude_to_json(route.altitude),
        }
    else:
        doc["volumes"] = [volume_to_json(v) for v in notice.volumes]
    return doc
