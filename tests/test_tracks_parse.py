"""The quick path through a batch of reports accepts only what the strict path accepts, as is."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict import errors
from deconflict.config import Settings
from deconflict.tracks import _Reading

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
STAMPS = [
    "2026-06-01T12:00:00Z",
    "2026-06-01T11:59:59+00:00",
    "2026-06-01T13:00:00Z",
    "2026-05-30T00:00:00Z",
    "soon",
    5,
]

_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-200, 200),
    st.integers(-300, 300),
    st.booleans(),
    st.none(),
    st.text(max_size=2),
)
_altitude = st.fixed_dictionaries(
    {"value": _numbers},
    optional={
        "reference": st.sampled_from(["W84", "AMSL", "AGL", "FL", "w84", None]),
        "units": st.sampled_from(["m", "ft", "M", None]),
        "extra": st.just(1),
    },
)
_velocity = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={"east": _numbers, "north": _numbers, "up": _numbers, "speed": st.just(1.0)},
    ),
    st.just([1, 2, 3]),
)
_report = st.one_of(
    st.fixed_dictionaries(
        {
            "aircraft": st.one_of(st.text(min_size=0, max_size=70), st.integers()),
            "time": st.sampled_from(STAMPS),
            "lon": _numbers,
            "lat": _numbers,
            "altitude": st.one_of(_altitude, st.just("high")),
        },
        optional={"velocity": _velocity, "heading": st.just(90)},
    ),
    st.just([]),
)


def _strict(reading: _Reading, report: Any) -> Any:
    try:
        return reading.strict(report, "reports[0]")
    except errors.DeconflictError as error:
        return type(error)


@settings(max_examples=3000, derandomize=True, deadline=None)
@given(st.lists(_report, min_size=1, max_size=4))
def test_the_quick_path_agrees_with_the_strict_one(reports: list[Any]) -> None:
    reading = _Reading("p", NOW, Settings())
    for report in reports:
        expected = _strict(reading, report)  # also teaches the reading the report's instant
        quick = reading.quick(report)
        if quick is not None:
            assert quick == expected
            assert all(type(v) is float for v in (quick.lon, quick.lat, quick.alt_lo, quick.east))
