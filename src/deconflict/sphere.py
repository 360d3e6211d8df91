"""Vector geometry on the sphere: the exact arithmetic under every footprint.

Points are unit vectors in an Earth-centred frame (x towards lon 0 / lat 0,
z towards the north pole). Edges are minor great-circle arcs. Every function
takes arrays, so the conflict test runs over whole candidate sets at once.

Distances are angles in radians; multiply by :data:`EARTH_RADIUS_M` for metres.

>>> p = lonlat_to_unit([0.0, 1.0], [0.0, 0.0])
>>> round(float(angle(p[0], p[1])) * EARTH_RADIUS_M)
111195
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = [
    "EARTH_RADIUS_M",
    "Vectors",
    "angle",
    "arc_latitude_range",
    "arcs_cross",
    "cross",
    "destination",
    "gnomonic",
    "lonlat_to_unit",
    "point_arc_distance",
    "slerp",
    "tangent_frame",
    "tangent_frames",
    "unit_to_lonlat",
]

#: Mean Earth radius (IUGG), the sphere on which horizontal distances are measured.
EARTH_RADIUS_M = 6_371_008.8

Vectors: TypeAlias = npt.NDArray[np.float64]


def lonlat_to_unit(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Vectors:
    """Unit vectors for longitudes and latitudes in degrees, shape ``(n, 3)``."""
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    cphi = np.cos(phi)
    return np.stack([cphi * np.cos(lam), cphi * np.sin(lam), np.sin(phi)], axis=-1)


def unit_to_lonlat(v: Vectors) -> tuple[Vectors, Vectors]:
    """Longitudes in (-180, 180] and latitudes, in degrees.

    >>> lon, lat = unit_to_lonlat(lonlat_to_unit([-180.0], [45.0]))
    >>> float(lon[0]), round(float(lat[0]), 9)
    (180.0, 45.0)
    """
    v = np.asarray(v, dtype=np.float64)
    lon = np.degrees(np.arctan2(v[..., 1], v[..., 0]))
    lon = np.where(lon <= -180.0, lon + 360.0, lon)
    lat = np.degrees(np.arctan2(v[..., 2], np.hypot(v[..., 0], v[..., 1])))
    return lon, lat


def cross(u: Vectors, v: Vectors) -> Vectors:
    """``numpy.cross`` of 3-vectors (broadcasting), the same arithmetic without its overhead.

    Parsing calls it on a few vectors at a time, where ``numpy.cross`` spends most of
    its time moving axes.

    >>> cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])).tolist()
    [0.0, 0.0, 1.0]
    """
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    u0, u1, u2 = u[..., 0], u[..., 1], u[..., 2]
    v0, v1, v2 = v[..., 0], v[..., 1], v[..., 2]
    result: Vectors = np.stack([u1 * v2 - u2 * v1, u2 * v0 - u0 * v2, u0 * v1 - u1 * v0], axis=-1)
    return result


def angle(u: Vectors, v: Vectors) -> Vectors:
    """Angle between unit vectors, accurate near 0 and near pi (atan2 form)."""
    sine = np.linalg.norm(cross(u, v), axis=-1)
    dot = np.sum(u * v, axis=-1)
    result: Vectors = np.arctan2(sine, dot)
    return result


def _normalise(v: Vectors) -> Vectors:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norm == 0.0, 1.0, norm)


def point_arc_distance(p: Vectors, a: Vectors, b: Vectors) -> Vectors:
    """Angular distance from each point to each minor arc, shape ``(len(p), len(a))``.

    The nearest point of an arc is either the foot of the perpendicular from the
    point to the arc's great circle, when that foot lies on the arc, or one of the
    two endpoints.

    >>> a, b = lonlat_to_unit([0.0, 10.0], [0.0, 0.0])
    >>> p = lonlat_to_unit([5.0, 20.0], [1.0, 0.0])
    >>> np.round(np.degrees(point_arc_distance(p, a[None], b[None])), 6).ravel().tolist()
    [1.0, 10.0]
    """
    p = np.asarray(p, dtype=np.float64)[:, None, :]
    a = np.asarray(a, dtype=np.float64)[None, :, :]
    b = np.asarray(b, dtype=np.float64)[None, :, :]
    n_raw = cross(a, b)
    n_len = np.linalg.norm(n_raw, axis=-1)
    n = n_raw / np.where(n_len == 0.0, 1.0, n_len)[..., None]
    s = np.sum(p * n, axis=-1)
    foot = p - s[..., None] * n
    # The foot lies on the arc when it is on the inner side of both endpoint planes.
    on_arc = (
        (np.sum(cross(a, foot) * n, axis=-1) >= 0.0)
        & (np.sum(cross(foot, b) * n, axis=-1) >= 0.0)
        & (n_len > 1e-15)
        & (np.linalg.norm(foot, axis=-1) > 1e-15)
    )
    perpendicular = np.arcsin(np.clip(np.abs(s), 0.0, 1.0))
    ends = np.minimum(angle(p, a), angle(p, b))
    result: Vectors = np.where(on_arc, np.minimum(perpendicular, ends), ends)
    return result


def arcs_cross(a1: Vectors, b1: Vectors, a2: Vectors, b2: Vectors) -> npt.NDArray[np.bool_]:
    """Whether each arc of the first set properly crosses each arc of the second.

    Shape ``(len(a1), len(a2))``. Touching and collinear arcs are not reported:
    their distance is zero, which :func:`point_arc_distance` finds.
    """
    a1 = np.asarray(a1)[:, None, :]
    b1 = np.asarray(b1)[:, None, :]
    a2 = np.asarray(a2)[None, :, :]
    b2 = np.asarray(b2)[None, :, :]
    n1 = cross(a1, b1)
    n2 = cross(a2, b2)
    straddle2 = np.sum(n1 * a2, axis=-1) * np.sum(n1 * b2, axis=-1) < 0.0
    straddle1 = np.sum(n2 * a1, axis=-1) * np.sum(n2 * b1, axis=-1) < 0.0
    x = cross(n1, n2)
    # Of the two antipodal intersections of the great circles, keep the one on arc 1.
    flip = np.sum(x * (a1 + b1), axis=-1) < 0.0
    x = np.where(flip[..., None], -x, x)
    same_point = np.sum(x * (a2 + b2), axis=-1) > 0.0
    crossing: npt.NDArray[np.bool_] = straddle1 & straddle2 & same_point
    return crossing


def tangent_frame(center: Vectors) -> tuple[Vectors, Vectors]:
    """East and north unit vectors of the tangent plane at ``center``."""
    c = np.asarray(center, dtype=np.float64)
    east = np.array([-c[1], c[0], 0.0])
    if np.linalg.norm(east) < 1e-12:  # at a pole any east will do
        east = np.array([0.0, 1.0, 0.0])
    east = east / np.linalg.norm(east)
    north = cross(c, east)
    return east, north


def tangent_frames(centers: Vectors) -> tuple[Vectors, Vectors]:
    """:func:`tangent_frame` for many centres at once, shape ``(n, 3)``."""
    c = np.asarray(centers, dtype=np.float64)
    east = np.stack([-c[:, 1], c[:, 0], np.zeros(len(c))], axis=1)
    polar = np.linalg.norm(east, axis=1) < 1e-12
    east[polar] = (0.0, 1.0, 0.0)
    east /= np.linalg.norm(east, axis=1, keepdims=True)
    north: Vectors = cross(c, east)
    return east, north


def gnomonic(p: Vectors, center: Vectors) -> tuple[Vectors, Vectors]:
    """Gnomonic projection about ``center``: great circles become straight lines.

    Only points in the open hemisphere around ``center`` have an image; callers
    keep their shapes well inside it.
    """
    p = np.asarray(p, dtype=np.float64)
    east, north = tangent_frame(center)
    depth = p @ center
    q = p / depth[..., None]
    return q @ east, q @ north


def destination(center: Vectors, azimuth_rad: npt.ArrayLike, distance_rad: float) -> Vectors:
    """Points at an angular distance from ``center`` along azimuths (clockwise from north)."""
    east, north = tangent_frame(center)
    az = np.asarray(azimuth_rad, dtype=np.float64)[..., None]
    direction = np.sin(az) * east + np.cos(az) * north
    result: Vectors = np.cos(distance_rad) * center + np.sin(distance_rad) * direction
    return result


def slerp(a: Vectors, b: Vectors, t: npt.ArrayLike) -> Vectors:
    """Points at fractions ``t`` of the minor arc from ``a`` to ``b``."""
    t = np.asarray(t, dtype=np.float64)[..., None]
    omega = float(angle(a, b))
    if omega < 1e-12:
        return np.broadcast_to(a, (*t.shape[:-1], 3)).copy()
    so = np.sin(omega)
    result: Vectors = np.sin((1.0 - t) * omega) / so * a + np.sin(t * omega) / so * b
    return result


def arc_latitude_range(a: Vectors, b: Vectors) -> tuple[Vectors, Vectors]:
    """Exact latitude range (degrees) of each minor arc, including its bulge.

    A great-circle arc between two points at 60°N passes north of 60°; a
    bounding box built from the vertices alone would miss that.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    _, lat_a = unit_to_lonlat(a)
    _, lat_b = unit_to_lonlat(b)
    lo = np.minimum(lat_a, lat_b)
    hi = np.maximum(lat_a, lat_b)
    n = _normalise(cross(a, b))
    z = np.array([0.0, 0.0, 1.0])
    for sign in (1.0, -1.0):
        apex = _normalise(sign * z - (n @ (sign * z))[..., None] * n)
        inside = (np.sum(cross(a, apex) * n, axis=-1) > 0.0) & (
            np.sum(cross(apex, b) * n, axis=-1) > 0.0
        )
        _, lat_apex = unit_to_lonlat(apex)
        lo = np.where(inside, np.minimum(lo, lat_apex), lo)
        hi = np.where(inside, np.maximum(hi, lat_apex), hi)
    return lo, hi
