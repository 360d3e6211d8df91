"""End to end: alerts reach the right party every time, over a real server, webhook and stream.

A real ``deconflict serve`` process on a real SQLite file (parties made with the
CLI), a real webhook receiver (``http.server`` on a loopback port, in a thread)
and a real Server-Sent Events client (``httpx`` streaming, in a thread):

- a conflict filed by alpha reaches bravo by a signed webhook and by the live
  stream, with one event id and one body;
- a webhook that cannot be delivered is retried, shown as pending, survives a
  ``kill -9`` of the server and arrives after the restart; a stream resumed with
  ``Last-Event-ID`` gets what was committed while nobody listened;
- a stream resumed with ``Last-Event-ID`` gets exactly the missed events, and a
  fresh stream only new ones;
- a stream ends with its token: revoked or rotated over the API, or revoked by
  another process (the CLI), and what is committed after that stays undelivered;
- deliveries and acknowledgements are ledger entries, and the store still verifies;
- with no allowed webhook hosts, a webhook subscription is refused.

Nothing is timed: every wait is for something to happen, with a deadline. The
server reads the system clock, so notice times are hours from now.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import rfc8785

from deconflict.alerts.signing import verify
from deconflict.clock import SystemClock
from server import Server, cli, copy_store, free_port, new_store

_T0 = SystemClock().now().replace(second=0, microsecond=0)
_DEADLINE_S = 10.0
#: After a restart the sender may first have to wait out a backoff (capped at 1 s here).
_RESTART_DEADLINE_S = 20.0


# --- notices ---------------------------------------------------------------------------------


def _at(hours: float) -> str:
    return (_T0 + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _operation(
    lower: float, upper: float, *, lon: float = 20.0, radius_m: float = 3000, **fields: Any
) -> dict[str, Any]:
    """A circle at 10° N from hour 1 to hour 3, in the altitude band ``lower``–``upper`` m."""
    volume = {
        "footprint": {"type": "Circle", "center": [lon, 10.0], "radius_m": radius_m},
        "altitude": {"lower": lower, "upper": upper, "reference": "W84", "units": "m"},
        "time": {"start": _at(1), "end": _at(3)},
    }
    return {"kind": "operation", "volumes": [volume], **fields}


#: bravo's operation spans every band alpha uses below, so each of alpha's conflicts with it.
_BRAVO = _operation(0, 3000, category="survey", aircraft=["BRAVO-7"], contact="bravo ops")


def _alpha(band: int, **kw: Any) -> dict[str, Any]:
    """alpha's operation in its own 200 m band: it conflicts with bravo's, not with alpha's."""
    return _operation(
        300 * band, 300 * band + 200, aircraft=["SECRET-1"], contact="alpha ops", **kw
    )


# --- a webhook receiver ----------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def event_id(self) -> int:
        return int(self.headers["deconflict-event-id"])

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A webhook receiver on a loopback port: records every request, answers 204.

    It may be created before it listens (``start`` later), as a receiver that is
    down when an alert is committed.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.hits: list[Hit] = []
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hit = Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver._changed:
                    receiver.hits.append(hit)
                    receiver._changed.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(_DEADLINE_S)
            self._thread = None

    def wait(self, done: Callable[[list[Hit]], bool], timeout: float = _DEADLINE_S) -> list[Hit]:
        """The hits so far, once ``done(hits)``; fails after ``timeout`` seconds."""
        with self._changed:
            ok = self._changed.wait_for(lambda: done(self.hits), timeout)
            hits = list(self.hits)
        assert ok, f"the receiver did not get what was expected; it got {hits}"
        return hits


# --- a Server-Sent Events client -------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    data: dict[str, Any]


class Stream:
    """``GET /v1/alerts/stream`` read in a thread; ``next()`` is the next event."""

    def __init__(self, base_url: str, token: str, last_event_id: str | int | None = None) -> None:
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            self.headers["Last-Event-ID"] = str(last_event_id)
        self.status: int | None = None
        self._url = base_url + "/v1/alerts/stream"
        self._items: queue.Queue[Event | Exception | None] = queue.Queue()
        self._opened = threading.Event()
        self._closing = False
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self._opened.wait(_DEADLINE_S), "the stream did not open"
        assert self.status == 200, f"the stream answered {self.status}"

    def _read(self) -> None:
        try:
            timeout = httpx.Timeout(_DEADLINE_S, read=None)
            with (
                httpx.Client(timeout=timeout) as client,
                client.stream("GET", self._url, headers=self.headers) as response,
            ):
                self.status = response.status_code
                self._socket = response.extensions["network_stream"].get_extra_info("socket")
                self._opened.set()
                if response.status_code != 200:
                    response.read()
                    return
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if line.startswith(":"):
                        continue
                    if line:
                        name, _, value = line.partition(":")
                        value = value.removeprefix(" ")
                        fields[name] = fields[name] + "\n" + value if name in fields else value
                        continue
                    if "data" in fields:
                        self._items.put(
                            Event(int(fields["id"]), fields["event"], json.loads(fields["data"]))
                        )
                    fields = {}
        except httpx.HTTPError as exc:
            if not self._closing:
                self._items.put(exc)
        except Exception as exc:  # handed to the test rather than lost in the thread
            self._items.put(exc)
        finally:
            self._opened.set()
            self._items.put(None)

    def next(self, timeout: float = _DEADLINE_S) -> Event:
        try:
            item = self._items.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event on the stream within {timeout:g} s") from None
        if isinstance(item, Exception):
            raise AssertionError(f"the stream failed: {item!r}") from item
        assert item is not None, "the stream ended"
        return item

    def take(self, count: int) -> list[Event]:
        return [self.next() for _ in range(count)]

    def ended(self, timeout: float = _DEADLINE_S) -> list[Event]:
        """The events left, once the server has ended the stream; fails if it does not."""
        left: list[Event] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = self._items.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"the stream did not end within {timeout:g} s") from None
            if isinstance(item, Exception):
                raise AssertionError(f"the stream failed: {item!r}") from item
            if item is None:
                return left
            left.append(item)

    def open_for(self, seconds: float) -> bool:
        """Whether the stream stays open, with nothing on it, for ``seconds``."""
        try:
            item = self._items.get(timeout=seconds)
        except queue.Empty:
            return True
        self._items.put(item)
        return False

    def close(self) -> None:
        """Disconnect, as a client that goes away does."""
        self._closing = True
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
        self._thread.join(_DEADLINE_S)
        assert not self._thread.is_alive(), "the stream reader did not stop"


# --- the world -------------------------------------------------------------------------------


class World:
    """A server (not started), its store, and an HTTP client per party."""

    def __init__(self, server: Server, db: str, tokens: dict[str, str]) -> None:
        self.server = server
        self.db = db
        self.tokens = tokens
        self._clients: dict[str, httpx.Client] = {}
        self._streams: list[Stream] = []

    def client(self, party: str) -> httpx.Client:
        if party not in self._clients:
            self._clients[party] = httpx.Client(
                base_url=self.server.url,
                headers={"Authorization": f"Bearer {self.tokens[party]}"},
                timeout=30.0,
            )
        return self._clients[party]

    def ok(self, party: str, method: str, url: str, status: int = 200, **kw: Any) -> Any:
        response = self.client(party).request(method, url, **kw)
        assert response.status_code == status, f"{method} {url}: {response.text}"
        return response.json()

    def submit(self, party: str, body: dict[str, Any]) -> dict[str, Any]:
        notice: dict[str, Any] = self.ok(party, "POST", "/v1/notices", 201, json=body)["notice"]
        return notice

    def update(self, party: str, notice: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        url = f"/v1/notices/{notice['id']}"
        answer = self.ok(party, "PUT", url, json=body | {"version": notice["version"]})
        updated: dict[str, Any] = answer["notice"]
        return updated

    def cancel(self, party: str, notice: dict[str, Any]) -> None:
        self.ok(party, "DELETE", f"/v1/notices/{notice['id']}?version={notice['version']}")

    def alerts(self, party: str, query: str = "") -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.ok(party, "GET", f"/v1/alerts{query}")
        return found

    def subscribe(self, party: str, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self.ok(party, "POST", "/v1/subscriptions", 201, json=body)
        return created

    def stream(self, party: str, last_event_id: str | int | None = None) -> Stream:
        stream = Stream(self.server.url, self.tokens[party], last_event_id)
        self._streams.append(stream)
        return stream

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = _DEADLINE_S) -> Any:
        """Poll ``check`` until it returns something truthy; fail naming ``what``."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout:g} s; last {value!r}")
            time.sleep(0.05)

    def pending(self, party: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.ok(party, "GET", "/v1/alerts/webhooks")
        return found

    def close_clients(self) -> None:
        for stream in self._streams:
            stream.close()
        self._streams.clear()
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def restart_after_kill(self) -> None:
        """``kill -9`` the server, then start it again on the same store and port."""
        self.close_clients()
        self.server.kill()
        self.server.start()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, str]]:
    """A store with alpha, bravo, charlie and the admin ops, made with the CLI."""
    db = new_store(request.param, tmp_path_factory.mktemp("seed"), request)
    tokens = {
        p: cli("party", "add", p, "--name", p.title(), "--db", db).strip()
        for p in (
            "alpha",
            "bravo",
            "charlie",
        )
    }
    out = cli("party", "add", "ops", "--name", "Ops", "--role", "admin", "--db", db)
    tokens["ops"] = out.strip()
    return db, tokens


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver, not yet listening."""
    receiver = Receiver()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def world(
    seeded: tuple[str, dict[str, str]],
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[World]:
    """A copy of the seeded store and a server on it whose webhooks may call ``receiver``."""
    template, tokens = seeded
    db = copy_store(template, tmp_path, request)
    # The server process inherits these.
    monkeypatch.delenv("DECONFLICT_CONFIG", raising=False)
    monkeypatch.setenv("DECONFLICT_WEBHOOK_HOSTS", f"127.0.0.1:{receiver.port}")
    monkeypatch.setenv("DECONFLICT_WEBHOOK_MAX_BACKOFF_S", "1")
    monkeypatch.setenv("DECONFLICT_ALERT_POLL_S", "0.2")
    # These tests follow conflict alerts; alpha's probes of bravo's notice would add
    # disclosure alerts (tests/test_need_to_know.py covers those).
    monkeypatch.setenv("DECONFLICT_DISCLOSURE_SHARE_ALERT", "100")
    world = World(Server.serve(db, tmp_path / "server.log"), db, tokens)
    try:
        yield world
    finally:
        world.close_clients()
        world.server.stop()


def _now_s() -> float:
    return SystemClock().now().timestamp()


def _assert_signed(hit: Hit, secret: str) -> None:
    """What a receiver checks: a v1 HMAC over the fresh timestamp and the body."""
    assert hit.headers["deconflict-signature"].startswith("v1="), hit.headers
    assert hit.headers["content-type"] == "application/json"
    assert abs(_now_s() - int(hit.headers["deconflict-timestamp"])) <= 60, "stale timestamp"
    assert verify(secret, hit.body, hit.headers, now=_now_s()), "the signature does not verify"
    assert hit.event_id == hit.json()["id"]


# --- the must-show ---------------------------------------------------------------------------


def test_a_conflict_reaches_the_other_party_by_signed_webhook_and_by_live_stream(
    world: World, receiver: Receiver
) -> None:
    receiver.start()
    world.server.start()
    mine = world.submit("bravo", _BRAVO)
    subscription = world.subscribe(
        "bravo", {"events": ["conflict"], "webhook": {"url": receiver.url}}
    )
    secret = subscription["secret"]
    assert secret.startswith("whsec_")
    stream = world.stream("bravo")

    theirs = world.submit("alpha", _alpha(2))

    (hit,) = receiver.wait(lambda hits: len(hits) >= 1)
    assert hit.path == "/hook"
    _assert_signed(hit, secret)
    assert not verify("whsec_" + "x" * 43, hit.body, hit.headers, now=_now_s())
    body = hit.json()
    assert body["type"] == "conflict"
    assert body["cause"] == {"id": theirs["id"], "version": 1, "party": "alpha"}
    assert body["opened"] == [
        {
            "kind": "airspace",
            "notice": {"id": mine["id"], "version": 1},
            "other": {"id": theirs["id"], "version": 1, "party": "alpha"},
        }
    ]
    # Minimal disclosure: nothing of alpha's notice but its id, version and party.
    assert set(body) == {"id", "type", "at", "cause", "opened"}
    assert b"SECRET-1" not in hit.body and b"alpha ops" not in hit.body

    event = stream.next()
    assert (event.id, event.type) == (hit.event_id, "conflict")
    assert event.data == body

    world.wait_for("the webhook delivery is recorded", lambda: world.pending("bravo") == [])
    assert len(receiver.hits) == 1, "one alert, one webhook call"
    assert world.alerts("bravo", "?state=undelivered") == []


# --- kill -9 between commit and delivery -----------------------------------------------------


def test_an_undelivered_webhook_survives_kill_9_and_arrives_after_restart(
    world: World, receiver: Receiver
) -> None:
    world.server.start()
    world.submit("bravo", _BRAVO)
    secret = world.subscribe("bravo", {"events": ["conflict"], "webhook": {"url": receiver.url}})[
        "secret"
    ]

    # The stream sees the first alert; the receiver is down for it.
    stream = world.stream("bravo")
    world.submit("alpha", _alpha(1))
    first = stream.next()
    stream.close()
    # The second is committed while no stream is open and the receiver is still down.
    world.submit("alpha", _alpha(2))
    (second,) = world.alerts("bravo", f"?after={first.id}")
    assert second["type"] == "conflict"
    both = {first.id, second["id"]}

    def retried() -> list[dict[str, Any]] | None:
        rows = world.pending("bravo")
        if {r["id"] for r in rows} == both and all(r["attempts"] >= 2 for r in rows):
            return rows
        return None

    rows = world.wait_for("both deliveries failed and were retried", retried)
    for row in rows:
        assert row["status"] == "failed", row
        assert row["subscription"].startswith("s-")
    undelivered = [a["id"] for a in world.alerts("bravo", "?state=undelivered")]
    assert undelivered == [second["id"]], "the stream delivered the first, nothing the second"
    assert receiver.hits == []

    world.close_clients()
    world.server.kill()
    receiver.start()
    world.server.start()

    hits = receiver.wait(lambda hits: {h.event_id for h in hits} >= both, _RESTART_DEADLINE_S)
    # At least once each; a receiver dedupes by the event id, and a repeat is the same event.
    by_id: dict[int, bytes] = {}
    for hit in hits:
        _assert_signed(hit, secret)
        assert by_id.setdefault(hit.event_id, hit.body) == hit.body, "a repeat differs"
    assert set(by_id) == both
    assert json.loads(by_id[second["id"]]) == {
        "id": second["id"],
        "type": "conflict",
        "at": second["at"],
        **second["data"],
    }
    world.wait_for("no webhook is pending", lambda: world.pending("bravo") == [])
    assert world.alerts("bravo", "?state=undelivered") == []

    # A stream resumed from the last id seen before the crash gets what it missed.
    resumed = world.stream("bravo", last_event_id=first.id)
    missed = resumed.next()
    assert missed.id == second["id"]
    assert missed.data == json.loads(by_id[second["id"]])


# --- Last-Event-ID ---------------------------------------------------------------------------


def test_a_stream_resumed_with_last_event_id_gets_exactly_the_missed_events(
    world: World,
) -> None:
    world.server.start()
    mine = world.submit("bravo", _BRAVO)
    stream = world.stream("bravo")
    a1 = world.submit("alpha", _alpha(1))
    seen = stream.next()
    assert seen.data["cause"]["id"] == a1["id"]
    stream.close()

    # While bravo is away: a new conflict, an update that keeps it, another conflict and
    # its cancellation, an update that moves away, and bravo's own update.
    a2 = world.submit("alpha", _alpha(2))
    a2 = world.update("alpha", a2, _alpha(2, radius_m=2500))
    a3 = world.submit("alpha", _alpha(3))
    world.cancel("alpha", a3)
    world.update("alpha", a1, _alpha(1, lon=40.0))
    world.update("bravo", mine, _BRAVO)
    missed = world.alerts("bravo", f"?after={seen.id}")
    assert [sorted(set(a["data"]) - {"cause"}) for a in missed] == [
        ["opened"],
        ["changed"],
        ["opened"],
        ["resolved"],
        ["resolved"],
        ["changed"],
    ]

    resumed = world.stream("bravo", last_event_id=seen.id)
    got = resumed.take(len(missed))
    assert [e.id for e in got] == [a["id"] for a in missed]
    for event, alert in zip(got, missed, strict=True):
        assert event.type == alert["type"] == "conflict"
        assert (
            event.data == {"id": alert["id"], "type": "conflict", "at": alert["at"]} | alert["data"]
        )

    # A stream opened without Last-Event-ID starts with what comes next, nothing older;
    # the resumed stream's next event is the same one: no repeats, none skipped.
    fresh = world.stream("bravo")
    world.submit("alpha", _alpha(4))
    (newest,) = world.alerts("bravo", f"?after={missed[-1]['id']}")
    assert resumed.next().id == newest["id"]
    assert fresh.next().id == newest["id"]


# --- a token's end ends its stream -------------------------------------------------------------


def _undelivered(world: World, party: str, after: int) -> list[int]:
    """The ids of a party's alerts after ``after`` that nothing delivered (read by ops)."""
    query = f"?party={party}&state=undelivered&after={after}"
    return [a["id"] for a in world.alerts("ops", query)]


def test_a_token_revoked_or_rotated_over_the_api_ends_its_open_stream(world: World) -> None:
    world.server.start()
    world.submit("bravo", _BRAVO)
    world.submit("charlie", _BRAVO)
    bravo, charlie = world.stream("bravo"), world.stream("charlie")
    world.submit("alpha", _alpha(1))
    seen = {"bravo": bravo.next(), "charlie": charlie.next()}
    assert seen["bravo"].type == "conflict", "the stream works"

    world.ok("ops", "DELETE", "/v1/parties/bravo/token")
    answer = world.ok("charlie", "POST", "/v1/parties/charlie/token")
    world.submit("alpha", _alpha(2))

    assert bravo.ended() == [], "the revoked token's stream delivered after the revocation"
    assert charlie.ended() == [], "the rotated-out token's stream delivered after the rotation"
    (missed_b,) = _undelivered(world, "bravo", seen["bravo"].id)
    (missed_c,) = _undelivered(world, "charlie", seen["charlie"].id)
    headers = {"Authorization": f"Bearer {world.tokens['bravo']}"}
    again = httpx.get(world.server.url + "/v1/alerts/stream", headers=headers)
    assert again.status_code == 401, "the old token opens nothing"
    # The new token streams on from where the old stream stopped.
    world.tokens["charlie"] = answer["token"]
    resumed = world.stream("charlie", last_event_id=seen["charlie"].id)
    assert resumed.next().id == missed_c
    assert _undelivered(world, "bravo", seen["bravo"].id) == [missed_b]


def test_a_token_revoked_by_another_process_ends_its_open_stream(world: World) -> None:
    world.server.start()
    world.submit("bravo", _BRAVO)
    stream = world.stream("bravo")
    world.submit("alpha", _alpha(1))
    seen = stream.next()

    cli("party", "revoke", "bravo", "--db", world.db)  # nothing tells the server
    assert stream.ended(timeout=5.0) == [], "found by the periodic check against the store"
    world.submit("alpha", _alpha(2))
    assert len(_undelivered(world, "bravo", seen.id)) == 1


# --- the ledger ------------------------------------------------------------------------------


def _ledger_records(world: World, party: str) -> list[dict[str, Any]]:
    """Every ledger record the party may read, by scanning the signed tree."""
    size = world.ok(party, "GET", "/v1/ledger/proof/inclusion?index=0")["size"]
    records = []
    for index in range(size):
        response = world.client(party).get(f"/v1/ledger/entries/{index}")
        assert response.status_code in (200, 404), response.text
        if response.status_code == 200:
            records.append(response.json()["record"] | {"index": index})
    return records


def _sha256(alert: Any) -> str:
    """What the ledger should commit to for a delivered alert: RFC 8785 JSON, hashed here."""
    return hashlib.sha256(rfc8785.dumps(alert)).hexdigest()


def _deconflict(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deconflict", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_verified(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}{done.stderr}"
    assert done.stdout.rstrip().endswith("verified"), done.stdout
    assert "FAIL" not in done.stdout


def test_deliveries_and_acks_are_ledgered_and_the_store_verifies(
    world: World, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.start()
    world.server.start()
    world.submit("bravo", _BRAVO)
    subscription = world.subscribe(
        "bravo", {"events": ["conflict"], "webhook": {"url": receiver.url}}
    )
    stream = world.stream("bravo")
    world.submit("alpha", _alpha(1))
    event = stream.next()
    (hit,) = receiver.wait(lambda hits: len(hits) >= 1)
    assert hit.json() == event.data
    world.wait_for("the webhook delivery is recorded", lambda: world.pending("bravo") == [])

    deliveries = [r for r in _ledger_records(world, "bravo") if r["type"] == "delivery"]
    by_channel = {r["channel"]: r for r in deliveries}
    assert sorted(by_channel) == ["stream", "webhook"], deliveries
    expected = [{"id": event.id, "sha256": _sha256(event.data)}]
    assert by_channel["stream"]["party"] == "bravo"
    assert by_channel["stream"]["alerts"] == expected
    assert by_channel["webhook"]["party"] == "bravo"
    assert by_channel["webhook"]["alerts"] == expected
    assert by_channel["webhook"]["subscription"] == subscription["id"]
    assert by_channel["webhook"]["status"] == 204
    # alpha is not named by bravo's deliveries and may not read them.
    alpha_reads = _ledger_records(world, "alpha")
    assert all(r["type"] != "delivery" or r["party"] == "alpha" for r in alpha_reads)

    answer = world.ok("bravo", "POST", "/v1/alerts/ack", json={"ids": [event.id]})
    assert answer["acknowledged"] == [event.id]
    receipt = answer["receipt"]
    assert receipt["record"]["type"] == "alert.ack"
    assert receipt["record"]["party"] == "bravo"
    assert receipt["record"]["alerts"] == [event.id]
    assert world.alerts("bravo", "?state=unacknowledged") == []
    (acked,) = world.alerts("bravo")
    assert acked["acked_at"] is not None and acked["delivered_at"] is not None

    key_file = tmp_path / "log.vkey"
    key_file.write_text(httpx.get(world.server.url + "/ledger/key").text, encoding="utf-8")
    receipt_file = tmp_path / "ack.json"
    receipt_file.write_text(json.dumps(answer), encoding="utf-8")
    world.close_clients()
    world.server.stop()
    _assert_verified(_deconflict("verify", "--key", key_file, receipt_file))
    _assert_verified(_deconflict("verify", "--db", world.db, "--key", key_file))


def test_a_stream_taking_an_alert_its_webhook_delivered_first_is_ledgered_too(
    world: World, receiver: Receiver
) -> None:
    receiver.start()
    world.server.start()
    world.submit("bravo", _BRAVO)
    world.subscribe("bravo", {"events": ["conflict"], "webhook": {"url": receiver.url}})
    world.submit("alpha", _alpha(1))
    receiver.wait(lambda hits: len(hits) >= 1)
    world.wait_for("the webhook delivery is recorded", lambda: world.pending("bravo") == [])

    event = world.stream("bravo", last_event_id=0).next()
    channels = sorted(
        r["channel"] for r in _ledger_records(world, "bravo") if r["type"] == "delivery"
    )
    assert channels == ["stream", "webhook"]
    # A second stream taking the same alert logs nothing new.
    assert world.stream("bravo", last_event_id=0).next().id == event.id
    again = [r for r in _ledger_records(world, "bravo") if r["type"] == "delivery"]
    assert sorted(r["channel"] for r in again) == ["stream", "webhook"]


# --- webhook hosts ---------------------------------------------------------------------------


def test_without_allowed_webhook_hosts_a_webhook_subscription_is_refused(
    world: World, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DECONFLICT_WEBHOOK_HOSTS")
    world.server.start()
    response = world.client("bravo").post(
        "/v1/subscriptions",
        json={"events": ["conflict"], "webhook": {"url": receiver.url}},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "webhook.url"
    assert set(error) >= {"code", "message", "id"}
    assert world.ok("bravo", "GET", "/v1/subscriptions") == []
    # Without a webhook the same subscription is fine.
    assert world.subscribe("bravo", {"events": ["conflict"]})["webhook"] is None
