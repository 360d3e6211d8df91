"""A whole theater checked at once: every conflicting pair among many notices.

``deconflict check`` and the property tests use this; admission checks one notice
against a store instead (:mod:`deconflict.engine`). Both decide with the one
exact test, :func:`deconflict.screen.screen_pairs`.

Candidates come from a bulk self-join, not from one query per volume:

- volumes are put in buckets of time slot × altitude layer (every bucket each
  one's padded window and band touch), and each bucket gets an STR-tree of its
  members' bounding boxes, queried with all of their padded boxes in one call;
- a pair is kept only in its *home* bucket, the one holding the latest start and
  the highest floor of the two, so each pair is found once however many buckets
  the two share;
- array filters on time, altitude, notice, party and kind drop the rest, and the
  exact test decides the survivors, all pairs at once.

Every box, window and band is padded by the widest buffers, so the candidates
are a superset of the conflicts: the prefilter never drops a conflict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from .conflicts import SeparationPolicy, footprint_distance_m
from .geometry import TOLERANCE_M
from .model import Conflict, ConflictKind, Notice, NoticeKind, Overlap, Volume
from .overlap import MIN_DEPTH, pair_shapes, project_each
from .screen import Candidates, overlap_extents, screen_pairs, w84_bounds

__all__ = ["detect_all", "iter_conflicts"]

Ints = npt.NDArray[np.int64]
#: Pairs decided per call of the exact test: bounds the memory of a large check.
_CHUNK = 200_000
#: About this many volumes per bucket, where the windows allow.
_BUCKET = 4_000
_LAYER_M = 1_000.0


@dataclass(frozen=True)
class _Theater:
    """Every volume in force, flattened, with what the join and the test need."""

    volumes: list[Volume]
    notice: Ints  # position of each volume's notice in the input
    within: Ints  # the volume's index in its notice
    party: Ints
    operation: npt.NDArray[np.bool_]
    columns: Candidates
    centers: npt.NDArray[np.float64]

    @classmethod
    def of(cls, notices: Sequence[Notice]) -> _Theater:
        volumes: list[Volume] = []
        notice, within, party, operation = [], [], [], []
        parties: dict[str, int] = {}
        for position, n in enumerate(notices):
            if not n.in_force:
                continue
            code = parties.setdefault(n.party, len(parties))
            for i, volume in enumerate(n.volumes):
                volumes.append(volume)
                notice.append(position)
                within.append(i)
                party.append(code)
                operation.append(n.kind is NoticeKind.OPERATION)
        return cls(
            volumes,
            np.array(notice, dtype=np.int64),
            np.array(within, dtype=np.int64),
            np.array(party, dtype=np.int64),
            np.array(operation, dtype=bool),
            Candidates.of_volumes(volumes),
            np.array([v.footprint.center for v in volumes], dtype=np.float64).reshape(-1, 3),
        )


def detect_all(
    notices: Sequence[Notice],
    policy: SeparationPolicy,
    progress: Callable[[int], None] | None = None,
) -> list[Conflict]:
    """Every conflicting pair among ``notices``, each unordered pair once, in input order.

    Seen from the earlier notice of each pair. ``progress(k)`` is told as each
    ``k`` candidate pairs are decided.
    """
    return list(iter_conflicts(notices, policy, progress))


def iter_conflicts(
    notices: Sequence[Notice],
    policy: SeparationPolicy,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Conflict]:
    """:func:`detect_all` as it goes: a large theater's conflicts need not all be held.

    Pairs are decided first (two integers each); conflicts with their overlap
    shapes are then made and handed over a chunk at a time.
    """
    theater = _Theater.of(notices)
    if len(theater.volumes) < 2:
        return
    i, j = _candidate_pairs(theater, policy)
    keep = (theater.notice[i] != theater.notice[j]) & (theater.party[i] != theater.party[j])
    keep &= theater.operation[i] | theater.operation[j]  # a protected place meets no other
    i, j = i[keep], j[keep]
    airspace = theater.operation[i] & theater.operation[j]
    found_i, found_j = [i[:0]], [j[:0]]
    for lo in range(0, len(i), _CHUNK):
        ci, cj, ca = i[lo : lo + _CHUNK], j[lo : lo + _CHUNK], airspace[lo : lo + _CHUNK]
        hits = _decide(theater, ci, cj, ca, policy)
        found_i.append(ci[hits])
        found_j.append(cj[hits])
        if progress is not None:
            progress(len(ci))
    i, j = np.concatenate(found_i), np.concatenate(found_j)
    order = np.lexsort((theater.within[j], theater.within[i], theater.notice[j], theater.notice[i]))
    i, j = i[order], j[order]
    key = theater.notice[i] * len(notices) + theater.notice[j]
    starts = np.flatnonzero(np.diff(key, prepend=-1))  # where each notice pair begins
    lo = 0
    while lo < len(i):
        # Cut at a notice pair's first row, so no conflict spans two chunks.
        later = starts[starts >= lo + _CHUNK]
        hi = int(later[0]) if len(later) else len(i)
        yield from _conflicts(theater, notices, i[lo:hi], j[lo:hi], policy)
        lo = hi


def _buffer_columns(
    airspace: npt.NDArray[np.bool_], policy: SeparationPolicy
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, p = policy.airspace, policy.protection
    return (
        np.where(airspace, a.lateral_m, p.lateral_m),
        np.where(airspace, a.vertical_m, p.vertical_m),
        np.where(airspace, a.time_s, p.time_s),
    )


def _decide(
    theater: _Theater, i: Ints, j: Ints, airspace: npt.NDArray[np.bool_], policy: SeparationPolicy
) -> npt.NDArray[np.bool_]:
    lateral, vertical, time_s = _buffer_columns(airspace, policy)
    volumes = theater.volumes

    def exact(k: int) -> float:
        return footprint_distance_m(volumes[i[k]].footprint, volumes[j[k]].footprint)

    c = theater.columns
    return screen_pairs(c, theater.centers, i, c, j, lateral, vertical, time_s, policy.datum, exact)


# --- the self-join -------------------------------------------------------------------------


def _pieces(boxes: Sequence[list[tuple[float, float, float, float]]]) -> tuple[Ints, Ints, Any]:
    """Boxes that may wrap as non-wrapping rectangles: first piece and count per volume."""
    counts = np.array([len(b) for b in boxes], dtype=np.int64)
    flat = np.array([piece for b in boxes for piece in b], dtype=np.float64).reshape(-1, 4)
    rects = shapely.box(flat[:, 0], flat[:, 1], flat[:, 2], flat[:, 3])
    return np.cumsum(counts) - counts, counts, rects


def _ranges(starts: Ints, counts: Ints) -> Ints:
    """The indices ``starts[k] .. starts[k] + counts[k] - 1`` for every ``k``, concatenated."""
    total = int(counts.sum())
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    result: Ints = np.repeat(starts, counts) + offsets
    return result


def _candidate_pairs(theater: _Theater, policy: SeparationPolicy) -> tuple[Ints, Ints]:
    """Volume pairs ``i < j`` whose padded boxes, windows and bands all meet."""
    c = theater.columns
    n = len(c)
    pad_t = round(max(policy.airspace.time_s, policy.protection.time_s) * 1e6)
    pad_z = max(policy.airspace.vertical_m, policy.protection.vertical_m)
    t0 = c.start
    t1 = np.where(c.end >= np.iinfo(np.int64).max - pad_t, c.end, c.end + pad_t)
    lo, hi = w84_bounds(c, policy.datum)
    hi = hi + pad_z
    slot, layer = _grid(t0, t1, lo, hi, n)
    s0, s1 = slot(t0), slot(np.maximum(t0, t1 - 1))
    l0, l1 = layer(lo), layer(hi)
    layers = int(l1.max()) + 1
    ns, nl = s1 - s0 + 1, l1 - l0 + 1
    volume = np.repeat(np.arange(n), ns * nl)
    k = _ranges(np.zeros(n, dtype=np.int64), ns * nl)
    bucket = (s0[volume] + k // nl[volume]) * layers + l0[volume] + k % nl[volume]
    order = np.argsort(bucket, kind="stable")
    bucket, volume = bucket[order], volume[order]
    edges = np.flatnonzero(np.diff(bucket)) + 1
    pad = policy.widest_lateral_m + TOLERANCE_M
    bboxes = [v.footprint.bbox for v in theater.volumes]
    starts, counts, rects = _pieces([b.pieces() for b in bboxes])
    p_starts, p_counts, padded = _pieces([b.padded(pad).pieces() for b in bboxes])
    found_i: list[Ints] = [np.empty(0, dtype=np.int64)]
    found_j: list[Ints] = [np.empty(0, dtype=np.int64)]
    for members, home in _groups(volume, bucket, edges):
        if len(members) < 2:
            continue
        tree_pieces = _ranges(starts[members], counts[members])
        query_pieces = _ranges(p_starts[members], p_counts[members])
        tree_owner = np.repeat(members, counts[members])
        query_owner = np.repeat(members, p_counts[members])
        q, t = shapely.STRtree(rects[tree_pieces]).query(padded[query_pieces])
        i, j = query_owner[q], tree_owner[t]
        meet = (i < j) & (np.maximum(t0[i], t0[j]) < np.minimum(t1[i], t1[j]))
        meet &= np.maximum(lo[i], lo[j]) <= np.minimum(hi[i], hi[j])
        i, j = i[meet], j[meet]
        home_of = slot(np.maximum(t0[i], t0[j])) * layers + layer(np.maximum(lo[i], lo[j]))
        at_home = home_of == home
        found_i.append(i[at_home])
        found_j.append(j[at_home])
    pairs = np.unique(np.concatenate(found_i) * n + np.concatenate(found_j))
    return pairs // n, pairs % n


def _groups(volume: Ints, bucket: Ints, edges: Ints) -> Iterator[tuple[Ints, int]]:
    for members, keys in zip(np.split(volume, edges), np.split(bucket, edges), strict=True):
        yield members, int(keys[0])


def _grid(
    t0: Ints, t1: Ints, lo: np.ndarray, hi: np.ndarray, n: int
) -> tuple[Callable[[Ints], Ints], Callable[[np.ndarray], Ints]]:
    """Slot and layer functions sized so that buckets hold about ``_BUCKET`` volumes."""
    forever = np.iinfo(np.int64).max
    finite = t1[t1 < forever // 2]
    first = int(t0.min())
    last = int(finite.max()) if len(finite) else first + 1
    durations = (finite - t0[t1 < forever // 2]) if len(finite) else np.array([1])
    slots = max(1, n // _BUCKET)
    width = max(int(np.median(durations)), (last - first) // slots + 1, 1)
    count = (last - first) // width + 1
    floors = lo[np.isfinite(lo)]
    base = float(floors.min()) if len(floors) else 0.0
    tops = hi[np.isfinite(hi)]
    layers = max(1, min(64, math.ceil((float(tops.max()) - base) / _LAYER_M))) if len(tops) else 1

    def slot(t: Ints) -> Ints:
        result: Ints = np.clip((t - first) // width, 0, count - 1).astype(np.int64)
        return result

    def layer(z: np.ndarray) -> Ints:
        with np.errstate(invalid="ignore"):
            index = np.floor((np.nan_to_num(z, posinf=1e12, neginf=-1e12) - base) / _LAYER_M)
        result: Ints = np.clip(index, 0, layers - 1).astype(np.int64)
        return result

    return slot, layer


# --- the conflicts -------------------------------------------------------------------------


def _conflicts(
    theater: _Theater, notices: Sequence[Notice], i: Ints, j: Ints, policy: SeparationPolicy
) -> Iterator[Conflict]:
    """The found pairs as conflicts, overlap shapes cut for all pairs at once."""
    if not len(i):
        return
    airspace = theater.operation[i] & theater.operation[j]
    lateral, vertical, time_s = _buffer_columns(airspace, policy)
    shapes, distances = _shapes(theater, i, j, lateral)
    c = theater.columns
    extents = overlap_extents(c, i, c, j, vertical, time_s, policy.datum)
    key = theater.notice[i] * len(notices) + theater.notice[j]
    edges = np.flatnonzero(np.diff(key)) + 1
    for rows in np.split(np.arange(len(i)), edges):
        first = int(rows[0])
        a, b = notices[int(theater.notice[i[first]])], notices[int(theater.notice[j[first]])]
        kind = ConflictKind.AIRSPACE if airspace[first] else ConflictKind.PROTECTION
        overlaps = tuple(
            Overlap(
                int(theater.within[i[r]]),
                int(theater.within[j[r]]),
                shapes[r],
                distances[r],
                extents.altitude(r),
                extents.time(r),
            )
            for r in rows.tolist()
        )
        yield Conflict(a.id, a.version, b.id, b.version, kind, overlaps)


def _shapes(
    theater: _Theater, i: Ints, j: Ints, lateral: np.ndarray
) -> tuple[list[dict[str, object] | None], list[float]]:
    """Each pair's overlap, drawn in a plane about the pair, and its distance in metres."""
    c = theater.columns
    middle = theater.centers[i] + theater.centers[j]
    norm = np.linalg.norm(middle, axis=1, keepdims=True)
    centers = middle / np.where(norm < 1e-9, 1.0, norm)
    depth_a, mine = project_each(c.cores[i], centers)
    depth_b, theirs = project_each(c.cores[j], centers)
    drawable = (norm[:, 0] >= 1e-9) & (depth_a > MIN_DEPTH) & (depth_b > MIN_DEPTH)
    shapes: list[dict[str, object] | None] = [None] * len(i)
    if drawable.any():
        drawn, _ = pair_shapes(
            mine[drawable],
            c.radius[i[drawable]],
            theirs[drawable],
            c.radius[j[drawable]],
            lateral[drawable],
            centers[drawable],
        )
        for k, shape in zip(np.flatnonzero(drawable).tolist(), drawn, strict=True):
            shapes[k] = shape
    gaps = np.full(len(i), np.inf)
    gaps[drawable] = (
        shapely.distance(mine[drawable], theirs[drawable])
        - c.radius[i[drawable]]
        - c.radius[j[drawable]]
    )
    distances = []
    for k, gap in enumerate(gaps.tolist()):
        if gap > 0:  # apart, within the buffer: measured exactly on the sphere
            a, b = theater.volumes[i[k]].footprint, theater.volumes[j[k]].footprint
            distances.append(round(footprint_distance_m(a, b), 3))
        else:
            distances.append(0.0)
    return shapes, distances
