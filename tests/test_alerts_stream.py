"""An open alert stream ends with the token that opened it, on a clock the test moves.

The app is served by a real HTTP server in a thread of the test (``server.Threaded``),
so that the test holds the service's :class:`FixedClock`, over a SQLite file:

- a revocation or a rotation in the same process ends an idle stream at once,
  with no alert to deliver and the clock standing still;
- a revocation by another process (another service on the same file) ends an idle
  stream at the next periodic check, ``alert_poll_s`` later on the service's
  clock, and a stream with an alert to deliver before that delivers nothing;
- a party token's stream ends when the token expires, and a USS's (an F3548
  access token) at the token's ``exp``.

After each end, an alert committed for the party is still there, undelivered.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from deconflict.api.app import create_app
from deconflict.clock import FixedClock, SystemClock
from deconflict.config import Settings
from deconflict.service import Service
from deconflict.store import open_store
from f3548 import Authority
from server import Threaded
from test_alerts_e2e import Stream
from test_dss_facade import OIR, intent, new_id, volume

#: Near the real time: F3548 tokens and intents are dated on the system clock.
T0 = SystemClock().now().replace(microsecond=0)
#: How often a stream checks its token when idle, on the service's (fixed) clock.
POLL_S = 0.05
#: Long enough for an idle stream to have noticed what it would notice, in real time.
QUIET_S = 20 * POLL_S
#: Live streams a party may hold at once in these tests.
STREAMS = 3


def _at(hours: float) -> str:
    return (T0 + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _operation(lower: float, upper: float, lon: float = 20.0, lat: float = 10.0) -> dict[str, Any]:
    return {
        "kind": "operation",
        "volumes": [
            {
                "footprint": {"type": "Circle", "center": [lon, lat], "radius_m": 3000},
                "altitude": {"lower": lower, "upper": upper, "reference": "W84"},
                "time": {"start": _at(1), "end": _at(3)},
            }
        ],
    }


#: bravo's operation spans every band alpha files in below.
BRAVO = _operation(0, 3000)


def _alpha(band: int) -> dict[str, Any]:
    return _operation(300 * band, 300 * band + 200)


@dataclass
class World:
    service: Service
    clock: FixedClock
    server: Threaded
    tokens: dict[str, str]
    db: str
    streams: list[Stream] = field(default_factory=list)
    others: list[Service] = field(default_factory=list)

    def call(self, party: str, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[party]}"}
        answer = httpx.request(method, self.server.url + path, headers=headers, timeout=30, **kw)
        assert answer.status_code == status, f"{method} {path}: {answer.text}"
        return answer.json()

    def submit(self, party: str, body: dict[str, Any]) -> None:
        self.call(party, "POST", "/v1/notices", 201, json=body)

    def stream(self, token: str) -> Stream:
        self.streams.append(Stream(self.server.url, token))
        return self.streams[-1]

    def undelivered(self, party: str) -> list[int]:
        path = f"/v1/alerts?party={party}&state=undelivered"
        return [a["id"] for a in self.call("ops", "GET", path)]

    def elsewhere(self) -> Service:
        """Another process's service on the same store: its changes wake nothing here."""
        other = Service(open_store(self.db), FixedClock(T0), self.service.settings)
        self.others.append(other)
        return other

    def close(self) -> None:
        for stream in self.streams:
            stream.close()
        for other in self.others:
            other.store.close()


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return Authority(tmp_path)


@pytest.fixture
def world(tmp_path: Path, authority: Authority) -> Iterator[World]:
    """alpha, ops (admin), and bravo, whose token was issued an hour before theirs."""
    db = str(tmp_path / "store.db")
    settings = Settings(
        db=db,
        alert_poll_s=POLL_S,
        token_lifetime_days=1,
        dss_public_keys=(str(authority.rsa_pem),),
        dss_audiences=("localhost",),
        # These tests follow conflict alerts; alpha's repeated filings over bravo's
        # notice would add disclosure alerts (tests/test_need_to_know.py covers those).
        disclosure_share_alert=100.0,
        max_streams_per_party=STREAMS,
    )
    clock = FixedClock(T0 - dt.timedelta(hours=1))
    service = Service(open_store(db), clock, settings)
    tokens = {"bravo": service.accounts.add_party(None, "bravo", "Bravo")[1]}
    clock.advance(3600)
    for party, role in (("alpha", "member"), ("ops", "admin")):
        tokens[party] = service.accounts.add_party(None, party, party.title(), role)[1]
    with Threaded(create_app(service)) as server:
        world = World(service, clock, server, tokens, db)
        try:
            yield world
        finally:
            world.close()
    service.store.close()


def _streaming(world: World, party: str = "bravo") -> Stream:
    """``party``'s stream, shown working: it delivers alpha's first conflict with bravo."""
    world.submit("bravo", BRAVO)
    stream = world.stream(world.tokens[party])
    world.submit("alpha", _alpha(1))
    assert stream.next().type == "conflict"
    return stream


# --- this process -----------------------------------------------------------------------------


def test_a_revocation_here_ends_an_idle_stream_at_once(world: World) -> None:
    stream = _streaming(world)
    world.call("ops", "DELETE", "/v1/parties/bravo/token")
    # The clock stands still, so no periodic check runs: the revocation itself ends it.
    assert stream.ended() == []
    world.submit("alpha", _alpha(2))
    assert len(world.undelivered("bravo")) == 1


def test_a_rotation_here_ends_the_old_tokens_stream_at_once(world: World) -> None:
    stream = _streaming(world)
    fresh = world.call("bravo", "POST", "/v1/parties/bravo/token")["token"]
    assert stream.ended() == []
    renewed = world.stream(fresh)
    world.submit("alpha", _alpha(2))
    assert renewed.next().type == "conflict", "the new token's stream delivers"


def test_a_revocation_here_ends_only_that_partys_streams(world: World) -> None:
    bravo = _streaming(world)
    world.submit("ops", _operation(0, 3000, lon=30.0))
    ops = world.stream(world.tokens["ops"])
    world.call("ops", "DELETE", "/v1/parties/bravo/token")
    assert bravo.ended() == []
    world.submit("alpha", _operation(0, 200, lon=30.0))
    assert ops.next().type == "conflict", "another party's stream goes on"


# --- another process --------------------------------------------------------------------------


def test_a_revocation_elsewhere_ends_an_idle_stream_at_the_next_check(world: World) -> None:
    stream = _streaming(world)
    world.elsewhere().accounts.revoke_token(None, "bravo")
    assert stream.open_for(QUIET_S), "nothing here knows yet, and the clock stands still"
    world.clock.advance(POLL_S)
    assert stream.ended() == []


def test_a_revocation_elsewhere_lets_no_later_alert_through(world: World) -> None:
    stream = _streaming(world)
    world.elsewhere().accounts.revoke_token(None, "bravo")
    world.submit("alpha", _alpha(2))  # wakes the stream; no periodic check is due
    assert stream.ended() == [], "an alert committed after the revocation was delivered"
    assert len(world.undelivered("bravo")) == 1


# --- expiry -----------------------------------------------------------------------------------


def test_a_party_tokens_stream_ends_when_the_token_expires(world: World) -> None:
    stream = _streaming(world)
    expires = dt.datetime.fromisoformat(world.call("bravo", "GET", "/v1/me")["token_expires_at"])
    world.clock.advance((expires - world.clock.now()).total_seconds() - 1)
    assert stream.open_for(QUIET_S), "a second before expiry"
    world.submit("alpha", _alpha(2))
    assert stream.next().type == "conflict"
    world.clock.advance(1)
    assert stream.ended() == []
    world.submit("alpha", _alpha(3))
    assert len(world.undelivered("bravo")) == 1


def test_a_uss_tokens_stream_ends_at_its_exp(world: World, authority: Authority) -> None:
    token = authority.token("drone-uss", lifetime_s=600)
    headers = {"Authorization": f"Bearer {token}"}
    written = httpx.put(
        f"{world.server.url}/dss/v1{OIR}/{new_id()}",
        json=intent([volume(20.0, 10.0, hours=(1.0, 3.0))]),
        headers=headers,
        timeout=30,
    )
    assert written.status_code == 201, written.text
    stream = world.stream(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    exp = dt.datetime.fromtimestamp(claims["exp"], dt.UTC)
    world.submit("alpha", _operation(0, 100))
    assert stream.next().type == "conflict", "the USS hears of alpha's operation"
    world.clock.advance((exp - world.clock.now()).total_seconds() - 1)
    assert stream.open_for(QUIET_S), "a second before exp"
    world.clock.advance(1)
    assert stream.ended() == []
    world.submit("alpha", _operation(0, 100, lon=20.001))
    assert len(world.undelivered("uss-drone-uss")) == 1


# --- how many streams, and what they ledger ----------------------------------------------------


def _open(world: World, party: str) -> httpx.Response:
    """Ask for one more stream and read only its head: 200 or the refusal."""
    headers = {"Authorization": f"Bearer {world.tokens[party]}"}
    with httpx.stream("GET", world.server.url + "/v1/alerts/stream", headers=headers) as answer:
        if answer.status_code != 200:
            answer.read()
        return answer


def test_a_party_past_its_stream_limit_gets_429_until_one_closes(world: World) -> None:
    held = [world.stream(world.tokens["bravo"]) for _ in range(STREAMS)]
    refused = _open(world, "bravo")
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "rate_limited"
    assert f"{STREAMS} alert streams" in refused.json()["error"]["message"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert world.service.alerts.streams.held("bravo") == STREAMS
    world.stream(world.tokens["alpha"])  # another party's streams are its own
    held[0].close()
    deadline = time.monotonic() + 10
    while world.service.alerts.streams.held("bravo") == STREAMS:
        assert time.monotonic() < deadline, "a closed stream did not give its slot back"
        time.sleep(0.02)
    world.stream(world.tokens["bravo"])
    assert _open(world, "bravo").status_code == 429


def _deliveries(world: World, party: str) -> list[dict[str, Any]]:
    """The stream deliveries the ledger holds for ``party``, read as that party reads them."""
    size = world.call(party, "GET", "/v1/ledger/proof/inclusion?index=0")["size"]
    found = []
    for index in range(size):
        headers = {"Authorization": f"Bearer {world.tokens[party]}"}
        answer = httpx.get(f"{world.server.url}/v1/ledger/entries/{index}", headers=headers)
        assert answer.status_code in (200, 404), answer.text
        record = answer.json().get("record", {}) if answer.status_code == 200 else {}
        if record.get("type") == "delivery" and record.get("channel") == "stream":
            found.append(record)
    return found


def test_an_alert_carried_by_every_stream_is_ledgered_as_delivered_once(world: World) -> None:
    world.submit("bravo", BRAVO)
    streams = [world.stream(world.tokens["bravo"]) for _ in range(STREAMS - 1)]
    for band in (1, 2):
        world.submit("alpha", _alpha(band))
    carried = [[s.next().id, s.next().id] for s in streams]
    assert carried[0] == carried[1], "each stream carries every alert"
    # A reconnection replaying from the start carries them again, and logs nothing new.
    replay = Stream(world.server.url, world.tokens["bravo"], last_event_id=0)
    world.streams.append(replay)
    assert [replay.next().id, replay.next().id] == carried[0]
    logged = [a["id"] for record in _deliveries(world, "bravo") for a in record["alerts"]]
    assert sorted(logged) == sorted(carried[0]), "each alert once, whatever streams carried it"
    assert world.undelivered("bravo") == []
