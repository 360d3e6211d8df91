"""Bad input never hurts: every endpoint answers it with a 4xx in the one error shape.

Invariant 5 of the design: bad input gets a JSON error naming the field and the
reason, never a 500 and never a traceback, and the state is unchanged. The
Decisions add that unparseable input answers 400, well-formed but invalid input
422, and that the body is always ``{"error": {"code", "message", "id", "field"?}}``
(plus ``missing`` for awareness), never FastAPI's ``{"detail": ...}``.

Each test drives the real app in-process over a SQLite file in ``tmp_path`` with a
fixed clock, sends one bad request, and checks the status, the error shape, the
code, the field path, and that the notices, disclosures, parties and channels in
the store are exactly as before. The table of endpoints is compared with the
OpenAPI document, so a new endpoint without error cases fails the suite.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deconflict.api.app import create_app
from deconflict.clock import FixedClock
from deconflict.config import Settings
from deconflict.ledger.note import Cosigner, split_note
from deconflict.service import Service
from deconflict.store import open_store

NOW = datetime(2026, 5, 1, tzinfo=UTC)

# --- valid bodies ---------------------------------------------------------------------------


def _square(west: float, south: float, size: float) -> list[list[float]]:
    east, north = west + size, south + size
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


_BAND = {"lower": 0, "upper": 1000, "reference": "W84", "units": "m"}
_WINDOW = {"start": "2026-05-02T10:00:00Z", "end": "2026-05-02T11:00:00Z"}
OPERATION: dict[str, Any] = {
    "kind": "operation",
    "volumes": [
        {
            "footprint": {"type": "Polygon", "coordinates": [_square(36.0, 33.0, 0.1)]},
            "altitude": _BAND,
            "time": _WINDOW,
        }
    ],
    "audience": {"parties": [], "channels": []},
    "aircraft": ["ABC123"],
    "priority": "normal",
    "contact": "ops desk",
    "disclose_contact": False,
    "aware_of": [],
    "strict": False,
}
PROTECTED: dict[str, Any] = {
    "kind": "protected",
    "category": "medical",
    "volumes": [
        {
            "footprint": {"type": "Circle", "center": [36.5, 33.5], "radius_m": 500},
            "altitude": {"lower": "SFC", "upper": 300, "reference": "AGL"},
            "time": {"start": "2026-05-01T00:00:00Z"},
        }
    ],
}
MOVEMENT: dict[str, Any] = {
    "kind": "movement",
    "category": "humanitarian",
    "route": {
        "coordinates": [[36.2, 33.2], [36.21, 33.2]],
        "waypoint_times": ["2026-05-02T08:00:00Z", "2026-05-02T08:10:00Z"],
        "corridor_half_width_m": 50,
        "altitude": {"lower": "SFC", "upper": 100, "reference": "AGL"},
    },
}
UPDATE: dict[str, Any] = {**OPERATION, "version": 1}
SHARED: dict[str, Any] = {
    **OPERATION,
    "volumes": [
        {
            **OPERATION["volumes"][0],
            "footprint": {"type": "Polygon", "coordinates": [_square(10.0, 10.0, 0.1)]},
        }
    ],
    "audience": {"parties": ["a"], "channels": []},
}

Path_ = tuple[str | int, ...]


def _with(body: Any, path: Path_, value: Any) -> Any:
    """A deep copy of ``body`` with the node at ``path`` replaced (or appended) by ``value``."""
    out = copy.deepcopy(body)
    node = out
    for key in path[:-1]:
        node = node[key]
    if isinstance(node, list) and path[-1] == len(node):
        node.append(value)
    else:
        node[path[-1]] = value
    return out


_RAW = "\x00raw\x00"


def _raw(body: Any, path: Path_, text: str) -> bytes:
    """``body`` as JSON with the node at ``path`` written as the literal ``text``.

    For values Python's ``json.dumps`` refuses to write: ``1e400``, ``NaN``, huge integers.
    """
    return json.dumps(_with(body, path, _RAW)).replace(json.dumps(_RAW), text).encode()


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


# --- the app, its parties and its state ------------------------------------------------------


@dataclass
class World:
    """The app over a fresh SQLite file, four parties, one channel and two conflicting notices."""

    service: Service
    client: TestClient
    tokens: dict[str, str]
    notice_id: str
    #: A notice of ``b`` whose audience is ``a``, away from the others: ``a`` may ack it.
    shared_id: str = ""
    cosigner: Cosigner | None = None
    subscription_id: str = ""

    def cosignature(self) -> dict[str, Any]:
        """A well-formed cosignature by ``a`` of the published checkpoint."""
        assert self.cosigner is not None
        note = self.service.ledger.published()
        text = split_note(note)[0]
        return {"checkpoint": note, "cosignature": self.cosigner.cosign(text, int(NOW.timestamp()))}

    def headers(self, caller: str | None) -> dict[str, str]:
        return {} if caller is None else {"Authorization": f"Bearer {self.tokens[caller]}"}

    def call(self, method: str, url: str, caller: str | None, **kwargs: Any) -> Any:
        headers = {**self.headers(caller), **kwargs.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kwargs)

    def state(self) -> dict[str, Any]:
        """Everything a bad request must leave alone, read straight from the store."""
        with self.service.store.read() as tx:
            parties = sorted((r.party.id, r.party.role.value) for r in tx.parties.all())
            notices = {
                party: [(n.id, n.version, n.state, n.doc) for n in tx.notices.of_party(party)]
                for party, _ in parties
            }
            disclosures = [
                (d.recipient, d.notice_id, d.notice_version, d.reason)
                for d in tx.disclosures.query(None, None, 10_000)
            ]
            channels = sorted((c.id, tuple(sorted(c.members))) for c in tx.channels.all())
            ledger = tx.ledger.size()
        return {
            "parties": parties,
            "notices": notices,
            "disclosures": disclosures,
            "channels": channels,
            "ledger": ledger,
        }


@contextmanager
def _world(path: Path | str, **overrides: Any) -> Iterator[World]:
    db = str(path)
    service = Service(open_store(db), FixedClock(NOW), Settings(db=db, **overrides))
    tokens = {}
    for party, role in (("a", "member"), ("b", "member"), ("adm", "admin"), ("aud", "auditor")):
        _, tokens[party] = service.accounts.add_party(None, party, party.upper(), role)
    service.accounts.add_channel(None, "c", "C", ["a"])
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        world = World(service, client, tokens, "")
        mine = world.call("POST", "/v1/notices", "a", json=OPERATION)
        assert mine.status_code == 201, mine.text
        world.notice_id = mine.json()["notice"]["id"]
        theirs = world.call("POST", "/v1/notices", "b", json=OPERATION)
        assert theirs.status_code == 201, theirs.text
        assert len(theirs.json()["conflicts"]) == 1  # so there are disclosures to keep
        shared = world.call("POST", "/v1/notices", "b", json=SHARED)
        assert shared.status_code == 201, shared.text
        world.shared_id = shared.json()["notice"]["id"]
        world.cosigner = Cosigner.generate("a.example/cosigner")
        viewer = service.accounts.authenticate(tokens["a"])
        service.acknowledgements.register_key(viewer, {"vkey": world.cosigner.vkey})
        world.subscription_id = service.alerts.subscribe(viewer, {"kinds": ["protected"]})["id"]
        yield world
    service.store.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with _world(tmp_path / "deconflict.db") as w:
        yield w


@pytest.fixture
def small_world(tmp_path: Path) -> Iterator[World]:
    with _world(tmp_path / "small.db", max_body_bytes=1000) as w:
        yield w


# --- the error shape ------------------------------------------------------------------------

_ANY = object()
_ERROR_KEYS = {"code", "message", "id"}


def assert_error_shape(response: Any) -> dict[str, Any]:
    """The one error shape: ``{"error": {code, message, id, field?}}``, no detail, no trace."""
    assert response.status_code < 500, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict) and "error" in body, body
    assert "detail" not in body, body
    error = body["error"]
    assert set(body) <= {"error", "missing"}, body
    if "missing" in body:
        assert error["code"] == "awareness_missing", body
        assert isinstance(body["missing"], list), body
    assert _ERROR_KEYS <= set(error) <= _ERROR_KEYS | {"field"}, error
    assert all(isinstance(value, str) for value in error.values()), error
    assert re.fullmatch(r"[0-9a-f]{16}", error["id"]), error
    assert "Traceback" not in response.text and 'File "' not in response.text, response.text
    return dict(error)


def assert_error(
    response: Any, status: int, code: str | None = None, field: Any = _ANY
) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    error = assert_error_shape(response)
    if code is not None:
        assert error["code"] == code, error
    if field is not _ANY:
        assert error.get("field") == field, error
    return error


def expect_error(
    world: World,
    method: str,
    url: str,
    caller: str | None,
    status: int,
    code: str | None = None,
    field: Any = _ANY,
    **kwargs: Any,
) -> dict[str, Any]:
    """Send one bad request; check its answer and that the store did not change."""
    before = world.state()
    response = world.call(method, url, caller, **kwargs)
    changed = world.state() != before
    assert response.status_code == status and not changed, (
        f"{method} {url} answered {response.status_code} (expected {status}) and left the "
        f"state {'CHANGED' if changed else 'unchanged'}: {response.text}"
    )
    return assert_error(response, status, code, field)


# --- the endpoints --------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One route, with a well-formed request to it: whose token, which body, which query."""

    method: str
    path: str
    caller: str | None
    body: dict[str, Any] | None = None
    query: str = ""
    #: Which of the world's notices ``{notice_id}`` names.
    notice: str = "notice_id"
    #: The body is made at send time by this method of the world (e.g. a fresh signature).
    made_body: str | None = None
    #: The answer is an endless event stream.
    streams: bool = False

    def url(self, world: World) -> str:
        path = self.path.format(
            notice_id=getattr(world, self.notice),
            channel_id="c",
            party_id="a",
            index=0,
            level=0,
            path="000.p/1",
            subscription_id=world.subscription_id,
        )
        return f"{path}?{self.query}" if self.query else path

    def payload(self, world: World) -> dict[str, Any] | None:
        if self.made_body is not None:
            return dict(getattr(world, self.made_body)())
        return self.body

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = (
    Endpoint("GET", "/healthz", None),
    Endpoint("POST", "/v1/notices", "a", OPERATION),
    Endpoint("GET", "/v1/notices", "a", query="bbox=35,32,37,34"),
    Endpoint("GET", "/v1/notices/{notice_id}", "a"),
    Endpoint("PUT", "/v1/notices/{notice_id}", "a", UPDATE),
    Endpoint("DELETE", "/v1/notices/{notice_id}", "a", query="version=1"),
    Endpoint("GET", "/v1/conflicts", "a", query="status=all"),
    Endpoint("POST", "/v1/check", "a", OPERATION),
    Endpoint(
        "GET", "/v1/identify", "a", query="lon=36.05&lat=33.05&alt=500&time=2026-05-01T00:10:00Z"
    ),
    Endpoint("GET", "/v1/disclosures", "a"),
    Endpoint("GET", "/v1/me", "a"),
    Endpoint("POST", "/v1/parties", "adm", {"id": "newcomer", "name": "Newcomer"}),
    Endpoint("GET", "/v1/parties", "a"),
    Endpoint("POST", "/v1/parties/{party_id}/token", "a"),
    Endpoint("DELETE", "/v1/parties/{party_id}/token", "adm"),
    Endpoint("POST", "/v1/channels", "adm", {"id": "coalition", "name": "Co", "members": ["a"]}),
    Endpoint("GET", "/v1/channels", "a"),
    Endpoint("POST", "/v1/channels/{channel_id}/members", "adm", {"party": "b"}),
    Endpoint("DELETE", "/v1/channels/{channel_id}/members/{party_id}", "adm"),
    Endpoint("GET", "/ledger/checkpoint", None),
    Endpoint("GET", "/ledger/key", None),
    Endpoint("GET", "/ledger/tile/{level}/{path}", None),
    Endpoint("GET", "/ledger/tile/entries/{path}", None),
    Endpoint("POST", "/v1/ledger/checkpoint", "a"),
    Endpoint("GET", "/v1/ledger/proof/inclusion", "a", query="index=0"),
    Endpoint("GET", "/v1/ledger/proof/consistency", "a", query="from=1"),
    Endpoint("GET", "/v1/ledger/entries/{index}", "aud"),
    Endpoint(
        "GET",
        "/v1/incident",
        "aud",
        query="at=2026-05-01T10:00:00Z&lon=36.05&lat=33.05&radius_km=20&window_min=120",
    ),
    Endpoint("POST", "/v1/ledger/keys", "b", {"vkey": Cosigner.generate("b.example/c").vkey}),
    Endpoint("POST", "/v1/ledger/cosignatures", "a", {}, made_body="cosignature"),
    Endpoint("GET", "/v1/ledger/cosignatures", "a"),
    Endpoint("POST", "/v1/notices/{notice_id}/ack", "a", {"version": 1}, notice="shared_id"),
    Endpoint("POST", "/v1/subscriptions", "b", {"events": ["conflict", "notice"]}),
    Endpoint("GET", "/v1/subscriptions", "a"),
    Endpoint("DELETE", "/v1/subscriptions/{subscription_id}", "a"),
    Endpoint("GET", "/v1/alerts", "a", query="state=unacknowledged"),
    Endpoint("GET", "/v1/alerts/webhooks", "a"),
    Endpoint("POST", "/v1/alerts/ack", "a", {"up_to": 1000}),
    Endpoint("GET", "/v1/alerts/stream", "a", streams=True),
    Endpoint("GET", "/v1/tracks", "a", query="within_s=600"),
    Endpoint(
        "POST",
        "/v1/tracks",
        "a",
        {
            "reports": [
                {
                    "aircraft": "A-1",
                    "time": "2026-05-01T00:00:00Z",
                    "lon": 36.05,
                    "lat": 33.05,
                    "altitude": {"value": 500, "reference": "W84", "units": "m"},
                    "velocity": {"east": 50.0, "north": 0.0, "up": 0.0},
                }
            ]
        },
    ),
)
AUTHENTICATED = [e for e in ENDPOINTS if e.caller is not None]
WITH_BODY = [e for e in ENDPOINTS if e.body is not None]
BY_NAME = {str(e): e for e in ENDPOINTS}


def _send(world: World, endpoint: Endpoint, caller: str | None, **kwargs: Any) -> Any:
    if endpoint.body is not None and "content" not in kwargs:
        kwargs["json"] = endpoint.payload(world)
    return world.call(endpoint.method, endpoint.url(world), caller, **kwargs)


def test_the_endpoint_table_covers_every_route_of_the_app(world: World) -> None:
    """A route without error cases here fails: the table must match the OpenAPI paths."""
    paths = create_app(world.service).openapi()["paths"]
    served = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    assert {(e.method, e.path) for e in ENDPOINTS} == served
    takes_body = {
        (method.upper(), path)
        for path, ops in paths.items()
        for method, op in ops.items()
        if "requestBody" in op
    }
    assert {(e.method, e.path) for e in WITH_BODY} == takes_body


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_the_well_formed_request_of_each_endpoint_succeeds(
    world: World, endpoint: Endpoint
) -> None:
    """The control for every case below: the same request, done right, answers 2xx."""
    if endpoint.streams:
        url = endpoint.url(world)
        with world.client.stream("GET", url, headers=world.headers(endpoint.caller)) as answer:
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/event-stream")
            assert next(answer.iter_lines()) == "retry: 1000"
        return
    response = _send(world, endpoint, endpoint.caller)
    assert 200 <= response.status_code < 300, response.text


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", AUTHENTICATED, ids=str)
def test_a_request_without_a_token_is_401(world: World, endpoint: Endpoint) -> None:
    before = world.state()
    response = _send(world, endpoint, None)
    assert_error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert world.state() == before


@pytest.mark.parametrize(
    "authorization",
    ["Bearer dcf_not-a-token", "Bearer ", "Basic YTpi", "dcf_no_scheme"],
    ids=["unknown", "empty", "basic", "no-scheme"],
)
@pytest.mark.parametrize("endpoint", AUTHENTICATED, ids=str)
def test_a_request_with_an_invalid_token_is_401(
    world: World, endpoint: Endpoint, authorization: str
) -> None:
    before = world.state()
    response = _send(world, endpoint, None, headers={"Authorization": authorization})
    assert_error(response, 401, "unauthenticated")
    assert world.state() == before


@pytest.mark.parametrize("authorization", [None, "Bearer dcf_not-a-token"])
def test_healthz_is_public(world: World, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = world.client.get("/healthz", headers=headers)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


# --- unparseable bodies ---------------------------------------------------------------------

MALFORMED = {
    "syntax": b'{"kind": "operation",',
    "not-json": b"kind=operation",
    "empty": b"",
    "bad-utf8": b'{"kind": "\xff"}',
    "single-quotes": b"{'kind': 'operation'}",
    # Valid JSON grammar that Python's parser refuses: more than 4300 digits in an integer,
    # and nesting deeper than its recursion limit. The server cannot parse them: 400.
    "huge-integer": b"1" * 5000,
    "deep-nesting": b"[" * 10_000 + b"]" * 10_000,
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("endpoint", WITH_BODY, ids=str)
def test_an_unparseable_body_is_400(world: World, endpoint: Endpoint, raw: bytes) -> None:
    expect_error(
        world,
        endpoint.method,
        endpoint.url(world),
        endpoint.caller,
        400,
        "bad_request",
        "body",
        content=raw,
        headers={"Content-Type": "application/json"},
    )


@pytest.mark.parametrize("value", [[], "operation", 5, None, True], ids=repr)
@pytest.mark.parametrize("endpoint", WITH_BODY, ids=str)
def test_a_body_that_is_not_an_object_is_422(world: World, endpoint: Endpoint, value: Any) -> None:
    expect_error(
        world,
        endpoint.method,
        endpoint.url(world),
        endpoint.caller,
        422,
        "wrong_type",
        "body",
        content=json.dumps(value).encode(),
    )


# --- notices and what-if checks: wrong types and bad values ----------------------------------

_NOTICE_WRITES = ["POST /v1/notices", "POST /v1/check"]


def _path(text: str) -> Path_:
    """``"volumes[0].altitude"`` as ``("volumes", 0, "altitude")``: the field path, walkable."""
    return tuple(int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", text))


def _case(name: str, base: Any, at: str, value: Any, code: str, field: str | None = None) -> Any:
    """Replace the node at ``at`` in ``base`` by ``value``; expect ``code`` naming ``field``.

    The field defaults to ``at``: the error names the very value that was made bad.
    """
    return pytest.param(_with(base, _path(at), value), code, field or at, id=name)


_BOW_TIE = [[[36.0, 33.0], [36.1, 33.1], [36.1, 33.0], [36.0, 33.1], [36.0, 33.0]]]
_OPEN_RING = [[[36.0, 33.0], [36.1, 33.0], [36.1, 33.1], [36.0, 33.1]]]
_SHORT_RING = [[[36.0, 33.0], [36.1, 33.0], [36.0, 33.0]]]
_ALT = "volumes[0].altitude"
_FOOT = "volumes[0].footprint"
_TIME = "volumes[0].time"

NOTICE_CASES = [
    # An enum given a number is not one of the choices, and the answer lists them.
    _case("kind-number", OPERATION, "kind", 5, "invalid_value"),
    _case("kind-object", OPERATION, "kind", {"a": 1}, "invalid_value"),
    _case("volumes-string", OPERATION, "volumes", "x", "wrong_type"),
    _case("volumes-empty", OPERATION, "volumes", [], "missing_field"),
    _case("volume-number", OPERATION, "volumes[0]", 5, "wrong_type"),
    _case("altitude-lower-string", OPERATION, f"{_ALT}.lower", "high", "wrong_type"),
    _case("altitude-upper-bool", OPERATION, f"{_ALT}.upper", True, "wrong_type"),
    _case(
        "altitude-reference", OPERATION, f"{_ALT}.reference", "XYZ", "unknown_altitude_reference"
    ),
    _case("altitude-units", OPERATION, f"{_ALT}.units", "furlong", "invalid_value"),
    _case(
        "altitude-missing-lower",
        OPERATION,
        _ALT,
        {"upper": 1, "reference": "W84"},
        "missing_field",
        f"{_ALT}.lower",
    ),
    _case(
        "altitude-inverted",
        OPERATION,
        _ALT,
        {"lower": 2000, "upper": 1000, "reference": "W84"},
        "altitude_inverted",
        f"{_ALT}.lower",
    ),
    # SFC is the ground; an upper limit 9.5 km below it leaves the band empty.
    _case(
        "altitude-surface-above-upper",
        OPERATION,
        _ALT,
        {"lower": "SFC", "upper": -9501, "reference": "AGL"},
        "altitude_inverted",
        f"{_ALT}.lower",
    ),
    _case("coordinates-string", OPERATION, f"{_FOOT}.coordinates", "x", "wrong_type"),
    _case("coordinate-string", OPERATION, f"{_FOOT}.coordinates[0][1][0]", "36.1", "wrong_type"),
    _case("position-number", OPERATION, f"{_FOOT}.coordinates[0][2]", 7, "wrong_type"),
    _case(
        "footprint-point",
        OPERATION,
        _FOOT,
        {"type": "Point", "coordinates": [36, 33]},
        "unsupported_geometry",
        f"{_FOOT}.type",
    ),
    _case("bow-tie", OPERATION, f"{_FOOT}.coordinates", _BOW_TIE, "self_intersection"),
    _case(
        "ring-not-closed",
        OPERATION,
        f"{_FOOT}.coordinates",
        _OPEN_RING,
        "ring_not_closed",
        f"{_FOOT}.coordinates[0]",
    ),
    _case(
        "ring-too-short",
        OPERATION,
        f"{_FOOT}.coordinates",
        _SHORT_RING,
        "ring_too_short",
        f"{_FOOT}.coordinates[0]",
    ),
    _case("latitude-95", OPERATION, f"{_FOOT}.coordinates[0][2][1]", 95, "latitude_out_of_range"),
    _case("radius-negative", PROTECTED, f"{_FOOT}.radius_m", -5, "radius_not_positive"),
    _case("radius-string", PROTECTED, f"{_FOOT}.radius_m", "500", "wrong_type"),
    _case("center-string", PROTECTED, f"{_FOOT}.center", "here", "wrong_type"),
    _case("time-string", OPERATION, _TIME, "now", "wrong_type"),
    _case("time-start-number", OPERATION, f"{_TIME}.start", 5, "wrong_type"),
    _case("time-no-offset", OPERATION, f"{_TIME}.start", "2026-05-02T10:00:00", "invalid_value"),
    _case("time-inverted", OPERATION, f"{_TIME}.end", "2026-05-02T09:00:00Z", "time_inverted"),
    _case(
        "operation-without-end",
        OPERATION,
        _TIME,
        {"start": "2026-05-02T10:00:00Z"},
        "missing_field",
        f"{_TIME}.end",
    ),
    # Valid RFC 3339 instants that leave Python's datetime range once converted to UTC.
    _case(
        "time-before-year-1-utc",
        OPERATION,
        f"{_TIME}.start",
        "0001-01-01T00:00:00+01:00",
        "invalid_value",
    ),
    _case(
        "time-after-year-9999-utc",
        PROTECTED,
        f"{_TIME}.start",
        "9999-12-31T23:00:00-01:00",
        "invalid_value",
    ),
    _case("audience-string", OPERATION, "audience", "all", "wrong_type"),
    _case("audience-parties-string", OPERATION, "audience.parties", "b", "wrong_type"),
    _case("aircraft-numbers", OPERATION, "aircraft", [1, 2], "wrong_type"),
    _case("priority-number", OPERATION, "priority", 1, "invalid_value"),
    _case("state-list", OPERATION, "state", [], "invalid_value"),
    _case("contact-number", OPERATION, "contact", 5, "wrong_type"),
    _case("disclose-contact-string", OPERATION, "disclose_contact", "no", "wrong_type"),
    _case("category-unknown", PROTECTED, "category", "castle", "invalid_value"),
    _case("route-string", MOVEMENT, "route", "north", "wrong_type"),
    _case("waypoint-times-string", MOVEMENT, "route.waypoint_times", "soon", "wrong_type"),
    _case(
        "waypoint-times-decreasing",
        MOVEMENT,
        "route.waypoint_times[1]",
        "2026-05-02T07:00:00Z",
        "waypoint_times_not_increasing",
    ),
    _case("half-width-string", MOVEMENT, "route.corridor_half_width_m", "50", "wrong_type"),
    _case("route-coordinate-string", MOVEMENT, "route.coordinates[1]", "x", "wrong_type"),
]


@pytest.mark.parametrize("endpoint", _NOTICE_WRITES)
@pytest.mark.parametrize(("body", "code", "field"), NOTICE_CASES)
def test_a_bad_notice_is_422_naming_the_field(
    world: World, endpoint: str, body: dict[str, Any], code: str, field: str
) -> None:
    method, url = endpoint.split()
    expect_error(world, method, url, "a", 422, code, field, json=body)


@pytest.mark.parametrize("endpoint", _NOTICE_WRITES)
@pytest.mark.parametrize("base", [OPERATION, PROTECTED, MOVEMENT], ids=["op", "prot", "mov"])
def test_the_bases_of_the_bad_notices_are_accepted(
    world: World, endpoint: str, base: dict[str, Any]
) -> None:
    """The control: each base body, unmutated, is accepted, so each case tests one change."""
    method, url = endpoint.split()
    response = world.call(method, url, "a", json=base)
    assert response.status_code in (200, 201), response.text


# Numbers JSON can carry but a float cannot hold, written as literals.
_HUGE_INTEGER = "1" + "0" * 400
_FLIGHT_LEVELS = _with(OPERATION, _path(_ALT), {"lower": 100, "upper": 0, "reference": "FL"})
NUMBER_CASES = [
    pytest.param(OPERATION, f"{_FOOT}.coordinates[0][0][0]", "1e400", id="coordinate-1e400"),
    pytest.param(OPERATION, f"{_ALT}.lower", "-1e400", id="altitude-1e400"),
    pytest.param(PROTECTED, f"{_FOOT}.radius_m", "1e400", id="radius-1e400"),
    pytest.param(
        OPERATION, f"{_FOOT}.coordinates[0][0][0]", _HUGE_INTEGER, id="coordinate-huge-integer"
    ),
    pytest.param(OPERATION, f"{_ALT}.lower", _HUGE_INTEGER, id="altitude-huge-integer"),
    pytest.param(PROTECTED, f"{_FOOT}.radius_m", _HUGE_INTEGER, id="radius-huge-integer"),
    pytest.param(
        MOVEMENT, "route.corridor_half_width_m", _HUGE_INTEGER, id="half-width-huge-integer"
    ),
]


@pytest.mark.parametrize("endpoint", _NOTICE_WRITES)
@pytest.mark.parametrize(("base", "at", "literal"), NUMBER_CASES)
def test_a_number_out_of_float_range_is_422_not_finite(
    world: World, endpoint: str, base: dict[str, Any], at: str, literal: str
) -> None:
    method, url = endpoint.split()
    raw = _raw(base, _path(at), literal)
    expect_error(world, method, url, "a", 422, "not_finite", at, content=raw)


@pytest.mark.parametrize("endpoint", ["POST /v1/notices", "POST /v1/check"])
def test_an_altitude_out_of_range_once_in_metres_is_422(world: World, endpoint: str) -> None:
    """Finite as given, but infinite once flight levels are turned into metres (× 30.48)."""
    method, url = endpoint.split()
    raw = _raw(_FLIGHT_LEVELS, _path(f"{_ALT}.upper"), "1e308")
    expect_error(world, method, url, "a", 422, "invalid_value", f"{_ALT}.upper", content=raw)


def test_a_bad_notice_does_not_block_other_parties(world: World) -> None:
    """Whatever answer a bad notice gets, another party's good notice and search still work.

    A band given in flight levels that overflows once converted to metres must not be
    stored: if it were, every later load of it would fail, for every party near it.
    """
    world.call(
        "POST", "/v1/notices", "a", content=_raw(_FLIGHT_LEVELS, _path(f"{_ALT}.upper"), "1e308")
    )
    high = _with(OPERATION, _path(_ALT), {"lower": 4000, "upper": 5000, "reference": "W84"})
    for url, status in (("/v1/check", 200), ("/v1/notices", 201)):
        response = world.call("POST", url, "b", json=high)
        assert response.status_code == status, f"b: POST {url}: {response.text}"
    for caller in ("a", "b", "aud"):
        response = world.call("GET", "/v1/notices", caller)
        assert response.status_code == 200, f"{caller}: GET /v1/notices: {response.text}"


@pytest.mark.parametrize("endpoint", _NOTICE_WRITES)
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_non_standard_json_number_is_refused(world: World, endpoint: str, literal: str) -> None:
    """``NaN`` is not JSON (RFC 8259): either unparseable (400) or not finite (422)."""
    method, url = endpoint.split()
    raw = _raw(OPERATION, _path(f"{_ALT}.lower"), literal)
    before = world.state()
    response = world.call(method, url, "a", content=raw)
    error = assert_error_shape(response)
    assert (response.status_code, error["code"], error.get("field")) in {
        (400, "bad_request", "body"),
        (422, "not_finite", f"{_ALT}.lower"),
    }, error
    assert world.state() == before


# Fields that only a stored write reads: awareness, audience ids, the time horizon.
STORED_ONLY_CASES = [
    _case("aware-of-object", OPERATION, "aware_of", {"id": "x"}, "wrong_type"),
    _case(
        "aware-of-id-number",
        OPERATION,
        "aware_of",
        [{"id": 1, "version": 1}],
        "wrong_type",
        "aware_of[0].id",
    ),
    _case(
        "aware-of-version-string",
        OPERATION,
        "aware_of",
        [{"id": "x", "version": "1"}],
        "wrong_type",
        "aware_of[0].version",
    ),
    _case("strict-string", OPERATION, "strict", "yes", "wrong_type"),
    _case("unknown-party", OPERATION, "audience.parties[0]", "nobody", "invalid_value"),
    _case("unknown-channel", OPERATION, "audience.channels[0]", "nowhere", "invalid_value"),
    _case("beyond-horizon", OPERATION, f"{_TIME}.end", "2028-01-01T00:00:00Z", "invalid_value"),
]


@pytest.mark.parametrize(("body", "code", "field"), STORED_ONLY_CASES)
def test_a_bad_write_precondition_is_422_naming_the_field(
    world: World, body: dict[str, Any], code: str, field: str
) -> None:
    expect_error(world, "POST", "/v1/notices", "a", 422, code, field, json=body)


def test_a_channel_the_caller_is_not_in_is_answered_as_one_that_does_not_exist(
    world: World,
) -> None:
    """``c`` exists, with ``a`` in it: ``b`` cannot tell it from a channel that does not."""
    answers: dict[str, list[dict[str, Any]]] = {}
    for channel in ("c", "nowhere"):
        body = _with(OPERATION, ("audience", "channels"), [channel])
        update = _with(SHARED, ("audience", "channels"), [channel]) | {"version": 1}
        answers[channel] = [
            expect_error(
                world, method, url, "b", 422, "invalid_value", "audience.channels[0]", json=json
            )
            for method, url, json in (
                ("POST", "/v1/notices", body),
                ("PUT", f"/v1/notices/{world.shared_id}", update),
            )
        ]
    for error in answers["c"]:
        assert error["message"] == "no channel 'c' that the caller belongs to"
    for error in answers["nowhere"]:
        assert error["message"] == "no channel 'nowhere' that the caller belongs to"
    # Its member may name it, filing and updating.
    body = _with(OPERATION, ("audience", "channels"), ["c"])
    assert world.call("POST", "/v1/notices", "a", json=body).status_code == 201
    update = _with(UPDATE, ("audience", "channels"), ["c"])
    answer = world.call("PUT", f"/v1/notices/{world.notice_id}", "a", json=update)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("key", ["", "k" * 201], ids=["empty", "201-chars"])
def test_a_bad_idempotency_key_is_422(world: World, key: str) -> None:
    headers = {"Idempotency-Key": key}
    expect_error(
        world,
        "POST",
        "/v1/notices",
        "a",
        422,
        None,
        "Idempotency-Key",
        json=OPERATION,
        headers=headers,
    )


# --- updates and cancellations --------------------------------------------------------------

UPDATE_CASES = [
    _case("version-string", UPDATE, "version", "2", "wrong_type"),
    _case("version-bool", UPDATE, "version", True, "wrong_type"),
    pytest.param(_without(UPDATE, "version"), "missing_field", "version", id="version-missing"),
    _case("kind-changed", {**PROTECTED, "version": 1}, "version", 1, "invalid_value", "kind"),
    _case("kind-number", UPDATE, "kind", 5, "invalid_value"),
    _case("volumes-string", UPDATE, "volumes", "x", "wrong_type"),
    _case("altitude-lower-string", UPDATE, f"{_ALT}.lower", "high", "wrong_type"),
    _case("bow-tie", UPDATE, f"{_FOOT}.coordinates", _BOW_TIE, "self_intersection"),
    _case("aware-of-string", UPDATE, "aware_of", "x", "wrong_type"),
]


@pytest.mark.parametrize(("body", "code", "field"), UPDATE_CASES)
def test_a_bad_update_is_422_naming_the_field(
    world: World, body: Any, code: str, field: str
) -> None:
    url = f"/v1/notices/{world.notice_id}"
    expect_error(world, "PUT", url, "a", 422, code, field, json=body)


@pytest.mark.parametrize(
    ("query", "field"),
    [("", "version"), ("?version=abc", "version"), ("?version=0", "version")],
    ids=["missing", "string", "zero"],
)
def test_a_cancel_without_a_valid_version_is_422(world: World, query: str, field: str) -> None:
    url = f"/v1/notices/{world.notice_id}{query}"
    expect_error(world, "DELETE", url, "a", 422, field=field)


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [("GET", {}), ("PUT", {"json": UPDATE}), ("DELETE", {"params": {"version": 1}})],
    ids=["get", "put", "delete"],
)
def test_an_unknown_notice_is_404(world: World, method: str, kwargs: dict[str, Any]) -> None:
    expect_error(world, method, "/v1/notices/n-nope", "a", 404, "not_found", None, **kwargs)


def test_another_partys_notice_cannot_be_changed(world: World) -> None:
    """Party b is not in the audience of a's notice: it does not even learn that it exists."""
    url = f"/v1/notices/{world.notice_id}"
    expect_error(world, "PUT", url, "b", 404, "not_found", json=UPDATE)
    expect_error(world, "DELETE", url, "b", 404, "not_found", params={"version": 1})


# --- query parameters -----------------------------------------------------------------------

_POINT = {"lon": "36.05", "lat": "33.05", "alt": "500", "time": "2026-05-01T00:10:00Z"}

IDENTIFY_CASES: dict[str, tuple[dict[str, str | None], str | None, str]] = {
    "lon-abc": ({"lon": "abc"}, None, "lon"),
    "time-missing": ({"time": None}, None, "time"),
    "lat-missing": ({"lat": None}, None, "lat"),
    "alt-ref-xyz": ({"alt_ref": "XYZ"}, "unknown_altitude_reference", "alt_ref"),
    "lon-nan": ({"lon": "nan"}, "not_finite", "lon"),
    "alt-inf": ({"alt": "inf"}, "not_finite", "alt"),
    "lat-95": ({"lat": "95"}, "latitude_out_of_range", "lat"),
    "time-word": ({"time": "tomorrow"}, "invalid_value", "time"),
    "time-no-offset": ({"time": "2026-05-02T10:30:00"}, "invalid_value", "time"),
    "tolerance-negative": ({"tolerance_m": "-1"}, "invalid_value", "tolerance_m"),
    "tolerance-too-wide": ({"tolerance_m": "1e9"}, "invalid_value", "tolerance_m"),
    "tolerance-s-too-long": ({"tolerance_s": "86400"}, "invalid_value", "tolerance_s"),
    # Valid instants whose tolerance window (or UTC conversion) leaves the datetime range.
    "time-year-1-with-tolerance": (
        {"time": "0001-01-01T00:00:00Z", "tolerance_s": "10"},
        "invalid_value",
        "time",
    ),
    "time-year-9999-with-tolerance": (
        {"time": "9999-12-31T23:59:59Z", "tolerance_s": "10"},
        "invalid_value",
        "time",
    ),
    "time-before-year-1-utc": ({"time": "0001-01-01T00:00:00+01:00"}, "invalid_value", "time"),
}


@pytest.mark.parametrize(
    ("change", "code", "field"), IDENTIFY_CASES.values(), ids=IDENTIFY_CASES.keys()
)
def test_a_bad_identify_query_is_422_naming_the_parameter(
    world: World, change: dict[str, str | None], code: str | None, field: str
) -> None:
    params = {k: v for k, v in ({**_POINT, **change}).items() if v is not None}
    expect_error(world, "GET", "/v1/identify", "a", 422, code, field, params=params)


SEARCH_CASES: dict[str, tuple[dict[str, str], str | None, str]] = {
    "bbox-three-numbers": ({"bbox": "1,2,3"}, "invalid_value", "bbox"),
    "bbox-words": ({"bbox": "a,b,c,d"}, "invalid_value", "bbox"),
    "bbox-south-above-north": ({"bbox": "0,10,1,5"}, "invalid_value", "bbox"),
    "bbox-nan": ({"bbox": "nan,0,1,1"}, "not_finite", "bbox"),
    "bbox-longitude-200": ({"bbox": "0,0,200,1"}, "invalid_value", "bbox"),
    "start-word": ({"start": "yesterday"}, "invalid_value", "start"),
    "end-before-start": (
        {"start": "2026-05-02T00:00:00Z", "end": "2026-05-01T00:00:00Z"},
        "time_inverted",
        "end",
    ),
    "kind-unknown": ({"kind": "balloon"}, "invalid_value", "kind"),
    "start-before-year-1-utc": ({"start": "0001-01-01T00:00:00+01:00"}, "invalid_value", "start"),
}


@pytest.mark.parametrize(
    ("params", "code", "field"), SEARCH_CASES.values(), ids=SEARCH_CASES.keys()
)
def test_a_bad_search_query_is_422_naming_the_parameter(
    world: World, params: dict[str, str], code: str | None, field: str
) -> None:
    expect_error(world, "GET", "/v1/notices", "a", 422, code, field, params=params)


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/conflicts?status=nope", "status"),
        ("/v1/disclosures?limit=0", "limit"),
        ("/v1/disclosures?limit=abc", "limit"),
        ("/v1/disclosures?limit=10001", "limit"),
    ],
)
def test_a_bad_listing_query_is_422_naming_the_parameter(
    world: World, url: str, field: str
) -> None:
    expect_error(world, "GET", url, "a", 422, field=field)


# --- parties and channels -------------------------------------------------------------------

_PARTIES = "POST /v1/parties"
_CHANNELS = "POST /v1/channels"
_JOIN = "POST /v1/channels/{channel_id}/members"


def _account(
    name: str, endpoint: str, change: dict[str, Any], code: str, field: str, status: int = 422
) -> Any:
    """The endpoint's well-formed body with ``change`` applied, answered ``status``/``code``."""
    body = {**(BY_NAME[endpoint].body or {}), **change}
    return pytest.param(endpoint, body, status, code, field, id=name)


ACCOUNT_CASES = [
    _account("party-id-number", _PARTIES, {"id": 5}, "invalid_value", "id"),
    _account("party-id-uppercase", _PARTIES, {"id": "Bad Id"}, "invalid_value", "id"),
    _account("party-id-null", _PARTIES, {"id": None}, "invalid_value", "id"),
    _account("party-name-number", _PARTIES, {"name": 5}, "invalid_value", "name"),
    _account("party-name-blank", _PARTIES, {"name": " "}, "invalid_value", "name"),
    _account("party-role-unknown", _PARTIES, {"role": "king"}, "invalid_value", "role"),
    _account("party-role-list", _PARTIES, {"role": ["admin"]}, "invalid_value", "role"),
    _account("party-contact-number", _PARTIES, {"contact": 5}, "invalid_value", "contact"),
    _account("party-exists", _PARTIES, {"id": "a"}, "conflict", "id", 409),
    _account("channel-members-string", _CHANNELS, {"members": "a"}, "wrong_type", "members"),
    _account("channel-members-numbers", _CHANNELS, {"members": [5]}, "wrong_type", "members"),
    _account(
        "channel-member-unknown", _CHANNELS, {"members": ["a", "x"]}, "invalid_value", "members[1]"
    ),
    _account("channel-id-number", _CHANNELS, {"id": 5}, "invalid_value", "id"),
    _account("channel-name-empty", _CHANNELS, {"name": ""}, "invalid_value", "name"),
    _account("channel-exists", _CHANNELS, {"id": "c"}, "conflict", "id", 409),
    _account("join-party-number", _JOIN, {"party": 5}, "wrong_type", "party"),
    _account("join-party-unknown", _JOIN, {"party": "nobody"}, "invalid_value", "party"),
]


@pytest.mark.parametrize(("endpoint", "body", "status", "code", "field"), ACCOUNT_CASES)
def test_a_bad_account_change_is_refused_naming_the_field(
    world: World, endpoint: str, body: Any, status: int, code: str, field: str | None
) -> None:
    target = BY_NAME[endpoint]
    expect_error(world, target.method, target.url(world), "adm", status, code, field, json=body)


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "status", "code", "field"),
    [
        ("POST", "/v1/channels/nowhere/members", {"json": {"party": "b"}}, 404, "not_found", None),
        ("DELETE", "/v1/channels/nowhere/members/a", {}, 404, "not_found", None),
        ("DELETE", "/v1/channels/c/members/nobody", {}, 422, "invalid_value", "party"),
    ],
    ids=["join-unknown-channel", "leave-unknown-channel", "leave-unknown-party"],
)
def test_a_membership_change_on_unknown_ids_is_refused(
    world: World,
    method: str,
    url: str,
    kwargs: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    expect_error(world, method, url, "adm", status, code, field, **kwargs)


# --- roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "caller"),
    [
        ("POST /v1/parties", "a"),
        ("POST /v1/parties", "aud"),
        ("POST /v1/channels", "a"),
        ("POST /v1/channels", "aud"),
        ("POST /v1/channels/{channel_id}/members", "a"),
        ("DELETE /v1/channels/{channel_id}/members/{party_id}", "a"),
        ("POST /v1/notices", "aud"),
        ("PUT /v1/notices/{notice_id}", "aud"),
        ("DELETE /v1/notices/{notice_id}", "aud"),
    ],
)
def test_a_caller_without_the_role_is_403(world: World, endpoint: str, caller: str) -> None:
    target = BY_NAME[endpoint]
    kwargs = {} if target.body is None else {"json": target.body}
    expect_error(world, target.method, target.url(world), caller, 403, "forbidden", **kwargs)


# --- size limit and unknown paths -----------------------------------------------------------


def _chunks(data: bytes, size: int = 100) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("endpoint", WITH_BODY, ids=str)
def test_a_body_over_the_size_limit_is_413(
    small_world: World, endpoint: Endpoint, chunked: bool
) -> None:
    raw = json.dumps({**(endpoint.body or {}), "padding": "x" * 2000}).encode()
    content: bytes | Iterator[bytes] = _chunks(raw) if chunked else raw
    expect_error(
        small_world,
        endpoint.method,
        endpoint.url(small_world),
        endpoint.caller,
        413,
        "payload_too_large",
        "body",
        content=content,
    )


def test_a_body_under_the_size_limit_is_accepted(small_world: World) -> None:
    """The control: the limit is where it is configured, not below."""
    raw = json.dumps(OPERATION).encode()
    assert len(raw) < 1000
    response = small_world.call("POST", "/v1/check", "a", content=raw)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("method", "url", "caller", "status"),
    [
        ("GET", "/v1/nope", "a", 404),
        ("GET", "/v1/nope", None, 404),
        ("GET", "/nope", None, 404),
        ("POST", "/v1/notices/x/y/z", "a", 404),
        ("GET", "/v2/notices", "a", 404),
        ("PATCH", "/v1/me", "a", 405),
        ("DELETE", "/v1/notices", "a", 405),
    ],
)
def test_an_unknown_path_or_method_answers_in_the_error_shape(
    world: World, method: str, url: str, caller: str | None, status: int
) -> None:
    code = "not_found" if status == 404 else None
    expect_error(world, method, url, caller, status, code)


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("PATCH", "/v1/me", {"GET"}),
        ("DELETE", "/v1/notices", {"GET", "POST"}),
        ("TRACE", "/healthz", {"GET"}),
        ("POST", "/ledger/checkpoint", {"GET"}),
        ("PATCH", "/v1/notices/x", {"GET", "PUT", "DELETE"}),
        ("POST", "/docs-assets/swagger-ui.css", {"GET", "HEAD"}),
    ],
)
def test_a_method_not_allowed_names_the_methods_that_are(
    world: World, method: str, url: str, allowed: set[str]
) -> None:
    """A 405 carries ``Allow`` with every method of the path (RFC 9110, 15.5.6).

    The error renderer used to drop Starlette's ``Allow``, which named only the first
    route of a path anyway (``POST /v1/notices``, not ``GET``); schemathesis found it.
    """
    response = world.call(method, url, "a")
    assert_error(response, 405)
    assert set(response.headers["Allow"].split(", ")) == allowed


# --- random bodies --------------------------------------------------------------------------

_WORDS = st.sampled_from(
    [
        "operation",
        "protected",
        "movement",
        "Polygon",
        "MultiPolygon",
        "Circle",
        "W84",
        "AMSL",
        "FL",
        "AGL",
        "SFC",
        "UNL",
        "m",
        "ft",
        "medical",
        "active",
        "cancelled",
        "emergency",
        "2026-05-02T10:00:00Z",
        "2026-05-02T10:00:00+14:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "a",
        "c",
        "",
    ]
)
_KEYS = st.sampled_from(sorted({*OPERATION, *PROTECTED, *MOVEMENT, *MOVEMENT["route"], "version"}))
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | _WORDS
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(_KEYS | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=25,
)


def _paths(value: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every node of a JSON document, containers and leaves, as a path from the root."""
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


_BASES = [OPERATION, PROTECTED, MOVEMENT]
_MUTABLE = [(base, path) for base in _BASES for path in _paths(base)]


@st.composite
def _mutated_notices(draw: st.DrawFn) -> Any:
    """A valid notice with one node (a leaf or a whole branch) replaced by random JSON."""
    base, path = draw(st.sampled_from(_MUTABLE))
    return _with(base, path, draw(JSON_VALUES))


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with _world(tmp_path_factory.mktemp("fuzz") / "fuzz.db", check_per_minute=10**9) as w:
        yield w


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=JSON_VALUES | _mutated_notices())
def test_random_bodies_never_cause_a_5xx(fuzz_world: World, body: Any) -> None:
    raw = json.dumps(body, allow_nan=False).encode()
    for url in ("/v1/notices", "/v1/check"):
        before = fuzz_world.state()
        response = fuzz_world.call("POST", url, "a", content=raw)
        assert response.status_code < 500, f"{url} {raw!r}: {response.text}"
        if response.status_code >= 400:
            assert_error_shape(response)
        if response.status_code >= 400 and response.status_code != 409:
            # A strict write refused for missing awareness records what it showed (409).
            assert fuzz_world.state() == before, f"{url} {raw!r} changed the state"


# --- text that is not Unicode -----------------------------------------------------------------

_LONE = "\ud800"
SURROGATE_CASES = {
    "category": ("POST", "/v1/notices", OPERATION | {"category": _LONE}, "category"),
    "aircraft": ("POST", "/v1/notices", OPERATION | {"aircraft": ["A", _LONE]}, "aircraft[1]"),
    "contact": ("POST", "/v1/notices", OPERATION | {"contact": _LONE}, "contact"),
    "audience": (
        "POST",
        "/v1/notices",
        OPERATION | {"audience": {"parties": [_LONE]}},
        "audience.parties[0]",
    ),
    "a key": ("POST", "/v1/notices", OPERATION | {_LONE: 1}, "body"),
    "ack key": ("POST", "/v1/alerts/ack", {"up_to": 1, _LONE: 1}, "body"),
    "track aircraft": (
        "POST",
        "/v1/tracks",
        {
            "reports": [
                {
                    "aircraft": _LONE,
                    "time": "2026-05-01T00:00:00Z",
                    "lon": 36.0,
                    "lat": 33.0,
                    "altitude": {"value": 500, "reference": "W84"},
                }
            ]
        },
        "reports[0].aircraft",
    ),
}


@pytest.mark.parametrize(
    ("method", "url", "body", "field"), SURROGATE_CASES.values(), ids=SURROGATE_CASES.keys()
)
def test_a_lone_surrogate_is_a_422_naming_the_field(
    world: World, method: str, url: str, body: dict[str, Any], field: str
) -> None:
    # json.dumps escapes the surrogate as \\ud800, as a client's encoder would.
    raw = json.dumps(body).encode("ascii")
    headers = {"Content-Type": "application/json"}
    expect_error(world, method, url, "a", 422, "not_unicode", field, content=raw, headers=headers)
    update = json.dumps(UPDATE | {"aircraft": [_LONE]}).encode("ascii")
    expect_error(
        world, "PUT", f"/v1/notices/{world.notice_id}", "a", 422, "not_unicode", "aircraft[0]",
        content=update, headers=headers,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (OPERATION | {"aircrafts": ["X"]}, "aircrafts"),
        (OPERATION | {"audience": {"party": ["b"]}}, "audience.party"),
        (
            OPERATION | {"volumes": [OPERATION["volumes"][0] | {"altitdue": {}}]},
            "volumes[0].altitdue",
        ),
    ],
    ids=["aircrafts", "audience.party", "volume"],
)
def test_a_misspelt_field_is_refused_not_dropped(
    world: World, body: dict[str, Any], field: str
) -> None:
    answer = expect_error(world, "POST", "/v1/notices", "a", 422, "unknown_field", field, json=body)
    assert "unknown field" in answer["message"]
    expect_error(world, "POST", "/v1/check", "a", 422, "unknown_field", field, json=body)
    update = UPDATE | {k: v for k, v in body.items() if k not in OPERATION or k == "volumes"}
    update |= {"audience": body["audience"]} if "audience" in body else {}
    expect_error(
        world, "PUT", f"/v1/notices/{world.notice_id}", "a", 422, "unknown_field", field,
        json=update,
    )  # fmt: skip
