"""``deconflict check`` on hand-made files whose answers follow from the geometry.

Each test writes an interchange file to ``tmp_path`` and runs the real command in a
subprocess. The expected conflicts are worked out by hand in the comments, never by
calling the engine.

Distances use the design's sphere (R = 6,371,008.8 m), on which 1° of arc is
111,195 m. Boxes sit on or near the equator so that their edges along the equator
and along meridians are great circles, and distances to them are exact.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def _box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def _at(hour_minute: str) -> str:
    return f"2026-05-01T{hour_minute}:00Z"


def _operation(
    notice_id: str,
    party: str,
    geometry: dict[str, Any],
    start: str = "10:00",
    end: str = "11:00",
    **changes: Any,
) -> dict[str, Any]:
    properties = {
        "notice_id": notice_id,
        "party": party,
        "kind": "operation",
        "altitude": {"lower": 0, "upper": 120, "reference": "W84", "units": "m"},
        "time": {"start": _at(start), "end": _at(end)},
        **changes,
    }
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _protected_circle(
    notice_id: str, party: str, lon: float, lat: float, radius_m: float
) -> dict[str, Any]:
    """A protected site in force from 09:00 until cancelled, from the ground to 100 m."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "notice_id": notice_id,
            "party": party,
            "kind": "protected",
            "category": "medical",
            "radius_m": radius_m,
            "altitude": {"lower": 0, "upper": 100, "reference": "W84", "units": "m"},
            "time": {"start": _at("09:00")},
        },
    }


def _write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "notices.geojson"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        doc = {"type": "FeatureCollection", "features": content}
        path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _check(path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deconflict", "check", str(path), *flags],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=path.parent,
        check=False,
    )


def _conflicts(result: subprocess.CompletedProcess[str]) -> set[tuple[frozenset[str], str]]:
    """The reported (unordered pair, kind) set, after checking the ``--json`` shape."""
    assert "Traceback" not in result.stderr
    body = json.loads(result.stdout)
    assert set(body) == {"conflicts"}
    found = set()
    for conflict in body["conflicts"]:
        assert set(conflict) == {"a", "b", "kind", "overlap"}
        assert isinstance(conflict["overlap"], dict)
        assert conflict["a"] != conflict["b"]
        found.add((frozenset((conflict["a"], conflict["b"])), conflict["kind"]))
    # Each unordered pair of notices is reported once.
    assert len(found) == len(body["conflicts"])
    return found


def _pair(a: str, b: str, kind: str) -> tuple[frozenset[str], str]:
    return frozenset((a, b)), kind


# A and C belong to alpha, B to bravo; all three share the box [0, 0.1]² and 0–120 m W84.
# A and C fly [10:00, 11:00), B flies [11:00, 12:00).
_SHARED = _box(0.0, 0.0, 0.1, 0.1)
_ADJACENT = [
    _operation("A", "alpha", _SHARED, "10:00", "11:00"),
    _operation("C", "alpha", _SHARED, "10:00", "11:00"),
    _operation("B", "bravo", _SHARED, "11:00", "12:00"),
]


def test_adjacent_windows_and_same_party_overlap_do_not_conflict(tmp_path: Path) -> None:
    # A×B and C×B: time gap = max(starts) − min(ends) = 11:00 − 11:00 = 0 s, and a pair
    # conflicts only if the gap < T = 0 s. A×C overlap fully, but they are one party's.
    result = _check(_write(tmp_path, _ADJACENT), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _conflicts(result) == set()


def test_time_buffer_makes_adjacent_windows_conflict(tmp_path: Path) -> None:
    # With T = 3600 s the gap of 0 s is < T, so A×B and C×B conflict; A×C still do not.
    result = _check(_write(tmp_path, _ADJACENT), "--json", "--buffer-time", "3600")
    assert result.returncode == 1, result.stdout + result.stderr
    assert _conflicts(result) == {_pair("A", "B", "airspace"), _pair("C", "B", "airspace")}


# Operation A: [0, 0.1]²; operation B (bravo): [0.05, 0.15]², overlapping A on [0.05, 0.1]².
# Protected H (charlie): a 1,000 m circle centred at (0.05°, −0.04°). A's south edge runs
# along the equator (a great circle) through (0.05°, 0°), so H's edge is
# 0.04 × 111,195 − 1,000 = 3,448 m from A: inside the 3 NM (5,556 m) protection buffer,
# but not intersecting. B's nearest point is its corner (0.05°, 0.05°), 0.09° = 10,008 m
# from H's centre, so 9,008 m from H: clear of the buffer. Operation D (delta) at
# [1, 1.1]² is over 90 km from everything.
_A = _operation("A", "alpha", _box(0.0, 0.0, 0.1, 0.1))
_B = _operation("B", "bravo", _box(0.05, 0.05, 0.15, 0.15))
_H = _protected_circle("H", "charlie", 0.05, -0.04, 1_000)
_D = _operation("D", "delta", _box(1.0, 1.0, 1.1, 1.1))


def test_conflicts_json_lists_each_pair_with_its_kind(tmp_path: Path) -> None:
    result = _check(_write(tmp_path, [_A, _B, _H, _D]), "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    assert _conflicts(result) == {_pair("A", "B", "airspace"), _pair("A", "H", "protection")}


@pytest.mark.parametrize(
    ("flags", "exit_code", "expected"),
    [
        ((), 1, {_pair("A", "H", "protection")}),
        (("--buffer-lateral", "0"), 0, set()),
    ],
    ids=["default-3nm", "lateral-0"],
)
def test_lateral_buffer_zero_removes_a_conflict_that_exists_only_through_the_buffer(
    tmp_path: Path,
    flags: tuple[str, ...],
    exit_code: int,
    expected: set[tuple[frozenset[str], str]],
) -> None:
    # A and H are 3,448 m apart: within 3 NM, but with L = 0 they must intersect.
    result = _check(_write(tmp_path, [_A, _H]), "--json", *flags)
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert _conflicts(result) == expected


def test_a_notice_with_several_volumes_is_reported_once(tmp_path: Path) -> None:
    # A has two volumes, [0, 0.1] × [0, 0.1] and [0.2, 0.3] × [0, 0.1]; B spans
    # [0.05, 0.25] × [0.02, 0.08] and overlaps both. The notices conflict once.
    a_east = _operation("A", "alpha", _box(0.2, 0.0, 0.3, 0.1))
    b = _operation("B", "bravo", _box(0.05, 0.02, 0.25, 0.08))
    result = _check(_write(tmp_path, [_A, b, a_east]), "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    body = json.loads(result.stdout)
    assert len(body["conflicts"]) == 1
    assert _conflicts(result) == {_pair("A", "B", "airspace")}


@pytest.mark.parametrize(
    ("west_of_b", "exit_code", "expected"),
    [
        # B's west edge is A's east edge, the meridian 0.1° from 0° to 0.1° N: they touch,
        # and footprints are closed sets.
        (0.1, 1, {_pair("A", "B", "airspace")}),
        # B starts 0.0001° further east: 0.0001 × 111,195 ≈ 11 m apart, beyond the 0.5 m
        # tolerance, so no conflict.
        (0.1001, 0, set()),
    ],
    ids=["shared-edge", "11-m-gap"],
)
def test_touching_polygons_conflict(
    tmp_path: Path,
    west_of_b: float,
    exit_code: int,
    expected: set[tuple[frozenset[str], str]],
) -> None:
    b = _operation("B", "bravo", _box(west_of_b, 0.0, 0.2, 0.1))
    result = _check(_write(tmp_path, [_A, b]), "--json")
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert _conflicts(result) == expected


@pytest.mark.parametrize(
    ("a_geometry", "b_geometry"),
    [
        # A straddles 180° (edges are the shorter arcs): 179.95° E to 179.95° W.
        # B is an RFC 7946 MultiPolygon split at ±180°: 179.97° E to 179.9° W, 0.02–0.08° N.
        # They overlap on 179.97° E to 179.95° W.
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[179.95, 0], [-179.95, 0], [-179.95, 0.1], [179.95, 0.1], [179.95, 0]]
                ],
            },
            {
                "type": "MultiPolygon",
                "coordinates": [
                    _box(179.97, 0.02, 180, 0.08)["coordinates"],
                    _box(-180, 0.02, -179.9, 0.08)["coordinates"],
                ],
            },
        ),
        # A lies just west of 180°, B just east of it: they share the 180° meridian edge.
        (_box(179.9, 0.0, 180.0, 0.1), _box(-180.0, 0.0, -179.9, 0.1)),
        # B is written with longitudes past 180 (180.02 = −179.98): it overlaps A's
        # straddling box on 179.98° W to 179.95° W.
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[179.95, 0], [-179.95, 0], [-179.95, 0.1], [179.95, 0.1], [179.95, 0]]
                ],
            },
            _box(180.02, 0.02, 180.1, 0.08),
        ),
    ],
    ids=["straddle-vs-split", "touching-at-180", "unnormalised-longitudes"],
)
def test_pair_across_the_antimeridian_conflicts(
    tmp_path: Path, a_geometry: dict[str, Any], b_geometry: dict[str, Any]
) -> None:
    features = [_operation("A", "alpha", a_geometry), _operation("B", "bravo", b_geometry)]
    result = _check(_write(tmp_path, features), "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    assert _conflicts(result) == {_pair("A", "B", "airspace")}


# --- bad input -----------------------------------------------------------------------------


def _error(text: str) -> dict[str, Any]:
    body = json.loads(text)
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["id"], str) and error["id"]
    return error


_BAD_ALTITUDE = _operation(
    "bad", "bravo", _box(0, 0, 0.1, 0.1), altitude={"lower": 200, "upper": 100, "reference": "W84"}
)

_BAD_PARTY = _operation("bad", "bravo", _box(0, 0, 0.1, 0.1))
_BAD_PARTY["properties"]["party"] = 7


@pytest.mark.parametrize(
    ("bad", "code", "field"),
    [
        (_BAD_ALTITUDE, "altitude_inverted", "features[1].properties.altitude.lower"),
        (
            _operation("bad", "bravo", _box(0, 0, 0.1, 0.1), "10:00", "10:00"),
            "time_inverted",
            "features[1].properties.time.end",
        ),
        (
            _operation("bad", "bravo", _box(0, 0, 0.1, float("nan"))),
            "not_finite",
            "features[1].geometry.coordinates[0][2][1]",
        ),
        (
            _operation("bad", "bravo", _box(0, 0, 0.1, 91)),
            "latitude_out_of_range",
            "features[1].geometry.coordinates[0][2][1]",
        ),
        (
            _BAD_PARTY,
            "wrong_type",
            "features[1].properties.party",
        ),
    ],
    ids=["altitude-inverted", "empty-time-window", "nan-latitude", "latitude-91", "party-number"],
)
def test_bad_feature_exits_2_with_a_json_error_naming_feature_and_field(
    tmp_path: Path, bad: dict[str, Any], code: str, field: str
) -> None:
    result = _check(_write(tmp_path, [_A, bad]), "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    error = _error(result.stdout)
    assert error["code"] == code
    assert error["feature"] == 1
    assert error["field"] == field


def test_bad_feature_without_json_flag_still_reports_a_json_error(tmp_path: Path) -> None:
    result = _check(_write(tmp_path, [_A, _BAD_ALTITUDE]))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    error = _error(result.stderr)
    assert (error["code"], error["feature"]) == ("altitude_inverted", 1)
    assert error["field"] == "features[1].properties.altitude.lower"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ('{"type": "FeatureCollection", "features": [', "bad_request"),
        ("not json at all", "bad_request"),
        ("", "bad_request"),
        ("[]", "wrong_type"),
    ],
    ids=["truncated", "text", "empty", "json-but-not-a-feature-collection"],
)
def test_file_that_is_not_an_interchange_document_exits_2(
    tmp_path: Path, content: str, code: str
) -> None:
    result = _check(_write(tmp_path, content), "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert _error(result.stdout)["code"] == code


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = _check(tmp_path / "absent.geojson", "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    error = _error(result.stdout)
    assert error["code"] == "bad_request"
    assert error["field"] == "FILE"


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path) -> None:
    """``deconflict check FILE --json | head`` ends without a traceback."""
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [36 + 0.001 * i, 34]},
            "properties": {
                "notice_id": f"n{i}",
                "party": f"p{i % 5}",
                "kind": "operation",
                "radius_m": 5000,
                "altitude": {"lower": 0, "upper": 1000, "reference": "W84", "units": "m"},
                "time": {"start": "2026-06-01T00:00:00Z", "end": "2026-06-01T02:00:00Z"},
            },
        }
        for i in range(300)
    ]
    path = tmp_path / "many.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    done = subprocess.run(
        f"{sys.executable} -m deconflict check {path} --json | head -c 50",
        shell=True, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.stdout.startswith("{")
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
