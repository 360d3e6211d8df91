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
import numpy.typing as npt
import shapely

from deconflict.altitude import w84_interval
from deconflict.conflicts import (
    SeparationPolicy,
    conflict_kind,
    footprint_distance_m,
)
from deconflict.geometry import Footprint, GeometryLimits, circle, corridor, footprint_from_geojson
from deconflict.model import ConflictKind, Notice, NoticeKind, Overlap
from deconflict.overlap import pair_shapes, project_each
from deconflict.screen import Candidates, overlap_extents, pack_volume, screen_pairs
from deconflict.sphere import EARTH_RADIUS_M, lonlat_to_unit
from deconflict.store.protocols import Transaction
from deconflict.store.records import Extent, VolumeRow

__all__ = [
    "conflicts_in_store",
    "extents",
    "footprint_of_core",
    "volume_rows",
]

Ints = npt.NDArray[np.int64]

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
    tx: Transaction,
    notice: Notice,
    policy: SeparationPolicy,
    mine: Candidates,
    centers: npt.NDArray[np.float64],
) -> Iterator[tuple[ConflictKind, list[tuple[Any, ...]], Candidates, Ints, Ints]]:
    """For each conflict kind: the candidates, and the (volume, candidate) pairs in conflict.

    Each of the notice's volumes is tested only against the candidates its own
    extent met, all pairs in one call, so a notice of many volumes costs about
    as many pairs as it has neighbours, not volumes times neighbours.
    """
    rows, pairs = tx.notices.candidate_pairs(extents(notice, policy, pad=True), notice.party)
    groups: dict[ConflictKind, list[int]] = defaultdict(list)
    for k, r in enumerate(rows):
        kind = conflict_kind(notice.kind, NoticeKind(r[4])) if r[1] != notice.id else None
        if kind is not None:
            groups[kind].append(k)
    if not groups:
        return
    both = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    query, row = both[:, 0], both[:, 1]
    for kind, members in groups.items():
        chosen = [rows[k] for k in members]
        candidates = Candidates.from_packed([r[5] for r in chosen])
        local = np.full(len(rows), -1, dtype=np.int64)
        local[members] = np.arange(len(members))
        ours = local[row] >= 0
        ia, ib = query[ours], local[row[ours]]
        buffers = policy.buffers(kind)

        def exact(k: int, ia: Ints = ia, ib: Ints = ib, c: Candidates = candidates) -> float:
            other = footprint_of_core(c.cores[ib[k]], float(c.radius[ib[k]]))
            return footprint_distance_m(notice.volumes[int(ia[k])].footprint, other)

        hits = screen_pairs(
            mine,
            centers,
            ia,
            candidates,
            ib,
            buffers.lateral_m,
            buffers.vertical_m,
            buffers.time_s,
            policy.datum,
            exact,
        )
        yield kind, chosen, candidates, ia[hits], ib[hits]


def conflicts_in_store(
    tx: Transaction, notice: Notice, policy: SeparationPolicy
) -> dict[str, tuple[ConflictKind, list[Overlap]]]:
    """Other notices in conflict with ``notice``, each pair's overlap seen from its side.

    Overlap shapes are cut for all pairs at once, each in the plane about the
    notice's volume, from the candidates' stored cores, so no other notice needs
    to be parsed.
    """
    found: dict[str, tuple[ConflictKind, list[Overlap]]] = {}
    volumes = notice.volumes
    mine = Candidates.of_volumes(volumes)
    centers = np.array([v.footprint.center for v in volumes], dtype=np.float64)
    # One volume (the usual case): everything in one plane about its centre.
    one = len(volumes) == 1
    for kind, chosen, candidates, ia, ib in _screened(tx, notice, policy, mine, centers):
        if not len(ia):
            continue
        buffers = policy.buffers(kind)
        about = centers[0] if one else centers[ia]
        _, planes = project_each(candidates.cores[ib], about)
        _, own = project_each(mine.cores, centers[0] if one else centers)
        radii = candidates.radius[ib]
        shapes, shares = pair_shapes(
            own, mine.radius, planes, radii, buffers.lateral_m, about, mine_of=ia
        )
        gaps = shapely.distance(own[ia], planes) - mine.radius[ia] - radii
        extents_ = overlap_extents(
            mine, ia, candidates, ib, buffers.vertical_m, buffers.time_s, policy.datum
        )
        shares = shares * extents_.time_share(candidates, ib, buffers.time_s)
        columns = zip(ia.tolist(), ib.tolist(), shares.tolist(), gaps.tolist(), strict=True)
        for n, (i, k, share, gap) in enumerate(columns):
            distance = 0.0
            if gap > 0:  # apart, within the buffer: measure exactly on the sphere
                other = footprint_of_core(candidates.cores[k], float(candidates.radius[k]))
                distance = round(footprint_distance_m(volumes[i].footprint, other), 3)
            overlap = Overlap(
                i,
                int(chosen[k][2]),
                shapes[n],
                distance,
                extents_.altitude(n),
                extents_.time(n),
                share,
            )
            found.setdefault(chosen[k][1], (kind, []))[1].append(overlap)
    return found
