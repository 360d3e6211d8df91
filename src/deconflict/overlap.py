"""The drawable part of a conflict: where one footprint comes within the buffer of another.

This is for display and disclosure, not for the decision: the decision is the
exact distance test in :mod:`deconflict.conflicts`. Shapes are intersected in
a gnomonic plane about the pair, where great-circle edges are straight.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from .geometry import Footprint, from_plane
from .sphere import EARTH_RADIUS_M, gnomonic, lonlat_to_unit, unit_to_lonlat

__all__ = ["overlap_footprint"]

_MIN_DEPTH = 0.2  # keep projected points well inside the hemisphere


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
        plane_b = shapely.buffer(plane_b, lateral_m / EARTH_RADIUS_M, quad_segs=8)
    shape = shapely.intersection(plane_a, plane_b)
    if shape.is_empty or shape.area == 0.0:
        return None
    return _to_geojson(shape, center)
