"""The facade's subscription screen is conservative: it never drops what the exact test keeps.

An entity change notifies the subscriptions whose volumes meet its own. The store
first screens subscriptions by span and box (``FacadeDocs.screened``); only those
are tested exactly. Against a real SQLite store, for random pairs of circles, many
placed at touching distance and many across the antimeridian: whenever the exact
test says the two meet, the screen must have passed the subscription.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.altitude import DatumMargins
from deconflict.dss import subscriptions as subs
from deconflict.geometry import EARTH_RADIUS_M, circle
from deconflict.model import AltitudeBand, AltitudeReference, TimeWindow, Volume
from deconflict.store import Store, open_store

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
_ids = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    opened = open_store(str(Path(tmp_path_factory.mktemp("screen")) / "s.db"))
    yield opened
    opened.close()


def _volume(lon: float, lat: float, radius_m: float, start_min: int, minutes: int) -> Volume:
    start = T0 + dt.timedelta(minutes=start_min)
    return Volume(
        circle(lon, lat, radius_m),
        AltitudeBand(0.0, 100.0, AltitudeReference.W84, "m"),
        TimeWindow(start, start + dt.timedelta(minutes=minutes)),
    )


def _offset(lon: float, lat: float, distance_m: float, bearing: float) -> tuple[float, float]:
    """The point ``distance_m`` from (lon, lat) along ``bearing`` (radians), on the sphere."""
    d = distance_m / EARTH_RADIUS_M
    phi, lam = math.radians(lat), math.radians(lon)
    phi2 = math.asin(math.sin(phi) * math.cos(d) + math.cos(phi) * math.sin(d) * math.cos(bearing))
    lam2 = lam + math.atan2(
        math.sin(bearing) * math.sin(d) * math.cos(phi),
        math.cos(d) - math.sin(phi) * math.sin(phi2),
    )
    lon2 = (math.degrees(lam2) + 540.0) % 360.0 - 180.0
    return lon2, math.degrees(phi2)


@st.composite
def pairs(draw: st.DrawFn) -> tuple[Volume, Volume]:
    lon = draw(st.sampled_from([0.0, 36.0, 179.99, -179.99])) + draw(st.floats(-0.5, 0.5))
    lon = (lon + 540.0) % 360.0 - 180.0
    lat = draw(st.floats(-70.0, 70.0))
    r1 = draw(st.floats(5.0, 30_000.0))
    r2 = draw(st.floats(5.0, 30_000.0))
    # Mostly at touching distance (within a metre of it), where a tight box fails.
    gap = draw(st.one_of(st.floats(-1.5, 1.5), st.floats(-20_000.0, 20_000.0)))
    lon2, lat2 = _offset(lon, lat, max(0.0, r1 + r2 + gap), draw(st.floats(0.0, 2 * math.pi)))
    start1, start2 = draw(st.integers(0, 120)), draw(st.integers(0, 120))
    return (
        _volume(lon, lat, r1, start1, draw(st.integers(1, 90))),
        _volume(lon2, lat2, r2, start2, draw(st.integers(1, 90))),
    )


@settings(max_examples=600, deadline=None)
@given(pair=pairs())
def test_the_screen_passes_every_subscription_the_exact_test_meets(
    store: Store, pair: tuple[Volume, Volume]
) -> None:
    watched, changed = pair
    key = f"s{next(_ids)}"
    doc = {"id": key, "extents": []} | subs.extent_fields([watched])
    with store.write() as tx:
        subs.save(tx, doc)
        passed = {k for k, _ in tx.facade.screened(subs.KIND, subs.entity_screen([changed]))}
    if subs.meets([watched], [changed], DatumMargins()):
        assert key in passed, "the screen dropped a subscription the exact test meets"
