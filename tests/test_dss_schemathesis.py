"""Schemathesis against the ASTM F3548-21 document itself, for every ``/dss/v1`` operation.

A real ``deconflict serve`` (on SQLite, then on PostgreSQL) with a test
authority's key; every generated call carries a token holding every scope, so
it passes authentication and reaches the facade. Generation is driven by the
OpenAPI 3.0 document :func:`f3548.openapi` rebuilds from ``uas-standards``'
operations and data types (the USS-to-USS ``/uss/v1`` operations are for USSs
to serve, not the DSS), in valid and invalid modes, with a few known ids mixed
in. Each answer must:

- not be a 5xx;
- have a status the standard documents for the operation;
- have the documented content type, and match the documented schema.
"""

from __future__ import annotations

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
    response_schema_conformance,
    status_code_conformance,
)

from f3548 import Authority, openapi
from generated import Tally, run_generated
from server import Server, free_port, new_store
from test_dss_facade import intent, volume

MAX_EXAMPLES = 25
MIN_CASES = 500

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Served:
    server: Server
    token: str
    known: dict[str, list[str]] = field(default_factory=dict)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("dss-schemathesis")
    db = new_store(request.param, folder, request)
    authority = Authority(folder)
    port = free_port()
    args = [
        "serve", "--db", db, "--host", "127.0.0.1", "--port", str(port),
        "--dss-public-key", str(authority.rsa_pem), "--dss-audience", "localhost",
    ]  # fmt: skip
    server = Server(args, port, folder / "server.log")
    server.start()
    try:
        served = Served(server, authority.token("fuzzer"))
        served.known = _seed(served)
        yield served
    finally:
        server.stop()


def _seed(served: Served) -> dict[str, list[str]]:
    """An intent, a constraint and a subscription, so that generated paths can name them."""
    headers = {"Authorization": f"Bearer {served.token}"}
    base = served.server.url + "/dss/v1"
    oir, cr, sub = (
        "5a3a1e1c-0b6f-4b49-9b0e-7b1d5f0c2a11",
        "6b4b2f2d-1c70-4c5a-8c1f-8c2e6a1d3b22",
        "7c5c303e-2d81-4d6b-9d20-9d3f7b2e4c33",
    )
    made = httpx.put(
        f"{base}/operational_intent_references/{oir}", json=intent([volume(5, 5)]), headers=headers
    )
    assert made.status_code == 201, made.text
    body = {"extents": [volume(6, 6)], "uss_base_url": "https://fuzz.test"}
    made_cr = httpx.put(f"{base}/constraint_references/{cr}", json=body, headers=headers)
    assert made_cr.status_code == 201, made_cr.text
    sub_body = {
        "extents": volume(5, 5),
        "uss_base_url": "https://fuzz.test",
        "notify_for_operational_intents": True,
    }
    made_sub = httpx.put(f"{base}/subscriptions/{sub}", json=sub_body, headers=headers)
    assert made_sub.status_code == 200, made_sub.text
    return {
        "entityid": [oir, cr],
        "ovn": [
            made.json()["operational_intent_reference"]["ovn"],
            made_cr.json()["constraint_reference"]["ovn"],
        ],
        "subscriptionid": [sub],
        "version": [made_sub.json()["subscription"]["version"]],
        "uss_id": ["fuzzer", "someone-else"],
    }


def _strategy(served: Served, operation: Any, mode: GenerationMode) -> Any:
    generated = operation.as_strategy(generation_mode=mode)
    names = [p.name for p in operation.path_parameters]
    if mode is GenerationMode.POSITIVE and names:
        fixed = st.fixed_dictionaries({n: st.sampled_from(served.known[n]) for n in names})
        generated = st.one_of(
            generated, fixed.flatmap(lambda p: operation.as_strategy(path_parameters=p))
        )
    return generated


def _run(served: Served, operation: Any, mode: GenerationMode, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {served.token}"}
    run_generated(
        operation,
        mode,
        _strategy(served, operation, mode),
        lambda case: case.call_and_validate(
            base_url=served.server.url, headers=headers, checks=CHECKS, timeout=30
        ),
        f"{operation.label} ({mode.value})",
        tally,
        MAX_EXAMPLES,
    )


def test_every_dss_operation_answers_as_the_standard_documents(served: Served) -> None:
    schema = schemathesis.openapi.from_dict(openapi())
    operations = [
        op for op in (r.ok() for r in schema.get_all_operations()) if op.path.startswith("/dss/")
    ]
    assert len(operations) == 18
    tally = Tally()
    began = time.monotonic()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run(served, operation, mode, tally)
    print(f"\nschemathesis (F3548): {tally.cases} cases, {time.monotonic() - began:.0f} s")
    for label, seen in sorted(tally.statuses.items()):
        print(f"  {label}: {sorted(seen)}")
    report = "\n\n".join(f"{label}\n{text}" for label, text in tally.failures.items())
    assert not tally.failures, f"{len(tally.failures)} failing runs:\n\n{report}"
    assert tally.cases >= MIN_CASES
