"""Conflict lists come in pages, and only the page shown is disclosed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient

from deconflict.api.app import create_app
from deconflict.clock import FixedClock
from deconflict.config import Settings
from deconflict.service import Service
from deconflict.store import open_store

T0 = dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC)


def _operation(lon: float) -> dict[str, object]:
    return {
        "kind": "operation",
        "volumes": [
            {
                "footprint": {"type": "Circle", "center": [lon, 34.0], "radius_m": 5000},
                "altitude": {"lower": 1000, "upper": 2000, "reference": "W84"},
                "time": {"start": "2026-05-01T10:00:00Z", "end": "2026-05-01T12:00:00Z"},
            }
        ],
    }


def test_pages_partition_the_list_and_disclose_only_what_they_show(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    service = Service(open_store(db), FixedClock(T0), Settings(db=db))
    _, alpha = service.accounts.add_party(None, "alpha", "Alpha")
    _, bravo = service.accounts.add_party(None, "bravo", "Bravo")
    client = TestClient(create_app(service))
    as_alpha = {"Authorization": f"Bearer {alpha}"}
    as_bravo = {"Authorization": f"Bearer {bravo}"}
    assert client.post("/v1/notices", json=_operation(36.0), headers=as_alpha).status_code == 201
    for k in range(5):  # five overlapping operations of bravo, each in conflict with alpha's
        answer = client.post("/v1/notices", json=_operation(36.0 + 0.01 * k), headers=as_bravo)
        assert len(answer.json()["conflicts"]) == 1

    everything = client.get("/v1/conflicts", headers=as_alpha)
    assert everything.headers["X-Total-Count"] == "5"
    ids = [c["other"]["id"] for c in everything.json()]
    assert len(set(ids)) == 5

    def disclosed() -> int:
        with service.store.read() as tx:
            return len(tx.disclosures.query(recipient="alpha"))

    before = disclosed()
    pages = [client.get(f"/v1/conflicts?limit=2&offset={o}", headers=as_alpha) for o in (0, 2, 4)]
    assert [len(p.json()) for p in pages] == [2, 2, 1]
    assert all(p.headers["X-Total-Count"] == "5" for p in pages)
    assert [c["other"]["id"] for p in pages for c in p.json()] == ids
    assert disclosed() == before + 5
    bad = client.get("/v1/conflicts?limit=0", headers=as_alpha)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "limit"
