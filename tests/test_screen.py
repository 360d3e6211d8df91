"""The vectorised screen gives exactly the answer of the definition, pair by pair.

The definition (``_defined``) is written out from its parts: the time gap, the
vertical gap across datums and the spherical distance between footprints.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.altitude import DatumMargins, vertical_gap
from deconflict.conflicts import footprint_distance_m
from deconflict.geometry import TOLERANCE_M, footprint_from_geojson
from deconflict.model import AltitudeBand, AltitudeReference, Buffers, Route, TimeWindow, Volume
from deconflict.movement import slices
from deconflict.screen import Candidates, overlap_extents, pack_volume, screen
from test_conflicts_property import FAST, bands, centres, destination, shapes, windows

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _columns(volumes: list[Volume]) -> Candidates:
    """The candidates as the store would hand them over: packed, then unpacked."""
    return Candidates.from_packed([pack_volume(v) for v in volumes])


def _defined(a: Volume, b: Volume, buffers: Buffers, datum: DatumMargins) -> bool:
    ends = [e for e in (a.time.end, b.time.end) if e is not None]
    start = max(a.time.start, b.time.start)
    if ends and (start - min(ends)).total_seconds() >= buffers.time_s:
        return False
    if vertical_gap(a.altitude, b.altitude, datum) > buffers.vertical_m:
        return False
    return footprint_distance_m(a.footprint, b.footprint) <= buffers.lateral_m + TOLERANCE_M


def _assert_screen_matches(query: Volume, others: list[Volume], buffers: Buffers) -> None:
    datum = DatumMargins()
    expected = [_defined(query, v, buffers, datum) for v in others]
    got = screen(query, _columns(others), buffers, datum, lambda i: others[i].footprint)
    assert got.tolist() == expected


@st.composite
def scenes(draw: st.DrawFn) -> tuple[Volume, list[Volume], Buffers]:
    centre = draw(centres(antimeridian=draw(st.booleans()), polar=draw(st.booleans())))
    size = math.exp(draw(st.floats(math.log(50.0), math.log(30_000.0))))
    lateral = draw(st.sampled_from([0.0, 150.0, 5_556.0]))
    buffers = Buffers(
        lateral, draw(st.sampled_from([0.0, 150.0])), draw(st.sampled_from([0.0, 1800.0]))
    )
    query = Volume(
        footprint_from_geojson(draw(shapes(centre, size)).geojson),
        draw(bands()),
        draw(windows(open_end=True)),
    )
    others = []
    for _ in range(draw(st.integers(1, 12))):
        where = destination(
            *centre, draw(st.floats(0, 2 * math.pi)), draw(st.floats(0, 2.6 * size + lateral))
        )
        if draw(st.integers(0, 4)) == 0:  # a movement slice (corridor)
            end = destination(*where, draw(st.floats(0, 2 * math.pi)), draw(st.floats(0, 1000)))
            band = AltitudeBand(None, 50.0, AltitudeReference.AGL)
            route = Route(
                (where, end), (T0, T0 + dt.timedelta(minutes=1)), draw(st.floats(5.0, 500.0)), band
            )
            others.extend(slices(route))
            continue
        shape = draw(shapes(where, math.exp(draw(st.floats(math.log(50.0), math.log(30_000.0))))))
        others.append(
            Volume(
                footprint_from_geojson(shape.geojson), draw(bands()), draw(windows(open_end=True))
            )
        )
    return query, others, buffers


@settings(FAST, max_examples=1500)
@given(scenes())
def test_screen_agrees_with_the_exact_test_on_every_candidate(
    scene: tuple[Volume, list[Volume], Buffers],
) -> None:
    _assert_screen_matches(*scene)


def test_an_empty_candidate_set_is_fine() -> None:
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    band = AltitudeBand(0.0, 10.0, AltitudeReference.W84)
    volume = Volume(footprint_from_geojson(square), band, TimeWindow(T0, None))
    assert (
        screen(
            volume, Candidates.from_packed([]), Buffers(), DatumMargins(), lambda i: None
        ).tolist()
        == []
    )  # type: ignore[arg-type,return-value]


@st.composite
def near_misses(draw: st.DrawFn) -> tuple[Volume, list[Volume], Buffers]:
    """Circles placed so their edge lies within a few metres of the buffer's reach."""
    from deconflict.conflicts import footprint_distance_m
    from deconflict.geometry import circle

    centre = draw(centres(antimeridian=draw(st.booleans()), polar=draw(st.booleans())))
    size = math.exp(draw(st.floats(math.log(200.0), math.log(30_000.0))))
    lateral = draw(st.sampled_from([0.0, 150.0, 5_556.0]))
    band = AltitudeBand(0.0, 100.0, AltitudeReference.W84)
    window = TimeWindow(T0, T0 + dt.timedelta(hours=1))
    query = Volume(footprint_from_geojson(draw(shapes(centre, size)).geojson), band, window)
    others = []
    for _ in range(draw(st.integers(1, 8))):
        where = destination(
            *centre,
            draw(st.floats(0, 2 * math.pi)),
            draw(st.floats(1.2 * size, 3 * size)) + lateral,
        )
        point = circle(where[0], where[1], 0.001)
        gap = footprint_distance_m(query.footprint, point)
        offset = draw(st.sampled_from([-2.0, -0.3, 0.0, 0.3, 0.49, 0.51, 0.7, 2.0, 10.0]))
        radius = gap - lateral - offset
        if radius <= 1.0:
            continue
        others.append(Volume(circle(where[0], where[1], radius), band, window))
    return query, others, Buffers(lateral, 0.0, 0.0)


@settings(FAST, max_examples=800)
@given(near_misses())
def test_screen_agrees_at_the_edge_of_the_buffer(
    scene: tuple[Volume, list[Volume], Buffers],
) -> None:
    _assert_screen_matches(*scene)


# --- the overlap's extent ------------------------------------------------------------------


def _sfc_unl(draw: st.DrawFn, band: AltitudeBand) -> AltitudeBand:
    """The band, its lower limit made SFC or its upper UNL now and then."""
    lower = None if draw(st.integers(0, 5)) == 0 else band.lower_m
    upper = None if draw(st.integers(0, 5)) == 0 else band.upper_m
    return AltitudeBand(lower, upper, band.reference)


def _extent_defined(
    a: Volume, b: Volume, buffers: Buffers, datum: DatumMargins
) -> tuple[tuple[float, float, str], tuple[dt.datetime, dt.datetime | None], float]:
    """a's own altitude and time within b's buffers, and the share of b's window, written out."""
    same = a.altitude.reference is b.altitude.reference
    widen = {"W84": 0.0, "AMSL": datum.geoid_m, "FL": datum.geoid_m + datum.pressure_m}

    def interval(band: AltitudeBand) -> tuple[float, float]:
        agl = band.reference is AltitudeReference.AGL
        lo = band.lower_m if band.lower_m is not None else (0.0 if agl else -math.inf)
        hi = band.upper_m if band.upper_m is not None else math.inf
        if same:
            return lo, hi
        if agl:
            return (
                lo + datum.terrain_min_m - datum.geoid_m,
                hi + datum.terrain_max_m + datum.geoid_m,
            )
        m = widen[band.reference.value]
        return lo - m, hi + m

    (lo_a, hi_a), (lo_b, hi_b) = interval(a.altitude), interval(b.altitude)
    v = buffers.vertical_m
    altitude = (
        max(lo_a, lo_b - v),
        min(hi_a, hi_b + v),
        a.altitude.reference.value if same else "W84",
    )
    margin = dt.timedelta(seconds=buffers.time_s)
    start = max(a.time.start, b.time.start - margin)
    ends = [e for e in (a.time.end, None if b.time.end is None else b.time.end + margin) if e]
    end = min(ends) if ends else None
    share = 1.0
    if end is not None and b.time.end is not None:
        whole = (b.time.end - b.time.start).total_seconds() + 2 * buffers.time_s
        share = min(1.0, (end - start).total_seconds() / whole) if whole > 0 else 1.0
    return altitude, (start, end), share


@settings(FAST, max_examples=400)
@given(st.data())
def test_overlap_extents_match_the_definition(data: st.DataObject) -> None:
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    footprint = footprint_from_geojson(square)

    def volume() -> Volume:
        band = _sfc_unl(data.draw, data.draw(bands()))
        return Volume(footprint, band, data.draw(windows(open_end=True)))

    query, others = volume(), [volume() for _ in range(data.draw(st.integers(1, 8)))]
    buffers = Buffers(
        0.0,
        data.draw(st.sampled_from([0.0, 150.0])),
        data.draw(st.sampled_from([0.0, 1800.0, 0.5])),
    )
    datum = DatumMargins()
    b = _columns(others)
    hits = np.arange(len(others))
    got = overlap_extents(
        Candidates.of_volumes([query]),
        np.zeros(len(others), dtype=np.int64),
        b,
        hits,
        buffers.vertical_m,
        buffers.time_s,
        datum,
    )
    shares = got.time_share(b, hits, buffers.time_s)
    for k, other in enumerate(others):
        altitude, time, share = _extent_defined(query, other, buffers, datum)
        assert got.altitude(k) == altitude
        assert got.time(k) == time
        assert float(shares[k]) == share
