"""The disclosure grid: what another party is shown of a conflict, rounded outward.

A party outside a notice's audience learns of it through a conflict, and sees
where and when to keep clear: the 4D overlap, rounded outward to a coarse grid
so that the exact shape, band and window stay private.

- **Footprint:** the cells of a hexagonal H3 grid (default resolution 6, about
  36 km² a cell) that meet the exact overlap.
- **Altitude:** outward to whole layers (default 300 m).
- **Time:** outward to whole slots (default 15 minutes) since the epoch.

Rounding outward never hides part of the overlap, so avoidance stays safe: the
cells are found on the overlap's rings densified along their great-circle
edges, and every cell holding a densified vertex is added to those that H3
finds overlapping the polygon. The exact overlap stays in the store, for the
incident report and the ledger's commitments.

>>> grid = DisclosureGrid()
>>> round_band(1234.5, 2500.0, grid.layer_m)
(1200.0, 2700.0)
>>> t = dt.datetime(2026, 6, 1, 12, 7, 30, tzinfo=dt.UTC)
>>> [x.strftime("%H:%M") for x in round_window(t, t + dt.timedelta(minutes=1), grid.slot_s)]
['12:00', '12:15']
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import h3
import numpy as np
import shapely

from .geometry import from_plane
from .sphere import EARTH_RADIUS_M, Vectors, angle, gnomonic, lonlat_to_unit, unit_to_lonlat

__all__ = [
    "DisclosureGrid",
    "cell_around",
    "cells_area_km2",
    "cells_covering",
    "cells_geojson",
    "round_band",
    "round_distance",
    "round_window",
]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MARGIN_M = 250.0
#: Densify edges to this step, so a chord and the great-circle arc it stands for
#: differ by far less than a millimetre, whichever plane H3 tests them in.
_STEP_M = 1_000.0


@dataclass(frozen=True)
class DisclosureGrid:
    """The resolution at which another party's side of a conflict is shown."""

    #: H3 resolution of footprint cells (0 coarsest … 15 finest; 6 is about 36 km²).
    resolution: int = 6
    #: Altitude layer thickness in metres.
    layer_m: float = 300.0
    #: Time slot length in seconds.
    slot_s: float = 900.0
    #: Distances are shown rounded down to whole steps of this many metres.
    distance_step_m: float = 1_000.0

    def describe(self) -> dict[str, Any]:
        """The grid as shown beside a rounded overlap, so a reader knows its precision."""
        return {
            "h3_resolution": self.resolution,
            "altitude_layer_m": self.layer_m,
            "time_slot_s": self.slot_s,
        }


def round_band(lower: float | None, upper: float | None, layer_m: float) -> tuple[Any, Any]:
    """A band widened to whole layers; unbounded ends stay unbounded."""
    lo = None if lower is None else math.floor(lower / layer_m) * layer_m
    hi = None if upper is None else math.ceil(upper / layer_m) * layer_m
    return lo, hi


def round_window(
    start: dt.datetime, end: dt.datetime | None, slot_s: float
) -> tuple[dt.datetime, dt.datetime | None]:
    """A window widened to whole slots since the epoch; an open end stays open."""
    slot = dt.timedelta(seconds=slot_s)
    first = _EPOCH + slot * math.floor((start - _EPOCH) / slot)
    if end is None:
        return first, None
    last = _EPOCH + slot * math.ceil((end - _EPOCH) / slot)
    return first, max(last, first + slot)


def round_distance(distance_m: float, step_m: float) -> float:
    """A distance rounded down to whole steps: never further than it is."""
    return math.floor(distance_m / step_m) * step_m


def _densified(ring: Sequence[Sequence[float]]) -> Vectors:
    """A ring's vertices plus points along each great-circle edge, as unit vectors."""
    coords = np.asarray(ring, dtype=np.float64)[:, :2]
    units = lonlat_to_unit(coords[:, 0], coords[:, 1])
    a, b = units[:-1], units[1:]
    omega = angle(a, b)
    steps = np.maximum(1, np.ceil(omega * EARTH_RADIUS_M / _STEP_M)).astype(np.int64)
    edge = np.repeat(np.arange(len(a)), steps)
    first = np.cumsum(steps) - steps
    t = ((np.arange(int(steps.sum())) - first[edge]) / steps[edge])[:, None]
    w = omega[edge][:, None]
    sin_w = np.sin(w)
    apart = sin_w > 1e-12
    safe = np.where(apart, sin_w, 1.0)
    from_a = np.where(apart, np.sin((1.0 - t) * w) / safe, 1.0 - t)
    to_b = np.where(apart, np.sin(t * w) / safe, t)
    points: Vectors = from_a * a[edge] + to_b * b[edge]
    unit: Vectors = points / np.linalg.norm(points, axis=1)[:, None]
    return unit


def _polygons(geojson: dict[str, Any]) -> Iterable[list[list[list[float]]]]:
    if geojson["type"] == "Polygon":
        yield geojson["coordinates"]
    else:
        yield from geojson["coordinates"]


def cells_covering(geojson: dict[str, Any], resolution: int) -> set[str]:
    """H3 cells that together cover a GeoJSON Polygon or MultiPolygon, and a margin.

    The polygon is grown by a margin (250 m, or 2 % of its size if larger) in a
    gnomonic plane about it, where its great-circle edges are straight, and
    every cell H3 finds overlapping the grown polygon is taken, with the cells
    of its boundary points: the union covers the polygon even where the drawn
    overlap was cut in a plane that stretches it slightly.

    >>> square = {"type": "Polygon", "coordinates": [[[36, 34], [36.1, 34], [36.1, 34.1],
    ...     [36, 34.1], [36, 34]]]}
    >>> cells = cells_covering(square, 6)
    >>> len(cells) >= 3, round(cells_area_km2(cells)) > 100
    (True, True)
    """
    cells: set[str] = set()
    for rings in _polygons(geojson):
        dense = [_densified(ring) for ring in rings]
        units = np.concatenate(dense)
        centre = units.mean(axis=0)
        centre /= np.linalg.norm(centre)
        size = float(np.max(angle(units, centre)))
        # Plane distances overstate true ones away from the centre by up to 1/cos²;
        # a buffer's polygon lies inside its circle by up to cos(π/16).
        margin = max(_MARGIN_M / EARTH_RADIUS_M, 0.02 * size) / math.cos(size) ** 2
        margin /= math.cos(math.pi / 16)
        planar = [np.column_stack(gnomonic(ring, centre)) for ring in dense]
        grown = shapely.buffer(shapely.Polygon(planar[0], planar[1:]), margin, quad_segs=4)
        for part in getattr(grown, "geoms", [grown]):
            outline = [np.asarray(part.exterior.coords)]
            outline += [np.asarray(hole.coords) for hole in part.interiors]
            shape = h3.LatLngPoly(*(_latlng(from_plane(xy, centre)) for xy in outline))
            cells.update(h3.h3shape_to_cells_experimental(shape, resolution, "overlap"))
        lon, lat = unit_to_lonlat(units)
        pairs = zip(lat.tolist(), lon.tolist(), strict=True)
        cells.update(h3.latlng_to_cell(y, x, resolution) for y, x in pairs)
    return cells


def _latlng(units: Vectors) -> list[tuple[float, float]]:
    lon, lat = unit_to_lonlat(units)
    return list(zip(lat.tolist(), lon.tolist(), strict=True))


def cell_around(lon: float, lat: float, resolution: int) -> tuple[float, float, float]:
    """The circle about the cell that holds a point: its centre (lon, lat) and radius in m.

    A question asked of this circle has the same answer for every point of the
    cell, so that answers teach nothing finer than the grid.

    >>> lon, lat, radius = cell_around(36.2, 34.1, 6)
    >>> 3_500 < radius < 4_500
    True
    """
    cell = h3.latlng_to_cell(lat, lon, resolution)
    c_lat, c_lon = h3.cell_to_latlng(cell)
    centre = lonlat_to_unit([c_lon], [c_lat])[0]
    corners = np.asarray(h3.cell_to_boundary(cell))
    points = lonlat_to_unit(corners[:, 1], corners[:, 0])
    radius = float(np.max(angle(points, centre))) * EARTH_RADIUS_M
    return c_lon, c_lat, radius * 1.001 + 1.0


def cells_area_km2(cells: Iterable[str]) -> float:
    """Total area of cells, in km²."""
    return float(sum(h3.cell_area(c, "km^2") for c in cells))


def cells_geojson(cells: Iterable[str]) -> dict[str, Any] | None:
    """The union of cells as a GeoJSON MultiPolygon, for drawing."""
    cells = sorted(cells)
    if not cells:
        return None
    geo = h3.cells_to_h3shape(cells).__geo_interface__
    polygons = [geo["coordinates"]] if geo["type"] == "Polygon" else geo["coordinates"]
    return {
        "type": "MultiPolygon",
        "coordinates": [
            [[[round(x, 7), round(y, 7)] for x, y in ring] for ring in polygon]
            for polygon in polygons
        ],
    }
