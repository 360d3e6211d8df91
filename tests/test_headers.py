"""Security headers: every answer says nosniff, may not be framed, and carries a CSP.

In-process, over a SQLite file: the console page, the docs page, API answers and
error answers (401, 404, 405, 413, 422, and a 500 from a store that lost a table)
all carry the headers. In Debian's Chromium (Playwright), against the app served
by a real HTTP server in a thread: the console signs in, draws its map and opens
its alert stream, and the docs page renders the API, with no CSP violation; a
script injected into the console is refused; and another site cannot frame it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page

from deconflict.api.app import create_app
from deconflict.clock import SystemClock
from deconflict.config import Settings
from deconflict.service import Service
from deconflict.store import open_store
from server import Threaded

_CSP = "content-security-policy"


def _service(folder: Path) -> tuple[Service, str]:
    """A service on a SQLite file in ``folder`` with one member, alpha, and alpha's token."""
    db = str(folder / "store.db")
    service = Service(open_store(db), SystemClock(), Settings(db=db, max_body_bytes=1000))
    _, token = service.accounts.add_party(None, "alpha", "Alpha")
    return service, token


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The app on a real server in a thread: its URL, and alpha's token."""
    service, token = _service(tmp_path_factory.mktemp("served"))
    with Threaded(create_app(service)) as server:
        yield server.url, token
    service.store.close()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    """The app in-process, and alpha's token."""
    service, token = _service(tmp_path)
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        yield client, token
    service.store.close()


def _policy(answer: Any) -> dict[str, list[str]]:
    """The answer's Content-Security-Policy as ``{directive: sources}``, checked to be one."""
    assert answer.headers.get("x-content-type-options") == "nosniff", answer.headers
    assert answer.headers.get("x-frame-options") == "DENY", answer.headers
    assert len(answer.headers.get_list(_CSP)) == 1, answer.headers
    directives = [d.split() for d in answer.headers[_CSP].split(";") if d.strip()]
    policy = {d[0]: d[1:] for d in directives}
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'none'"]
    return policy


def test_the_console_page_may_load_only_its_own_scripts_styles_and_api(
    client: tuple[TestClient, str],
) -> None:
    page = client[0].get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = _policy(page)
    assert policy["script-src"] == policy["style-src"] == policy["connect-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert "'unsafe-inline'" not in page.headers[_CSP] and "'unsafe-eval'" not in page.headers[_CSP]


def test_the_docs_page_may_run_only_its_own_inline_script(client: tuple[TestClient, str]) -> None:
    page = client[0].get("/docs")
    assert page.status_code == 200
    (own, inline) = _policy(page)["script-src"]
    assert own == "'self'" and inline.startswith("'sha256-")
    assert "'unsafe-inline'" not in page.headers[_CSP]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/healthz", {}, 200),
        ("GET", "/console/static/console.js", {}, 200),
        ("GET", "/v1/me", {}, 401),
        ("GET", "/v1/nothing-here", {}, 404),
        ("DELETE", "/healthz", {}, 405),
        ("POST", "/v1/notices", {"content": b"x" * 2000}, 413),
        ("GET", "/v1/alerts?limit=0", {}, 422),
    ],
)
def test_api_and_error_answers_carry_the_headers_and_allow_nothing(
    client: tuple[TestClient, str], method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    headers = {"Authorization": f"Bearer {client[1]}"} if status in (413, 422) else {}
    answer = client[0].request(method, path, headers=headers, **kwargs)
    assert answer.status_code == status, answer.text
    assert set(_policy(answer)) == {"default-src", "frame-ancestors", "base-uri", "form-action"}


def test_an_unexpected_error_carries_the_headers_too(tmp_path: Path) -> None:
    """A 500 is rendered outside every added middleware; it gets the headers all the same."""
    service, token = _service(tmp_path)
    with closing(sqlite3.connect(service.settings.db)) as connection:
        connection.execute("DROP TABLE channel_members")  # the store is broken under it
        connection.commit()
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        answer = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    service.store.close()
    assert answer.status_code == 500, answer.text
    assert answer.json()["error"]["message"].startswith("internal error")
    assert set(_policy(answer)) == {"default-src", "frame-ancestors", "base-uri", "form-action"}


# --- in a browser -------------------------------------------------------------------------------


def _tab(browser: Browser) -> tuple[Page, list[str]]:
    """A new tab and the CSP violations and JavaScript errors it reports."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return page, problems


def test_the_console_works_under_its_policy(browser: Browser, served: tuple[str, str]) -> None:
    url, token = served
    page, problems = _tab(browser)
    try:
        page.goto(url + "/")
        page.get_by_test_id("token").fill(token)
        page.get_by_test_id("sign-in").click()
        page.wait_for_selector("body[data-ready='true']")
        page.wait_for_selector("body[data-stream='open']")
        page.wait_for_selector(
            ".leaflet-overlay-pane path:not(.leaflet-interactive)", state="attached"
        )
        assert page.get_by_test_id("who").inner_text().strip(), "signed in"
        assert problems == []

        # What an injected script would try: it does not run, and the refusal is reported.
        ran = page.evaluate(
            """() => {
                 const s = document.createElement('script');
                 s.textContent = 'window.injected = true';
                 document.body.append(s);  // an allowed inline script would run right here
                 return window.injected === true;
               }"""
        )
        assert ran is False
        page.wait_for_timeout(300)
        assert any("Content Security Policy" in p for p in problems), problems
    finally:
        page.context.close()


def test_the_docs_page_works_under_its_policy(browser: Browser, served: tuple[str, str]) -> None:
    """Its script, styles and the API document load, its inline script runs, nothing is refused."""
    page, problems = _tab(browser)
    try:
        with page.expect_response(lambda r: r.url.endswith("/openapi.json")) as document:
            page.goto(served[0] + "/docs")
        assert document.value.status == 200
        page.wait_for_selector("#swagger-ui .swagger-ui")
        assert page.evaluate("typeof ui") == "object", "the inline script that starts it ran"
        # The document renders: its operations are listed, not "Unable to render".
        page.wait_for_selector("#swagger-ui .opblock", timeout=15_000)
        text = page.inner_text("#swagger-ui")
        assert "/v1/notices" in text and "Unable to render" not in text
        page.wait_for_timeout(200)
        assert problems == []
    finally:
        page.context.close()


def test_another_site_cannot_frame_the_console(browser: Browser, served: tuple[str, str]) -> None:
    page, _ = _tab(browser)
    try:
        page.set_content(f'<iframe src="{served[0]}/" width="800" height="600"></iframe>')
        page.wait_for_timeout(500)
        (framed,) = page.frames[1:]
        assert framed.query_selector("[data-testid=login]") is None, "the console was framed"
    finally:
        page.context.close()
