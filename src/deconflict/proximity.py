"""Closest approach between aircraft: who will lose separation within the lookahead. Pure.

Each aircraft is a position (longitude, latitude, altitude in metres above the
sphere) and a velocity (east, north, up in m/s), extrapolated in a straight
line. Two aircraft lose separation when, at the same instant within the
lookahead, they are closer than the horizontal threshold *and* closer than the
vertical one. Both conditions are solved exactly for the straight-line
motion (a quadratic and a linear inequality in time), not sampled.

>>> a = Aircraft(lon=35.0, lat=33.0, alt=3000.0, east=100.0)
>>> b = Aircraft(lon=35.2, lat=33.0, alt=3100.0, east=-100.0)
>>> found = closest_approaches([a, b], MANNED)
>>> [(i, j, round(r.t_cpa_s), round(r.horizontal_m)) for i, j, r in found]
[(0, 1, 93, 0)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from deconflict.sphere import EARTH_RADIUS_M, lonlat_to_unit

__all__ = [
    "DRONE",
    "MANNED",
    "Aircraft",
    "Approach",
    "Thresholds",
    "closest_approaches",
    "relative",
    "separation_loss",
]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Thresholds:
    """Minimum separation and how far ahead to look."""

    horizontal_m: float
    vertical_m: float
    lookahead_s: float = 120.0


#: Manned aircraft: 5 NM and 1,000 ft, two minutes ahead.
MANNED = Thresholds(horizontal_m=9_260.0, vertical_m=304.8, lookahead_s=120.0)
#: Small drones: 150 m and 30 m, two minutes ahead.
DRONE = Thresholds(horizontal_m=150.0, vertical_m=30.0, lookahead_s=120.0)


@dataclass(frozen=True)
class Aircraft:
    lon: float
    lat: float
    alt: float
    east: float = 0.0
    north: float = 0.0
    up: float = 0.0


@dataclass(frozen=True)
class Approach:
    """What two aircraft will do: when separation is first lost, and the closest point."""

    t_loss_s: float  # first instant within the lookahead with both thresholds infringed
    t_cpa_s: float  # instant of horizontal closest approach, within the lookahead
    horizontal_m: float  # horizontal distance then
    vertical_m: float  # vertical distance then
    east_m: float  # where the second aircraft is from the first, then
    north_m: float


def _frames(lon: Array, lat: Array) -> tuple[Array, Array, Array]:
    up = lonlat_to_unit(lon, lat)
    east = np.stack([-np.sin(np.radians(lon)), np.cos(np.radians(lon)), np.zeros_like(lon)], -1)
    north = np.cross(up, east)
    return east, north, up


def relative(
    aircraft: Sequence[Aircraft], i: npt.NDArray[np.int64], j: npt.NDArray[np.int64]
) -> tuple[Array, Array, Array, Array, Array, Array]:
    """For pairs ``(i, j)``: relative horizontal position and velocity, altitude and climb,
    and the first aircraft's east and north unit vectors.

    Horizontal parts are taken in the plane square to the pair's mean vertical;
    altitudes are compared directly.
    """
    position, velocity, east, north, up = _state(aircraft)
    alt = np.array([a.alt for a in aircraft], dtype=np.float64)
    climb = np.array([a.up for a in aircraft], dtype=np.float64)
    mid = up[i] + up[j]
    mid /= np.linalg.norm(mid, axis=-1, keepdims=True)
    r = position[j] - position[i]
    v = velocity[j] - velocity[i]
    rh = r - np.sum(r * mid, -1)[:, None] * mid
    vh = v - np.sum(v * mid, -1)[:, None] * mid
    return rh, vh, alt[j] - alt[i], climb[j] - climb[i], east[i], north[i]


def _state(aircraft: Sequence[Aircraft]) -> tuple[Array, Array, Array, Array, Array]:
    """Positions and velocities in Earth-centred metres, and each aircraft's frame."""
    lon = np.array([a.lon for a in aircraft], dtype=np.float64)
    lat = np.array([a.lat for a in aircraft], dtype=np.float64)
    alt = np.array([a.alt for a in aircraft], dtype=np.float64)
    vel = np.array([(a.east, a.north, a.up) for a in aircraft], dtype=np.float64).reshape(-1, 3)
    east, north, up = _frames(lon, lat)
    position = (EARTH_RADIUS_M + alt)[:, None] * up
    velocity = vel[:, :1] * east + vel[:, 1:2] * north + vel[:, 2:3] * up
    return position, velocity, east, north, up


def separation_loss(
    rh: Array,
    vh: Array,
    z: Array,
    vz: Array,
    thresholds: Thresholds,
    vertical_margin: Array | float = 0.0,
) -> tuple[npt.NDArray[np.bool_], Array, Array]:
    """Whether separation is lost within the lookahead, when first, and when closest.

    ``rh`` and ``vh`` are relative horizontal positions and velocities (n×k metres,
    m/s); ``z`` and ``vz`` relative altitudes and climb rates. Altitude is kept
    apart from the horizontal plane, so that level flight stays level over a
    curved Earth. ``vertical_margin`` widens the vertical threshold, e.g. for
    altitudes given in different references.
    """
    horizon = thresholds.lookahead_s
    lo, hi = np.zeros(len(rh)), np.full(len(rh), horizon)
    # Horizontal: |rh + vh t| < H, a quadratic a t² + b t + c < 0.
    a = np.sum(vh * vh, -1)
    b = 2.0 * np.sum(rh * vh, -1)
    c = np.sum(rh * rh, -1) - thresholds.horizontal_m**2
    moving = a > 1e-12
    disc = b * b - 4.0 * a * c
    root = np.sqrt(np.maximum(disc, 0.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t1 = np.where(moving, (-b - root) / (2.0 * a), -np.inf)
        t2 = np.where(moving, (-b + root) / (2.0 * a), np.inf)
    never = (moving & (disc <= 0.0)) | (~moving & (c >= 0.0))
    lo, hi = np.maximum(lo, t1), np.minimum(hi, t2)
    # Vertical: |z + vz t| < V.
    limit = thresholds.vertical_m + np.asarray(vertical_margin, dtype=np.float64)
    climbing = np.abs(vz) > 1e-12
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s1 = np.where(climbing, (-limit - z) / vz, -np.inf)
        s2 = np.where(climbing, (limit - z) / vz, np.inf)
    level_apart = ~climbing & (np.abs(z) >= limit)
    lo = np.maximum(lo, np.minimum(s1, s2))
    hi = np.minimum(hi, np.maximum(s1, s2))
    lost = ~never & ~level_apart & (lo < hi)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t_cpa = np.where(moving, np.clip(-np.sum(rh * vh, -1) / a, 0.0, horizon), 0.0)
    return lost, lo, t_cpa


def _pairs(
    aircraft: Sequence[Aircraft],
    reach_m: Array,
    focus: Sequence[int] | None = None,
) -> npt.NDArray[np.int64]:
    """Index pairs ``i < j`` whose distance is at most ``reach_m[i] + reach_m[j]``.

    Conservative: an STRtree over positions finds every pair within the box of
    the first aircraft's reach plus the largest reach, then the chord distance
    (never longer than the arc) drops pairs beyond their own two reaches. With
    ``focus``, only pairs with at least one aircraft in it.
    """
    lon = np.array([a.lon for a in aircraft], dtype=np.float64)
    lat = np.array([a.lat for a in aircraft], dtype=np.float64)
    box_reach = reach_m + float(reach_m.max())
    dlat = np.degrees(box_reach / EARTH_RADIUS_M)
    reach_lat = np.minimum(np.abs(lat) + dlat, 89.999)
    dlon = np.minimum(dlat / np.cos(np.radians(reach_lat)), 180.0)
    tree = shapely.STRtree(shapely.points(lon, lat))
    c = np.arange(len(aircraft)) if focus is None else np.asarray(focus, dtype=np.int64)
    found = []
    for shift in (0.0, 360.0, -360.0):  # a box past ±180° wraps to the other side
        boxes = shapely.box(
            lon[c] - dlon[c] + shift,
            lat[c] - dlat[c],
            lon[c] + dlon[c] + shift,
            lat[c] + dlat[c],
        )
        query, hit = tree.query(boxes)
        found.append(np.stack([c[query], hit]))
    pairs = np.concatenate(found, axis=1).T
    pairs = np.sort(pairs, axis=1)
    pairs = np.unique(pairs[pairs[:, 0] < pairs[:, 1]], axis=0).astype(np.int64)
    units = lonlat_to_unit(lon, lat)
    chord = np.linalg.norm(units[pairs[:, 0]] - units[pairs[:, 1]], axis=-1) * EARTH_RADIUS_M
    keep: npt.NDArray[np.int64] = pairs[chord <= reach_m[pairs[:, 0]] + reach_m[pairs[:, 1]]]
    return keep


def closest_approaches(
    aircraft: Sequence[Aircraft],
    thresholds: Thresholds,
    vertical_margins: Sequence[float] | None = None,
    max_speed_ms: float | None = None,
    focus: Sequence[int] | None = None,
) -> list[tuple[int, int, Approach]]:
    """Every pair (by index) that loses separation within the lookahead.

    Candidates come from an index over positions, reaching as far as the two
    fastest aircraft can close in the lookahead, so no pair is missed.
    ``vertical_margins`` (one per aircraft) widen the vertical threshold of each
    pair by both aircraft's altitude uncertainty, e.g. across altitude datums.
    ``focus`` limits the answer to pairs with at least one of those aircraft.
    """
    if len(aircraft) < 2:
        return []
    speed = np.array([math.sqrt(a.east**2 + a.north**2 + a.up**2) for a in aircraft])
    if max_speed_ms is not None:
        speed = np.maximum(speed, max_speed_ms)
    # Two aircraft can close by at most the sum of their speeds: each reaches half
    # the threshold, its own travel in the lookahead, and slack for the difference
    # between the surface chord and the horizontal plane (under a metre at 100 km).
    reach = thresholds.horizontal_m / 2 + speed * thresholds.lookahead_s + 50.0
    pairs = _pairs(aircraft, reach, focus)
    if not len(pairs):
        return []
    i, j = pairs[:, 0], pairs[:, 1]
    rh, vh, z, vz, east, north = relative(aircraft, i, j)
    margins = (
        np.zeros(len(aircraft))
        if vertical_margins is None
        else np.asarray(vertical_margins, dtype=np.float64)
    )
    lost, t_loss, t_cpa = separation_loss(rh, vh, z, vz, thresholds, margins[i] + margins[j])
    out = []
    for k in np.flatnonzero(lost):
        flat = rh[k] + vh[k] * t_cpa[k]
        approach = Approach(
            t_loss_s=round(float(t_loss[k]), 3),
            t_cpa_s=round(float(t_cpa[k]), 3),
            horizontal_m=round(float(np.linalg.norm(flat)), 1),
            vertical_m=round(abs(float(z[k] + vz[k] * t_cpa[k])), 1),
            east_m=round(float(flat @ east[k]), 1),
            north_m=round(float(flat @ north[k]), 1),
        )
        out.append((int(i[k]), int(j[k]), approach))
    return out
