"""The engine never misses a conflict: property tests against the brute-force oracle.

Each test draws pairs of notices of two parties and compares the engine's
answer (index prefilter, then exact test) with :mod:`oracle`. The engine must
report every pair the oracle proves within the buffers, and must not report a
pair the oracle proves further apart than the buffers plus the tolerance.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import oracle
from deconflict import errors
from deconflict.conflicts import SeparationPolicy
from deconflict.geometry import TOLERANCE_M, footprint_from_geojson
from deconflict.model import (
    AltitudeBand,
    AltitudeReference,
    Buffers,
    Notice,
    NoticeKind,
    Route,
    TimeWindow,
    Volume,
)
from deconflict.movement import MAX_SLICE_M, slices
from deconflict.theater import detect_all

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
SLACK = TOLERANCE_M + 0.01

FAST = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)


def destination(lon: float, lat: float, azimuth: float, metres: float) -> tuple[float, float]:
    """Spherical direct problem, written independently of the engine's vector form."""
    d = metres / oracle.R
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(azimuth))
    l2 = l1 + math.atan2(
        math.sin(azimuth) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    lon2 = (math.degrees(l2) + 180.0) % 360.0 - 180.0
    return lon2, math.degrees(p2)


@st.composite
def centres(
    draw: st.DrawFn, antimeridian: bool = False, polar: bool = False
) -> tuple[float, float]:
    if antimeridian:
        lon = draw(st.floats(179.0, 181.0)) - 360.0 * draw(st.integers(0, 1))
    else:
        lon = draw(st.floats(-180.0, 180.0))
    lat = draw(st.floats(75.0, 85.0) if polar else st.floats(-85.0, 85.0))
    if polar and draw(st.booleans()):
        lat = -lat
    return (lon + 180.0) % 360.0 - 180.0, lat


@dataclass(frozen=True)
class Shape:
    geojson: dict
    oracle: oracle.Shape


@st.composite
def shapes(draw: st.DrawFn, centre: tuple[float, float], size: float) -> Shape:
    if draw(st.integers(0, 2)) == 0:
        radius = size * draw(st.floats(0.2, 1.0))
        return Shape(
            {"type": "Circle", "center": list(centre), "radius_m": radius},
            oracle.OCircle(centre[0], centre[1], radius),
        )
    n = draw(st.integers(3, 9))
    concave = draw(st.booleans())
    jitter = draw(st.lists(st.floats(0.0, 0.7), min_size=n, max_size=n))
    spread = draw(st.lists(st.floats(0.25 if concave else 0.9, 1.0), min_size=n, max_size=n))
    turn = draw(st.floats(0.0, 2 * math.pi))
    ring = [
        destination(*centre, turn + 2 * math.pi * (i + jitter[i]) / n, size * spread[i])
        for i in range(n)
    ]
    ring.append(ring[0])
    holes = []
    if n >= 5 and not concave and draw(st.integers(0, 4)) == 0:
        hole = [destination(*centre, 2 * math.pi * i / 4 + 0.3, size * 0.3) for i in range(4)]
        holes.append([*hole, hole[0]])
    rings = [ring, *holes]
    return Shape(
        {"type": "Polygon", "coordinates": [[list(p) for p in r] for r in rings]},
        oracle.OPolygon(rings),
    )


REFS = [AltitudeReference.W84, AltitudeReference.AMSL, AltitudeReference.FL, AltitudeReference.AGL]


@st.composite
def bands(draw: st.DrawFn) -> AltitudeBand:
    ref = draw(st.sampled_from(REFS)) if draw(st.integers(0, 3)) == 0 else AltitudeReference.W84
    lower = draw(st.integers(0, 30)) * 100.0
    thickness = draw(st.integers(0, 20)) * 100.0  # zero-thickness bands included
    return AltitudeBand(lower, lower + thickness, ref)


@st.composite
def windows(draw: st.DrawFn, open_end: bool = False) -> TimeWindow:
    start = T0 + dt.timedelta(minutes=30 * draw(st.integers(0, 12)))
    if open_end and draw(st.booleans()):
        return TimeWindow(start, None)
    return TimeWindow(start, start + dt.timedelta(minutes=30 * draw(st.integers(1, 6))))


MARGIN = {"W84": 0.0, "AMSL": 110.0, "FL": 710.0, "AGL": 110.0}


def oracle_vertical_gap(a: AltitudeBand, b: AltitudeBand) -> float:
    """The datum rules of the design, restated: same reference direct, else widened W84."""

    def interval(band: AltitudeBand, same: bool) -> tuple[float, float]:
        lo, hi = band.lower_m or 0.0, band.upper_m or 0.0
        if same:
            return lo, hi
        if band.reference is AltitudeReference.AGL:
            return lo - 430.0 - 110.0, hi + 8850.0 + 110.0
        m = MARGIN[band.reference.value]
        return lo - m, hi + m

    same = a.reference is b.reference
    (la, ha), (lb, hb) = interval(a, same), interval(b, same)
    return max(la, lb) - min(ha, hb)


def oracle_time_gap(a: TimeWindow, b: TimeWindow) -> float:
    ends = [e for e in (a.end, b.end) if e is not None]
    if not ends:
        return -math.inf
    return (max(a.start, b.start) - min(ends)).total_seconds()


@dataclass(frozen=True)
class Case:
    notices: tuple[Notice, Notice]
    shapes: tuple[list[Shape], list[Shape]]
    policy: SeparationPolicy


@st.composite
def cases(
    draw: st.DrawFn, antimeridian: bool = False, polar: bool = False, multi: bool = False
) -> Case:
    centre_a = draw(centres(antimeridian=antimeridian, polar=polar))
    size_a = math.exp(draw(st.floats(math.log(50.0), math.log(30_000.0))))
    size_b = math.exp(draw(st.floats(math.log(50.0), math.log(30_000.0))))
    kind_b = draw(st.sampled_from([NoticeKind.OPERATION, NoticeKind.PROTECTED]))
    lateral = draw(st.sampled_from([0.0, 0.0, 150.0, 2_000.0, 5_556.0]))
    buffers = Buffers(
        lateral, draw(st.sampled_from([0.0, 150.0])), draw(st.sampled_from([0.0, 1800.0]))
    )
    policy = SeparationPolicy(airspace=buffers, protection=buffers)
    reach = 1.3 * (size_a + size_b) + lateral
    notices = []
    all_shapes: list[list[Shape]] = []
    for party, kind, size in (("A", NoticeKind.OPERATION, size_a), ("B", kind_b, size_b)):
        volumes = []
        drawn = []
        for _ in range(draw(st.integers(1, 2)) if multi else 1):
            if party == "A" and not drawn:
                centre = centre_a
            else:
                centre = destination(
                    *centre_a, draw(st.floats(0, 2 * math.pi)), draw(st.floats(0, reach))
                )
            shape = draw(shapes(centre, size))
            drawn.append(shape)
            open_end = kind is NoticeKind.PROTECTED
            volumes.append(
                Volume(
                    footprint_from_geojson(shape.geojson), draw(bands()), draw(windows(open_end))
                )
            )
        notices.append(Notice(f"n-{party}", party, kind, tuple(volumes)))
        all_shapes.append(drawn)
    return Case((notices[0], notices[1]), (all_shapes[0], all_shapes[1]), policy)


def expected(case: Case) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """(pairs that must conflict, pairs that must not), by volume index."""
    a, b = case.notices
    buffers = case.policy.airspace
    must, must_not = set(), set()
    for i, va in enumerate(a.volumes):
        for j, vb in enumerate(b.volumes):
            if oracle_time_gap(va.time, vb.time) >= buffers.time_s:
                must_not.add((i, j))
                continue
            if oracle_vertical_gap(va.altitude, vb.altitude) > buffers.vertical_m:
                must_not.add((i, j))
                continue
            low, high = oracle.distance_bounds(case.shapes[0][i].oracle, case.shapes[1][j].oracle)
            if high <= buffers.lateral_m:
                must.add((i, j))
            elif low > buffers.lateral_m + SLACK:
                must_not.add((i, j))
    return must, must_not


def assert_engine_agrees(case: Case) -> None:
    must, must_not = expected(case)
    found = detect_all(list(case.notices), case.policy)
    reported = {(o.a_volume, o.b_volume) for c in found for o in c.overlaps}
    missed = must - reported
    assert not missed, f"missed conflicts between volumes {sorted(missed)}"
    spurious = reported & must_not
    assert not spurious, f"reported clearly separated volumes {sorted(spurious)}"
    assert len(found) == (1 if reported else 0)


@settings(FAST, max_examples=3000)
@given(cases())
def test_pairs_anywhere_on_earth(case: Case) -> None:
    assert_engine_agrees(case)


@settings(FAST, max_examples=2000)
@given(cases(antimeridian=True))
def test_pairs_across_the_antimeridian(case: Case) -> None:
    assert_engine_agrees(case)


@settings(FAST, max_examples=1500)
@given(cases(polar=True))
def test_pairs_at_high_latitudes(case: Case) -> None:
    assert_engine_agrees(case)


@settings(FAST, max_examples=1500)
@given(cases(multi=True))
def test_multi_volume_notices(case: Case) -> None:
    assert_engine_agrees(case)


@st.composite
def touching(draw: st.DrawFn) -> tuple[Shape, Shape, bool]:
    """A polygon and a triangle sharing one of its edges (or only a vertex)."""
    centre = draw(centres(antimeridian=draw(st.booleans())))
    size = math.exp(draw(st.floats(math.log(50.0), math.log(30_000.0))))
    a = draw(shapes(centre, size).filter(lambda s: s.geojson["type"] == "Polygon"))
    ring = a.oracle.rings[0]
    k = draw(st.integers(0, len(ring) - 2))
    p, q = ring[k], ring[k + 1]
    mid = oracle.along(p, q, np.array([0.5]))[0]
    # The apex goes the first way, of 16, that leaves the polygon.
    for az in np.linspace(0, 2 * math.pi, 16, endpoint=False):
        apex = destination(float(mid[0]), float(mid[1]), float(az), size)
        if not oracle.inside(a.oracle, np.array([apex[0]]), np.array([apex[1]]))[0]:
            break
    vertex_only = draw(st.booleans())
    if vertex_only:
        apex2 = destination(*apex, 1.0, size / 3)
        tri = [p, apex, apex2, p]
    else:
        tri = [p, q, apex, p]
    b = Shape({"type": "Polygon", "coordinates": [[list(x) for x in tri]]}, oracle.OPolygon([tri]))
    return a, b, vertex_only


@settings(FAST, max_examples=1000)
@given(touching())
def test_touching_footprints_conflict(shapes_: tuple[Shape, Shape, bool]) -> None:
    a, b, _ = shapes_
    band = AltitudeBand(100.0, 100.0, AltitudeReference.W84)  # zero thickness, touching
    w1 = TimeWindow(T0, T0 + dt.timedelta(hours=1))
    try:
        fb = footprint_from_geojson(b.geojson)
    except errors.InvalidInput:  # a degenerate sliver triangle: nothing to test
        return
    na = Notice(
        "a", "A", NoticeKind.OPERATION, (Volume(footprint_from_geojson(a.geojson), band, w1),)
    )
    nb = Notice("b", "B", NoticeKind.OPERATION, (Volume(fb, band, w1),))
    assert len(detect_all([na, nb], SeparationPolicy())) == 1
    # The same pair in adjacent windows never conflicts: windows are half-open.
    w2 = TimeWindow(w1.end, w1.end + dt.timedelta(hours=1))  # type: ignore[operator]
    nb2 = Notice("b", "B", NoticeKind.OPERATION, (Volume(fb, band, w2),))
    assert detect_all([na, nb2], SeparationPolicy()) == []


@st.composite
def movements(
    draw: st.DrawFn,
) -> tuple[Notice, Shape, Notice, list[tuple[float, float]], list[float], float]:
    centre = draw(centres(antimeridian=draw(st.booleans())))
    legs = draw(st.integers(1, 3))
    waypoints = [centre]
    for _ in range(legs):
        waypoints.append(
            destination(*waypoints[-1], draw(st.floats(0, 2 * math.pi)), draw(st.floats(0, 8_000)))
        )
    offsets = [0.0]
    for _ in range(legs):
        offsets.append(offsets[-1] + draw(st.floats(60.0, 1800.0)))
    half_width = draw(st.floats(5.0, 300.0))
    band = AltitudeBand(None, 50.0, AltitudeReference.AGL)
    times = tuple(T0 + dt.timedelta(seconds=s) for s in offsets)
    seconds = [(t - T0).total_seconds() for t in times]  # as stored: whole microseconds
    route = Route(tuple(waypoints), times, half_width, band)
    movement = Notice("m", "H", NoticeKind.MOVEMENT, slices(route), route=route)
    target = destination(
        *waypoints[draw(st.integers(0, legs))],
        draw(st.floats(0, 2 * math.pi)),
        draw(st.floats(0, 12_000)),
    )
    shape = draw(shapes(target, math.exp(draw(st.floats(math.log(30.0), math.log(3_000.0))))))
    start = draw(st.floats(-600.0, seconds[-1]))
    end = start + draw(st.floats(30.0, 1200.0))
    window = TimeWindow(T0 + dt.timedelta(seconds=start), T0 + dt.timedelta(seconds=end))
    op_band = AltitudeBand(0.0, 500.0, AltitudeReference.AGL)
    operation = Notice(
        "o",
        "A",
        NoticeKind.OPERATION,
        (Volume(footprint_from_geojson(shape.geojson), op_band, window),),
    )
    return operation, shape, movement, waypoints, seconds, half_width


@settings(FAST, max_examples=1000)
@given(movements(), st.sampled_from([0.0, 500.0, 5_556.0]))
def test_movements_protect_where_the_convoy_is(drawn, lateral: float) -> None:  # type: ignore[no-untyped-def]
    operation, shape, movement, waypoints, seconds, half_width = drawn
    window = operation.volumes[0].time
    lo = max((window.start - T0).total_seconds(), seconds[0])
    hi = min((window.end - T0).total_seconds(), seconds[-1])  # type: ignore[operator]
    policy = SeparationPolicy(protection=Buffers(lateral, 0.0, 0.0))
    found = detect_all([operation, movement], policy)
    if hi <= lo:
        assert found == [], "a convoy protects only while it moves"
        return
    instants = np.linspace(lo, hi, 120, endpoint=False)
    speed = max(
        float(oracle.haversine(*waypoints[i], *waypoints[i + 1])) / (seconds[i + 1] - seconds[i])
        for i in range(len(seconds) - 1)
    )
    step = (hi - lo) / 120
    best_high, best_low = math.inf, math.inf
    for t in instants:
        lon, lat = oracle.position(waypoints, seconds, float(t))
        low, high = oracle.distance_bounds(shape.oracle, oracle.OCircle(lon, lat, half_width))
        best_high = min(best_high, high)
        best_low = min(best_low, low - speed * step)
    if best_high <= lateral:
        assert found, "missed a convoy within the buffer"
    slice_reach = min(MAX_SLICE_M, speed * 60.0)
    if best_low > lateral + slice_reach + SLACK:
        assert found == [], "protected far from where the convoy was"


@st.composite
def crossing_bars(draw: st.DrawFn) -> tuple[Shape, Shape]:
    """Two thin rectangles crossing like a plus sign: edges cross, no vertex is inside."""
    centre = draw(centres(antimeridian=draw(st.booleans()), polar=draw(st.booleans())))
    length = math.exp(draw(st.floats(math.log(200.0), math.log(50_000.0))))
    width = length * draw(st.floats(0.01, 0.2))
    heading = draw(st.floats(0.0, math.pi))
    crossing = draw(st.floats(0.3, math.pi - 0.3))
    bars = []
    for az in (heading, heading + crossing):
        half_diag = math.hypot(length, width) / 2
        spread = math.atan2(width, length)
        corners = [
            destination(*centre, az + s * spread + k * math.pi, half_diag)
            for k, s in ((0, 1), (0, -1), (1, 1), (1, -1))
        ]
        ring = [*corners, corners[0]]
        bars.append(
            Shape(
                {"type": "Polygon", "coordinates": [[list(p) for p in ring]]},
                oracle.OPolygon([ring]),
            )
        )
    return bars[0], bars[1]


@settings(FAST, max_examples=500)
@given(crossing_bars())
def test_crossing_edges_conflict_without_a_vertex_inside(bars: tuple[Shape, Shape]) -> None:
    a, b = bars
    band = AltitudeBand(0.0, 100.0, AltitudeReference.W84)
    w = TimeWindow(T0, T0 + dt.timedelta(hours=1))
    na = Notice(
        "a", "A", NoticeKind.OPERATION, (Volume(footprint_from_geojson(a.geojson), band, w),)
    )
    nb = Notice(
        "b", "B", NoticeKind.OPERATION, (Volume(footprint_from_geojson(b.geojson), band, w),)
    )
    _, high = oracle.distance_bounds(a.oracle, b.oracle)
    assert high == 0.0  # the oracle sees the overlap too
    assert len(detect_all([na, nb], SeparationPolicy())) == 1
