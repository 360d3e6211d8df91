"""Measures 3 and 4: conflict-checked admission over HTTP, and the server's memory.

The server is the real one (``python -m deconflict serve``) on an embedded store
with durable commits. Clients run in separate processes (closed loop: each
sends its next notice when the previous answer arrives), so they do not share
the server's interpreter.
"""

from __future__ import annotations

import multiprocessing as mp
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.engine import load_store, notice_body, token
from bench.workload import generate

__all__ = ["Server", "free_port", "run_http", "run_rss"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A ``deconflict serve`` process on a free port, returned once it answers ``/healthz``.

    ``extra`` are more ``serve`` flags; with ``log``, its output goes there.
    """

    def __init__(self, db: Path | str, extra: Sequence[str] = (), log: Path | None = None) -> None:
        self.port = free_port()
        self._log = log.open("wb") if log is not None else None
        out = self._log if self._log is not None else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deconflict",
                "serve",
                "--db",
                str(db),
                "--port",
                str(self.port),
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the server did not start" + (f"; see {log}" if log else ""))

    def rss(self) -> dict[str, float]:
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0]) / 1024.0
        return {
            "rss_mb": round(fields["VmRSS"], 1),
            "peak_rss_mb": round(fields["VmHWM"], 1),
            "anon_mb": round(fields["RssAnon"], 1),  # heap: Python objects, SQLite caches
            "file_mb": round(fields["RssFile"], 1),  # mapped store pages and libraries
        }

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        if self._log is not None:
            self._log.close()


def _client(
    url: str, worker: int, threads: int, n_total: int, start_at: float, stop_at: float, out: Any
) -> None:
    import threading

    results: list[tuple[float, int, float]] = []
    lock = threading.Lock()

    def loop(slot: int) -> None:
        q = generate(4000, seed=1000 + worker * threads + slot, n_total=n_total)
        party = (worker * threads + slot) % 20
        headers = {"Authorization": f"Bearer {token(party)}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            i = 0
            while time.time() < stop_at:
                body = notice_body(q, i % len(q))
                i += 1
                t0 = time.perf_counter()
                response = client.post("/v1/notices", json=body)
                elapsed = time.perf_counter() - t0
                done = time.time()
                with lock:
                    results.append((done, response.status_code, elapsed))

    workers = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put(results)


def run_http(
    size: int,
    clients: int,
    seconds: float,
    warmup: float = 5.0,
    db_url: str | None = None,
    servers: int = 1,
) -> dict[str, Any]:
    """Admission over HTTP; ``db_url`` (empty: a new one) must be an empty store,
    shared by ``servers`` API processes that the client processes take in turn."""
    with tempfile.TemporaryDirectory() as tmp:
        db: Path | str = db_url or Path(tmp) / "http.db"
        w = generate(size, seed=1)
        load_store(db, w)
        running = [Server(db) for _ in range(servers)]
        try:
            processes = min(4, clients)
            per = clients // processes
            start_at = time.time() + 2.0
            stop_at = start_at + warmup + seconds
            queue: Any = mp.Queue()
            procs = [
                mp.Process(
                    target=_client,
                    args=(running[k % servers].url, k, per, size, start_at, stop_at, queue),
                )
                for k in range(processes)
            ]
            for p in procs:
                p.start()
            rows = [r for _ in procs for r in queue.get()]
            for p in procs:
                p.join()
            rss = running[0].rss()
        finally:
            for server in running:
                server.stop()
    measured = [(t, s, e) for t, s, e in rows if start_at + warmup <= t < stop_at]
    ok = np.array([e for _, s, e in measured if s == 201])
    errors = sum(1 for _, s, _ in measured if s != 201)
    result = {
        "measure": "conflict-checked admission over HTTP",
        "store": "postgresql" if db_url else "sqlite",
        "api_processes": servers,
        "active_volumes": size,
        "clients": clients,
        "seconds": seconds,
        "accepted": len(ok),
        "errors": errors,
        "notices_per_s": round(len(ok) / seconds, 1),
        "p50_ms": round(float(np.percentile(ok, 50)) * 1e3, 2),
        "p99_ms": round(float(np.percentile(ok, 99)) * 1e3, 2),
        "mean_ms": round(float(ok.mean()) * 1e3, 2),
        "server": rss,
    }
    print(result, flush=True)
    return result


def run_rss(size: int) -> dict[str, Any]:
    """Server RSS with ``size`` active volumes, after serving admissions and queries."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "rss.db"
        w = generate(size, seed=1)
        load_store(db, w)
        del w
        server = Server(db)
        try:
            idle = server.rss()
            q = generate(300, seed=7, n_total=size)
            with httpx.Client(
                base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {token(3)}"}
            ) as client:
                for i in range(len(q)):
                    client.post("/v1/notices", json=notice_body(q, i))
                after_admissions = server.rss()
                client.get("/v1/conflicts")  # the first page (1,000 by default)
            busy = server.rss()
        finally:
            server.stop()
    result = {
        "measure": "server RSS",
        "active_volumes": size,
        "idle": idle,
        "after_300_admissions": after_admissions,
        "after_listing_their_conflicts": busy,
    }
    print(result, flush=True)
    return result
