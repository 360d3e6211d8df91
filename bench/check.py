"""Whole-theater check: ``deconflict check`` on N operations, and PostGIS on the same data.

The theater is the shared workload over its full region (the density of 1M active
volumes thinned to N), one operation per volume, written as an interchange
FeatureCollection. Ours is timed three ways:

- ``cli``: ``deconflict check FILE --json`` as a user runs it, output to a file;
- ``parse``: reading and parsing the file into notices, in process;
- ``detect``: :func:`deconflict.theater.detect_all` on them, in process.

PostGIS, in the same run: COPY into an unlogged table, a GiST index on
``(geom, tstzrange, numrange)``, ANALYZE, and a self-join counting the pairs of
different parties that meet in time, altitude and ``ST_Intersects``. Both sides
count pairs; the difference is printed (a few pairs at the tolerance may differ).
"""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.workload import Workload, generate

__all__ = ["run_check", "theater_geojson"]

_FULL = 1_000_000


def theater_geojson(w: Workload) -> dict[str, Any]:
    """The workload as an interchange FeatureCollection, one operation per volume."""
    features = []
    for i in range(len(w)):
        start, end = w.window(i)
        features.append(
            {
                "type": "Feature",
                "geometry": w.geojson(i),
                "properties": {
                    "notice_id": f"op-{i}",
                    "party": f"p{int(w.party[i])}",
                    "kind": "operation",
                    "altitude": {
                        "lower": float(w.alt_lo[i]),
                        "upper": float(w.alt_hi[i]),
                        "reference": "W84",
                        "units": "m",
                    },
                    "time": {
                        "start": start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                        "end": end.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    },
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _ours(path: Path) -> dict[str, Any]:
    from deconflict.conflicts import SeparationPolicy
    from deconflict.interchange import notices_from_geojson
    from deconflict.theater import detect_all

    t0 = time.perf_counter()
    notices = notices_from_geojson(json.loads(path.read_text(encoding="utf-8")))
    t1 = time.perf_counter()
    found = detect_all(notices, SeparationPolicy())
    t2 = time.perf_counter()
    pairs = len(found)
    del notices, found  # the command below gets the machine to itself
    gc.collect()
    out = path.with_suffix(".out.json")
    t3 = time.perf_counter()
    with out.open("w") as sink:
        done = subprocess.run(
            [sys.executable, "-m", "deconflict", "check", str(path), "--json"],
            stdout=sink,
            check=False,
        )
    t4 = time.perf_counter()
    assert done.returncode in (0, 1), f"check exited {done.returncode}"
    cli_pairs = len(json.loads(out.read_text(encoding="utf-8"))["conflicts"])
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "parse_s": round(t1 - t0, 2),
        "detect_s": round(t2 - t1, 2),
        "cli_s": round(t4 - t3, 2),
        "cli_peak_rss_mb": round(child, 1),
        "pairs": pairs,
        "cli_pairs": cli_pairs,
    }


def _postgis(w: Workload, name: str) -> dict[str, Any]:
    from bench.postgis import PostgisTable, ensure_postgis, fresh_database

    ensure_postgis()
    with fresh_database(name) as dsn:
        table = PostgisTable(dsn)
        table.conn.execute("SET maintenance_work_mem = '512MB'")
        load_s = table.load(w, unlogged=True)
        t0 = time.perf_counter()
        row = table.conn.execute(
            "SELECT count(*) FROM volumes a JOIN volumes b ON a.id < b.id"
            " AND a.party <> b.party AND a.geom && b.geom AND a.during && b.during"
            " AND a.alt && b.alt AND ST_Intersects(a.geom, b.geom)"
        ).fetchone()
        join_s = time.perf_counter() - t0
        table.conn.close()
    pairs = int(row[0]) if row else 0
    return {
        "load_index_s": round(load_s, 2),
        "join_s": round(join_s, 2),
        "total_s": round(load_s + join_s, 2),
        "pairs": pairs,
    }


def run_check(sizes: list[int], postgis: bool = True, seed: int = 20) -> dict[str, Any]:
    rows = []
    for n in sizes:
        w = generate(n, seed, n_total=_FULL)
        with tempfile.TemporaryDirectory(prefix="bench-check-") as folder:
            path = Path(folder) / "theater.geojson"
            path.write_text(json.dumps(theater_geojson(w)), encoding="utf-8")
            row: dict[str, Any] = {"operations": n, "ours": _ours(path)}
        if postgis:
            row["postgis"] = _postgis(w, f"bench_check_{n}")
            row["ratio"] = round(row["ours"]["cli_s"] / row["postgis"]["total_s"], 2)
            row["pairs_differ"] = row["ours"]["pairs"] - row["postgis"]["pairs"]
        print(json.dumps(row))
        rows.append(row)
    return {"rows": rows}
