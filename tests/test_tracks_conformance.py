"""The batch conformance check decides exactly as the exact screen does, point by point."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deconflict.clock import FixedClock
from deconflict.config import Settings
from deconflict.disclosure import Viewer
from deconflict.engine import extents, footprint_of_core
from deconflict.geometry import Footprint, circle
from deconflict.model import (
    AltitudeBand,
    AltitudeReference,
    Buffers,
    Notice,
    NoticeKind,
    Role,
    TimeWindow,
    Volume,
)
from deconflict.screen import Candidates, screen
from deconflict.service import Service
from deconflict.store import Transaction, open_store
from deconflict.store.records import TrackPoint

T0 = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
WINDOW = {"start": "2026-06-01T11:00:00Z", "end": "2026-06-01T13:00:00Z"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    path = str(tmp_path_factory.mktemp("conf") / "s.db")
    svc = Service(open_store(path), FixedClock(T0), Settings(db=path))
    svc.accounts.add_party(None, "a", "A")
    viewer = Viewer("a", Role.MEMBER, frozenset())
    shapes = [
        {"type": "Circle", "center": [35.0, 33.0], "radius_m": 5_000},
        {"type": "Circle", "center": [35.2, 33.1], "radius_m": 800},
        {
            "type": "Polygon",
            "coordinates": [
                [[35.3, 32.9], [35.5, 32.9], [35.5, 33.05], [35.3, 33.05], [35.3, 32.9]]
            ],
        },
    ]
    for i, footprint in enumerate(shapes):
        body = {
            "kind": "operation",
            "volumes": [
                {
                    "footprint": footprint,
                    "altitude": {"lower": 500 * i, "upper": 500 * i + 2000, "reference": "AMSL"},
                    "time": WINDOW,
                }
            ],
        }
        svc.submit(viewer, body)
    yield svc
    svc.store.close()


@settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(
            st.floats(34.9, 35.6),
            st.floats(32.85, 33.2),
            st.floats(-200, 4_000),
            st.sampled_from([-120, 0, 30, 3_700]),  # seconds from T0: before, in, after
        ),
        min_size=1,
        max_size=30,
    )
)
def test_the_batch_agrees_with_the_exact_screen(
    service: Service, spec: list[tuple[float, float, float, int]]
) -> None:
    points = [
        TrackPoint("a", f"x{i}", T0 + dt.timedelta(seconds=s), lon, lat, alt - 50, alt + 50)
        for i, (lon, lat, alt, s) in enumerate(spec)
    ]
    monitor = service.tracks
    with service.store.read() as tx:
        batch = monitor._conforming(tx, points)
        one_by_one = [_conforms(service, tx, p) for p in points]
    assert batch == one_by_one


def _conforms(service: Service, tx: Transaction, p: TrackPoint) -> bool:
    """The point alone: its own index query, then the exact screen on every candidate."""
    s = service.settings
    band = AltitudeBand(
        p.alt_lo - s.conformance_vertical_m,
        p.alt_hi + s.conformance_vertical_m,
        AltitudeReference.W84,
    )
    volume = Volume(
        circle(p.lon, p.lat, s.conformance_lateral_m),
        band,
        TimeWindow(p.time, p.time + dt.timedelta(microseconds=1)),
    )
    probe = Notice("probe", "", NoticeKind.OPERATION, (volume,))
    rows = [
        r
        for r in tx.notices.candidate_volumes(extents(probe, s.policy, pad=False))
        if r[3] == p.party and r[4] == "operation"
    ]
    if not rows:
        return False
    c = Candidates.from_packed([r[5] for r in rows])

    def exact(k: int) -> Footprint:
        return footprint_of_core(c.cores[k], float(c.radius[k]))

    return bool(screen(volume, c, Buffers(0.0, 0.0, 0.0), s.policy.datum, exact).any())


def test_the_edge_of_a_circle_is_decided_within_a_metre(service: Service) -> None:
    tolerance = Settings().conformance_lateral_m
    edge = 5_000 + tolerance
    results = []
    for offset in (-1.0, 1.0):
        lat = 33.0 + math.degrees((edge + offset) / 6_371_008.8)
        point = TrackPoint("a", "edge", T0, 35.0, lat, 900.0, 1000.0)
        with service.store.read() as tx:
            results.append(service.tracks._conforming(tx, [point])[0])
    assert results == [True, False]
