"""The shared benchmark workload (DESIGN.md, "Benchmark workload"), deterministic by seed.

- 20 parties; region lon 30–40°E, lat 32–38°N, scaled by sqrt(N / 1M) about its
  centre so that density, and hence hits per query, stay constant as N grows;
- footprints: 16-gons around a centre, radius 2–25 km;
- altitude: lower uniform 0–8,000 m, thickness 500–4,000 m (W84);
- time: start uniform over 7 days, duration 1–6 h.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from deconflict.sphere import EARTH_RADIUS_M, lonlat_to_unit, unit_to_lonlat

__all__ = ["EPOCH", "Workload", "generate"]

EPOCH = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
PARTIES = 20
SIDES = 16
_REGION = (30.0, 40.0, 32.0, 38.0)
_FULL = 1_000_000


@dataclass(frozen=True)
class Workload:
    """N volumes as arrays; ``rings[i]`` is a closed 17-position lon/lat ring."""

    rings: np.ndarray  # (n, 17, 2) float64
    party: np.ndarray  # (n,) int
    alt_lo: np.ndarray  # (n,) metres
    alt_hi: np.ndarray
    start_s: np.ndarray  # (n,) seconds after EPOCH
    end_s: np.ndarray

    def __len__(self) -> int:
        return len(self.party)

    def geojson(self, i: int) -> dict[str, object]:
        return {"type": "Polygon", "coordinates": [self.rings[i].tolist()]}

    def window(self, i: int) -> tuple[dt.datetime, dt.datetime]:
        return (
            EPOCH + dt.timedelta(seconds=float(self.start_s[i])),
            EPOCH + dt.timedelta(seconds=float(self.end_s[i])),
        )


def _polygons(centres: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Closed 16-gons with vertices at the given angular distance from each centre."""
    east = np.stack([-centres[:, 1], centres[:, 0], np.zeros(len(centres))], axis=1)
    east /= np.linalg.norm(east, axis=1, keepdims=True)
    north = np.cross(centres, east)
    az = np.linspace(0.0, 2 * math.pi, SIDES, endpoint=False)
    direction = (
        np.sin(az)[None, :, None] * east[:, None, :] + np.cos(az)[None, :, None] * north[:, None, :]
    )
    a = angles[:, None, None]
    points = np.cos(a) * centres[:, None, :] + np.sin(a) * direction
    lon, lat = unit_to_lonlat(points)
    rings = np.empty((len(centres), SIDES + 1, 2))
    rings[:, :SIDES, 0], rings[:, :SIDES, 1] = lon, lat
    rings[:, SIDES] = rings[:, 0]
    return rings


def region(n_total: int) -> tuple[float, float, float, float]:
    """The region for ``n_total`` active volumes at the 1M-volume density."""
    w, e, s, n = _REGION
    k = math.sqrt(n_total / _FULL)
    cx, cy = (w + e) / 2, (s + n) / 2
    return cx - (e - w) / 2 * k, cx + (e - w) / 2 * k, cy - (n - s) / 2 * k, cy + (n - s) / 2 * k


def generate(n: int, seed: int, n_total: int | None = None) -> Workload:
    """``n`` volumes drawn from the distribution of a store holding ``n_total`` volumes."""
    rng = np.random.default_rng(seed)
    w, e, s, north = region(n_total or n)
    lon = rng.uniform(w, e, n)
    lat = rng.uniform(s, north, n)
    radius = rng.uniform(2_000.0, 25_000.0, n)
    rings = _polygons(lonlat_to_unit(lon, lat), radius / EARTH_RADIUS_M)
    alt_lo = rng.uniform(0.0, 8_000.0, n)
    alt_hi = alt_lo + rng.uniform(500.0, 4_000.0, n)
    start = rng.uniform(0.0, 7 * 86_400.0, n)
    end = start + rng.uniform(3_600.0, 6 * 3_600.0, n)
    return Workload(rings, rng.integers(0, PARTIES, n), alt_lo, alt_hi, start, end)
