"""The incident report's two drawings, as inline SVG: the map and the timeline chart.

Both are plain SVG text with every word from the report HTML-escaped, so the
page that holds them (:mod:`deconflict.incident_html`) loads nothing else. The
map is an equirectangular projection centred on the incident point, good
enough for the few hundred kilometres an incident spans; the chart puts time
across and one row per party.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from deconflict.sphere import EARTH_RADIUS_M

__all__ = ["KIND_COLOURS", "chart_svg", "latlon", "map_svg"]

KIND_COLOURS = {
    "notice": "#1f77b4",
    "disclosure": "#9467bd",
    "ack": "#2ca02c",
    "delivery": "#ff7f0e",
    "channel": "#7f7f7f",
    "track": "#17becf",
    "alert": "#d62728",
}
_MAP_PX = 640
_KM_PER_DEG = EARTH_RADIUS_M / 1000.0 * math.pi / 180.0
_CHART_W, _CHART_LEFT, _CHART_RIGHT, _CHART_TOP = 1200, 150, 24, 30
_MAX_STACK = 30  # marks piled at one time in one row; more overlap
_TICKS_S = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _seconds(instant: str) -> float:
    return dt.datetime.fromisoformat(instant).timestamp()


def _clock(seconds: float, fmt: str) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime(fmt)


def latlon(lon: float, lat: float) -> str:
    """A place as people write it.

    >>> latlon(36.35, -34.5)
    '34.50000° S, 36.35000° E'
    """
    return f"{abs(lat):.5f}° {'N' if lat >= 0 else 'S'}, {abs(lon):.5f}° {'E' if lon >= 0 else 'W'}"


# --- the map --------------------------------------------------------------------------------


class _Projection:
    """Equirectangular around the incident point: kilometres east and north, then pixels."""

    def __init__(self, lon0: float, lat0: float, half_km: float) -> None:
        self.lon0, self.lat0 = lon0, lat0
        self.cos = max(math.cos(math.radians(lat0)), 0.01)
        self.scale = _MAP_PX / (2.0 * half_km)  # pixels per kilometre

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        """Pixels from the top left; the centre is the map's middle, north is up.

        >>> proj = _Projection(36.35, 34.5, half_km=50.0)
        >>> proj.xy(36.35, 34.5)
        (320.0, 320.0)
        >>> [round(v) for v in proj.xy(36.35, 34.5 + 25 / _KM_PER_DEG)]  # 25 km north
        [320, 160]
        """
        east = ((lon - self.lon0 + 180.0) % 360.0 - 180.0) * self.cos * _KM_PER_DEG
        north = (lat - self.lat0) * _KM_PER_DEG
        return _MAP_PX / 2 + east * self.scale, _MAP_PX / 2 - north * self.scale

    def px(self, metres: float) -> float:
        return metres / 1000.0 * self.scale


def _points(points: Iterable[tuple[float, float]]) -> str:
    return "L".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _footprint(fp: dict[str, Any], proj: _Projection) -> tuple[str, list[tuple[float, float]]]:
    """Path data of a footprint, and the points that place its label."""
    if fp.get("type") == "Circle":
        x, y = proj.xy(*fp["center"][:2])
        r = proj.px(float(fp["radius_m"]))
        arc = f"a{r:.1f},{r:.1f} 0 1,0"
        d = f"M{x - r:.1f},{y:.1f}{arc} {2 * r:.1f},0{arc} {-2 * r:.1f},0Z"
        return d, [(x, y), (x - r, y), (x + r, y), (x, y - r), (x, y + r)]
    kind, coordinates = fp.get("type"), fp.get("coordinates") or []
    polygons = [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else []
    d, anchor = "", list[tuple[float, float]]()
    for polygon in polygons:
        for k, ring in enumerate(polygon):
            points = [proj.xy(p[0], p[1]) for p in ring]
            d += f"M{_points(points)}Z"
            anchor += points[:-1] if k == 0 else []
    return d, anchor


def _notice_versions(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each notice's logged versions, oldest first, from the ``notice`` lines' records."""
    versions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in report["lines"]:
        ledger = line.get("ledger")
        if line["kind"] == "notice" and ledger and ledger["record"].get("type") == "notice":
            versions[ledger["record"]["notice"]].append(ledger["record"])  # maybe metadata only
    return {k: sorted(v, key=lambda r: int(r["version"])) for k, v in versions.items()}


def _shape(
    record: dict[str, Any], proj: _Projection, cls: str, colour: str
) -> tuple[str, list[tuple[float, float]], bool]:
    """One SVG path for a notice version: all its footprints, or its route as a thick line."""
    doc = record.get("doc") or {}
    title = (
        f"<title>{_e(record['party'])} {_e(record['kind'])} {_e(record['notice'])}"
        f" v{_e(record['version'])} ({_e(record['state'])})</title>"
    )
    data = f'data-notice="{_e(record["notice"])}" data-version="{_e(record["version"])}"'
    route = doc.get("route")
    if isinstance(route, dict):
        points = [proj.xy(p[0], p[1]) for p in route.get("coordinates", [])]
        width = max(5.0, 2 * proj.px(float(route.get("corridor_half_width_m", 0))))
        width = 1.5 if cls == "earlier" else width  # an earlier route: its centre line
        return (
            f'<path class="{cls} route" {data} d="M{_points(points)}" stroke="{colour}"'
            f' style="stroke-width:{width:.1f}px">{title}</path>',
            points,
            True,
        )
    d, anchor = "", list[tuple[float, float]]()
    for volume in doc.get("volumes", []):
        part, where = _footprint(volume.get("footprint") or {}, proj)
        d, anchor = d + part, anchor + where
    path = f'<path class="{cls}" {data} d="{d}" fill="{colour}" stroke="{colour}">{title}</path>'
    return path, anchor, False


def _clear(x: float, y: float, placed: list[tuple[float, float]]) -> tuple[float, float]:
    """The place nearest (x, y) up or down, inside the map, that no earlier label covers."""
    x = min(max(x, 70.0), _MAP_PX - 70.0)
    for step in range(200):
        dy = 14.0 * ((step + 1) // 2) * (-1 if step % 2 else 1)  # 0, -14, +14, -28 …
        at = min(max(y + dy, 16.0), _MAP_PX - 24.0)
        if not any(abs(at - py) < 13 and abs(x - px) < 110 for px, py in placed):
            break
    placed.append((x, at))
    return x, at


def _label_at(
    points: list[tuple[float, float]], placed: list[tuple[float, float]]
) -> tuple[float, float] | None:
    """Where a notice's label goes: on the visible part of its shape, or below a small one."""
    if not points:
        return None
    seen = [(min(max(x, 0.0), _MAP_PX), min(max(y, 0.0), _MAP_PX)) for x, y in points]
    ys = [y for _, y in seen]
    y = sum(ys) / len(ys) if max(ys) - min(ys) > 40 else max(ys) + 14
    return _clear(sum(x for x, _ in seen) / len(seen), y, placed)


def _nice(limit: float) -> float:
    """The largest 1, 2 or 5 times a power of ten not above ``limit``: a scale bar, a grid step.

    >>> _nice(37.0), _nice(0.3)
    (20.0, 0.2)
    """
    power = 10.0 ** math.floor(math.log10(limit))
    return max(s * power for s in (1, 2, 5) if s * power <= limit)


def _graticule(proj: _Projection, half_km: float) -> str:
    out = []
    for axis in ("lon", "lat"):
        span = half_km / _KM_PER_DEG / (proj.cos if axis == "lon" else 1.0)
        centre = proj.lon0 if axis == "lon" else proj.lat0
        step = _nice(span * 2 / 3)
        digits = max(0, -math.floor(math.log10(step)))
        for k in range(math.ceil((centre - span) / step), math.floor((centre + span) / step) + 1):
            value = k * step
            if axis == "lon":
                x, _ = proj.xy(value, proj.lat0)
                out.append(f'<path class="grid" d="M{x:.1f},0V{_MAP_PX}"/>')
                out.append(
                    f'<text class="gl" x="{x + 3:.1f}" y="{_MAP_PX - 4}">{value:.{digits}f}°</text>'
                )
            else:
                _, y = proj.xy(proj.lon0, value)
                out.append(f'<path class="grid" d="M0,{y:.1f}H{_MAP_PX}"/>')
                out.append(f'<text class="gl" x="3" y="{y - 3:.1f}">{value:.{digits}f}°</text>')
    return "".join(out)


def _tracks(
    report: dict[str, Any],
    proj: _Projection,
    colours: dict[str, str],
    placed: list[tuple[float, float]],
) -> list[str]:
    """Each aircraft's track reports as dots joined in time order, named at the last one."""
    tracks: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for line in report["lines"]:
        if line["kind"] == "track" and line.get("position"):
            tracks[(str(line["party"]), str(line.get("aircraft")))].append(line)
    out, names = [], []
    for (party, aircraft), fixes in sorted(tracks.items()):
        colour = colours.get(party, "#555")
        points = [proj.xy(f["position"][0], f["position"][1]) for f in fixes]
        out.append(f'<path class="track" d="M{_points(points)}" stroke="{colour}"/>')
        for (x, y), fix in zip(points, fixes, strict=True):
            out.append(
                f'<circle class="fix" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                f"<title>{_e(fix['at'])} {_e(fix['text'])}</title></circle>"
            )
        x, y = _clear(points[-1][0], points[-1][1] - 8, placed)
        names.append(f'<text class="craft" x="{x:.1f}" y="{y:.1f}">{_e(aircraft)}</text>')
    return out + names


def _notices(
    report: dict[str, Any],
    proj: _Projection,
    colours: dict[str, str],
    placed: list[tuple[float, float]],
) -> list[str]:
    """Earlier versions, then the newest version's shapes, then routes on top, then labels.

    A version whose record the report withholds from its reader (no ``doc``) is not
    drawn, and nor is any version of a notice whose newest one is withheld: the map
    shows no shape its reader has no need to know.
    """
    earlier, shapes, routes, labels = list[str](), list[str](), list[str](), list[str]()
    versions = _notice_versions(report)
    for notice in report["notices"]:
        records = versions.get(notice["id"], [])
        if not records or not isinstance(records[-1].get("doc"), dict):
            continue
        colour = colours.get(notice["party"], "#555")
        earlier += [
            _shape(record, proj, "earlier", colour)[0]
            for record in records[:-1]
            if isinstance(record.get("doc"), dict)
        ]
        cancelled = records[-1]["state"] == "cancelled"
        shape, anchor, is_route = _shape(
            records[-1], proj, "notice cancelled" if cancelled else "notice", colour
        )
        (routes if is_route else shapes).append(shape)
        where = _label_at(anchor, placed)
        if where is not None:
            labels.append(
                f'<text class="label" x="{where[0]:.1f}" y="{where[1]:.1f}" fill="{colour}">'
                f"{_e(notice['party'])} · {_e(notice['kind'])}"
                f"{' (cancelled)' if cancelled else ''}</text>"
            )
    return earlier + shapes + routes + labels


def map_svg(report: dict[str, Any], colours: dict[str, str]) -> str:
    """The map: notices in the area, track reports, the incident circle, clipped around it.

    Only what the report shows in full is drawn: notices and tracks withheld from
    its reader are listed beside the map, never placed on it.
    """
    q = report["question"]
    half_km = 2.0 * float(q["radius_km"])
    proj = _Projection(float(q["near"][0]), float(q["near"][1]), half_km)
    placed: list[tuple[float, float]] = []
    dots = _tracks(report, proj, colours, placed)  # first: their names must stay by their dots
    notices = _notices(report, proj, colours, placed)
    r, c = proj.px(float(q["radius_km"]) * 1000.0), _MAP_PX / 2
    bar_km = _nice(half_km / 2)
    bar = proj.px(bar_km * 1000.0)
    return (
        f'<svg id="map" viewBox="0 0 {_MAP_PX} {_MAP_PX}" role="img"'
        f' aria-label="map of the notices and tracks around the incident point">'
        f'<rect class="sea" width="{_MAP_PX}" height="{_MAP_PX}"/>{_graticule(proj, half_km)}'
        + "".join(notices + dots)
        + f'<circle class="incident" cx="{c}" cy="{c}" r="{r:.1f}">'
        f"<title>the incident: {_e(q['radius_km'])} km around {_e(latlon(*q['near']))}</title>"
        f'</circle><path class="centre" d="M{c - 7},{c}h14M{c},{c - 7}v14"/>'
        + f'<path class="scale" d="M{_MAP_PX - 20 - bar:.1f},{_MAP_PX - 24}h{bar:.1f}"/>'
        f'<text class="gl" x="{_MAP_PX - 20 - bar:.1f}" y="{_MAP_PX - 30}">{bar_km:g} km</text>'
        f'<text class="north" x="{_MAP_PX - 24}" y="24">N ↑</text></svg>'
    )


# --- the timeline ---------------------------------------------------------------------------


def chart_svg(report: dict[str, Any]) -> str:
    """The timeline chart: one row per party, one mark per line, each linking to its row.

    Marks at the same time pile up in their row; lines outside the window (a
    notice version filed before it) are hollow marks at its edge.
    """
    q, lines = report["question"], report["lines"]
    t0, t1 = _seconds(q["from"]), _seconds(q["to"])
    width = _CHART_W - _CHART_LEFT - _CHART_RIGHT

    def x_of(t: float) -> float:
        return _CHART_LEFT + (min(max(t, t0), t1) - t0) / max(t1 - t0, 1.0) * width

    rows: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for n, line in enumerate(lines):
        rows["—" if line.get("party") is None else str(line["party"])].append((n, line))
    marks, names, y = list[str](), list[str](), _CHART_TOP
    for party in sorted(rows):
        stacks: dict[int, int] = defaultdict(int)
        placed = []
        for n, line in rows[party]:
            t = _seconds(line["at"])
            x = x_of(t)
            level = stacks[round(x / 8)]
            stacks[round(x / 8)] += 1
            placed.append((n, line, x, level, t0 <= t <= t1))
        height = 14 + 9 * min(max(stacks.values(), default=1), _MAX_STACK)
        shown = party if len(party) <= 20 else party[:19] + "…"
        names.append(
            f'<rect class="band{len(names) % 2}" x="0" y="{y}" width="{_CHART_W}"'
            f' height="{height}"/><text class="row" x="{_CHART_LEFT - 8}" y="{y + 15}">{_e(shown)}'
            f"<title>{_e(party)}</title></text>"
            f'<path class="rowline" d="M{_CHART_LEFT},{y + height}H{_CHART_W - _CHART_RIGHT}"/>'
        )
        for n, line, x, level, inside in placed:
            colour = KIND_COLOURS.get(line["kind"], "#444")
            fill = colour if inside else "#fff"
            outside = "" if inside else " (outside the window)"
            marks.append(
                f'<a href="#line-{n}"><circle class="mark" data-kind="{_e(line["kind"])}"'
                f' cx="{x:.1f}" cy="{y + 11 + 9 * min(level, _MAX_STACK - 1)}" r="4" fill="{fill}"'
                f' stroke="{colour}"><title>{_e(line["at"])} {_e(line["kind"])}{outside}:'
                f" {_e(line['text'])}</title></circle></a>"
            )
        y += height
    span = max(t1 - t0, 1.0)
    step = next((s for s in _TICKS_S if span / s <= 12), _TICKS_S[-1])
    fmt = "%d %b" if step >= 86400 else "%H:%M"
    ticks = []
    for k in range(math.ceil(t0 / step), math.floor(t1 / step) + 1):
        x = x_of(k * step)
        ticks.append(
            f'<path class="tick" d="M{x:.1f},{_CHART_TOP - 6}V{y}"/>'
            f'<text class="tl" x="{x:.1f}" y="{_CHART_TOP - 10}">{_clock(k * step, fmt)}</text>'
        )
    at = x_of(_seconds(q["at"]))
    return (
        f'<svg id="chart" viewBox="0 0 {_CHART_W} {y + 8}" role="img"'
        f' aria-label="timeline by party">'
        + "".join(ticks + names)
        + f'<path class="instant" d="M{at:.1f},{_CHART_TOP - 6}V{y}"/>'
        + "".join(marks)
        + f'<text class="il" x="{at + 4:.1f}" y="{y + 6}">instant {_e(q["at"])}</text></svg>'
    )
