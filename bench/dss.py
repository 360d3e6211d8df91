"""The ASTM F3548-21 facade (``/dss/v1``) over HTTP: create, update and delete intents.

The server is the real one (``python -m deconflict serve``) on a fresh embedded
store with durable commits, accepting RS256 tokens from a test authority made
here. Setup, through the facade: ``ussN`` USSs with all five F3548 scopes, each
holding ``subscriptions`` subscriptions (circles of radius 20–60 km, 0–12 km
W84, the next 7 days) over the benchmark region (lon 30–40°E, lat 32–38°N), then
``preload`` Accepted operational intents with implicit subscriptions, drawn from
the shared workload (bench/workload.py) at full-region scale, alternately as
``outline_polygon`` (its 16-gon) and ``outline_circle`` (the 16-gon's
circumcircle), with times moved into the next 7 days.

Measured phase: ``clients`` client processes in a closed loop. Each iteration
creates an intent for a random USS. On 409 it retries once, with a key of the
OVNs it knows for the missing intents: every intent's OVN from its create
answer, as USSs would get them from each other peer to peer; each client knows
the preloaded ones and its own, not the other clients' in-flight ones. Then it
updates the intent once (its end 10 minutes later, same key) and deletes it.
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing as mp
import random
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jwt
import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.http import Server
from bench.workload import Workload, generate
from deconflict.sphere import EARTH_RADIUS_M, lonlat_to_unit

__all__ = ["run_dss"]

SCOPES = (
    "utm.strategic_coordination",
    "utm.constraint_management",
    "utm.constraint_processing",
    "utm.conformance_monitoring_sa",
    "utm.availability_arbitration",
)
AUDIENCE = "localhost"
OIR = "/dss/v1/operational_intent_references"
_FULL_REGION = 1_000_000  # generate()'s n_total for the unscaled region
_LEAD_S = 900.0  # the first start, after the workload's clock reading
_HORIZON_S = 7 * 86_400.0
_MAX_DURATION_S = 6 * 3_600.0
KINDS = ("create", "create-409", "retry", "update", "update-409", "delete")


class _Authority:
    """An RSA key pair; its public half is given to the server, its private half signs."""

    def __init__(self, folder: Path) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = folder / "authority.pem"
        self.pem.write_bytes(
            self.key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def token(self, sub: str, lifetime_s: float = 3000.0) -> str:
        """All five scopes; the facade accepts an ``exp`` at most one hour ahead."""
        claims = {
            "iss": "https://auth.bench",
            "sub": sub,
            "aud": AUDIENCE,
            "exp": int(time.time() + lifetime_s),
            "jti": str(uuid.uuid4()),
            "scope": " ".join(SCOPES),
        }
        return jwt.encode(claims, self.key, algorithm="RS256")


def uss_name(k: int) -> str:
    return f"uss{k:02d}"


def base_url(k: int) -> str:
    return f"https://{uss_name(k)}.bench.test/utm"


def _time(t: float) -> dict[str, str]:
    instant = dt.datetime.fromtimestamp(t, dt.UTC)
    return {"value": instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "format": "RFC3339"}


def _altitudes(lo: float, hi: float) -> dict[str, Any]:
    return {
        "altitude_lower": {"value": round(lo, 1), "reference": "W84", "units": "M"},
        "altitude_upper": {"value": round(hi, 1), "reference": "W84", "units": "M"},
    }


def _circle(lon: float, lat: float, radius_m: float) -> dict[str, Any]:
    return {
        "outline_circle": {
            "center": {"lng": lon, "lat": lat},
            "radius": {"value": radius_m, "units": "M"},
        }
    }


def volume4d(w: Workload, i: int, t0: float, circle: bool) -> dict[str, Any]:
    """Volume ``i`` of the workload as an F3548 Volume4D, its times within 7 days of ``t0``.

    The workload's start (uniform over 7 days) is squeezed so that the latest end
    stays within the horizon; durations are kept.
    """
    ring = w.rings[i]
    if circle:
        units = lonlat_to_unit(ring[:-1, 0], ring[:-1, 1])
        centre = units.mean(axis=0)
        centre /= np.linalg.norm(centre)
        radius = math.acos(min(1.0, float(units[0] @ centre))) * EARTH_RADIUS_M
        lat = math.degrees(math.asin(float(centre[2])))
        lon = math.degrees(math.atan2(float(centre[1]), float(centre[0])))
        outline = _circle(round(lon, 7), round(lat, 7), round(radius, 1))
    else:
        vertices = [{"lng": float(x), "lat": float(y)} for x, y in ring[:-1]]
        outline = {"outline_polygon": {"vertices": vertices}}
    span = _HORIZON_S - _LEAD_S - _MAX_DURATION_S
    start = t0 + _LEAD_S + float(w.start_s[i]) / _HORIZON_S * span
    end = start + float(w.end_s[i] - w.start_s[i])
    return {
        "volume": outline | _altitudes(float(w.alt_lo[i]), float(w.alt_hi[i])),
        "time_start": _time(start),
        "time_end": _time(end),
    }


def intent_body(extent: dict[str, Any], k: int, key: list[str]) -> dict[str, Any]:
    return {
        "extents": [extent],
        "state": "Accepted",
        "uss_base_url": base_url(k),
        "key": key,
        "new_subscription": {"uss_base_url": base_url(k), "notify_for_constraints": False},
    }


def _key_for(answer: dict[str, Any], ovns: dict[str, str], key: list[str]) -> list[str]:
    """``key`` plus the known OVN of every intent a 409 lists as missing."""
    wanted = [m["id"] for m in answer.get("missing_operational_intents", [])]
    return sorted(set(key) | {ovns[i] for i in wanted if i in ovns})


def _subscribers(answer: dict[str, Any]) -> tuple[int, int]:
    """USSs (base URLs) and subscriptions a write's ``subscribers`` names."""
    groups = answer.get("subscribers", [])
    return len(groups), sum(len(g["subscriptions"]) for g in groups)


# --- setup ------------------------------------------------------------------------------


def _subscriptions(url: str, tokens: list[str], per_uss: int, t0: float) -> dict[str, Any]:
    rng = np.random.default_rng(11)
    times = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for k, tok in enumerate(tokens):
            headers = {"Authorization": f"Bearer {tok}"}
            for _ in range(per_uss):
                body = {
                    "extents": {
                        "volume": _circle(
                            float(rng.uniform(30.0, 40.0)),
                            float(rng.uniform(32.0, 38.0)),
                            float(rng.uniform(20_000.0, 60_000.0)),
                        )
                        | _altitudes(0.0, 12_000.0),
                        "time_start": _time(t0),
                        "time_end": _time(t0 + _HORIZON_S + 3_600.0),
                    },
                    "uss_base_url": base_url(k),
                    "notify_for_operational_intents": True,
                    "notify_for_constraints": False,
                }
                t = time.perf_counter()
                r = client.put(f"/dss/v1/subscriptions/{uuid.uuid4()}", json=body, headers=headers)
                times.append(time.perf_counter() - t)
                if r.status_code != 200:
                    raise RuntimeError(f"subscription: {r.status_code} {r.text[:300]}")
    return {"made": len(times), "p50_ms": _ms(times, 50), "p99_ms": _ms(times, 99)}


def _preload(
    url: str, tokens: list[str], n: int, t0: float, threads: int = 4
) -> tuple[dict[str, str], dict[str, Any]]:
    """``n`` intents, each for USS ``party mod ussN``; the id → OVN of every one made."""
    w = generate(n, seed=1, n_total=_FULL_REGION)
    ovns: dict[str, str] = {}
    stats: Counter[str] = Counter()
    lock = threading.Lock()
    local = threading.local()
    started = time.perf_counter()

    def one(i: int) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=300)
        k = int(w.party[i]) % len(tokens)
        headers = {"Authorization": f"Bearer {tokens[k]}"}
        entity = str(uuid.uuid4())
        extent = volume4d(w, i, t0, circle=i % 2 == 1)
        r = local.client.put(f"{OIR}/{entity}", json=intent_body(extent, k, []), headers=headers)
        if r.status_code == 409:
            with lock:
                stats["409"] += 1
                key = _key_for(r.json(), ovns, [])
            r = local.client.put(
                f"{OIR}/{entity}", json=intent_body(extent, k, key), headers=headers
            )
        with lock:
            stats[str(r.status_code)] += 1
            if r.status_code == 201:
                ovns[entity] = r.json()["operational_intent_reference"]["ovn"]
                stats["made"] += 1
            done = stats["made"]
        if done % 500 == 0 and r.status_code == 201:
            print(f"  preload: {done} intents, {time.perf_counter() - started:.0f} s", flush=True)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(n)))
    seconds = time.perf_counter() - started
    return ovns, {
        "made": stats["made"],
        "met_409": stats["409"],
        "answers": {s: c for s, c in sorted(stats.items()) if s.isdigit()},
        "seconds": round(seconds, 1),
        "creates_per_s": round(stats["made"] / seconds, 1),
    }


# --- measured phase ---------------------------------------------------------------------


def _client(
    url: str,
    worker: int,
    tokens: list[str],
    known: dict[str, str],
    t0: float,
    stop_at: float,
    out: Any,
) -> None:
    """One closed-loop client: create (retry once on 409), update, delete; timed rows."""
    rng = random.Random(worker)
    q = generate(4000, seed=5000 + worker, n_total=_FULL_REGION)
    ovns = dict(known)
    rows: list[tuple[float, str, int, float, int, int]] = []
    i = 0

    def send(kind: str, method: str, path: str, k: int, body: Any = None) -> httpx.Response:
        t = time.perf_counter()
        r = client.request(method, path, json=body, headers=headers[k])
        elapsed = time.perf_counter() - t
        ok = r.status_code < 300
        groups, count = _subscribers(r.json()) if ok else (0, 0)
        label = kind if not (r.status_code == 409 and kind == "create") else "create-409"
        if r.status_code == 409 and kind == "update":
            label = "update-409"
        rows.append((time.time(), label, r.status_code, elapsed, groups, count))
        return r

    headers = [{"Authorization": f"Bearer {tok}"} for tok in tokens]
    with httpx.Client(base_url=url, timeout=300) as client:
        while time.time() < stop_at:
            k = rng.randrange(len(tokens))
            idx = i % len(q)
            extent = volume4d(q, idx, t0, circle=i % 2 == 1)
            i += 1
            entity = str(uuid.uuid4())
            key: list[str] = []
            r = send("create", "PUT", f"{OIR}/{entity}", k, intent_body(extent, k, key))
            if r.status_code == 409:
                key = _key_for(r.json(), ovns, key)
                r = send("retry", "PUT", f"{OIR}/{entity}", k, intent_body(extent, k, key))
            if r.status_code != 201:
                continue
            ovn = r.json()["operational_intent_reference"]["ovn"]
            ovns[entity] = ovn
            later = dict(extent)
            end = dt.datetime.fromisoformat(extent["time_end"]["value"]).timestamp() + 600.0
            later["time_end"] = _time(end)
            r = send("update", "PUT", f"{OIR}/{entity}/{ovn}", k, intent_body(later, k, key))
            if r.status_code == 200:
                ovn = r.json()["operational_intent_reference"]["ovn"]
            send("delete", "DELETE", f"{OIR}/{entity}/{ovn}", k)
            ovns.pop(entity, None)
    out.put(rows)


def _ms(values: Any, q: float) -> float | None:
    if len(values) == 0:
        return None
    return round(float(np.percentile(np.asarray(values), q)) * 1e3, 1)


def _summary(rows: list[tuple[float, str, int, float, int, int]], seconds: float) -> dict[str, Any]:
    ok_status = {"create": 201, "retry": 201, "update": 200, "delete": 200}
    by_kind: dict[str, Any] = {}
    for kind in KINDS:
        mine = [r for r in rows if r[1] == kind]
        if not mine:
            continue
        latencies = [r[3] for r in mine]
        by_kind[kind] = {
            "requests": len(mine),
            "statuses": {str(s): c for s, c in sorted(Counter(r[2] for r in mine).items())},
            "p50_ms": _ms(latencies, 50),
            "p95_ms": _ms(latencies, 95),
            "p99_ms": _ms(latencies, 99),
            "mean_ms": round(float(np.mean(latencies)) * 1e3, 1),
        }
    ok = [r for r in rows if ok_status.get(r[1]) == r[2]]
    first = [r for r in rows if r[1] in ("create", "create-409")]
    retries = [r for r in rows if r[1] == "retry"]
    statuses = Counter(r[2] for r in rows)
    return {
        "requests": len(rows),
        "successful_ops": len(ok),
        "ops_per_s": round(len(ok) / seconds, 2),
        "cycles_per_s": round(sum(1 for r in ok if r[1] == "delete") / seconds, 2),
        "creates": len(first),
        "create_409_fraction": round(sum(1 for r in first if r[2] == 409) / len(first), 4)
        if first
        else None,
        "retries_accepted": sum(1 for r in retries if r[2] == 201),
        "retries_refused": sum(1 for r in retries if r[2] == 409),
        "server_errors": sum(c for s, c in statuses.items() if s >= 500),
        "statuses": {str(s): c for s, c in sorted(statuses.items())},
        "mean_subscriber_usss_per_write": round(float(np.mean([r[4] for r in ok])), 2)
        if ok
        else None,
        "mean_subscriptions_notified_per_write": round(float(np.mean([r[5] for r in ok])), 2)
        if ok
        else None,
        "by_kind": by_kind,
    }


def run_dss(
    uss: int = 20,
    subscriptions: int = 10,
    preload: int = 500,
    clients: int = 8,
    seconds: float = 20.0,
    warmup: float = 3.0,
    db: str | None = None,
) -> dict[str, Any]:
    """The facade's intent lifecycle over HTTP, with ``preload`` intents in place.

    ``db`` is an empty store URL (PostgreSQL); by default a fresh SQLite file.
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        authority = _Authority(folder)
        keys = ["--dss-public-key", str(authority.pem), "--dss-audience", AUDIENCE]
        server = Server(db or folder / "dss.db", keys, folder / "server.log")
        try:
            t0 = time.time()
            tokens = [authority.token(uss_name(k)) for k in range(uss)]
            print(f"setup: {uss} USSs × {subscriptions} subscriptions", flush=True)
            subs = _subscriptions(server.url, tokens, subscriptions, t0)
            print(f"setup: {preload} intents", flush=True)
            known, pre = _preload(server.url, tokens, preload, t0)
            print(f"preloaded {pre}", flush=True)
            tokens = [authority.token(uss_name(k)) for k in range(uss)]  # fresh for the run
            start_at = time.time() + 1.0
            measured_from = start_at + warmup
            stop_at = measured_from + seconds
            queue: Any = mp.Queue()
            procs = [
                mp.Process(target=_client, args=(server.url, c, tokens, known, t0, stop_at, queue))
                for c in range(clients)
            ]
            for p in procs:
                p.start()
            rows = [r for _ in procs for r in queue.get()]
            for p in procs:
                p.join()
        finally:
            server.stop()
        log = (folder / "server.log").read_text(encoding="utf-8", errors="replace")
    tracebacks = log.count("Traceback (most recent call last)")
    measured = [r for r in rows if measured_from <= r[0] < stop_at]
    result = {
        "measure": "F3548 facade: operational intent create / update / delete over HTTP",
        "store": "sqlite",
        "uss": uss,
        "subscriptions_per_uss": subscriptions,
        "setup_subscriptions": subs,
        "preload": pre,
        "clients": clients,
        "seconds": seconds,
        "warmup_s": warmup,
        **_summary(measured, seconds),
        "server_log_tracebacks": tracebacks,
    }
    return result


def print_summary(result: dict[str, Any]) -> None:
    pre = result["preload"]
    print(
        f"preload: {pre['made']} intents in {pre['seconds']} s "
        f"({pre['creates_per_s']}/s, {pre['met_409']} met 409)"
    )
    print(
        f"{result['clients']} clients, {result['seconds']:.0f} s: "
        f"{result['ops_per_s']} ops/s ({result['cycles_per_s']} create-update-delete cycles/s), "
        f"409 on {100 * (result['create_409_fraction'] or 0):.1f} % of creates, "
        f"{result['mean_subscriber_usss_per_write']} USSs / "
        f"{result['mean_subscriptions_notified_per_write']} subscriptions per write, "
        f"{result['server_errors']} 5xx"
    )
    for kind, k in result["by_kind"].items():
        print(
            f"  {kind:<11} n={k['requests']:<5} p50 {k['p50_ms']} ms  p95 {k['p95_ms']} ms  "
            f"p99 {k['p99_ms']} ms  {k['statuses']}"
        )
