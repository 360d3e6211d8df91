"""Hand-made conflict cases whose answers are known from geometry."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
import shapely
from shapely.geometry import shape

from deconflict import errors
from deconflict.conflicts import SeparationPolicy, footprint_distance_m
from deconflict.geometry import GeometryLimits, circle, footprint_from_geojson
from deconflict.model import (
    AltitudeBand,
    AltitudeReference,
    Notice,
    NoticeKind,
    NoticeState,
    TimeWindow,
    Volume,
)
from deconflict.theater import detect_all
from deconflict.volumes import parse_route

T0 = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
BAND = AltitudeBand(0.0, 1000.0, AltitudeReference.W84)
HOUR = TimeWindow(T0, T0 + dt.timedelta(hours=1))


def operation(notice_id: str, party: str, footprint: object) -> Notice:
    fp = footprint if not isinstance(footprint, dict) else footprint_from_geojson(footprint)
    return Notice(notice_id, party, NoticeKind.OPERATION, (Volume(fp, BAND, HOUR),))  # type: ignore[arg-type]


def test_multipolygon_with_far_apart_parts_is_still_checked_everywhere() -> None:
    # Parts near 5°E/61°N and 175°E/61°S: the footprint's bounding cap exceeds 90°,
    # and a circle straddling the 180° edge of the second part overlaps it.
    far = {
        "type": "MultiPolygon",
        "coordinates": [
            [[[0, 60], [10, 60], [10, 62], [0, 62], [0, 60]]],
            [[[170, -62], [180, -62], [180, -60], [170, -60], [170, -62]]],
        ],
    }
    probe = circle(180.0005, -61.0, 100.0)  # 100 m radius, centre ~27 m east of the edge
    assert footprint_distance_m(footprint_from_geojson(far), probe) == 0.0
    found = detect_all([operation("a", "A", far), operation("b", "B", probe)], SeparationPolicy())
    assert [(c.a, c.b) for c in found] == [("a", "b")]


def test_overlap_is_the_shared_area_of_two_squares() -> None:
    left = {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]]}
    right = {"type": "Polygon", "coordinates": [[[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]]}
    [conflict] = detect_all(
        [operation("l", "A", left), operation("r", "B", right)], SeparationPolicy()
    )
    [overlap] = conflict.overlaps
    drawn = shape(overlap.footprint)
    # The shared square is [1, 2] x [1, 2] (edges bulge by well under 1e-3 degrees).
    assert shapely.equals_exact(
        shapely.normalize(drawn.envelope),
        shapely.normalize(shapely.box(1, 1, 2, 2)),
        tolerance=1e-3,
    )
    assert overlap.distance_m == 0.0


def test_same_party_and_ended_notices_never_conflict() -> None:
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    mine, also_mine = operation("a", "A", square), operation("b", "A", square)
    assert detect_all([mine, also_mine], SeparationPolicy()) == []
    theirs = operation("c", "B", square)
    assert len(detect_all([mine, theirs], SeparationPolicy())) == 1
    for state in (NoticeState.ENDED, NoticeState.CANCELLED):
        assert detect_all([mine, replace(theirs, state=state)], SeparationPolicy()) == []


def _route(
    coords: list[list[float]],
    minutes: list[int],
    half_width: float = 50.0,
    limits: GeometryLimits | None = None,
) -> object:
    times = [(T0 + dt.timedelta(minutes=m)).isoformat() for m in minutes]
    band = AltitudeBand(None, 50.0, AltitudeReference.AGL)
    return parse_route(coords, times, half_width, band, "geometry", limits)


def test_route_with_too_many_slices_is_rejected() -> None:
    with pytest.raises(errors.InvalidValue) as caught:
        _route(
            [[36, 33], [36.01, 33]],
            [0, 60 * 24 * 30],
            limits=GeometryLimits(max_movement_slices=1000),
        )
    assert caught.value.field == "waypoint_times"


def test_route_leg_over_a_pole_is_rejected() -> None:
    with pytest.raises(errors.ContainsPole) as caught:
        _route([[0, 89.5], [180, 89.5]], [0, 600])
    assert caught.value.field == "geometry.coordinates[1]"


def test_route_leg_longer_than_a_sixty_degree_arc_is_rejected() -> None:
    with pytest.raises(errors.InvalidValue) as caught:
        _route([[0, 0], [90, 0]], [0, 600])
    assert caught.value.field == "geometry.coordinates[1]"


def test_corridor_half_width_has_a_limit() -> None:
    with pytest.raises(errors.InvalidValue) as caught:
        _route([[0, 0], [0.1, 0]], [0, 60], half_width=3e7)
    assert caught.value.field == "corridor_half_width_m"
