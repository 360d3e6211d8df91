"""Conflict detection: filter with a conservative index, then decide exactly.

Two volumes conflict if and only if, with the buffers of the pair's conflict kind:

- the horizontal distance between their footprints is at most L,
- the vertical gap between their bands is at most V,
- the time gap ``max(starts) - min(ends)`` is less than T.

Buffers apply once per pair. With zero buffers this is plain intersection of
closed footprints and bands and half-open time windows.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .altitude import DatumMargins, direct_interval, vertical_gap, w84_interval
from .geometry import TOLERANCE_M, Footprint
from .index import BoxIndex
from .model import (
    AltitudeBand,
    Buffers,
    Conflict,
    ConflictKind,
    Notice,
    NoticeKind,
    Overlap,
    TimeWindow,
    Volume,
)
from .overlap import overlap_footprint
from .sphere import EARTH_RADIUS_M, angle, arcs_cross, point_arc_distance

__all__ = [
    "SeparationPolicy",
    "conflict_between",
    "conflict_kind",
    "detect_all",
    "footprint_distance_m",
    "overlap_extent",
    "time_gap_s",
    "volumes_conflict",
]

_NM = 1852.0
_FT = 0.3048


@dataclass(frozen=True)
class SeparationPolicy:
    """Separation buffers per conflict kind, and the datum margins.

    Defaults:

    - airspace (operation × operation): 0 / 0 / 0. Notified volumes are already
      reservations that include each party's own containment margins, as in
      ASTM F3548, so plain intersection is the conflict.
    - protection (operation × protected place or movement): 3 NM lateral,
      500 ft vertical, 0 s: keep aircraft well clear of a hospital or convoy.
    """

    airspace: Buffers = field(default_factory=Buffers)
    protection: Buffers = field(
        default_factory=lambda: Buffers(lateral_m=3 * _NM, vertical_m=500 * _FT, time_s=0.0)
    )
    datum: DatumMargins = field(default_factory=DatumMargins)

    def buffers(self, kind: ConflictKind) -> Buffers:
        return self.airspace if kind is ConflictKind.AIRSPACE else self.protection

    @property
    def widest_lateral_m(self) -> float:
        return max(self.airspace.lateral_m, self.protection.lateral_m)

    def overriding(
        self,
        lateral_m: float | None = None,
        vertical_m: float | None = None,
        time_s: float | None = None,
    ) -> SeparationPolicy:
        """The same policy with one buffer set for every conflict kind."""

        def patch(b: Buffers) -> Buffers:
            return Buffers(
                b.lateral_m if lateral_m is None else lateral_m,
                b.vertical_m if vertical_m is None else vertical_m,
                b.time_s if time_s is None else time_s,
            )

        return replace(self, airspace=patch(self.airspace), protection=patch(self.protection))


def conflict_kind(a: NoticeKind, b: NoticeKind) -> ConflictKind | None:
    """Operation × operation is airspace; operation × protected or movement is protection."""
    if a is NoticeKind.OPERATION and b is NoticeKind.OPERATION:
        return ConflictKind.AIRSPACE
    if NoticeKind.OPERATION in (a, b):
        return ConflictKind.PROTECTION
    return None


def _core_distance(a: Footprint, b: Footprint) -> float:
    """Angular distance between the cores (before growing by their radii)."""
    if len(a.edge_a) and len(b.edge_a) and arcs_cross(a.edge_a, a.edge_b, b.edge_a, b.edge_b).any():
        return 0.0
    if a.parts and a.covers_core(b.vertices).any():
        return 0.0
    if b.parts and b.covers_core(a.vertices).any():
        return 0.0
    best = math.inf
    if len(b.edge_a):
        best = min(best, float(point_arc_distance(a.vertices, b.edge_a, b.edge_b).min()))
    if len(a.edge_a):
        best = min(best, float(point_arc_distance(b.vertices, a.edge_a, a.edge_b).min()))
    if not len(a.edge_a) or not len(b.edge_a):
        pairwise = angle(a.vertices[:, None, :], b.vertices[None, :, :])
        best = min(best, float(pairwise.min()))
    return best


def footprint_distance_m(a: Footprint, b: Footprint) -> float:
    """Metres between two footprints on the sphere; 0 when they touch or overlap."""
    core = _core_distance(a, b) * EARTH_RADIUS_M
    return max(0.0, core - a.radius_m - b.radius_m)


def _caps_apart_m(a: Footprint, b: Footprint) -> float:
    return (float(angle(a.center, b.center)) - a.cap - b.cap) * EARTH_RADIUS_M


def time_gap_s(a: Volume, b: Volume) -> float:
    """``max(starts) - min(ends)`` in seconds; negative when the windows overlap."""
    start = max(a.time.start, b.time.start)
    ends = [e for e in (a.time.end, b.time.end) if e is not None]
    if not ends:
        return -math.inf
    return (start - min(ends)).total_seconds()


def volumes_conflict(a: Volume, b: Volume, buffers: Buffers, datum: DatumMargins) -> bool:
    """The exact 4D test for one pair of volumes."""
    if time_gap_s(a, b) >= buffers.time_s:
        return False
    if vertical_gap(a.altitude, b.altitude, datum) > buffers.vertical_m:
        return False
    reach = buffers.lateral_m + TOLERANCE_M
    if _caps_apart_m(a.footprint, b.footprint) > reach:
        return False
    return footprint_distance_m(a.footprint, b.footprint) <= reach


def overlap_extent(
    a: Volume, b_altitude: AltitudeBand, b_time: TimeWindow, buffers: Buffers, datum: DatumMargins
) -> tuple[tuple[float, float, str], tuple[dt.datetime, dt.datetime | None]]:
    """Altitude and time of a's own volume within the buffers of b's.

    Like the footprint, they never leave a's volume, so they never show b's
    edges beyond it.
    """
    if a.altitude.reference is b_altitude.reference:
        (lo_a, hi_a), (lo_b, hi_b) = direct_interval(a.altitude), direct_interval(b_altitude)
        reference = a.altitude.reference.value
    else:  # shown in W84, widened as the comparison was
        (lo_a, hi_a), (lo_b, hi_b) = (
            w84_interval(a.altitude, datum),
            w84_interval(b_altitude, datum),
        )
        reference = "W84"
    v = buffers.vertical_m
    margin = dt.timedelta(seconds=buffers.time_s)
    start = max(a.time.start, b_time.start - margin)
    ends = [e for e in (a.time.end, None if b_time.end is None else b_time.end + margin) if e]
    end: dt.datetime | None = min(ends) if ends else None
    return (max(lo_a, lo_b - v), min(hi_a, hi_b + v), reference), (start, end)


def _overlap(
    i: int, j: int, a: Volume, b: Volume, buffers: Buffers, datum: DatumMargins
) -> Overlap:
    altitude, time = overlap_extent(a, b.altitude, b.time, buffers, datum)
    return Overlap(
        a_volume=i,
        b_volume=j,
        footprint=overlap_footprint(a.footprint, b.footprint, buffers.lateral_m),
        distance_m=round(footprint_distance_m(a.footprint, b.footprint), 3),
        altitude=altitude,
        time=time,
    )


def conflict_between(a: Notice, b: Notice, policy: SeparationPolicy) -> Conflict | None:
    """The conflict between two notices, seen from ``a``, or ``None``."""
    if a.party == b.party or not (a.in_force and b.in_force):
        return None
    kind = conflict_kind(a.kind, b.kind)
    if kind is None:
        return None
    buffers = policy.buffers(kind)
    overlaps = [
        _overlap(i, j, va, vb, buffers, policy.datum)
        for i, va in enumerate(a.volumes)
        for j, vb in enumerate(b.volumes)
        if volumes_conflict(va, vb, buffers, policy.datum)
    ]
    if not overlaps:
        return None
    return Conflict(a.id, a.version, b.id, b.version, kind, tuple(overlaps))


def detect_all(notices: Sequence[Notice], policy: SeparationPolicy) -> list[Conflict]:
    """Every conflicting pair among ``notices``, each unordered pair once, in input order."""
    owners: list[int] = []
    boxes = []
    for position, notice in enumerate(notices):
        for volume in notice.volumes:
            owners.append(position)
            boxes.append(volume.footprint.bbox)
    if not boxes:
        return []
    index = BoxIndex(boxes)
    owner_of = np.asarray(owners)
    pad = policy.widest_lateral_m
    found: list[Conflict] = []
    for position, notice in enumerate(notices):
        candidates: set[int] = set()
        for volume in notice.volumes:
            hits = owner_of[index.query(volume.footprint.bbox, pad)]
            candidates.update(int(h) for h in hits if h > position)
        for other in sorted(candidates):
            conflict = conflict_between(notice, notices[other], policy)
            if conflict is not None:
                found.append(conflict)
    return found
