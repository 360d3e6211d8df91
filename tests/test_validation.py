"""Bad input is rejected with the right error class, code and the exact field path.

Each test goes through a public parser, as a user's document would, and checks the
three things a user relies on to fix the input: the error class, its stable
``code`` and the ``field`` path that names the bad value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from deconflict import errors
from deconflict.geometry import GeometryLimits, footprint_from_geojson
from deconflict.interchange import notices_from_geojson
from deconflict.volumes import parse_altitude, parse_time_window, parse_volume

NAN = float("nan")
INF = float("inf")

# The mean Earth radius the design's sphere model uses, in km.
_EARTH_RADIUS_KM = 6_371.0088


def _expect(
    error: type[errors.DeconflictError],
    code: str,
    field: str,
    parse: Callable[..., Any],
    *args: Any,
    **kwargs: Any,
) -> errors.DeconflictError:
    """Run ``parse`` and check that it raises exactly ``error`` naming ``field``."""
    with pytest.raises(errors.DeconflictError) as caught:
        parse(*args, **kwargs)
    exc = caught.value
    assert type(exc) is error, f"{type(exc).__name__}: {exc.message} (field {exc.field})"
    assert exc.code == code
    assert exc.field == field
    return exc


def _box(west: float, south: float, east: float, north: float) -> list[list[float]]:
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


def _polygon(*rings: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def _multipolygon(*polygons: list[list[list[float]]]) -> dict[str, Any]:
    return {"type": "MultiPolygon", "coordinates": list(polygons)}


def _circle(center: list[Any], radius_m: Any) -> dict[str, Any]:
    return {"type": "Circle", "center": center, "radius_m": radius_m}


def _altitude(**changes: Any) -> dict[str, Any]:
    return {"lower": 0, "upper": 120, "reference": "W84", "units": "m", **changes}


def _time(**changes: Any) -> dict[str, Any]:
    return {"start": "2026-05-01T10:00:00Z", "end": "2026-05-01T11:00:00Z", **changes}


def _feature(geometry: dict[str, Any], **changes: Any) -> dict[str, Any]:
    properties = {
        "notice_id": "op-1",
        "party": "alpha",
        "kind": "operation",
        "altitude": _altitude(),
        "time": _time(),
        **changes,
    }
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


_SQUARE = _box(0.0, 0.0, 1.0, 1.0)
_GOOD = _feature(_polygon(_SQUARE), notice_id="good", party="bravo")


# --- polygons ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("geometry", "field"),
    [
        # (0,0)→(1,1)→(1,0)→(0,1): the two diagonals cross at (0.5, 0.5).
        (_polygon([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]), "footprint.coordinates"),
        (
            _multipolygon([_SQUARE], [[[5, 0], [6, 1], [6, 0], [5, 1], [5, 0]]]),
            "footprint.coordinates[1]",
        ),
    ],
    ids=["polygon", "second-part-of-multipolygon"],
)
def test_bow_tie_is_a_self_intersection(geometry: dict[str, Any], field: str) -> None:
    _expect(errors.SelfIntersection, "self_intersection", field, footprint_from_geojson, geometry)


@pytest.mark.parametrize(
    ("geometry", "field"),
    [
        (_polygon([[0, 0], [1, 0], [0, 0]]), "footprint.coordinates[0]"),
        (_polygon(_SQUARE, [[0.2, 0.2], [0.4, 0.2], [0.2, 0.2]]), "footprint.coordinates[1]"),
        (_multipolygon([_SQUARE], [[[5, 0], [6, 0], [5, 0]]]), "footprint.coordinates[1][0]"),
        # Four positions, but only two distinct vertices: no area to speak of.
        (_polygon([[0, 0], [1, 0], [1, 0], [0, 0]]), "footprint.coordinates[0]"),
    ],
    ids=["outer-ring", "hole", "multipolygon-part", "repeated-vertex"],
)
def test_ring_with_fewer_than_four_positions(geometry: dict[str, Any], field: str) -> None:
    _expect(errors.RingTooShort, "ring_too_short", field, footprint_from_geojson, geometry)


@pytest.mark.parametrize(
    ("geometry", "field"),
    [
        (_polygon([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0.5]]), "footprint.coordinates[0]"),
        (
            _polygon(_SQUARE, [[0.2, 0.2], [0.4, 0.2], [0.4, 0.4], [0.2, 0.3]]),
            "footprint.coordinates[1]",
        ),
    ],
    ids=["outer-ring", "hole"],
)
def test_ring_not_closed(geometry: dict[str, Any], field: str) -> None:
    _expect(errors.RingNotClosed, "ring_not_closed", field, footprint_from_geojson, geometry)


@pytest.mark.parametrize("bad", [NAN, INF, -INF], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda v: _polygon([[0, 0], [v, 0], [1, 1], [0, 1], [0, 0]]), "coordinates[0][1][0]"),
        (lambda v: _polygon([[0, 0], [1, 0], [1, v], [0, 1], [0, 0]]), "coordinates[0][2][1]"),
        (lambda v: _circle([10.0, v], 500), "center[1]"),
    ],
    ids=["polygon-longitude", "polygon-latitude", "circle-latitude"],
)
def test_non_finite_coordinate(make: Callable[[float], Any], field: str, bad: float) -> None:
    _expect(errors.NotFinite, "not_finite", f"footprint.{field}", footprint_from_geojson, make(bad))


@pytest.mark.parametrize("lat", [90.5, -91.0, 180.0])
@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda lat: _polygon([[0, 0], [1, 0], [1, lat], [0, 1], [0, 0]]), "coordinates[0][2][1]"),
        (lambda lat: _circle([10.0, lat], 500), "center[1]"),
    ],
    ids=["polygon", "circle"],
)
def test_latitude_out_of_range(make: Callable[[float], Any], field: str, lat: float) -> None:
    _expect(
        errors.LatitudeOutOfRange,
        "latitude_out_of_range",
        f"footprint.{field}",
        footprint_from_geojson,
        make(lat),
    )


def test_too_many_vertices() -> None:
    # A closed square has 5 positions but 4 vertices: the closing repeat is not counted.
    square = _polygon(_SQUARE)
    _expect(
        errors.TooManyVertices,
        "too_many_vertices",
        "footprint.coordinates",
        footprint_from_geojson,
        square,
        GeometryLimits(max_vertices=3),
    )
    assert len(footprint_from_geojson(square, GeometryLimits(max_vertices=4)).vertices) == 4


def test_too_many_vertices_counts_holes_and_parts() -> None:
    # 4 (outer) + 4 (hole) + 4 (second part) = 12 vertices.
    hole = _box(0.2, 0.2, 0.4, 0.4)
    geometry = _multipolygon([_SQUARE, hole], [_box(5, 0, 6, 1)])
    _expect(
        errors.TooManyVertices,
        "too_many_vertices",
        "footprint.coordinates",
        footprint_from_geojson,
        geometry,
        GeometryLimits(max_vertices=11),
    )
    footprint_from_geojson(geometry, GeometryLimits(max_vertices=12))


def test_area_over_the_configured_limit() -> None:
    # A 1° × 1° box on the equator: R²·Δλ·(sin 1° − sin 0°) ≈ 12,364 km² (the great-circle
    # top edge bulges north by 0.00004°, which adds far less than 1 km²).
    square = _polygon(_SQUARE)
    _expect(
        errors.AreaTooLarge,
        "area_too_large",
        "footprint",
        footprint_from_geojson,
        square,
        GeometryLimits(max_area_km2=12_000),
    )
    accepted = footprint_from_geojson(square, GeometryLimits(max_area_km2=12_500))
    assert accepted.area_m2 / 1e6 == pytest.approx(12_364, rel=1e-3)


def test_circle_area_over_the_configured_limit() -> None:
    # A 10 km circle covers about π·10² = 314.2 km².
    disc = _circle([10.0, 45.0], 10_000)
    _expect(
        errors.AreaTooLarge,
        "area_too_large",
        "footprint",
        footprint_from_geojson,
        disc,
        GeometryLimits(max_area_km2=300),
    )
    footprint_from_geojson(disc, GeometryLimits(max_area_km2=320))


@pytest.mark.parametrize("radius", [0, 0.0, -0.0, -5, -1e6], ids=str)
def test_radius_not_positive(radius: float) -> None:
    _expect(
        errors.RadiusNotPositive,
        "radius_not_positive",
        "footprint.radius_m",
        footprint_from_geojson,
        _circle([10.0, 45.0], radius),
    )


@pytest.mark.parametrize(
    "geometry",
    [
        # Smallest longitude interval covering 1° squares at 0°, 120° and −120° is 241°.
        _multipolygon([_box(0, 0, 1, 1)], [_box(120, 0, 121, 1)], [_box(-120, 0, -119, 1)]),
        # A band between 80° N and 85° N from 0° E to 200° E: it does not go round the pole,
        # but it spans 200° of longitude.
        _polygon(
            [[lon, 85] for lon in range(0, 201, 50)]
            + [[lon, 80] for lon in range(200, -1, -50)]
            + [[0, 85]]
        ),
        # 0°..1° and 179.5°..180.5°: the covering interval is 180.5°.
        _multipolygon([_box(0, 0, 1, 1)], [_box(179.5, 0, 180.5, 1)]),
    ],
    ids=["three-parts", "high-latitude-band", "just-over"],
)
def test_longitude_span_over_180(geometry: dict[str, Any]) -> None:
    _expect(
        errors.LongitudeSpanTooLarge,
        "longitude_span_too_large",
        "footprint.coordinates",
        footprint_from_geojson,
        geometry,
    )


def test_longitude_span_under_180_is_accepted() -> None:
    # 0°..1° and 169°..170°: the covering interval is 170°.
    footprint = footprint_from_geojson(_multipolygon([_box(0, 0, 1, 1)], [_box(169, 0, 170, 1)]))
    assert (footprint.bbox.west, footprint.bbox.east) == (0.0, 170.0)


@pytest.mark.parametrize(
    ("geometry", "field"),
    [
        (_polygon([[0, 80], [90, 80], [180, 80], [-90, 80], [0, 80]]), "footprint.coordinates[0]"),
        (
            _polygon([[0, -80], [-90, -80], [180, -80], [90, -80], [0, -80]]),
            "footprint.coordinates[0]",
        ),
        # A vertex on the pole itself.
        (_polygon([[0, 80], [90, 80], [45, 90], [0, 80]]), "footprint.coordinates[0]"),
        # Each long edge joins meridians 180° apart, so it runs over the pole.
        (_polygon([[0, 80], [180, 80], [180, 70], [0, 70], [0, 80]]), "footprint.coordinates[0]"),
        (
            _multipolygon([_SQUARE], [[[0, 85], [120, 85], [-120, 85], [0, 85]]]),
            "footprint.coordinates[1][0]",
        ),
    ],
    ids=["north", "south", "vertex-on-pole", "edge-over-pole", "multipolygon-part"],
)
def test_polygon_containing_a_pole(geometry: dict[str, Any], field: str) -> None:
    _expect(errors.ContainsPole, "contains_pole", field, footprint_from_geojson, geometry)


@pytest.mark.parametrize("lat", [89.99, -89.99, 90.0])
def test_circle_containing_a_pole(lat: float) -> None:
    # 0.01° of latitude is about 1.1 km from the pole: a 5 km circle covers it.
    _expect(
        errors.ContainsPole,
        "contains_pole",
        "footprint.center",
        footprint_from_geojson,
        _circle([0.0, lat], 5_000),
    )


def test_circle_near_but_clear_of_a_pole_is_accepted() -> None:
    # 0.1° of latitude is about 11.1 km from the pole, beyond a 5 km radius.
    footprint = footprint_from_geojson(_circle([0.0, 89.9], 5_000))
    assert footprint.bbox.north < 90.0


@pytest.mark.parametrize(
    ("geometry", "field"),
    [
        (_polygon([[0, 0], [1, 0], [1, "1"], [0, 1], [0, 0]]), "footprint.coordinates[0][2][1]"),
        (_polygon([["0", 0], [1, 0], [1, 1], [0, 1], [0, 0]]), "footprint.coordinates[0][0][0]"),
        (_polygon([[0, 0], [True, 0], [1, 1], [0, 1], [0, 0]]), "footprint.coordinates[0][1][0]"),
        (_polygon([[0, 0], [1, 0], [1, 1], [0, False], [0, 0]]), "footprint.coordinates[0][3][1]"),
        (_circle(["10", 45], 500), "footprint.center[0]"),
        (_circle([10, 45], "500"), "footprint.radius_m"),
        (_circle([10, 45], True), "footprint.radius_m"),
    ],
    ids=[
        "latitude-string",
        "longitude-string",
        "longitude-bool",
        "latitude-bool",
        "center-string",
        "radius-string",
        "radius-bool",
    ],
)
def test_wrong_type_in_a_footprint(geometry: dict[str, Any], field: str) -> None:
    _expect(errors.WrongType, "wrong_type", field, footprint_from_geojson, geometry)


@pytest.mark.parametrize(
    ("altitude", "field"),
    [
        (_altitude(lower="100"), "altitude.lower"),
        (_altitude(upper="120"), "altitude.upper"),
        (_altitude(lower=True), "altitude.lower"),
        (_altitude(upper=False), "altitude.upper"),
    ],
    ids=["lower-string", "upper-string", "lower-bool", "upper-bool"],
)
def test_wrong_type_in_an_altitude(altitude: dict[str, Any], field: str) -> None:
    _expect(errors.WrongType, "wrong_type", field, parse_altitude, altitude, "altitude")


@pytest.mark.parametrize(
    ("window", "field"),
    [
        (_time(start=1_777_629_600), "time.start"),
        (_time(end=True), "time.end"),
    ],
    ids=["start-number", "end-bool"],
)
def test_wrong_type_in_a_time_window(window: dict[str, Any], field: str) -> None:
    _expect(errors.WrongType, "wrong_type", field, parse_time_window, window, "time")


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [0, 0]},
        {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
        {"type": "polygon", "coordinates": [_SQUARE]},
        {"type": "GeometryCollection", "geometries": []},
        {"coordinates": [_SQUARE]},
    ],
    ids=["point", "linestring", "lowercase-polygon", "geometry-collection", "no-type"],
)
def test_unsupported_geometry_type(geometry: dict[str, Any]) -> None:
    _expect(
        errors.UnsupportedGeometry,
        "unsupported_geometry",
        "footprint.type",
        footprint_from_geojson,
        geometry,
    )


# --- positive cases a user would notice ----------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normalised"),
    [(190.0, -170.0), (-190.0, 170.0), (370.0, 10.0), (-180.0, 180.0), (540.0, 180.0)],
)
def test_circle_longitude_is_normalised(given: float, normalised: float) -> None:
    footprint = footprint_from_geojson(_circle([given, 10.0], 5_000))
    assert footprint.geojson["center"] == [normalised, 10.0]


def test_polygon_longitudes_like_190_are_normalised_to_minus_170() -> None:
    footprint = footprint_from_geojson(_polygon(_box(190, 0, 191, 1)))
    assert footprint.geojson["coordinates"][0][0] == [-170.0, 0.0]
    assert (footprint.bbox.west, footprint.bbox.east) == (-170.0, -169.0)
    assert not footprint.bbox.wraps


def test_multipolygon_split_at_the_antimeridian_is_one_footprint() -> None:
    # RFC 7946 §3.1.9: a 2° × 1° box centred on 180° written as two parts.
    split = _multipolygon([_box(179, 0, 180, 1)], [_box(-180, 0, -179, 1)])
    footprint = footprint_from_geojson(split)
    assert footprint.bbox.west == 179.0
    assert footprint.bbox.east == -179.0
    assert footprint.bbox.west > footprint.bbox.east
    assert footprint.bbox.wraps
    # Both halves count: R²·Δλ·(sin 1° − sin 0°) with Δλ = 2° ≈ 24,728 km².
    expected_km2 = _EARTH_RADIUS_KM**2 * math.radians(2.0) * math.sin(math.radians(1.0))
    assert footprint.area_m2 / 1e6 == pytest.approx(expected_km2, rel=1e-3)


@pytest.mark.parametrize(
    ("altitude", "metres"),
    [
        (_altitude(lower=100, upper=100), 100.0),
        (_altitude(lower=400, upper=400, units="ft"), 400 * 0.3048),
        (_altitude(lower=50, upper=50, reference="FL"), 50 * 100 * 0.3048),
    ],
    ids=["metres", "feet", "flight-level"],
)
def test_zero_thickness_altitude_band_is_accepted(altitude: dict[str, Any], metres: float) -> None:
    band = parse_altitude(altitude, "altitude")
    assert band.lower_m == band.upper_m == pytest.approx(metres)


def test_protected_notice_may_omit_the_time_end() -> None:
    site = _feature(
        {"type": "Point", "coordinates": [36.3, 33.5]},
        notice_id="hospital",
        kind="protected",
        category="medical",
        radius_m=300,
        time={"start": "2026-05-01T00:00:00Z"},
    )
    [notice] = notices_from_geojson(_collection(site))
    assert notice.volumes[0].time.end is None


@pytest.mark.parametrize(
    "window", [{"start": "2026-05-01T10:00:00Z"}, {"start": "2026-05-01T10:00:00Z", "end": None}]
)
def test_operation_may_not_omit_the_time_end(window: dict[str, Any]) -> None:
    operation = _feature(_polygon(_SQUARE), time=window)
    exc = _expect(
        errors.MissingField,
        "missing_field",
        "features[1].properties.time.end",
        notices_from_geojson,
        _collection(_GOOD, operation),
    )
    assert exc.extra["feature"] == 1


def test_open_end_is_a_parser_choice() -> None:
    window = {"start": "2026-05-01T10:00:00Z"}
    assert parse_time_window(window, "time", open_end=True).end is None
    _expect(errors.MissingField, "missing_field", "time.end", parse_time_window, window, "time")


# --- altitude bands ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "altitude",
    [
        _altitude(lower=200, upper=100),
        _altitude(lower=100.001, upper=100),
        _altitude(lower=1000, upper=900, units="ft"),
        _altitude(lower=50, upper=10, reference="FL"),
    ],
    ids=["metres", "just-above", "feet", "flight-level"],
)
def test_lower_above_upper(altitude: dict[str, Any]) -> None:
    _expect(
        errors.AltitudeInverted,
        "altitude_inverted",
        "altitude.lower",
        parse_altitude,
        altitude,
        "altitude",
    )


@pytest.mark.parametrize("reference", ["QNH", "w84", "MSL", ""])
def test_unknown_altitude_reference(reference: str) -> None:
    _expect(
        errors.UnknownAltitudeReference,
        "unknown_altitude_reference",
        "altitude.reference",
        parse_altitude,
        _altitude(reference=reference),
        "altitude",
    )


@pytest.mark.parametrize(
    ("altitude", "field"),
    [(_altitude(lower=NAN), "altitude.lower"), (_altitude(upper=INF), "altitude.upper")],
    ids=["nan", "inf"],
)
def test_non_finite_altitude(altitude: dict[str, Any], field: str) -> None:
    _expect(errors.NotFinite, "not_finite", field, parse_altitude, altitude, "altitude")


# --- time windows --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "end",
    [
        "2026-05-01T10:00:00Z",  # end == start: an empty half-open window
        "2026-05-01T09:59:59Z",
        "2026-05-01T11:00:00+01:00",  # the same instant as the start, in another offset
    ],
    ids=["equal", "before", "equal-other-offset"],
)
def test_end_not_after_start(end: str) -> None:
    _expect(
        errors.TimeInverted, "time_inverted", "time.end", parse_time_window, _time(end=end), "time"
    )


@pytest.mark.parametrize(
    ("window", "field"),
    [
        (_time(start="2026-05-01T10:00:00"), "time.start"),
        (_time(end="2026-05-01T11:00:00"), "time.end"),
    ],
    ids=["start", "end"],
)
def test_time_without_utc_offset(window: dict[str, Any], field: str) -> None:
    _expect(errors.InvalidValue, "invalid_value", field, parse_time_window, window, "time")


# --- whole volumes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("volume", "error", "code", "field"),
    [
        (
            {"footprint": _circle([10, 45], 0), "altitude": _altitude(), "time": _time()},
            errors.RadiusNotPositive,
            "radius_not_positive",
            "volumes[2].footprint.radius_m",
        ),
        (
            {"footprint": _polygon(_SQUARE), "altitude": _altitude(lower=200), "time": _time()},
            errors.AltitudeInverted,
            "altitude_inverted",
            "volumes[2].altitude.lower",
        ),
        (
            {
                "footprint": _polygon(_SQUARE),
                "altitude": _altitude(),
                "time": _time(end="2026-05-01T10:00:00Z"),
            },
            errors.TimeInverted,
            "time_inverted",
            "volumes[2].time.end",
        ),
    ],
    ids=["radius", "altitude", "time"],
)
def test_volume_errors_name_the_full_path(
    volume: dict[str, Any], error: type[errors.DeconflictError], code: str, field: str
) -> None:
    _expect(error, code, field, parse_volume, volume, "volumes[2]", GeometryLimits())


# --- interchange features ------------------------------------------------------------------


def _movement(times: list[str]) -> dict[str, Any]:
    route = {"type": "LineString", "coordinates": [[36.0, 33.0], [36.05, 33.0], [36.1, 33.0]]}
    return _feature(
        route,
        notice_id="convoy",
        kind="movement",
        altitude=_altitude(lower="SFC", upper=50, reference="AMSL"),
        time={"start": times[0], "end": times[-1]},
        waypoint_times=times,
        corridor_half_width_m=100,
    )


@pytest.mark.parametrize(
    "times",
    [
        ["2026-05-01T08:00:00Z", "2026-05-01T08:10:00Z", "2026-05-01T08:10:00Z"],
        ["2026-05-01T08:00:00Z", "2026-05-01T08:10:00Z", "2026-05-01T08:05:00Z"],
    ],
    ids=["repeated", "decreasing"],
)
def test_movement_waypoint_times_not_increasing(times: list[str]) -> None:
    exc = _expect(
        errors.WaypointTimesNotIncreasing,
        "waypoint_times_not_increasing",
        "features[1].properties.waypoint_times[2]",
        notices_from_geojson,
        _collection(_GOOD, _movement(times)),
    )
    assert exc.extra["feature"] == 1


def test_movement_with_a_polygon_is_unsupported() -> None:
    convoy = _movement(["2026-05-01T08:00:00Z", "2026-05-01T08:05:00Z", "2026-05-01T08:10:00Z"])
    convoy["geometry"] = _polygon(_SQUARE)
    _expect(
        errors.UnsupportedGeometry,
        "unsupported_geometry",
        "features[1].geometry.type",
        notices_from_geojson,
        _collection(_GOOD, convoy),
    )


@pytest.mark.parametrize(
    ("bad", "error", "code", "field"),
    [
        (
            _feature(_polygon(_SQUARE), altitude=_altitude(lower=200, upper=100)),
            errors.AltitudeInverted,
            "altitude_inverted",
            "features[1].properties.altitude.lower",
        ),
        (
            _feature(_polygon(_SQUARE), altitude=_altitude(reference="QNH")),
            errors.UnknownAltitudeReference,
            "unknown_altitude_reference",
            "features[1].properties.altitude.reference",
        ),
        (
            _feature(_polygon(_SQUARE), time=_time(end="2026-05-01T10:00:00Z")),
            errors.TimeInverted,
            "time_inverted",
            "features[1].properties.time.end",
        ),
        (
            _feature(_polygon(_SQUARE), time=_time(start="2026-05-01T10:00:00")),
            errors.InvalidValue,
            "invalid_value",
            "features[1].properties.time.start",
        ),
        (
            _feature(_polygon([[0, 0], [1, NAN], [1, 1], [0, 1], [0, 0]])),
            errors.NotFinite,
            "not_finite",
            "features[1].geometry.coordinates[0][1][1]",
        ),
        (
            _feature(_polygon([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]])),
            errors.SelfIntersection,
            "self_intersection",
            "features[1].geometry.coordinates",
        ),
        (
            _feature({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}),
            errors.UnsupportedGeometry,
            "unsupported_geometry",
            "features[1].geometry.type",
        ),
        (
            _feature({"type": "Point", "coordinates": [10, 45]}, radius_m=0),
            errors.RadiusNotPositive,
            "radius_not_positive",
            "features[1].properties.radius_m",
        ),
        (
            _feature(_polygon(_SQUARE), party=42),
            errors.WrongType,
            "wrong_type",
            "features[1].properties.party",
        ),
    ],
    ids=[
        "altitude-inverted",
        "altitude-reference",
        "time-inverted",
        "time-offset",
        "nan-coordinate",
        "bow-tie",
        "operation-linestring",
        "point-radius",
        "party-number",
    ],
)
def test_feature_errors_name_the_path_in_the_document(
    bad: dict[str, Any], error: type[errors.DeconflictError], code: str, field: str
) -> None:
    exc = _expect(error, code, field, notices_from_geojson, _collection(_GOOD, bad))
    assert exc.extra["feature"] == 1
