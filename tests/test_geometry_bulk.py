"""Polygons parsed in bulk are exactly the polygons the one-at-a-time parser makes.

``polygons_in_bulk`` takes simple one-ring Polygons many at a time and declines
anything else; a declined one goes to ``footprint_from_geojson``, which accepts
it or raises its own error. So the bulk path must never accept what the parser
refuses, and what it accepts must equal the parser's footprint. Random rings
(valid, self-crossing, around a pole, across the antimeridian, with repeated
vertices, unclosed, with JSON booleans, strings or altitudes in positions) and a
whole file through ``notices_from_geojson`` check both.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from deconflict import errors
from deconflict.geometry import Footprint, GeometryLimits, footprint_from_geojson, polygons_in_bulk
from deconflict.interchange import notices_from_geojson

LIMITS = GeometryLimits()


def _ring(rng: np.random.Generator) -> list[list[Any]]:
    sides = int(rng.integers(3, 9))
    lon0 = float(rng.choice([rng.uniform(-180, 180), 179.9, -179.9, 0.0]))
    lat0 = float(rng.choice([rng.uniform(-80, 80), 89.9, -89.9, 0.5]))
    size = float(rng.choice([0.01, 0.3, 2.0, 50.0]))
    if rng.random() < 0.8:  # a star about the centre: simple
        az = np.arange(sides) * 2 * math.pi / sides
    else:  # anything: may cross itself
        az = rng.uniform(0, 2 * math.pi, sides)
    lons = lon0 + size * np.sin(az) / max(math.cos(math.radians(lat0)), 0.05)
    lats = np.clip(lat0 + size * np.cos(az), -90, 90)
    ring: list[list[Any]] = [[float(x), float(y)] for x, y in zip(lons, lats, strict=True)]
    ring.append(list(ring[0]))
    spoil = rng.random()
    if spoil < 0.05:
        ring[1] = [True, ring[1][1]]
    elif spoil < 0.08:
        ring[2] = [ring[2][0], "north"]
    elif spoil < 0.11:
        ring = [[x, y, 100.0] for x, y in ring]
    elif spoil < 0.15:
        ring.insert(2, list(ring[1]))  # a repeated vertex, which the parser drops
    elif spoil < 0.18:
        ring[-1] = [ring[-1][0] + 0.5, ring[-1][1]]  # unclosed
    elif spoil < 0.2:
        ring = [[round(x), round(y)] for x, y in ring]  # integers, some 0 or 1
    return ring


def _same(a: Footprint, b: Footprint) -> None:
    assert np.array_equal(a.edge_a, b.edge_a) and np.array_equal(a.edge_b, b.edge_b)
    assert np.allclose(a.center, b.center, rtol=0, atol=1e-15)
    assert a.cap == pytest.approx(b.cap, abs=1e-15)
    assert a.area_m2 == pytest.approx(b.area_m2, rel=1e-9)
    box_a = (a.bbox.west, a.bbox.south, a.bbox.east, a.bbox.north)
    box_b = (b.bbox.west, b.bbox.south, b.bbox.east, b.bbox.north)
    assert box_a == pytest.approx(box_b, abs=1e-12)
    assert a.geojson == b.geojson
    assert a.core.equals_exact(b.core, 0.0)
    assert [
        p.plane.equals_exact(q.plane, 1e-12) for p, q in zip(a.parts, b.parts, strict=True)
    ] == [True]


@pytest.mark.parametrize("seed", range(4))
def test_bulk_polygons_equal_the_parsers_and_refuse_what_it_refuses(seed: int) -> None:
    rng = np.random.default_rng(seed)
    objs: list[Any] = [{"type": "Polygon", "coordinates": [_ring(rng)]} for _ in range(800)]
    objs += [{"type": "MultiPolygon", "coordinates": [objs[0]["coordinates"]]}, None, 5]
    bulk = polygons_in_bulk(objs, LIMITS)
    taken = refused = 0
    for obj, fast in zip(objs, bulk, strict=True):
        try:
            slow = footprint_from_geojson(obj, LIMITS)
        except errors.DeconflictError:
            assert fast is None, f"the bulk path accepted what the parser refuses: {obj}"
            refused += 1
            continue
        if fast is not None:
            _same(slow, fast)
            taken += 1
    assert taken > 150 and refused > 30, (taken, refused)


def _file(rings: list[list[list[Any]]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "notice_id": f"n{k}",
                    "party": f"p{k % 3}",
                    "kind": "operation",
                    "altitude": {"lower": 0, "upper": 100, "reference": "W84"},
                    "time": {"start": "2026-06-01T00:00:00Z", "end": "2026-06-01T01:00:00Z"},
                },
            }
            for k, ring in enumerate(rings)
        ],
    }


def test_a_file_names_its_first_bad_feature_as_before() -> None:
    rng = np.random.default_rng(9)
    rings = [_ring(rng) for _ in range(300)]
    first_bad = None
    for k, ring in enumerate(rings):
        try:
            footprint_from_geojson({"type": "Polygon", "coordinates": [ring]}, LIMITS)
        except errors.DeconflictError as exc:
            first_bad = (k, exc.code, exc.message)
            break
    assert first_bad is not None
    with pytest.raises(errors.DeconflictError) as raised:
        notices_from_geojson(_file(rings))
    k, code, message = first_bad
    assert raised.value.field is not None
    assert raised.value.field.startswith(f"features[{k}].geometry")
    assert (raised.value.code, raised.value.message) == (code, message)
    good = [r for r in rings if _parses(r)]
    notices = notices_from_geojson(_file(good))
    for notice, ring in zip(notices, good, strict=True):
        _same(
            footprint_from_geojson({"type": "Polygon", "coordinates": [ring]}),
            notice.volumes[0].footprint,
        )


def _parses(ring: list[list[Any]]) -> bool:
    try:
        footprint_from_geojson({"type": "Polygon", "coordinates": [ring]}, LIMITS)
    except errors.DeconflictError:
        return False
    return True
