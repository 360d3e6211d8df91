"""Schemathesis against the served OpenAPI: every operation, every role, a real server.

A real ``deconflict serve`` process on a fresh SQLite store, seeded with the CLI
(``deconflict party add``, ``deconflict channel add``) and over HTTP with a few
notices, a subscription and a cosigning key, so that generated requests can name
ids that exist. The schema is the one the server serves at ``/openapi.json``.
Each operation gets valid and invalid generated input (schemathesis's positive
and negative modes), with the token of a member, of an admin and of an auditor
(the public ledger routes and ``/healthz`` without one), and each answer must:

- not be a 5xx (``not_a_server_error``);
- have a status the operation documents (``status_code_conformance``);
- have a content type documented for that status (``content_type_conformance``);
- have the headers documented for it (``response_headers_conformance``);
- match the schema documented for it (``response_schema_conformance``).

All operations run in one test, so that the cases are counted (at least 1,000 a
run, about a minute and a half on two cores) and every failing operation is
reported at once, each with a ``curl`` command that reproduces it.

``GET /v1/alerts/stream`` is the one operation left out of generation: it streams
Server-Sent Events until the client hangs up, so a generated call would never
return. A test of its own checks its 200, 401 and 422 against the document.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from deconflict.clock import SystemClock
from deconflict.ledger.note import Cosigner
from generated import Tally, run_generated
from server import Server, cli, free_port

#: Who calls: one party of each role. ``bravo`` is a second member, the other side of conflicts.
PARTIES = {"alpha": "member", "bravo": "member", "root": "admin", "audit": "auditor"}
CALLERS = ("alpha", "root", "audit")

#: Generated cases per operation, caller and generation mode: with 35 operations for three
#: callers and 5 public ones, at most 2,200. Operations with few distinct inputs stop earlier.
MAX_EXAMPLES = 10
MIN_CASES = 1_000

#: Streams until the client hangs up, so it is tested on its own (see the module docstring).
STREAM = ("GET", "/v1/alerts/stream")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

_T0 = SystemClock().now().replace(second=0, microsecond=0)


def _at(hours: float) -> str:
    return (_T0 + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _operation(west: float, south: float, audience: dict[str, list[str]]) -> dict[str, Any]:
    ring = [[west, south], [west + 0.1, south], [west + 0.1, south + 0.1], [west, south + 0.1]]
    return {
        "kind": "operation",
        "volumes": [
            {
                "footprint": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                "altitude": {"lower": 0, "upper": 1000, "reference": "W84", "units": "m"},
                "time": {"start": _at(1), "end": _at(3)},
            }
        ],
        "audience": audience,
        "aircraft": ["ABC123"],
        "contact": "ops desk",
    }


_PROTECTED = {
    "kind": "protected",
    "category": "medical",
    "volumes": [
        {
            "footprint": {"type": "Circle", "center": [36.05, 33.05], "radius_m": 500},
            "altitude": {"lower": "SFC", "upper": 300, "reference": "AGL"},
            "time": {"start": _at(0)},
        }
    ],
}


@dataclass
class Served:
    """The running server, its parties' tokens and the ids that exist in its store."""

    server: Server
    tokens: dict[str, str]
    #: Values that exist in the store, by parameter name (path and query).
    known: dict[str, list[str]] = field(default_factory=dict)
    #: The OpenAPI document the server serves, and schemathesis's reading of it.
    document: dict[str, Any] = field(default_factory=dict)
    schema: Any = None

    def headers(self, party: str | None) -> dict[str, str]:
        return {} if party is None else {"Authorization": f"Bearer {self.tokens[party]}"}

    def get(self, path: str, party: str | None = None, **headers: str) -> httpx.Response:
        url = self.server.url + path
        return httpx.get(url, headers=self.headers(party) | headers, timeout=30)

    def documents(self, method: str, path: str, response: httpx.Response) -> None:
        """The answer's status, and its content type for that status, are documented."""
        answers = self.document["paths"][path][method.lower()]["responses"]
        status = str(response.status_code)
        assert status in answers, f"{method} {path}: {status} is not documented"
        media_type = response.headers["content-type"].split(";")[0]
        assert media_type in answers[status]["content"], f"{method} {path}: {media_type}"

    def post(self, party: str, path: str, body: dict[str, Any], status: int) -> dict[str, Any]:
        response = httpx.post(
            self.server.url + path, json=body, headers=self.headers(party), timeout=30
        )
        assert response.status_code == status, response.text
        answer: dict[str, Any] = response.json()
        return answer


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("schemathesis")
    db = str(folder / "store.db")
    tokens = {
        party: cli(
            "party", "add", party, "--name", party.title(), "--role", role, "--db", db
        ).strip()
        for party, role in PARTIES.items()
    }
    cli("channel", "add", "coalition", "--members", "alpha,bravo", "--db", db)
    # Identification and what-if checks are rationed per party: past the ration every
    # generated case would meet the (documented) 429 and go no deeper.
    config = folder / "settings.toml"
    config.write_text(
        "[deconflict]\nidentify_per_minute = 1000000\ncheck_per_minute = 1000000\n",
        encoding="utf-8",
    )
    port = free_port()
    args = ["serve", "--db", db, "--config", str(config), "--host", "127.0.0.1"]
    server = Server([*args, "--port", str(port)], port, folder / "server.log")
    server.start()
    try:
        served = Served(server, tokens)
        served.known = _seed(served)
        served.document = served.get("/openapi.json").json()
        served.schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        yield served
    finally:
        server.stop()


def _seed(served: Served) -> dict[str, list[str]]:
    """Notices in conflict, one shared through the channel, a subscription and a cosigning key."""
    alpha = served.post("alpha", "/v1/notices", _operation(36.0, 33.0, {}), 201)
    bravo = served.post("bravo", "/v1/notices", _operation(36.0, 33.0, {}), 201)
    assert bravo["conflicts"], "the seeded notices should conflict"
    shared = served.post(
        "bravo", "/v1/notices", _operation(10.0, 10.0, {"channels": ["coalition"]}), 201
    )
    site = served.post("bravo", "/v1/notices", _PROTECTED, 201)
    subscription = served.post("alpha", "/v1/subscriptions", {"kinds": ["protected"]}, 201)
    cosigner = Cosigner.generate("alpha.example/cosigner")
    served.post("alpha", "/v1/ledger/keys", {"vkey": cosigner.vkey}, 201)
    notices = [answer["notice"]["id"] for answer in (alpha, bravo, shared, site)]
    return {
        "notice_id": notices,
        "subscription_id": [subscription["id"]],
        "channel_id": ["coalition"],
        # Never a caller: an admin may revoke or rotate the token of the party it names.
        "party_id": ["bravo"],
        "index": ["0", "1", "3"],
        "level": ["0", "1"],
        "path": ["000", "000.p/1", "000.p/7"],
        "time": [_at(2)],
        "at": [_at(2)],
        "start": [_at(0)],
        "end": [_at(5)],
        "bbox": ["35,32,37,34", "-180,-90,180,90"],
    }


def _keeps_the_callers(case: Any) -> bool:
    """False for a case that would rotate or revoke a caller's own token.

    Schemathesis reuses values from earlier answers (``GET /v1/parties`` lists every
    party id), so it would otherwise lock the test's own callers out halfway through.
    """
    under_party = case.operation.path.startswith("/v1/parties/{party_id}")
    return not (under_party and case.path_parameters.get("party_id") in CALLERS)


def _strategy(served: Served, operation: Any, mode: GenerationMode) -> Any:
    """Generated cases; for valid input, half of them name ids and times that exist.

    Random path parameters almost never name a notice, and random strings are never
    RFC 3339 times, so without these the deeper code (a found notice, a valid instant
    with generated coordinates) would hardly be reached.
    """
    generated = operation.as_strategy(generation_mode=mode)
    path = [p.name for p in operation.path_parameters]
    query = [p.name for p in operation.query if p.name in served.known]
    if mode is GenerationMode.POSITIVE and (path or query):
        known = served.known
        existing = st.tuples(
            st.fixed_dictionaries({name: st.sampled_from(known[name]) for name in path}),
            st.fixed_dictionaries({name: st.sampled_from(known[name]) for name in query}),
        )
        generated = st.one_of(
            generated,
            existing.flatmap(
                lambda fixed: operation.as_strategy(
                    path_parameters=fixed[0] or None, query=fixed[1] or None
                )
            ),
        )
    return generated.filter(_keeps_the_callers)


def _run(
    served: Served, operation: Any, caller: str | None, mode: GenerationMode, tally: Tally
) -> None:
    headers = served.headers(caller)
    run_generated(
        operation,
        mode,
        _strategy(served, operation, mode),
        lambda case: case.call_and_validate(headers=headers, checks=CHECKS, timeout=30),
        f"{operation.label} as {caller or 'nobody'} ({mode.value})",
        tally,
        MAX_EXAMPLES,
    )


def test_every_operation_answers_as_documented(served: Served) -> None:
    """No 5xx, and every answer's status, content type, headers and body as documented."""
    operations = [result.ok() for result in served.schema.get_all_operations()]
    assert STREAM in {(op.method.upper(), op.path) for op in operations}, "still served?"
    tally = Tally()
    began = time.monotonic()
    for operation in operations:
        if (operation.method.upper(), operation.path) == STREAM:
            continue  # never returns; test_the_alert_stream_answers_as_documented covers it
        secured = served.document["paths"][operation.path][operation.method].get("security")
        for caller in CALLERS if secured else (None,):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _run(served, operation, caller, mode, tally)
        for caller in CALLERS:  # else every later answer would be a 401, and prove nothing
            me = served.get("/v1/me", caller)
            assert me.status_code == 200, f"{operation.label} locked {caller} out: {me.text}"
    elapsed = time.monotonic() - began
    print(f"\nschemathesis: {tally.cases} cases, {len(operations) - 1} operations, {elapsed:.0f} s")
    for label, statuses in sorted(tally.statuses.items()):
        print(f"  {label}: {sorted(statuses)}")
    print("  no invalid input to generate:", ", ".join(tally.nothing_invalid) or "none")
    report = "\n\n".join(f"{label}\n{text}" for label, text in tally.failures.items())
    assert not tally.failures, f"{len(tally.failures)} failing runs:\n\n{report}"
    assert tally.cases >= MIN_CASES


def test_the_alert_stream_answers_as_documented(served: Served) -> None:
    """The operation generation leaves out: 200 ``text/event-stream``, 401 and 422 as JSON."""
    with httpx.stream(
        "GET", served.server.url + STREAM[1], headers=served.headers("alpha"), timeout=30
    ) as answer:
        served.documents(*STREAM, answer)
        assert answer.status_code == 200
        assert next(answer.iter_lines()) == "retry: 1000"
    unknown = served.get(STREAM[1], Authorization="Bearer dcf_nobody")
    assert unknown.status_code == 401
    served.documents(*STREAM, unknown)
    resumed = served.get(STREAM[1], "alpha", **{"Last-Event-ID": "yesterday"})
    assert resumed.status_code == 422
    served.documents(*STREAM, resumed)


def test_the_public_ledger_answers_as_documented(served: Served) -> None:
    """Text, bytes and 404s: it used to be documented as answering only JSON, and never 404."""
    published = httpx.post(
        f"{served.server.url}/v1/ledger/checkpoint", headers=served.headers("alpha"), timeout=30
    )
    assert published.status_code == 200, published.text
    size = int(published.json()["checkpoint"].splitlines()[1])
    first = "000" if size >= 256 else f"000.p/{size}"
    for path, url, status in [
        ("/ledger/checkpoint", "/ledger/checkpoint", 200),
        ("/ledger/key", "/ledger/key", 200),
        ("/ledger/tile/{level}/{path}", f"/ledger/tile/0/{first}", 200),
        ("/ledger/tile/{level}/{path}", "/ledger/tile/0/x999/999", 404),
        ("/ledger/tile/{level}/{path}", "/ledger/tile/x/000", 404),
        ("/ledger/tile/entries/{path}", f"/ledger/tile/entries/{first}", 200),
        ("/ledger/tile/entries/{path}", "/ledger/tile/entries/x999/999", 404),
    ]:
        response = served.get(url)
        assert response.status_code == status, f"{url}: {response.text}"
        served.documents("GET", path, response)


def test_every_documented_422_is_the_error_shape(served: Served) -> None:
    """FastAPI documents ``{"detail": [...]}`` for its 422s; the service answers the error shape."""
    wrong = [
        f"{method.upper()} {path}"
        for path, operations in served.document["paths"].items()
        for method, operation in operations.items()
        if "422" in operation["responses"]
        and operation["responses"]["422"]["content"]["application/json"]["schema"]
        != {"$ref": "#/components/schemas/Error"}
    ]
    assert wrong == []
    assert "HTTPValidationError" not in served.document["components"]["schemas"]
