"""Kill ``deconflict serve`` with SIGKILL under write load, again and again; lose nothing.

Run from the repository root::

    .venv/bin/python scripts/crash_safety.py --db URL_OR_PATH [--kills 50] [--seed N]

``--db`` is a path for a new SQLite file (it must not exist yet), or the URL of
an existing, empty PostgreSQL database (``CREATE DATABASE crash_x`` first; it
is not dropped afterwards). The script creates one party per writer with the
CLI (``deconflict party add``), serves the store on a free loopback port, and
then, ``--kills`` times over on the same growing store:

1. each party's writer thread files notices, updates them at the right
   version, cancels them, acknowledges other parties' notices, acknowledges
   its alerts and reports positions of its aircraft, recording every write
   the server acknowledged (2xx) and what it must find afterwards;
2. at a moment drawn uniformly from ``--min-delay`` to ``--max-delay`` seconds
   after the load starts, the server gets SIGKILL, so that some kills land in
   the middle of a request, of a commit or between a commit and its answer;
3. the same command is started again on the same store and port, and once
   ``/healthz`` answers, every write acknowledged before the kill is checked:
   each notice at least at the acknowledged version (never beyond it unless a
   write to it was in flight), with the acknowledged content, cancelled if its
   cancellation was acknowledged, carrying every acknowledged ``ack``; every
   receipt's ledger entry unchanged; every conflict an answer listed alerted
   to both its parties (and, at the end, still listed to both by
   ``/v1/conflicts``); every acknowledged alert still acknowledged; every
   acknowledged position report found again by ``/v1/identify`` at its time
   and place, and each aircraft's state at least as new; the ledger never
   rewound (the newest acknowledged receipt's checkpoint is still the
   service's, and ``deconflict verify`` checks the proof that the new tree
   extends it);
4. ``deconflict verify --db URL --key KEY`` audits the whole store; it must
   exit 0.

A write whose answer never came is retried with the same ``Idempotency-Key``
when the load resumes, as a client would; its answer is then acknowledged
like any other, and counted as *replayed* if the service had committed it
before the kill. At the end every such write is settled, everything
acknowledged in all cycles is checked once more, and each party's notices in
force must all be ones it was told about (a retried write stored twice would
show here).

It prints one line per cycle and the totals. It exits 1 if any acknowledged
write was lost, any audit failed, a change showed that no write explains, or
a write was refused; 2 if the server did not come back.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from deconflict.clock import SystemClock

__all__ = ["Cycle", "Result", "main", "run"]

_START_TIMEOUT_S = 60.0
_REQUEST_TIMEOUT_S = 30.0
_AIRCRAFT = 3  # per party
_CLOCK = SystemClock()

# The write mix: relative weights of each kind of write a writer picks.
_MIX = {"submit": 30, "update": 20, "cancel": 8, "ack": 15, "alert_ack": 10, "tracks": 17}


def _now() -> dt.datetime:
    return _CLOCK.now()


def _stamp(instant: dt.datetime, spec: str = "seconds") -> str:
    return instant.isoformat(timespec=spec).replace("+00:00", "Z")


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# --- the store and the server ---------------------------------------------------------


def is_postgres(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


def check_new_store(db: str) -> None:
    """Refuse a store that already holds something: the checks assume they made it all."""
    if is_postgres(db):
        import psycopg

        with psycopg.connect(db, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            ).fetchone()
        if row is not None and row[0]:
            raise SystemExit(f"{db} is not empty ({row[0]} tables): give a new, empty database")
    elif Path(db.removeprefix("sqlite:///")).exists():
        raise SystemExit(f"{db} exists: give the path of a new SQLite file")


def deconflict(*args: str, timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
    """Run ``deconflict ARGS`` with this interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "deconflict", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def add_parties(db: str, names: list[str]) -> dict[str, str]:
    """Create the parties with the CLI; their tokens by name."""
    tokens = {}
    for name in names:
        done = deconflict("party", "add", name, "--name", f"Crash test {name}", "--db", db)
        if done.returncode != 0:
            raise SystemExit(f"deconflict party add {name} failed:\n{done.stdout}{done.stderr}")
        tokens[name] = done.stdout.strip()
    return tokens


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``deconflict serve`` on one store and port: start it, SIGKILL it, start it again."""

    def __init__(self, db: str, port: int, log: Path) -> None:
        self.db = db
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self._args = ["serve", "--db", db, "--host", "127.0.0.1", "--port", str(port)]
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start the process; return the seconds until ``GET /healthz`` answered 200."""
        if self._process is not None:
            raise RuntimeError("the server is already running")
        # The checks identify every acknowledged position report: lift the per-party limit.
        env = os.environ | {"DECONFLICT_IDENTIFY_PER_MINUTE": "1000000"}
        began = time.monotonic()
        with self.log.open("ab") as out:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "deconflict", *self._args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        while True:
            if self._process.poll() is not None:
                code, self._process = self._process.returncode, None
                raise RuntimeError(f"the server exited with {code}; see {self.log}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return time.monotonic() - began
            if time.monotonic() - began > _START_TIMEOUT_S:
                self.kill()
                raise RuntimeError(
                    f"no healthy server after {_START_TIMEOUT_S:g} s; see {self.log}"
                )
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs. Idempotent."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()

    def stop(self) -> None:
        """SIGTERM, as an operator stops the service. Idempotent."""
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def verify(db: str, key_file: Path, *files: Path) -> tuple[int, str]:
    """``deconflict verify --db DB --key KEY [FILES]``: exit status and report."""
    done = deconflict("verify", "--db", db, "--key", str(key_file), *map(str, files))
    return done.returncode, (done.stdout + done.stderr).strip()


# --- what the server acknowledged -------------------------------------------------------


@dataclass
class Notice:
    """What its owner must find: at least this version, with this content."""

    owner: str
    version: int
    category: str
    cancelled: bool = False
    acks: set[tuple[str, int]] = field(default_factory=set)  # (party, version)
    in_flight: bool = False  # a change whose answer never came may have been applied


@dataclass(frozen=True)
class Report:
    """One acknowledged position report."""

    party: str
    aircraft: str
    time: dt.datetime
    lon: float
    lat: float
    alt: float


@dataclass(frozen=True)
class Receipt:
    """An acknowledged write's receipt: the ledger entry it names must stay as it was."""

    party: str
    index: int
    entry: str
    salt: str
    record: dict[str, Any]
    checkpoint: str  # the signed note's body: origin, size, root

    @property
    def size(self) -> int:
        return int(self.checkpoint.splitlines()[1])


@dataclass(frozen=True)
class Write:
    """One write request, kept until it is answered so that it can be retried."""

    kind: str
    method: str
    path: str
    body: Any = None
    params: dict[str, Any] | None = None
    key: str | None = None  # the Idempotency-Key, where the API takes one
    notice: str | None = None


def _receipt(party: str, answer: dict[str, Any]) -> Receipt | None:
    found = answer.get("receipt")
    if not found:
        return None
    note = str(found["tlog_proof"]).split("\n\n", 1)[1]
    return Receipt(
        party, int(found["index"]), found["entry"], found["salt"], found["record"], _body(note)
    )


def _body(note: str) -> str:
    """A signed note's text, without its signature lines."""
    return note.split("\n\n", 1)[0] + "\n"


@dataclass(frozen=True)
class Conflict:
    """A conflict an acknowledged answer listed: both sides must hear of it and keep it."""

    party: str
    notice: str
    version: int
    other_party: str
    other: str


@dataclass
class Due:
    """What one check reads back."""

    notices: set[str] = field(default_factory=set)
    receipts: list[Receipt] = field(default_factory=list)
    alert_acks: dict[str, set[int]] = field(default_factory=dict)
    reports: list[Report] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)


class Book:
    """Every acknowledged write, and which of them the next check must look at."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.notices: dict[str, Notice] = {}
        self.ids: list[str] = []
        self.receipts: list[Receipt] = []
        self.alert_acks: dict[str, set[int]] = {}
        self.reports: list[Report] = []
        self.conflicts: list[Conflict] = []
        self.acknowledged: Counter[str] = Counter()
        self.errors: list[str] = []
        self.replayed = 0
        self.killed_at: dt.datetime | None = None
        self.first_answer: float | None = None  # monotonic, of this cycle's first 2xx
        self._due = Due()

    def acknowledge(self, party: str, write: Write, answer: dict[str, Any]) -> None:
        """Record one 2xx answer and what it promises."""
        receipt = _receipt(party, answer)
        with self.lock:
            self.acknowledged[write.kind] += 1
            self.first_answer = self.first_answer or time.monotonic()
            if receipt is not None:
                self.receipts.append(receipt)
                self._due.receipts.append(receipt)
                if self.killed_at is not None and _instant(receipt.record["at"]) < self.killed_at:
                    self.replayed += 1  # committed before the kill, answered after it
            if write.kind in ("submit", "update", "cancel"):
                view = answer["notice"]
                notice = self.notices.get(view["id"])
                if notice is None:
                    notice = self.notices[view["id"]] = Notice(party, 0, "")
                    self.ids.append(view["id"])
                notice.version = int(view["version"])
                notice.category = str(view["category"])
                notice.cancelled = view["state"] == "cancelled"
                notice.in_flight = False
                self._due.notices.add(view["id"])
                conflicts = [
                    Conflict(
                        party, view["id"], notice.version, c["other"]["party"], c["other"]["id"]
                    )
                    for c in answer["conflicts"]
                ]
                self.conflicts += conflicts
                self._due.conflicts += conflicts
            elif write.kind == "ack":
                self.notices[str(write.notice)].acks.add((party, int(answer["version"])))
                self._due.notices.add(str(write.notice))
            elif write.kind == "alert_ack":
                ids = set(answer["acknowledged"])
                self.alert_acks.setdefault(party, set()).update(ids)
                self._due.alert_acks.setdefault(party, set()).update(ids)

    def add_reports(self, reports: list[Report]) -> None:
        with self.lock:
            self.acknowledged["tracks"] += 1
            self.first_answer = self.first_answer or time.monotonic()
            self.reports += reports
            self._due.reports += reports

    def sending(self, write: Write) -> None:
        if write.notice is not None and write.kind in ("update", "cancel"):
            with self.lock:
                self.notices[write.notice].in_flight = True

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)

    def pick(self, rng: random.Random, keep: Callable[[str, Notice], bool]) -> str | None:
        """A random acknowledged notice that ``keep`` accepts (a few tries)."""
        with self.lock:
            for _ in range(20):
                if not self.ids:
                    return None
                notice_id = rng.choice(self.ids)
                if keep(notice_id, self.notices[notice_id]):
                    return notice_id
        return None

    def take_due(self) -> Due:
        """What was acknowledged since the last call."""
        with self.lock:
            due, self._due = self._due, Due()
        return due

    def everything(self) -> Due:
        with self.lock:
            alerts = {p: set(ids) for p, ids in self.alert_acks.items()}
            return Due(
                set(self.notices),
                list(self.receipts),
                alerts,
                list(self.reports),
                list(self.conflicts),
            )

    def total(self) -> int:
        with self.lock:
            return sum(self.acknowledged.values())


# --- the load -----------------------------------------------------------------------------


def notice_body(rng: random.Random, category: str, audience: list[str]) -> dict[str, Any]:
    """A small operation in a 2° square within four days: dense enough to conflict often."""
    start = _now().replace(microsecond=0) + dt.timedelta(minutes=rng.randrange(60, 4 * 24 * 60))
    lower = rng.uniform(0, 6000)
    return {
        "kind": "operation",
        "category": category,
        "audience": {"parties": audience},
        "volumes": [
            {
                "footprint": {
                    "type": "Circle",
                    "center": [rng.uniform(30, 32), rng.uniform(30, 32)],
                    "radius_m": rng.uniform(2000, 20000),
                },
                "altitude": {
                    "lower": lower,
                    "upper": lower + rng.uniform(1000, 3000),
                    "reference": "W84",
                    "units": "m",
                },
                "time": {
                    "start": _stamp(start),
                    "end": _stamp(start + dt.timedelta(hours=rng.uniform(1, 6))),
                },
            }
        ],
    }


class Writer:
    """One party's client: a mix of writes, one at a time, across every cycle."""

    def __init__(self, number: int, party: str, token: str, others: list[str], seed: int) -> None:
        self.party = party
        self.token = token
        self.others = others
        self.rng = random.Random(seed)
        self.pending: Write | None = None  # sent, never answered
        self.in_flight_at_kill = False
        self.last_time: dict[str, dt.datetime] = {}
        self.acked: set[tuple[str, int]] = set()  # (notice, version) acked or maybe acked
        # Every party's aircraft within a few km of each other's: proximity alerts.
        self.positions = {
            f"{party}-{k}": (20.0 + 0.01 * k, 20.0 + 0.01 * number, 1000.0 + 20 * k)
            for k in range(_AIRCRAFT)
        }

    @contextlib.contextmanager
    def client(self, base: str) -> Iterator[httpx.Client]:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=_REQUEST_TIMEOUT_S) as client:
            yield client

    def run(self, base: str, book: Book, stop: threading.Event) -> None:
        """Write until the server goes away (or ``stop``); an unanswered write stays pending."""
        self.in_flight_at_kill = False
        with self.client(base) as client:
            try:
                self.settle(client, book)
                while not stop.is_set():
                    kind = self.rng.choices(list(_MIX), weights=list(_MIX.values()))[0]
                    getattr(self, f"_{kind}")(client, book)
            except httpx.TransportError as exc:
                self.in_flight_at_kill = self.pending is not None and not isinstance(
                    exc, httpx.ConnectError
                )
            except Exception as exc:  # a bug here must show, not end a thread silently
                book.error(f"{self.party} writer: {exc!r}")

    def settle(self, client: httpx.Client, book: Book) -> None:
        """Retry the write left unanswered by the last kill, with the same key."""
        write, self.pending = self.pending, None
        if write is not None and write.key is not None:
            self._send(client, book, write)
        # Other writes are not retried. An ack that may have been applied is in self.acked
        # already, so it is never sent again; alert acks and position reports may repeat.

    def _send(self, client: httpx.Client, book: Book, write: Write) -> dict[str, Any] | None:
        self.pending = write
        book.sending(write)
        headers = {"Idempotency-Key": write.key} if write.key else None
        answer = client.request(
            write.method, write.path, json=write.body, params=write.params, headers=headers
        )
        self.pending = None
        if not answer.is_success:
            book.error(
                f"{self.party} {write.kind} {write.path}: {answer.status_code} {answer.text}"
            )
            return None
        body: dict[str, Any] = answer.json()
        if write.kind != "tracks":
            book.acknowledge(self.party, write, body)
        return body

    def _category(self) -> str:
        return f"crash test {self.rng.getrandbits(32):08x}"

    def _submit(self, client: httpx.Client, book: Book) -> None:
        category = self._category()
        body = notice_body(self.rng, category, self.others)
        self._send(client, book, Write("submit", "POST", "/v1/notices", body, key=_key()))

    def _mine(self, book: Book) -> tuple[str, int] | None:
        chosen = book.pick(self.rng, lambda _, n: n.owner == self.party and not n.cancelled)
        if chosen is None:
            return None
        with book.lock:
            return chosen, book.notices[chosen].version

    def _update(self, client: httpx.Client, book: Book) -> None:
        mine = self._mine(book)
        if mine is None:
            return self._submit(client, book)
        notice_id, version = mine
        category = self._category()
        body = notice_body(self.rng, category, self.others) | {"version": version}
        path = f"/v1/notices/{notice_id}"
        self._send(client, book, Write("update", "PUT", path, body, None, _key(), notice_id))

    def _cancel(self, client: httpx.Client, book: Book) -> None:
        mine = self._mine(book)
        if mine is None:
            return self._submit(client, book)
        notice_id, version = mine
        path, params = f"/v1/notices/{notice_id}", {"version": version}
        self._send(client, book, Write("cancel", "DELETE", path, None, params, _key(), notice_id))

    def _ack(self, client: httpx.Client, book: Book) -> None:
        def theirs(notice_id: str, n: Notice) -> bool:
            return n.owner != self.party and (notice_id, n.version) not in self.acked

        chosen = book.pick(self.rng, theirs)
        if chosen is None:
            return None
        with book.lock:
            version = book.notices[chosen].version
        self.acked.add((chosen, version))  # before sending: an unanswered ack may be applied
        path = f"/v1/notices/{chosen}/ack"
        self._send(client, book, Write("ack", "POST", path, {"version": version}, notice=chosen))
        return None

    def _alert_ack(self, client: httpx.Client, book: Book) -> None:
        listed = client.get("/v1/alerts", params={"state": "unacknowledged", "limit": 200})
        if listed.status_code != 200:
            return book.error(f"{self.party} GET /v1/alerts: {listed.status_code} {listed.text}")
        ids = [a["id"] for a in listed.json()]
        if not ids:
            return self._tracks(client, book)
        chosen = sorted(self.rng.sample(ids, min(len(ids), self.rng.randint(1, 20))))
        self._send(client, book, Write("alert_ack", "POST", "/v1/alerts/ack", {"ids": chosen}))
        return None

    def _tracks(self, client: httpx.Client, book: Book) -> None:
        reports = []
        for aircraft in self.rng.sample(sorted(self.positions), self.rng.randint(1, _AIRCRAFT)):
            lon, lat, alt = self.positions[aircraft]
            now = _now()
            at = now.replace(microsecond=now.microsecond // 1000 * 1000)  # sent in milliseconds
            last = self.last_time.get(aircraft)
            if last is not None and at <= last:  # each report newer than the last
                at = last + dt.timedelta(milliseconds=1)
            self.last_time[aircraft] = at
            reports.append(Report(self.party, aircraft, at, lon, lat, alt))
        body = {
            "reports": [
                {
                    "aircraft": r.aircraft,
                    "time": _stamp(r.time, "milliseconds"),
                    "lon": r.lon,
                    "lat": r.lat,
                    "altitude": {"value": r.alt, "reference": "W84", "units": "m"},
                }
                for r in reports
            ]
        }
        if self._send(client, book, Write("tracks", "POST", "/v1/tracks", body)) is not None:
            book.add_reports(reports)


def _key() -> str:
    return secrets.token_hex(16)


# --- the checks ---------------------------------------------------------------------------


class Checker:
    """Reads back what was acknowledged, as each party; every shortfall is a loss."""

    def __init__(self, base: str, tokens: dict[str, str], book: Book) -> None:
        self.book = book
        self.clients = {
            party: httpx.Client(
                base_url=base,
                headers={"Authorization": f"Bearer {token}"},
                timeout=_REQUEST_TIMEOUT_S,
            )
            for party, token in tokens.items()
        }
        self.lost: list[str] = []
        self.unexpected: list[str] = []
        self.checked: Counter[str] = Counter()
        self._alert_cache: dict[str, dict[int, dict[str, Any]]] = {}

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def _get(self, party: str, path: str, **params: Any) -> httpx.Response:
        return self.clients[party].get(path, params=params)

    def notices(self, ids: set[str]) -> None:
        for notice_id in sorted(ids):
            with self.book.lock:
                n = self.book.notices[notice_id]
                want = Notice(n.owner, n.version, n.category, n.cancelled, set(n.acks), n.in_flight)
            self.checked["notice"] += 1
            answer = self._get(want.owner, f"/v1/notices/{notice_id}")
            if answer.status_code != 200:
                self.lost.append(f"notice {notice_id}: GET answered {answer.status_code}")
                continue
            got = answer.json()
            if got["version"] < want.version:
                self.lost.append(
                    f"notice {notice_id}: version {got['version']}, acknowledged {want.version}"
                )
            elif got["version"] > want.version + int(want.in_flight):
                self.unexpected.append(
                    f"notice {notice_id}: version {got['version']}, acknowledged {want.version}"
                    " and no change in flight"
                )
            elif got["version"] == want.version and got["category"] != want.category:
                self.lost.append(
                    f"notice {notice_id} v{want.version}: not the acknowledged content"
                )
            if want.cancelled and got["state"] != "cancelled":
                self.lost.append(f"notice {notice_id}: acknowledged cancelled, is {got['state']}")
            stored = {(a["party"], a["version"]) for a in got.get("acks", [])}
            for party, version in sorted(want.acks - stored):
                self.lost.append(f"notice {notice_id}: ack of v{version} by {party} missing")

    def receipts(self, receipts: list[Receipt]) -> None:
        """Each receipt's ledger entry is still there, committing to the same record."""
        for r in receipts:
            self.checked["receipt"] += 1
            answer = self._get(r.party, f"/v1/ledger/entries/{r.index}")
            if answer.status_code != 200:
                self.lost.append(f"ledger entry {r.index}: GET answered {answer.status_code}")
                continue
            got = answer.json()
            if (got["entry"], got["salt"], got["record"]) != (r.entry, r.salt, r.record):
                self.lost.append(f"ledger entry {r.index} differs from its receipt")

    def _alerts(self, party: str) -> dict[int, dict[str, Any]]:
        """All the party's alerts by id, read once per check."""
        if party not in self._alert_cache:
            found: dict[int, dict[str, Any]] = {}
            while True:
                after = max(found, default=0)
                page = self._get(party, "/v1/alerts", state="all", after=after, limit=10_000)
                if page.status_code != 200 or not page.json():
                    break
                found |= {a["id"]: a for a in page.json()}
            self._alert_cache[party] = found
        return self._alert_cache[party]

    def alert_acks(self, acks: dict[str, set[int]]) -> None:
        for party, ids in sorted(acks.items()):
            alerts = self._alerts(party)
            for alert_id in sorted(ids):
                self.checked["alert ack"] += 1
                if alerts.get(alert_id, {}).get("acked_at") is None:
                    state = "missing" if alert_id not in alerts else "not acknowledged"
                    self.lost.append(f"alert {alert_id} of {party}: {state}")

    def conflict_alerts(self, conflicts: list[Conflict]) -> None:
        """Each side of every acknowledged conflict has the alert the write queued."""
        causes = {
            party: {
                (a["data"]["cause"]["id"], a["data"]["cause"]["version"])
                for a in self._alerts(party).values()
                if a["type"] == "conflict"
            }
            for party in {c.party for c in conflicts} | {c.other_party for c in conflicts}
        }
        for c in conflicts:
            self.checked["conflict alert"] += 1
            for party in (c.party, c.other_party):
                if (c.notice, c.version) not in causes[party]:
                    self.lost.append(
                        f"alert to {party} of {c.notice} v{c.version} × {c.other}: missing"
                    )

    def conflict_records(self, conflicts: list[Conflict]) -> None:
        """Each side still lists every acknowledged conflict (open or resolved)."""
        listed: dict[str, set[tuple[str, str]]] = {}
        for party in sorted({c.party for c in conflicts} | {c.other_party for c in conflicts}):
            pairs: list[tuple[str, str]] = []
            while True:
                page = self._get(
                    party, "/v1/conflicts", status="all", limit=10_000, offset=len(pairs)
                )
                if page.status_code != 200 or not page.json():
                    break
                pairs += [(x["notice"]["id"], x["other"]["id"]) for x in page.json()]
            listed[party] = set(pairs)
        for c in conflicts:
            self.checked["conflict"] += 1
            for party, pair in (
                (c.party, (c.notice, c.other)),
                (c.other_party, (c.other, c.notice)),
            ):
                if pair not in listed[party]:
                    self.lost.append(f"conflict {pair[0]} × {pair[1]} not listed to {party}")

    def reports(self, reports: list[Report]) -> None:
        """Each report is the aircraft's newest at its time and place; states are as new."""
        newest: dict[tuple[str, str], dt.datetime] = {}
        for r in reports:
            self.checked["report"] += 1
            key = (r.party, r.aircraft)
            newest[key] = max(newest.get(key, r.time), r.time)
            answer = self._get(
                r.party,
                "/v1/identify",
                lon=r.lon,
                lat=r.lat,
                alt=r.alt,
                time=_stamp(r.time, "milliseconds"),
            )
            if answer.status_code != 200:
                self.lost.append(f"report {r.aircraft} {r.time}: identify {answer.status_code}")
                continue
            tracks = answer.json()["tracks"]
            if r.time not in [
                _instant(t["time"]) for t in tracks if t.get("aircraft") == r.aircraft
            ]:
                self.lost.append(f"report {r.aircraft} at {_stamp(r.time, 'milliseconds')} missing")
        for party in sorted({p for p, _ in newest}):
            answer = self._get(party, "/v1/tracks", within_s=86_400)
            states = {t["aircraft"]: _instant(t["time"]) for t in answer.json()}
            for (owner, aircraft), at in sorted(newest.items()):
                if owner == party and (aircraft not in states or states[aircraft] < at):
                    self.lost.append(f"aircraft {aircraft}: state older than {at}")

    def ledger(self, receipts: list[Receipt], out: Path) -> Path | None:
        """The newest acknowledged checkpoint is still the log's: save the consistency proof."""
        if not receipts:
            return None
        newest = max(receipts, key=lambda r: r.size)
        self.checked["checkpoint"] += 1
        answer = self._get(newest.party, "/v1/ledger/proof/consistency", **{"from": newest.size})
        if answer.status_code != 200 or _body(answer.json()["old"]) != newest.checkpoint:
            self.lost.append(f"the signed tree of size {newest.size} is not the log's any more")
            return None
        out.write_text(answer.text, encoding="utf-8")
        return out

    def in_force(self, book: Book) -> None:
        """Every notice a party has in force is one it was told about (nothing doubled)."""
        with book.lock:
            known = {i: n.owner for i, n in book.notices.items()}
        for party in sorted(self.clients):
            answer = self._get(party, "/v1/notices")
            for view in answer.json():
                if view["party"] == party and known.get(view["id"]) != party:
                    self.unexpected.append(f"notice {view['id']} of {party} was never answered")


# --- the run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cycle:
    """One kill: when, what was acknowledged before it, and what the checks found."""

    number: int
    delay_s: float
    acknowledged: int  # writes acknowledged in this cycle, before the kill
    first_answer_s: float | None  # from the start of the load to its first 2xx
    in_flight: int  # writers whose request was cut by the kill
    restart_s: float
    checked: int
    lost: list[str]
    unexpected: list[str]
    verify_exit: int
    verify_report: str


@dataclass
class Result:
    """The figures of a whole run, and every loss, oddity and refusal by name."""

    backend: str
    cycles: list[Cycle] = field(default_factory=list)
    acknowledged: Counter[str] = field(default_factory=Counter)
    replayed: int = 0
    final_checked: Counter[str] = field(default_factory=Counter)
    final_lost: list[str] = field(default_factory=list)
    final_unexpected: list[str] = field(default_factory=list)
    final_verify_exit: int = 0
    final_verify_report: str = ""
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def lost(self) -> list[str]:
        return [x for c in self.cycles for x in c.lost] + self.final_lost

    @property
    def unexpected(self) -> list[str]:
        return [x for c in self.cycles for x in c.unexpected] + self.final_unexpected

    @property
    def verify_failures(self) -> int:
        return sum(c.verify_exit != 0 for c in self.cycles) + (self.final_verify_exit != 0)

    @property
    def mean_restart_s(self) -> float:
        return statistics.fmean(c.restart_s for c in self.cycles) if self.cycles else 0.0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.verify_failures or self.unexpected or self.errors)


def run(
    db: str,
    kills: int,
    seed: int,
    *,
    parties: int = 4,
    min_delay: float = 0.2,
    max_delay: float = 2.0,
    workdir: Path | None = None,
    out: Callable[[str], None] = print,
) -> Result:
    """Run the whole experiment on a new store; the figures, and every loss by name."""
    check_new_store(db)
    began = time.monotonic()
    folder = workdir or Path(tempfile.mkdtemp(prefix="crash-safety-"))
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    names = [f"crash-{chr(ord('a') + n)}" for n in range(parties)]
    tokens = add_parties(db, names)
    writers = [
        Writer(n, p, tokens[p], [o for o in names if o != p], rng.randrange(2**32))
        for n, p in enumerate(names)
    ]
    server = Server(db, free_port(), folder / "server.log")
    rig = _Rig(server, writers, Book(), tokens, folder / "key.txt", folder / "consistency.json")
    result = Result("postgresql" if is_postgres(db) else "sqlite")
    out(f"store {db}, server log {server.log}, seed {seed}")
    try:
        server.start()
        rig.key_file.write_text(httpx.get(f"{server.url}/ledger/key", timeout=10).text + "\n")
        for number in range(1, kills + 1):
            cycle = _cycle(rig, number, rng.uniform(min_delay, max_delay))
            result.cycles.append(cycle)
            out(_cycle_line(cycle))
        _finish(rig, result)
    finally:
        server.stop()
    result.acknowledged = Counter(rig.book.acknowledged)
    result.replayed = rig.book.replayed
    result.errors = list(rig.book.errors)
    result.elapsed_s = time.monotonic() - began
    for line in _summary(result):
        out(line)
    return result


@dataclass(frozen=True)
class _Rig:
    """What every cycle works with."""

    server: Server
    writers: list[Writer]
    book: Book
    tokens: dict[str, str]
    key_file: Path
    cons: Path  # where the last consistency proof is kept for the audit

    def check_and_audit(self, due: Due, final: bool = False) -> tuple[Checker, int, str]:
        checker = Checker(self.server.url, self.tokens, self.book)
        try:
            checker.notices(due.notices)
            checker.receipts(due.receipts)
            checker.alert_acks(due.alert_acks)
            checker.conflict_alerts(due.conflicts)
            checker.reports(due.reports)
            if final:
                checker.conflict_records(due.conflicts)
                checker.in_force(self.book)
            proof = checker.ledger(self.book.receipts, self.cons)
        finally:
            checker.close()
        code, report = verify(self.server.db, self.key_file, *([proof] if proof else []))
        return checker, code, report


def _cycle(rig: _Rig, number: int, delay: float) -> Cycle:
    """Load, SIGKILL ``delay`` seconds in, restart, check what was acknowledged, audit."""
    server, writers, book = rig.server, rig.writers, rig.book
    before = book.total()
    stop = threading.Event()
    threads = [
        threading.Thread(target=w.run, args=(server.url, book, stop), daemon=True) for w in writers
    ]
    with book.lock:
        book.first_answer = None
    began = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(delay)
    with book.lock:
        book.killed_at = _now()
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    acknowledged = book.total() - before
    first = None if book.first_answer is None else book.first_answer - began
    restart = server.start()
    checker, code, report = rig.check_and_audit(book.take_due())
    return Cycle(
        number,
        delay,
        acknowledged,
        first,
        sum(w.in_flight_at_kill for w in writers),
        restart,
        checker.checked.total(),
        checker.lost,
        checker.unexpected,
        code,
        report,
    )


def _finish(rig: _Rig, result: Result) -> None:
    """Answer every write the last kill left pending, then check everything once more."""
    for w in rig.writers:
        with w.client(rig.server.url) as client:
            w.settle(client, rig.book)
    checker, code, report = rig.check_and_audit(rig.book.everything(), final=True)
    result.final_checked = checker.checked
    result.final_lost = checker.lost
    result.final_unexpected = checker.unexpected
    result.final_verify_exit, result.final_verify_report = code, report


def _cycle_line(c: Cycle) -> str:
    first = "-" if c.first_answer_s is None else f"{c.first_answer_s:.2f} s"
    line = (
        f"kill {c.number:3d} at {c.delay_s:4.2f} s: {c.acknowledged:4d} acknowledged"
        f" (first after {first}),"
        f" {c.in_flight} cut mid-request; restart {c.restart_s:5.2f} s;"
        f" {c.checked:5d} checked, {len(c.lost)} lost, verify exit {c.verify_exit}"
    )
    details = [f"    lost: {x}" for x in c.lost[:10]] + [f"    odd: {x}" for x in c.unexpected[:10]]
    if c.verify_exit != 0:
        details.append(c.verify_report)
    return "\n".join([line, *details])


def _summary(r: Result) -> list[str]:
    kinds = ", ".join(f"{k} {r.acknowledged[k]}" for k in _MIX)
    checked = sum(c.checked for c in r.cycles)
    return [
        "",
        f"backend:                          {r.backend}",
        f"kills:                            {len(r.cycles)}",
        f"acknowledged writes:              {sum(r.acknowledged.values())} ({kinds})",
        f"  answered only after a restart:  {r.replayed} (committed before the kill, replayed)",
        f"writes cut mid-request:           {sum(c.in_flight for c in r.cycles)}",
        f"checks after the kills:           {checked}",
        f"checks at the end:                {r.final_checked.total()}"
        f" ({', '.join(f'{k} {n}' for k, n in r.final_checked.items())})",
        f"lost acknowledged writes:         {len(r.lost)}",
        *[f"  lost: {x}" for x in r.lost[:20]],
        f"unexpected (phantom) changes:     {len(r.unexpected)}",
        *[f"  odd: {x}" for x in r.unexpected[:20]],
        f"verify failures:                  {r.verify_failures}",
        *([r.final_verify_report] if r.final_verify_exit else []),
        f"refused writes (non-2xx):         {len(r.errors)}",
        *[f"  {x}" for x in r.errors[:10]],
        f"mean restart time (to /healthz):  {r.mean_restart_s:.2f} s"
        + (f" (max {max(c.restart_s for c in r.cycles):.2f} s)" if r.cycles else ""),
        f"elapsed:                          {r.elapsed_s:.0f} s",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        required=True,
        help="a new SQLite file's path, or an existing, empty PostgreSQL database's URL",
    )
    parser.add_argument("--kills", type=int, default=50, help="SIGKILLs (default 50)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--parties", type=int, default=4, help="writer threads (default 4)")
    parser.add_argument("--min-delay", type=float, default=0.2, help="seconds (default 0.2)")
    parser.add_argument("--max-delay", type=float, default=2.0, help="seconds (default 2.0)")
    parser.add_argument("--workdir", type=Path, default=None, help="logs and proofs go here")
    args = parser.parse_args(argv)
    if args.kills < 1 or not 1 <= args.parties <= 26:
        parser.error("--kills is at least 1 and --parties 1 to 26")
    if not 0 < args.min_delay <= args.max_delay:
        parser.error("0 < --min-delay <= --max-delay")
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    try:
        result = run(
            args.db,
            args.kills,
            seed,
            parties=args.parties,
            min_delay=args.min_delay,
            max_delay=args.max_delay,
            workdir=args.workdir,
        )
    except RuntimeError as exc:  # the server did not come back
        print(f"FAILED: {exc}", file=sys.stderr)
        return 2
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
