"""Text that is no text, and fields no one declared, over every route, on both stores.

A member may send any bytes. Every string of every request body, every key, every
path and every query value is tried with a lone UTF-16 surrogate and with control
characters; each must answer a 4xx naming the field, never a 500, and leave the
store as it was. PostgreSQL cannot hold a NUL in text, so these run against a real
PostgreSQL server as well as a SQLite file. Every object of every body is also
given a field no schema declares, which must be refused, not dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_api_errors import ENDPOINTS, WITH_BODY, Endpoint, World, _world, expect_error

#: Texts that are not plain text, and the code each is refused with.
BAD_TEXT = {
    "surrogate": ("\ud800", "not_unicode"),
    "low-surrogate": ("ab\udfffcd", "not_unicode"),
    "nul": ("A\x00B", "control_character"),
    "escape": ("\x1b[31mred", "control_character"),
    "bell": ("\x07", "control_character"),
    "delete": ("x\x7f", "control_character"),
}
_HEADERS = {"Content-Type": "application/json"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One world per store: the requests below are refused, so it never changes."""
    if request.param == "sqlite":
        db = str(tmp_path_factory.mktemp("text") / "deconflict.db")
    else:
        create: Callable[..., str] = request.getfixturevalue("pg_database")
        db = create()
    with _world(db) as world:
        yield world


def _strings(
    value: Any, path: str = "", steps: tuple[str | int, ...] = ()
) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    """The field path and the walkable path of every string in ``value``."""
    if isinstance(value, str):
        yield path, steps
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else key, (*steps, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]", (*steps, i))


def _objects(value: Any, path: str = "") -> Iterator[tuple[str, tuple[str | int, ...]]]:
    """The field path and the walkable path of every object in ``value``."""
    if isinstance(value, dict):
        yield path, ()
        for key, item in value.items():
            for inner, steps in _objects(item, f"{path}.{key}" if path else key):
                yield inner, (key, *steps)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            for inner, steps in _objects(item, f"{path}[{i}]"):
                yield inner, (i, *steps)


def _replaced(body: Any, steps: tuple[str | int, ...], value: Any) -> Any:
    if not steps:
        return value
    head, rest = steps[0], steps[1:]
    if isinstance(body, dict):
        return {k: _replaced(v, rest, value) if k == head else v for k, v in body.items()}
    return [_replaced(v, rest, value) if i == head else v for i, v in enumerate(body)]


def _node(body: Any, steps: tuple[str | int, ...]) -> Any:
    for step in steps:
        body = body[step]
    return body


def _send_raw(world: World, endpoint: Endpoint, body: Any, status: int, code: str, field: str):
    """``body`` as a client's encoder writes it: non-ASCII escaped, so surrogates survive."""
    raw = json.dumps(body, ensure_ascii=True).encode("ascii")
    return expect_error(
        world, endpoint.method, endpoint.url(world), endpoint.caller, status, code, field,
        content=raw, headers=_HEADERS,
    )  # fmt: skip


def _cases() -> list[Any]:
    return [
        pytest.param(endpoint, name, id=f"{endpoint}-{name}")
        for endpoint in WITH_BODY
        for name in BAD_TEXT
    ]


@pytest.mark.parametrize(("endpoint", "name"), _cases())
def test_every_string_of_every_body_refuses_text_that_is_not_text(
    store_world: World, endpoint: Endpoint, name: str
) -> None:
    text, code = BAD_TEXT[name]
    body = endpoint.payload(store_world) or {}
    places = list(_strings(body))
    for field, steps in places:
        _send_raw(store_world, endpoint, _replaced(body, steps, text), 422, code, field)
    # A key is text too: its error names the object that holds it.
    for field, steps in _objects(body):
        node = _node(body, steps) | {text: "x"}
        _send_raw(store_world, endpoint, _replaced(body, steps, node), 422, code, field or "body")


@pytest.mark.parametrize(("endpoint"), WITH_BODY, ids=str)
def test_every_object_of_every_body_refuses_an_unknown_field(
    store_world: World, endpoint: Endpoint
) -> None:
    body = endpoint.payload(store_world) or {}
    for path, steps in _objects(body):
        node = _node(body, steps) | {"extra_field": 1}
        field = f"{path}.extra_field" if path else "extra_field"
        answer = _send_raw(
            store_world, endpoint, _replaced(body, steps, node), 422, "unknown_field", field
        )
        assert "known fields are" in answer["message"], answer


#: What a path segment or query value may not hold: any control character (tab and line
#: breaks too), and escapes that are not UTF-8 (a server would read them as U+FFFD).
_PATH_TEXT = {
    "nul": ("%00", "control_character"),
    "escape": ("%1B", "control_character"),
    "newline": ("%0A", "control_character"),
    "bad-utf8": ("%ED%A0%80", "not_unicode"),
    "lone-byte": ("%FF", "not_unicode"),
}


def _bad_urls(url: str, text: str) -> list[str]:
    """``url`` with ``text`` appended to each path segment, each query value, and as a name."""
    path, _, query = url.partition("?")
    tail = f"?{query}" if query else ""
    segments = path.split("/")
    urls = [
        "/".join([*segments[:i], segments[i] + text, *segments[i + 1 :]]) + tail
        for i in range(1, len(segments))
    ]
    pairs = [p.split("=", 1) for p in query.split("&") if p]
    for i in range(len(pairs)):
        changed = [(k, v + text if j == i else v) for j, (k, v) in enumerate(pairs)]
        urls.append(path + "?" + "&".join(f"{k}={v}" for k, v in changed))
    urls.append(f"{path}?{text}=1" + (f"&{query}" if query else ""))
    return urls


@pytest.mark.parametrize("name", _PATH_TEXT, ids=str)
@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if not e.streams], ids=str)
def test_a_path_or_query_that_is_not_plain_text_is_refused(
    store_world: World, endpoint: Endpoint, name: str
) -> None:
    world = store_world
    text, code = _PATH_TEXT[name]
    for bad in _bad_urls(endpoint.url(world), text):
        before = world.state()
        kwargs = {"json": endpoint.payload(world)} if endpoint.body is not None else {}
        response = world.call(endpoint.method, bad, endpoint.caller, **kwargs)
        assert response.status_code == 422, f"{bad}: {response.status_code} {response.text}"
        assert response.json()["error"]["code"] == code, response.text
        assert world.state() == before, bad


def test_a_control_character_in_a_path_is_refused_naming_the_path(store_world: World) -> None:
    url = f"/v1/notices/{store_world.notice_id}%00"
    expect_error(store_world, "GET", url, "a", 422, "control_character", "path")
    expect_error(
        store_world, "GET", "/v1/alerts?party=a%1B", "adm", 422, "control_character", "party"
    )


def test_an_idempotency_key_must_be_printable(store_world: World) -> None:
    expect_error(
        store_world, "POST", "/v1/notices", "a", 422, "invalid_value", "Idempotency-Key",
        json=ENDPOINTS[1].body, headers={"Idempotency-Key": "k\x01"},
    )  # fmt: skip


_NOTICE = next(e for e in WITH_BODY if str(e) == "POST /v1/notices")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.data(),
    bad=st.sampled_from(["\x00", "\x01", "\x1f", "\x7f", "\ud800", "\udbff", "\udc00"]),
    before=st.text(max_size=5),
    after=st.text(max_size=5),
)
def test_any_text_with_a_bad_character_anywhere_is_refused(
    store_world: World, data: st.DataObject, bad: str, before: str, after: str
) -> None:
    body = _NOTICE.body
    field, steps = data.draw(st.sampled_from(list(_strings(body))))
    text = before + bad + after
    response = store_world.call(
        "POST", "/v1/notices", "a",
        content=json.dumps(_replaced(body, steps, text)).encode("ascii"), headers=_HEADERS,
    )  # fmt: skip
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] in ("not_unicode", "control_character"), error
    assert error["field"] == field, error
