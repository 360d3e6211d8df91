"""What a conflict is: separation buffers per kind, and the exact distance on the sphere.

The decision itself, for one pair or millions, is :func:`deconflict.screen.screen_pairs`;
a whole theater is checked by :func:`deconflict.theater.detect_all`.

Two volumes conflict if and only if, with the buffers of the pair's conflict kind:

- the horizontal distance between their footprints is at most L,
- the vertical gap between their bands is at most V,
- the time gap ``max(starts) - min(ends)`` is less than T.

Buffers apply once per pair. With zero buffers this is plain intersection of
closed footprints and bands and half-open time windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from .altitude import DatumMargins
from .geometry import Footprint
from .model import (
    Buffers,
    ConflictKind,
    NoticeKind,
)
from .sphere import EARTH_RADIUS_M, angle, arcs_cross, point_arc_distance

__all__ = [
    "SeparationPolicy",
    "conflict_kind",
    "footprint_distance_m",
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
