"""Track alert latency over HTTP: from a batch of reports leaving the client to its alerts
arriving at the parties' webhooks, with the whole fleet reporting in real time.

A real ``deconflict serve`` (embedded store, durable commits). The fleet and
the areas are those of ``bench tracks``: 20 parties, their operation areas and
protected places, 10,000 aircraft. Every ``every`` seconds each party posts
one batch holding a report a second per aircraft since its last batch; the 20
parties post from 4 client threads. Every party subscribes a webhook (a
receiver in this process) to its track alerts.

An alert's latency is its arrival at the receiver minus the moment the batch
that raised it was sent. The batch is the one whose request was in flight when
the alert was stamped (``at``, inside the ingest transaction).
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.alerts import serve_with_webhooks
from deconflict.clock import SystemClock
from deconflict.config import Settings
from deconflict.disclosure import Viewer
from deconflict.interchange import format_instant
from deconflict.model import Role
from deconflict.service import Service
from deconflict.store import open_store

__all__ = ["run_track_alerts"]

PARTIES = 20


def _seed(db: str, rng: random.Random) -> dict[str, str]:
    """Parties, their operation areas and protected places; returns the tokens."""
    service = Service(open_store(db), SystemClock(), Settings(db=db))
    now = service.clock.now()
    window = {
        "start": format_instant(now - dt.timedelta(hours=1)),
        "end": format_instant(now + dt.timedelta(hours=6)),
    }
    tokens = {}
    for p in range(PARTIES):
        _, tokens[f"p{p}"] = service.accounts.add_party(None, f"p{p}", f"Party {p}")
        viewer = Viewer(f"p{p}", Role.MEMBER, frozenset())
        for k in range(5):
            centre = [30 + 2 * k + p * 0.1, 32 + p * 0.3]
            service.submit(viewer, _body("operation", centre, 60_000, 12_000, window))
        centre = [30 + rng.random() * 10, 32 + rng.random() * 6]
        service.submit(viewer, _body("protected", centre, 2_000, 1_000, window))
    service.store.close()
    return tokens


def _body(
    kind: str, centre: list[float], radius: float, top: float, window: dict[str, str]
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": kind,
        "volumes": [
            {
                "footprint": {"type": "Circle", "center": centre, "radius_m": radius},
                "altitude": {"lower": 0, "upper": top, "reference": "W84"},
                "time": window,
            }
        ],
    }
    if kind == "protected":
        body["category"] = "medical"
    return body


def run_track_alerts(aircraft: int, every: int, seconds: float, seed: int = 8) -> dict[str, Any]:
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="bench-track-alerts-"))
    db = str(folder / "tracks.db")
    tokens = _seed(db, rng)
    receiver, server, url = serve_with_webhooks(db)
    clients = {
        p: httpx.Client(base_url=url, headers={"Authorization": f"Bearer {t}"}, timeout=60)
        for p, t in tokens.items()
    }
    fleet = [
        {
            "party": f"p{n % PARTIES}",
            "id": f"A{n}",
            "lon": 30 + 2 * rng.randrange(5) + (n % PARTIES) * 0.1 + rng.uniform(-0.4, 0.4),
            "lat": 32 + (n % PARTIES) * 0.3 + rng.uniform(-0.4, 0.4),
            "alt": rng.uniform(300, 11_000),
            "east": rng.uniform(-200, 200),
            "north": rng.uniform(-200, 200),
        }
        for n in range(aircraft)
    ]
    batches: list[tuple[float, float, int]] = []  # (sent, answered, reports), epoch seconds
    lock = threading.Lock()

    def post(party: str, reports: list[dict[str, Any]]) -> None:
        sent = time.time()
        clients[party].post("/v1/tracks", json={"reports": reports}).raise_for_status()
        with lock:
            batches.append((sent, time.time(), len(reports)))

    try:
        hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        for client in clients.values():
            client.post(
                "/v1/subscriptions", json={"events": ["track"], "webhook": {"url": hook}}
            ).raise_for_status()
        started = time.monotonic()
        rounds = 0
        with ThreadPoolExecutor(4) as pool:
            while time.monotonic() - started < seconds:
                due = started + rounds * every
                time.sleep(max(0.0, due - time.monotonic()))
                now = SystemClock().now()
                by_party: dict[str, list[dict[str, Any]]] = {}
                for a in fleet:
                    for k in range(every):
                        a["lon"] += a["east"] / 93_000
                        a["lat"] += a["north"] / 111_000
                        at = now - dt.timedelta(seconds=every - 1 - k)
                        by_party.setdefault(a["party"], []).append(
                            {
                                "aircraft": a["id"],
                                "time": format_instant(at.replace(microsecond=0)),
                                "lon": round(a["lon"], 6),
                                "lat": round(a["lat"], 6),
                                "altitude": {"value": round(a["alt"], 1), "reference": "W84"},
                                "velocity": {"east": a["east"], "north": a["north"], "up": 0.0},
                            }
                        )
                futures = [pool.submit(post, p, r) for p, r in by_party.items()]
                for f in futures:
                    f.result()
                rounds += 1
        elapsed = time.monotonic() - started
        time.sleep(3.0)  # the last webhooks
    finally:
        for client in clients.values():
            client.close()
        server.terminate()
        server.wait(timeout=30)
        receiver.shutdown()
    windows = sorted(batches)
    latencies = []
    for arrived, at in receiver.arrivals.values():
        stamped = dt.datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
        sent = [s for s, done, _ in windows if s <= stamped <= done + 0.001]
        if sent:
            latencies.append(arrived - max(sent))
    lat = np.array(latencies)
    reports = sum(n for _, _, n in batches)
    ingest = np.array([done - sent for sent, done, _ in batches])
    result = {
        "measure": "track alert latency over HTTP, batch sent to webhook arrival",
        "aircraft": aircraft,
        "seconds_between_batches": every,
        "seconds": round(elapsed, 1),
        "reports": reports,
        "reports_per_s_offered": round(reports / elapsed),
        "batches": len(batches),
        "batch_ms_p50": round(float(np.percentile(ingest, 50)) * 1e3, 1),
        "batch_ms_p99": round(float(np.percentile(ingest, 99)) * 1e3, 1),
        "alerts_arrived": len(receiver.arrivals),
        "alerts_matched": len(lat),
        "duplicates": receiver.duplicates,
        "p50_ms": round(float(np.percentile(lat, 50)) * 1e3, 1) if len(lat) else None,
        "p95_ms": round(float(np.percentile(lat, 95)) * 1e3, 1) if len(lat) else None,
        "p99_ms": round(float(np.percentile(lat, 99)) * 1e3, 1) if len(lat) else None,
        "max_ms": round(float(lat.max()) * 1e3, 1) if len(lat) else None,
    }
    print(result)
    return result
