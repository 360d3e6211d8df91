"""A notice of many volumes against a loaded store: detection time and what it finds.

The store holds the shared workload at N active volumes (its region scaled to
keep the 1M density). The notice is one operation of V geodesic circles of
25 km radius, 0–3,000 m W84, all on the same six hours, centred uniformly over
the full 1M region (lon 30–40°E, lat 32–38°N), so a part of them falls on the
loaded store. Timed: parsing the body (the public parser, as admission runs it)
and :func:`deconflict.engine.conflicts_in_store`, the detection admission runs.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.engine import POLICY, load_store
from bench.workload import generate

__all__ = ["heavy_body", "run_heavy"]


def heavy_body(volumes: int, seed: int = 5) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(30.0, 40.0, volumes), rng.uniform(32.0, 38.0, volumes)
    return {
        "kind": "operation",
        "volumes": [
            {
                "footprint": {"type": "Circle", "center": [float(x), float(y)], "radius_m": 25_000},
                "altitude": {"lower": 0, "upper": 3000, "reference": "W84", "units": "m"},
                "time": {"start": "2026-06-01T00:00:00Z", "end": "2026-06-01T06:00:00Z"},
            }
            for x, y in zip(lon.tolist(), lat.tolist(), strict=True)
        ],
    }


def run_heavy(size: int, volumes: int) -> dict[str, Any]:
    from deconflict.config import Settings
    from deconflict.engine import conflicts_in_store
    from deconflict.notices import parse_notice
    from deconflict.store import SqliteStore

    body = heavy_body(volumes)
    with tempfile.TemporaryDirectory(prefix="bench-heavy-") as folder:
        path = Path(folder) / "store.db"
        load_store(path, generate(size, seed=1))
        t0 = time.perf_counter()
        notice = parse_notice(
            body, notice_id="heavy", party="p1", version=1, limits=Settings().limits
        )
        t1 = time.perf_counter()
        store = SqliteStore(path)
        with store.read() as tx:
            found = conflicts_in_store(tx, notice, POLICY)
        t2 = time.perf_counter()
        store.close()
    row = {
        "stored_volumes": size,
        "notice_volumes": volumes,
        "body_mb": round(len(json.dumps(body)) / 1e6, 2),
        "parse_s": round(t1 - t0, 2),
        "detect_s": round(t2 - t1, 2),
        "conflicting_notices": len(found),
        "overlaps": sum(len(o) for _, o in found.values()),
    }
    print(json.dumps(row))
    return row
