"""The F3548-21 contract the facade tests hold every answer to can fail.

:func:`f3548.check` is built from ``uas-standards`` rather than the standard's
YAML; these tests show it still refuses what the standard refuses: a body
missing a required field or with a field of the wrong type, a status the
operation does not document, and a path the standard does not have.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema.exceptions import ValidationError

from f3548 import check, openapi

SUBSCRIPTION = "/dss/v1/subscriptions/7c5c303e-2d81-4d6b-9d20-9d3f7b2e4c33"


def _answer(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("GET", "http://dss.test"))


def _subscription(**changes: Any) -> dict[str, Any]:
    subscription = {
        "id": "7c5c303e-2d81-4d6b-9d20-9d3f7b2e4c33",
        "version": "1",
        "notification_index": 0,
        "uss_base_url": "https://uss.test/utm",
        "time_start": {"value": "2026-01-01T10:00:00Z", "format": "RFC3339"},
        "notify_for_operational_intents": True,
    }
    return {"subscription": {k: v for k, v in (subscription | changes).items() if v is not None}}


def test_a_documented_answer_passes() -> None:
    check("GET", SUBSCRIPTION, _answer(200, _subscription()))
    check("GET", SUBSCRIPTION, _answer(404, {"message": "no such subscription"}))
    check("POST", "/dss/v1/subscriptions/query", _answer(200, {"subscriptions": []}))


@pytest.mark.parametrize(
    "body",
    [
        _subscription(version=None),
        _subscription(notification_index="0"),
        _subscription(time_start={"value": "yesterday", "format": "RFC3339"}),
        _subscription(time_start={"value": "2026-01-01T10:00:00Z", "format": "unix"}),
        {"subscriptions": []},
    ],
    ids=["missing-version", "index-as-string", "bad-date-time", "unknown-enum", "wrong-shape"],
)
def test_a_body_off_the_schema_fails(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        check("GET", SUBSCRIPTION, _answer(200, body))


def test_an_undocumented_status_fails() -> None:
    with pytest.raises(AssertionError, match="does not document"):
        check("GET", SUBSCRIPTION, _answer(409, {"message": "conflict"}))
    # A new subscription is 200 in F3548, not 201.
    with pytest.raises(AssertionError, match="does not document"):
        check("PUT", SUBSCRIPTION, _answer(201, _subscription()))


def test_a_path_or_method_outside_the_standard_fails() -> None:
    with pytest.raises(AssertionError, match="no path of the standard"):
        check("GET", "/dss/v1/notices", _answer(200, {}))
    with pytest.raises(AssertionError, match="has no GET"):
        check("GET", "/dss/v1/subscriptions/query", _answer(200, {"subscriptions": []}))


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from [value] if key == "$ref" else _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_the_document_has_every_dss_operation_and_no_dangling_reference() -> None:
    document = openapi()
    dss = [(m, p) for p, item in document["paths"].items() if p.startswith("/dss/") for m in item]
    assert len(dss) == 18
    names = {ref.removeprefix("#/components/schemas/") for ref in _refs(document)}
    assert names <= set(document["components"]["schemas"])
    assert "Volume4D" in names
