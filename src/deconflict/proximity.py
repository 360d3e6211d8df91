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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from deconflict.sphere import EARTH_RADIUS_M, lonlat_to_unit

__all__ = [
    "DRONE",
    "MANNED",
    "Aircraft",
    "Approach",
    "Motion",
    "Thresholds",
    "approaches",
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


@dataclass(frozen=True)
class Motion:
    """Many aircraft at once, as arrays of equal length (the fast path for a whole fleet)."""

    lon: Array
    lat: Array
    alt: Array
    east: Array
    north: Array
    up: Array

    @classmethod
    def of(cls, aircraft: Sequence[Aircraft]) -> Motion:
        rows = np.array(
            [(a.lon, a.lat, a.alt, a.east, a.north, a.up) for a in aircraft], dtype=np.float64
        ).reshape(-1, 6)
        return cls(*(np.ascontiguousarray(rows[:, k]) for k in range(6)))

    def __len__(self) -> int:
        return len(self.lon)


def relative(
    m: Motion, i: npt.NDArray[np.int64], j: npt.NDArray[np.int64]
) -> tuple[Array, Array, Array, Array, Array, Array]:
    """For pairs ``(i, j)``: relative horizontal position and velocity, altitude and climb,
    and the first aircraft's east and north unit vectors.

    Horizontal parts are taken in the plane square to the pair's mean vertical;
    altitudes are compared directly.
    """
    ei, ni, ui = _frames(m.lon[i], m.lat[i])
    ej, nj, uj = _frames(m.lon[j], m.lat[j])
    mid = ui + uj
    mid /= np.linalg.norm(mid, axis=-1, keepdims=True)
    r = (EARTH_RADIUS_M + m.alt[j])[:, None] * uj - (EARTH_RADIUS_M + m.alt[i])[:, None] * ui
    v = (
        m.east[j, None] * ej
        + m.north[j, None] * nj
        + m.up[j, None] * uj
        - m.east[i, None] * ei
        - m.north[i, None] * ni
        - m.up[i, None] * ui
    )
    rh = r - np.sum(r * mid, -1)[:, None] * mid
    vh = v - np.sum(v * mid, -1)[:, None] * mid
    return rh, vh, m.alt[j] - m.alt[i], m.up[j] - m.up[i], ei, ni


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


def _ranges(
    start: npt.NDArray[np.int64], stop: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``arange(start[k], stop[k])`` for every k, concatenated, and the k of each value."""
    size = np.maximum(stop - start, 0)
    some = np.flatnonzero(size > 0)
    start, size = start[some], size[some]
    total = int(size.sum())
    if not total:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ends = np.cumsum(size)
    step = np.ones(total, dtype=np.int64)
    step[0] = start[0]
    step[ends[:-1]] = start[1:] - (start[:-1] + size[:-1] - 1)
    return np.cumsum(step), np.repeat(some, size)


def _pairs(
    m: Motion,
    reach_m: Array,
    vertical_m: Array,
    focus: npt.NDArray[np.int64] | None,
    sift: Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], npt.NDArray[np.bool_]],
) -> npt.NDArray[np.int64]:
    """Index pairs ``i < j`` whose distance is at most ``reach_m[i] + reach_m[j]``, whose
    altitudes differ by at most ``vertical_m[i] + vertical_m[j]``, and that ``sift``
    (symmetric, cheap) keeps.

    Conservative: each aircraft gets a longitude/latitude box around its reach,
    wide enough at the most poleward latitude any partner within reach could be
    at, so two aircraft within their two reaches have overlapping boxes. A grid
    of cells as large as the largest reach (longitude, latitude) and vertical
    reach (altitude) holds the fleet, sorted by cell with altitude innermost;
    each ``focus`` aircraft (all, without it) takes everyone in the 5 × 5 × 5
    cells around its own, which holds every partner its box can meet, as 25 runs
    of the sorted fleet. The boxes, the altitudes and ``sift`` then drop most,
    and the chord distance (never longer than the arc) drops pairs beyond their
    own two reaches.
    """
    n = len(m)
    c = np.arange(n, dtype=np.int64) if focus is None else focus
    dlat = np.degrees(reach_m / EARTH_RADIUS_M)
    poleward = np.minimum(np.abs(m.lat) + dlat + float(dlat.max()), 89.999)
    dlon = np.minimum(dlat / np.cos(np.radians(poleward)), 180.0)
    # Cells: partners within reach are at most two cells away on each axis.
    cols = max(1, math.floor(360.0 / float(dlon.max())))
    row = np.floor((m.lat + 90.0) / float(dlat.max())).astype(np.int64)
    col = np.floor((m.lon + 180.0) / (360.0 / cols)).astype(np.int64) % cols
    layer = np.floor((m.alt - float(m.alt.min())) / float(vertical_m.max())).astype(np.int64)
    layers = int(layer.max()) + 5  # room for two layers either side
    key = (row * cols + col) * layers + layer + 2
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    dy, dx = (d.ravel() for d in np.meshgrid(np.arange(-2, 3), np.arange(-2, 3), indexing="ij"))
    base = ((row[c, None] + dy) * cols + (col[c, None] + dx) % cols) * layers
    start = np.searchsorted(ordered, (base + layer[c, None]).ravel(), "left")
    stop = np.searchsorted(ordered, (base + layer[c, None] + 4).ravel(), "right")
    found, run = _ranges(start.astype(np.int64), stop.astype(np.int64))
    i, j = c[run // len(dy)], order[found]
    gap_lon = np.abs((m.lon[j] - m.lon[i] + 180.0) % 360.0 - 180.0)
    keep = (
        (np.abs(m.lat[j] - m.lat[i]) <= dlat[i] + dlat[j])
        & (gap_lon <= dlon[i] + dlon[j])
        & (np.abs(m.alt[j] - m.alt[i]) <= vertical_m[i] + vertical_m[j])
    )
    i, j = i[keep], j[keep]
    sifted = sift(i, j)
    i, j = i[sifted], j[sifted]
    # A pair of two focus aircraft comes up twice, once from each side: keep one.
    in_focus = np.zeros(n, dtype=bool)
    in_focus[c] = True
    keep = (i != j) & (~in_focus[j] | (i < j))
    i, j = np.minimum(i[keep], j[keep]), np.maximum(i[keep], j[keep])
    if cols < 5:  # so few columns that the 5 around a cell repeat: a partner comes up twice
        pair = np.unique(i * n + j)
        i, j = pair // n, pair % n
    units = lonlat_to_unit(m.lon, m.lat)
    chord = np.linalg.norm(units[i] - units[j], axis=-1) * EARTH_RADIUS_M
    near = chord <= reach_m[i] + reach_m[j]
    return np.stack([i[near], j[near]], axis=1)


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
    return approaches(
        Motion.of(aircraft),
        thresholds,
        None if vertical_margins is None else np.asarray(vertical_margins, dtype=np.float64),
        max_speed_ms,
        None if focus is None else np.asarray(focus, dtype=np.int64),
    )


def approaches(
    m: Motion,
    thresholds: Thresholds,
    margins: Array | None = None,
    max_speed_ms: float | None = None,
    focus: npt.NDArray[np.int64] | None = None,
    group: npt.NDArray[np.int64] | None = None,
) -> list[tuple[int, int, Approach]]:
    """:func:`closest_approaches` on arrays; pairs within one ``group`` are left out."""
    if len(m) < 2 or (focus is not None and not len(focus)):
        return []
    speed = np.sqrt(m.east**2 + m.north**2 + m.up**2)
    if max_speed_ms is not None:
        speed = np.maximum(speed, max_speed_ms)
    # Two aircraft can close by at most the sum of their speeds: each reaches half
    # the threshold, its own travel in the lookahead, and slack for the difference
    # between the surface chord and the horizontal plane (under a metre at 100 km).
    reach = thresholds.horizontal_m / 2 + speed * thresholds.lookahead_s + 50.0
    margin = np.zeros(len(m)) if margins is None else margins
    ahead = thresholds.lookahead_s

    def sift(i: npt.NDArray[np.int64], j: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Pairs that can come within the vertical limit in the lookahead, of two groups.

        The altitude gap is linear in time, so its smallest size over the
        lookahead is at one end, or zero where it changes sign.
        """
        z0 = m.alt[j] - m.alt[i]
        z1 = z0 + (m.up[j] - m.up[i]) * ahead
        closest = np.where(np.sign(z0) != np.sign(z1), 0.0, np.minimum(np.abs(z0), np.abs(z1)))
        keep: npt.NDArray[np.bool_] = closest <= thresholds.vertical_m + margin[i] + margin[j]
        if group is not None:
            keep &= group[i] != group[j]
        return keep

    # Altitudes closer than the two vertical reaches: half the limit each, the
    # aircraft's own uncertainty, and its climb over the lookahead (plus a metre).
    vertical = thresholds.vertical_m / 2 + margin + np.abs(m.up) * ahead + 1.0
    pairs = _pairs(m, reach, vertical, focus, sift)
    i, j = pairs[:, 0], pairs[:, 1]
    if not len(i):
        return []
    rh, vh, z, vz, east, north = relative(m, i, j)
    lost, t_loss, t_cpa = separation_loss(rh, vh, z, vz, thresholds, margin[i] + margin[j])
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
