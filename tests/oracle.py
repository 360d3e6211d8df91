"""A brute-force oracle for 4D conflicts, independent of the engine's algorithms.

It shares only the specification with the engine:

- containment by the winding number of azimuths seen from the point (exact
  for great-circle edges), where the engine uses a gnomonic plane and shapely;
- distance as the minimum haversine distance between densely sampled
  boundaries, where the engine projects points onto arcs.

Sampling makes the oracle's distance an upper bound; each answer comes with a
lower bound, so tests assert only outside the band where sampling could err.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

R = 6_371_008.8


@dataclass(frozen=True)
class OPolygon:
    rings: list[list[tuple[float, float]]]  # closed lon/lat rings; first is the exterior


@dataclass(frozen=True)
class OCircle:
    lon: float
    lat: float
    radius_m: float


Shape = OPolygon | OCircle


def haversine(lon1, lat1, lon2, lat2):  # type: ignore[no-untyped-def]
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlam = np.radians(lon2 - lon1)
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    return 2 * R * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _azimuth(lon1, lat1, lon2, lat2):  # type: ignore[no-untyped-def]
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlam = np.radians(lon2 - lon1)
    y = np.sin(dlam) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dlam)
    return np.arctan2(y, x)


def inside_ring(lon: np.ndarray, lat: np.ndarray, ring: list[tuple[float, float]]) -> np.ndarray:
    """Winding test: the azimuths to the vertices turn a full circle around an inside point."""
    vl = np.array([p[0] for p in ring])
    vp = np.array([p[1] for p in ring])
    az = _azimuth(lon[:, None], lat[:, None], vl[None, :], vp[None, :])
    turn = np.diff(az, axis=1)
    turn = (turn + np.pi) % (2 * np.pi) - np.pi
    return np.abs(turn.sum(axis=1)) > np.pi


def inside(shape: Shape, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    if isinstance(shape, OCircle):
        return haversine(shape.lon, shape.lat, lon, lat) <= shape.radius_m
    result = inside_ring(lon, lat, shape.rings[0])
    for hole in shape.rings[1:]:
        result &= ~inside_ring(lon, lat, hole)
    return result


def _interpolate(p: tuple[float, float], q: tuple[float, float], n: int) -> np.ndarray:
    """n points from p (included) towards q (excluded) along the great circle."""
    return along(p, q, np.arange(n) / n)


def along(p: tuple[float, float], q: tuple[float, float], f: np.ndarray) -> np.ndarray:
    """Points at fractions f of the great-circle arc from p to q."""
    lam1, phi1, lam2, phi2 = map(math.radians, (*p, *q))
    d = 2 * math.asin(
        math.sqrt(
            math.sin((phi2 - phi1) / 2) ** 2
            + math.cos(phi1) * math.cos(phi2) * math.sin((lam2 - lam1) / 2) ** 2
        )
    )
    if d == 0:
        return np.tile([p[0], p[1]], (len(f), 1))
    a = np.sin((1 - f) * d) / math.sin(d)
    b = np.sin(f * d) / math.sin(d)
    x = a * math.cos(phi1) * math.cos(lam1) + b * math.cos(phi2) * math.cos(lam2)
    y = a * math.cos(phi1) * math.sin(lam1) + b * math.cos(phi2) * math.sin(lam2)
    z = a * math.sin(phi1) + b * math.sin(phi2)
    return np.column_stack(
        [np.degrees(np.arctan2(y, x)), np.degrees(np.arctan2(z, np.hypot(x, y)))]
    )


def boundary(shape: OPolygon, spacing_m: float) -> tuple[np.ndarray, float]:
    """Samples along every ring, and the largest gap between consecutive samples."""
    pieces = []
    worst = 0.0
    for ring in shape.rings:
        for p, q in itertools.pairwise(ring):
            length = float(haversine(p[0], p[1], q[0], q[1]))
            n = max(1, math.ceil(length / spacing_m))
            pieces.append(_interpolate(p, q, n))
            worst = max(worst, length / n)
    return np.concatenate(pieces), worst


def distance_bounds(a: Shape, b: Shape, samples: int = 160) -> tuple[float, float]:
    """(lower, upper) bounds on the distance in metres between two shapes."""
    if isinstance(a, OCircle) and isinstance(b, OCircle):
        d = float(haversine(a.lon, a.lat, b.lon, b.lat)) - a.radius_m - b.radius_m
        return max(0.0, d), max(0.0, d)
    if isinstance(a, OCircle):
        a, b = b, a
    assert isinstance(a, OPolygon)
    perimeter = sum(
        float(haversine(p[0], p[1], q[0], q[1]))
        for ring in a.rings
        for p, q in itertools.pairwise(ring)
    )
    pts_a, gap_a = boundary(a, max(perimeter / samples, 1.0))
    if isinstance(b, OCircle):
        if inside(a, np.array([b.lon]), np.array([b.lat]))[0]:
            return 0.0, 0.0
        d = float(haversine(b.lon, b.lat, pts_a[:, 0], pts_a[:, 1]).min()) - b.radius_m
        return max(0.0, d - gap_a / 2), max(0.0, d)
    perimeter_b = sum(
        float(haversine(p[0], p[1], q[0], q[1]))
        for ring in b.rings
        for p, q in itertools.pairwise(ring)
    )
    pts_b, gap_b = boundary(b, max(perimeter_b / samples, 1.0))
    if inside(b, pts_a[:, 0], pts_a[:, 1]).any() or inside(a, pts_b[:, 0], pts_b[:, 1]).any():
        return 0.0, 0.0
    d = float(
        haversine(pts_a[:, None, 0], pts_a[:, None, 1], pts_b[None, :, 0], pts_b[None, :, 1]).min()
    )
    return max(0.0, d - gap_a / 2 - gap_b / 2), d


def position(
    waypoints: list[tuple[float, float]], seconds: list[float], t: float
) -> tuple[float, float]:
    """Where a movement is at time t (seconds), at constant speed along each leg."""
    for i in range(len(seconds) - 1):
        if seconds[i] <= t <= seconds[i + 1]:
            f = (t - seconds[i]) / (seconds[i + 1] - seconds[i])
            point = along(waypoints[i], waypoints[i + 1], np.array([f]))[0]
            return float(point[0]), float(point[1])
    raise ValueError("time outside the route")
