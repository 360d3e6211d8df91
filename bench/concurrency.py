"""Concurrency checker: strict awareness holds across several API processes.

Several ``deconflict serve`` processes share one store. Client threads, one
party each, file overlapping operations with ``strict: true`` into a small
area, as fast as they can: on a 409 they add the notices the answer says are
missing to ``aware_of`` and try again. Every write carries an Idempotency-Key
and is retried with the same key after a transport error.

Afterwards, read from the store:

- **awareness**: for every recorded conflict between two accepted operations,
  the one accepted later (by ledger index) listed the earlier one, at the
  version it had, in ``aware_of``;
- **no missed conflict**: every pair of operations whose circles overlap by more
  than a margin, of different parties, is a recorded conflict;
- **no lost write**: every accepted id is in the store;
- **no duplicate**: the store holds exactly the accepted notices, one per key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from deconflict.clock import SystemClock
from deconflict.interchange import format_instant
from deconflict.store import open_store

__all__ = ["run_concurrency"]

AREA = (35.0, 33.0, 35.08, 33.06)  # west, south, east, north: small, so nearly all overlap
MARGIN_M = 100.0  # overlaps deeper than this must be conflicts, whatever the polygon sides
_R = 6_371_008.8


@dataclass
class _Accepted:
    id: str
    party: str
    key: str
    index: int
    aware: set[tuple[str, int]]
    centre: tuple[float, float]
    radius_m: float


@dataclass
class _Tally:
    accepted: list[_Accepted] = field(default_factory=list)
    refused: int = 0  # 409 answers
    gave_up: int = 0  # still missing something after every retry
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "deconflict", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"deconflict {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout


def _serve(db: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "deconflict", "serve", "--db", db, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"no healthy server: {log.read_text()}")


def _window() -> dict[str, str]:
    """Two hours starting in an hour: every operation of the run overlaps in time."""
    start = SystemClock().now().replace(microsecond=0) + dt.timedelta(hours=1)
    return {"start": format_instant(start), "end": format_instant(start + dt.timedelta(hours=2))}


def _body(
    rng: random.Random, window: dict[str, str]
) -> tuple[dict[str, Any], tuple[float, float], float]:
    west, south, east, north = AREA
    centre = (rng.uniform(west, east), rng.uniform(south, north))
    radius = rng.uniform(1_000, 3_000)
    body = {
        "kind": "operation",
        "volumes": [
            {
                "footprint": {"type": "Circle", "center": list(centre), "radius_m": radius},
                "altitude": {"lower": 0, "upper": 1_500, "reference": "W84"},
                "time": window,
            }
        ],
        "strict": True,
    }
    return body, centre, radius


def _client(url: str, party: str, token: str, seed: int, stop_at: float, tally: _Tally) -> None:
    rng = random.Random(seed)
    window = _window()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        while time.monotonic() < stop_at:
            body, centre, radius = _body(rng, window)
            key = str(uuid.uuid4())
            aware: dict[str, int] = {}
            for _ in range(50):
                body["aware_of"] = [{"id": i, "version": v} for i, v in aware.items()]
                started = time.perf_counter()
                try:
                    answer = http.post("/v1/notices", json=body, headers={"Idempotency-Key": key})
                except httpx.TransportError:
                    continue  # the same key again: the write happens at most once
                with tally.lock:
                    tally.latencies.append(time.perf_counter() - started)
                if answer.status_code == 201:
                    doc = answer.json()
                    accepted = _Accepted(
                        doc["notice"]["id"],
                        party,
                        key,
                        int(doc["receipt"]["index"]),
                        set(aware.items()),
                        centre,
                        radius,
                    )
                    with tally.lock:
                        tally.accepted.append(accepted)
                    break
                if answer.status_code == 409:
                    with tally.lock:
                        tally.refused += 1
                    for missing in answer.json()["missing"]:
                        aware[missing["id"]] = int(missing["version"])
                    key = str(uuid.uuid4())  # a new request: the body changed
                    continue
                with tally.lock:
                    tally.errors.append(f"{answer.status_code}: {answer.text[:200]}")
                break
            else:
                with tally.lock:
                    tally.gave_up += 1


def _arc_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    (lon1, lat1), (lon2, lat2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _R * math.asin(math.sqrt(h))


def _check(db: str, tally: _Tally, parties: list[str]) -> dict[str, Any]:
    store = open_store(db)
    try:
        with store.read() as tx:
            stored = {r.id: r for p in parties for r in tx.notices.of_party(p)}
            conflicts = {
                (c.a, c.b): c for p in parties for c in tx.conflicts.of_party(p, status=None)
            }
    finally:
        store.close()
    by_id = {a.id: a for a in tally.accepted}
    lost = [i for i in by_id if i not in stored]
    extra = [i for i in stored if i not in by_id]
    duplicated = (
        len(tally.accepted)
        - len(by_id)
        + len(tally.accepted)
        - len({a.key for a in tally.accepted})
    )
    violations = []
    for a_id, b_id in conflicts:
        if a_id not in by_id or b_id not in by_id:
            continue
        first, later = sorted((by_id[a_id], by_id[b_id]), key=lambda x: x.index)
        if (first.id, 1) not in later.aware:
            violations.append((first.id, later.id))
    accepted = sorted(tally.accepted, key=lambda x: x.index)
    missed = []
    for n, a in enumerate(accepted):
        for b in accepted[n + 1 :]:
            if a.party == b.party:
                continue
            deep = _arc_m(a.centre, b.centre) < a.radius_m + b.radius_m - MARGIN_M
            if deep and (a.id, b.id) not in conflicts and (b.id, a.id) not in conflicts:
                missed.append((a.id, b.id))
    return {
        "lost": lost,
        "extra": extra,
        "duplicated": duplicated,
        "violations": violations,
        "missed": missed,
        "conflicts": len(conflicts),
    }


def run_concurrency(
    db: str | None = None, processes: int = 2, threads: int = 8, seconds: float = 60.0
) -> dict[str, Any]:
    """Run the checker; ``db`` is a store URL (a fresh SQLite file if not given)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-concurrency-"))
    db = db or str(folder / "store.db")
    parties = [f"c{k}" for k in range(threads)]
    tokens = [_cli("party", "add", p, "--name", p, "--db", db).strip() for p in parties]
    servers = [_serve(db, folder / f"server{k}.log") for k in range(processes)]
    tally = _Tally()
    stop_at = time.monotonic() + seconds
    try:
        workers = [
            threading.Thread(
                target=_client,
                args=(servers[k % processes][1], parties[k], tokens[k], k, stop_at, tally),
            )
            for k in range(threads)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(timeout=30)
    found = _check(db, tally, parties)
    latencies = sorted(tally.latencies)
    result = {
        "measure": "strict awareness across API processes",
        "db": db.split("://")[0] if "://" in db else "sqlite",
        "processes": processes,
        "threads": threads,
        "seconds": seconds,
        "accepted": len(tally.accepted),
        "refused_409": tally.refused,
        "gave_up": tally.gave_up,
        "errors": tally.errors[:10],
        "conflicts": found["conflicts"],
        "awareness_violations": len(found["violations"]),
        "missed_conflicts": len(found["missed"]),
        "lost_writes": len(found["lost"]),
        "unexpected_writes": len(found["extra"]),
        "duplicated_writes": found["duplicated"],
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
        "examples": {k: found[k][:5] for k in ("violations", "missed", "lost", "extra")},
    }
    print(result)
    return result
