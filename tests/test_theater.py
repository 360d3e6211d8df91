"""The bulk theater check finds exactly the pairs the definition finds, pair by pair.

A few thousand random operations and protected places (polygons, circles, some
across the antimeridian at 65°N, some with several volumes, mixed datums, open
windows) are checked at once by :func:`deconflict.theater.detect_all`. Every pair
of volumes is then decided again from the definition, one pair at a time: time
gap, vertical gap across datums, and the spherical distance between footprints
(``footprint_distance_m``), with a pair's conflict kind choosing its buffers. The
two sets must be equal: the self-join's buckets, boxes and planar bounds may
drop nothing and add nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from deconflict.accounts import hash_token
from deconflict.altitude import vertical_gap
from deconflict.conflicts import SeparationPolicy, conflict_kind, footprint_distance_m
from deconflict.engine import conflicts_in_store, volume_rows
from deconflict.geometry import TOLERANCE_M, circle, footprint_from_geojson
from deconflict.model import (
    AltitudeBand,
    AltitudeReference,
    Buffers,
    Notice,
    NoticeKind,
    NoticeState,
    Party,
    Role,
    TimeWindow,
    Volume,
)
from deconflict.sphere import EARTH_RADIUS_M, angle
from deconflict.store import NoticeRecord, open_store
from deconflict.theater import detect_all

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
POLICIES = {
    "zero": SeparationPolicy(protection=Buffers()),
    "buffers": SeparationPolicy(
        airspace=Buffers(1_000.0, 150.0, 600.0), protection=Buffers(5_556.0, 152.4, 0.0)
    ),
}


def _polygon(rng: np.random.Generator, lon: float, lat: float, radius_m: float) -> object:
    sides = int(rng.integers(3, 12))
    step = 2 * math.pi / sides  # a star about the centre, with jitter: never self-crossing
    az = np.arange(sides) * step + rng.uniform(0, 0.4 * step, sides)
    r = radius_m * rng.uniform(0.5, 1.0, sides) / EARTH_RADIUS_M
    dlat = np.degrees(r * np.cos(az))
    dlon = np.degrees(r * np.sin(az)) / math.cos(math.radians(lat))
    ring = [[float(lon + x), float(lat + y)] for x, y in zip(dlon, dlat, strict=True)]
    ring = [[(x + 180.0) % 360.0 - 180.0, y] for x, y in ring]
    return footprint_from_geojson({"type": "Polygon", "coordinates": [[*ring, ring[0]]]})


def _volume(rng: np.random.Generator, near_antimeridian: bool) -> Volume:
    if near_antimeridian:
        lon, lat = rng.uniform(178.5, 181.5), rng.uniform(64.0, 66.0)
    else:
        lon, lat = rng.uniform(30.0, 33.0), rng.uniform(33.0, 35.0)
    lon = (lon + 180.0) % 360.0 - 180.0
    radius = float(rng.uniform(2_000.0, 30_000.0))
    footprint = (
        circle(float(lon), float(lat), radius)
        if rng.random() < 0.4
        else _polygon(rng, float(lon), float(lat), radius)
    )
    if rng.random() < 0.2:
        flight_level = float(rng.integers(0, 300))
        band = AltitudeBand(flight_level, flight_level + 50, AltitudeReference.FL)
    elif rng.random() < 0.2:
        band = AltitudeBand(None, float(rng.uniform(50, 1_500)), AltitudeReference.AGL)
    else:
        lower = float(rng.uniform(0, 6_000))
        band = AltitudeBand(lower, lower + float(rng.uniform(300, 3_000)), AltitudeReference.W84)
    start = T0 + dt.timedelta(minutes=int(rng.integers(0, 3 * 24 * 60)))
    end = None if rng.random() < 0.05 else start + dt.timedelta(minutes=int(rng.integers(1, 360)))
    return Volume(footprint, band, TimeWindow(start, end))


def _theater(seed: int, count: int) -> list[Notice]:
    rng = np.random.default_rng(seed)
    notices = []
    for k in range(count):
        kind = NoticeKind.PROTECTED if rng.random() < 0.15 else NoticeKind.OPERATION
        far = bool(rng.random() < 0.3)
        volumes = tuple(_volume(rng, far) for _ in range(int(rng.integers(1, 4))))
        state = NoticeState.CANCELLED if rng.random() < 0.03 else NoticeState.PLANNED
        party = f"p{int(rng.integers(0, 12))}"
        notices.append(Notice(f"n{k}", party, kind, volumes, state=state))
    return notices


def _defined(a: Volume, b: Volume, buffers: Buffers, policy: SeparationPolicy) -> bool:
    ends = [e for e in (a.time.end, b.time.end) if e is not None]
    if ends and (max(a.time.start, b.time.start) - min(ends)).total_seconds() >= buffers.time_s:
        return False
    if vertical_gap(a.altitude, b.altitude, policy.datum) > buffers.vertical_m:
        return False
    reach = buffers.lateral_m + TOLERANCE_M
    # Caps enclose the footprints: beyond them, surely clear (this only saves time).
    fa, fb = a.footprint, b.footprint
    if (float(angle(fa.center, fb.center)) - fa.cap - fb.cap) * EARTH_RADIUS_M > reach:
        return False
    return footprint_distance_m(fa, fb) <= reach


def _pairs(a: Notice, b: Notice, policy: SeparationPolicy) -> set[tuple[int, int]]:
    """The volume pairs in conflict between two notices, by the definition."""
    kind = conflict_kind(a.kind, b.kind)
    if a.party == b.party or kind is None or not (a.in_force and b.in_force):
        return set()
    buffers = policy.buffers(kind)
    return {
        (i, j)
        for i, va in enumerate(a.volumes)
        for j, vb in enumerate(b.volumes)
        if _defined(va, vb, buffers, policy)
    }


def _expected(notices: list[Notice], policy: SeparationPolicy) -> set[tuple[str, str, int, int]]:
    return {
        (a.id, b.id, i, j)
        for x, a in enumerate(notices)
        for b in notices[x + 1 :]
        for i, j in _pairs(a, b, policy)
    }


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
@pytest.mark.parametrize("seed", [1, 2])
def test_the_bulk_check_finds_exactly_the_defined_pairs(
    seed: int, policy: SeparationPolicy
) -> None:
    notices = _theater(seed, 1_500)
    got = {
        (c.a, c.b, o.a_volume, o.b_volume) for c in detect_all(notices, policy) for o in c.overlaps
    }
    expected = _expected(notices, policy)
    assert len(expected) > 300, "the theater should be dense enough to test something"
    assert not expected - got, f"missed {sorted(expected - got)[:5]}"
    assert not got - expected, f"spurious {sorted(got - expected)[:5]}"


def test_small_chunks_give_the_same_conflicts_in_the_same_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pairs are decided, and conflicts made, a chunk at a time; no conflict is split."""
    from deconflict import theater

    notices = _theater(3, 600)
    policy = POLICIES["buffers"]
    whole = detect_all(notices, policy)
    monkeypatch.setattr(theater, "_CHUNK", 1)  # every pair its own chunk
    chunked = detect_all(notices, policy)
    assert len(whole) > 200
    assert sum(len(c.overlaps) > 1 for c in whole) > 5, "some conflicts must span several rows"
    assert [
        (c.a, c.b, c.kind, [(o.a_volume, o.b_volume, o.distance_m) for o in c.overlaps])
        for c in chunked
    ] == [
        (c.a, c.b, c.kind, [(o.a_volume, o.b_volume, o.distance_m) for o in c.overlaps])
        for c in whole
    ]


# --- the same against a store, as admission runs it --------------------------------------


def _many_volumes(seed: int, count: int) -> list[Notice]:
    """Notices of 5 to 40 volumes each, filed against the theater."""
    rng = np.random.default_rng(seed)
    return [
        Notice(
            f"q{k}",
            f"p{int(rng.integers(0, 12))}",
            NoticeKind.OPERATION if rng.random() < 0.8 else NoticeKind.PROTECTED,
            tuple(_volume(rng, bool(rng.random() < 0.3)) for _ in range(int(rng.integers(5, 41)))),
        )
        for k in range(count)
    ]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_admission_finds_exactly_the_defined_pairs_for_notices_of_many_volumes(
    backend: str, tmp_path: Path, pg_database: Callable[..., str]
) -> None:
    policy = POLICIES["buffers"]
    stored = [n for n in _theater(4, 800) if n.in_force]
    url = str(tmp_path / "theater.db") if backend == "sqlite" else pg_database()
    store = open_store(url)
    with store.write() as tx:
        for party in sorted({n.party for n in stored} | {f"p{k}" for k in range(12)}):
            tx.parties.add(Party(party, party, Role.MEMBER), hash_token(party), T0)
        tx.notices.put_many(
            [
                (
                    NoticeRecord(n.id, n.party, n.kind.value, 1, "planned", {}, T0, T0),
                    volume_rows(n, policy),
                )
                for n in stored
            ]
        )
    checked = 0
    with store.read() as tx:
        for notice in _many_volumes(5, 12):
            got = {
                (other, o.a_volume, o.b_volume)
                for other, (_, overlaps) in conflicts_in_store(tx, notice, policy).items()
                for o in overlaps
            }
            expected = {(b.id, i, j) for b in stored for i, j in _pairs(notice, b, policy)}
            assert got == expected, (notice.id, sorted(got ^ expected)[:5])
            checked += len(expected)
    store.close()
    assert checked > 200, "the notices should meet enough of the theater to test something"
