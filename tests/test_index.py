"""The prefilter is conservative: it returns every volume the exact test could accept."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.conflicts import footprint_distance_m
from deconflict.geometry import circle, footprint_from_geojson
from deconflict.index import BoxIndex
from deconflict.sphere import EARTH_RADIUS_M, lonlat_to_unit, slerp, unit_to_lonlat


def test_bbox_includes_the_poleward_bulge_of_an_edge() -> None:
    # Two vertices at 80°N, 20° of longitude apart: the great-circle edge between them
    # reaches about 80.15°N midway, north of both vertices.
    square = footprint_from_geojson(
        {"type": "Polygon", "coordinates": [[[0, 79], [20, 79], [20, 80], [0, 80], [0, 79]]]}
    )
    a, b = lonlat_to_unit([20.0, 0.0], [80.0, 80.0])
    _, apex_lat = unit_to_lonlat(slerp(a, b, [0.5]))
    assert float(apex_lat[0]) > 80.14
    assert square.bbox.north >= float(apex_lat[0])
    # A small circle just under the bulge, north of every vertex, overlaps the polygon.
    probe = circle(10.0, 80.1, 200.0)
    assert footprint_distance_m(square, probe) == 0.0
    assert list(BoxIndex([square.bbox]).query(probe.bbox)) == [0]


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(
    lat=st.floats(55.0, 84.0),
    lon=st.floats(-180.0, 180.0),
    width=st.floats(0.5, 25.0),
    depth=st.floats(0.05, 1.0),
    fraction=st.floats(0.0, 1.0),
    beyond_m=st.floats(-500.0, 3000.0),
    pad_m=st.sampled_from([0.0, 1000.0, 5556.0]),
)
def test_index_never_drops_a_footprint_within_the_pad(
    lat: float,
    lon: float,
    width: float,
    depth: float,
    fraction: float,
    beyond_m: float,
    pad_m: float,
) -> None:
    """Probes placed near the northern edge of wide high-latitude boxes are found."""
    west, east = lon, lon + width
    ring = [[west, lat - depth], [east, lat - depth], [east, lat], [west, lat], [west, lat - depth]]
    polygon = footprint_from_geojson({"type": "Polygon", "coordinates": [ring]})
    a, b = lonlat_to_unit([east, west], [lat, lat])
    edge_point = slerp(a, b, [fraction])[0]
    p_lon, p_lat = unit_to_lonlat(edge_point[None])
    north_m = max(1.0, beyond_m + pad_m)
    probe_lat = float(p_lat[0]) + math.degrees(north_m / EARTH_RADIUS_M)
    if probe_lat >= 89.0:
        return
    probe = circle(float(p_lon[0]), probe_lat, 50.0)
    distance = footprint_distance_m(polygon, probe)
    hits = BoxIndex([polygon.bbox]).query(probe.bbox, pad_m)
    if distance <= pad_m:
        assert list(hits) == [0], f"dropped a footprint {distance:.1f} m away with pad {pad_m}"
