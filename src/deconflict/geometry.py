"""Footprints: closed regions of the Earth's surface, parsed, validated and measured.

A footprint is a *core* grown by a *radius*:

- a polygon (one or more parts, holes allowed) with radius 0;
- a geodesic circle: a point core grown by the circle's radius;
- a corridor: a great-circle segment grown by a half-width (movement slices).

Edges are minor great-circle arcs on a sphere of radius
:data:`~deconflict.sphere.EARTH_RADIUS_M`. All tests are exact on that model up
to floating point; :data:`TOLERANCE_M` is the documented slack the engine may
add in the conservative direction.

>>> fp = footprint_from_geojson({"type": "Circle", "center": [179.9, 10.0], "radius_m": 5000})
>>> fp.shape, round(fp.area_m2 / 1e6, 1)
('circle', 78.5)
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import shapely

from . import errors
from .sphere import (
    EARTH_RADIUS_M,
    Vectors,
    angle,
    arc_latitude_range,
    cross,
    destination,
    gnomonic,
    lonlat_to_unit,
    tangent_frame,
    tangent_frames,
    unit_to_lonlat,
)

__all__ = [
    "TOLERANCE_M",
    "BBox",
    "Footprint",
    "GeometryLimits",
    "circle",
    "corridor",
    "finite_number",
    "footprint_from_geojson",
    "from_plane",
    "normalise_longitude",
    "parse_position",
    "polygons_in_bulk",
]

#: The engine reports a pair whose footprints are up to this far apart beyond
#: the lateral buffer. It never misses a pair at or within the buffer.
TOLERANCE_M = 0.5

#: A part must fit in a cap of this angular radius, so every gnomonic image is
#: well defined and "the smaller of the two regions" is unambiguous.
_MAX_CAP_DEG = 60.0

ShapeKind = Literal["polygon", "circle", "corridor"]


@dataclass(frozen=True)
class GeometryLimits:
    """Configurable bounds on a single footprint."""

    max_vertices: int = 10_000
    max_area_km2: float = 2_500_000.0
    max_movement_slices: int = 20_000
    max_corridor_half_width_m: float = 50_000.0


@dataclass(frozen=True)
class BBox:
    """Longitude/latitude box in degrees; ``west > east`` means it wraps ±180°."""

    west: float
    south: float
    east: float
    north: float

    @property
    def wraps(self) -> bool:
        return self.west > self.east

    def pieces(self) -> list[tuple[float, float, float, float]]:
        """The box as one or two non-wrapping ``(w, s, e, n)`` tuples."""
        if not self.wraps:
            return [(self.west, self.south, self.east, self.north)]
        return [
            (self.west, self.south, 180.0, self.north),
            (-180.0, self.south, self.east, self.north),
        ]

    def padded(self, pad_m: float) -> BBox:
        """A box that contains every point within ``pad_m`` of this one."""
        pad = pad_m / EARTH_RADIUS_M
        south = max(-90.0, self.south - math.degrees(pad))
        north = min(90.0, self.north + math.degrees(pad))
        widest = math.radians(max(abs(south), abs(north)))
        ratio = math.sin(pad) / max(math.cos(widest), 1e-300)
        span = (self.east - self.west) % 360.0 if self.wraps else self.east - self.west
        if ratio >= 1.0 or north >= 90.0 or south <= -90.0:
            return BBox(-180.0, south, 180.0, north)
        dlon = math.degrees(math.asin(ratio)) + 1e-9
        if span + 2 * dlon >= 360.0:
            return BBox(-180.0, south, 180.0, north)
        return BBox(
            normalise_longitude(self.west - dlon),
            south,
            normalise_longitude(self.east + dlon),
            north,
        )


@dataclass(frozen=True, eq=False)
class _Part:
    """One polygon part, with its own gnomonic frame for containment tests."""

    center: Vectors
    plane: Any  # shapely Polygon in the part's gnomonic frame


@dataclass(frozen=True, eq=False)
class Footprint:
    """A closed region: a core (polygon, point or segment) grown by ``radius`` radians."""

    shape: ShapeKind
    vertices: Vectors
    edge_a: Vectors
    edge_b: Vectors
    radius: float
    center: Vectors
    cap: float
    bbox: BBox
    area_m2: float
    geojson: dict[str, Any]
    parts: tuple[_Part, ...] = field(default=())

    @property
    def radius_m(self) -> float:
        return self.radius * EARTH_RADIUS_M

    @functools.cached_property
    def core(self) -> Any:
        """The core as a lon/lat shapely geometry (the radius is kept apart)."""
        if self.shape == "polygon":
            return shapely.geometry.shape(self.geojson)
        if self.shape == "circle":
            return shapely.Point(self.geojson["center"])
        return shapely.LineString(self.geojson["coordinates"])

    def covers_core(self, points: Vectors) -> np.ndarray:
        """Whether each point lies in the polygon core (boundary included)."""
        points = np.atleast_2d(points)
        hit = np.zeros(len(points), dtype=bool)
        for part in self.parts:
            near = points @ part.center > math.cos(math.radians(_MAX_CAP_DEG + 20.0))
            if not near.any():
                continue
            x, y = gnomonic(points[near], part.center)
            hit[near] |= shapely.intersects_xy(part.plane, x, y)
        return hit

    def outline(self, segments: int = 32) -> list[list[list[float]]]:
        """Rings (lon/lat) of a polygon that covers the footprint, for display and overlap.

        Circles and corridors are circumscribed, so the outline never understates them.
        """
        if self.shape == "polygon":
            coords = self.geojson["coordinates"]
            rings = [coords] if self.geojson["type"] == "Polygon" else coords
            return [part[0] for part in rings]
        rho = math.atan(math.tan(self.radius) / math.cos(math.pi / segments))
        az = np.linspace(0.0, 2 * math.pi, segments, endpoint=False)
        ring = np.concatenate([destination(v, az, rho) for v in self.vertices])
        if len(self.vertices) > 1:
            mid = self.center
            x, y = gnomonic(ring, mid)
            hull = shapely.convex_hull(shapely.multipoints(np.column_stack([x, y])))
            ring = from_plane(np.asarray(hull.exterior.coords)[:-1], mid)
        lon, lat = unit_to_lonlat(ring)
        closed = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
        return [[*closed, closed[0]]]


def normalise_longitude(lon: float) -> float:
    """Longitude in (-180, 180].

    >>> normalise_longitude(190.0), normalise_longitude(-180.0), normalise_longitude(540.0)
    (-170.0, 180.0, 180.0)
    """
    lon = math.fmod(lon, 360.0)
    if lon <= -180.0:
        lon += 360.0
    elif lon > 180.0:
        lon -= 360.0
    return lon


def from_plane(xy: np.ndarray, center: Vectors) -> Vectors:
    """Inverse gnomonic projection of planar points about ``center``."""
    east, north = tangent_frame(center)
    p = center + xy[:, :1] * east + xy[:, 1:2] * north
    result: Vectors = p / np.linalg.norm(p, axis=1, keepdims=True)
    return result


# --- parsing -----------------------------------------------------------------------------


def finite_number(value: Any, field_name: str, what: str = "expected a number") -> float:
    """A JSON number as a finite float; huge integers and inf/NaN are refused by name."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise errors.WrongType(what, field=field_name)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise errors.NotFinite("must be a finite number", field=field_name)
    return number


def parse_position(value: Any, field_name: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise errors.WrongType("a position is [longitude, latitude]", field=field_name)
    lon = finite_number(value[0], f"{field_name}[0]")
    lat = finite_number(value[1], f"{field_name}[1]")
    for i, extra in enumerate(value[2:], start=2):
        finite_number(extra, f"{field_name}[{i}]")
    if not -90.0 <= lat <= 90.0:
        raise errors.LatitudeOutOfRange(
            f"latitude {lat} is outside [-90, 90]", field=f"{field_name}[1]"
        )
    return normalise_longitude(lon), lat


def _ring(value: Any, field_name: str) -> list[tuple[float, float]]:
    if not isinstance(value, list | tuple):
        raise errors.WrongType("a ring is a list of positions", field=field_name)
    positions = [parse_position(p, f"{field_name}[{i}]") for i, p in enumerate(value)]
    if len(positions) < 4:
        raise errors.RingTooShort(
            f"a linear ring needs at least 4 positions, got {len(positions)}", field=field_name
        )
    if list(value[0][:2]) != list(value[-1][:2]):
        raise errors.RingNotClosed(
            "the first and last positions of a ring must be equal", field=field_name
        )
    return positions


def _unwrap(lons: Sequence[float]) -> list[float]:
    out = [lons[0]]
    for lon in lons[1:]:
        delta = (lon - out[-1] + 180.0) % 360.0 - 180.0
        out.append(out[-1] + delta)
    return out


def _covering_span(intervals: list[tuple[float, float]]) -> tuple[float, float]:
    """Smallest circular longitude interval (west, span) covering all intervals."""
    best = (intervals[0][0], 360.0)
    for start, _ in intervals:
        end = start
        for lo, hi in intervals:
            shifted = start + (lo - start) % 360.0
            end = max(end, shifted + (hi - lo))
        if end - start < best[1]:
            best = (start, end - start)
    return best


def _polygon_rings(coords: Any, field_name: str) -> list[list[tuple[float, float]]]:
    if not isinstance(coords, list | tuple) or not coords:
        raise errors.WrongType("a Polygon is a non-empty list of rings", field=field_name)
    return [_ring(r, f"{field_name}[{i}]") for i, r in enumerate(coords)]


def footprint_from_geojson(
    obj: Any, limits: GeometryLimits | None = None, field_name: str = "footprint"
) -> Footprint:
    """Parse a GeoJSON Polygon or MultiPolygon, or a ``Circle``, into a validated footprint."""
    limits = limits or GeometryLimits()
    if not isinstance(obj, dict):
        raise errors.WrongType("a footprint is a GeoJSON object", field=field_name)
    kind = obj.get("type")
    if kind == "Circle":
        if "center" not in obj:
            raise errors.MissingField("a Circle needs a center", field=f"{field_name}.center")
        if "radius_m" not in obj:
            raise errors.MissingField("a Circle needs radius_m", field=f"{field_name}.radius_m")
        lon, lat = parse_position(obj["center"], f"{field_name}.center")
        radius = finite_number(obj["radius_m"], f"{field_name}.radius_m")
        return circle(lon, lat, radius, limits, field_name)
    if kind not in ("Polygon", "MultiPolygon"):
        raise errors.UnsupportedGeometry(
            f"footprint type must be Polygon, MultiPolygon or Circle, not {kind!r}",
            field=f"{field_name}.type",
        )
    if "coordinates" not in obj:
        raise errors.MissingField("coordinates are required", field=f"{field_name}.coordinates")
    coords = obj["coordinates"]
    field_coords = f"{field_name}.coordinates"
    if kind == "Polygon":
        parts = [(_polygon_rings(coords, field_coords), field_coords)]
    else:
        if not isinstance(coords, list | tuple) or not coords:
            raise errors.WrongType("a MultiPolygon is a list of polygons", field=field_coords)
        parts = [
            (_polygon_rings(p, f"{field_coords}[{i}]"), f"{field_coords}[{i}]")
            for i, p in enumerate(coords)
        ]
    return _polygon(parts, limits, field_name)


def _polygon(
    parts: list[tuple[list[list[tuple[float, float]]], str]],
    limits: GeometryLimits,
    field_name: str,
) -> Footprint:
    total = sum(len(ring) - 1 for rings, _ in parts for ring in rings)
    if total > limits.max_vertices:
        raise errors.TooManyVertices(
            f"{total} vertices exceed the limit of {limits.max_vertices}",
            field=f"{field_name}.coordinates",
        )
    intervals: list[tuple[float, float]] = []
    all_vertices: list[Vectors] = []
    edges_a: list[Vectors] = []
    edges_b: list[Vectors] = []
    lat_lo, lat_hi = 90.0, -90.0
    built: list[_Part] = []
    part_caps: list[tuple[Vectors, float]] = []
    area = 0.0
    for rings, part_field in parts:
        part_vectors: list[Vectors] = []
        for r_index, ring in enumerate(rings):
            ring_field = f"{part_field}[{r_index}]"
            lons = [p[0] for p in ring]
            lats = [p[1] for p in ring]
            if any(abs(lat) == 90.0 for lat in lats):
                raise errors.ContainsPole("a footprint may not touch a pole", field=ring_field)
            unwrapped = _unwrap(lons)
            steps = [abs(b - a) for a, b in itertools.pairwise(unwrapped)]
            if any(step >= 180.0 for step in steps):
                raise errors.ContainsPole(
                    "an edge spanning 180° of longitude passes over a pole", field=ring_field
                )
            if abs(unwrapped[-1] - unwrapped[0]) > 180.0:
                raise errors.ContainsPole("the ring encloses a pole", field=ring_field)
            if r_index == 0:
                intervals.append((min(unwrapped), max(unwrapped)))
            v = lonlat_to_unit(lons, lats)
            keep = np.ones(len(v), dtype=bool)
            keep[1:] = np.any(v[1:] != v[:-1], axis=1)
            v = v[keep]
            if len(v) < 4:
                raise errors.RingTooShort(
                    "a ring needs at least three distinct vertices", field=ring_field
                )
            part_vectors.append(v)
            edges_a.append(v[:-1])
            edges_b.append(v[1:])
            all_vertices.append(v[:-1])
            lo, hi = arc_latitude_range(v[:-1], v[1:])
            lat_lo, lat_hi = min(lat_lo, float(lo.min())), max(lat_hi, float(hi.max()))
        center = _normalised(part_vectors[0][:-1].sum(axis=0))
        cap = float(np.max(angle(part_vectors[0][:-1], center)))
        if math.degrees(cap) > _MAX_CAP_DEG:
            raise errors.AreaTooLarge(
                f"a polygon part must fit within {_MAX_CAP_DEG:.0f}° of its centre",
                field=part_field,
            )
        planes = [np.column_stack(gnomonic(v, center)) for v in part_vectors]
        plane = shapely.Polygon(planes[0], planes[1:])
        if not shapely.is_valid(plane):
            reason = shapely.is_valid_reason(plane)
            if "Self-intersection" in reason or "Ring Self-intersection" in reason:
                raise errors.SelfIntersection(
                    f"the polygon intersects itself ({reason})", field=part_field
                )
            raise errors.InvalidValue(f"invalid polygon: {reason}", field=part_field)
        if _contains_pole(plane, center):
            raise errors.ContainsPole("the polygon contains a pole", field=part_field)
        angles = [float(_solid_angles(v[None], center[None])[0]) for v in part_vectors]
        area += abs(angles[0]) - sum(abs(x) for x in angles[1:])  # the outer ring less holes
        built.append(_Part(center=center, plane=plane))
        part_caps.append((center, cap))
    west, span = _covering_span(intervals)
    if span > 180.0:
        raise errors.LongitudeSpanTooLarge(
            f"the footprint spans {span:.1f}° of longitude; the limit is 180°",
            field=f"{field_name}.coordinates",
        )
    area_m2 = area * EARTH_RADIUS_M**2
    _check_area(area_m2, limits, field_name)
    vertices = np.concatenate(all_vertices)
    center = _normalised(vertices.sum(axis=0))
    # Each part lies in its own cap (under 90°, hence convex); the footprint's cap
    # encloses those caps, so it stays a true bound even for far-apart parts.
    cap = max(float(angle(center, c)) + r for c, r in part_caps)
    east = normalise_longitude(west + span)
    geojson = _polygon_geojson(parts)
    return Footprint(
        shape="polygon",
        vertices=vertices,
        edge_a=np.concatenate(edges_a),
        edge_b=np.concatenate(edges_b),
        radius=0.0,
        center=center,
        cap=cap,
        bbox=BBox(normalise_longitude(west), lat_lo, east, lat_hi),
        area_m2=area_m2,
        geojson=geojson,
        parts=tuple(built),
    )


def polygons_in_bulk(objs: Sequence[Any], limits: GeometryLimits) -> list[Footprint | None]:
    """Footprints of many simple GeoJSON Polygons at once; ``None`` where this path declines.

    It takes Polygons of one ring of plain ``[lon, lat]`` positions and declines
    everything else (holes, MultiPolygons, altitudes in positions, and any ring
    that fails a check). A declined footprint is parsed by
    :func:`footprint_from_geojson`, which accepts it or raises its exact error, so
    results and error messages are the same either way; only the work is shared.
    """
    out: list[Footprint | None] = [None] * len(objs)
    by_length: dict[int, list[int]] = {}
    for k, obj in enumerate(objs):
        if type(obj) is not dict or obj.get("type") != "Polygon":
            continue
        rings: Any = obj.get("coordinates")
        if not (type(rings) is list and len(rings) == 1 and type(rings[0]) is list):
            continue
        if 4 <= len(rings[0]) <= limits.max_vertices + 1:
            by_length.setdefault(len(rings[0]), []).append(k)
    for members in by_length.values():
        for k, footprint in zip(members, _simple_rings(objs, members, limits), strict=True):
            out[k] = footprint
    return out


def _as_array(rings: list[Any]) -> np.ndarray | None:
    try:
        array = np.array(rings, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        return None
    return array if array.ndim == 3 and array.shape[2] == 2 else None


def _simple_rings(
    objs: Sequence[Any], members: list[int], limits: GeometryLimits
) -> list[Footprint | None]:
    rings = [objs[k]["coordinates"][0] for k in members]
    found: list[Footprint | None] = [None] * len(members)
    whole = _as_array(rings)
    if whole is not None:
        index, coords = list(range(len(rings))), whole
    else:  # one ring is not plain numbers: the others still go in bulk
        singles = [_as_array([r]) for r in rings]
        index = [i for i, single in enumerate(singles) if single is not None]
        if not index:
            return found
        coords = np.concatenate([s for s in singles if s is not None])
    # JSON true/false read as 1/0: a ring holding exactly 0 or 1 is checked value by value.
    suspect = np.any((coords == 0.0) | (coords == 1.0), axis=(1, 2))
    for n in np.flatnonzero(suspect).tolist():
        if any(type(x) is bool for p in rings[index[n]] for x in p):
            coords[n] = np.nan
    lon, lat = coords[..., 0], coords[..., 1]
    good = np.all(np.isfinite(coords), axis=(1, 2)) & np.all(np.abs(lat) < 90.0, axis=1)
    good &= np.all(coords[:, 0] == coords[:, -1], axis=1)
    with np.errstate(invalid="ignore"):
        lon = np.fmod(lon, 360.0)
        lon = np.where(lon <= -180.0, lon + 360.0, np.where(lon > 180.0, lon - 360.0, lon))
        steps = (np.diff(lon, axis=1) + 180.0) % 360.0 - 180.0
        unwrapped = np.cumsum(np.concatenate([lon[:, :1], steps], axis=1), axis=1)
    good &= np.all(np.abs(steps) < 180.0, axis=1)
    good &= np.abs(unwrapped[:, -1] - unwrapped[:, 0]) <= 180.0
    west, east_unwrapped = unwrapped.min(axis=1), unwrapped.max(axis=1)
    good &= east_unwrapped - west <= 180.0
    v = lonlat_to_unit(lon, lat)
    good &= ~np.any(np.all(v[:, 1:] == v[:, :-1], axis=2), axis=1)
    lat_lo, lat_hi = arc_latitude_range(v[:, :-1], v[:, 1:])
    center = v[:, :-1].sum(axis=1)
    center /= np.linalg.norm(center, axis=1, keepdims=True)
    cap = np.max(angle(v[:, :-1], center[:, None, :]), axis=1)
    good &= np.degrees(cap) <= _MAX_CAP_DEG
    east, north = tangent_frames(center)
    depth = np.einsum("kij,kj->ki", v, center)
    with np.errstate(divide="ignore", invalid="ignore"):
        planes = (
            np.stack([np.einsum("kij,kj->ki", v, east), np.einsum("kij,kj->ki", v, north)], axis=2)
            / depth[..., None]
        )
    polygons = np.full(len(index), None, dtype=object)
    if good.any():
        polygons[good] = shapely.polygons(planes[good])
        good[good] = shapely.is_valid(polygons[good])
    for sign in (1.0, -1.0):  # a pole inside the ring: declined (the parser names it)
        facing = good & (center[:, 2] * sign > 0.0)
        if facing.any():  # the pole's image about each centre
            x = east[facing, 2] / center[facing, 2]
            y = north[facing, 2] / center[facing, 2]
            good[facing] &= ~shapely.intersects_xy(polygons[facing], x, y)
    area_m2 = np.abs(_solid_angles(v, center)) * EARTH_RADIUS_M**2
    good &= area_m2 <= limits.max_area_km2 * 1e6
    kept = np.flatnonzero(good)
    lonlat = np.stack([lon[kept], lat[kept]], axis=2)
    positions = lonlat.tolist()
    cores = shapely.polygons(lonlat)
    spans = (east_unwrapped[kept] - west[kept]).tolist()
    columns = zip(
        kept.tolist(),
        positions,
        west[kept].tolist(),
        spans,
        lat_lo[kept].min(axis=1).tolist(),
        lat_hi[kept].max(axis=1).tolist(),
        cap[kept].tolist(),
        area_m2[kept].tolist(),
        cores,
        strict=True,
    )
    for n, ring, w, span, south, north, c, area, core in columns:
        w = normalise_longitude(w)
        footprint = Footprint(
            shape="polygon",
            vertices=v[n, :-1],
            edge_a=v[n, :-1],
            edge_b=v[n, 1:],
            radius=0.0,
            center=center[n],
            cap=c,
            bbox=BBox(w, south, normalise_longitude(w + span), north),
            area_m2=area,
            geojson={"type": "Polygon", "coordinates": [ring]},
            parts=(_Part(center=center[n], plane=polygons[n]),),
        )
        footprint.__dict__["core"] = core  # made in bulk above; ``core`` is cached there
        found[index[n]] = footprint
    return found


def _polygon_geojson(parts: list[tuple[list[list[tuple[float, float]]], str]]) -> dict[str, Any]:
    polygons = [[[[lon, lat] for lon, lat in ring] for ring in rings] for rings, _ in parts]
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


def _contains_pole(plane: Any, center: Vectors) -> bool:
    for pole in (np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -1.0])):
        if pole @ center > 0.0:
            x, y = gnomonic(pole[None, :], center)
            if bool(shapely.intersects_xy(plane, x[0], y[0])):
                return True
    return False


def _solid_angles(rings: Vectors, centers: Vectors) -> Vectors:
    """Signed solid angle of each closed ring ``(k, n, 3)``, a fan of triangles from its centre."""
    a, b, c = rings[:, :-1], rings[:, 1:], centers[:, None, :]
    num = np.sum(c * cross(a, b), axis=2)
    den = 1.0 + np.sum(a * c, axis=2) + np.sum(b * c, axis=2) + np.sum(a * b, axis=2)
    result: Vectors = np.sum(2.0 * np.arctan2(num, den), axis=1)
    return result


def _normalised(v: Vectors) -> Vectors:
    result: Vectors = v / np.linalg.norm(v)
    return result


def _check_area(area_m2: float, limits: GeometryLimits, field_name: str) -> None:
    if area_m2 > limits.max_area_km2 * 1e6:
        raise errors.AreaTooLarge(
            f"area {area_m2 / 1e6:,.0f} km² exceeds the limit of {limits.max_area_km2:,.0f} km²",
            field=field_name,
        )


def circle(
    lon: float,
    lat: float,
    radius_m: float,
    limits: GeometryLimits | None = None,
    field_name: str = "footprint",
) -> Footprint:
    """A geodesic circle: every point within ``radius_m`` of the centre.

    >>> circle(0.0, 89.99, 5000.0)
    Traceback (most recent call last):
    ...
    deconflict.errors.ContainsPole: a circle of 5000 m around latitude 89.99 contains a pole
    """
    limits = limits or GeometryLimits()
    if not math.isfinite(radius_m) or radius_m <= 0.0:
        raise errors.RadiusNotPositive(
            "radius_m must be a positive number of metres", field=f"{field_name}.radius_m"
        )
    rho = radius_m / EARTH_RADIUS_M
    if math.radians(90.0 - abs(lat)) <= rho:
        raise errors.ContainsPole(
            f"a circle of {radius_m:g} m around latitude {lat:g} contains a pole",
            field=f"{field_name}.center",
        )
    if math.degrees(rho) > _MAX_CAP_DEG:
        raise errors.AreaTooLarge("the circle is too large", field=field_name)
    area_m2 = 2.0 * math.pi * (1.0 - math.cos(rho)) * EARTH_RADIUS_M**2
    _check_area(area_m2, limits, field_name)
    lon = normalise_longitude(lon)
    center = lonlat_to_unit([lon], [lat])[0]
    dlon = math.degrees(math.asin(min(1.0, math.sin(rho) / math.cos(math.radians(lat)))))
    dlat = math.degrees(rho)
    bbox = BBox(
        normalise_longitude(lon - dlon),
        max(-90.0, lat - dlat),
        normalise_longitude(lon + dlon),
        min(90.0, lat + dlat),
    )
    empty = np.empty((0, 3))
    return Footprint(
        shape="circle",
        vertices=center[None, :],
        edge_a=empty,
        edge_b=empty,
        radius=rho,
        center=center,
        cap=rho,
        bbox=bbox,
        area_m2=area_m2,
        geojson={"type": "Circle", "center": [lon, lat], "radius_m": radius_m},
    )


def corridor(a: Vectors, b: Vectors, half_width_m: float) -> Footprint:
    """Every point within ``half_width_m`` of the minor arc from ``a`` to ``b``."""
    rho = half_width_m / EARTH_RADIUS_M
    center = _normalised(a + b) if float(angle(a, b)) > 0.0 else a
    length = float(angle(a, b))
    (lon_a, lon_b), (lat_a, lat_b) = unit_to_lonlat(np.stack([a, b]))
    lo, hi = arc_latitude_range(a[None], b[None])
    west, span = _covering_span([(float(lon_a), float(lon_a)), (float(lon_b), float(lon_b))])
    core = BBox(
        normalise_longitude(west), float(lo[0]), normalise_longitude(west + span), float(hi[0])
    )
    line = [[float(lon_a), float(lat_a)], [float(lon_b), float(lat_b)]]
    return Footprint(
        shape="corridor",
        vertices=np.stack([a, b]),
        edge_a=a[None, :],
        edge_b=b[None, :],
        radius=rho,
        center=center,
        cap=length / 2.0 + rho,
        bbox=core.padded(half_width_m),
        area_m2=(2 * rho * length + math.pi * rho * rho) * EARTH_RADIUS_M**2,
        geojson={"type": "LineString", "coordinates": line, "half_width_m": half_width_m},
    )
