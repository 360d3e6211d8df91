"""KML 2.2 of a party's view: one Placemark per volume, for Google Earth and GIS tools.

- Each notice is a Folder; each volume a Placemark with its footprint as a
  Polygon (circles as a circumscribed 64-gon, so the drawing never understates
  them) at the band's upper limit, extruded to the ground when the band starts
  at the surface, and a ``TimeSpan`` (no ``end`` for "until cancelled").
- A movement is one Placemark: its route as a LineString, spanning its first to
  its last waypoint time; the corridor half-width is in the description.
- ``altitudeMode`` is ``relativeToGround`` for AGL bands and ``absolute`` for the
  others. KML's absolute altitude is above sea level: a W84 height differs from
  it by the geoid (up to about 110 m) and a flight level by the pressure, so
  the description and ``ExtendedData`` keep the band as notified.
- Edges are drawn as KML draws them, not as great-circle arcs; over long edges
  the drawing departs from the notified footprint.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from typing import Any

from deconflict.interchange import format_instant
from deconflict.model import AltitudeBand, AltitudeReference, Notice, NoticeKind, Volume
from deconflict.notices import altitude_to_json, parse_notice
from deconflict.views import STORED

__all__ = ["KML_NAMESPACE", "kml_document"]

KML_NAMESPACE = "http://www.opengis.net/kml/2.2"
_CIRCLE_SEGMENTS = 64


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _placement(band: AltitudeBand) -> tuple[str, float, bool]:
    """``(altitudeMode, altitude in metres, extrude)`` that draws the band's top."""
    from_ground = band.lower_m is None or (
        band.reference is AltitudeReference.AGL and band.lower_m <= 0.0
    )
    top = band.upper_m if band.upper_m is not None else band.lower_m
    if top is None:  # SFC to UNL: nothing to draw but the ground
        return "clampToGround", 0.0, False
    mode = "relativeToGround" if band.reference is AltitudeReference.AGL else "absolute"
    return mode, top, from_ground and band.upper_m is not None


def _coordinates(ring: Sequence[Sequence[float]], altitude: float) -> str:
    return " ".join(f"{p[0]:.7f},{p[1]:.7f},{altitude:.2f}" for p in ring)


def _polygon(parent: ET.Element, rings: list[Any], mode: str, alt: float, extrude: bool) -> None:
    polygon = _sub(parent, "Polygon")
    if extrude:
        _sub(polygon, "extrude", "1")
    _sub(polygon, "altitudeMode", mode)
    for i, ring in enumerate(rings):
        boundary = _sub(polygon, "outerBoundaryIs" if i == 0 else "innerBoundaryIs")
        _sub(_sub(boundary, "LinearRing"), "coordinates", _coordinates(ring, alt))


def _geometry(parent: ET.Element, volume: Volume) -> None:
    mode, alt, extrude = _placement(volume.altitude)
    footprint = volume.footprint
    if footprint.shape != "polygon":
        _polygon(parent, footprint.outline(_CIRCLE_SEGMENTS), mode, alt, extrude)
    elif footprint.geojson["type"] == "Polygon":
        _polygon(parent, footprint.geojson["coordinates"], mode, alt, extrude)
    else:
        multi = _sub(parent, "MultiGeometry")
        for rings in footprint.geojson["coordinates"]:
            _polygon(multi, rings, mode, alt, extrude)


def _band_text(band: AltitudeBand) -> str:
    shown = altitude_to_json(band)
    units = "" if band.reference is AltitudeReference.FL else f" {shown['units']}"
    return f"{shown['lower']}–{shown['upper']}{units} {shown['reference']}"


def _extended(parent: ET.Element, values: dict[str, Any]) -> None:
    data = _sub(parent, "ExtendedData")
    for name, value in values.items():
        if value is not None:
            item = _sub(data, "Data")
            item.set("name", name)
            _sub(item, "value", str(value))


def _time_span(parent: ET.Element, start: str | None, end: str | None) -> None:
    span = _sub(parent, "TimeSpan")
    if start is not None:
        _sub(span, "begin", start)
    if end is not None:
        _sub(span, "end", end)


def _description(notice: Notice, lines: list[str]) -> str:
    head = [
        f"party: {notice.party}",
        f"kind: {notice.kind.value}" + (f" ({notice.category})" if notice.category else ""),
        f"state: {notice.state.value}, priority: {notice.priority.value}",
        f"version: {notice.version}",
    ]
    if notice.aircraft:
        head.append(f"aircraft: {', '.join(notice.aircraft)}")
    return "\n".join(head + lines)


def _notice_folder(document: ET.Element, notice: Notice) -> None:
    folder = _sub(document, "Folder")
    label = notice.kind.value + (f" {notice.category}" if notice.category else "")
    _sub(folder, "name", f"{notice.id} ({label})")
    if notice.kind is NoticeKind.MOVEMENT and notice.route is not None:
        route = notice.route
        mark = _sub(folder, "Placemark")
        _sub(mark, "name", f"{notice.id} route")
        lines = [
            f"altitude: {_band_text(route.altitude)}",
            f"corridor half-width: {route.half_width_m:g} m",
        ]
        _sub(mark, "description", _description(notice, lines))
        _time_span(mark, format_instant(route.times[0]), format_instant(route.times[-1]))
        _extended(mark, {"notice_id": notice.id, "party": notice.party, "kind": "movement"})
        mode, alt, _ = _placement(route.altitude)
        line = _sub(mark, "LineString")
        _sub(line, "altitudeMode", mode)
        _sub(line, "coordinates", _coordinates(route.waypoints, alt))
        return
    for i, volume in enumerate(notice.volumes):
        mark = _sub(folder, "Placemark")
        _sub(mark, "name", f"{notice.id} volume {i}")
        band = volume.altitude
        start, end = format_instant(volume.time.start), format_instant(volume.time.end)
        lines = [
            f"altitude: {_band_text(band)}",
            f"time: {start} – {end or 'until cancelled'}",
        ]
        _sub(mark, "description", _description(notice, lines))
        _time_span(mark, start, end)
        shown = altitude_to_json(band)
        _extended(
            mark,
            {
                "notice_id": notice.id,
                "party": notice.party,
                "kind": notice.kind.value,
                "category": notice.category,
                "volume": i,
                "lower": shown["lower"],
                "upper": shown["upper"],
                "reference": shown["reference"],
                "units": shown["units"],
            },
        )
        _geometry(mark, volume)


def kml_document(
    views: Sequence[dict[str, Any]], title: str, progress: Callable[[int], None] | None = None
) -> bytes:
    """A KML 2.2 document (UTF-8 bytes) of full notice views, one Folder per notice."""
    ET.register_namespace("", KML_NAMESPACE)
    root = ET.Element(f"{{{KML_NAMESPACE}}}kml")
    document = _sub(root, "Document")
    _sub(document, "name", title)
    for view in views:
        notice = parse_notice(
            view, notice_id=view["id"], party=view["party"], version=view["version"], limits=STORED
        )
        _notice_folder(document, notice)
        if progress is not None:
            progress(1)
    for element in root.iter():
        if not element.tag.startswith("{"):
            element.tag = f"{{{KML_NAMESPACE}}}{element.tag}"
    ET.indent(root)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text
