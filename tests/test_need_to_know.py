"""A determined member tries to learn another party's hidden notices, on both stores.

Each test plays one way in: one huge filing, refused strict writes, the
conflict list while the owner edits, identification sweeps, several API
processes at once. Each asserts what the member may learn (where and when to
keep clear, rounded outward to the disclosure grid) and no more, and that the
owner or an admin hears of it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h3
import pytest
import shapely
from fastapi.testclient import TestClient

from apps import App, apps
from deconflict.api.app import create_app
from deconflict.geometry import circle
from deconflict.service import Service
from deconflict.store import open_store

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
PARTIES = (
    ("south", "member"),
    ("north", "member"),
    ("relief", "member"),
    ("chief", "admin"),
    ("audit", "auditor"),
)
#: The hidden operation: odd edges, so that rounding shows.
HIDDEN_CENTRE = (36.2, 34.1)
HIDDEN_RADIUS_M = 15_000.0
HIDDEN_BAND = (3_050.0, 6_980.0)
HIDDEN_START = T0 + dt.timedelta(hours=2, minutes=7, seconds=13)
HIDDEN_END = T0 + dt.timedelta(hours=5, minutes=52, seconds=41)


def _at(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _operation(
    center: tuple[float, float],
    radius_m: float,
    band: tuple[float | str, float | str],
    start: dt.datetime,
    end: dt.datetime,
    reference: str = "W84",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "kind": "operation",
        "volumes": [
            {
                "footprint": {"type": "Circle", "center": list(center), "radius_m": radius_m},
                "altitude": {"lower": band[0], "upper": band[1], "reference": reference},
                "time": {"start": _at(start), "end": _at(end)},
            }
        ],
    } | extra


HIDDEN = _operation(
    HIDDEN_CENTRE, HIDDEN_RADIUS_M, HIDDEN_BAND, HIDDEN_START, HIDDEN_END, aircraft=["SAF-101"]
)
#: The largest operation the limits allow (a 56 km circle, about 9,850 km²), SFC–UNL, a day.
SWEEP = _operation(HIDDEN_CENTRE, 56_000.0, ("SFC", "UNL"), T0, T0 + dt.timedelta(hours=24))


class Member(App):
    def alerts(self, party: str, reason: str) -> list[dict[str, Any]]:
        found = self.ok("GET", "/v1/alerts", party)
        return [
            a["data"] for a in found if a["type"] == "disclosure" and a["data"]["reason"] == reason
        ]


@pytest.fixture(params=["sqlite", "postgres"])
def member(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Member]]:
    store = request.getfixturevalue("pg_database") if request.param == "postgres" else None
    with apps(tmp_path, PARTIES, Member, T0, store=store) as make:
        yield make


def _hidden_circle() -> Any:
    fp = circle(*HIDDEN_CENTRE, HIDDEN_RADIUS_M)
    return shapely.Polygon(fp.outline(64)[0])


def _assert_on_grid(overlap: dict[str, Any]) -> None:
    """Cells of resolution 6 only, 300 m layers, 15 minute slots, whole kilometres."""
    assert overlap["cells"], overlap
    assert {h3.get_resolution(c) for c in overlap["cells"]} == {6}
    for bound in ("lower", "upper"):
        value = overlap["altitude"][bound]
        assert value is None or value % 300 == 0, overlap["altitude"]
    for bound in ("start", "end"):
        instant = dt.datetime.fromisoformat(overlap["time"][bound])
        assert instant.minute % 15 == 0 and instant.second == 0, overlap["time"]
    assert overlap["distance_m"] % 1000 == 0
    assert "volumes" not in overlap
    assert overlap["grid"] == {"h3_resolution": 6, "altitude_layer_m": 300.0, "time_slot_s": 900.0}


def _cells_shape(cells: list[str]) -> Any:
    return shapely.union_all(
        [shapely.Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(c)]) for c in cells]
    )


# --- one huge filing ----------------------------------------------------------------------------


def test_a_huge_filing_is_refused_and_the_largest_allowed_one_learns_only_cells(
    member: Callable[..., Member],
) -> None:
    app = member()
    hidden = app.submit("south", HIDDEN)
    box = {
        "type": "Polygon",
        "coordinates": [[[34.8, 32.8], [37.6, 32.8], [37.6, 35.5], [34.8, 35.5], [34.8, 32.8]]],
    }
    huge = SWEEP | {"volumes": [SWEEP["volumes"][0] | {"footprint": box}]}
    refused = app.call("POST", "/v1/notices", "north", json=huge)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "volumes[0].footprint"
    assert "max_operation_area_km2" in refused.json()["error"]["message"]
    week = SWEEP | {
        "volumes": [SWEEP["volumes"][0] | {"time": {"start": _at(T0), "end": _at(T0 + 2 * DAY)}}]
    }
    assert app.call("POST", "/v1/notices", "north", json=week).status_code == 422

    answer = app.ok("POST", "/v1/notices", "north", 201, json=SWEEP)
    (conflict,) = answer["conflicts"]
    other, overlap = conflict["other"], conflict["overlap"]
    assert other == {"id": hidden["id"], "version": 1, "kind": "operation", "party": "south"}
    _assert_on_grid(overlap)
    # Where and when to keep clear: the whole hidden volume lies inside what is shown…
    cells = _cells_shape(overlap["cells"])
    assert cells.covers(_hidden_circle())
    assert overlap["altitude"]["lower"] == 3_000 and overlap["altitude"]["upper"] == 7_200
    assert overlap["time"] == {"start": "2026-06-01T10:00:00Z", "end": "2026-06-01T14:00:00Z"}
    # …and no more precisely than the grid: every cell is a whole 36 km² cell.
    assert min(h3.cell_area(c, "km^2") for c in overlap["cells"]) > 30
    assert cells.area > _hidden_circle().area * 1.05
    # One conflict is ordinary business; the owner hears when its notice is followed.
    assert app.alerts("south", "share") == []
    moved = HIDDEN | {
        "volumes": [
            HIDDEN["volumes"][0]
            | {"altitude": {"lower": 3_100.0, "upper": 6_980.0, "reference": "W84"}}
        ]
    }
    app.ok("PUT", f"/v1/notices/{hidden['id']}", "south", json=moved | {"version": 1})
    app.ok("GET", "/v1/conflicts", "north")
    (note,) = app.alerts("south", "share")
    assert note["recipient"] == "north" and note["notice"]["id"] == hidden["id"]


# --- refusals -----------------------------------------------------------------------------------


def test_a_refused_strict_write_shows_who_and_what_never_where_and_is_rationed(
    member: Callable[..., Member],
) -> None:
    app = member(check_per_minute=4, probe_alert_per_day=3)
    hidden = app.submit("south", HIDDEN)
    strict = SWEEP | {"strict": True}
    answers = [app.call("POST", "/v1/notices", "north", json=strict) for _ in range(3)]
    assert [a.status_code for a in answers] == [409, 409, 409]
    for answer in answers:
        (missing,) = answer.json()["missing"]
        assert missing == {"id": hidden["id"], "version": 1, "kind": "operation", "party": "south"}
    # A what-if check draws on the same ration: the fourth probe passes, the fifth is 429.
    assert app.call("POST", "/v1/check", "north", json=SWEEP).status_code == 200
    limited = app.call("POST", "/v1/notices", "north", json=strict)
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    assert app.call("POST", "/v1/check", "north", json=SWEEP).status_code == 429
    # Nothing was stored, and the owner was told of the fourth touch, once.
    assert app.ok("GET", "/v1/notices", "north") == []
    (note,) = app.alerts("south", "probes")
    assert note["recipient"] == "north" and note["notice"]["id"] == hidden["id"]
    # A minute later the ration is back.
    app.clock.advance(60)
    assert app.call("POST", "/v1/notices", "north", json=strict).status_code == 409


# --- the conflict list while the owner edits ---------------------------------------------------


def test_the_conflict_list_follows_edits_only_on_the_grid_and_within_the_budget(
    member: Callable[..., Member],
) -> None:
    # The budget covers about two showings of the hidden notice's rounded overlap.
    app = member(disclosure_budget_km2h=8_000)
    hidden = app.submit("south", HIDDEN)
    app.submit("north", SWEEP)
    listed = app.ok("GET", "/v1/conflicts", "north")
    (entry,) = listed
    _assert_on_grid(entry["overlap"])
    first = entry["overlap"]
    # Listing again shows the same view and costs nothing more.
    for _ in range(5):
        (again,) = app.ok("GET", "/v1/conflicts", "north")
        assert again["overlap"] == first
    # The owner moves its operation 300 m east and lowers its floor by 40 m: the list
    # shows the change no finer than the grid.
    moved = _operation(
        (HIDDEN_CENTRE[0] + 0.0033, HIDDEN_CENTRE[1]),
        HIDDEN_RADIUS_M,
        (3_010.0, 6_980.0),
        HIDDEN_START,
        HIDDEN_END,
    )
    app.ok("PUT", f"/v1/notices/{hidden['id']}", "south", json=moved | {"version": 1})
    (after,) = app.ok("GET", "/v1/conflicts", "north")
    _assert_on_grid(after["overlap"])
    assert after["overlap"]["altitude"] == first["altitude"]
    assert after["overlap"]["time"] == first["time"]
    # A third edit passes the budget: from then on, existence only, and the admin hears.
    for step in range(2, 6):
        moved["volumes"][0]["footprint"]["center"][0] += 0.05
        app.ok("PUT", f"/v1/notices/{hidden['id']}", "south", json=moved | {"version": step})
        (latest,) = app.ok("GET", "/v1/conflicts", "north")
    assert latest["overlap"] is None and latest["capped"] is True
    assert latest["other"] == {"id": hidden["id"], "kind": "operation", "party": "south"}
    notes = [n for n in app.alerts("chief", "budget") if n["recipient"] == "north"]
    assert len(notes) == 1
    # The owner still sees its own notice exactly.
    own = app.ok("GET", f"/v1/notices/{hidden['id']}", "south")
    assert own["volumes"][0]["altitude"]["lower"] == 3_010.0


# --- identification -----------------------------------------------------------------------------


def test_an_identify_sweep_is_stopped_by_the_window_and_the_ration_and_the_owner_hears(
    member: Callable[..., Member],
) -> None:
    app = member(identify_per_minute=100, identify_per_owner_per_minute=5, identify_alert_per_day=3)
    app.submit("south", _operation(HIDDEN_CENTRE, HIDDEN_RADIUS_M, HIDDEN_BAND, T0, T0 + DAY / 2))
    at = {"lat": HIDDEN_CENTRE[1], "alt": 5_000, "time": _at(T0)}
    # Probes of the future or the past find no operation at all.
    for hours in (-3, 1, 5, 11):
        when = {"time": _at(T0 + dt.timedelta(hours=hours))}
        answer = app.ok("GET", "/v1/identify", "north", params=at | {"lon": 36.2} | when)
        assert answer["operations"] == []
        assert answer["operations_window"] == {
            "start": "2026-06-01T07:30:00Z",
            "end": "2026-06-01T08:30:00Z",
        }
    # Invalid probes cost nothing.
    for _ in range(150):
        bad = app.call("GET", "/v1/identify", "north", params=at | {"lon": 36.2, "lat": 91})
        assert bad.status_code == 422
    # A sweep across the hidden circle: five hits on south's operation, then 429.
    codes, owners = [], []
    for k in range(12):
        answer = app.call("GET", "/v1/identify", "north", params=at | {"lon": 36.05 + 0.025 * k})
        codes.append(answer.status_code)
        if answer.status_code == 200:
            owners.append([o["party"] for o in answer.json()["operations"]])
    hits = [o for o in owners if o]
    assert len(hits) == 5 and all(o == ["south"] for o in hits)
    assert codes.count(429) >= 1
    assert all(set(o) <= {"party", "kind"} for o in _identified(app, at | {"lon": 37.5}))
    (note,) = app.alerts("south", "identify")
    assert note["recipient"] == "north"


def _identified(app: Member, params: dict[str, Any]) -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = app.ok("GET", "/v1/identify", "north", params=params)[
        "operations"
    ]
    return operations


@pytest.mark.parametrize(
    ("reference", "band", "probe", "miss"),
    [
        ("FL", (340, 360), 350, {"alt": 350, "alt_ref": "W84"}),
        ("W84", (1_000.0, 2_000.0), 1_500, {"alt": 2_600, "alt_ref": "W84"}),
        ("AMSL", (500.0, 800.0), 650, {"alt": 1_200, "alt_ref": "AMSL"}),
        ("AGL", (100.0, 300.0), 200, {"alt": 700, "alt_ref": "AGL"}),
    ],
)
def test_identify_honours_each_altitude_reference(
    tmp_path: Path, reference: str, band: tuple[float, float], probe: float, miss: dict[str, Any]
) -> None:
    with apps(tmp_path, PARTIES, Member, T0) as make:
        app = make()
        body = _operation(HIDDEN_CENTRE, 5_000.0, band, T0, T0 + DAY / 2, reference=reference)
        app.submit("south", body)
        point = {"lon": HIDDEN_CENTRE[0], "lat": HIDDEN_CENTRE[1], "time": _at(T0)}
        found = _identified(app, point | {"alt": probe, "alt_ref": reference})
        assert found == [{"party": "south", "kind": "operation"}]
        assert _identified(app, point | miss) == []


# --- several API processes ----------------------------------------------------------------------


def test_rations_hold_across_processes(member: Callable[..., Member]) -> None:
    """Two API processes on one store give one party one ration, not two."""
    first = member(identify_per_minute=10, check_per_minute=6)
    second = Service(open_store(first.service.store.url), first.clock, first.service.settings)
    other = TestClient(create_app(second), raise_server_exceptions=False)
    headers = {"Authorization": f"Bearer {first.tokens['north']}"}
    try:
        other.__enter__()
        clients = (first.client, other)
        point = {"lon": 36.0, "lat": 34.0, "alt": 100, "time": _at(T0)}
        codes = [
            clients[k % 2].get("/v1/identify", params=point, headers=headers).status_code
            for k in range(20)
        ]
        assert codes == [200] * 10 + [429] * 10
        codes = [
            clients[k % 2].post("/v1/check", json=SWEEP, headers=headers).status_code
            for k in range(12)
        ]
        assert codes == [200] * 6 + [429] * 6
    finally:
        other.__exit__(None, None, None)
        second.store.close()


def test_grid_rounding_is_conservative_near_the_antimeridian_and_the_pole(
    tmp_path: Path,
) -> None:
    with apps(tmp_path, PARTIES, Member, T0) as make:
        app = make()
        for centre in ((179.95, -16.5), (-179.97, 65.0), (20.0, 89.5)):
            body = _operation(centre, 8_000.0, (0, 900), T0, T0 + DAY / 4)
            app.submit("south", body)
            probe = _operation(centre, 20_000.0, (0, 900), T0, T0 + DAY / 4)
            answer = app.ok("POST", "/v1/notices", "north", 201, json=probe)
            (conflict,) = answer["conflicts"]
            cells = set(conflict["overlap"]["cells"])
            fp = circle(*centre, 8_000.0)
            for lon, lat in fp.outline(64)[0]:
                assert h3.latlng_to_cell(lat, lon, 6) in cells, (centre, lon, lat)
            assert h3.latlng_to_cell(centre[1], centre[0], 6) in cells
            assert math.isfinite(conflict["overlap"]["distance_m"])


def test_identify_answers_a_hidden_notice_for_the_whole_cell_layer_and_slot(
    member: Callable[..., Member],
) -> None:
    """A sweep learns no finer than the grid: every point of a cell gets the same answer."""
    app = member()
    cell = h3.latlng_to_cell(HIDDEN_CENTRE[1], HIDDEN_CENTRE[0], 6)
    lat, lon = h3.cell_to_latlng(cell)
    start = T0 + dt.timedelta(minutes=3)
    small = _operation(
        (lon, lat), 500.0, (1_010.0, 1_090.0), start, start + dt.timedelta(minutes=7)
    )
    app.submit("south", small)
    app.submit("relief", small | {"audience": {"parties": ["north"], "channels": []}})
    inside = {"lon": lon, "lat": lat, "alt": 1_050, "time": _at(start + dt.timedelta(minutes=1))}
    # 2 km north, 150 m higher, 4 minutes later: outside the notice, inside its cell,
    # layer (900–1,200 m) and slot (08:00–08:15).
    outside = {
        "lon": lon,
        "lat": lat + 0.018,
        "alt": 1_190,
        "time": _at(T0 + dt.timedelta(minutes=14)),
    }
    assert h3.latlng_to_cell(outside["lat"], outside["lon"], 6) == cell
    near = _identified(app, inside)
    far = _identified(app, outside)
    assert {"party": "south", "kind": "operation"} in near
    assert {"party": "south", "kind": "operation"} in far
    # The audience is answered exactly: relief's notice, which north may see, only at the point.
    assert [o["party"] for o in near if "id" in o] == ["relief"]
    assert [o["party"] for o in far if "id" in o] == []
    # Another layer or slot is another answer.
    assert _identified(app, inside | {"alt": 1_250}) == []
    assert _identified(app, inside | {"time": _at(T0 + dt.timedelta(minutes=16))}) == []


# --- roles --------------------------------------------------------------------------------------


def test_admins_and_auditors_read_disclosures_and_alerts_without_content(
    member: Callable[..., Member],
) -> None:
    app = member()
    app.submit("south", HIDDEN)
    app.submit("north", SWEEP)
    app.ok("GET", "/v1/conflicts", "north")
    records = app.ok("GET", "/v1/disclosures", "chief")
    assert records and all("view" not in r for r in records)
    own = app.ok("GET", "/v1/disclosures", "north")
    assert own and all("view" in r for r in own)
    for alert in app.ok("GET", "/v1/alerts", "chief", params={"party": "south"}):
        assert "data" not in alert


def test_many_small_filings_over_a_hidden_notice_alert_its_owner(
    member: Callable[..., Member],
) -> None:
    """A conflict's existence is exact: mapping a notice with small filings is reported."""
    app = member(probe_alert_per_day=3)
    hidden = app.submit("south", HIDDEN)
    for k in range(5):
        spot = (HIDDEN_CENTRE[0] - 0.1 + 0.05 * k, HIDDEN_CENTRE[1])
        probe = _operation(spot, 500.0, (5_000, 5_100), HIDDEN_START, HIDDEN_START + DAY / 48)
        filed = app.ok("POST", "/v1/notices", "north", 201, json=probe)
        assert [c["other"]["id"] for c in filed["conflicts"]] == [hidden["id"]]
        notice = filed["notice"]
        app.ok("DELETE", f"/v1/notices/{notice['id']}", "north", params={"version": 1})
    (note,) = app.alerts("south", "probes")
    assert note["recipient"] == "north" and note["notice"]["id"] == hidden["id"]


def test_auditors_and_admins_read_the_ledger_and_incidents_without_content(
    member: Callable[..., Member],
) -> None:
    """The roles that see every record see what was notified and shown, never the plan."""
    app = member()
    filed = app.ok("POST", "/v1/notices", "south", 201, json=HIDDEN)
    app.submit("north", SWEEP)
    index = filed["receipt"]["index"]
    question = {
        "at": _at(HIDDEN_START + dt.timedelta(minutes=30)),
        "lon": HIDDEN_CENTRE[0],
        "lat": HIDDEN_CENTRE[1],
        "radius_km": 20,
        "window_min": 30,
    }
    for reader in ("audit", "chief"):
        entry = app.ok("GET", f"/v1/ledger/entries/{index}", reader)
        assert entry["redacted"] is True and "salt" not in entry
        report = app.ok("GET", "/v1/incident", reader, params=question)
        for shown in (entry, report):
            text = json.dumps(shown)
            assert "SAF-101" not in text and "radius_m" not in text, reader
            assert f"{HIDDEN_RADIUS_M}," not in text and "6980.0," not in text, reader
            assert '"volumes"' not in text and '"aircraft"' not in text, reader
        assert filed["notice"]["id"] in json.dumps(report)  # that it was notified is no secret
    # The owner still reads its own record whole.
    own = app.ok("GET", f"/v1/ledger/entries/{index}", "south")
    assert own["record"]["doc"]["aircraft"] == ["SAF-101"]


def test_a_notice_known_through_a_conflict_may_be_acknowledged_as_it_may_be_read(
    member: Callable[..., Member],
) -> None:
    app = member()
    hidden = app.submit("south", HIDDEN)
    app.submit("north", SWEEP)
    url = f"/v1/notices/{hidden['id']}"
    assert app.call("GET", url, "north").status_code == 200  # the minimal view
    acked = app.call("POST", f"{url}/ack", "north", json={"version": 1})
    assert acked.status_code in (200, 201), acked.text
    # A party with no conflict with it learns nothing: the same 404 as an unknown id.
    for target in (url, "/v1/notices/n-0000000000000000"):
        refused = app.call("POST", f"{target}/ack", "relief", json={"version": 1})
        assert refused.status_code == 404 and app.call("GET", target, "relief").status_code == 404
