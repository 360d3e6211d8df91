"""Movements expand into time-sliced corridor volumes.

A convoy travels each leg at constant speed. Each slice covers at most
:data:`MAX_SLICE_S` seconds and :data:`MAX_SLICE_M` metres of travel, and its
footprint is every point within the corridor half-width of the stretch of road
travelled during the slice. At any instant of the slice the convoy is on that
stretch, so the slices are conservative, and a place the convoy passed an hour
ago is no longer protected.

>>> import datetime as dt
>>> from deconflict.model import AltitudeBand, AltitudeReference, Route
>>> t0 = dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC)
>>> band = AltitudeBand(None, 100.0, AltitudeReference.AGL)
>>> route = Route(((36.0, 33.0), (36.1, 33.0)), (t0, t0 + dt.timedelta(minutes=10)), 50.0, band)
>>> len(slices(route))   # 9.3 km in 10 min: 1 km pieces are the tighter bound
10
"""

from __future__ import annotations

import datetime as dt
import math

from .geometry import corridor
from .model import Route, TimeWindow, Volume
from .sphere import EARTH_RADIUS_M, angle, lonlat_to_unit, slerp

__all__ = ["MAX_SLICE_M", "MAX_SLICE_S", "slices"]

MAX_SLICE_S = 60.0
MAX_SLICE_M = 1_000.0


def slices(route: Route) -> tuple[Volume, ...]:
    """The corridor volumes that protect a movement, in time order."""
    lons = [p[0] for p in route.waypoints]
    lats = [p[1] for p in route.waypoints]
    points = lonlat_to_unit(lons, lats)
    out: list[Volume] = []
    for leg in range(len(points) - 1):
        a, b = points[leg], points[leg + 1]
        t0, t1 = route.times[leg], route.times[leg + 1]
        seconds = (t1 - t0).total_seconds()
        metres = float(angle(a, b)) * EARTH_RADIUS_M
        count = max(1, math.ceil(seconds / MAX_SLICE_S), math.ceil(metres / MAX_SLICE_M))
        fractions = [i / count for i in range(count + 1)]
        positions = slerp(a, b, fractions)
        instants = [t0 + dt.timedelta(seconds=seconds * f) for f in fractions[:-1]] + [t1]
        for i in range(count):
            out.append(
                Volume(
                    corridor(positions[i], positions[i + 1], route.half_width_m),
                    route.altitude,
                    TimeWindow(instants[i], instants[i + 1]),
                )
            )
    return tuple(out)
