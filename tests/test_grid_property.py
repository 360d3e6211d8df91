"""Rounding to the disclosure grid never hides part of an overlap: a property test.

Random pairs of footprints (circles and squares, near the antimeridian and at
high latitudes, with and without a lateral buffer) are cut as the service cuts
them, rounded to the grid, and checked against points drawn inside the exact
overlap on the sphere: every such point lies in a shown cell.
"""

from __future__ import annotations

import datetime as dt
import math
import random

import h3
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.conflicts import SeparationPolicy, footprint_distance_m
from deconflict.disclosure import rounded_overlap
from deconflict.geometry import Footprint, circle, footprint_from_geojson
from deconflict.grid import DisclosureGrid
from deconflict.model import (
    AltitudeBand,
    AltitudeReference,
    Buffers,
    Notice,
    NoticeKind,
    TimeWindow,
    Volume,
)
from deconflict.theater import detect_all

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
GRID = DisclosureGrid()


def _footprint(lon: float, lat: float, size_m: float, square: bool) -> Footprint:
    if not square:
        return circle(lon, lat, size_m)
    dlat = size_m / 111_195.0
    dlon = dlat / math.cos(math.radians(lat))
    ring = [[lon - dlon, lat - dlat], [lon + dlon, lat - dlat], [lon + dlon, lat + dlat]]
    ring += [[lon - dlon, lat + dlat], ring[0]]
    wrapped = [[(x + 180.0) % 360.0 - 180.0, y] for x, y in ring]
    return footprint_from_geojson({"type": "Polygon", "coordinates": [wrapped]})


def _notice(party: str, kind: NoticeKind, fp: Footprint) -> Notice:
    band = AltitudeBand(0.0, 1_000.0, AltitudeReference.W84)
    window = TimeWindow(T0, T0 + dt.timedelta(hours=2))
    return Notice(f"n-{party}", party, kind, (Volume(fp, band, window),))


@settings(max_examples=150, deadline=None)
@given(
    lon=st.one_of(st.floats(-180.0, 180.0), st.floats(179.0, 180.0), st.floats(-180.0, -179.0)),
    lat=st.one_of(st.floats(-70.0, 70.0), st.floats(75.0, 86.0)),
    size_a=st.floats(800.0, 30_000.0),
    size_b=st.floats(800.0, 30_000.0),
    square_a=st.booleans(),
    square_b=st.booleans(),
    bearing=st.floats(0.0, 2 * math.pi),
    apart=st.floats(0.0, 1.3),
    protection=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_point_of_the_overlap_lies_in_a_shown_cell(
    lon: float,
    lat: float,
    size_a: float,
    size_b: float,
    square_a: bool,
    square_b: bool,
    bearing: float,
    apart: float,
    protection: bool,
    seed: int,
) -> None:
    distance = apart * (size_a + size_b)
    dlat = distance * math.cos(bearing) / 111_195.0
    dlon = distance * math.sin(bearing) / (111_195.0 * math.cos(math.radians(lat)))
    lon_b = (lon + dlon + 180.0) % 360.0 - 180.0
    a = _footprint(lon, lat, size_a, square_a)
    b = _footprint(lon_b, lat + dlat, size_b, square_b)
    lateral = 5_556.0 if protection else 0.0
    policy = SeparationPolicy(protection=Buffers(lateral, 0.0, 0.0))
    kind_b = NoticeKind.PROTECTED if protection else NoticeKind.OPERATION
    found = detect_all([_notice("a", NoticeKind.OPERATION, a), _notice("b", kind_b, b)], policy)
    if not found:
        return
    (conflict,) = found
    view, exposure = rounded_overlap(conflict, GRID)
    cells = set(view["cells"])
    assert exposure > 0 or not cells
    # Points drawn across a's box; those in the exact overlap must lie in a shown cell.
    rng = random.Random(seed)
    box = a.bbox
    span = (box.east - box.west) % 360.0 if box.wraps else box.east - box.west
    missed = []
    for _ in range(300):
        x = (box.west + rng.random() * span + 180.0) % 360.0 - 180.0
        y = box.south + rng.random() * (box.north - box.south)
        point = circle(x, y, 0.01)
        if footprint_distance_m(point, a) > 0.0:
            continue
        if footprint_distance_m(point, b) > lateral:
            continue
        if h3.latlng_to_cell(y, x, GRID.resolution) not in cells:
            missed.append((x, y))
    assert not missed, f"{len(missed)} points of the overlap outside the cells: {missed[:3]}"
