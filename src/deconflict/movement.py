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

import numpy as np

from . import errors
from .geometry import GeometryLimits, corridor
from .model import Route, TimeWindow, Volume
from .sphere import EARTH_RADIUS_M, angle, lonlat_to_unit, point_arc_distance, slerp

__all__ = ["MAX_SLICE_M", "MAX_SLICE_S", "check_route", "slices"]

MAX_SLICE_S = 60.0
MAX_SLICE_M = 1_000.0


_MAX_LEG_DEG = 60.0
_POLES = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]])


def _slice_count(seconds: float, metres: float) -> int:
    return max(1, math.ceil(seconds / MAX_SLICE_S), math.ceil(metres / MAX_SLICE_M))


def check_route(route: Route, limits: GeometryLimits, field_name: str) -> None:
    """Reject routes whose corridors would be ambiguous, polar or unreasonably many."""
    if route.half_width_m > limits.max_corridor_half_width_m:
        raise errors.InvalidValue(
            f"corridor_half_width_m exceeds {limits.max_corridor_half_width_m:g} m",
            field="corridor_half_width_m",
        )
    points = lonlat_to_unit([p[0] for p in route.waypoints], [p[1] for p in route.waypoints])
    total = 0
    for leg in range(len(points) - 1):
        a, b = points[leg], points[leg + 1]
        leg_field = f"{field_name}.coordinates[{leg + 1}]"
        length = float(angle(a, b))
        if math.degrees(length) > _MAX_LEG_DEG:
            raise errors.InvalidValue(
                f"a route leg may not exceed {_MAX_LEG_DEG:.0f}° of arc", field=leg_field
            )
        near_pole = point_arc_distance(_POLES, a[None], b[None]).min() * EARTH_RADIUS_M
        if near_pole <= route.half_width_m:
            raise errors.ContainsPole("the corridor reaches a pole", field=leg_field)
        seconds = (route.times[leg + 1] - route.times[leg]).total_seconds()
        total += _slice_count(seconds, length * EARTH_RADIUS_M)
    if total > limits.max_movement_slices:
        raise errors.InvalidValue(
            f"the movement needs {total} slices; the limit is {limits.max_movement_slices} "
            f"(one per {MAX_SLICE_S:g} s or {MAX_SLICE_M:g} m of travel)",
            field="waypoint_times",
        )


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
        count = _slice_count(seconds, metres)
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
