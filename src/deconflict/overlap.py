"""The drawable part of a conflict: where one footprint comes within the buffer of another.

This is for display and disclosure, not for the decision: the decision is the
exact distance test in :mod:`deconflict.conflicts`. Shapes are intersected in
a gnomonic plane about the pair, where great-circle edges are straight.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely

from .geometry import Footprint, from_plane
from .sphere import EARTH_RADIUS_M, gnomonic, lonlat_to_unit, tangent_frame, unit_to_lonlat

__all__ = ["overlap_footprint", "overlap_shapes", "project"]

_MIN_DEPTH = 0.2  # keep projected points well inside the hemisphere
_QUAD_SEGS = 8
#: A buffer's polygon has its vertices on the circle; widen its radius by this
#: much and its edges lie outside instead, so a drawn overlap never understates.
_CIRCUMSCRIBE = 1.0 / math.cos(math.pi / (4 * _QUAD_SEGS))


def _planar(fp: Footprint, center: np.ndarray) -> Any | None:
    polygons = []
    for ring in fp.outline():
        coords = np.asarray(ring)
        v = lonlat_to_unit(coords[:, 0], coords[:, 1])
        if np.any(v @ center < _MIN_DEPTH):
            return None
        x, y = gnomonic(v, center)
        polygons.append(shapely.Polygon(np.column_stack([x, y])))
    return shapely.union_all(polygons)


def _to_geojson(shape: Any, center: np.ndarray) -> dict[str, Any] | None:
    polygons = (
        [shape]
        if shape.geom_type == "Polygon"
        else [g for g in getattr(shape, "geoms", []) if g.geom_type == "Polygon"]
    )
    out = []
    for polygon in polygons:
        rings = []
        for ring in (polygon.exterior, *polygon.interiors):
            v = from_plane(np.asarray(ring.coords), center)
            lon, lat = unit_to_lonlat(v)
            rings.append(
                [[round(float(x), 7), round(float(y), 7)] for x, y in zip(lon, lat, strict=True)]
            )
        out.append(rings)
    if not out:
        return None
    if len(out) == 1:
        return {"type": "Polygon", "coordinates": out[0]}
    return {"type": "MultiPolygon", "coordinates": out}


def overlap_footprint(a: Footprint, b: Footprint, lateral_m: float) -> dict[str, Any] | None:
    """GeoJSON of the part of ``a`` within ``lateral_m`` of ``b``, or ``None`` if it has no area."""
    center = a.center + b.center
    norm = np.linalg.norm(center)
    if norm < 1e-9:
        return None
    center = center / norm
    plane_a = _planar(a, center)
    plane_b = _planar(b, center)
    if plane_a is None or plane_b is None:
        return None
    if lateral_m > 0:
        reach = lateral_m / EARTH_RADIUS_M * _CIRCUMSCRIBE
        plane_b = shapely.buffer(plane_b, reach, quad_segs=_QUAD_SEGS)
    shape = shapely.intersection(plane_a, plane_b)
    if shape.is_empty or shape.area == 0.0:
        return None
    return _to_geojson(shape, center)


def _to_lonlat(center: np.ndarray) -> Any:
    def inverse(xy: np.ndarray) -> np.ndarray:
        lon, lat = unit_to_lonlat(from_plane(xy, center))
        return np.column_stack([np.round(lon, 7), np.round(lat, 7)])

    return inverse


def overlap_shapes(
    query: Footprint, planes: np.ndarray, radii: np.ndarray, lateral_m: float
) -> tuple[list[dict[str, Any] | None], np.ndarray]:
    """Vectorised :func:`overlap_footprint` for cores already projected about ``query.center``.

    ``planes`` are the candidates' cores in that gnomonic plane and ``radii`` their
    radii (radians); the plane's unit is very nearly one radian near its centre,
    which is all display needs. Also returns the share of each candidate's
    buffered area that its overlap covers, for the disclosure alerts.
    """
    center = query.center
    _, (q_plane,) = project_one(query, center)
    mine = (
        shapely.buffer(q_plane, query.radius * _CIRCUMSCRIBE, quad_segs=_QUAD_SEGS)
        if query.radius > 0
        else q_plane
    )
    reach = (radii + lateral_m / EARTH_RADIUS_M) * _CIRCUMSCRIBE
    theirs = np.where(reach > 0, shapely.buffer(planes, reach, quad_segs=_QUAD_SEGS), planes)
    shapes = shapely.intersection(mine, theirs)
    out: list[dict[str, Any] | None] = []
    areas = shapely.area(shapes)
    whole = shapely.area(theirs)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(whole > 0, np.minimum(areas / whole, 1.0), 1.0)
    keep = ~shapely.is_empty(shapes) & (areas > 0)
    lonlat = shapely.transform(shapes[keep], _to_lonlat(center)) if keep.any() else []
    it = iter(lonlat)
    for k in range(len(shapes)):
        if not keep[k]:
            out.append(None)
            continue
        geometry = next(it)
        if geometry.geom_type not in ("Polygon", "MultiPolygon"):  # keep the areal parts
            parts = [g for g in getattr(geometry, "geoms", []) if g.geom_type == "Polygon"]
            geometry = shapely.MultiPolygon(parts)
        out.append(shapely.geometry.mapping(geometry))
    return out, shares


def project_one(fp: Footprint, center: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return project(np.array([fp.core]), center, 1)


def project(geoms: np.ndarray, center: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Each geometry's smallest depth (cosine from ``center``) and its gnomonic image."""
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    units = lonlat_to_unit(coords[:, 0], coords[:, 1])
    east, north = tangent_frame(center)
    depth_each = units @ center
    depth = np.full(count, np.inf)
    np.minimum.at(depth, index, depth_each)
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = np.column_stack([units @ east, units @ north]) / depth_each[:, None]
    return depth, shapely.transform(geoms, lambda _: xy)
