"""Closest approach over a whole fleet, and the fleet shared by processes through the store.

- ``approaches`` on arrays, with groups (parties), per-aircraft vertical margins
  and a focus, against every pair decided by the same exact test without any
  index or cut: no pair may be missed, none invented; at mid-latitudes, over and
  near the poles, and straddling ±180° (where a pair with only one reach box
  across the line was missed before dae0fe1);
- two services on one SQLite file (two processes' worth of state) alert on each
  other's aircraft, clear, and raise again, each following the other's writes;
- a batch that fails inside the write transaction leaves nothing behind, in the
  store or in the process's memory of the fleet.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import Phase, event, given, settings
from hypothesis import strategies as st

from deconflict.clock import FixedClock
from deconflict.config import Settings
from deconflict.disclosure import Viewer
from deconflict.model import Role
from deconflict.proximity import (
    DRONE,
    MANNED,
    Aircraft,
    Motion,
    Thresholds,
    approaches,
    closest_approaches,
    relative,
    separation_loss,
)
from deconflict.service import Service
from deconflict.store import open_store

R = 6_371_008.8
T0 = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


# --- approaches against every pair ----------------------------------------------------------------


def _destination(lon: float, lat: float, bearing: float, d_m: float) -> tuple[float, float]:
    """Where a great circle leaving (lon, lat) on ``bearing`` (degrees) is after ``d_m``."""
    p1, l1, b, d = math.radians(lat), math.radians(lon), math.radians(bearing), d_m / R
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return (math.degrees(l2) + 180.0) % 360.0 - 180.0, math.degrees(p2)


def _every_pair(
    m: Motion, thresholds: Thresholds, margins: np.ndarray, group: np.ndarray
) -> dict[tuple[int, int], float]:
    """Every pair i < j of different groups that loses separation: (i, j) → time of loss."""
    i, j = np.triu_indices(len(m), 1)
    i, j = i.astype(np.int64), j.astype(np.int64)
    rh, vh, z, vz, _, _ = relative(m, i, j)
    lost, t_loss, _ = separation_loss(rh, vh, z, vz, thresholds, margins[i] + margins[j])
    return {
        (int(a), int(b)): float(t)
        for a, b, hit, t in zip(i, j, lost, t_loss, strict=True)
        if hit and group[a] != group[b]
    }


#: Where fleets fly: (lon, lat) of the middle; aircraft are up to 60 km out (over the pole).
FLEETS = {
    "mid-latitudes": (35.0, 33.0),
    "at 86°N": (20.0, 86.0),
    "around the north pole": (20.0, 89.7),
    "near the south pole": (-120.0, -88.0),
    "across the antimeridian": (180.0, 10.0),
    "across the antimeridian at 80°N": (180.0, 80.0),
}

_rest = (
    st.sampled_from([1_000.0, 1_100.0, 1_300.0, 1_500.0, 3_000.0]),  # altitude: some level
    st.one_of(st.sampled_from([0.0, 0.0, 30.0, 80.0, 250.0, 900.0]), st.floats(0, 300)),  # speed
    st.floats(0, 360),  # course
    st.one_of(st.just(0.0), st.floats(-25, 25)),  # climb
    st.integers(0, 2),  # party
    st.sampled_from([0.0, 0.0, 15.0, 150.0]),  # vertical margin
)
_aircraft = st.tuples(
    st.one_of(st.floats(-15_000, 15_000), st.floats(-60_000, 60_000)),  # east of the middle, m
    st.one_of(st.floats(-15_000, 15_000), st.floats(-60_000, 60_000)),  # north of it
    *_rest,
)


def _fleet(
    middle: tuple[float, float], spec: list[tuple[float, ...]]
) -> tuple[Motion, np.ndarray, np.ndarray]:
    rows, margins, group = [], [], []
    for x, y, alt, speed, course, up, party, margin in spec:
        lon, lat = _destination(*_destination(*middle, 90.0, x), 0.0, y)
        c = math.radians(course)
        rows.append(Aircraft(lon, lat, alt, speed * math.sin(c), speed * math.cos(c), up))
        margins.append(margin)
        group.append(party)
    return Motion.of(rows), np.array(margins), np.array(group, dtype=np.int64)


def _agrees(
    where: str, spec: list[tuple[float, ...]], chosen: list[int] | None, limits: Thresholds
) -> None:
    m, margins, group = _fleet(FLEETS[where], spec)
    focus = None if chosen is None else np.array(sorted({k % len(m) for k in chosen}), np.int64)
    found = approaches(m, limits, margins, focus=focus, group=group)
    expected = _every_pair(m, limits, margins, group)
    if focus is not None:
        expected = {(i, j): t for (i, j), t in expected.items() if i in focus or j in focus}
    event(f"pairs losing separation: {len(expected) if len(expected) < 3 else '3 or more'}")
    got = {(i, j) for i, j, _ in found}
    missed, invented = sorted(set(expected) - got), sorted(got - set(expected))
    assert not missed and not invented, f"missed {missed}, invented {invented}"
    for i, j, a in found:
        assert a.t_loss_s == pytest.approx(expected[(i, j)], abs=1e-3)


fleets = st.lists(_aircraft, min_size=2, max_size=40)
#: Fleets within a few kilometres of ±180°, some hovering: many pairs have reach boxes on
#: both sides of the line, only one of them crossing it (missed before dae0fe1).
straddling = st.lists(
    st.tuples(st.floats(-12_000, 12_000), st.floats(-8_000, 8_000), *_rest),
    min_size=10,
    max_size=40,
)
#: None: every pair; otherwise the aircraft that moved (indices taken modulo the fleet's size).
focuses = st.one_of(st.none(), st.lists(st.integers(0, 39), max_size=6))
#: Manned aircraft (5 NM, 1,000 ft, 2 min), drones (150 m, 30 m), a longer lookahead.
limits = st.sampled_from([MANNED, MANNED, DRONE, Thresholds(2_000.0, 100.0, 300.0)])


@pytest.mark.parametrize(
    "where", ["mid-latitudes", "at 86°N", "around the north pole", "near the south pole"]
)
@settings(derandomize=True, max_examples=200, deadline=None)
@given(spec=fleets, chosen=focuses, limit=limits)
def test_approaches_finds_exactly_the_pairs_every_pair_would(
    where: str, spec: list[tuple[float, ...]], chosen: list[int] | None, limit: Thresholds
) -> None:
    _agrees(where, spec, chosen, limit)


@pytest.mark.parametrize("where", ["across the antimeridian", "across the antimeridian at 80°N"])
@settings(derandomize=True, max_examples=300, deadline=None, phases=[Phase.generate])
@given(spec=straddling, chosen=focuses)
def test_approaches_across_the_antimeridian_finds_exactly_the_pairs_every_pair_would(
    where: str, spec: list[tuple[float, ...]], chosen: list[int] | None
) -> None:
    """Not shrunk (a fleet of 40 takes minutes to shrink): the next test is the small case."""
    _agrees(where, spec, chosen, MANNED)


@pytest.mark.parametrize("hovering_first", [True, False])
@pytest.mark.parametrize("focus", ["none", "hovering", "fast", "both"])
def test_a_fast_aircraft_closing_across_the_antimeridian_is_found(
    hovering_first: bool, focus: str
) -> None:
    """A hovering aircraft at 179.9°W, and one 22 km west of it at 179.9°E flying at it at
    250 m/s: only the fast one's reach box crosses ±180°. Whichever comes first, and
    whichever moved, the pair is found."""
    hovering = Aircraft(-179.9, 10.0, 3_000.0)
    fast = Aircraft(179.9, 10.0, 3_000.0, east=250.0)
    fleet = [hovering, fast] if hovering_first else [fast, hovering]
    which = {
        "none": None,
        "hovering": [fleet.index(hovering)],
        "fast": [fleet.index(fast)],
        "both": [0, 1],
    }
    found = closest_approaches(fleet, MANNED, focus=which[focus])
    assert [(i, j) for i, j, _ in found] == [(0, 1)]
    assert 45 < found[0][2].t_loss_s < 55  # (22 km - 5 NM) / 250 m/s


# --- services sharing one store -------------------------------------------------------------------

A = Viewer("a", Role.MEMBER, frozenset())
B = Viewer("b", Role.MEMBER, frozenset())
LAT0, LON0 = 33.0, 35.0


def _lon(x_m: float, lat: float = LAT0) -> float:
    return LON0 + math.degrees(x_m / (R * math.cos(math.radians(lat))))


def _report(
    clock: FixedClock, aircraft: str, x_m: float, east: float, lat: float = LAT0, alt: float = 3_000
) -> dict[str, Any]:
    return {
        "aircraft": aircraft,
        "time": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lon": _lon(x_m, lat),
        "lat": lat,
        "altitude": {"value": alt, "reference": "W84", "units": "m"},
        "velocity": {"east": east, "north": 0.0, "up": 0.0},
    }


@contextmanager
def _services(folder: Path, count: int, clock: FixedClock) -> Iterator[list[Service]]:
    """``count`` services on one SQLite file, as separate processes would open it."""
    path = str(folder / "shared.db")
    opened = [Service(open_store(path), clock, Settings(db=path)) for _ in range(count)]
    for party in ("a", "b"):
        opened[0].accounts.add_party(None, party, party.upper())
    try:
        yield opened
    finally:
        for service in opened:
            service.store.close()


def _proximity_alerts(service: Service, viewer: Viewer) -> list[dict[str, Any]]:
    """Each closest-approach condition the party was alerted of, one alert per item."""
    found = service.alerts.alerts(viewer, "all", 0, 10_000)
    return [
        a | {"data": item}
        for a in found
        if a["type"] == "track.proximity"
        for item in a["data"]["items"]
    ]


def _flags(service: Service, kind: str = "proximity") -> set[tuple[str, str, str]]:
    with service.store.read() as tx:
        return set(tx.tracks.flags(kind))


BOTH_WAYS = {("a", "A1", "b/B1"), ("b", "B1", "a/A1")}


def test_two_processes_alert_on_each_others_aircraft_clear_and_raise_again(
    tmp_path: Path,
) -> None:
    clock = FixedClock(T0)
    with _services(tmp_path, 2, clock) as (one, two):
        # A1 at the origin flies east at 100 m/s, B1 18.6 km east flies west at 100 m/s:
        # 5 NM apart after ~47 s. Party a reports through one process, b through the other.
        one.tracks.ingest(A, {"reports": [_report(clock, "A1", 0.0, 100.0)]})
        assert _flags(one) == set()
        answer = two.tracks.ingest(B, {"reports": [_report(clock, "B1", 18_600.0, -100.0)]})
        assert _flags(two) == BOTH_WAYS
        to_a, to_b = _proximity_alerts(two, A), _proximity_alerts(two, B)
        assert [(x["data"]["aircraft"], x["data"]["other_party"]) for x in to_a] == [("A1", "b")]
        assert [(x["data"]["aircraft"], x["data"]["other_party"]) for x in to_b] == [("B1", "a")]
        assert 40 < to_a[0]["data"]["t_loss_s"] < 55
        assert "B1" not in str(to_a) and "A1" not in str(to_b)
        assert answer["alerts"] == 3  # both proximity alerts, and b's aircraft flies unplanned

        # Still closing, reported through the first process: it knows B1 from the store,
        # so the condition holds (not cleared for want of the other aircraft), and no repeat.
        clock.advance(5)
        one.tracks.ingest(A, {"reports": [_report(clock, "A1", 500.0, 100.0)]})
        assert _flags(one) == BOTH_WAYS
        assert len(_proximity_alerts(one, A)) == len(_proximity_alerts(one, B)) == 1

        # A1 turns away: the condition clears for both, with no new alert.
        clock.advance(5)
        one.tracks.ingest(A, {"reports": [_report(clock, "A1", 1_000.0, -100.0)]})
        assert _flags(one) == set()
        assert len(_proximity_alerts(one, A)) == len(_proximity_alerts(one, B)) == 1

        # B1 reports through the second process, which last saw A1 closing: it must take
        # A1's newer state (turned away, written by the first process), so nothing is raised.
        clock.advance(2)
        two.tracks.ingest(B, {"reports": [_report(clock, "B1", 18_600.0 - 1_200.0, -100.0)]})
        assert _flags(two) == set()
        assert len(_proximity_alerts(two, A)) == len(_proximity_alerts(two, B)) == 1

        # A1 turns back: the first process raises a new alert to both, from B1's newest state.
        clock.advance(3)
        one.tracks.ingest(A, {"reports": [_report(clock, "A1", 500.0, 100.0)]})
        assert _flags(one) == BOTH_WAYS
        to_a, to_b = _proximity_alerts(one, A), _proximity_alerts(one, B)
        assert len(to_a) == len(to_b) == 2
        # 16.6 km apart, closing at 200 m/s: 5 NM apart after ~37 s.
        assert 30 < to_a[1]["data"]["t_loss_s"] < 45
        assert to_a[1]["at"] == to_b[1]["at"] == "2026-06-01T12:00:15Z"


def test_a_batch_closing_across_the_antimeridian_alerts_when_it_is_reported(
    tmp_path: Path,
) -> None:
    """B1 hovers at 179.9°W; A1 is reported at 179.9°E flying east at it at 250 m/s."""
    clock = FixedClock(T0)
    with _services(tmp_path, 1, clock) as (service,):
        b1 = _report(clock, "B1", 0.0, 0.0, lat=10.0) | {"lon": -179.9}
        a1 = _report(clock, "A1", 0.0, 250.0, lat=10.0) | {"lon": 179.9}
        service.tracks.ingest(B, {"reports": [b1]})
        service.tracks.ingest(A, {"reports": [a1]})
        assert _flags(service) == BOTH_WAYS


# --- a failed batch -------------------------------------------------------------------------------


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("a check failed inside the write transaction")


def _everything(service: Service) -> dict[str, Any]:
    """What a party would see, and what the store holds of tracks."""
    with service.store.read() as tx:
        states = tx.tracks.states(T0 - dt.timedelta(hours=1))
        reports = tx.tracks.reports_near(
            (-180.0, -90.0, 180.0, 90.0), T0 - dt.timedelta(hours=1), T0 + dt.timedelta(hours=1)
        )
        flags = {k: set(tx.tracks.flags(k)) for k in ("proximity", "incursion", "nonconforming")}
        size = tx.ledger.size()
    alerts = {
        v.party: [
            (x["type"], x["at"], x["data"]) for x in service.alerts.alerts(v, "all", 0, 10**4)
        ]
        for v in (A, B)
    }
    return {
        "states": sorted((p.party, p.aircraft, p.time) for p in states),
        "reports": sorted((p.party, p.aircraft, p.time, p.lon) for p in reports),
        "flags": flags,
        "alerts": alerts,
        "ledger": size,
    }


@pytest.mark.parametrize("check", ["_conformance", "_incursion", "_proximity"])
def test_a_failed_batch_leaves_no_trace_and_the_next_is_decided_as_by_a_fresh_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, check: str
) -> None:
    """Two processes on one file, one of whose batches fails, against one fresh service.

    The failed batch held A2, hovering in B1's way: had it stayed in the process's
    memory, B1's next report would alert on it. Its change number was rolled back and
    taken again by the other process's next batch (B2): had the process kept counting
    from it, it would never see B2.
    """
    clock, fresh_clock = FixedClock(T0), FixedClock(T0)
    (tmp_path / "fresh").mkdir()
    with (
        _services(tmp_path, 2, clock) as (failing, other),
        _services(tmp_path / "fresh", 1, fresh_clock) as (fresh,),
    ):

        def both(step: Callable[[Service, FixedClock], dict[str, Any]], on: Service) -> None:
            assert step(on, clock) == step(fresh, fresh_clock)

        def tick(seconds: float) -> None:
            clock.advance(seconds)
            fresh_clock.advance(seconds)

        both(
            lambda s, c: s.tracks.ingest(B, {"reports": [_report(c, "B1", 18_600.0, -100.0)]}),
            other,
        )
        before = _everything(failing)
        failed = {
            "reports": [
                _report(clock, "A1", 0.0, 100.0),  # closing on B1
                _report(clock, "A2", 14_000.0, 0.0),  # hovering in B1's way
            ]
        }
        with monkeypatch.context() as patch:
            patch.setattr(failing.tracks, check, _boom)
            with pytest.raises(RuntimeError, match="inside the write transaction"):
                failing.tracks.ingest(A, failed)
        assert _everything(failing) == before

        # B2 (the other process) and A1 (the process that failed) close 55 km to the north.
        tick(5)
        north = 33.5
        both(
            lambda s, c: s.tracks.ingest(
                B, {"reports": [_report(c, "B2", 18_600.0, -100.0, lat=north)]}
            ),
            other,
        )
        both(
            lambda s, c: s.tracks.ingest(A, {"reports": [_report(c, "A1", 0.0, 100.0, lat=north)]}),
            failing,
        )
        assert _flags(failing) == {("a", "A1", "b/B2"), ("b", "B2", "a/A1")}

        # B1 flies on towards where A2 would hover: nothing, as for the fresh service.
        tick(5)
        both(
            lambda s, c: s.tracks.ingest(
                B,
                {
                    "reports": [
                        _report(c, "B1", 18_600.0 - 1_000.0, -100.0),
                        _report(c, "B2", 18_600.0 - 1_000.0, -100.0, lat=north),
                    ]
                },
            ),
            failing,
        )
        assert _everything(failing) == _everything(fresh)
