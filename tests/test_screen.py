"""The vectorised screen gives exactly the answer of the definition, pair by pair.

The definition (``_defined``) is written out from its parts: the time gap, the
vertical gap across datums and the spherical distance between footprints.
"""

from __future__ import annotations

import datetime as dt
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.altitude import DatumMargins, vertical_gap
from deconflict.conflicts import footprint_distance_m
from deconflict.geometry import TOLERANCE_M, footprint_from_geojson
from deconflict.model import AltitudeBand, AltitudeReference, Buffers, Route, TimeWindow, Volume
from deconflict.movement import slices
from deconflict.screen import Candidates, pack_volume, screen
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
