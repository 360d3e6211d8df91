"""The one exact conflict test, for one pair of volumes or millions at once.

Every caller decides with :func:`screen_pairs`: admission and identification
(one volume against the candidates a store returns, :func:`screen`), a whole
theater (:mod:`deconflict.theater`), incidents and the F3548 facade
(:func:`volumes_meet`). Volumes are held as columns (:class:`Candidates`).
Time and altitude are decided with array arithmetic. Footprints are decided in
a gnomonic plane about each pair, where every great-circle edge is a straight
line, so intersection there is intersection on the sphere; shapely then
measures all planar distances in one call.

Gnomonic distances never understate spherical ones, and overstate them by at
most ``1 / cos²θ`` within θ of the plane's centre. So a candidate is:

- surely in conflict when its planar distance is within reach;
- surely clear when even the shrunk planar distance is beyond reach plus the
  tolerance;
- otherwise (a thin band, rarely hit) decided by the exact spherical test.

The result equals the definition in :mod:`deconflict.conflicts` (time gap,
vertical gap, spherical distance) for every pair, which the property tests check
against it and against a brute-force oracle.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from deconflict.altitude import DatumMargins
from deconflict.conflicts import footprint_distance_m
from deconflict.geometry import TOLERANCE_M, Footprint
from deconflict.model import AltitudeReference, Buffers, Volume
from deconflict.overlap import MIN_DEPTH, project_each
from deconflict.sphere import EARTH_RADIUS_M

__all__ = [
    "REFERENCE_CODES",
    "SHAPE_CODES",
    "Candidates",
    "Extents",
    "overlap_extents",
    "pack_volume",
    "screen",
    "screen_pairs",
    "to_micros",
    "volumes_conflict",
    "volumes_meet",
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

    @classmethod
    def of_volumes(cls, volumes: Sequence[Volume]) -> Candidates:
        """From parsed volumes, as a bulk check holds them."""
        columns = [_band_columns(v) for v in volumes]
        return cls(
            np.array([v.footprint.core for v in volumes], dtype=object),
            np.array([v.footprint.radius for v in volumes], dtype=np.float64),
            np.array([c["ref"] for c in columns], dtype=np.int8),
            np.array([c["lower"] for c in columns], dtype=np.float64),
            np.array([c["upper"] for c in columns], dtype=np.float64),
            np.array([c["start"] for c in columns], dtype=np.int64),
            np.array([c["end"] for c in columns], dtype=np.int64),
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


@dataclass(frozen=True)
class Extents:
    """Altitude and time of each pair's overlap, as columns (see :func:`overlap_extents`)."""

    lower: npt.NDArray[np.float64]  # metres; -inf is SFC, +inf is UNL
    upper: npt.NDArray[np.float64]
    reference: list[str]  # a's own reference, or W84 across datums
    start: npt.NDArray[np.int64]  # microseconds since 1970
    end: npt.NDArray[np.int64]  # forever where the overlap has no end

    def altitude(self, k: int) -> tuple[float, float, str]:
        return float(self.lower[k]), float(self.upper[k]), self.reference[k]

    def time(self, k: int) -> tuple[dt.datetime, dt.datetime | None]:
        end = int(self.end[k])
        return (
            _UNIX + dt.timedelta(microseconds=int(self.start[k])),
            None if end == _FOREVER else _UNIX + dt.timedelta(microseconds=end),
        )

    def time_share(
        self, b: Candidates, ib: npt.NDArray[np.int64], time_s: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """The part of each ``b`` window, widened by the time buffer, that the overlap spans."""
        margin_s = np.asarray(time_s, dtype=np.float64)
        start, end = b.start[ib], b.end[ib]
        whole = (end - start) / 1e6 + 2 * margin_s
        span = (self.end - self.start) / 1e6
        open_ = (self.end == _FOREVER) | (end == _FOREVER) | (whole <= 0)
        share: npt.NDArray[np.float64] = np.where(
            open_, 1.0, np.minimum(1.0, span / np.where(open_, 1.0, whole))
        )
        return share


def overlap_extents(
    a: Candidates,
    ia: npt.NDArray[np.int64],
    b: Candidates,
    ib: npt.NDArray[np.int64],
    vertical_m: npt.ArrayLike,
    time_s: npt.ArrayLike,
    datum: DatumMargins,
) -> Extents:
    """Altitude and time of ``a[ia[k]]``'s own volume within the buffers of ``b[ib[k]]``.

    Like the footprint, they never leave a's volume, so they never show b's edges
    beyond it. Bands of one reference are shown in it; across references both are
    widened into W84, as the test compared them.
    """
    ref_a, ref_b = a.ref[ia], b.ref[ib]
    same = ref_a == ref_b
    lo_a, hi_a = _intervals(ref_a, a.lower[ia], a.upper[ia], same, datum)
    lo_b, hi_b = _intervals(ref_b, b.lower[ib], b.upper[ib], same, datum)
    v = np.asarray(vertical_m, dtype=np.float64)
    margin = np.round(np.asarray(time_s, dtype=np.float64) * 1e6).astype(np.int64)
    b_end = b.end[ib]
    with np.errstate(over="ignore"):
        widened_end = np.where(b_end == _FOREVER, _FOREVER, b_end + margin)
    return Extents(
        np.maximum(lo_a, lo_b - v),
        np.minimum(hi_a, hi_b + v),
        [
            _REFERENCES[r].value if s else "W84"
            for r, s in zip(ref_a.tolist(), same.tolist(), strict=True)
        ],
        np.maximum(a.start[ia], b.start[ib] - margin),
        np.minimum(a.end[ia], widened_end),
    )


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

    :func:`screen_pairs` with ``query`` on one side of every pair. ``exact(i)``
    returns candidate ``i``'s footprint for the rare pairs the planar bounds
    cannot settle.
    """
    n = len(candidates)
    one = Candidates.of_volumes([query])
    fp = query.footprint
    return screen_pairs(
        one,
        fp.center[None, :],
        np.zeros(n, dtype=np.int64),
        candidates,
        np.arange(n),
        buffers.lateral_m,
        buffers.vertical_m,
        buffers.time_s,
        datum,
        lambda k: footprint_distance_m(fp, exact(k)),
    )


def volumes_meet(
    query: Volume, others: Sequence[Volume], buffers: Buffers, datum: DatumMargins
) -> npt.NDArray[np.bool_]:
    """Which of ``others`` conflict with ``query`` under ``buffers``, all parsed already."""
    if not others:
        return np.zeros(0, dtype=bool)
    return screen(
        query, Candidates.of_volumes(others), buffers, datum, lambda k: others[k].footprint
    )


def volumes_conflict(a: Volume, b: Volume, buffers: Buffers, datum: DatumMargins) -> bool:
    """The exact 4D test for one pair of volumes."""
    return bool(volumes_meet(a, [b], buffers, datum)[0])


def screen_pairs(
    a: Candidates,
    a_centers: npt.NDArray[np.float64],
    ia: npt.NDArray[np.int64],
    b: Candidates,
    ib: npt.NDArray[np.int64],
    lateral_m: npt.ArrayLike,
    vertical_m: npt.ArrayLike,
    time_s: npt.ArrayLike,
    datum: DatumMargins,
    exact: Callable[[int], float],
) -> npt.NDArray[np.bool_]:
    """The exact 4D test for many pairs at once: volume ``a[ia[k]]`` against ``b[ib[k]]``.

    Buffers are scalars or one per pair. ``a_centers[i]`` is the centre of
    ``a``'s volume ``i``; each pair is projected about its ``a`` side's centre.
    ``exact(k)`` is the spherical distance in metres between pair ``k``'s
    footprints, asked only for the rare pairs the planar bounds cannot settle.
    """
    m = len(ia)
    lateral = np.broadcast_to(np.asarray(lateral_m, dtype=np.float64), (m,))
    vertical = np.broadcast_to(np.asarray(vertical_m, dtype=np.float64), (m,))
    slack_us = np.round(np.broadcast_to(np.asarray(time_s, dtype=np.float64), (m,)) * 1e6)
    # max(starts) - min(ends) < T; an open end is "forever", so the gap is hugely negative.
    starts = np.maximum(a.start[ia], b.start[ib])
    ends = np.minimum(a.end[ia], b.end[ib])
    alive = starts - ends < slack_us.astype(np.int64)
    ref_a, ref_b = a.ref[ia], b.ref[ib]
    same = ref_a == ref_b
    lo_a, hi_a = _intervals(ref_a, a.lower[ia], a.upper[ia], same, datum)
    lo_b, hi_b = _intervals(ref_b, b.lower[ib], b.upper[ib], same, datum)
    with np.errstate(invalid="ignore"):
        gap = np.maximum(lo_a, lo_b) - np.minimum(hi_a, hi_b)
    alive &= ~(gap > vertical)
    result = np.zeros(m, dtype=bool)
    live = np.flatnonzero(alive)
    if not len(live):
        return result
    if len(a) == 1:  # one volume against many: admission's case, kept cheap
        mine, inverse = np.zeros(1, dtype=np.int64), np.zeros(len(live), dtype=np.int64)
    else:
        mine, inverse = np.unique(ia[live], return_inverse=True)
    # One volume against many (admission) projects everything about one centre.
    centers = a_centers[mine[0]] if len(mine) == 1 else a_centers[ia[live]]
    my_depth, my_planes = project_each(a.cores[mine], a_centers[mine])
    q_depth, q_planes = my_depth[inverse], my_planes[inverse]
    depth, planes = project_each(b.cores[ib[live]], centers)
    usable = (depth > MIN_DEPTH) & (q_depth > MIN_DEPTH)
    planar = np.full(len(live), np.inf)
    if usable.any():
        planar[usable] = shapely.distance(q_planes[usable], planes[usable])
    radius, q_radius = b.radius[ib[live]], a.radius[ia[live]]
    reach = lateral[live] / EARTH_RADIUS_M + q_radius + radius
    slack = TOLERANCE_M / EARTH_RADIUS_M
    theta = np.maximum(
        np.arccos(np.clip(depth, -1, 1)) + radius,
        np.arccos(np.clip(q_depth, -1, 1)) + q_radius,
    )
    sure = usable & (planar <= reach)
    clear = usable & (planar * np.cos(np.minimum(theta, math.pi / 2)) ** 2 > reach + slack)
    result[live[sure]] = True
    for k in np.flatnonzero(~sure & ~clear).tolist():
        pair = int(live[k])
        result[pair] = exact(pair) <= lateral[pair] + TOLERANCE_M
    return result
