"""PostgreSQL for the tests that need it: fresh databases, dropped when the run ends.

The server is reached through ``DECONFLICT_TEST_PG_ADMIN`` (default: the local
``postgres`` database). If it cannot be reached, the tests that need it fail
and say so; they are never skipped.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
from playwright.sync_api import Browser, sync_playwright

_ADMIN = os.environ.get("DECONFLICT_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[Callable[..., str]]:
    """A factory of fresh databases: each call creates one and returns its URL.

    ``create()`` is empty; ``create(like=url)`` is a copy of that test database
    (which nobody may be connected to), as a SQLite test copies a seeded file.
    """
    try:
        admin = psycopg.connect(_ADMIN, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        pytest.fail(
            f"these tests need PostgreSQL, which is not reachable at {_ADMIN} ({exc}). "
            "Start it (see README), or point DECONFLICT_TEST_PG_ADMIN at an admin URL.",
            pytrace=False,
        )
    prefix = f"deconflict_t_{os.getpid()}_{secrets.token_hex(3)}"
    made: list[str] = []

    def create(like: str | None = None) -> str:
        name = f"{prefix}_{len(made)}"
        if like is not None:
            template = urlsplit(like).path.lstrip("/")
            assert template in made, "only a database of this run can be copied"
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            # A linguistic collation, as production databases often have: the store
            # must still sort ids by code point, as SQLite and Python do.
            admin.execute(
                f'CREATE DATABASE "{name}" TEMPLATE template0'
                " LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
            )
        made.append(name)
        url = urlsplit(_ADMIN)  # geturl() would drop an empty host (the local socket)
        return f"{url.scheme}://{url.netloc}/{name}" + (f"?{url.query}" if url.query else "")

    try:
        yield create
    finally:
        for name in made:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def pg_url(pg_database: Callable[..., str]) -> str:
    """One database for the whole run; a test that needs it empty empties it first."""
    return pg_database()


#: Debian's Chromium, which ``scripts/test`` installs; Playwright drives it headless.
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """A headless Chromium for one test module's pages."""
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()
