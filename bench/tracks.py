"""Track ingest: reports per second with every check on, for many simultaneous aircraft.

Library level (``Service.tracks.ingest``, the same code the HTTP route calls) on
an embedded store with durable commits. 20 parties each fly an equal share of
the aircraft inside the benchmark region; each party has operation volumes
covering its area (so most aircraft conform), and protected places are
scattered for incursion checks. Every round, each party reports one new
position for each of its aircraft, in one batch; conformance, incursion and
closest approach all run.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from deconflict.clock import FixedClock
from deconflict.config import Settings
from deconflict.disclosure import Viewer
from deconflict.model import Role
from deconflict.service import Service
from deconflict.store import open_store

__all__ = ["run_tracks"]

T0 = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
PARTIES = 20


def _iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def run_tracks(aircraft: int, rounds: int, every: int = 1, seed: int = 8) -> dict[str, Any]:
    """``every``: seconds between a party's batches, each with a report a second per aircraft."""
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="bench-tracks-"))
    clock = FixedClock(T0)
    path = str(folder / "tracks.db")
    service = Service(open_store(path), clock, Settings(db=path))
    viewers = []
    for p in range(PARTIES):
        service.accounts.add_party(None, f"p{p}", f"Party {p}")
        viewers.append(Viewer(f"p{p}", Role.MEMBER, frozenset()))
    window = {"start": _iso(T0 - dt.timedelta(hours=1)), "end": _iso(T0 + dt.timedelta(hours=6))}
    for p, viewer in enumerate(viewers):
        for k in range(5):  # operation areas of each party, 5 × 60 km across the region
            body = {
                "kind": "operation",
                "volumes": [
                    {
                        "footprint": {
                            "type": "Circle",
                            "center": [30 + 2 * k + p * 0.1, 32 + p * 0.3],
                            "radius_m": 60_000,
                        },
                        "altitude": {"lower": 0, "upper": 12_000, "reference": "W84"},
                        "time": window,
                    }
                ],
            }
            service.submit(viewer, body)
        body = {
            "kind": "protected",
            "category": "medical",
            "volumes": [
                {
                    "footprint": {
                        "type": "Circle",
                        "center": [30 + rng.random() * 10, 32 + rng.random() * 6],
                        "radius_m": 2_000,
                    },
                    "altitude": {"lower": 0, "upper": 1_000, "reference": "W84"},
                    "time": window,
                }
            ],
        }
        service.submit(viewer, body)
    fleet = []
    for n in range(aircraft):
        p = n % PARTIES
        fleet.append(
            {
                "party": p,
                "id": f"A{n}",
                "lon": 30 + 2 * rng.randrange(5) + p * 0.1 + rng.uniform(-0.4, 0.4),
                "lat": 32 + p * 0.3 + rng.uniform(-0.4, 0.4),
                "alt": rng.uniform(300, 11_000),
                "east": rng.uniform(-200, 200),
                "north": rng.uniform(-200, 200),
            }
        )
    per_round, per_batch, alerts = [], [], 0
    for r in range(rounds):
        clock.advance(float(every))
        spent = 0.0
        for p, viewer in enumerate(viewers):
            reports = []
            for a in (a for a in fleet if a["party"] == p):
                for k in range(every):  # one report a second since the last batch
                    a["lon"] += a["east"] / 93_000
                    a["lat"] += a["north"] / 111_000
                    at = clock.now() - dt.timedelta(seconds=every - 1 - k)
                    reports.append(
                        {
                            "aircraft": a["id"],
                            "time": _iso(at),
                            "lon": round(a["lon"], 6),
                            "lat": round(a["lat"], 6),
                            "altitude": {"value": round(a["alt"], 1), "reference": "W84"},
                            "velocity": {"east": a["east"], "north": a["north"], "up": 0.0},
                        }
                    )
            started = time.perf_counter()
            answer = service.tracks.ingest(viewer, {"reports": reports})
            per_batch.append(time.perf_counter() - started)
            spent += per_batch[-1]
            alerts += answer["alerts"]
        per_round.append(spent)  # time in ingest only, not in making up the reports
        print(f"round {r + 1}: {aircraft * every / per_round[-1]:,.0f} reports/s")
    service.store.close()
    best = min(per_round)
    result = {
        "measure": "track ingest, all checks on, library level",
        "aircraft": aircraft,
        "reports_per_aircraft_per_batch": every,
        "rounds": rounds,
        "seconds_per_round": [round(s, 2) for s in per_round],
        "reports_per_s_median": round(aircraft * every / sorted(per_round)[len(per_round) // 2]),
        "reports_per_s_best": round(aircraft * every / best),
        "alerts": alerts,
        # From a batch's arrival to its alerts committed (durable, and visible to the
        # SSE and webhook senders), per batch of aircraft / 20 reports.
        "batch_ms_p50": round(1000 * sorted(per_batch)[len(per_batch) // 2], 1),
        "batch_ms_p99": round(1000 * sorted(per_batch)[int(len(per_batch) * 0.99)], 1),
    }
    print(result)
    return result
