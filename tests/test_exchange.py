"""Export and import of a party's view in the interchange format, and its KML export.

Three parties on a fixed clock: ``a`` files several kinds of notice, ``b`` files one
notice shared with ``a``, one private notice that conflicts with ``a``'s operation,
and ``c`` files a private site. ``a`` and ``b`` share the channel ``coalition``.
"""

from __future__ import annotations

import datetime as dt
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from deconflict import errors
from deconflict.clock import FixedClock
from deconflict.config import Settings
from deconflict.exchange import (
    export_geojson,
    import_notices,
    party_viewer,
    plan_geojson,
    visible_notices,
)
from deconflict.interchange import notices_from_geojson
from deconflict.kml import KML_NAMESPACE, kml_document
from deconflict.service import Service
from deconflict.store import open_store

T0 = dt.datetime(2026, 5, 4, 12, tzinfo=dt.UTC)
R = 6_371_008.8
K = {"k": KML_NAMESPACE}


def _at(hours: float) -> str:
    return (T0 + dt.timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def _box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def _volume(footprint: dict[str, Any], lower: Any, upper: Any, ref: str, units: str, start: float,
            end: float | None) -> dict[str, Any]:  # fmt: skip
    return {
        "footprint": footprint,
        "altitude": {"lower": lower, "upper": upper, "reference": ref, "units": units},
        "time": {"start": _at(start), "end": None if end is None else _at(end)},
    }


OPERATION = {
    "kind": "operation",
    "state": "active",
    "priority": "humanitarian",
    "aircraft": ["A-1", "A-2"],
    "volumes": [
        _volume(_box(36.0, 34.0, 36.2, 34.2), 1000, 2000, "AMSL", "m", 1, 3),
        _volume(_box(36.1, 34.1, 36.3, 34.3), 60, 80, "FL", "ft", 3, 5),
    ],
}
HOSPITAL = {
    "kind": "protected",
    "category": "medical",
    "contact": "ops@a.example",
    "disclose_contact": True,
    "audience": {"channels": ["coalition"]},
    "volumes": [
        _volume(
            {"type": "Circle", "center": [36.5, 34.5], "radius_m": 2000},
            "SFC",
            500,
            "AGL",
            "ft",
            0,
            None,
        )
    ],
}
CONVOY = {
    "kind": "movement",
    "route": {
        "coordinates": [[36.6, 34.6], [36.65, 34.62], [36.7, 34.6]],
        "waypoint_times": [_at(1), _at(1.5), _at(2)],
        "corridor_half_width_m": 200,
        "altitude": {"lower": "SFC", "upper": 100, "reference": "AGL", "units": "m"},
    },
}
ACROSS = {  # a MultiPolygon split at the antimeridian, as RFC 7946 writes it
    "kind": "operation",
    "volumes": [
        _volume(
            {
                "type": "MultiPolygon",
                "coordinates": [
                    _box(179.9, -16.1, 180.0, -16.0)["coordinates"],
                    _box(-180.0, -16.1, -179.9, -16.0)["coordinates"],
                ],
            },
            0,
            3000,
            "W84",
            "m",
            2,
            4,
        )
    ],
}
SHARED_WITH_A = {
    "kind": "operation",
    "audience": {"parties": ["a"]},
    "volumes": [_volume(_box(37.0, 35.0, 37.1, 35.1), 0, 500, "W84", "m", 1, 2)],
}
PRIVATE_CONFLICTING = {  # overlaps a's operation: a learns of it only through the conflict
    "kind": "operation",
    "volumes": [_volume(_box(36.05, 34.05, 36.1, 34.1), 1500, 2500, "AMSL", "m", 2, 4)],
}
C_PRIVATE = {
    "kind": "protected",
    "category": "cultural",
    "volumes": [_volume(_box(38.0, 36.0, 38.1, 36.1), "SFC", 300, "AGL", "m", 0, None)],
}


def _service(path: Path) -> Service:
    service = Service(open_store(str(path)), FixedClock(T0), Settings(db=str(path)))
    for party in ("a", "b", "c"):
        service.accounts.add_party(None, party, party.upper())
    service.accounts.add_channel(None, "coalition", "Coalition", ["a", "b"])
    return service


def _file(service: Service, party: str, body: dict[str, Any]) -> str:
    _, answer = service.submit(party_viewer(service, party), body)
    return str(answer["notice"]["id"])


@pytest.fixture
def world(tmp_path: Path) -> tuple[Service, dict[str, str]]:
    service = _service(tmp_path / "one.db")
    ids = {
        "operation": _file(service, "a", OPERATION),
        "hospital": _file(service, "a", HOSPITAL),
        "convoy": _file(service, "a", CONVOY),
        "across": _file(service, "a", ACROSS),
        "shared": _file(service, "b", SHARED_WITH_A),
        "private": _file(service, "b", PRIVATE_CONFLICTING),
        "c": _file(service, "c", C_PRIVATE),
    }
    return service, ids


def _normalised(doc: dict[str, Any], rename: dict[str, str] | None = None) -> list[Any]:
    """Features without the store's ids and versions, in a stable order."""
    out = []
    for feature in doc["features"]:
        props = dict(feature["properties"])
        props.pop("version")
        props["notice_id"] = (rename or {}).get(props["notice_id"], props["notice_id"])
        out.append({"geometry": feature["geometry"], "properties": props})
    return sorted(out, key=lambda f: (f["properties"]["notice_id"], f["properties"].get("volume")))


# --- need-to-know ----------------------------------------------------------------------


def test_a_party_exports_its_own_and_audience_notices_and_nothing_else(world: Any) -> None:
    service, ids = world
    a = party_viewer(service, "a")
    _, conflicts = service.conflicts(a)
    assert [c["other"]["id"] for c in conflicts] == [ids["private"]]  # a knows it exists
    doc = export_geojson(visible_notices(service, a))
    exported = {f["properties"]["notice_id"] for f in doc["features"]}
    mine = {ids[k] for k in ("operation", "hospital", "convoy", "across")}
    assert exported == mine | {ids["shared"]}
    assert ids["private"] not in str(doc) and ids["c"] not in str(doc)


def test_a_channel_member_sees_the_channel_notice_and_the_export_is_disclosed(world: Any) -> None:
    service, ids = world
    b = party_viewer(service, "b")
    exported = {
        f["properties"]["notice_id"]
        for f in export_geojson(visible_notices(service, b))["features"]
    }
    assert exported == {ids["shared"], ids["private"], ids["hospital"]}
    shown = service.disclosures(party_viewer(service, "a"), notice_id=ids["hospital"])
    assert [(d["recipient"], d["reason"], d["level"]) for d in shown] == [("b", "search", "full")]


def test_mine_leaves_out_what_others_shared(world: Any) -> None:
    service, ids = world
    views = visible_notices(service, party_viewer(service, "a"), mine=True)
    assert {v["id"] for v in views} == {
        ids[k] for k in ("operation", "hospital", "convoy", "across")
    }


# --- the interchange format ------------------------------------------------------------


def test_the_export_is_the_contract_format_check_reads(world: Any) -> None:
    service, ids = world
    doc = export_geojson(visible_notices(service, party_viewer(service, "a"), mine=True))
    by_id = {n.id: n for n in notices_from_geojson(doc)}
    assert len(by_id[ids["operation"]].volumes) == 2
    assert by_id[ids["convoy"]].kind.value == "movement"
    hospital = [f for f in doc["features"] if f["properties"]["notice_id"] == ids["hospital"]]
    assert hospital[0]["geometry"] == {"type": "Point", "coordinates": [36.5, 34.5]}
    props = hospital[0]["properties"]
    assert props["radius_m"] == 2000
    assert props["altitude"] == {"lower": "SFC", "upper": 500.0, "reference": "AGL", "units": "ft"}
    assert props["time"] == {"start": _at(0), "end": None}
    assert props["audience"] == {"parties": [], "channels": ["coalition"]}
    convoy = [f for f in doc["features"] if f["properties"]["notice_id"] == ids["convoy"]]
    assert len(convoy) == 1 and convoy[0]["geometry"]["type"] == "LineString"
    assert convoy[0]["properties"]["time"] == {"start": _at(1), "end": _at(2)}


def test_round_trip_export_import_export_gives_the_same_notices(world: Any, tmp_path: Path) -> None:
    service, _ = world
    first = export_geojson(visible_notices(service, party_viewer(service, "a"), mine=True))
    fresh = _service(tmp_path / "two.db")
    a = party_viewer(fresh, "a")
    result = import_notices(fresh, a, plan_geojson(first, "a", fresh.settings.limits))
    assert len(result.created) == 4 and result.replayed == []
    second = export_geojson(visible_notices(fresh, a, mine=True))
    rename = {n["source"]: n["id"] for n in result.created}
    assert _normalised(first, rename) == _normalised(second)


def test_an_import_is_a_normal_write_conflicts_ledger_and_alerts(
    world: Any, tmp_path: Path
) -> None:
    service, _ = world
    doc = export_geojson(visible_notices(service, party_viewer(service, "a"), mine=True))
    fresh = _service(tmp_path / "two.db")
    other = _file(fresh, "b", PRIVATE_CONFLICTING)
    with fresh.store.read() as tx:
        before = tx.ledger.size()
    result = import_notices(fresh, party_viewer(fresh, "a"), plan_geojson(doc, "a"))
    assert result.conflicts == 1
    with fresh.store.read() as tx:
        assert tx.ledger.size() >= before + len(result.created)
    b = party_viewer(fresh, "b")
    _, seen_by_b = fresh.conflicts(b)
    assert [c["notice"]["id"] for c in seen_by_b] == [other]
    alerts = fresh.alerts.alerts(b, "all", 0, 100)
    assert any(a["type"] == "conflict" for a in alerts), alerts


def test_importing_again_writes_nothing_twice(world: Any, tmp_path: Path) -> None:
    service, _ = world
    doc = export_geojson(visible_notices(service, party_viewer(service, "a"), mine=True))
    fresh = _service(tmp_path / "two.db")
    a = party_viewer(fresh, "a")
    first = import_notices(fresh, a, plan_geojson(doc, "a"))
    again = import_notices(fresh, a, plan_geojson(doc, "a"))
    assert again.created == [] and again.replayed == first.created
    assert len(visible_notices(fresh, a, mine=True)) == 4


def test_a_party_cannot_import_another_partys_notices(world: Any) -> None:
    service, ids = world
    doc = export_geojson(visible_notices(service, party_viewer(service, "a")))
    index = next(
        i for i, f in enumerate(doc["features"]) if f["properties"]["notice_id"] == ids["shared"]
    )
    with pytest.raises(errors.InvalidValue) as caught:
        plan_geojson(doc, "a")
    assert caught.value.field == f"features[{index}].properties.party"
    assert "'b'" in caught.value.message


def _one(props: dict[str, Any]) -> dict[str, Any]:
    base = {
        "notice_id": "x",
        "party": "a",
        "kind": "protected",
        "altitude": {"lower": 0, "upper": 100, "reference": "AGL", "units": "m"},
        "time": {"start": _at(0), "end": None},
    }
    feature = {"type": "Feature", "geometry": _box(36, 34, 36.1, 34.1), "properties": base | props}
    return {"type": "FeatureCollection", "features": [feature]}


@pytest.mark.parametrize(
    ("props", "field"),
    [
        ({"category": "hospital"}, "features[0].properties.category"),
        ({"state": "cancelled"}, "features[0].properties.state"),
        ({"audience": {"parties": "b"}}, "features[0].properties.audience.parties"),
        ({"altitude": {"lower": 0, "upper": 1, "reference": "QFE"}}, None),
    ],
)
def test_a_bad_notice_stops_the_import_before_any_write(
    props: dict[str, Any], field: str | None
) -> None:
    with pytest.raises(errors.InvalidInput) as caught:
        plan_geojson(_one(props), "a")
    expected = field or "features[0].properties.altitude.reference"
    assert caught.value.field == expected


def test_a_write_the_service_refuses_names_the_feature_and_what_was_written(
    tmp_path: Path,
) -> None:
    service = _service(tmp_path / "h.db")
    far = {  # operations last at most a day, at most 30 days ahead
        "notice_id": "late",
        "party": "a",
        "kind": "operation",
        "altitude": {"lower": 0, "upper": 100, "reference": "W84", "units": "m"},
        "time": {"start": _at(1), "end": _at(24 * 500)},
    }
    doc = _one({})
    doc["features"].append({"type": "Feature", "geometry": _box(0, 0, 0.5, 0.5), "properties": far})
    with pytest.raises(errors.InvalidValue) as caught:
        import_notices(service, party_viewer(service, "a"), plan_geojson(doc, "a"))
    assert caught.value.field == "features[1].properties.time.end"
    assert caught.value.extra["written"] == 1 and caught.value.extra["notice"] == "late"


# --- KML -------------------------------------------------------------------------------


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    (lon1, lat1), (lon2, lat2) = (map(math.radians, p) for p in (a, b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * R * math.asin(math.sqrt(h))


def _points(mark: ET.Element) -> list[tuple[float, float, float]]:
    text = mark.find(".//k:outerBoundaryIs/k:LinearRing/k:coordinates", K)
    assert text is not None and text.text
    return [tuple(map(float, p.split(","))) for p in text.text.split()]  # type: ignore[misc]


def _data(mark: ET.Element, name: str) -> str | None:
    return mark.findtext(f"k:ExtendedData/k:Data[@name='{name}']/k:value", namespaces=K)


def test_kml_parses_back_to_the_notices_volumes(world: Any) -> None:
    service, ids = world
    views = visible_notices(service, party_viewer(service, "a"))
    root = ET.fromstring(kml_document(views, "view of a"))
    assert root.tag == f"{{{KML_NAMESPACE}}}kml"
    marks = root.findall(".//k:Placemark", K)
    # operation 2 volumes, hospital 1, convoy 1 route, across 1, shared 1
    assert len(marks) == 6
    by = {(_data(m, "notice_id"), _data(m, "volume")): m for m in marks}

    op0 = by[(ids["operation"], "0")]
    corners = _box(36.0, 34.0, 36.2, 34.2)["coordinates"][0]
    assert [c for p in _points(op0) for c in p[:2]] == pytest.approx(
        [c for p in corners for c in p]
    )
    assert {p[2] for p in _points(op0)} == {2000.0}
    assert op0.findtext(".//k:altitudeMode", namespaces=K) == "absolute"
    assert op0.findtext("k:TimeSpan/k:begin", namespaces=K) == _at(1)
    assert op0.findtext("k:TimeSpan/k:end", namespaces=K) == _at(3)
    assert op0.find(".//k:extrude", K) is None  # 1000 m AMSL floor: not from the ground
    op1 = by[(ids["operation"], "1")]
    assert [p[2] for p in _points(op1)] == pytest.approx([80 * 100 * 0.3048] * 5, abs=0.01)

    hospital = by[(ids["hospital"], "0")]
    assert hospital.findtext(".//k:altitudeMode", namespaces=K) == "relativeToGround"
    assert hospital.findtext(".//k:extrude", namespaces=K) == "1"
    ring = _points(hospital)
    assert len(ring) == 65
    assert [p[2] for p in ring] == pytest.approx([500 * 0.3048] * 65, abs=0.01)
    for lon, lat, _ in ring:  # circumscribed: never inside the circle, never far outside
        assert (
            2000 - 0.01
            <= _distance_m((36.5, 34.5), (lon, lat))
            <= 2000 / math.cos(math.pi / 64) + 0.01
        )
    assert hospital.find("k:TimeSpan/k:end", K) is None
    assert hospital.findtext("k:TimeSpan/k:begin", namespaces=K) == _at(0)

    across = by[(ids["across"], "0")]
    assert len(across.findall("k:MultiGeometry/k:Polygon", K)) == 2

    route = next(m for m in marks if _data(m, "notice_id") == ids["convoy"])
    line = route.findtext("k:LineString/k:coordinates", namespaces=K)
    assert line is not None and len(line.split()) == 3
    assert route.findtext("k:TimeSpan/k:end", namespaces=K) == _at(2)
    assert ids["private"] not in ET.tostring(root, encoding="unicode")
