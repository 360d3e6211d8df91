"""Closest approach against a brute-force oracle written from the words of the issue.

The oracle moves each aircraft along a great circle at its ground speed (with
its own trigonometry, not the module's), steps through the lookahead every
0.1 s, and measures the horizontal distance with the haversine formula and the
vertical one as the difference in altitude. Where the oracle is clearly on one
side of a threshold, by a margin larger than the difference between its model
and the straight-line one, the module must agree: no missed loss of
separation, and no alarm for pairs clearly apart.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import event, given, settings
from hypothesis import strategies as st

from deconflict.proximity import (
    DRONE,
    MANNED,
    Aircraft,
    Motion,
    Thresholds,
    closest_approaches,
    relative,
    separation_loss,
)

R = 6_371_008.8
STEP_S = 0.1
MARGIN_H = 150.0  # metres: straight line vs great circle over 2 minutes, and the step
MARGIN_V = 150.0


def _move(a: Aircraft, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Great-circle motion at constant ground speed and course; altitude changes linearly."""
    speed = math.hypot(a.east, a.north)
    course = math.atan2(a.east, a.north)
    lat1, lon1 = math.radians(a.lat), math.radians(a.lon)
    d = speed * t / R
    lat2 = np.arcsin(math.sin(lat1) * np.cos(d) + math.cos(lat1) * np.sin(d) * math.cos(course))
    lon2 = lon1 + np.arctan2(
        math.sin(course) * np.sin(d) * math.cos(lat1), np.cos(d) - math.sin(lat1) * np.sin(lat2)
    )
    return np.degrees(lon2), np.degrees(lat2), a.alt + a.up * t


def _haversine(
    lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * R * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


def _oracle(a: Aircraft, b: Aircraft, thr: Thresholds) -> tuple[bool, bool]:
    """(clearly lost, clearly kept) separation within the lookahead."""
    t = np.arange(0.0, thr.lookahead_s + STEP_S / 2, STEP_S)
    lon_a, lat_a, alt_a = _move(a, t)
    lon_b, lat_b, alt_b = _move(b, t)
    h = _haversine(lon_a, lat_a, lon_b, lat_b)
    v = np.abs(alt_a - alt_b)
    lost = bool(np.any((h < thr.horizontal_m - MARGIN_H) & (v < thr.vertical_m - MARGIN_V)))
    kept = bool(np.all((h > thr.horizontal_m + MARGIN_H) | (v > thr.vertical_m + MARGIN_V)))
    return lost, kept


def _pair(draw: st.DrawFn) -> tuple[Aircraft, Aircraft]:
    lat = draw(st.floats(-80, 80))
    lon = draw(st.floats(-180, 180))
    a = Aircraft(
        lon,
        lat,
        draw(st.floats(0, 12_000)),
        draw(st.floats(-250, 250)),
        draw(st.floats(-250, 250)),
        draw(st.floats(-20, 20)),
    )
    bearing = draw(st.floats(0, 2 * math.pi))
    distance = draw(st.floats(0, 40_000))
    lon_b, lat_b, _ = _move(
        Aircraft(lon, lat, 0, math.sin(bearing), math.cos(bearing)), np.array([distance])
    )
    lon_b = ((float(lon_b[0]) + 180.0) % 360.0) - 180.0
    b = Aircraft(
        lon_b,
        float(lat_b[0]),
        a.alt + draw(st.floats(-1500, 1500)),
        draw(st.floats(-250, 250)),
        draw(st.floats(-250, 250)),
        draw(st.floats(-20, 20)),
    )
    return a, b


pairs = st.composite(_pair)


@settings(derandomize=True, max_examples=1500, deadline=None)
@given(pairs())
def test_no_missed_loss_and_no_alarm_for_pairs_clearly_apart(
    pair: tuple[Aircraft, Aircraft],
) -> None:
    a, b = pair
    lost, kept = _oracle(a, b, MANNED)
    found = closest_approaches([a, b], MANNED)
    event(f"oracle: {'lost' if lost else 'kept' if kept else 'borderline'}")
    if lost:
        assert found, f"missed a loss of separation: {a} {b}"
    if kept:
        assert not found, f"alarm for aircraft clearly apart: {a} {b} {found}"


def test_head_on_at_the_same_level_meets_at_the_middle() -> None:
    a = Aircraft(35.0, 33.0, 3000.0, east=100.0)
    b = Aircraft(35.2, 33.0, 3000.0, east=-100.0)
    ((i, j, approach),) = closest_approaches([a, b], MANNED)
    gap = float(_haversine(np.array(35.0), np.array(33.0), np.array(35.2), np.array(33.0)))
    assert (i, j) == (0, 1)
    assert abs(approach.t_cpa_s - gap / 200.0) < 0.5
    assert approach.horizontal_m < 50 and approach.vertical_m < 1
    # Separation is lost when the gap closes to 5 NM, before the closest point.
    assert abs(approach.t_loss_s - (gap - MANNED.horizontal_m) / 200.0) < 0.5


def test_vertical_separation_alone_keeps_them_apart() -> None:
    a = Aircraft(35.0, 33.0, 3000.0, east=100.0)
    b = Aircraft(35.2, 33.0, 3400.0, east=-100.0)  # 400 m above: more than 1,000 ft
    assert closest_approaches([a, b], MANNED) == []
    climbing = Aircraft(35.2, 33.0, 3400.0, east=-100.0, up=-5.0)  # descends into the level
    assert closest_approaches([a, climbing], MANNED)


def test_diverging_aircraft_are_not_alerted_and_the_lookahead_bounds_the_search() -> None:
    a = Aircraft(35.0, 33.0, 3000.0, east=-100.0)
    b = Aircraft(35.2, 33.0, 3000.0, east=100.0)
    assert closest_approaches([a, b], MANNED) == []
    slow = Aircraft(35.0, 33.0, 3000.0, east=10.0)
    far = Aircraft(35.5, 33.0, 3000.0, east=-10.0)  # would meet after ~35 minutes
    assert closest_approaches([slow, far], MANNED) == []
    assert closest_approaches([slow, far], Thresholds(9_260.0, 304.8, 3_600.0))


def test_drones_use_their_own_thresholds() -> None:
    a = Aircraft(35.0, 33.0, 100.0, east=10.0)
    b = Aircraft(35.0 + 0.004, 33.0, 110.0, east=-10.0)  # ~370 m apart, closing at 20 m/s
    assert closest_approaches([a, b], DRONE)
    c = Aircraft(35.0 + 0.004, 33.0 + 0.003, 110.0, east=-10.0)  # passes ~330 m north
    assert closest_approaches([a, c], DRONE) == []


def test_the_antimeridian_does_not_hide_a_pair() -> None:
    a = Aircraft(179.99, 10.0, 5000.0, east=200.0)
    b = Aircraft(-179.99, 10.0, 5000.0, east=-200.0)
    assert closest_approaches([a, b], MANNED)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-1, 1),
            st.floats(-1, 1),
            st.floats(0, 3000),
            st.floats(-250, 250),
            st.floats(-250, 250),
        ),
        min_size=2,
        max_size=40,
    ),
    st.sampled_from([0.0, 179.5, -179.5]),
    st.sampled_from([0.0, 60.0, -75.0]),
)
def test_the_index_prefilter_misses_no_pair(
    spec: list[tuple[float, float, float, float, float]], lon0: float, lat0: float
) -> None:
    fleet = [
        Aircraft(((lon0 + dx + 180.0) % 360.0) - 180.0, lat0 + dy, alt, e, n)
        for dx, dy, alt, e, n in spec
    ]
    found = {(i, j) for i, j, _ in closest_approaches(fleet, MANNED)}
    # Every pair, without the index: the same exact test on all of them.
    n = len(fleet)
    i, j = np.triu_indices(n, 1)
    rh, vh, z, vz, _, _ = relative(Motion.of(fleet), i.astype(np.int64), j.astype(np.int64))
    lost, _, _ = separation_loss(rh, vh, z, vz, MANNED)
    expected = {(int(a), int(b)) for a, b, hit in zip(i, j, lost, strict=True) if hit}
    assert found == expected


def test_a_focus_keeps_exactly_the_pairs_involving_it() -> None:
    rng = np.random.default_rng(3)
    fleet = [
        Aircraft(
            35 + rng.uniform(-0.3, 0.3),
            33 + rng.uniform(-0.3, 0.3),
            3000.0,
            rng.uniform(-200, 200),
            rng.uniform(-200, 200),
        )
        for _ in range(60)
    ]
    every = {(i, j) for i, j, _ in closest_approaches(fleet, MANNED)}
    focus = [0, 7, 31]
    focused = {(i, j) for i, j, _ in closest_approaches(fleet, MANNED, focus=focus)}
    assert every, "the scene must have some losses of separation"
    assert focused == {(i, j) for i, j in every if i in focus or j in focus}
