"""Measure 1 and 2: the engine's conflict query on the embedded store, and PostGIS beside it."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from bench.stats import summary
from bench.workload import EPOCH, SIDES, Workload, generate
from deconflict.accounts import hash_token
from deconflict.config import Settings
from deconflict.conflicts import SeparationPolicy
from deconflict.engine import conflicts_in_store, volume_rows
from deconflict.geometry import BBox
from deconflict.model import AltitudeReference, Party, Role
from deconflict.notices import parse_notice
from deconflict.screen import _HEADER, REFERENCE_CODES, to_micros
from deconflict.sphere import arc_latitude_range, lonlat_to_unit
from deconflict.store import Extent, NoticeRecord, SqliteStore, VolumeRow, open_store

__all__ = ["load_store", "notice_body", "run_engine"]

POLICY = SeparationPolicy()  # airspace: plain intersection, like ST_Intersects
_W84 = REFERENCE_CODES[AltitudeReference.W84]


def notice_body(w: Workload, i: int) -> dict[str, Any]:
    start, end = w.window(i)
    return {
        "kind": "operation",
        "volumes": [
            {
                "footprint": w.geojson(i),
                "altitude": {
                    "lower": float(w.alt_lo[i]),
                    "upper": float(w.alt_hi[i]),
                    "reference": "W84",
                    "units": "m",
                },
                "time": {"start": start.isoformat(), "end": end.isoformat()},
            }
        ],
    }


def _rows(w: Workload, lo: int, hi: int) -> list[tuple[NoticeRecord, list[VolumeRow]]]:
    """What ``engine.volume_rows`` yields for each volume, computed for a whole block at once."""
    rings = w.rings[lo:hi]
    a = lonlat_to_unit(rings[:, :-1, 0], rings[:, :-1, 1]).reshape(-1, 3)
    b = lonlat_to_unit(rings[:, 1:, 0], rings[:, 1:, 1]).reshape(-1, 3)
    lat_lo, lat_hi = arc_latitude_range(a, b)
    south = lat_lo.reshape(-1, SIDES).min(axis=1)
    north = lat_hi.reshape(-1, SIDES).max(axis=1)
    cores = shapely.to_wkb(shapely.polygons(rings))
    out = []
    for k, i in enumerate(range(lo, hi)):
        start, end = w.window(i)
        extent = Extent(
            BBox(
                float(rings[k, :, 0].min()),
                float(south[k]),
                float(rings[k, :, 0].max()),
                float(north[k]),
            ),
            float(w.alt_lo[i]),
            float(w.alt_hi[i]),
            start,
            end,
        )
        header = np.array(
            [(0.0, w.alt_lo[i], w.alt_hi[i], to_micros(start), to_micros(end), _W84)], dtype=_HEADER
        )
        record = NoticeRecord(
            f"v{i}",
            f"p{int(w.party[i])}",
            "operation",
            1,
            "planned",
            notice_body(w, i),
            EPOCH,
            EPOCH,
        )
        out.append((record, [VolumeRow(0, extent, header.tobytes() + cores[k])]))
    return out


def token(party: int) -> str:
    """The bearer token of benchmark party ``p<party>``."""
    return f"bench-token-p{party}"


def _same_as_the_service(w: Workload, count: int = 200) -> None:
    """The bulk rows must equal what admission would index (checked on a sample)."""
    for record, (row,) in _rows(w, 0, count):
        notice = parse_notice(
            record.doc, notice_id=record.id, party=record.party, version=1, limits=Settings().limits
        )
        (expected,) = volume_rows(notice, POLICY)
        a, b = expected.extent, row.extent
        same_box = np.allclose(
            [a.box.west, a.box.south, a.box.east, a.box.north],
            [b.box.west, b.box.south, b.box.east, b.box.north],
            rtol=0,
            atol=1e-9,
        )  # the R*Tree rounds to float32 (about 1e-6°) outward anyway
        same_rest = (a.alt_lo, a.alt_hi, a.start, a.end) == (b.alt_lo, b.alt_hi, b.start, b.end)
        if expected.packed != row.packed or not (same_box and same_rest):
            raise AssertionError(f"bulk row of {record.id} differs from the service's")


def load_store(path: Path | str, w: Workload, block: int = 20_000) -> float:
    """A store (a SQLite path or any store URL) holding the workload, one operation
    notice per volume; returns seconds."""
    _same_as_the_service(w)
    t0 = time.perf_counter()
    store = open_store(str(path))
    with store.write() as tx:
        for p in range(20):
            tx.parties.add(Party(f"p{p}", f"Party {p}", Role.MEMBER), hash_token(token(p)), EPOCH)
    for lo in range(0, len(w), block):
        with store.write() as tx:
            tx.notices.put_many(_rows(w, lo, min(len(w), lo + block)))
    store.close()
    return time.perf_counter() - t0


def query_notices(q: Workload) -> list[Any]:
    limits = Settings().limits
    return [
        parse_notice(
            notice_body(q, i),
            notice_id=f"q{i}",
            party=f"p{int(q.party[i])}",
            version=1,
            limits=limits,
        )
        for i in range(len(q))
    ]


def engine_times(store: SqliteStore, notices: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    times = np.empty(len(notices))
    hits = np.empty(len(notices), dtype=np.int64)
    with store.read() as tx:
        for i, notice in enumerate(notices):
            t0 = time.perf_counter()
            found = conflicts_in_store(tx, notice, POLICY)  # what admission runs
            times[i] = time.perf_counter() - t0
            hits[i] = sum(len(overlaps) for _, overlaps in found.values())
    return times, hits


def breakdown(store: SqliteStore, notices: list[Any]) -> dict[str, float]:
    """Median milliseconds per query spent in each stage of the engine query."""
    from deconflict.engine import extents, footprint_of_core
    from deconflict.screen import Candidates, screen

    stages: dict[str, list[float]] = {"index_and_fetch": [], "unpack": [], "screen": []}
    with store.read() as tx:
        for notice in notices:
            t0 = time.perf_counter()
            rows = tx.notices.candidate_volumes(extents(notice, POLICY, pad=True))
            rows = [r for r in rows if r[3] != notice.party]
            t1 = time.perf_counter()
            cands = Candidates.from_packed([r[5] for r in rows])
            t2 = time.perf_counter()
            screen(
                notice.volumes[0],
                cands,
                POLICY.airspace,
                POLICY.datum,
                lambda k, c=cands: footprint_of_core(c.cores[k], float(c.radius[k])),
            )
            t3 = time.perf_counter()
            stages["index_and_fetch"].append(t1 - t0)
            stages["unpack"].append(t2 - t1)
            stages["screen"].append(t3 - t2)
    out = {k: round(float(np.median(v)) * 1e3, 4) for k, v in stages.items()}
    return out


def run_engine(
    sizes: list[int], queries: int, repeats: int, postgis: bool, folder: Path | None = None
) -> dict[str, Any]:
    from bench import postgis as pg

    results: dict[str, Any] = {"measure": "engine conflict query", "sizes": {}}
    if postgis:
        pg.ensure_postgis()
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        for n in sizes:
            w = generate(n, seed=1)
            q = generate(queries, seed=2, n_total=n)
            path = Path(tmp) / f"engine-{n}.db"
            load_s = load_store(path, w)
            store = SqliteStore(path)
            notices = query_notices(q)
            engine_times(store, notices[: min(200, queries)])  # warm the page cache
            runs, hit_counts = [], None
            for _ in range(repeats):
                t, h = engine_times(store, notices)
                runs.append(t)
                hit_counts = h
            stages = breakdown(store, notices)
            store.close()
            entry: dict[str, Any] = {
                "volumes": n,
                "load_s": round(load_s, 1),
                "db_bytes": path.stat().st_size,
                "ours": summary(runs),
                "mean_hits": round(float(np.mean(hit_counts)), 1),
                "stages_p50_ms": stages,
            }
            if postgis:
                with pg.fresh_database(f"deconflict_bench_{n}") as dsn:
                    table = pg.PostgisTable(dsn)
                    entry["postgis_load_s"] = round(table.load(w), 1)
                    pruns, phits = [], None
                    for _ in range(repeats):
                        t, h = table.query_times(q)
                        pruns.append(t)
                        phits = h
                    table.conn.close()
                entry["postgis"] = summary(pruns)
                entry["postgis_mean_hits"] = round(float(np.mean(phits)), 1)
                entry["ratio_p50"] = round(entry["ours"]["p50_ms"] / entry["postgis"]["p50_ms"], 3)
            results["sizes"][str(n)] = entry
            print(
                f"{n:>9} volumes: ours p50 {entry['ours']['p50_ms']:.3f} ms "
                f"p99 {entry['ours']['p99_ms']:.3f} ms, hits {entry['mean_hits']}"
                + (
                    f" | PostGIS p50 {entry['postgis']['p50_ms']:.3f} ms"
                    f" p99 {entry['postgis']['p99_ms']:.3f} ms, hits {entry['postgis_mean_hits']},"
                    f" ratio {entry['ratio_p50']}"
                    if postgis
                    else ""
                ),
                flush=True,
            )
    results["started"] = dt.datetime.now(dt.UTC).isoformat()
    return results
