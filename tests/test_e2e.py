"""End to end: a real ``deconflict serve`` process, real parties, real HTTP.

Each test gets its own server on its own store, once on a SQLite file and once
on a PostgreSQL database. The parties and the channel are made once per
backend with the CLI (``deconflict party add`` and ``deconflict channel
add``), and each test starts from a copy of that store.

The parties:

- ``alpha`` and ``bravo`` notify operations that overlap each other;
- ``charlie`` has no notice in conflict and is in no audience;
- ``alpha``, ``delta`` and ``echo`` form the channel ``coalition``. ``bravo``
  names ``delta`` in its audience directly; ``alpha`` names the channel.

The server reads the system clock, so times are hours from the start of the
test module, and every operation ends well within the 400-day horizon.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h3
import httpx
import pytest

from deconflict.clock import SystemClock
from deconflict.demo import load_scenario
from server import Server, cli, copy_store, free_port, new_store

PARTIES = ("alpha", "bravo", "charlie", "delta", "echo")
_T0 = SystemClock().now().replace(second=0, microsecond=0)

# What a conflict may show of another party's notice (DESIGN.md, invariant 2).
_MINIMAL_KEYS = {"id", "version", "kind", "category", "party", "contact"}
_NEVER_SHOWN = ("volumes", "route", "aircraft", "audience", "footprint")
_OVERLAP_KEYS = {"footprint", "cells", "distance_m", "altitude", "time", "grid"}


# --- notice bodies ---------------------------------------------------------------------


def _at(hours: float) -> str:
    return (_T0 + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def _circle(lon: float, lat: float, radius_m: float) -> dict[str, Any]:
    return {"type": "Circle", "center": [lon, lat], "radius_m": radius_m}


def _operation(
    footprint: dict[str, Any],
    *,
    lower: float,
    upper: float,
    start_h: float,
    end_h: float,
    **fields: Any,
) -> dict[str, Any]:
    volume = {
        "footprint": footprint,
        "altitude": {"lower": lower, "upper": upper, "reference": "W84", "units": "m"},
        "time": {"start": _at(start_h), "end": _at(end_h)},
    }
    return {"kind": "operation", "volumes": [volume], **fields}


def _alpha_operation(**fields: Any) -> dict[str, Any]:
    """A box 0.2° wide, 0–1000 m, from hour 1 to hour 3."""
    body = {
        "category": "combat air patrol",
        "aircraft": ["ALPHA-1", "ALPHA-2"],
        "contact": "alpha-desk@example.org",
        "audience": {"channels": ["coalition"]},
        **fields,
    }
    return _operation(_box(10.0, 10.0, 10.2, 10.2), lower=0, upper=1000, start_h=1, end_h=3, **body)


def _bravo_operation(**fields: Any) -> dict[str, Any]:
    """A circle reaching into alpha's box from the east, 500–1500 m, from hour 2 to hour 4.

    Against alpha's box, the clipped overlap is 500–1000 m from hour 2 to hour 3:
    it shows neither bravo's ceiling, nor its end, nor its centre.
    """
    body = {
        "category": "reconnaissance",
        "aircraft": ["BRAVO-7"],
        "contact": "bravo-desk@example.org",
        "audience": {"parties": ["delta"]},
        **fields,
    }
    return _operation(_circle(10.23, 10.1, 7777), lower=500, upper=1500, start_h=2, end_h=4, **body)


def _movement(contact: str, disclose: bool) -> dict[str, Any]:
    """A convoy driving north through alpha's box between hours 1.5 and 2.5."""
    return {
        "kind": "movement",
        "category": "humanitarian",
        "contact": contact,
        "disclose_contact": disclose,
        "audience": {"parties": ["delta"]},
        "route": {
            "coordinates": [[10.1, 9.9], [10.1, 10.3]],
            "waypoint_times": [_at(1.5), _at(2.5)],
            "corridor_half_width_m": 100,
            "altitude": {"lower": 0, "upper": 50, "reference": "W84", "units": "m"},
        },
    }


# --- the world: a server, its parties, their clients --------------------------------------


class World:
    """A running server and one HTTP client per party."""

    def __init__(self, server: Server, tokens: dict[str, str]) -> None:
        self.server = server
        self.tokens = tokens
        self._clients: dict[str, httpx.Client] = {}

    def __getitem__(self, party: str) -> httpx.Client:
        client = self._clients.get(party)
        if client is None:
            client = httpx.Client(
                base_url=self.server.url,
                headers={"Authorization": f"Bearer {self.tokens[party]}"},
                timeout=30.0,
            )
            self._clients[party] = client
        return client

    def close_clients(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def restart(self, *, kill: bool = False) -> None:
        """Stop the server (SIGTERM, or SIGKILL) and start it again on the same store."""
        self.close_clients()
        if kill:
            self.server.kill()
        else:
            self.server.stop()
        self.server.start()

    def submit(self, party: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
        """POST a notice that must be accepted; the 201 answer."""
        response = self[party].post("/v1/notices", json=body, headers=headers)
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def conflicts(self, party: str, status: str = "open") -> list[dict[str, Any]]:
        response = self[party].get("/v1/conflicts", params={"status": status})
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found

    def visible(self, party: str) -> list[dict[str, Any]]:
        """The notices ``GET /v1/notices`` lists for the party, by id."""
        response = self[party].get("/v1/notices")
        assert response.status_code == 200, response.text
        return sorted(response.json(), key=lambda n: n["id"])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, str]]:
    """A store with the parties and the channel, made with the CLI, and their tokens."""
    db = new_store(request.param, tmp_path_factory.mktemp("seed"), request)
    tokens = {}
    for party in PARTIES:
        out = cli("party", "add", party, "--name", party.title(), "--db", db)
        tokens[party] = out.strip()
    cli("channel", "add", "coalition", "--members", "alpha,delta,echo", "--db", db)
    return db, tokens


@pytest.fixture
def world(
    seeded: tuple[str, dict[str, str]], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[World]:
    template, tokens = seeded
    server = Server.serve(copy_store(template, tmp_path, request), tmp_path / "server.log")
    world = World(server, tokens)
    try:
        server.start()
        yield world
    finally:
        world.close_clients()
        server.stop()


# --- assertions on what a party is shown -------------------------------------------------


def _keys(value: Any) -> set[str]:
    """Every key anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value).union(*(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value))
    return set()


def _assert_minimal(view: dict[str, Any], notice: dict[str, Any]) -> None:
    """``view`` shows ``notice`` (its owner's full view) no more than a conflict allows."""
    assert {k: view.get(k) for k in ("id", "version", "kind", "party")} == {
        k: notice[k] for k in ("id", "version", "kind", "party")
    }
    assert set(view) <= _MINIMAL_KEYS, f"extra fields shown: {set(view) - _MINIMAL_KEYS}"
    for name in _NEVER_SHOWN:
        assert name not in _keys(view), f"{name} of another party's notice was shown"
    if notice["disclose_contact"]:
        assert view.get("contact") == notice["contact"]
    else:
        assert "contact" not in view
    text = json.dumps(view)
    for secret in [*notice["aircraft"], *notice["audience"]["parties"]]:
        assert secret not in text


def _assert_clipped(overlap: dict[str, Any]) -> None:
    """An overlap shown to a non-audience party: on the grid, no per-volume indices."""
    assert set(overlap) <= _OVERLAP_KEYS, f"overlap shows {set(overlap) - _OVERLAP_KEYS}"
    assert all(h3.get_resolution(c) == 6 for c in overlap["cells"])
    assert all(v % 300 == 0 for v in overlap["altitude"].values() if isinstance(v, float))


def _assert_full(view: dict[str, Any], notice: dict[str, Any]) -> None:
    """``view`` is the full notice, as its owner sees it."""
    for name in ("id", "version", "party", "kind", "volumes", "aircraft", "audience"):
        assert view[name] == notice[name], name


# --- a conflict is reported to both parties ------------------------------------------------


def test_a_conflict_is_reported_to_both_parties(world: World) -> None:
    alpha = world.submit("alpha", _alpha_operation())
    assert alpha["conflicts"] == []

    bravo = world.submit("bravo", _bravo_operation())

    a_id, b_id = alpha["notice"]["id"], bravo["notice"]["id"]
    [seen_by_bravo] = bravo["conflicts"]
    assert seen_by_bravo["kind"] == "airspace"
    assert seen_by_bravo["status"] == "open"
    assert seen_by_bravo["notice"] == {"id": b_id, "version": 1}
    assert (seen_by_bravo["other"]["id"], seen_by_bravo["other"]["party"]) == (a_id, "alpha")

    [seen_by_alpha] = world.conflicts("alpha")
    assert seen_by_alpha["kind"] == "airspace"
    assert seen_by_alpha["status"] == "open"
    assert seen_by_alpha["notice"] == {"id": a_id, "version": 1}
    assert (seen_by_alpha["other"]["id"], seen_by_alpha["other"]["party"]) == (b_id, "bravo")
    assert seen_by_alpha["other"]["version"] == 1


# --- each party sees only what DESIGN.md allows -------------------------------------------


def test_a_conflict_shows_each_side_only_the_minimal_view_and_the_clipped_overlap(
    world: World,
) -> None:
    alpha = world.submit("alpha", _alpha_operation())
    bravo = world.submit("bravo", _bravo_operation())

    [seen_by_bravo] = bravo["conflicts"]
    _assert_minimal(seen_by_bravo["other"], alpha["notice"])
    _assert_clipped(seen_by_bravo["overlap"])

    [seen_by_alpha] = world.conflicts("alpha")
    _assert_minimal(seen_by_alpha["other"], bravo["notice"])
    overlap = seen_by_alpha["overlap"]
    _assert_clipped(overlap)
    # The overlap (500–1000 m, hours 2–3) rounded outward to 300 m layers and 15 minutes.
    assert (overlap["altitude"]["lower"], overlap["altitude"]["upper"]) == (300, 1200)
    start, end = (dt.datetime.fromisoformat(_at(h)) for h in (2, 3))
    slot = dt.timedelta(minutes=15)
    assert dt.datetime.fromisoformat(overlap["time"]["start"]) == start - start.minute % 15 * (
        slot / 15
    ) - dt.timedelta(seconds=start.second, microseconds=start.microsecond)
    shown_end = dt.datetime.fromisoformat(overlap["time"]["end"])
    assert end <= shown_end < end + slot and shown_end.minute % 15 == 0
    # Nor are bravo's centre, radius or end time anywhere in what alpha is shown.
    assert "radius_m" not in _keys(seen_by_alpha)
    assert "center" not in _keys(seen_by_alpha)
    assert _at(4) not in json.dumps(seen_by_alpha)


def test_reading_a_notice_in_conflict_gives_the_minimal_view(world: World) -> None:
    world.submit("alpha", _alpha_operation())
    bravo = world.submit("bravo", _bravo_operation())

    response = world["alpha"].get(f"/v1/notices/{bravo['notice']['id']}")

    assert response.status_code == 200, response.text
    _assert_minimal(response.json(), bravo["notice"])


def test_a_movement_in_conflict_shows_no_route_and_its_contact_only_if_allowed(
    world: World,
) -> None:
    shared = world.submit("bravo", _movement("convoy-lead@example.org", disclose=True))
    private = world.submit("bravo", _movement("convoy-private@example.org", disclose=False))

    alpha = world.submit("alpha", _alpha_operation())

    others = {c["other"]["id"]: c for c in alpha["conflicts"]}
    assert set(others) == {shared["notice"]["id"], private["notice"]["id"]}
    for movement in (shared, private):
        conflict = others[movement["notice"]["id"]]
        assert conflict["kind"] == "protection"
        _assert_minimal(conflict["other"], movement["notice"])
        assert "waypoint_times" not in _keys(conflict)
    assert others[shared["notice"]["id"]]["other"]["contact"] == "convoy-lead@example.org"
    assert "convoy-private@example.org" not in json.dumps(alpha)


def test_the_audience_sees_the_notice_in_full_directly_or_through_a_channel(
    world: World,
) -> None:
    alpha = world.submit("alpha", _alpha_operation())  # audience: channel coalition
    bravo = world.submit("bravo", _bravo_operation())  # audience: party delta

    for reader, notice in (("delta", bravo), ("delta", alpha), ("echo", alpha)):
        response = world[reader].get(f"/v1/notices/{notice['notice']['id']}")
        assert response.status_code == 200, response.text
        _assert_full(response.json(), notice["notice"])
    assert [n["id"] for n in world.visible("echo")] == [alpha["notice"]["id"]]
    listed = {n["id"]: n for n in world.visible("delta")}
    assert listed.keys() == {alpha["notice"]["id"], bravo["notice"]["id"]}
    assert listed[bravo["notice"]["id"]]["aircraft"] == ["BRAVO-7"]

    # In a conflict too, the audience is shown the other notice in full.
    east_of_alpha = _box(10.26, 10.08, 10.35, 10.12)
    delta = world.submit(
        "delta", _operation(east_of_alpha, lower=0, upper=2000, start_h=2, end_h=4)
    )
    [conflict] = delta["conflicts"]
    _assert_full(conflict["other"], bravo["notice"])


def test_only_a_channels_members_may_name_it_and_others_cannot_tell_it_exists(
    world: World,
) -> None:
    answers = {}
    for channel in ("coalition", "nowhere"):
        body = _bravo_operation(audience={"parties": [], "channels": [channel]})
        response = world["charlie"].post("/v1/notices", json=body)
        assert response.status_code == 422, response.text
        answers[channel] = response.json()["error"]
    assert answers["coalition"]["field"] == answers["nowhere"]["field"] == "audience.channels[0]"
    assert answers["coalition"]["message"] == "no channel 'coalition' that the caller belongs to"
    assert answers["nowhere"]["message"] == "no channel 'nowhere' that the caller belongs to"
    assert world["charlie"].get("/v1/notices").json() == []  # nothing was filed
    filed = world.submit("delta", _bravo_operation(audience={"channels": ["coalition"]}))
    assert filed["notice"]["audience"]["channels"] == ["coalition"]


def test_a_party_with_no_conflict_and_not_in_the_audience_sees_nothing(world: World) -> None:
    world.submit("alpha", _alpha_operation())
    bravo = world.submit("bravo", _bravo_operation())
    b_id = bravo["notice"]["id"]

    for outsider in ("charlie", "echo"):  # echo's channel is not in bravo's audience
        response = world[outsider].get(f"/v1/notices/{b_id}")
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
        assert b_id not in [n["id"] for n in world.visible(outsider)]
    assert world.visible("charlie") == []


def test_a_what_if_check_shows_a_non_audience_party_only_id_kind_and_owner(
    world: World,
) -> None:
    bravo = world.submit("bravo", _bravo_operation())

    response = world["charlie"].post("/v1/check", json=_alpha_operation(audience={}))

    assert response.status_code == 200, response.text
    assert response.json() == {
        "conflicts": [
            {
                "kind": "airspace",
                "other": {"id": bravo["notice"]["id"], "kind": "operation", "party": "bravo"},
            }
        ]
    }
    assert world.visible("charlie") == []  # nothing was stored
    assert world.conflicts("bravo") == []


def test_identify_tells_a_non_audience_party_only_owner_and_kind(world: World) -> None:
    world.submit("alpha", _alpha_operation())
    # Identification is about now: bravo's circle flies from now, alpha's box from hour 1.
    flying = _bravo_operation() | {
        "volumes": [_bravo_operation()["volumes"][0] | {"time": {"start": _at(0), "end": _at(4)}}]
    }
    bravo = world.submit("bravo", flying)
    point = {"lon": 10.25, "lat": 10.1, "alt": 1200, "time": _at(0.05)}

    outsider = world["charlie"].get("/v1/identify", params=point)
    audience = world["delta"].get("/v1/identify", params=point)

    assert outsider.status_code == 200, outsider.text
    assert outsider.json()["operations"] == [{"party": "bravo", "kind": "operation"}]
    assert audience.status_code == 200, audience.text
    [full] = audience.json()["operations"]
    _assert_full(full, bravo["notice"])


# --- versions, cancellation, awareness, idempotency ---------------------------------------


def test_an_update_with_a_stale_version_is_refused_and_changes_nothing(world: World) -> None:
    alpha = world.submit("alpha", _alpha_operation())
    world.submit("bravo", _bravo_operation())
    a_id = alpha["notice"]["id"]
    fewer = world["alpha"].put(
        f"/v1/notices/{a_id}", json=_alpha_operation(aircraft=["ALPHA-1"], version=1)
    )
    assert fewer.status_code == 200, fewer.text
    assert fewer.json()["notice"]["version"] == 2

    # The stale update would move the notice far away, out of conflict.
    far = _operation(_box(20.0, 20.0, 20.1, 20.1), lower=0, upper=100, start_h=1, end_h=2)
    stale = world["alpha"].put(f"/v1/notices/{a_id}", json=far | {"version": 1})

    assert stale.status_code == 409, stale.text
    assert stale.json()["error"]["code"] == "stale_version"
    current = world["alpha"].get(f"/v1/notices/{a_id}").json()
    assert current == fewer.json()["notice"]
    assert current["version"] == 2
    [still_open] = world.conflicts("bravo")
    assert still_open["other"]["id"] == a_id
    assert still_open["other"]["version"] == 2


def test_cancelling_a_notice_resolves_its_conflict(world: World) -> None:
    alpha = world.submit("alpha", _alpha_operation())
    bravo = world.submit("bravo", _bravo_operation())
    a_id, b_id = alpha["notice"]["id"], bravo["notice"]["id"]

    response = world["bravo"].delete(f"/v1/notices/{b_id}", params={"version": 1})

    assert response.status_code == 200, response.text
    assert response.json()["notice"]["state"] == "cancelled"
    assert response.json()["notice"]["version"] == 2
    assert world.conflicts("alpha") == []
    assert world.conflicts("bravo") == []
    [resolved_for_alpha] = world.conflicts("alpha", "resolved")
    assert resolved_for_alpha["status"] == "resolved"
    assert resolved_for_alpha["notice"]["id"] == a_id
    assert resolved_for_alpha["other"]["id"] == b_id
    [resolved_for_bravo] = world.conflicts("bravo", "resolved")
    assert resolved_for_bravo["other"]["id"] == a_id


def _two_bravo_operations(world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    first = world.submit("bravo", _bravo_operation())
    second = world.submit("bravo", _bravo_operation(aircraft=["BRAVO-8"]))
    return first["notice"], second["notice"]


def test_a_strict_write_not_aware_of_every_conflict_is_refused_and_writes_nothing(
    world: World,
) -> None:
    first, second = _two_bravo_operations(world)
    body = _alpha_operation(strict=True, aware_of=[{"id": first["id"], "version": 1}])

    response = world["alpha"].post("/v1/notices", json=body)

    assert response.status_code == 409, response.text
    answer = response.json()
    assert answer["error"]["code"] == "awareness_missing"
    [missing] = answer["missing"]
    # Who and what, never where: a refusal shows no more than a what-if check.
    assert missing == {k: second[k] for k in ("id", "version", "kind", "party")}
    assert world.visible("alpha") == []
    assert world.conflicts("alpha") == []
    assert world.conflicts("bravo") == []
    assert len(world.visible("bravo")) == 2


def test_a_strict_write_aware_of_every_conflict_is_accepted(world: World) -> None:
    first, second = _two_bravo_operations(world)
    aware_of = [{"id": n["id"], "version": n["version"]} for n in (first, second)]

    response = world["alpha"].post(
        "/v1/notices", json=_alpha_operation(strict=True, aware_of=aware_of)
    )

    assert response.status_code == 201, response.text
    listed = {c["other"]["id"] for c in response.json()["conflicts"]}
    assert listed == {first["id"], second["id"]}
    assert len(world.conflicts("bravo")) == 2


def test_a_retried_post_with_the_same_idempotency_key_creates_one_notice(world: World) -> None:
    world.submit("bravo", _bravo_operation())
    key = {"Idempotency-Key": "alpha-cap-0001"}

    first = world.submit("alpha", _alpha_operation(), **key)
    again = world.submit("alpha", _alpha_operation(), **key)

    assert again["notice"]["id"] == first["notice"]["id"]
    assert again == first
    assert [n["id"] for n in world.visible("alpha")] == [first["notice"]["id"]]
    assert len(world.conflicts("bravo")) == 1


def test_a_key_reused_for_a_different_request_never_acknowledges_an_unapplied_write(
    world: World,
) -> None:
    key = {"Idempotency-Key": "alpha-0002"}
    a_id = world.submit("alpha", _alpha_operation(), **key)["notice"]["id"]

    cancel = world["alpha"].delete(f"/v1/notices/{a_id}", params={"version": 1}, headers=key)

    state = world["alpha"].get(f"/v1/notices/{a_id}").json()["state"]
    if cancel.is_success:  # the key may be scoped to the request: then the cancel is applied
        assert state == "cancelled", f"cancel answered {cancel.status_code}, notice still {state}"
    else:  # or the reuse is refused, and nothing changes
        assert 400 <= cancel.status_code < 500, cancel.text
        assert state == "planned"


# --- nothing acknowledged is lost ----------------------------------------------------------


def _snapshot(world: World) -> dict[str, Any]:
    """What every party can list: its visible notices and all its conflicts."""
    return {
        party: {"notices": world.visible(party), "conflicts": world.conflicts(party, "all")}
        for party in PARTIES
    }


def test_acknowledged_writes_survive_a_restart(world: World) -> None:
    alpha = world.submit("alpha", _alpha_operation())
    bravo = world.submit("bravo", _bravo_operation())
    cancelled = world.submit("bravo", _bravo_operation(aircraft=["BRAVO-9"]))
    a_id, b_id, c_id = (n["notice"]["id"] for n in (alpha, bravo, cancelled))
    update = world["alpha"].put(f"/v1/notices/{a_id}", json=_alpha_operation(version=1))
    assert update.status_code == 200, update.text
    cancel = world["bravo"].delete(f"/v1/notices/{c_id}", params={"version": 1})
    assert cancel.status_code == 200, cancel.text
    keyed = world.submit("charlie", _alpha_operation(audience={}), **{"Idempotency-Key": "k1"})
    before = _snapshot(world)

    world.restart()

    assert _snapshot(world) == before
    assert world["alpha"].get(f"/v1/notices/{a_id}").json()["version"] == 2
    assert world["bravo"].get(f"/v1/notices/{c_id}").json()["state"] == "cancelled"
    open_for_bravo = {(c["notice"]["id"], c["other"]["party"]) for c in world.conflicts("bravo")}
    assert open_for_bravo == {(b_id, "alpha"), (b_id, "charlie")}
    assert {c["other"]["id"] for c in world.conflicts("alpha", "resolved")} == {c_id}
    retried = world.submit("charlie", _alpha_operation(audience={}), **{"Idempotency-Key": "k1"})
    assert retried["notice"]["id"] == keyed["notice"]["id"]
    assert len(world.visible("charlie")) == 1


def _burst(
    world: World,
    party: str,
    body: dict[str, Any],
    acknowledged: list[tuple[str, str, int, list[str]]],
    failures: list[str],
) -> None:
    """File and then update notices until the server goes away; record each 2xx answer."""
    with httpx.Client(
        base_url=world.server.url,
        headers={"Authorization": f"Bearer {world.tokens[party]}"},
        timeout=30.0,
    ) as client:
        try:
            while True:
                created = client.post("/v1/notices", json=body)
                if created.status_code != 201:
                    failures.append(created.text)
                    return
                notice = created.json()["notice"]
                others = [c["other"]["id"] for c in created.json()["conflicts"]]
                acknowledged.append((party, notice["id"], 1, others))
                updated = client.put(f"/v1/notices/{notice['id']}", json=body | {"version": 1})
                if updated.status_code != 200:
                    failures.append(updated.text)
                    return
                others = [c["other"]["id"] for c in updated.json()["conflicts"]]
                acknowledged.append((party, notice["id"], 2, others))
        except httpx.TransportError:
            return  # the server was killed


def test_acknowledged_writes_survive_kill_9(world: World) -> None:
    acknowledged: list[tuple[str, str, int, list[str]]] = []
    failures: list[str] = []
    writers = [
        threading.Thread(
            target=_burst, args=(world, party, body, acknowledged, failures), daemon=True
        )
        for party, body in [
            ("alpha", _alpha_operation()),
            ("alpha", _alpha_operation(aircraft=["ALPHA-3"])),
            ("bravo", _bravo_operation()),
            ("bravo", _bravo_operation(aircraft=["BRAVO-8"])),
        ]
    ]
    for writer in writers:
        writer.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 60 and not failures and time.monotonic() < deadline:
        time.sleep(0.001)

    world.server.kill()  # while the writers still have requests in flight
    for writer in writers:
        writer.join(timeout=30)
    assert failures == []
    assert len(acknowledged) >= 60
    world.restart()

    for party in ("alpha", "bravo"):
        notices = {n["id"]: n for n in world.visible(party)}
        pairs = {(c["notice"]["id"], c["other"]["id"]) for c in world.conflicts(party, "all")}
        for owner, notice_id, version, others in acknowledged:
            if owner != party:
                continue
            assert notice_id in notices, f"acknowledged notice {notice_id} was lost"
            assert notices[notice_id]["version"] >= version
            for other in others:
                assert (notice_id, other) in pairs, f"conflict {notice_id} × {other} was lost"


# --- the demo ------------------------------------------------------------------------------


def test_the_demo_prints_a_token_per_party_and_north_air_has_conflicts(tmp_path: Path) -> None:
    port = free_port()
    demo = Server(
        ["demo", "--port", str(port), "--db", str(tmp_path / "demo.db")],
        port,
        tmp_path / "demo.log",
    )
    try:
        demo.start()
        printed = re.findall(
            r"^\s+(\S+)\s+(?:member|admin|auditor)\s+(dcf_\S+)$", demo.output(), re.M
        )
        tokens = dict(printed)
        assert len(printed) == len(tokens)
        assert set(tokens) == {p["id"] for p in load_scenario()["parties"]}

        response = httpx.get(
            f"{demo.url}/v1/conflicts",
            headers={"Authorization": f"Bearer {tokens['north-air']}"},
            timeout=30.0,
        )
    finally:
        demo.stop()

    assert response.status_code == 200, response.text
    conflicts = response.json()
    assert conflicts != []
    assert "south-air" in {c["other"]["party"] for c in conflicts}
    for conflict in conflicts:  # north-air is in no audience of the scenario
        assert "aircraft" not in conflict["other"]


#: Where the towns the demo names lie (degrees east, north).
TOWNS = {"homs": (36.7094, 34.7308), "hama": (36.7578, 35.1318)}


def test_a_place_the_demo_names_lies_in_the_town_it_names() -> None:
    """A label that names a town must sit in it, and nearer it than any other town named."""
    named = 0
    for notice in load_scenario()["notices"]:
        towns = [t for t in TOWNS if t in notice["label"]]
        if not towns:
            continue
        named += 1
        lon, lat = notice["body"]["volumes"][0]["footprint"]["center"]
        km = {
            t: 111.2 * math.hypot((lon - x) * math.cos(math.radians(lat)), lat - y)
            for t, (x, y) in TOWNS.items()
        }
        assert km[towns[0]] < 5 and min(km, key=km.__getitem__) == towns[0], (notice["label"], km)
    assert named >= 1
