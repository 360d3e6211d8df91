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

from .sphere import (
    EARTH_RADIUS_M,
    lonlat_to_unit,
    tangent_frame,
    tangent_frames,
    unit_to_lonlat,
)

__all__ = ["MIN_DEPTH", "pair_shapes", "project_each"]

#: Projected points must lie at least this deep (cosine from the centre) to be used.
MIN_DEPTH = 0.2
_QUAD_SEGS = 8
#: A buffer's polygon has its vertices on the circle; widen its radius by this
#: much and its edges lie outside instead, so a drawn overlap never understates.
_CIRCUMSCRIBE = 1.0 / math.cos(math.pi / (4 * _QUAD_SEGS))


def _frames(centers: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, ...]:
    """Centre, east and north for every coordinate: one frame, or each shape's own."""
    if centers.ndim == 1:
        east, north = tangent_frame(centers)
        return centers, east, north
    east, north = tangent_frames(centers)
    return centers[index], east[index], north[index]


def _dot(units: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise dot products with one vector or with a vector per row."""
    result: np.ndarray = units @ v if v.ndim == 1 else np.einsum("ij,ij->i", units, v)
    return result


def _to_lonlat(centers: np.ndarray, index: np.ndarray) -> Any:
    """Inverse gnomonic projection of every coordinate about its shape's centre."""
    center, east, north = _frames(centers, index)

    def inverse(xy: np.ndarray) -> np.ndarray:
        p = center + xy[:, :1] * east + xy[:, 1:2] * north
        lon, lat = unit_to_lonlat(p / np.linalg.norm(p, axis=1, keepdims=True))
        return np.column_stack([np.round(lon, 7), np.round(lat, 7)])

    return inverse


def pair_shapes(
    mine: np.ndarray,
    my_radii: np.ndarray,
    planes: np.ndarray,
    radii: np.ndarray,
    lateral_m: np.ndarray | float,
    centers: np.ndarray,
    mine_of: np.ndarray | None = None,
) -> tuple[list[dict[str, Any] | None], np.ndarray]:
    """Overlap shapes of many pairs at once: the part of each ``mine`` within reach of its pair.

    Pair ``k``'s cores are ``mine[k]`` and ``planes[k]``, both projected about
    ``centers[k]`` (or all about ``centers`` if it is one vector), where the
    plane's unit is very nearly one radian, which is all display needs. Returns
    GeoJSON (``None`` where the overlap has no area) and the share of each other
    side's buffered area that the overlap covers. With ``mine_of``, pair ``k``'s
    own core is ``mine[mine_of[k]]``: one core in many pairs is grown once.
    """
    reach = (radii + np.asarray(lateral_m) / EARTH_RADIUS_M) * _CIRCUMSCRIBE
    grown = _grown(mine, np.broadcast_to(my_radii * _CIRCUMSCRIBE, len(mine)))
    if mine_of is not None:
        grown = grown[mine_of]
    theirs = _grown(planes, np.broadcast_to(reach, len(planes)))
    shapes = shapely.intersection(grown, theirs)
    areas = shapely.area(shapes)
    whole = shapely.area(theirs)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(whole > 0, np.minimum(areas / whole, 1.0), 1.0)
    keep = ~shapely.is_empty(shapes) & (areas > 0)
    out: list[dict[str, Any] | None] = [None] * len(shapes)
    if keep.any():
        kept = shapes[keep]
        _, index = shapely.get_coordinates(kept, return_index=True)
        chosen = np.asarray(centers)
        chosen = chosen if chosen.ndim == 1 else chosen[keep]
        lonlat = shapely.transform(kept, _to_lonlat(chosen, index))
        for k, drawn in zip(np.flatnonzero(keep).tolist(), _geojson(lonlat), strict=True):
            out[k] = drawn
    return out, shares


def _grown(shapes: np.ndarray, by: np.ndarray) -> np.ndarray:
    """Each shape buffered by its distance; those with none are left as they are
    (buffering by zero costs as much as a real buffer, and most pairs have none)."""
    some = by > 0
    if not some.any():
        return shapes
    out = shapes.copy()
    out[some] = shapely.buffer(shapes[some], by[some], quad_segs=_QUAD_SEGS)
    return out


def _geojson(shapes: np.ndarray) -> list[dict[str, Any]]:
    """GeoJSON of areal shapes; a plain polygon's rings straight from one coordinate array."""
    out: list[dict[str, Any]] = []
    plain = (shapely.get_type_id(shapes) == 3) & (shapely.get_num_interior_rings(shapes) == 0)
    rings = shapely.get_exterior_ring(shapes[plain])
    coords, index = shapely.get_coordinates(rings, return_index=True)
    ends = np.cumsum(np.bincount(index, minlength=len(rings))).tolist()
    # Tuples of floats, as shapely's mapping gives, made straight from two columns:
    # the collector stops tracking them, where a list per point would be promoted
    # and make full collections (tens of ms on a large heap) several times as frequent.
    points = list(zip(coords[:, 0].tolist(), coords[:, 1].tolist(), strict=True))
    starts = [0, *ends[:-1]]
    exteriors = iter(zip(starts, ends, strict=True))
    for shape, simple in zip(shapes, plain.tolist(), strict=True):
        if simple:
            a, b = next(exteriors)
            out.append({"type": "Polygon", "coordinates": (tuple(points[a:b]),)})
            continue
        if shape.geom_type not in ("Polygon", "MultiPolygon"):  # keep the areal parts
            parts = [g for g in getattr(shape, "geoms", []) if g.geom_type == "Polygon"]
            shape = shapely.MultiPolygon(parts)
        out.append(shapely.geometry.mapping(shape))
    return out


def project_each(geoms: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each geometry's smallest depth (cosine from its own centre) and its gnomonic image.

    ``centers[k]`` is the plane's centre for ``geoms[k]``: pairs of a bulk check are
    each projected about their own centre in one pass. One vector projects all
    about it, as one query's candidates are.
    """
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    units = lonlat_to_unit(coords[:, 0], coords[:, 1])
    center, east, north = _frames(np.asarray(centers), index)
    depth_each = _dot(units, center)
    depth = np.full(len(geoms), np.inf)
    np.minimum.at(depth, index, depth_each)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = _dot(units, east)
        y = _dot(units, north)
        xy = np.column_stack([x, y]) / depth_each[:, None]
    return depth, shapely.transform(geoms, lambda _: xy)
