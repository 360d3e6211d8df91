"""Vectorised exact screening: one volume against many candidate volumes at once.

The index hands over candidates as columns (:class:`Candidates`). Time and
altitude are decided with array arithmetic. Footprints are decided in one
gnomonic plane about the query, where every great-circle edge is a straight
line, so intersection there is intersection on the sphere; shapely then
measures all planar distances in one call.

Gnomonic distances never understate spherical ones, and overstate them by at
most ``1 / cos²θ`` within θ of the plane's centre. So a candidate is:

- surely in conflict when its planar distance is within reach;
- surely clear when even the shrunk planar distance is beyond reach plus the
  tolerance;
- otherwise (a thin band, rarely hit) decided by the exact spherical test.

The result equals :func:`deconflict.conflicts.volumes_conflict` for every
candidate, which the property tests check.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from deconflict.altitude import DatumMargins
from deconflict.conflicts import footprint_distance_m
from deconflict.geometry import TOLERANCE_M, Footprint
from deconflict.model import AltitudeBand, AltitudeReference, Buffers, TimeWindow, Volume
from deconflict.overlap import project
from deconflict.sphere import EARTH_RADIUS_M

__all__ = [
    "REFERENCE_CODES",
    "SHAPE_CODES",
    "Candidates",
    "pack_volume",
    "screen",
    "to_micros",
    "w84_bounds",
]

SHAPE_CODES = {"polygon": 0, "circle": 1, "corridor": 2}
REFERENCE_CODES = {
    AltitudeReference.W84: 0,
    AltitudeReference.AMSL: 1,
    AltitudeReference.FL: 2,
    AltitudeReference.AGL: 3,
}
_AGL = REFERENCE_CODES[AltitudeReference.AGL]
_REFERENCES = {code: ref for ref, code in REFERENCE_CODES.items()}
_UNIX = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_FOREVER = int(np.iinfo(np.int64).max)
_MIN_DEPTH = 0.2  # projected points stay well inside the hemisphere


def to_micros(instant: dt.datetime | None) -> int:
    """Microseconds since 1970 as an exact integer; ``None`` (open end) is forever.

    >>> to_micros(dt.datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=dt.UTC))
    1000005
    """
    if instant is None:
        return _FOREVER
    return (instant - _UNIX) // dt.timedelta(microseconds=1)


def _band_columns(volume: Volume) -> dict[str, Any]:
    band = volume.altitude
    agl = band.reference is AltitudeReference.AGL
    return {
        "ref": REFERENCE_CODES[band.reference],
        "lower": band.lower_m if band.lower_m is not None else (0.0 if agl else -math.inf),
        "upper": band.upper_m if band.upper_m is not None else math.inf,
        "start": to_micros(volume.time.start),
        "end": to_micros(volume.time.end),
    }


#: Fixed-size header of a packed volume, followed by the WKB of its core.
_HEADER = np.dtype(
    [
        ("radius", "<f8"),
        ("lower", "<f8"),
        ("upper", "<f8"),
        ("start", "<i8"),
        ("end", "<i8"),
        ("ref", "i1"),
    ]
)


def pack_volume(volume: Volume) -> bytes:
    """What a store keeps per volume so that :class:`Candidates` can be rebuilt cheaply.

    One opaque blob: a fixed header (radius, band, window, datum) and the core's WKB.
    """
    c = _band_columns(volume)
    header = np.array(
        [(volume.footprint.radius, c["lower"], c["upper"], c["start"], c["end"], c["ref"])],
        dtype=_HEADER,
    )
    packed: bytes = header.tobytes() + shapely.to_wkb(volume.footprint.core)
    return packed


@dataclass(frozen=True)
class Candidates:
    """Candidate volumes as columns, in the order the index returned them."""

    cores: npt.NDArray[np.object_]  # shapely geometries, lon/lat
    radius: npt.NDArray[np.float64]  # radians
    ref: npt.NDArray[np.int8]
    lower: npt.NDArray[np.float64]  # metres; -inf is SFC (0 for AGL), +inf is UNL
    upper: npt.NDArray[np.float64]
    start: npt.NDArray[np.int64]  # microseconds since 1970
    end: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.radius)

    def band(self, k: int) -> AltitudeBand:
        """Candidate ``k``'s altitude band (SFC and UNL restored)."""
        lower, upper = float(self.lower[k]), float(self.upper[k])
        return AltitudeBand(
            None if math.isinf(lower) else lower,
            None if math.isinf(upper) else upper,
            _REFERENCES[int(self.ref[k])],
        )

    def window(self, k: int) -> TimeWindow:
        end = int(self.end[k])
        return TimeWindow(
            _UNIX + dt.timedelta(microseconds=int(self.start[k])),
            None if end == _FOREVER else _UNIX + dt.timedelta(microseconds=end),
        )

    @classmethod
    def from_packed(cls, blobs: list[bytes]) -> Candidates:
        """From blobs made by :func:`pack_volume`."""
        size = _HEADER.itemsize
        head = np.frombuffer(b"".join(b[:size] for b in blobs), dtype=_HEADER)
        cores = shapely.from_wkb(np.array([b[size:] for b in blobs], dtype=object))
        return cls(
            np.asarray(cores, dtype=object),
            head["radius"].astype(np.float64),
            head["ref"].astype(np.int8),
            head["lower"].astype(np.float64),
            head["upper"].astype(np.float64),
            head["start"].astype(np.int64),
            head["end"].astype(np.int64),
        )


def _intervals(
    ref: np.ndarray, lower: np.ndarray, upper: np.ndarray, same: np.ndarray, datum: DatumMargins
) -> tuple[np.ndarray, np.ndarray]:
    table = np.array([0.0, datum.geoid_m, datum.geoid_m + datum.pressure_m, datum.geoid_m])
    widen = table[ref]
    agl = ref == _AGL
    lo = np.where(agl, lower + datum.terrain_min_m - widen, lower - widen)
    hi = np.where(agl, upper + datum.terrain_max_m + widen, upper + widen)
    return np.where(same, lower, lo), np.where(same, upper, hi)


def w84_bounds(c: Candidates, datum: DatumMargins) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate's altitude band as a W84 interval that surely contains it."""
    return _intervals(c.ref, c.lower, c.upper, np.zeros(len(c), dtype=bool), datum)


def screen(
    query: Volume,
    candidates: Candidates,
    buffers: Buffers,
    datum: DatumMargins,
    exact: Callable[[int], Footprint],
) -> npt.NDArray[np.bool_]:
    """Which candidates conflict with ``query`` under ``buffers``: an exact answer.

    ``exact(i)`` returns candidate ``i``'s footprint for the rare pairs the
    planar bounds cannot settle.
    """
    n = len(candidates)
    c = candidates
    q_start, q_end = to_micros(query.time.start), to_micros(query.time.end)
    starts = np.maximum(c.start, q_start)
    ends = np.minimum(c.end, q_end)
    # max(starts) - min(ends) < T; an open end is "forever", so the gap is hugely negative.
    alive = starts - ends < round(buffers.time_s * 1_000_000)
    q = _band_columns(query)
    q_ref = np.full(n, q["ref"], dtype=np.int8)
    same = c.ref == q_ref
    lo_c, hi_c = _intervals(c.ref, c.lower, c.upper, same, datum)
    lo_q, hi_q = _intervals(q_ref, np.full(n, q["lower"]), np.full(n, q["upper"]), same, datum)
    with np.errstate(invalid="ignore"):
        gap = np.maximum(lo_c, lo_q) - np.minimum(hi_c, hi_q)
    alive &= ~(gap > buffers.vertical_m)
    result = np.zeros(n, dtype=bool)
    live = np.flatnonzero(alive)
    if not len(live):
        return result
    fp = query.footprint
    center = fp.center
    depth, planes = project(c.cores[live], center, len(live))
    q_depth_arr, q_plane_arr = project(np.array([fp.core]), center, 1)
    q_depth = float(q_depth_arr[0])
    usable = (depth > _MIN_DEPTH) & (q_depth > _MIN_DEPTH)
    planar = np.full(len(live), np.inf)
    if usable.any():
        q_plane = q_plane_arr[0]
        shapely.prepare(q_plane)
        planar[usable] = shapely.distance(q_plane, planes[usable])
    radius = c.radius[live]
    reach = buffers.lateral_m / EARTH_RADIUS_M + fp.radius + radius
    slack = TOLERANCE_M / EARTH_RADIUS_M
    theta = np.maximum(
        np.arccos(np.clip(depth, -1, 1)) + radius, math.acos(min(1.0, q_depth)) + fp.radius
    )
    sure = usable & (planar <= reach)
    clear = usable & (planar * np.cos(np.minimum(theta, math.pi / 2)) ** 2 > reach + slack)
    result[live[sure]] = True
    for k in np.flatnonzero(~sure & ~clear):
        distance = footprint_distance_m(fp, exact(int(live[k])))
        result[live[k]] = distance <= buffers.lateral_m + TOLERANCE_M
    return result
