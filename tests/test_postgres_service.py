"""The whole service on PostgreSQL: two parties file conflicting notices over HTTP, and
``deconflict verify --db postgresql://…`` audits the store clean afterwards."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from apps import App, apps

T0 = dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC)
PARTIES = (("alpha", "member"), ("bravo", "member"), ("charlie", "member"))


def _operation(lon: float, **fields: Any) -> dict[str, Any]:
    """A 5 km circle at 10° S, 1000–2000 m, from 10:00 to 12:00 on the day of ``T0``."""
    volume = {
        "footprint": {"type": "Circle", "center": [lon, -10.0], "radius_m": 5000},
        "altitude": {"lower": 1000, "upper": 2000, "reference": "W84"},
        "time": {"start": "2026-05-01T10:00:00Z", "end": "2026-05-01T12:00:00Z"},
    }
    return {"kind": "operation", "volumes": [volume], **fields}


def test_conflicting_notices_over_http_and_the_store_verifies(
    pg_database: Callable[[], str], tmp_path: Path
) -> None:
    with apps(tmp_path, PARTIES, App, T0, store=pg_database) as make:
        app = make()
        url = app.service.store.url
        assert url.startswith("postgresql://")
        # Both circles reach across ±180°: the prefilter must find them in its two pieces.
        alpha = app.submit("alpha", _operation(179.98))
        app.submit("charlie", _operation(100.0))  # far away: in conflict with nobody
        answer = app.ok("POST", "/v1/notices", "bravo", 201, json=_operation(-179.98))
        assert [c["other"]["id"] for c in answer["conflicts"]] == [alpha["id"]]
        seen_by_alpha = app.ok("GET", "/v1/conflicts", "alpha")
        assert [c["other"]["id"] for c in seen_by_alpha] == [answer["notice"]["id"]]
        assert app.ok("GET", "/v1/conflicts", "charlie") == []

        strict = _operation(-179.99, strict=True, aware_of=[])
        refused = app.call("POST", "/v1/notices", "bravo", json=strict)
        assert refused.status_code == 409, refused.text
        assert {m["id"] for m in refused.json()["missing"]} == {alpha["id"]}

        done = subprocess.run(
            [sys.executable, "-m", "deconflict", "verify", "--db", url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}{done.stderr}"
    assert done.stdout.rstrip().endswith("verified"), done.stdout
