"""Conflict detection against a store: index candidates, then the vectorised exact screen.

This is the hot path of admission. The store returns candidate volumes as
rows; :func:`deconflict.screen.screen` decides them all at once; only the
rare pairs the planar bounds cannot settle rebuild a footprint for the
pairwise exact test.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np
import shapely

from deconflict.altitude import w84_interval
from deconflict.conflicts import (
    SeparationPolicy,
    conflict_kind,
    footprint_distance_m,
)
from deconflict.geometry import Footprint, GeometryLimits, circle, corridor, footprint_from_geojson
from deconflict.model import ConflictKind, Notice, NoticeKind, Overlap
from deconflict.overlap import overlap_shapes, project, project_one
from deconflict.screen import Candidates, overlap_extents, pack_volume, screen
from deconflict.sphere import EARTH_RADIUS_M, lonlat_to_unit
from deconflict.store.protocols import Transaction
from deconflict.store.records import Extent, VolumeRow

__all__ = [
    "conflicts_in_store",
    "extents",
    "footprint_of_core",
    "volume_rows",
]

_LOOSE = GeometryLimits(
    max_vertices=10**9,
    max_area_km2=1e12,
    max_movement_slices=10**9,
    max_corridor_half_width_m=1e9,
)


def extents(notice: Notice, policy: SeparationPolicy, pad: bool) -> list[Extent]:
    """Conservative 4D boxes of a notice's volumes, padded by the widest buffers if asked."""
    lateral = policy.widest_lateral_m if pad else 0.0
    vertical = max(policy.airspace.vertical_m, policy.protection.vertical_m) if pad else 0.0
    margin = dt.timedelta(
        seconds=max(policy.airspace.time_s, policy.protection.time_s) if pad else 0.0
    )
    out = []
    for volume in notice.volumes:
        lo, hi = w84_interval(volume.altitude, policy.datum)
        end = volume.time.end
        out.append(
            Extent(
                box=volume.footprint.bbox.padded(lateral) if pad else volume.footprint.bbox,
                alt_lo=lo - vertical,
                alt_hi=hi + vertical,
                start=volume.time.start - margin,
                end=None if end is None else end + margin,
            )
        )
    return out


def volume_rows(notice: Notice, policy: SeparationPolicy) -> list[VolumeRow]:
    """What the store indexes for a notice in force."""
    boxes = extents(notice, policy, pad=False)
    return [
        VolumeRow(i, box, pack_volume(volume))
        for i, (volume, box) in enumerate(zip(notice.volumes, boxes, strict=True))
    ]


def footprint_of_core(core: Any, radius: float) -> Footprint:
    """Rebuild a stored footprint from its core geometry and radius (the rare exact path)."""
    kind = shapely.get_type_id(core)
    if kind == 0:  # Point
        return circle(core.x, core.y, radius * EARTH_RADIUS_M, _LOOSE)
    if kind == 1:  # LineString
        a, b = lonlat_to_unit(*np.asarray(core.coords).T)
        return corridor(a, b, radius * EARTH_RADIUS_M)
    return footprint_from_geojson(shapely.geometry.mapping(core), _LOOSE)


def _screened(
    tx: Transaction, notice: Notice, policy: SeparationPolicy
) -> Iterator[tuple[ConflictKind, list[tuple[Any, ...]], Candidates, int, np.ndarray]]:
    """For each conflict kind and each volume of ``notice``: candidates and which conflict."""
    rows = [
        r
        for r in tx.notices.candidate_volumes(extents(notice, policy, pad=True), notice.party)
        if r[1] != notice.id
    ]
    groups: dict[ConflictKind, list[int]] = defaultdict(list)
    for k, row in enumerate(rows):
        kind = conflict_kind(notice.kind, NoticeKind(row[4]))
        if kind is not None:
            groups[kind].append(k)
    for kind, members in groups.items():
        chosen = [rows[k] for k in members]
        candidates = Candidates.from_packed([r[5] for r in chosen])

        def exact(k: int, c: Candidates = candidates) -> Footprint:
            return footprint_of_core(c.cores[k], float(c.radius[k]))

        for i, volume in enumerate(notice.volumes):
            hits = screen(volume, candidates, policy.buffers(kind), policy.datum, exact)
            yield kind, chosen, candidates, i, np.flatnonzero(hits)


def conflicts_in_store(
    tx: Transaction, notice: Notice, policy: SeparationPolicy
) -> dict[str, tuple[ConflictKind, list[Overlap]]]:
    """Other notices in conflict with ``notice``, each pair's overlap seen from its side.

    Overlap shapes are cut for all pairs of a volume in one vectorised call, from
    the candidates' stored cores, so no other notice needs to be parsed.
    """
    found: dict[str, tuple[ConflictKind, list[Overlap]]] = {}
    for kind, chosen, candidates, i, hits in _screened(tx, notice, policy):
        if not len(hits):
            continue
        volume = notice.volumes[i]
        fp = volume.footprint
        buffers = policy.buffers(kind)
        _, planes = project(candidates.cores[hits], fp.center, len(hits))
        radii = candidates.radius[hits]
        shapes, shares = overlap_shapes(fp, planes, radii, buffers.lateral_m)
        _, (q_plane,) = project_one(fp, fp.center)
        gaps = shapely.distance(q_plane, planes) - fp.radius - radii
        mine = np.zeros(len(hits), dtype=np.int64)
        extents = overlap_extents(
            Candidates.of_volumes([volume]),
            mine,
            candidates,
            hits,
            buffers.vertical_m,
            buffers.time_s,
            policy.datum,
        )
        shares = shares * extents.time_share(candidates, hits, buffers.time_s)
        for n, (k, share) in enumerate(zip(hits.tolist(), shares.tolist(), strict=True)):
            distance = 0.0
            if gaps[n] > 0:  # apart, within the buffer: measure exactly on the sphere
                other = footprint_of_core(candidates.cores[k], float(candidates.radius[k]))
                distance = round(footprint_distance_m(fp, other), 3)
            altitude, time = extents.altitude(n), extents.time(n)
            overlap = Overlap(i, int(chosen[k][2]), shapes[n], distance, altitude, time, share)
            found.setdefault(chosen[k][1], (kind, []))[1].append(overlap)
    return found
