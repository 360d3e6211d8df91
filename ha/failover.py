"""Kill the PostgreSQL primary under write load and check that no acknowledged write is lost.

Run from the repository root::

    .venv/bin/python ha/failover.py [--seconds N] [--threads T] [--dir DIR] [--keep-cluster]

It starts the local Patroni cluster of ``ha/cluster.sh`` (or uses the one
already running in DIR), serves ``deconflict`` on it, creates two parties, and
has T threads file operations through ``POST /v1/notices``. Every write the
server acknowledged (2xx with a notice id) is recorded. After N seconds it
``kill -9``s the postmaster of Patroni's leader, keeps the load running until
writes succeed again and for N seconds more, then checks:

- every acknowledged notice is still there (``GET /v1/notices/{id}`` as its
  owner answers 200 with the same version);
- ``deconflict verify --db URL`` accepts the whole store.

It prints the acknowledged writes before the kill, the lost writes, the outage
(first failed write after the kill to the first successful write sent after
it), the time until Patroni shows a new leader, and that leader. It exits 1 if
any acknowledged write is lost or the store does not verify, and 2 if the
cluster or the service do not recover.

Only loopback addresses are used. The cluster is stopped at the end unless it
was already running or ``--keep-cluster`` is given.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from deconflict.clock import SystemClock

ROOT = Path(__file__).resolve().parent.parent
CLUSTER_SH = ROOT / "ha" / "cluster.sh"
DECONFLICT = ROOT / ".venv" / "bin" / "deconflict"
PATRONI_API_PORTS = (8441, 8442, 8443)
RECOVERY_TIMEOUT_S = 120.0
REQUEST_TIMEOUT_S = 10.0


# --- the cluster -----------------------------------------------------------------------


def _cluster(action: str, directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(CLUSTER_SH), action, str(directory)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def start_cluster(directory: Path) -> str:
    """Start (or resume) the cluster and return the service's connection URL."""
    done = _cluster("start", directory)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"ha/cluster.sh start failed ({done.returncode})")
    return done.stdout.strip().splitlines()[-1]


def patroni_members() -> list[dict[str, Any]]:
    """Patroni's view of the members, from the first REST API that answers."""
    for port in PATRONI_API_PORTS:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/cluster", timeout=2) as answer:
                members: list[dict[str, Any]] = json.load(answer)["members"]
                return members
        except OSError:
            continue
    return []


def running_leader() -> dict[str, Any] | None:
    leaders = [
        m for m in patroni_members() if m.get("role") == "leader" and m.get("state") == "running"
    ]
    return leaders[0] if len(leaders) == 1 else None


def postmaster_pid(directory: Path, member: str) -> int:
    """The pid on the first line of the member's ``postmaster.pid``."""
    pid_file = directory / member / "data" / "postmaster.pid"
    return int(pid_file.read_text().splitlines()[0])


# --- the service -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def add_party(url: str, party: str) -> str:
    """Create a party with the CLI and return its token."""
    done = subprocess.run(
        [str(DECONFLICT), "party", "add", party, "--name", f"HA test {party}", "--db", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"deconflict party add {party} failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip()


@contextmanager
def serving(url: str, log: Path) -> Iterator[str]:
    """Run ``deconflict serve`` on the cluster; yield its base URL once /healthz answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(DECONFLICT), "serve", "--db", url, "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"deconflict serve exited {process.returncode}; see {log}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"deconflict serve did not answer /healthz; see {log}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the load --------------------------------------------------------------------------


def operation(rng: random.Random) -> dict[str, Any]:
    """A small operation somewhere in the benchmark region, starting within a day."""
    start = SystemClock().now().replace(microsecond=0) + dt.timedelta(
        minutes=rng.randrange(60, 24 * 60)
    )
    end = start + dt.timedelta(hours=rng.uniform(1, 6))
    lower = rng.uniform(0, 8000)
    return {
        "kind": "operation",
        "category": "failover test",
        "volumes": [
            {
                "footprint": {
                    "type": "Circle",
                    "center": [rng.uniform(30, 40), rng.uniform(32, 38)],
                    "radius_m": rng.uniform(2000, 25000),
                },
                "altitude": {
                    "lower": lower,
                    "upper": lower + rng.uniform(500, 4000),
                    "reference": "W84",
                    "units": "m",
                },
                "time": {
                    "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            }
        ],
    }


@dataclass(frozen=True)
class Attempt:
    """One POST: when it was sent and answered (monotonic s), and how it ended."""

    party: str
    key: str  # the Idempotency-Key, the same for every retry of one write
    sent: float
    answered: float
    outcome: str  # "ok", an HTTP status such as "503", or a transport error's class name
    notice_id: str | None = None
    version: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass
class Load:
    """Threads that file operations until told to stop, recording every attempt."""

    base: str
    tokens: dict[str, str]
    threads: int
    attempts: list[Attempt] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        parties = sorted(self.tokens)
        for n in range(self.threads):
            party = parties[n % len(parties)]
            worker = threading.Thread(target=self._run, args=(party, n), daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join()

    def snapshot(self) -> list[Attempt]:
        with self._lock:
            return list(self.attempts)

    def _run(self, party: str, seed: int) -> None:
        """File operations one after another; retry a failed one with the same key.

        The retry is what a client does across a failover: the key makes the
        service answer a write it already committed with its first answer
        instead of storing it twice.
        """
        rng = random.Random(seed)
        headers = {"Authorization": f"Bearer {self.tokens[party]}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=REQUEST_TIMEOUT_S) as client:
            while not self._stop.is_set():
                body, key = operation(rng), secrets.token_hex(16)
                while True:
                    attempt = _post(client, party, body, key)
                    with self._lock:
                        self.attempts.append(attempt)
                    if attempt.ok or self._stop.is_set():
                        break
                    time.sleep(0.05)  # an outage is not a reason to spin


def _post(client: httpx.Client, party: str, body: dict[str, Any], key: str) -> Attempt:
    sent = time.monotonic()
    try:
        answer = client.post("/v1/notices", json=body, headers={"Idempotency-Key": key})
    except httpx.TransportError as exc:
        return Attempt(party, key, sent, time.monotonic(), type(exc).__name__)
    answered = time.monotonic()
    if not answer.is_success:
        return Attempt(party, key, sent, answered, str(answer.status_code))
    try:
        notice = answer.json()["notice"]
        return Attempt(party, key, sent, answered, "ok", str(notice["id"]), int(notice["version"]))
    except (ValueError, KeyError, TypeError):
        return Attempt(party, key, sent, answered, f"{answer.status_code} without a notice id")


# --- the checks ------------------------------------------------------------------------


def missing_notices(base: str, tokens: dict[str, str], acked: list[Attempt]) -> dict[str, str]:
    """The acknowledged notices their owner cannot read back at the acknowledged version."""
    missing = {}
    clients = {
        party: httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        for party, token in tokens.items()
    }
    try:
        for attempt in acked:
            notice_id = str(attempt.notice_id)
            answer = _get_retrying(clients[attempt.party], f"/v1/notices/{notice_id}")
            if answer.status_code != 200:
                missing[notice_id] = f"GET answered {answer.status_code}"
                continue
            notice = answer.json().get("notice", answer.json())
            if notice.get("version") != attempt.version:
                missing[notice_id] = f"GET answered version {notice.get('version')}"
    finally:
        for client in clients.values():
            client.close()
    return missing


def _get_retrying(client: httpx.Client, path: str) -> httpx.Response:
    """GET, retrying 503s and transport errors for a while: only a 404 means lost."""
    for _ in range(30):
        try:
            answer = client.get(path)
        except httpx.TransportError:
            time.sleep(1)
            continue
        if answer.status_code != 503:
            return answer
        time.sleep(1)
    return client.get(path)


def stored_notices(url: str, parties: list[str]) -> dict[str, int]:
    """Every notice of the test parties in the database, read directly: id -> version."""
    with psycopg.connect(url, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT id, version FROM notices WHERE party = ANY(%s)", (parties,)
        ).fetchall()
    return {str(notice_id): int(version) for notice_id, version in rows}


def verify_store(url: str) -> tuple[int, str]:
    done = subprocess.run(
        [str(DECONFLICT), "verify", "--db", url],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done.returncode, (done.stdout + done.stderr).strip()


# --- the run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outage:
    """What the clients saw around the kill, in seconds after it where it says so."""

    first_failure: Attempt | None
    first_success: Attempt | None  # the first success sent after the first failure
    failures: list[Attempt]

    @property
    def seconds(self) -> float | None:
        if self.first_failure is None or self.first_success is None:
            return None
        return self.first_success.answered - self.first_failure.answered


def outage(attempts: list[Attempt], killed_at: float) -> Outage:
    after = sorted((a for a in attempts if a.answered >= killed_at), key=lambda a: a.answered)
    failures = [a for a in after if not a.ok]
    first_failure = failures[0] if failures else None
    since = first_failure.answered if first_failure else killed_at
    successes = [a for a in after if a.ok and a.sent >= since]
    return Outage(first_failure, successes[0] if successes else None, failures)


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def run(args: argparse.Namespace) -> int:
    directory: Path = args.dir.resolve()
    was_running = _cluster("status", directory).returncode == 0
    url = start_cluster(directory)
    print(f"cluster: {url}" + (" (already running)" if was_running else ""))
    try:
        return _run_on(url, directory, args)
    finally:
        if not (was_running or args.keep_cluster):
            done = _cluster("stop", directory)
            sys.stderr.write(done.stderr)


def _run_on(url: str, directory: Path, args: argparse.Namespace) -> int:
    run_id = secrets.token_hex(3)
    tokens = {party: add_party(url, party) for party in (f"ha-{run_id}-a", f"ha-{run_id}-b")}
    log = directory / f"serve-{run_id}.log"
    with serving(url, log) as base:
        print(f"service: {base} (log {log}), parties {', '.join(tokens)}")
        load = Load(base, tokens, args.threads)
        load.start()
        try:
            time.sleep(args.seconds)
            kill = kill_leader(directory)
            promoted = wait_for(lambda: new_leader(kill.old) is not None, RECOVERY_TIMEOUT_S)
            promoted_after = time.monotonic() - kill.at
            recovered = wait_for(
                lambda: outage(load.snapshot(), kill.at).first_success is not None,
                RECOVERY_TIMEOUT_S,
            )
            time.sleep(args.seconds)
        finally:
            load.stop()
        attempts = load.snapshot()
        acked = [a for a in attempts if a.ok]
        not_readable = missing_notices(base, tokens, acked)
    stored = stored_notices(url, list(tokens))
    verified, report = verify_store(url)
    leader = new_leader(kill.old)

    # Lost: not in the database at the acknowledged version, or not readable by its owner.
    lost = {
        str(a.notice_id): f"stored version {stored.get(str(a.notice_id))}, acknowledged {a.version}"
        for a in acked
        if stored.get(str(a.notice_id)) != a.version
    }
    lost.update(not_readable)
    acked_ids = {a.notice_id for a in acked}
    seen = outage(attempts, kill.at)
    after = [a for a in attempts if a.answered >= kill.at]

    print()
    if args.timeline:
        print_timeline(attempts, kill.at, seen)
    print(f"write attempts:                     {len(attempts)} ({args.threads} threads)")
    print(f"acknowledged writes:                {len(acked)}")
    print(f"  of which before the kill:         {sum(a.answered < kill.at for a in acked)}")
    print(f"lost acknowledged writes:           {len(lost)}")
    for notice_id, reason in sorted(lost.items())[:20]:
        print(f"  lost: {notice_id}: {reason}")
    print(f"stored but never acknowledged:      {len(set(stored) - acked_ids)}")
    outcomes = collections.Counter(a.outcome for a in seen.failures)
    print(f"failed attempts after the kill:     {len(seen.failures)} {dict(outcomes)}")
    if seen.seconds is not None:
        print(f"outage (first failure to success):  {seen.seconds:.2f} s")
    elif seen.first_success is not None:
        print("outage:                             none (no write failed)")
    else:
        print("outage:                             writes did not succeed again")
    if seen.first_success is not None:
        recovered_after = seen.first_success.answered - kill.at
        print(f"first success sent after failure:   {recovered_after:.2f} s after the kill")
    if after:
        print(
            f"slowest attempt across the kill:    {max(a.answered - a.sent for a in after):.2f} s"
        )
    if promoted:
        print(f"new leader in Patroni:              {promoted_after:.2f} s after the kill")
    print(
        f"old leader / new leader:            {kill.old} / {leader['name'] if leader else 'none'}"
    )
    print(f"deconflict verify --db:             exit {verified}")
    if verified != 0:
        print(report)

    if lost or verified != 0:
        return 1
    if not (promoted and recovered):
        return 2
    return 0


@dataclass(frozen=True)
class Kill:
    old: str  # the member whose postmaster was killed
    pid: int
    at: float  # monotonic


def kill_leader(directory: Path) -> Kill:
    """``kill -9`` the postmaster of the member Patroni shows as the running leader."""
    old = running_leader()
    if old is None:
        raise SystemExit("no running leader to kill")
    pid = postmaster_pid(directory, old["name"])
    at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    print(f"killed the postmaster of {old['name']} (pid {pid}, port {old['port']})")
    return Kill(str(old["name"]), pid, at)


def new_leader(old: str) -> dict[str, Any] | None:
    leader = running_leader()
    return leader if leader and leader["name"] != old else None


def print_timeline(attempts: list[Attempt], killed_at: float, seen: Outage) -> None:
    """Every attempt answered from 0.5 s before the kill to 0.5 s after recovery."""
    end = seen.first_success.answered if seen.first_success else max(a.answered for a in attempts)
    print("  sent   answered  party  outcome    (seconds from the kill)")
    for a in sorted(attempts, key=lambda a: a.answered):
        if killed_at - 0.5 <= a.answered <= end + 0.5:
            sent, answered = a.sent - killed_at, a.answered - killed_at
            print(f"{sent:7.2f} {answered:9.2f}  {a.party[-1]:>5}  {a.outcome}")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="seconds of load before the kill, and again after writes recover (default 10)",
    )
    parser.add_argument("--threads", type=int, default=4, help="writer threads (default 4)")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path("/tmp/deconflict-ha"),
        help="the cluster's directory (default /tmp/deconflict-ha)",
    )
    parser.add_argument(
        "--keep-cluster", action="store_true", help="leave the cluster running at the end"
    )
    parser.add_argument(
        "--timeline", action="store_true", help="print every write attempt around the kill"
    )
    args = parser.parse_args()
    if args.seconds <= 0 or args.threads < 1:
        parser.error("--seconds must be positive and --threads at least 1")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
