"""ED-269 zones into protected notices, checked against a hand-made sample.

``data/ed269_sample.json`` was written by hand from the published ED-269 field list.
The import runs on Monday 4 May 2026 at 12:00 UTC with the default 30-day horizon,
so the expected windows follow from the calendar:

- ZZ-HOSP-01, weekdays 08:00–18:00Z, two geometries: 23 weekdays from Mon 4 May
  to Wed 3 June; the first window starts at the import (12:00), the last ends at
  the horizon (3 June 12:00). 2 × 23 = 46 volumes.
- ZZ-CAMP-02, Saturdays 22:00–02:00 at +03:00, i.e. Saturday 19:00–23:00Z:
  9, 16, 23 and 30 May. A 3,000 ft circle, up to 400 ft AGL.
- ZZ-SITE-03, permanent, 0 AGL to 3,500 ft AMSL: from the surface, until cancelled.
- ZZ-INFO-04 restricts nothing and ZZ-FAIR-05 ended last year: both skipped.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from deconflict import errors
from deconflict.altitude import DatumMargins
from deconflict.clock import FixedClock
from deconflict.config import Settings
from deconflict.ed269 import plan_ed269
from deconflict.exchange import import_notices, party_viewer, visible_notices
from deconflict.model import AltitudeReference, Notice
from deconflict.notices import parse_notice
from deconflict.service import Service
from deconflict.store import open_store
from deconflict.views import STORED

SAMPLE = Path(__file__).parent / "data" / "ed269_sample.json"
NOW = dt.datetime(2026, 5, 4, 12, tzinfo=dt.UTC)  # a Monday
FT = 0.3048


def _sample() -> Any:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def imported(tmp_path: Path) -> tuple[dict[str, Notice], dict[str, Any]]:
    db = str(tmp_path / "z.db")
    service = Service(open_store(db), FixedClock(NOW), Settings(db=db))
    service.accounts.add_party(None, "authority", "Civil aviation authority")
    viewer = party_viewer(service, "authority")
    planned, skipped = plan_ed269(_sample(), service.clock.now(), limits=service.settings.limits)
    result = import_notices(service, viewer, planned)
    result.skipped = skipped
    ids = {n["id"]: n["source"] for n in result.created}
    notices = {
        ids[v["id"]]: parse_notice(
            v, notice_id=v["id"], party=v["party"], version=v["version"], limits=STORED
        )
        for v in visible_notices(service, viewer)
    }
    return notices, result.to_dict()


def test_the_sample_gives_three_protected_notices_and_says_what_it_skipped(
    imported: Any,
) -> None:
    notices, result = imported
    assert sorted(notices) == ["ZZ-CAMP-02", "ZZ-HOSP-01", "ZZ-SITE-03"]
    assert {n.kind.value for n in notices.values()} == {"protected"}
    assert [(s["source"], s["reason"]) for s in result["skipped"]] == [
        ("ZZ-INFO-04", "restriction NO_RESTRICTION protects nothing"),
        ("ZZ-FAIR-05", "not in force within 30 days"),
    ]
    assert {s: notices[s].category for s in notices} == {
        "ZZ-HOSP-01": "civilian",
        "ZZ-CAMP-02": "humanitarian",
        "ZZ-SITE-03": "other",
    }
    contact = notices["ZZ-HOSP-01"].contact or ""
    assert "zones@example.org" in contact and contact.endswith("(ED-269 zone ZZ-HOSP-01)")


def test_a_weekly_schedule_becomes_one_volume_per_window_per_geometry(imported: Any) -> None:
    hospital = imported[0]["ZZ-HOSP-01"]
    assert len(hospital.volumes) == 46
    polygon = [v for v in hospital.volumes if v.footprint.shape == "polygon"]
    helipad = [v for v in hospital.volumes if v.footprint.shape == "circle"]
    assert len(polygon) == len(helipad) == 23
    windows = [(v.time.start, v.time.end) for v in polygon]
    assert windows == [(v.time.start, v.time.end) for v in helipad]
    assert windows[0] == (NOW, _at("2026-05-04T18:00:00+00:00"))
    assert windows[1] == (_at("2026-05-05T08:00:00+00:00"), _at("2026-05-05T18:00:00+00:00"))
    assert windows[-1] == (_at("2026-06-03T08:00:00+00:00"), _at("2026-06-03T12:00:00+00:00"))
    for start, end in windows[1:-1]:
        assert (
            start.weekday() < 5 and (start.hour, end.hour) == (8, 18) and start.date() == end.date()
        )
    assert {(v.altitude.lower_m, v.altitude.upper_m) for v in polygon} == {(0.0, 150.0)}
    assert {(v.altitude.lower_m, v.altitude.upper_m) for v in helipad} == {(0.0, 300.0)}
    assert {v.altitude.reference for v in hospital.volumes} == {AltitudeReference.AGL}
    assert helipad[0].footprint.radius_m == pytest.approx(250.0)


def test_a_circle_in_feet_agl_with_an_offset_schedule_across_midnight(imported: Any) -> None:
    camp = imported[0]["ZZ-CAMP-02"]
    assert [(v.time.start, v.time.end) for v in camp.volumes] == [
        (_at(f"2026-05-{day:02d}T19:00:00+00:00"), _at(f"2026-05-{day:02d}T23:00:00+00:00"))
        for day in (9, 16, 23, 30)
    ]
    volume = camp.volumes[0]
    assert volume.footprint.shape == "circle"
    assert volume.footprint.radius_m == pytest.approx(3000 * FT)
    assert volume.footprint.geojson["center"] == [36.8, 34.7]
    band = volume.altitude
    assert (band.lower_m, band.reference, band.units) == (0.0, AltitudeReference.AGL, "ft")
    assert band.upper_m == pytest.approx(400 * FT)


def test_a_permanent_zone_is_open_ended_from_the_surface(imported: Any) -> None:
    site = imported[0]["ZZ-SITE-03"]
    [volume] = site.volumes
    assert (volume.time.start, volume.time.end) == (NOW, None)
    # 0 AGL to 3,500 ft AMSL: the surface, in the upper limit's reference.
    assert volume.altitude.lower_m is None
    assert volume.altitude.upper_m == pytest.approx(3500 * FT)
    assert volume.altitude.reference is AltitudeReference.AMSL


def _zone(**changes: Any) -> dict[str, Any]:
    zone = copy.deepcopy(_sample()["features"][1])  # ZZ-CAMP-02
    zone.update(changes)
    return zone


def _geometry(**changes: Any) -> list[dict[str, Any]]:
    item = copy.deepcopy(_sample()["features"][1]["geometry"][0])
    item.update(changes)
    return [item]


def test_limits_in_two_references_become_a_w84_band_that_contains_both() -> None:
    margins = DatumMargins(geoid_m=110, terrain_min_m=0, terrain_max_m=500)
    zone = _zone(
        geometry=_geometry(
            uomDimensions="M",
            lowerLimit=100,
            lowerVerticalReference="AGL",
            upperLimit=2000,
            upperVerticalReference="AMSL",
        )
    )
    [plan], _ = plan_ed269([zone], NOW, datum=margins)
    # lowest the floor can be: 100 m above the lowest ground (0), less the geoid margin;
    # highest the ceiling can be: 2000 m above sea level plus the geoid margin.
    band = plan.body["volumes"][0]["altitude"]
    assert band == {"lower": -10, "upper": 2110, "reference": "W84", "units": "m"}


def test_wgs84_heights_and_missing_limits() -> None:
    zone = _zone(
        geometry=_geometry(
            uomDimensions="M", lowerLimit=None, upperLimit=500, upperVerticalReference="WGS84"
        )
    )
    [plan], _ = plan_ed269([zone], NOW)
    band = plan.body["volumes"][0]["altitude"]
    assert band == {"lower": "SFC", "upper": 500, "reference": "W84", "units": "m"}


def test_the_horizon_bounds_the_schedule() -> None:
    hospital = _sample()["features"][0]
    [plan], _ = plan_ed269([hospital], NOW, horizon_days=7)
    # Mon 4 (from 12:00) to Fri 8, and Mon 11 (to 12:00): six windows, for each geometry
    assert len(plan.body["volumes"]) == 12
    times = [v["time"] for v in plan.body["volumes"][:6]]
    assert times[-1] == {"start": "2026-05-11T08:00:00Z", "end": "2026-05-11T12:00:00Z"}


def test_a_schedule_ending_at_midnight_and_overlapping_entries_merge() -> None:
    zone = _zone(
        applicability=[
            {
                "permanent": "NO",
                "schedule": [
                    {"day": ["ANY"], "startTime": "20:00Z", "endTime": "24:00Z"},
                    {"day": "TUE", "startTime": "00:00Z", "endTime": "06:00Z"},
                ],
            }
        ]
    )
    [plan], _ = plan_ed269([zone], NOW, horizon_days=2)
    assert [v["time"] for v in plan.body["volumes"]] == [
        {"start": "2026-05-04T20:00:00Z", "end": "2026-05-05T06:00:00Z"},
        {"start": "2026-05-05T20:00:00Z", "end": "2026-05-06T00:00:00Z"},
    ]


def test_a_bare_list_of_zones_is_read_too() -> None:
    planned, skipped = plan_ed269(_sample()["features"], NOW)
    assert [p.source for p in planned] == ["ZZ-HOSP-01", "ZZ-CAMP-02", "ZZ-SITE-03"]
    assert len(skipped) == 2


@pytest.mark.parametrize(
    ("zone", "field"),
    [
        (_zone(identifier=""), "features[0].identifier"),
        (_zone(restriction="MAYBE"), "features[0].restriction"),
        (_zone(geometry=[]), "features[0].geometry"),
        (_zone(reason="EMERGENCY"), "features[0].reason"),
        (
            _zone(geometry=_geometry(uomDimensions="NM")),
            "features[0].geometry[0].uomDimensions",
        ),
        (
            _zone(geometry=_geometry(lowerVerticalReference="QFE")),
            "features[0].geometry[0].lowerVerticalReference",
        ),
        (_zone(geometry=_geometry(upperLimit="high")), "features[0].geometry[0].upperLimit"),
        (
            _zone(geometry=_geometry(lowerLimit=500, upperLimit=100)),
            "features[0].geometry[0].lowerLimit",
        ),
        (
            _zone(geometry=_geometry(horizontalProjection={"type": "Line"})),
            "features[0].geometry[0].horizontalProjection.type",
        ),
        (
            _zone(
                geometry=_geometry(
                    horizontalProjection={"type": "Circle", "center": [36.8, 34.7], "radius": 0}
                )
            ),
            "features[0].geometry[0].horizontalProjection.radius",
        ),
        (
            _zone(
                geometry=_geometry(
                    horizontalProjection={
                        "type": "Polygon",
                        "coordinates": [[[36.0, 34.0], [36.1, 34.0], [36.1, 34.1]]],
                    }
                )
            ),
            "features[0].geometry[0].horizontalProjection.coordinates[0]",
        ),
        (
            _zone(applicability=[{"permanent": "NO", "startDateTime": "2026-05-01T10:00:00"}]),
            "features[0].applicability[0].startDateTime",
        ),
        (
            _zone(
                applicability=[
                    {
                        "permanent": "NO",
                        "schedule": [{"day": ["FUNDAY"], "startTime": "10:00Z", "endTime": "11Z"}],
                    }
                ]
            ),
            "features[0].applicability[0].schedule[0].day[0]",
        ),
        (
            _zone(
                applicability=[
                    {
                        "permanent": "NO",
                        "schedule": [{"day": ["MON"], "startTime": "10:00", "endTime": "11:00Z"}],
                    }
                ]
            ),
            "features[0].applicability[0].schedule[0].startTime",
        ),
        (
            _zone(
                applicability=[
                    {
                        "permanent": "NO",
                        "schedule": [{"day": [], "startTime": "10:00Z", "endTime": "11:00Z"}],
                    }
                ]
            ),
            "features[0].applicability[0].schedule[0].day",
        ),
        (_zone(applicability=[{"permanent": "MAYBE"}]), "features[0].applicability[0].permanent"),
    ],
)
def test_a_bad_zone_is_refused_naming_its_field(zone: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.InvalidInput) as caught:
        plan_ed269({"features": [zone]}, NOW)
    assert caught.value.field == field
    assert caught.value.extra["feature"] == 0


def test_a_zone_that_appears_twice_is_refused() -> None:
    zone = _zone()
    with pytest.raises(errors.InvalidValue) as caught:
        plan_ed269({"features": [zone, zone]}, NOW)
    assert caught.value.field == "features[1].identifier"


def test_not_an_ed269_document() -> None:
    with pytest.raises(errors.WrongType) as caught:
        plan_ed269({"type": "FeatureCollection"}, NOW)
    assert caught.value.field == "features"
