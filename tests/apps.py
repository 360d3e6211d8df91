"""The real app in-process: a fresh store, parties with tokens, a movable clock.

``apps(tmp_path, parties, App-subclass, base settings)`` is a context manager
yielding a factory: each call opens one more app (with settings overrides) and
everything is closed on exit. Each app has a new SQLite file in ``tmp_path``,
or the store at ``store()`` if given (such as a new PostgreSQL database). Test
modules subclass :class:`App` with the calls they need.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fastapi.testclient import TestClient

from deconflict.api.app import create_app
from deconflict.clock import FixedClock
from deconflict.config import Settings
from deconflict.service import Service
from deconflict.store import open_store

__all__ = ["App", "apps"]


@dataclass
class App:
    service: Service
    client: TestClient
    clock: FixedClock
    tokens: dict[str, str]

    def call(self, method: str, url: str, caller: str | None = None, **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}))
        if caller is not None:
            headers["Authorization"] = f"Bearer {self.tokens[caller]}"
        return self.client.request(method, url, headers=headers, **kw)

    def ok(self, method: str, url: str, caller: str, status: int = 200, **kw: Any) -> Any:
        response = self.call(method, url, caller, **kw)
        assert response.status_code == status, f"{method} {url}: {response.text}"
        return response.json()

    def submit(self, caller: str, body: dict[str, Any]) -> dict[str, Any]:
        notice: dict[str, Any] = self.ok("POST", "/v1/notices", caller, 201, json=body)["notice"]
        return notice


A = TypeVar("A", bound=App)


@contextmanager
def apps(
    folder: Path,
    parties: Sequence[tuple[str, str]],
    kind: type[A],
    start: dt.datetime,
    *,
    store: Callable[[], str] | None = None,
    **base: Any,
) -> Iterator[Callable[..., A]]:
    opened: list[tuple[TestClient, Service]] = []

    def make(**overrides: Any) -> A:
        db = store() if store is not None else str(folder / f"app{len(opened)}.db")
        clock = FixedClock(start)
        service = Service(open_store(db), clock, Settings(db=db, **base | overrides))
        tokens = {}
        for party, role in parties:
            _, tokens[party] = service.accounts.add_party(None, party, party.title(), role)
        client = TestClient(create_app(service), raise_server_exceptions=False)
        client.__enter__()
        opened.append((client, service))
        return kind(service, client, clock, tokens)

    try:
        yield make
    finally:
        for client, service in opened:
            client.__exit__(None, None, None)
            service.store.close()
