"""Alert latency: from the admitting commit to the webhook's arrival, at a steady notice rate.

The server is the real one (``python -m deconflict serve``, embedded store,
durable commits). Party ``watch`` holds one protected place covering the
region and a subscription whose webhook is a receiver in this process; party
``flyer`` files operations inside it at a fixed rate (open loop: requests are
sent on schedule whether or not earlier ones have been answered). Every
operation conflicts with the protected place, so every admission alerts
``watch``. Latency is the receiver's clock at arrival minus the alert's
``at`` (stamped inside the admitting transaction, just before it commits), on
the same host.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

__all__ = ["run_alerts"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Receiver(http.server.ThreadingHTTPServer):
    """Records, per event id, when the webhook arrived and what the alert said."""

    # The service posts a round of deliveries at once; the default backlog of 5
    # would refuse most of them and turn the bench into a test of retries.
    request_queue_size = 512

    def __init__(self) -> None:
        self.arrivals: dict[int, tuple[float, str]] = {}
        self.duplicates = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        now = time.time()
        event = int(self.headers["Deconflict-Event-Id"])
        with self.server.lock:
            if event in self.server.arrivals:
                self.server.duplicates += 1
            else:
                self.server.arrivals[event] = (now, json.loads(body)["at"])
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "deconflict", *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _circle(lon: float, lat: float, radius: float, start: str, end: str) -> dict[str, Any]:
    return {
        "footprint": {"type": "Circle", "center": [lon, lat], "radius_m": radius},
        "altitude": {"lower": 0, "upper": 3000, "reference": "W84", "units": "m"},
        "time": {"start": start, "end": end},
    }


def serve_with_webhooks(db: str) -> tuple[_Receiver, subprocess.Popen[bytes], str]:
    """A webhook receiver in this process, and a server on ``db`` that may call it, healthy."""
    receiver = _Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    port = _free_port()
    allowed = f"127.0.0.1:{receiver.server_address[1]}"  # that port only
    env = os.environ | {"DECONFLICT_WEBHOOK_HOSTS": allowed}
    server = subprocess.Popen(
        [sys.executable, "-m", "deconflict", "serve", "--db", db, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return receiver, server, url
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.2)


def run_alerts(rate: float, seconds: float, senders: int = 8) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    db = str(folder / "alerts.db")
    watch = _cli("party", "add", "watch", "--name", "Watch", "--db", db)
    flyer = _cli("party", "add", "flyer", "--name", "Flyer", "--db", db)
    receiver, server, url = serve_with_webhooks(db)
    try:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        start = (now + dt.timedelta(hours=1)).isoformat()
        end = (now + dt.timedelta(hours=3)).isoformat()
        hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {watch}"}) as w:
            place = {
                "kind": "protected",
                "category": "medical",
                "volumes": [_circle(35.0, 33.0, 50_000, start, end)],
            }
            w.post("/v1/notices", json=place).raise_for_status()
            w.post(
                "/v1/subscriptions", json={"events": ["conflict"], "webhook": {"url": hook}}
            ).raise_for_status()
        before = len(receiver.arrivals)
        clients = [
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {flyer}"})
            for _ in range(senders)
        ]
        total = int(rate * seconds)
        admitted: list[float] = []

        def send(i: int) -> None:
            body = {
                "kind": "operation",
                "volumes": [_circle(35.0 + (i % 50) * 0.001, 33.0, 500, start, end)],
            }
            t0 = time.perf_counter()
            clients[i % senders].post("/v1/notices", json=body).raise_for_status()
            admitted.append(time.perf_counter() - t0)

        t_start = time.perf_counter()
        with ThreadPoolExecutor(senders * 4) as pool:
            futures = []
            for i in range(total):
                delay = t_start + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(send, i))
            for f in futures:
                f.result()
        elapsed = time.perf_counter() - t_start
        wait_until = time.monotonic() + 30
        while len(receiver.arrivals) - before < total and time.monotonic() < wait_until:
            time.sleep(0.1)
        for c in clients:
            c.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        receiver.shutdown()
    latencies = np.array(
        [
            arrived - dt.datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
            for arrived, at in list(receiver.arrivals.values())[before:]
        ]
    )
    result = {
        "measure": "alert latency, commit to webhook arrival",
        "rate_per_s": rate,
        "seconds": seconds,
        "sent": total,
        "achieved_rate_per_s": round(total / elapsed, 1),
        "delivered": len(latencies),
        "duplicates": receiver.duplicates,
        "p50_ms": round(float(np.percentile(latencies, 50)) * 1e3, 1),
        "p95_ms": round(float(np.percentile(latencies, 95)) * 1e3, 1),
        "p99_ms": round(float(np.percentile(latencies, 99)) * 1e3, 1),
        "max_ms": round(float(latencies.max()) * 1e3, 1),
        "admission_p50_ms": round(float(np.percentile(admitted, 50)) * 1e3, 1),
        "admission_p99_ms": round(float(np.percentile(admitted, 99)) * 1e3, 1),
    }
    print(result)
    return result
