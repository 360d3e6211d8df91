"""Alerts through the HTTP API, in-process: who is alerted of what, states, acks, bad input.

Each test drives the real app (its lifespan runs the webhook sender) over a
SQLite file in ``tmp_path`` with a fixed clock that the test moves by hand, so
webhook backoff is observed without sleeping through it. Webhooks go to a real
``http.server`` receiver on a loopback port.

- a write makes one ``conflict`` alert per party concerned, listing every
  conflict it opened, changed or resolved, in minimal disclosure; the alert to
  the other party is a recorded disclosure;
- notice subscriptions alert only parties in the notice's audience, within the
  subscription's kinds, area, altitude band and time window;
- alert states, acknowledgements by ids and up to an id, who may read whose alerts;
- subscriptions: list, end, limits, the secret shown once;
- malformed input is a 4xx naming the field, never a 500;
- webhook signatures, and retries with doubling backoff;
- webhooks go only to allowed hosts *and ports*, and a party sees each failed
  attempt as ``failed`` whatever the cause, so it cannot probe ports with them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from apps import App, apps
from deconflict import errors
from deconflict.alerts.signing import sign, verify
from deconflict.config import load_settings
from deconflict.ledger.note import Verifier
from deconflict.ledger.verify import audit_store, check_receipt
from server import free_ports

T0 = dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC)
PARTIES = (
    ("alpha", "member"),
    ("bravo", "member"),
    ("charlie", "member"),
    ("delta", "member"),
    ("echo", "member"),
    ("adm", "admin"),
    ("aud", "auditor"),
)
_DEADLINE_S = 10.0
#: The webhook sender looks for due deliveries this often.
_POLL_S = 0.2
#: What an alert may say of another party's notice.
_OTHER_KEYS = {"id", "version", "party"}
_NEVER_SHOWN = {"volumes", "footprint", "route", "aircraft", "audience", "contact", "altitude"}


# --- notices ---------------------------------------------------------------------------------


def _at(hours: float) -> str:
    return (T0 + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _volume(
    lower: float,
    upper: float,
    *,
    lon: float = 35.0,
    radius_m: float = 5000,
    hours: tuple[float, float] = (2, 4),
) -> dict[str, Any]:
    """A circle at 34° N, ``lower``–``upper`` m W84, from ``hours[0]`` to ``hours[1]``."""
    return {
        "footprint": {"type": "Circle", "center": [lon, 34.0], "radius_m": radius_m},
        "altitude": {"lower": lower, "upper": upper, "reference": "W84"},
        "time": {"start": _at(hours[0]), "end": _at(hours[1])},
    }


def _operation(lower: float, upper: float, **kw: Any) -> dict[str, Any]:
    return {
        "kind": "operation",
        "category": "survey",
        "aircraft": ["SECRET-AC"],
        "contact": "secret contact",
        "disclose_contact": False,
        "audience": {"parties": ["echo"]},
        "volumes": [_volume(lower, upper, **kw)],
    }


def _protected(
    audience: list[str], *, lower: float = 0, upper: float = 300, **kw: Any
) -> dict[str, Any]:
    return {
        "kind": "protected",
        "category": "medical",
        "audience": {"parties": audience},
        "volumes": [_volume(lower, upper, **kw)],
    }


# --- a webhook receiver ----------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int


@dataclass
class Receiver:
    """A webhook receiver on a loopback port: records each request, answers from a script."""

    port: int
    statuses: list[int] = field(default_factory=list)  # then 204
    hits: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._changed:
                    status = receiver.statuses.pop(0) if receiver.statuses else 204
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.hits.append(Hit(headers, body, status))
                    receiver._changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(_DEADLINE_S)

    def wait(self, count: int) -> list[Hit]:
        with self._changed:
            ok = self._changed.wait_for(lambda: len(self.hits) >= count, _DEADLINE_S)
            hits = list(self.hits)
        assert ok, f"expected {count} webhook call(s), got {len(hits)}"
        return hits


@pytest.fixture
def hook_ports() -> tuple[int, ...]:
    """Loopback ports the worlds' webhooks may call (``127.0.0.1:<port>`` each), for receivers."""
    return free_ports(3)


@pytest.fixture
def receiver(hook_ports: tuple[int, ...]) -> Iterator[Receiver]:
    receiver = Receiver(hook_ports[0])
    try:
        yield receiver
    finally:
        receiver.close()


# --- the world ------------------------------------------------------------------------------


@dataclass
class World(App):
    def update(self, caller: str, notice: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        answer = self.ok(
            "PUT", f"/v1/notices/{notice['id']}", caller, json=body | {"version": notice["version"]}
        )
        updated: dict[str, Any] = answer["notice"]
        return updated

    def cancel(self, caller: str, notice: dict[str, Any]) -> None:
        self.ok("DELETE", f"/v1/notices/{notice['id']}?version={notice['version']}", caller)

    def alerts(self, caller: str, query: str = "") -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.ok("GET", f"/v1/alerts{query}", caller)
        return found

    def subscribe(self, caller: str, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self.ok("POST", "/v1/subscriptions", caller, 201, json=body)
        return created

    def pending(self, caller: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.ok("GET", "/v1/alerts/webhooks", caller)
        return found


@pytest.fixture
def make_world(tmp_path: Path, hook_ports: tuple[int, ...]) -> Iterator[Callable[..., World]]:
    """Build a world with settings overrides; everything is closed at teardown."""
    hosts = tuple(f"127.0.0.1:{port}" for port in hook_ports)
    with apps(tmp_path, PARTIES, World, T0, webhook_hosts=hosts, alert_poll_s=_POLL_S) as make:
        yield make


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


def _keys(value: Any) -> set[str]:
    """Every key anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value).union(*(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value))
    return set()


def _entry(kind: str, notice: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": kind,
        "notice": {"id": notice["id"], "version": notice["version"]},
        "other": {"id": other["id"], "version": other["version"], "party": other["party"]},
    }


def _by_notice(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: (e["notice"]["id"], e["other"]["id"]))


# --- conflict alerts -------------------------------------------------------------------------


def test_each_write_makes_one_conflict_alert_per_party_in_minimal_disclosure(
    world: World,
) -> None:
    # bravo's two operations in separate bands; alpha's spans both.
    b1 = world.submit("bravo", _operation(1000, 1500))
    b2 = world.submit("bravo", _operation(2000, 2500))
    assert world.alerts("bravo") == [], "bravo's own notices do not conflict"
    a1 = world.submit("alpha", _operation(1000, 2500))

    (to_bravo,) = world.alerts("bravo")
    (to_alpha,) = world.alerts("alpha")
    assert world.alerts("charlie") == [] and world.alerts("echo") == []
    assert set(to_bravo) == {"id", "type", "at", "delivered_at", "acked_at", "data"}
    assert to_bravo["type"] == to_alpha["type"] == "conflict"
    assert to_bravo["at"] == "2026-05-01T08:00:00Z"
    assert to_bravo["delivered_at"] is None and to_bravo["acked_at"] is None
    cause = {"id": a1["id"], "version": 1, "party": "alpha"}
    assert to_bravo["data"]["cause"] == to_alpha["data"]["cause"] == cause
    assert set(to_bravo["data"]) == set(to_alpha["data"]) == {"cause", "opened"}
    assert _by_notice(to_bravo["data"]["opened"]) == _by_notice(
        [_entry("airspace", b1, a1), _entry("airspace", b2, a1)]
    )
    assert _by_notice(to_alpha["data"]["opened"]) == _by_notice(
        [_entry("airspace", a1, b1), _entry("airspace", a1, b2)]
    )
    for alert in (to_bravo, to_alpha):
        for entry in alert["data"]["opened"]:
            assert set(entry) == {"kind", "notice", "other"}
            assert set(entry["notice"]) == {"id", "version"}
            assert set(entry["other"]) == _OTHER_KEYS
        assert not _keys(alert) & _NEVER_SHOWN
        text = json.dumps(alert)
        assert "SECRET-AC" not in text and "secret contact" not in text and "echo" not in text

    # alpha narrows its band: the conflict with b1 changes, the one with b2 resolves.
    a1v2 = world.update("alpha", a1, _operation(1000, 1500))
    new_bravo = world.alerts("bravo", f"?after={to_bravo['id']}")
    new_alpha = world.alerts("alpha", f"?after={to_alpha['id']}")
    assert len(new_bravo) == len(new_alpha) == 1, "one alert per party per write"
    data = new_bravo[0]["data"]
    assert set(data) == {"cause", "changed", "resolved"}
    assert data["cause"] == {"id": a1["id"], "version": 2, "party": "alpha"}
    assert data["changed"] == [_entry("airspace", b1, a1v2)]
    (resolved,) = data["resolved"]
    assert resolved["notice"]["id"] == b2["id"]
    assert resolved["other"]["id"] == a1["id"] and resolved["other"]["party"] == "alpha"
    assert set(resolved["other"]) == _OTHER_KEYS
    assert new_alpha[0]["data"]["changed"] == [_entry("airspace", a1v2, b1)]
    assert [e["other"]["id"] for e in new_alpha[0]["data"]["resolved"]] == [b2["id"]]

    # Cancelling resolves what is left, for both.
    last_bravo = new_bravo[0]["id"]
    world.cancel("alpha", a1v2)
    (cancelled,) = world.alerts("bravo", f"?after={last_bravo}")
    assert set(cancelled["data"]) == {"cause", "resolved"}
    assert cancelled["data"]["cause"] == {"id": a1["id"], "version": 3, "party": "alpha"}
    assert [e["notice"]["id"] for e in cancelled["data"]["resolved"]] == [b1["id"]]
    assert len(world.alerts("alpha")) == 3
    assert world.alerts("charlie") == [], "a party with no notice involved is never alerted"


def test_a_write_with_no_conflict_change_alerts_nobody(world: World) -> None:
    world.submit("bravo", _operation(1000, 1500))
    world.submit("alpha", _operation(1000, 1500, lon=40.0))
    assert world.alerts("alpha") == [] and world.alerts("bravo") == []


def test_the_alert_to_the_other_party_is_a_recorded_disclosure(world: World) -> None:
    b1 = world.submit("bravo", _operation(1000, 1500))
    a1 = world.submit("alpha", _operation(1000, 1500))
    shown = world.ok("GET", "/v1/disclosures", "bravo")
    by_alert = [d for d in shown if d["reason"] == "alert"]
    assert len(by_alert) == 1, shown
    (d,) = by_alert
    assert (d["recipient"], d["owner"], d["notice_id"], d["notice_version"]) == (
        "bravo",
        "alpha",
        a1["id"],
        1,
    )
    assert d["level"] == "minimal"
    assert d["view"] == {"id": a1["id"], "version": 1, "party": "alpha"}
    assert isinstance(d["ledger_index"], int)
    # alpha caused the write and was shown the conflict in its answer, not by an alert.
    assert [x for x in world.ok("GET", "/v1/disclosures", "alpha") if x["reason"] == "alert"] == []
    # alpha, the owner, sees that bravo was alerted of its notice.
    about_mine = world.ok("GET", f"/v1/disclosures?notice_id={a1['id']}", "alpha")
    assert any(x["reason"] == "alert" and x["recipient"] == "bravo" for x in about_mine)
    assert b1["id"] not in [x["notice_id"] for x in by_alert]


# --- notice subscriptions --------------------------------------------------------------------


def _notice_alerts(world: World, party: str, after: int = 0) -> list[dict[str, Any]]:
    return [a for a in world.alerts(party, f"?after={after}") if a["type"].startswith("notice.")]


def test_notice_subscriptions_follow_kind_area_and_need_to_know(world: World) -> None:
    sub = world.subscribe(
        "charlie", {"events": ["notice"], "kinds": ["protected"], "area": [34.5, 33.5, 35.5, 34.5]}
    )
    inside = world.submit("alpha", _protected(["charlie"]))
    (created,) = _notice_alerts(world, "charlie")
    assert created["type"] == "notice.created"
    assert created["data"] == {
        "notice": {
            "id": inside["id"],
            "version": 1,
            "party": "alpha",
            "kind": "protected",
            "state": "planned",
        },
        "subscriptions": [sub["id"]],
    }
    last = created["id"]

    world.submit("alpha", _protected(["charlie"], lon=40.0))  # outside the area
    world.submit("alpha", _protected(["bravo"]))  # inside, but charlie may not see it
    world.submit("alpha", _operation(0, 300) | {"audience": {"parties": ["charlie"]}})  # kind
    assert _notice_alerts(world, "charlie", last) == [], "nothing outside the subscription"

    updated = world.update("alpha", inside, _protected(["charlie"], radius_m=4000))
    (alert,) = _notice_alerts(world, "charlie", last)
    assert alert["type"] == "notice.updated"
    assert alert["data"]["notice"]["version"] == 2
    last = alert["id"]
    world.cancel("alpha", updated)
    (alert,) = _notice_alerts(world, "charlie", last)
    assert alert["type"] == "notice.cancelled"
    assert alert["data"]["notice"] == {
        "id": inside["id"],
        "version": 3,
        "party": "alpha",
        "kind": "protected",
        "state": "cancelled",
    }
    for a in world.alerts("charlie"):
        assert not _keys(a["data"]) & _NEVER_SHOWN

    # The alert to charlie is a disclosure of alpha's notice, in full (charlie is in the audience).
    shown = [d for d in world.ok("GET", "/v1/disclosures", "charlie") if d["reason"] == "alert"]
    assert {(d["notice_id"], d["level"]) for d in shown} == {(inside["id"], "full")}


def test_no_subscription_leaks_a_notice_outside_its_audience(world: World) -> None:
    world.subscribe("charlie", {"events": ["notice", "conflict"]})  # everything, everywhere
    world.submit("alpha", _protected(["bravo"]))
    world.submit("alpha", _operation(1000, 2000, lon=50.0))
    world.submit("bravo", _protected([]))
    assert world.alerts("charlie") == []
    assert world.ok("GET", "/v1/disclosures", "charlie") == []


def test_a_channel_in_the_audience_lets_its_members_subscribe(world: World) -> None:
    world.service.accounts.add_channel(None, "medics", "Medics", ["alpha", "charlie"])
    world.subscribe("charlie", {"kinds": ["protected"]})
    world.subscribe("delta", {"kinds": ["protected"]})
    notice = world.submit("alpha", _protected([]) | {"audience": {"channels": ["medics"]}})
    (alert,) = _notice_alerts(world, "charlie")
    assert alert["data"]["notice"]["id"] == notice["id"]
    assert world.alerts("delta") == [], "delta is not in the channel"


def test_altitude_and_time_filters_each_exclude_a_notice_outside_them(world: World) -> None:
    low = world.subscribe("delta", {"altitude": {"lower": 0, "upper": 300, "reference": "W84"}})
    window = {"start": _at(24), "end": _at(48)}
    later = world.subscribe("echo", {"time": window})

    world.submit("alpha", _protected(["delta", "echo"], lower=1000, upper=2000, hours=(30, 40)))
    assert _notice_alerts(world, "delta") == [], "above delta's band"
    (to_echo,) = _notice_alerts(world, "echo")
    assert to_echo["data"]["subscriptions"] == [later["id"]]

    world.submit("alpha", _protected(["delta", "echo"], lower=100, upper=200, hours=(2, 4)))
    (to_delta,) = _notice_alerts(world, "delta")
    assert to_delta["data"]["subscriptions"] == [low["id"]]
    assert _notice_alerts(world, "echo", to_echo["id"]) == [], "before echo's window"


# --- alert states and acknowledgements -------------------------------------------------------


def _two_alerts_for_bravo(world: World) -> list[int]:
    world.submit("bravo", _operation(1000, 1500))
    world.submit("alpha", _operation(1000, 1500))
    world.submit("alpha", _operation(1000, 1500, lon=35.01))
    ids = [a["id"] for a in world.alerts("bravo")]
    assert len(ids) == 2
    return ids


def test_alert_states_and_acknowledgements(world: World) -> None:
    first, second = _two_alerts_for_bravo(world)
    assert [a["id"] for a in world.alerts("bravo", "?state=undelivered")] == [first, second]
    assert [a["id"] for a in world.alerts("bravo", "?state=unacknowledged")] == [first, second]
    assert [a["id"] for a in world.alerts("bravo", f"?after={first}")] == [second]
    assert [a["id"] for a in world.alerts("bravo", "?limit=1")] == [first]

    done = world.ok("POST", "/v1/alerts/ack", "bravo", json={"ids": [first]})
    assert done["acknowledged"] == [first]
    assert done["receipt"]["record"]["type"] == "alert.ack"
    assert done["receipt"]["record"]["alerts"] == [first]
    assert done["receipt"]["record"]["party"] == "bravo"
    assert [a["id"] for a in world.alerts("bravo", "?state=unacknowledged")] == [second]
    acked = world.alerts("bravo")[0]
    assert acked["acked_at"] == "2026-05-01T08:00:00Z"

    # Acking again acknowledges nothing, and makes no receipt.
    assert world.ok("POST", "/v1/alerts/ack", "bravo", json={"ids": [first]}) == {
        "acknowledged": []
    }
    # Nobody acknowledges another party's alert.
    assert world.ok("POST", "/v1/alerts/ack", "charlie", json={"ids": [second]}) == {
        "acknowledged": []
    }
    alpha_ids = [a["id"] for a in world.alerts("alpha")]
    assert world.ok("POST", "/v1/alerts/ack", "bravo", json={"ids": alpha_ids}) == {
        "acknowledged": []
    }
    assert len(world.alerts("alpha", "?state=unacknowledged")) == len(alpha_ids)

    done = world.ok("POST", "/v1/alerts/ack", "bravo", json={"up_to": second})
    assert done["acknowledged"] == [second]
    assert "receipt" in done
    assert world.alerts("bravo", "?state=unacknowledged") == []
    # Acknowledged is not delivered: nothing has streamed or called a webhook.
    assert [a["id"] for a in world.alerts("bravo", "?state=undelivered")] == [first, second]


def test_ack_up_to_stops_at_the_id(world: World) -> None:
    first, second = _two_alerts_for_bravo(world)
    done = world.ok("POST", "/v1/alerts/ack", "bravo", json={"up_to": second - 1})
    assert done["acknowledged"] == [first]
    assert [a["id"] for a in world.alerts("bravo", "?state=unacknowledged")] == [second]


def test_who_may_read_whose_alerts(world: World) -> None:
    _two_alerts_for_bravo(world)
    own = world.alerts("bravo")
    for url in ("/v1/alerts?party=bravo", "/v1/alerts/webhooks?party=bravo"):
        response = world.call("GET", url, "alpha")
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "forbidden"
    assert world.alerts("bravo", "?party=bravo") == own, "one's own party is fine"
    # Admins and auditors see another party's alerts as metadata: their data names notices.
    for reader in ("adm", "aud"):
        as_reader = world.alerts(reader, "?party=bravo")
        assert [a["id"] for a in as_reader] == [a["id"] for a in own]
        assert all(set(a) == {"id", "type", "at", "delivered_at", "acked_at"} for a in as_reader)
    assert world.ok("GET", "/v1/alerts/webhooks?party=bravo", "aud") == []
    for url in ("/v1/alerts", "/v1/subscriptions", "/v1/alerts/webhooks", "/v1/alerts/stream"):
        response = world.call("GET", url)
        assert response.status_code == 401, f"{url}: {response.text}"


# --- subscriptions ---------------------------------------------------------------------------


def test_subscriptions_list_end_and_belong_to_their_party(
    world: World, hook_ports: tuple[int, ...]
) -> None:
    url = f"http://127.0.0.1:{hook_ports[0]}/h"
    hooked = world.subscribe("bravo", {"events": ["conflict"], "webhook": {"url": url}})
    world.clock.advance(1)  # listed oldest first
    plain = world.subscribe("bravo", {"kinds": ["protected", "movement"], "area": [1, 2, 3, 4]})
    secret = hooked["secret"]
    assert secret.startswith("whsec_") and len(secret) > 30
    assert "secret" not in plain
    assert plain["events"] == ["notice"]
    assert plain["kinds"] == ["movement", "protected"]
    assert plain["area"] == [1.0, 2.0, 3.0, 4.0]
    assert hooked["webhook"] == {"url": url}

    response = world.call("GET", "/v1/subscriptions", "bravo")
    listed = response.json()
    assert [s["id"] for s in listed] == [hooked["id"], plain["id"]]
    assert secret not in response.text and all("secret" not in s for s in listed)
    assert listed[0] == {k: v for k, v in hooked.items() if k not in ("secret", "receipt")}
    assert world.ok("GET", "/v1/subscriptions", "alpha") == []

    # Another party's subscription is not found, and stays.
    response = world.call("DELETE", f"/v1/subscriptions/{hooked['id']}", "alpha")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    assert len(world.ok("GET", "/v1/subscriptions", "bravo")) == 2

    ended = world.ok("DELETE", f"/v1/subscriptions/{hooked['id']}", "bravo")
    assert ended["id"] == hooked["id"] and ended["ended"] is True
    assert "secret" not in ended and secret not in json.dumps(ended)
    assert [s["id"] for s in world.ok("GET", "/v1/subscriptions", "bravo")] == [plain["id"]]
    response = world.call("DELETE", f"/v1/subscriptions/{hooked['id']}", "bravo")
    assert response.status_code == 404, "ended once"


@pytest.fixture(params=["sqlite", "postgresql"])
def ledgered_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A world on a SQLite file, or on a fresh PostgreSQL database."""
    store = request.getfixturevalue("pg_database") if request.param == "postgresql" else None
    with apps(tmp_path, PARTIES, World, T0, store=store, webhook_hosts=("127.0.0.1:9",)) as make:
        yield make()


def test_subscriptions_made_and_ended_are_ledgered_without_the_secret(
    ledgered_world: World,
) -> None:
    world = ledgered_world
    key = Verifier.parse(world.call("GET", "/ledger/key").text)
    body = {
        "events": ["notice", "conflict"],
        "kinds": ["protected"],
        "area": [35, 33, 36, 34],
        "webhook": {"url": "http://127.0.0.1:9/hook"},
    }
    made = world.subscribe("bravo", body)
    secret = made["secret"]
    assert "entry " in check_receipt(made["receipt"], [key])
    record = made["receipt"]["record"]
    assert record == {
        "type": "subscription.add",
        "at": "2026-05-01T08:00:00Z",
        "party": "bravo",
        "id": made["id"],
        "events": ["conflict", "notice"],
        "kinds": ["protected"],
        "area": [35.0, 33.0, 36.0, 34.0],
        "webhook": {
            "url": "http://127.0.0.1:9/hook",
            "secret_sha256": hashlib.sha256(secret.encode()).hexdigest(),
        },
    }
    index = made["receipt"]["index"]
    # The subscriber reads its entry whole; an auditor or admin, its metadata; others, nothing.
    assert world.ok("GET", f"/v1/ledger/entries/{index}", "bravo")["record"] == record
    for reader in ("aud", "adm"):
        shown = world.ok("GET", f"/v1/ledger/entries/{index}", reader)
        assert shown["redacted"] is True and "salt" not in shown
        assert shown["record"] == {
            k: record[k] for k in ("type", "at", "party", "id", "events", "kinds")
        }
    assert world.call("GET", f"/v1/ledger/entries/{index}", "alpha").status_code == 404

    world.clock.advance(60)
    ended = world.ok("DELETE", f"/v1/subscriptions/{made['id']}", "bravo")
    assert "entry " in check_receipt(ended["receipt"], [key])
    assert ended["receipt"]["index"] > index
    assert ended["receipt"]["record"] == {
        "type": "subscription.end",
        "at": "2026-05-01T08:01:00Z",
        "party": "bravo",
        "id": made["id"],
    }
    # Refused changes log nothing.
    size = world.ok("GET", "/v1/ledger/proof/inclusion?index=0", "aud")["size"]
    assert world.call("DELETE", f"/v1/subscriptions/{made['id']}", "bravo").status_code == 404
    assert world.call("POST", "/v1/subscriptions", "bravo", json={"x": 1}).status_code == 422
    assert world.ok("GET", "/v1/ledger/proof/inclusion?index=0", "aud")["size"] == size

    with world.service.store.read() as tx:
        records = [e.record for e in tx.ledger.entries(0, tx.ledger.size())]
    assert all(secret.encode() not in r for r in records)
    kinds = [json.loads(r)["type"] for r in records if b'"subscription.' in r]
    assert kinds == ["subscription.add", "subscription.end"]
    audit = audit_store(world.service.store, [key])
    assert audit.ok, audit.problems


def test_an_ended_subscription_alerts_no_more(world: World) -> None:
    sub = world.subscribe("charlie", {})
    world.ok("DELETE", f"/v1/subscriptions/{sub['id']}", "charlie")
    world.submit("alpha", _protected(["charlie"]))
    assert world.alerts("charlie") == []


def test_a_party_may_keep_only_so_many_subscriptions(make_world: Callable[..., World]) -> None:
    world = make_world(max_subscriptions=2)
    first = world.subscribe("bravo", {})
    world.subscribe("bravo", {"kinds": ["protected"]})
    response = world.call("POST", "/v1/subscriptions", "bravo", json={})
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limited"
    assert len(world.ok("GET", "/v1/subscriptions", "bravo")) == 2
    world.subscribe("alpha", {})  # the limit is per party
    world.ok("DELETE", f"/v1/subscriptions/{first['id']}", "bravo")
    world.subscribe("bravo", {})  # an ended one no longer counts


# --- bad input -------------------------------------------------------------------------------

_SUBSCRIPTION_CASES: list[tuple[Any, str]] = [
    ("{", "body"),
    ([], "body"),
    ("subscribe", "body"),
    ({"evnts": ["notice"]}, "evnts"),
    ({"events": "notice"}, "events"),
    ({"events": []}, "events"),
    ({"events": ["alert"]}, "events[0]"),
    ({"events": ["notice", None]}, "events[1]"),
    ({"kinds": ["plane"]}, "kinds[0]"),
    ({"kinds": 3}, "kinds"),
    ({"kinds": {"protected": True}}, "kinds"),
    ({"area": [35, 32, 37]}, "area"),
    ({"area": [35, 32, 37, 34, 1]}, "area"),
    ({"area": [35, 34, 37, 32]}, "area"),  # south above north
    ({"area": [32, 35, 34, 95]}, "area"),  # latitude beyond the pole
    ({"area": [190, 0, 200, 1]}, "area"),
    ({"area": [True, 0, 1, 1]}, "area"),
    ({"area": ["a", 0, 1, 1]}, "area"),
    ({"area": "35,32,37,34"}, "area"),
    ({"area": {"west": 35}}, "area"),
    ({"altitude": "high"}, "altitude"),
    ({"altitude": {"lower": 2000, "upper": 1000, "reference": "W84"}}, "altitude"),
    ({"altitude": {"lower": 0, "upper": 100, "reference": "XYZ"}}, "altitude"),
    ({"altitude": {"lower": "low", "upper": 100, "reference": "W84"}}, "altitude"),
    ({"time": 5}, "time"),
    ({"time": {"start": "yesterday"}}, "time"),
    ({"time": {"start": _at(5), "end": _at(1)}}, "time"),
    ({"time": {"end": _at(1)}}, "time"),
    ({"webhook": "http://127.0.0.1/x"}, "webhook"),
    ({"webhook": {}}, "webhook.url"),
    ({"webhook": {"url": 5}}, "webhook.url"),
    ({"webhook": {"url": ""}}, "webhook.url"),
    ({"webhook": {"url": "http://user:pw@127.0.0.1/x"}}, "webhook.url"),
    ({"webhook": {"url": "http://user@127.0.0.1/x"}}, "webhook.url"),
    ({"webhook": {"url": "ftp://127.0.0.1/x"}}, "webhook.url"),
    ({"webhook": {"url": "file:///etc/passwd"}}, "webhook.url"),
    ({"webhook": {"url": "http:///x"}}, "webhook.url"),
    ({"webhook": {"url": "http://example.com/x"}}, "webhook.url"),
    ({"webhook": {"url": "http://localhost/x"}}, "webhook.url"),
    ({"webhook": {"url": "http://127.0.0.2/x"}}, "webhook.url"),
    ({"webhook": {"url": "http://127.0.0.1.evil.example/x"}}, "webhook.url"),
    ({"webhook": {"url": "http://127.0.0.1/x"}}, "webhook.url"),  # only some ports are allowed
    ({"webhook": {"url": "http://127.0.0.1:1/x"}}, "webhook.url"),
    ({"webhook": {"url": "http://127.0.0.1:22/x"}}, "webhook.url"),
    ({"webhook": {"url": "http://[::1]/x"}}, "webhook.url"),
    ({"webhook": {"url": "http://127.0.0.1/" + "x" * 2000}}, "webhook.url"),
]


def _assert_error(response: Any, field: str | None) -> dict[str, Any]:
    """A 4xx answer in the one error shape, naming ``field`` (or its parent)."""
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert set(error) >= {"code", "message", "id"}, error
    assert all(isinstance(error[k], str) and error[k] for k in ("code", "message", "id"))
    if field is not None:
        assert error.get("field", "").startswith(field), f"{field!r} not named: {error}"
    return error


def _raw(body: Any) -> dict[str, Any]:
    """A body as request arguments: strings are sent as they are, the rest as JSON."""
    if isinstance(body, str):
        return {"content": body, "headers": {"Content-Type": "application/json"}}
    return {"json": body}


@pytest.mark.parametrize(("body", "field"), _SUBSCRIPTION_CASES)
def test_a_malformed_subscription_is_refused_naming_the_field(
    world: World, body: Any, field: str
) -> None:
    response = world.call("POST", "/v1/subscriptions", "bravo", **_raw(body))
    _assert_error(response, field)
    assert world.ok("GET", "/v1/subscriptions", "bravo") == []


_ACK_CASES: list[tuple[Any, str]] = [
    ("{", "body"),
    ("", "body"),
    ([], "body"),
    (7, "body"),
    ({}, "ids"),
    ({"ids": None, "up_to": None}, "ids"),
    ({"ids": [1], "up_to": 1}, "ids"),
    ({"ids": 1}, "ids"),
    ({"ids": "1"}, "ids"),
    ({"ids": {"1": 1}}, "ids"),
    ({"ids": []}, "ids"),
    ({"ids": [True]}, "ids"),
    ({"ids": [False]}, "ids"),
    ({"ids": [-1]}, "ids"),
    ({"ids": [0]}, "ids"),
    ({"ids": [1.0]}, "ids"),
    ({"ids": ["1"]}, "ids"),
    ({"ids": [None]}, "ids"),
    ({"ids": [[1]]}, "ids"),
    ({"ids": list(range(1, 10_002))}, "ids"),
    ({"up_to": "5"}, "up_to"),
    ({"up_to": True}, "up_to"),
    ({"up_to": 1.5}, "up_to"),
    ({"up_to": [5]}, "up_to"),
]


@pytest.mark.parametrize(("body", "field"), _ACK_CASES)
def test_a_malformed_ack_is_refused_naming_the_field(world: World, body: Any, field: str) -> None:
    _two_alerts_for_bravo(world)
    response = world.call("POST", "/v1/alerts/ack", "bravo", **_raw(body))
    _assert_error(response, field)
    assert len(world.alerts("bravo", "?state=unacknowledged")) == 2, "nothing acknowledged"


def test_an_ack_of_an_alert_id_too_large_for_the_store_is_refused(world: World) -> None:
    response = world.call("POST", "/v1/alerts/ack", "bravo", json={"ids": [2**63]})
    _assert_error(response, "ids")


def test_an_ack_with_an_unknown_field_is_refused(world: World) -> None:
    first, second = _two_alerts_for_bravo(world)
    response = world.call("POST", "/v1/alerts/ack", "bravo", json={"ids": [first], "upto": second})
    _assert_error(response, "upto")


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/hook", "http://127.0.0.1:abc/hook"])
def test_a_webhook_url_with_an_invalid_port_is_refused(world: World, url: str) -> None:
    response = world.call("POST", "/v1/subscriptions", "bravo", json={"webhook": {"url": url}})
    _assert_error(response, "webhook.url")


def test_a_webhook_that_cannot_be_called_is_refused_or_shown_failing(world: World) -> None:
    response = world.call(
        "POST",
        "/v1/subscriptions",
        "bravo",
        json={"events": ["conflict"], "webhook": {"url": "http://127.0.0.1:99999/hook"}},
    )
    if response.status_code == 422:  # refused up front: as good
        _assert_error(response, "webhook.url")
        return
    assert response.status_code == 201, response.text
    world.submit("bravo", _operation(1000, 1500))
    world.submit("alpha", _operation(1000, 1500))
    # The sender tries at once (the clock stands still, so this is its first attempt).
    (row,) = _wait("the failed attempt is recorded", _pending_with(world, "bravo", 1), 3.0)
    assert row["status"] == "failed"


_QUERY_CASES: list[tuple[str, str]] = [
    ("/v1/alerts?state=foo", "state"),
    ("/v1/alerts?state=", "state"),
    ("/v1/alerts?after=-1", "after"),
    ("/v1/alerts?after=abc", "after"),
    ("/v1/alerts?after=1.5", "after"),
    (f"/v1/alerts?after={2**60}", "after"),
    ("/v1/alerts?limit=0", "limit"),
    ("/v1/alerts?limit=10001", "limit"),
    ("/v1/alerts?limit=x", "limit"),
]


@pytest.mark.parametrize(("url", "field"), _QUERY_CASES)
def test_a_malformed_alerts_query_is_refused_naming_the_field(
    world: World, url: str, field: str
) -> None:
    response = world.call("GET", url, "bravo")
    assert response.status_code == 422, response.text
    _assert_error(response, field)


@pytest.mark.parametrize("last_event_id", ["abc", "-1", "", "1.5", "1e3", "0x10", "9" * 19])
def test_a_malformed_last_event_id_is_refused(world: World, last_event_id: str) -> None:
    response = world.call(
        "GET", "/v1/alerts/stream", "bravo", headers={"Last-Event-ID": last_event_id}
    )
    assert response.status_code == 422, response.text
    _assert_error(response, "Last-Event-ID")


@pytest.mark.parametrize("subscription_id", ["nope", "s-0000000000000000", "%20", "..", "x" * 300])
def test_ending_an_unknown_subscription_is_not_found(world: World, subscription_id: str) -> None:
    response = world.call("DELETE", f"/v1/subscriptions/{subscription_id}", "bravo")
    assert response.status_code == 404, response.text
    _assert_error(response, None)


# --- signatures ------------------------------------------------------------------------------

_NOW = 1_800_000_000
_BODY = b'{"id":7,"type":"conflict"}'


def test_a_signature_verifies_with_its_secret_only() -> None:
    headers = {"Deconflict-Event-Id": "7", **sign("whsec_a", _BODY, _NOW)}
    assert verify("whsec_a", _BODY, headers, now=_NOW)
    assert verify("whsec_a", _BODY, {k.lower(): v for k, v in headers.items()}, now=_NOW + 299)
    assert verify("whsec_a", _BODY, headers, now=_NOW - 60), "a little clock skew is fine"
    assert not verify("whsec_b", _BODY, headers, now=_NOW), "wrong secret"
    assert not verify("whsec_a", _BODY + b" ", headers, now=_NOW), "altered body"
    assert not verify("whsec_a", _BODY.replace(b"7", b"8"), headers, now=_NOW), "altered body"
    assert not verify("whsec_a", _BODY, headers, now=_NOW + 301), "old timestamp"
    assert not verify("whsec_a", _BODY, headers, now=_NOW - 3600), "timestamp from the future"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Deconflict-Timestamp": str(_NOW)},
        {"Deconflict-Signature": sign("whsec_a", _BODY, _NOW)["Deconflict-Signature"]},
        {**sign("whsec_a", _BODY, _NOW), "Deconflict-Timestamp": ""},
        {**sign("whsec_a", _BODY, _NOW), "Deconflict-Timestamp": "-5"},
        {**sign("whsec_a", _BODY, _NOW), "Deconflict-Timestamp": str(_NOW + 1)},
        {**sign("whsec_a", _BODY, _NOW), "Deconflict-Signature": ""},
        {
            **sign("whsec_a", _BODY, _NOW),
            "Deconflict-Signature": "v2="
            + sign("whsec_a", _BODY, _NOW)["Deconflict-Signature"][3:],
        },
        {
            "Deconflict-Timestamp": str(_NOW),
            "Deconflict-Signature": sign("whsec_a", _BODY, _NOW)["Deconflict-Signature"].upper(),
        },
    ],
    ids=[
        "none",
        "no-signature",
        "no-timestamp",
        "empty-timestamp",
        "negative-timestamp",
        "other-timestamp",
        "empty-signature",
        "other-scheme",
        "upper-case-hex",
    ],
)
def test_a_signature_with_missing_or_altered_headers_does_not_verify(
    headers: dict[str, str],
) -> None:
    assert not verify("whsec_a", _BODY, headers, now=_NOW)


# --- webhooks: delivery and retries ----------------------------------------------------------


def _wait(what: str, check: Callable[[], Any], timeout: float = _DEADLINE_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s; {value!r}"
        time.sleep(0.02)


def _pending_with(world: World, party: str, attempts: int) -> Callable[[], Any]:
    def check() -> Any:
        rows = world.pending(party)
        return rows if rows and rows[0]["attempts"] == attempts else None

    return check


def test_a_failing_webhook_is_retried_with_doubling_backoff_until_delivered(
    world: World, hook_ports: tuple[int, ...]
) -> None:
    receiver = Receiver(hook_ports[0], statuses=[500, 500])
    try:
        _retried(world, receiver)
    finally:
        receiver.close()


def _retried(world: World, receiver: Receiver) -> None:
    world.submit("bravo", _operation(1000, 1500))
    sub = world.subscribe("bravo", {"events": ["conflict"], "webhook": {"url": receiver.url}})
    world.submit("alpha", _operation(1000, 1500))
    (alert,) = world.alerts("bravo")

    receiver.wait(1)
    (row,) = _wait("the first failure is recorded", _pending_with(world, "bravo", 1))
    assert row == {
        "id": alert["id"],
        "subscription": sub["id"],
        "attempts": 1,
        "status": "failed",
    }
    assert world.alerts("bravo", "?state=undelivered")[0]["id"] == alert["id"]

    world.clock.advance(1)  # the first retry is due after 1 s
    receiver.wait(2)
    (row,) = _wait("the second failure is recorded", _pending_with(world, "bravo", 2))
    assert row["status"] == "failed"

    world.clock.advance(1)  # the second retry waits 2 s: not yet
    time.sleep(4 * _POLL_S)
    assert len(receiver.hits) == 2, "retried before its backoff"
    world.clock.advance(1)
    hits = receiver.wait(3)
    _wait("the delivery is recorded", lambda: world.pending("bravo") == [])
    assert len(receiver.hits) == 3
    assert [h.status for h in hits] == [500, 500, 204]

    # Each attempt carries the same event and body, signed afresh at its own time.
    assert {h.body for h in hits} == {hits[0].body}
    assert [int(h.headers["deconflict-timestamp"]) for h in hits] == [
        int(T0.timestamp()),
        int(T0.timestamp()) + 1,
        int(T0.timestamp()) + 3,
    ]
    for hit in hits:
        assert hit.headers["deconflict-event-id"] == str(alert["id"])
        now = int(hit.headers["deconflict-timestamp"])
        assert verify(sub["secret"], hit.body, hit.headers, now=now)
    assert json.loads(hits[0].body) == {
        "id": alert["id"],
        "type": "conflict",
        "at": alert["at"],
        **alert["data"],
    }
    (delivered,) = world.alerts("bravo")
    assert delivered["delivered_at"] == "2026-05-01T08:00:03Z"
    assert world.alerts("bravo", "?state=undelivered") == []


def test_webhooks_go_only_to_subscriptions_that_want_the_event(
    world: World, receiver: Receiver, hook_ports: tuple[int, ...]
) -> None:
    other = Receiver(hook_ports[1])
    try:
        world.subscribe("bravo", {"events": ["notice"], "webhook": {"url": other.url}})
        wants = world.subscribe("bravo", {"events": ["conflict"], "webhook": {"url": receiver.url}})
        world.subscribe("charlie", {"events": ["conflict"], "webhook": {"url": other.url}})
        mine = world.submit("bravo", _operation(1000, 1500))
        world.submit("alpha", _operation(1000, 1500))
        (hit,) = receiver.wait(1)
        assert verify(wants["secret"], hit.body, hit.headers, now=int(T0.timestamp()))
        assert json.loads(hit.body)["type"] == "conflict"
        _wait("delivered", lambda: world.pending("bravo") == [])
        assert world.pending("charlie") == []
        # The notice subscription hears of bravo's own notice only (alpha's is not for bravo
        # to see), and of no conflict; charlie's subscription hears of nothing.
        (heard,) = other.hits
        assert json.loads(heard.body)["type"] == "notice.created"
        assert json.loads(heard.body)["notice"]["id"] == mine["id"]
        assert len(receiver.hits) == 1
    finally:
        other.close()


def test_ending_a_subscription_stops_its_webhook(world: World, hook_ports: tuple[int, ...]) -> None:
    failing = Receiver(hook_ports[0], statuses=[500] * 100)
    sentinel = Receiver(hook_ports[1])
    try:
        world.submit("bravo", _operation(1000, 1500))
        ended = world.subscribe("bravo", {"events": ["conflict"], "webhook": {"url": failing.url}})
        world.subscribe("bravo", {"events": ["conflict"], "webhook": {"url": sentinel.url}})
        world.submit("alpha", _operation(1000, 1500))
        failing.wait(1)
        sentinel.wait(1)
        world.ok("DELETE", f"/v1/subscriptions/{ended['id']}", "bravo")
        assert world.pending("bravo") == [], "an ended subscription has nothing pending"
        # Let any retry fall due, then push two more alerts through the live subscription:
        # each sender round completes before the next one, so a retry would have happened.
        world.clock.advance(600)
        for n, lon in enumerate((35.01, 35.02), start=2):
            world.submit("alpha", _operation(1000, 1500, lon=lon))
            sentinel.wait(n)
            _wait("delivered", lambda: world.pending("bravo") == [])
        assert len(failing.hits) == 1, "the ended subscription's URL was called again"
    finally:
        failing.close()
        sentinel.close()


# --- webhooks: destinations and what a party learns of failures --------------------------------

_DESTINATIONS = ("127.0.0.1:8443", "Hooks.Example.org", "[::1]:9000")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8443/h", True),
        ("https://127.0.0.1:8443/h", True),
        ("https://hooks.example.org/h", True),
        ("http://hooks.example.org/h", True),
        ("https://hooks.example.org:443/h", True),
        ("http://HOOKS.example.org:80/h", True),
        ("http://[::1]:9000/h", True),
        ("http://127.0.0.1/h", False),
        ("http://127.0.0.1:8444/h", False),
        ("http://127.0.0.1:22/h", False),
        ("https://hooks.example.org:8443/h", False),
        ("http://hooks.example.org:443/h", False),
        ("https://hooks.example.org:80/h", False),
        ("http://[::1]/h", False),
        ("http://[::1]:8443/h", False),
        ("http://localhost:8443/h", False),
        ("http://127.0.0.2:8443/h", False),
    ],
)
def test_a_webhook_may_call_only_an_allowed_host_and_port(
    make_world: Callable[..., World], url: str, allowed: bool
) -> None:
    """An entry with a port allows that port; a host alone, its scheme's default port only."""
    world = make_world(webhook_hosts=_DESTINATIONS)
    response = world.call("POST", "/v1/subscriptions", "bravo", json={"webhook": {"url": url}})
    if allowed:
        assert response.status_code == 201, response.text
        return
    error = _assert_error(response, "webhook.url")
    assert response.status_code == 422
    assert "hosts and ports" in error["message"]
    assert world.ok("GET", "/v1/subscriptions", "bravo") == []


@pytest.mark.parametrize(
    "entry",
    ["127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:http", "::1", "[::1", "[::1]8443", "[nope]:80",
     "https://hooks.example.org", "hooks.example.org/path", "user@hooks.example.org", "a b"],
)  # fmt: skip
def test_a_malformed_webhook_destination_is_refused_at_start(entry: str) -> None:
    with pytest.raises(errors.InvalidValue, match="webhook_hosts"):
        load_settings(None, environ={"DECONFLICT_WEBHOOK_HOSTS": f"127.0.0.1:8443,{entry}"})


def test_a_party_cannot_tell_a_closed_port_from_an_http_error_answer(
    world: World, hook_ports: tuple[int, ...]
) -> None:
    """Both allowed; one answers 404 to everything, nothing listens on the other."""
    answering = Receiver(hook_ports[0], statuses=[404] * 100)
    try:
        closed = f"http://127.0.0.1:{hook_ports[1]}/hook"
        world.submit("bravo", _operation(1000, 1500))
        subs = [
            world.subscribe("bravo", {"events": ["conflict"], "webhook": {"url": url}})["id"]
            for url in (answering.url, closed)
        ]
        world.submit("alpha", _operation(1000, 1500))
        answering.wait(1)

        def both_failed_once() -> list[dict[str, Any]] | None:
            rows = world.pending("bravo")
            return rows if len(rows) == 2 and all(r["attempts"] == 1 for r in rows) else None

        rows = _wait("both attempts are recorded", both_failed_once)
        by_sub = {row.pop("subscription"): row for row in rows}
        assert (
            by_sub[subs[0]]
            == by_sub[subs[1]]
            == {
                "id": by_sub[subs[0]]["id"],
                "attempts": 1,
                "status": "failed",
            }
        )
        for reader, query in (("bravo", ""), ("adm", "?party=bravo"), ("aud", "?party=bravo")):
            text = world.call("GET", f"/v1/alerts/webhooks{query}", reader).text
            for telltale in ("404", "HTTP", "Connect", "refused", "rror"):
                assert telltale not in text, f"{reader} reads {telltale!r}: {text}"
    finally:
        answering.close()
