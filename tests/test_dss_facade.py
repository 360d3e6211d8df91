"""The ASTM F3548-21 facade, end to end: a real server, real JWTs, the standard's contract.

Every answer is checked against the standard's operations and data types as
``uas-standards`` carries them (:mod:`tests.f3548`): its status must be
documented for the operation and its body must match the documented schema.
Each test works in its own place, so the tests share one server per backend.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import Browser

from deconflict.clock import SystemClock
from f3548 import ALL_SCOPES, Authority, Party, Uss
from server import Server, cli, free_port, new_store
from test_console import Demo, console, shown

SC = "utm.strategic_coordination"
CMSA = "utm.conformance_monitoring_sa"
CM = "utm.constraint_management"
CP = "utm.constraint_processing"
AA = "utm.availability_arbitration"


@dataclass
class Facade:
    server: Server
    authority: Authority
    db: str
    tokens: dict[str, str]  # native parties

    def uss(self, sub: str, scopes: tuple[str, ...] = ALL_SCOPES, **claims: Any) -> Uss:
        return Uss(self.server.url, self.authority.token(sub, scopes, **claims))

    def native(self, party: str) -> Party:
        return Party(self.server.url, self.tokens[party])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def facade(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Facade]:
    folder = tmp_path_factory.mktemp("dss")
    db = new_store(request.param, folder, request)
    tokens = {
        party: cli("party", "add", party, "--name", party.title(), "--db", db, *extra).strip()
        for party, extra in (
            ("relief", ()),
            ("admin", ("--role", "admin")),
            ("auditor", ("--role", "auditor")),
        )
    }
    authority = Authority(folder)
    port = free_port()
    args = [
        "serve", "--db", db, "--host", "127.0.0.1", "--port", str(port),
        "--dss-public-key", str(authority.rsa_pem),
        "--dss-public-key", str(authority.ec_pem),
        "--dss-audience", "localhost",
        "--dss-audience", "dss.test",
    ]  # fmt: skip
    server = Server(args, port, folder / "server.log")
    server.start()
    try:
        yield Facade(server, authority, db, tokens)
    finally:
        server.stop()


_NOW = SystemClock().now()


def _time(hours: float) -> dict[str, str]:
    instant = _NOW + dt.timedelta(hours=hours)
    return {"value": instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "format": "RFC3339"}


def volume(
    lon: float,
    lat: float,
    *,
    radius_m: float = 2000.0,
    hours: tuple[float, float] = (1.0, 2.0),
    alt: tuple[float, float] = (0.0, 120.0),
) -> dict[str, Any]:
    return {
        "volume": {
            "outline_circle": {
                "center": {"lng": lon, "lat": lat},
                "radius": {"value": radius_m, "units": "M"},
            },
            "altitude_lower": {"value": alt[0], "reference": "W84", "units": "M"},
            "altitude_upper": {"value": alt[1], "reference": "W84", "units": "M"},
        },
        "time_start": _time(hours[0]),
        "time_end": _time(hours[1]),
    }


def square(lon: float, lat: float, half_deg: float = 0.02) -> dict[str, Any]:
    """A Volume4D with a polygon outline, an hour from now."""
    vertices = [
        {"lng": lon - half_deg, "lat": lat - half_deg},
        {"lng": lon + half_deg, "lat": lat - half_deg},
        {"lng": lon + half_deg, "lat": lat + half_deg},
        {"lng": lon - half_deg, "lat": lat + half_deg},
    ]
    shape = volume(lon, lat)
    shape["volume"].pop("outline_circle")
    shape["volume"]["outline_polygon"] = {"vertices": vertices}
    return shape


def intent(
    extents: list[dict[str, Any]],
    *,
    key: list[str] | None = None,
    state: str = "Accepted",
    implicit: bool = True,
    constraints: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "extents": extents,
        "state": state,
        "uss_base_url": "https://uss.test/utm",
        "key": key or [],
    }
    if implicit:
        body["new_subscription"] = {
            "uss_base_url": "https://uss.test/utm",
            "notify_for_constraints": constraints,
        }
    return body | extra


def new_id() -> str:
    return str(uuid.uuid4())


OIR = "/operational_intent_references"
CR = "/constraint_references"


# --- the key and OVN flow -------------------------------------------------------------


def test_two_uss_deconflict_through_keys_and_ovns(facade: Facade) -> None:
    alpha, bravo = facade.uss("alpha"), facade.uss("bravo")
    a_id, b_id = new_id(), new_id()

    made = alpha.call("PUT", f"{OIR}/{a_id}", intent([volume(10.0, 50.0)]))
    assert made.status_code == 201
    a_ref = made.json()["operational_intent_reference"]
    assert (a_ref["manager"], a_ref["version"], a_ref["state"]) == ("alpha", 1, "Accepted")
    a_ovn = a_ref["ovn"]

    # Bravo plans over alpha's intent without proving it has seen it.
    refused = bravo.call("PUT", f"{OIR}/{b_id}", intent([volume(10.01, 50.0)]))
    assert refused.status_code == 409
    missing = refused.json()["missing_operational_intents"]
    assert [m["id"] for m in missing] == [a_id]
    assert "ovn" not in missing[0], "an OVN is never shown to a USS that does not manage it"
    assert refused.json()["missing_constraints"] == []

    # Nothing was written: bravo's reference does not exist.
    assert bravo.call("GET", f"{OIR}/{b_id}").status_code == 404
    assert "ovn" not in bravo.call("GET", f"{OIR}/{a_id}").json()["operational_intent_reference"]
    assert alpha.call("GET", f"{OIR}/{a_id}").json()["operational_intent_reference"]["ovn"] == a_ovn

    # With alpha's OVN (which bravo would get from alpha, peer to peer) the write is accepted.
    made_b = bravo.call("PUT", f"{OIR}/{b_id}", intent([volume(10.01, 50.0)], key=[a_ovn]))
    assert made_b.status_code == 201
    b_ovn = made_b.json()["operational_intent_reference"]["ovn"]

    # Alpha's update now has to prove it knows bravo's intent.
    changed = intent([volume(10.0, 50.0, alt=(0.0, 150.0))])
    stale = alpha.call("PUT", f"{OIR}/{a_id}/{a_ovn}", changed)
    assert stale.status_code == 409
    assert [m["id"] for m in stale.json()["missing_operational_intents"]] == [b_id]
    updated = alpha.call("PUT", f"{OIR}/{a_id}/{a_ovn}", changed | {"key": [b_ovn]})
    assert updated.status_code == 200
    new_ref = updated.json()["operational_intent_reference"]
    assert new_ref["version"] == 2 and new_ref["ovn"] != a_ovn

    # Bravo's key with alpha's old OVN no longer proves anything.
    again = bravo.call("PUT", f"{OIR}/{b_id}/{b_ovn}", intent([volume(10.01, 50.0)], key=[a_ovn]))
    assert again.status_code == 409
    assert [m["id"] for m in again.json()["missing_operational_intents"]] == [a_id]

    # The old OVN in the path is refused; only the manager may change or delete.
    assert alpha.call("PUT", f"{OIR}/{a_id}/{a_ovn}", changed).status_code == 409
    assert bravo.call("PUT", f"{OIR}/{a_id}/{new_ref['ovn']}", changed).status_code == 403
    assert bravo.call("DELETE", f"{OIR}/{a_id}/{new_ref['ovn']}").status_code == 403
    assert alpha.call("DELETE", f"{OIR}/{a_id}/{a_ovn}").status_code == 409

    gone = alpha.call("DELETE", f"{OIR}/{a_id}/{new_ref['ovn']}")
    assert gone.status_code == 200
    assert alpha.call("GET", f"{OIR}/{a_id}").status_code == 404
    # With alpha gone, bravo may change its intent without any key.
    assert (
        bravo.call("PUT", f"{OIR}/{b_id}/{b_ovn}", intent([volume(10.01, 50.0)])).status_code == 200
    )


def test_creating_an_existing_intent_is_refused(facade: Facade) -> None:
    alpha = facade.uss("alpha")
    a_id = new_id()
    assert alpha.call("PUT", f"{OIR}/{a_id}", intent([volume(11.0, 50.0)])).status_code == 201
    again = alpha.call("PUT", f"{OIR}/{a_id}", intent([volume(11.0, 50.0)]))
    assert again.status_code == 409
    assert a_id in again.json()["message"]


def test_query_lists_every_uss_intent_with_the_ovn_only_for_its_manager(facade: Facade) -> None:
    alpha, bravo, charlie = facade.uss("alpha"), facade.uss("bravo"), facade.uss("charlie")
    a_id, b_id = new_id(), new_id()
    alpha.call("PUT", f"{OIR}/{a_id}", intent([volume(12.0, 50.0)]))
    b_ovn = alpha.call("GET", f"{OIR}/{a_id}").json()["operational_intent_reference"]["ovn"]
    bravo.call("PUT", f"{OIR}/{b_id}", intent([volume(12.0, 50.0)], key=[b_ovn]))
    far = new_id()
    alpha.call("PUT", f"{OIR}/{far}", intent([volume(12.5, 50.0)]))

    found = charlie.call(
        "POST", f"{OIR}/query", {"area_of_interest": volume(12.0, 50.0, radius_m=5000)}
    )
    assert found.status_code == 200
    refs = found.json()["operational_intent_references"]
    assert sorted(r["id"] for r in refs) == sorted([a_id, b_id])
    assert all("ovn" not in r for r in refs)
    mine = alpha.call(
        "POST", f"{OIR}/query", {"area_of_interest": volume(12.0, 50.0, radius_m=5000)}
    )
    by_id = {r["id"]: r for r in mine.json()["operational_intent_references"]}
    assert "ovn" in by_id[a_id] and "ovn" not in by_id[b_id]

    # A later window, or a layer above, meets nothing.
    later = volume(12.0, 50.0, radius_m=5000, hours=(3.0, 4.0))
    assert charlie.call("POST", f"{OIR}/query", {"area_of_interest": later}).json() == {
        "operational_intent_references": []
    }
    above = volume(12.0, 50.0, radius_m=5000, alt=(500.0, 600.0))
    assert (
        charlie.call("POST", f"{OIR}/query", {"area_of_interest": above}).json()[
            "operational_intent_references"
        ]
        == []
    )


# --- subscriptions --------------------------------------------------------------------


def test_subscription_notification_indices(facade: Facade) -> None:
    watcher, alpha = facade.uss("watcher"), facade.uss("alpha")
    s_id = new_id()
    area = volume(13.0, 50.0, radius_m=5000, hours=(0.5, 5.0), alt=(0.0, 1000.0))
    before = new_id()
    alpha.call("PUT", f"{OIR}/{before}", intent([volume(13.01, 50.0)]))

    made = watcher.call(
        "PUT",
        f"/subscriptions/{s_id}",
        {
            "extents": area,
            "uss_base_url": "https://watcher.test",
            "notify_for_operational_intents": True,
        },
    )
    assert made.status_code == 200
    sub = made.json()["subscription"]
    assert sub["notification_index"] == 0 and not sub["implicit_subscription"]
    assert [r["id"] for r in made.json()["operational_intent_references"]] == [before]

    def index_in(answer: httpx.Response) -> int | None:
        for subscriber in answer.json()["subscribers"]:
            for state in subscriber["subscriptions"]:
                if state["subscription_id"] == s_id:
                    assert subscriber["uss_base_url"] == "https://watcher.test"
                    return int(state["notification_index"])
        return None

    a_id = new_id()
    created = alpha.call(
        "PUT", f"{OIR}/{a_id}", intent([volume(13.0, 50.02, radius_m=500)], key=[])
    )
    assert created.status_code == 201 and index_in(created) == 1
    ovn = created.json()["operational_intent_reference"]["ovn"]
    moved = alpha.call(
        "PUT", f"{OIR}/{a_id}/{ovn}", intent([volume(13.0, 50.03, radius_m=500)], implicit=False)
    )
    assert moved.status_code == 200 and index_in(moved) == 2
    # Alpha's own implicit subscription is among those to notify, as the standard says.
    own = moved.json()["operational_intent_reference"]["subscription_id"]
    assert any(
        s["subscription_id"] == own for x in moved.json()["subscribers"] for s in x["subscriptions"]
    )

    elsewhere = alpha.call("PUT", f"{OIR}/{new_id()}", intent([volume(14.0, 50.0)]))
    assert elsewhere.status_code == 201 and index_in(elsewhere) is None

    ovn = moved.json()["operational_intent_reference"]["ovn"]
    deleted = alpha.call("DELETE", f"{OIR}/{a_id}/{ovn}")
    assert deleted.status_code == 200 and index_in(deleted) == 3

    got = watcher.call("GET", f"/subscriptions/{s_id}").json()["subscription"]
    assert got["notification_index"] == 3
    # Only its owner sees a subscription, by id or by query.
    assert alpha.call("GET", f"/subscriptions/{s_id}").status_code == 404
    query = {"area_of_interest": volume(13.0, 50.0)}
    assert [
        s["id"] for s in watcher.call("POST", "/subscriptions/query", query).json()["subscriptions"]
    ] == [s_id]
    assert s_id not in [
        s["id"] for s in alpha.call("POST", "/subscriptions/query", query).json()["subscriptions"]
    ]

    # Updates and deletion follow the version; the index survives an update.
    body = {
        "extents": area,
        "uss_base_url": "https://watcher.test/v2",
        "notify_for_operational_intents": True,
    }
    assert watcher.call("PUT", f"/subscriptions/{s_id}/not-the-version", body).status_code == 409
    assert watcher.call("PUT", f"/subscriptions/{s_id}", body).status_code == 409
    updated = watcher.call("PUT", f"/subscriptions/{s_id}/{got['version']}", body)
    assert updated.status_code == 200
    new = updated.json()["subscription"]
    assert new["version"] != got["version"] and new["notification_index"] == 3
    assert new["uss_base_url"] == "https://watcher.test/v2"
    assert alpha.call("DELETE", f"/subscriptions/{s_id}/{new['version']}").status_code == 409
    assert watcher.call("DELETE", f"/subscriptions/{s_id}/{got['version']}").status_code == 409
    assert watcher.call("DELETE", f"/subscriptions/{s_id}/{new['version']}").status_code == 200
    assert watcher.call("GET", f"/subscriptions/{s_id}").status_code == 404


def test_an_intent_keeps_its_subscription_until_deleted(facade: Facade) -> None:
    alpha = facade.uss("alpha")
    s_id, a_id = new_id(), new_id()
    area = volume(15.0, 50.0, radius_m=8000, hours=(0.5, 6.0), alt=(0.0, 1000.0))
    alpha.call(
        "PUT",
        f"/subscriptions/{s_id}",
        {
            "extents": area,
            "uss_base_url": "https://uss.test/utm",
            "notify_for_operational_intents": True,
        },
    ).json()["subscription"]
    made = alpha.call(
        "PUT",
        f"{OIR}/{a_id}",
        intent([volume(15.0, 50.0)], implicit=False, subscription_id=s_id, state="Activated"),
    )
    assert made.status_code == 201
    assert made.json()["operational_intent_reference"]["subscription_id"] == s_id
    dependents = alpha.call("GET", f"/subscriptions/{s_id}").json()["subscription"]
    assert dependents["dependent_operational_intents"] == [a_id]
    # The subscription cannot be deleted, nor shrunk away from its intent.
    assert alpha.call("DELETE", f"/subscriptions/{s_id}/{dependents['version']}").status_code == 400
    small = {
        "extents": volume(15.2, 50.0),
        "uss_base_url": "https://uss.test/utm",
        "notify_for_operational_intents": True,
    }
    shrink = alpha.call("PUT", f"/subscriptions/{s_id}/{dependents['version']}", small)
    assert shrink.status_code == 400 and shrink.json()["field"] == "extents"
    # An Activated intent needs a subscription; one not covering it is refused.
    no_sub = alpha.call(
        "PUT", f"{OIR}/{new_id()}", intent([volume(15.0, 50.0)], implicit=False, state="Activated")
    )
    assert no_sub.status_code == 400 and no_sub.json()["field"] == "subscription_id"
    outside = intent([volume(16.0, 50.0)], implicit=False, subscription_id=s_id)
    assert alpha.call("PUT", f"{OIR}/{new_id()}", outside).status_code == 400

    ovn = made.json()["operational_intent_reference"]["ovn"]
    assert alpha.call("DELETE", f"{OIR}/{a_id}/{ovn}").status_code == 200
    assert (
        alpha.call("GET", f"/subscriptions/{s_id}").json()["subscription"][
            "dependent_operational_intents"
        ]
        == []
    )
    # Sub was explicit: it outlives the intent. An implicit one goes with its intent.
    b_id = new_id()
    made_b = alpha.call("PUT", f"{OIR}/{b_id}", intent([volume(15.0, 50.0)]))
    implicit_id = made_b.json()["operational_intent_reference"]["subscription_id"]
    implicit = alpha.call("GET", f"/subscriptions/{implicit_id}").json()["subscription"]
    assert implicit["implicit_subscription"] and implicit["dependent_operational_intents"] == [b_id]
    alpha.call("DELETE", f"{OIR}/{b_id}/{made_b.json()['operational_intent_reference']['ovn']}")
    assert alpha.call("GET", f"/subscriptions/{implicit_id}").status_code == 404


# --- constraints ----------------------------------------------------------------------


def test_constraints_count_in_the_key_only_for_a_uss_that_processes_them(facade: Facade) -> None:
    authority, alpha = facade.uss("authority", (CM,)), facade.uss("alpha")
    c_id = new_id()
    made = authority.call(
        "PUT",
        f"{CR}/{c_id}",
        {"extents": [volume(17.0, 50.0, radius_m=3000)], "uss_base_url": "https://caa.test"},
    )
    assert made.status_code == 201
    c_ref = made.json()["constraint_reference"]
    assert c_ref["manager"] == "authority" and "ovn" in c_ref

    # A USS that does not process constraints need not name them in its key.
    assert alpha.call("PUT", f"{OIR}/{new_id()}", intent([volume(17.0, 50.0)])).status_code == 201
    # One that does, must.
    refused = alpha.call(
        "PUT", f"{OIR}/{new_id()}", intent([volume(17.0, 50.01)], constraints=True)
    )
    assert refused.status_code == 409
    assert [c["id"] for c in refused.json()["missing_constraints"]] == [c_id]
    # Alpha's first intent counts too: it belongs to alpha, so it never needs proving.
    assert refused.json()["missing_operational_intents"] == []
    accepted = alpha.call(
        "PUT",
        f"{OIR}/{new_id()}",
        intent([volume(17.0, 50.01)], constraints=True, key=[c_ref["ovn"]]),
    )
    assert accepted.status_code == 201

    processor = facade.uss("processor", (CP,))
    listed = processor.call("POST", f"{CR}/query", {"area_of_interest": volume(17.0, 50.0)})
    assert [c["id"] for c in listed.json()["constraint_references"]] == [c_id]
    assert processor.call("GET", f"{CR}/{c_id}").json()["constraint_reference"]["version"] == 1
    # Only a constraint manager writes constraints; only its manager changes one.
    assert (
        processor.call(
            "PUT",
            f"{CR}/{new_id()}",
            {"extents": [volume(17.0, 50.0)], "uss_base_url": "https://x.test"},
        ).status_code
        == 403
    )
    other = facade.uss("other-authority", (CM,))
    assert other.call("DELETE", f"{CR}/{c_id}/{c_ref['ovn']}").status_code == 403
    updated = authority.call(
        "PUT",
        f"{CR}/{c_id}/{c_ref['ovn']}",
        {"extents": [volume(17.1, 50.0)], "uss_base_url": "https://caa.test"},
    )
    assert updated.status_code == 200 and updated.json()["constraint_reference"]["version"] == 2
    assert (
        authority.call(
            "PUT",
            f"{CR}/{c_id}",
            {"extents": [volume(17.1, 50.0)], "uss_base_url": "https://caa.test"},
        ).status_code
        == 409
    )
    new_ovn = updated.json()["constraint_reference"]["ovn"]
    assert authority.call("DELETE", f"{CR}/{c_id}/{new_ovn}").status_code == 200
    assert processor.call("GET", f"{CR}/{c_id}").status_code == 404


# --- native notices -------------------------------------------------------------------


def _protected(lon: float, lat: float, audience: list[str] | None = None) -> dict[str, Any]:
    return {
        "kind": "protected",
        "category": "medical",
        "volumes": [
            {
                "footprint": {"type": "Circle", "center": [lon, lat], "radius_m": 500},
                "altitude": {"lower": "SFC", "upper": 300, "reference": "AGL"},
                "time": {"start": (_NOW - dt.timedelta(days=1)).isoformat()},
            }
        ],
        "audience": {"parties": audience or []},
    }


def test_native_notices_block_facade_writes_and_see_their_conflicts(facade: Facade) -> None:
    relief = facade.native("relief")
    hospital = relief.post("/v1/notices", json=_protected(19.0, 50.0))
    assert hospital.status_code == 201, hospital.text
    notice = hospital.json()["notice"]

    alpha = facade.uss("alpha")
    a_id = new_id()
    refused = alpha.call("PUT", f"{OIR}/{a_id}", intent([volume(19.0, 50.01)]))
    assert refused.status_code == 409
    [blocking] = refused.json()["missing_constraints"]
    assert blocking["manager"] == "relief" and blocking["version"] == notice["version"]
    # Only the overlap's times are shown, not the place's own (which starts a day ago),
    # rounded outward to the disclosure grid's 15-minute slots.
    shown = dt.datetime.fromisoformat(blocking["time_start"]["value"])
    overlap_start = dt.datetime.fromisoformat(_time(1.0)["value"])
    assert shown.minute % 15 == 0 and shown.second == 0 and shown.microsecond == 0
    assert overlap_start - dt.timedelta(minutes=15) < shown <= overlap_start
    assert blocking["ovn"], "the service manages a native notice, so it hands over its OVN"

    made = alpha.call("PUT", f"{OIR}/{a_id}", intent([volume(19.0, 50.01)], key=[blocking["ovn"]]))
    assert made.status_code == 201

    # The facade's intent is an ordinary notice: relief sees the conflict, alpha's party too.
    conflicts = relief.get("/v1/conflicts").json()
    mine = [c for c in conflicts if c["notice"]["id"] == notice["id"]]
    assert [c["other"]["id"] for c in mine] == [a_id]
    assert mine[0]["other"]["party"] == "uss-alpha"

    # The native place is listed to a USS only if its party is in the audience.
    area = {"area_of_interest": volume(19.0, 50.0, radius_m=5000)}
    assert alpha.call("POST", f"{CR}/query", area).json()["constraint_references"] == []
    shared = relief.post("/v1/notices", json=_protected(19.02, 50.0, audience=["uss-alpha"]))
    assert shared.status_code == 201, shared.text
    listed = alpha.call("POST", f"{CR}/query", area).json()["constraint_references"]
    assert [c["manager"] for c in listed] == ["relief"]
    assert alpha.call("GET", f"{CR}/{listed[0]['id']}").status_code == 200
    bravo = facade.uss("bravo")
    assert bravo.call("POST", f"{CR}/query", area).json()["constraint_references"] == []
    assert bravo.call("GET", f"{CR}/{listed[0]['id']}").status_code == 404


def test_facade_entities_are_ledgered_and_audited(facade: Facade) -> None:
    alpha = facade.uss("alpha")
    a_id = new_id()
    made = alpha.call("PUT", f"{OIR}/{a_id}", intent([volume(21.0, 50.0)]))
    assert made.status_code == 201
    auditor = facade.native("auditor")
    meta = auditor.get(f"/v1/notices/{a_id}")
    assert meta.status_code == 200
    assert (meta.json()["party"], meta.json()["kind"], meta.json()["state"]) == (
        "uss-alpha",
        "operation",
        "planned",
    )
    parties = {p["id"] for p in auditor.get("/v1/parties").json()}
    assert "uss-alpha" in parties
    # An admin may let a native party see every USS's entities in full.
    admin = facade.native("admin")
    assert admin.post("/v1/channels/f3548-uss/members", json={"party": "relief"}).status_code == 200
    seen = facade.native("relief").get(f"/v1/notices/{a_id}")
    assert seen.status_code == 200 and seen.json()["volumes"], seen.text
    audit = subprocess.run(
        [sys.executable, "-m", "deconflict", "verify", "--db", facade.db, "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert audit.returncode == 0, audit.stdout + audit.stderr


# --- availability and reports ---------------------------------------------------------


def test_a_uss_marked_down_may_not_plan_or_delete(facade: Facade) -> None:
    arbiter, delta = facade.uss("arbiter", (AA,)), facade.uss("delta")
    a_id = new_id()
    made = delta.call("PUT", f"{OIR}/{a_id}", intent([volume(23.0, 50.0)]))
    ovn = made.json()["operational_intent_reference"]["ovn"]
    status = arbiter.call("GET", "/uss_availability/delta").json()
    assert status == {"status": {"uss": "delta", "availability": "Unknown"}, "version": ""}
    down = arbiter.call(
        "PUT", "/uss_availability/delta", {"old_version": "", "availability": "Down"}
    )
    assert down.status_code == 200 and down.json()["status"]["availability"] == "Down"
    assert (
        arbiter.call(
            "PUT", "/uss_availability/delta", {"old_version": "", "availability": "Normal"}
        ).status_code
        == 400
    )

    assert delta.call("PUT", f"{OIR}/{new_id()}", intent([volume(23.5, 50.0)])).status_code == 412
    assert delta.call("DELETE", f"{OIR}/{a_id}/{ovn}").status_code == 412
    seen = facade.uss("echo").call("GET", f"{OIR}/{a_id}").json()["operational_intent_reference"]
    assert seen["uss_availability"] == "Down"
    # A Down USS may still declare its intent off-nominal.
    assert (
        delta.call(
            "PUT", f"{OIR}/{a_id}/{ovn}", intent([volume(23.0, 50.0)], state="Nonconforming")
        ).status_code
        == 200
    )

    normal = arbiter.call(
        "PUT",
        "/uss_availability/delta",
        {"old_version": down.json()["version"], "availability": "Normal"},
    )
    assert normal.status_code == 200
    assert delta.call("PUT", f"{OIR}/{new_id()}", intent([volume(23.5, 50.0)])).status_code == 201


def test_reports_are_archived_with_an_id(facade: Facade) -> None:
    report = {
        "exchange": {
            "url": "https://uss.test/utm/uss/v1/operational_intents/x",
            "method": "GET",
            "recorder_role": "Client",
            "request_time": _time(0),
            "request_source": "alpha",
            "problem": "timed out",
        }
    }
    made = facade.uss("alpha").call("POST", "/reports", report)
    assert made.status_code == 201
    assert made.json()["report_id"] and made.json()["exchange"]["problem"] == "timed out"


# --- authentication and scopes --------------------------------------------------------


def test_tokens_are_checked_401_and_scopes_403(facade: Facade) -> None:
    path = f"{OIR}/query"
    query = {"area_of_interest": volume(25.0, 50.0)}
    authority = facade.authority

    def status(
        token: str, call_path: str = path, body: Any = query, method: str = "POST"
    ) -> httpx.Response:
        return Uss(facade.server.url, token).call(method, call_path, body)

    unauthenticated = [
        "",
        "not-a-jwt",
        authority.token("alpha", lifetime_s=-10),  # expired
        authority.token("alpha", lifetime_s=7200),  # more than one hour ahead
        authority.token("alpha", aud="elsewhere.test"),
        authority.token("alpha", drop=("sub",)),
        authority.token("alpha", drop=("iss",)),
        authority.token("alpha", drop=("aud",)),
        authority.token("alpha", key=ec.generate_private_key(ec.SECP256R1()), algorithm="ES256"),
        jwt.encode(
            {"sub": "alpha", "iss": "x", "aud": "localhost", "exp": 9e9},
            "a shared secret of at least thirty-two bytes",
            algorithm="HS256",
        ),
    ]
    for token in unauthenticated:
        answer = status(token)
        assert answer.status_code == 401, (token, answer.text)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert answer.json()["message"]
    # Both algorithms and both audiences are accepted.
    assert status(authority.token("alpha", algorithm="ES256", aud="dss.test")).status_code == 200

    forbidden = [
        (authority.token("alpha", (CP,)), path, query, "POST"),  # intents need SC or CMSA
        (
            authority.token("alpha", (SC,)),
            f"{CR}/query",
            query,
            "POST",
        ),  # constraints need CM or CP
        (
            authority.token("alpha", (CMSA,)),
            f"{OIR}/{new_id()}",
            intent([volume(25.0, 50.0)]),
            "PUT",
        ),
        (
            authority.token("alpha", (SC,)),
            f"{CR}/{new_id()}",
            {"extents": [volume(25.0, 50.0)], "uss_base_url": "https://x.test"},
            "PUT",
        ),
        (
            authority.token("alpha", (SC,)),
            "/uss_availability/alpha",
            {"old_version": "", "availability": "Down"},
            "PUT",
        ),
        (authority.token("alpha", (CM,)), "/uss_availability/alpha", None, "GET"),
        (authority.token("alpha", (AA,)), "/subscriptions/query", query, "POST"),
        (
            authority.token("alpha", (SC,)),
            f"/subscriptions/{new_id()}",
            {
                "extents": volume(25.0, 50.0),
                "uss_base_url": "https://x.test",
                "notify_for_constraints": True,
            },
            "PUT",
        ),
    ]
    for token, call_path, body, method in forbidden:
        answer = status(token, call_path, body, method)
        assert answer.status_code == 403, (call_path, answer.text)
        assert "scope" in answer.json()["message"]
    # Nothing a refused call asked for was made.
    assert (
        facade.uss("alpha").call("POST", f"{CR}/query", query).json()["constraint_references"] == []
    )


def test_malformed_ids_are_400(facade: Facade) -> None:
    alpha = facade.uss("alpha")
    body = intent([volume(27.0, 50.0)])
    v1 = str(uuid.uuid1())
    for method, path, sent in [
        ("GET", f"{OIR}/not-a-uuid", None),
        ("PUT", f"{OIR}/{v1}", body),
        ("PUT", f"{OIR}/{new_id()}/short", body),
        ("DELETE", f"{OIR}/12345/{'x' * 20}", None),
        ("GET", f"{CR}/{new_id()[:-1]}g", None),
        ("GET", "/subscriptions/00000000-0000-4000-8000-000000000000", None),
        (
            "PUT",
            f"/subscriptions/{v1}",
            {
                "extents": volume(27.0, 50.0),
                "uss_base_url": "https://x.test",
                "notify_for_operational_intents": True,
            },
        ),
    ]:
        answer = alpha.call(method, path, sent)
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["field"] in ("entityid", "ovn", "subscriptionid"), answer.text


def test_bad_input_is_400_naming_the_field(facade: Facade) -> None:
    alpha = facade.uss("alpha")
    good = volume(29.0, 50.0)
    bad_lat = json.loads(json.dumps(good))
    bad_lat["volume"]["outline_circle"]["center"]["lat"] = 95
    no_top = json.loads(json.dumps(good))
    del no_top["volume"]["altitude_upper"]
    inverted = volume(29.0, 50.0, hours=(2.0, 1.0))
    past = volume(29.0, 50.0, hours=(-3.0, -2.0))
    cases = [
        ({"state": "Accepted", "uss_base_url": "https://x.test"}, "extents"),
        (intent([bad_lat]), "extents[0].volume.outline_circle.center.lat"),
        (intent([no_top]), "extents[0].volume.altitude_upper"),
        (intent([inverted]), "extents[0].time_end"),
        (intent([past]), "extents"),
        (intent([good], state="Flying"), "state"),
        (intent([good], state="Nonconforming"), "state"),
        (intent([good]) | {"uss_base_url": "ftp://x"}, "uss_base_url"),
        (intent([good]) | {"key": "not-a-list"}, "key"),
        ([1, 2], "body"),
    ]
    for body, field in cases:
        answer = alpha.call("PUT", f"{OIR}/{new_id()}", body)
        assert answer.status_code == 400, (field, answer.text)
        assert answer.json()["field"] == field, answer.text
    raw = httpx.put(
        f"{facade.server.url}/dss/v1{OIR}/{new_id()}",
        content=b"{not json",
        headers={"Authorization": f"Bearer {alpha.token}", "Content-Type": "application/json"},
    )
    assert raw.status_code == 400 and raw.json()["field"] == "body"
    assert alpha.call("POST", f"{OIR}/query", {}).json()["field"] == "area_of_interest"


def test_text_that_is_not_text_is_400_naming_the_field(facade: Facade) -> None:
    """Surrogates and control characters anywhere in a body, path or query: 400, nothing made."""
    alpha = facade.uss("alpha")
    body = intent([volume(29.5, 50.0)])
    headers = {"Authorization": f"Bearer {alpha.token}", "Content-Type": "application/json"}
    for bad in ("\ud800", "A\x00B", "\x1b[0m"):
        for changed, field in [
            (body | {"uss_base_url": bad}, "uss_base_url"),
            (body | {"key": [bad]}, "key[0]"),
            (body | {bad: 1}, "body"),
        ]:
            entity = new_id()
            raw = json.dumps(changed, ensure_ascii=True).encode("ascii")
            answer = httpx.put(
                f"{facade.server.url}/dss/v1{OIR}/{entity}", content=raw, headers=headers
            )
            assert answer.status_code == 400, answer.text
            assert answer.json()["field"] == field and "message" in answer.json(), answer.text
            assert alpha.call("GET", f"{OIR}/{entity}").status_code == 404
    for path in (f"{OIR}/{new_id()}%00", f"{OIR}/%FF", f"{CR}/{new_id()}%0A"):
        answer = httpx.get(f"{facade.server.url}/dss/v1{path}", headers=headers)
        assert answer.status_code == 400, answer.text
        assert answer.json()["field"] == "path" and "message" in answer.json(), answer.text


def test_too_large_an_area_is_413(facade: Facade) -> None:
    alpha = facade.uss("alpha")
    huge = volume(31.0, 50.0, radius_m=400_000)  # about 500,000 km², over the 250,000 limit
    answer = alpha.call("POST", f"{OIR}/query", {"area_of_interest": huge})
    assert answer.status_code == 413 and "km²" in answer.json()["message"]
    assert alpha.call("PUT", f"{OIR}/{new_id()}", intent([huge])).status_code == 413
    big_square = square(31.0, 50.0, half_deg=4.0)
    assert alpha.call("PUT", f"{OIR}/{new_id()}", intent([big_square])).status_code == 413
    assert alpha.call("POST", f"{CR}/query", {"area_of_interest": huge}).status_code == 413
    assert alpha.call("POST", "/subscriptions/query", {"area_of_interest": huge}).status_code == 413
    assert alpha.call("PUT", f"{OIR}/{new_id()}", intent([square(31.0, 50.0)])).status_code == 201


# --- serving --------------------------------------------------------------------------


def test_serve_needs_an_audience_for_its_keys(tmp_path: Path) -> None:
    authority = Authority(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "deconflict", "serve", "--db", str(tmp_path / "s.db"),
         "--port", str(free_port()), "--dss-public-key", str(authority.rsa_pem)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "dss_audiences" in done.stdout + done.stderr


def test_a_jwks_key_is_picked_by_kid(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    authority = Authority(tmp_path)
    public = jwt.algorithms.ECAlgorithm.to_jwk(authority.ec.public_key(), as_dict=True)
    jwks = tmp_path / "keys.json"
    jwks.write_text(json.dumps({"keys": [public | {"kid": "k1", "alg": "ES256", "use": "sig"}]}))
    port = free_port()
    db = new_store("sqlite", tmp_path, request)
    args = [
        "serve",
        "--db",
        db,
        "--port",
        str(port),
        "--dss-jwks",
        str(jwks),
        "--dss-audience",
        "localhost",
    ]
    server = Server(args, port, tmp_path / "server.log")
    server.start()
    try:
        token = jwt.encode(
            {"sub": "alpha", "iss": "https://auth.test", "aud": "localhost",
             "exp": int(SystemClock().now().timestamp()) + 1800, "scope": SC},
            authority.ec, algorithm="ES256", headers={"kid": "k1"},
        )  # fmt: skip
        query = {"area_of_interest": volume(33.0, 50.0)}
        assert Uss(server.url, token).call("POST", f"{OIR}/query", query).status_code == 200
        rsa_token = authority.token("alpha")  # signed by a key the JWKS does not hold
        assert Uss(server.url, rsa_token).call("POST", f"{OIR}/query", query).status_code == 401
    finally:
        server.stop()


def test_the_console_shows_a_uss_intent_and_its_conflict(facade: Facade, browser: Browser) -> None:
    relief, admin = facade.native("relief"), facade.native("admin")
    place = relief.post("/v1/notices", json=_protected(35.0, 50.0))
    assert place.status_code == 201, place.text
    alpha = facade.uss("alpha")
    a_id = new_id()
    refused = alpha.call("PUT", f"{OIR}/{a_id}", intent([volume(35.0, 50.01)]))
    ovn = refused.json()["missing_constraints"][0]["ovn"]
    assert (
        alpha.call("PUT", f"{OIR}/{a_id}", intent([volume(35.0, 50.01)], key=[ovn])).status_code
        == 201
    )
    assert admin.post("/v1/channels/f3548-uss/members", json={"party": "relief"}).status_code == 200
    notices = relief.get("/v1/notices").json()
    assert a_id in [n["id"] for n in notices]

    with console(browser, Demo(facade.server, facade.tokens), "relief") as page:
        assert shown(page) == len(notices)
        items = page.get_by_test_id("conflicts").locator("li").all_inner_texts()
        assert any(a_id in item and "uss-alpha" in item for item in items), items


# --- what a USS must not be able to do --------------------------------------------------


def test_a_key_cannot_be_forged(facade: Facade) -> None:
    relief, alpha, bravo = facade.native("relief"), facade.uss("alpha"), facade.uss("bravo")
    a_id = new_id()
    made = alpha.call("PUT", f"{OIR}/{a_id}", intent([volume(37.0, 50.0)]))
    assert made.status_code == 201
    # Everything bravo can read of alpha's intent does not make its OVN.
    forged = [f"deconflict-native:{a_id}:v1", f"{a_id}:v1:000000000000", f"{a_id}:v1:"]
    answer = bravo.call("PUT", f"{OIR}/{new_id()}", intent([volume(37.0, 50.01)], key=forged))
    assert answer.status_code == 409
    # Nor what it can read of a native notice: the OVN it was shown is the only one that works.
    place = relief.post("/v1/notices", json=_protected(37.5, 50.0)).json()["notice"]
    guessed = [f"deconflict-native:{place['id']}:v1", "deconflict-native:" + "0" * 40]
    over = intent([volume(37.5, 50.01)], key=guessed)
    refused = bravo.call("PUT", f"{OIR}/{new_id()}", over)
    assert refused.status_code == 409
    shown = refused.json()["missing_constraints"][0]["ovn"]
    assert shown not in guessed
    # Once the place changes, the OVN bravo was shown proves nothing any more.
    changed = _protected(37.5, 50.0) | {"version": place["version"]}
    assert relief.put(f"/v1/notices/{place['id']}", json=changed).status_code == 200
    stale = bravo.call("PUT", f"{OIR}/{new_id()}", intent([volume(37.5, 50.01)], key=[shown]))
    assert stale.status_code == 409
    # Odd OVNs are refused or ignored, never a server error.
    odd = ["deconflict-native:x:v" + "9" * 5000, "deconflict-native:x:v²", "x" * 129]
    for ovn in odd:
        answer = bravo.call("PUT", f"{OIR}/{new_id()}", intent([volume(37.0, 50.01)], key=[ovn]))
        assert answer.status_code in (400, 409), answer.text


def test_going_off_nominal_needs_the_conformance_scope(facade: Facade) -> None:
    alpha = facade.uss("alpha")
    planner = facade.uss("planner", (SC,))
    a_id, p_id = new_id(), new_id()
    alpha.call("PUT", f"{OIR}/{a_id}", intent([volume(39.0, 50.0)]))
    made = planner.call("PUT", f"{OIR}/{p_id}", intent([volume(39.1, 50.0)]))
    ovn = made.json()["operational_intent_reference"]["ovn"]
    # Declared Nonconforming over alpha's intent, with no key: only with the CMSA scope.
    over = intent([volume(39.0, 50.01)], state="Nonconforming")
    refused = planner.call("PUT", f"{OIR}/{p_id}/{ovn}", over)
    assert refused.status_code == 403 and CMSA in refused.json()["message"]
    monitor = facade.uss("planner", (CMSA,))
    assert monitor.call("PUT", f"{OIR}/{p_id}/{ovn}", over).status_code == 200


def test_a_uss_cannot_act_as_a_native_party(facade: Facade) -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "deconflict", "party", "add", "uss-ops", "--name", "Ops",
         "--db", facade.db],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "uss-" in refused.stdout + refused.stderr
    # Another issuer's token for an enrolled sub is not that USS.
    alpha = facade.uss("alpha")
    a_id = new_id()
    made = alpha.call("PUT", f"{OIR}/{a_id}", intent([volume(41.5, 50.0)]))
    assert made.status_code == 201  # alpha is enrolled, with its issuer
    other = jwt.encode(
        {"iss": "https://other-authority.test", "sub": "alpha", "aud": "localhost",
         "exp": int(SystemClock().now().timestamp()) + 600, "scope": SC},
        facade.authority.rsa, algorithm="RS256",
    )  # fmt: skip
    impostor = Uss(facade.server.url, other)
    answer = impostor.call("PUT", f"{OIR}/{new_id()}", intent([volume(41.0, 50.0)]))
    assert answer.status_code == 401 and "issuer" in answer.json()["message"]
    # Nor may it read, change or delete what alpha manages.
    ref = made.json()["operational_intent_reference"]
    sub_id = ref["subscription_id"]
    version = alpha.call("GET", f"/subscriptions/{sub_id}").json()["subscription"]["version"]
    for method, path in [
        ("GET", f"/subscriptions/{sub_id}"),
        ("DELETE", f"/subscriptions/{sub_id}/{version}"),
        ("DELETE", f"{OIR}/{a_id}/{ref['ovn']}"),
        ("GET", f"{OIR}/{a_id}"),
    ]:
        assert impostor.call(method, path).status_code == 401, path
    query = {"area_of_interest": volume(41.5, 50.0)}
    assert impostor.call("POST", "/subscriptions/query", query).status_code == 401


def test_native_alias_ids_are_kept_for_native_notices(facade: Facade) -> None:
    alpha = facade.uss("alpha")
    for alias in ("dec0f11c-0000-4abc-8def-0123456789ab", "dec0f11d-0000-4abc-8def-0123456789ab"):
        answer = alpha.call("PUT", f"{OIR}/{alias}", intent([volume(43.0, 50.0)]))
        assert answer.status_code == 400 and answer.json()["field"] == "entityid"
        body = {"extents": [volume(43.0, 50.0)], "uss_base_url": "https://x.test"}
        assert alpha.call("PUT", f"{CR}/{alias}", body).status_code == 400


def test_a_query_of_an_intents_extents_lists_what_its_key_must_prove(facade: Facade) -> None:
    relief, alpha = facade.native("relief"), facade.uss("alpha")
    enrolled = alpha.call("PUT", f"{OIR}/{new_id()}", intent([volume(46.0, 50.0)]))
    assert enrolled.status_code == 201  # so that relief can name uss-alpha in an audience
    # A place 2.5 km beyond the intent's edge: within the 3 NM protection buffer.
    place = relief.post("/v1/notices", json=_protected(45.0, 50.0, audience=["uss-alpha"]))
    assert place.status_code == 201
    extents = volume(45.0, 50.045, radius_m=2000)
    listed = alpha.call("POST", f"{CR}/query", {"area_of_interest": extents}).json()
    key = [c["ovn"] for c in listed["constraint_references"]]
    assert len(key) == 1
    assert alpha.call("PUT", f"{OIR}/{new_id()}", intent([extents], key=key)).status_code == 201


def test_a_subscription_across_the_antimeridian_is_notified(facade: Facade) -> None:
    watcher, alpha = facade.uss("watcher"), facade.uss("alpha")
    s_id = new_id()
    area = volume(179.95, -17.0, radius_m=20_000, hours=(0.5, 5.0), alt=(0.0, 1000.0))
    body = {
        "extents": area,
        "uss_base_url": "https://watcher.test",
        "notify_for_operational_intents": True,
    }
    assert watcher.call("PUT", f"/subscriptions/{s_id}", body).status_code == 200
    over = alpha.call("PUT", f"{OIR}/{new_id()}", intent([volume(-179.95, -17.0)], implicit=False))
    assert over.status_code == 201
    notified = [
        s["subscription_id"] for x in over.json()["subscribers"] for s in x["subscriptions"]
    ]
    assert s_id in notified
    later = volume(-179.95, -17.0, hours=(5.5, 6.0))
    after = alpha.call("PUT", f"{OIR}/{new_id()}", intent([later], implicit=False))
    assert s_id not in [
        s["subscription_id"] for x in after.json()["subscribers"] for s in x["subscriptions"]
    ]


def test_the_demo_gives_a_uss_token_and_its_hospital_blocks_an_intent(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "demo.db"
    server = Server(["demo", "--port", str(port), "--db", str(db)], port, tmp_path / "demo.log")
    server.start()
    try:
        exported = dict(
            re.findall(r"^export (\w+)=(\S+)$", (tmp_path / "tokens.env").read_text(), re.M)
        )
        assert "drone-uss" in server.output() and (tmp_path / "dss-authority.pem").exists()
        uss = Uss(server.url, exported["DSS_TOKEN"])
        over_hospital = volume(36.72, 34.74, radius_m=1500, alt=(300.0, 450.0))
        a_id = new_id()
        refused = uss.call("PUT", f"{OIR}/{a_id}", intent([over_hospital]))
        assert refused.status_code == 409
        [hospital] = refused.json()["missing_constraints"]
        assert hospital["manager"] == "relief"
        made = uss.call("PUT", f"{OIR}/{a_id}", intent([over_hospital], key=[hospital["ovn"]]))
        assert made.status_code == 201
    finally:
        server.stop()


def test_reads_are_rationed_per_uss(tmp_path: Path) -> None:
    authority = Authority(tmp_path)
    config = tmp_path / "settings.toml"
    config.write_text("[deconflict]\ndss_reads_per_minute = 3\n", encoding="utf-8")
    port = free_port()
    args = [
        "serve", "--db", str(tmp_path / "s.db"), "--config", str(config), "--port", str(port),
        "--dss-public-key", str(authority.rsa_pem), "--dss-audience", "localhost",
    ]  # fmt: skip
    server = Server(args, port, tmp_path / "server.log")
    server.start()
    try:
        alpha, bravo = (Uss(server.url, authority.token(sub)) for sub in ("alpha", "bravo"))
        query = {"area_of_interest": volume(10.0, 10.0)}
        assert (
            alpha.call("PUT", f"{OIR}/{new_id()}", intent([volume(10.0, 10.0)])).status_code == 201
        )
        # Another issuer's token naming alpha spends its own ration, not alpha's.
        other = jwt.encode(
            {"iss": "https://other.test", "sub": "alpha", "aud": "localhost", "scope": SC,
             "exp": int(SystemClock().now().timestamp()) + 600},
            authority.rsa, algorithm="RS256",
        )  # fmt: skip
        impostor = Uss(server.url, other)
        tried = [impostor.call("POST", f"{OIR}/query", query).status_code for _ in range(4)]
        assert tried == [401, 401, 401, 429]
        assert [alpha.call("POST", f"{OIR}/query", query).status_code for _ in range(3)] == [
            200
        ] * 3
        refused = alpha.call("GET", f"{OIR}/{new_id()}")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert alpha.call("POST", "/subscriptions/query", query).status_code == 429
        # Another USS has its own ration; writes are not rationed.
        assert bravo.call("POST", f"{CR}/query", query).status_code == 200
        assert (
            alpha.call("PUT", f"{OIR}/{new_id()}", intent([volume(10.0, 10.0)])).status_code == 201
        )
    finally:
        server.stop()


def test_a_uss_hears_of_a_native_notice_filed_over_its_intent(facade: Facade) -> None:
    alpha = facade.uss("alpha")
    a_id = new_id()
    assert alpha.call("PUT", f"{OIR}/{a_id}", intent([volume(47.0, 50.0)])).status_code == 201
    headers = {"Authorization": f"Bearer {alpha.token}"}
    before = httpx.get(f"{facade.server.url}/v1/alerts", headers=headers)
    assert before.status_code == 200, before.text
    seen = {a["id"] for a in before.json()}
    # Relief files a hospital over it later; relief's write is not strict, so it is taken.
    hospital = facade.native("relief").post("/v1/notices", json=_protected(47.0, 50.005))
    assert hospital.status_code == 201
    place = hospital.json()["notice"]
    after = httpx.get(f"{facade.server.url}/v1/alerts", headers=headers).json()
    [alert] = [a for a in after if a["id"] not in seen]
    assert alert["type"] == "conflict" and alert["data"]["cause"]["party"] == "relief"
    [opened] = alert["data"]["opened"]
    assert opened["notice"]["id"] == a_id
    assert opened["other"] == {"id": place["id"], "version": 1, "party": "relief"}
    url = f"{facade.server.url}/v1/alerts/stream"
    with httpx.stream("GET", url, headers=headers | {"Last-Event-ID": "0"}, timeout=30) as live:
        assert live.status_code == 200
        lines = live.iter_lines()
        assert next(lines) == "retry: 1000"
        assert any(line == f"id: {alert['id']}" for line in itertools.islice(lines, 200))
    # The alert routes take a USS's token; nothing else of /v1 does.
    assert httpx.get(f"{facade.server.url}/v1/notices", headers=headers).status_code == 401
    stranger = facade.authority.token("never-wrote")
    answer = httpx.get(
        f"{facade.server.url}/v1/alerts", headers={"Authorization": f"Bearer {stranger}"}
    )
    assert answer.status_code == 401 and "first write" in answer.json()["error"]["message"]


def test_a_uss_party_is_never_given_a_party_token(facade: Facade) -> None:
    alpha = facade.uss("alpha")
    assert alpha.call("PUT", f"{OIR}/{new_id()}", intent([volume(49.0, 50.0)])).status_code == 201
    refused = subprocess.run(
        [sys.executable, "-m", "deconflict", "party", "token", "uss-alpha", "--db", facade.db],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "authority" in refused.stdout + refused.stderr
    over_http = facade.native("admin").post("/v1/parties/uss-alpha/token", json={})
    assert over_http.status_code == 422 and over_http.json()["error"]["field"] == "id"


def test_refusals_naming_a_native_notice_draw_on_the_check_ration(tmp_path: Path) -> None:
    """An empty key over a hidden notice is a one-bit probe: rationed as a what-if check."""
    authority = Authority(tmp_path)
    db = str(tmp_path / "s.db")
    relief_token = cli("party", "add", "relief", "--name", "Relief", "--db", db).strip()
    config = tmp_path / "settings.toml"
    config.write_text("[deconflict]\ncheck_per_minute = 3\n", encoding="utf-8")
    port = free_port()
    args = [
        "serve", "--db", db, "--config", str(config), "--port", str(port),
        "--dss-public-key", str(authority.rsa_pem), "--dss-audience", "localhost",
    ]  # fmt: skip
    server = Server(args, port, tmp_path / "server.log")
    server.start()
    try:
        relief = Party(server.url, relief_token)
        assert relief.post("/v1/notices", json=_protected(19.0, 50.0)).status_code == 201
        alpha = Uss(server.url, authority.token("alpha"))
        codes = [
            alpha.call("PUT", f"{OIR}/{new_id()}", intent([volume(19.0, 50.0 + 0.001 * k)]))
            for k in range(4)
        ]
        assert [c.status_code for c in codes] == [409, 409, 409, 429]
        assert int(codes[-1].headers["Retry-After"]) >= 1
        # An intent elsewhere is no probe of the hidden notice: writes are not rationed.
        elsewhere = alpha.call("PUT", f"{OIR}/{new_id()}", intent([volume(10.0, 10.0)]))
        assert elsewhere.status_code == 201
    finally:
        server.stop()
