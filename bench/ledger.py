"""Ledger: append throughput and proof latency with N entries in the log (the issue's 1M).

The store is a real SQLite file in WAL mode with ``synchronous=FULL``, as the
service opens it, and the ledger is the service's ``Ledger`` with the system
clock. Records are disclosure-shaped (a recipient, a reason and two or three
items, each a notice, version, owner, level and view digest: ~390–540 bytes
of canonical JSON). They are logged under their own type, ``bench.disclosure``,
because the audit cross-checks ``disclosure`` entries against the disclosures
table, which this benchmark does not fill.

Phases, in order:

1. batched appends, ``batch`` records per write transaction and one signed
   checkpoint per transaction (what ``Ledger.write`` + ``log_many`` do), from
   an empty log until ``entries - single_total`` entries;
2. one record per transaction with its signed checkpoint and receipt (what a
   single admission pays), ``repeats`` × ``singles`` transactions, ending at
   exactly ``entries``;
3. at ``entries``: inclusion and consistency proofs, receipts, tiles and entry
   bundles as the HTTP handlers ask for them, ``repeats`` × ``samples`` each;
4. client-side verification of those receipts and consistency proofs;
5. the store's size on disk and a whole-store audit.
"""

from __future__ import annotations

import base64
import datetime as dt
import gc
import hashlib
import json
import os
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import rfc8785

from bench.stats import summary
from deconflict.clock import SystemClock
from deconflict.ledger import merkle
from deconflict.ledger.entries import canonical
from deconflict.ledger.log import TILE_WIDTH, Ledger, Logged
from deconflict.ledger.note import Verifier, parse_proof
from deconflict.ledger.verify import (
    audit_store,
    check_checkpoint,
    check_consistency,
    check_receipt,
)
from deconflict.store import SqliteStore

__all__ = ["record", "run_ledger"]

KIND = "bench.disclosure"
_REASONS = ("conflict", "listing", "awareness")
_LEVELS = ("shape", "full", "extent")


def record(i: int) -> tuple[str, dict[str, Any]]:
    """The ``i``-th record logged: disclosure-shaped, two or three items."""
    items = []
    for k in range(2 + i % 2):
        items.append(
            {
                "notice": f"n{(i * 7 + k * 104_729) % 10_000_000:07d}",
                "version": 1 + (i + k) % 5,
                "owner": f"p{(i + k + 1) % 20}",
                "level": _LEVELS[(i + k) % 3],
                "view_sha256": hashlib.sha256(i.to_bytes(8, "big") + bytes([k])).hexdigest(),
            }
        )
    return KIND, {"recipient": f"p{i % 20}", "reason": _REASONS[i % 3], "items": items}


def _record_bytes(count: int = 1000) -> dict[str, float]:
    """Size of the canonical JSON of logged records (with ``type`` and ``at``, as stored)."""
    at = "2025-01-01T00:00:00.000000Z"
    sizes = [
        len(canonical({"type": kind, "at": at, **fields}))
        for kind, fields in map(record, range(count))
    ]
    return {"mean": round(float(np.mean(sizes)), 1), "min": min(sizes), "max": max(sizes)}


def _times(calls: list[Callable[[], Any]]) -> np.ndarray:
    out = np.empty(len(calls))
    for i, call in enumerate(calls):
        t0 = time.perf_counter()
        call()
        out[i] = time.perf_counter() - t0
    return out


Calls = list[Callable[[], Any]]


def _repeat(
    make: Callable[[np.random.Generator], Calls],
    rng: np.random.Generator,
    repeats: int,
    warm: int = 200,
) -> dict[str, Any]:
    """p50/p99 over ``repeats`` runs, each of fresh random calls, after ``warm`` warm-up calls."""
    _times(make(rng)[:warm])
    return summary([_times(make(rng)) for _ in range(repeats)])


def _fill(
    ledger: Ledger, target: int, batch: int, window: int, checkpoints: list[int]
) -> dict[str, Any]:
    """Phase 1: ``batch`` records per transaction until the log holds ``target`` entries."""
    tx_times, windows = [], []
    size, mark, mark_t = 0, 0, 0.0
    elapsed = 0.0
    while size < target:
        count = min(batch, target - size)
        items = [record(size + j) for j in range(count)]
        t0 = time.perf_counter()
        with ledger.write() as tx:
            ledger.log_many(tx, items)
        dt_s = time.perf_counter() - t0
        tx_times.append(dt_s)
        elapsed += dt_s
        size += count
        checkpoints.append(size)
        if size - mark >= window or size == target:
            rate = (size - mark) / (elapsed - mark_t)
            windows.append({"from": mark, "to": size, "entries_per_s": round(rate, 1)})
            print(
                f"  batched: {size:>9,} entries, {rate:,.0f} entries/s in the last {size - mark:,}",
                flush=True,
            )
            mark, mark_t = size, elapsed
    times = np.array(tx_times)
    return {
        "records_per_tx": batch,
        "entries": size,
        "seconds": round(elapsed, 1),
        "entries_per_s": round(size / elapsed, 1),
        "entries_per_s_last_window": windows[-1]["entries_per_s"],
        "tx_p50_ms": round(float(np.percentile(times, 50)) * 1e3, 3),
        "tx_p99_ms": round(float(np.percentile(times, 99)) * 1e3, 3),
        "windows": windows,
    }


def _singles(
    ledger: Ledger, start: int, count: int, repeats: int, checkpoints: list[int]
) -> dict[str, Any]:
    """Phase 2: one record per transaction, its checkpoint signed and a receipt built."""
    runs = []
    stages: dict[str, list[float]] = {"log": [], "seal": [], "receipt": [], "commit": []}
    size = start
    for _ in range(repeats):
        times = np.empty(count)
        for i in range(count):
            kind, fields = record(size)
            t0 = time.perf_counter()
            with ledger.write() as tx:
                logged = ledger.log(tx, kind, fields)
                t1 = time.perf_counter()
                ledger.seal(tx)  # what receipt() would do first; timed apart
                t2 = time.perf_counter()
                ledger.receipt(tx, logged)
                t3 = time.perf_counter()
            t4 = time.perf_counter()
            times[i] = t4 - t0
            for name, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                stages[name].append(value)
            size += 1
            checkpoints.append(size)
        runs.append(times)
        print(
            f"  single: {size:>9,} entries, p50 {np.percentile(times, 50) * 1e3:.3f} ms "
            f"p99 {np.percentile(times, 99) * 1e3:.3f} ms",
            flush=True,
        )
    out = summary(runs)
    out["log_size_from"] = start
    out["stages_p50_ms"] = {k: round(float(np.median(v)) * 1e3, 4) for k, v in stages.items()}
    return out


def _logged(store: SqliteStore, index: int) -> Logged:
    with store.read() as tx:
        (row,) = tx.ledger.entries(index, index + 1)
    return Logged(row.index, row.entry, row.salt, json.loads(row.record))


def _proofs(
    store: SqliteStore,
    ledger: Ledger,
    n: int,
    samples: int,
    repeats: int,
    checkpoints: list[int],
    rng: np.random.Generator,
) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """Phase 3: what the proof and tile endpoints cost with ``n`` entries."""
    old_sizes = np.array([c for c in checkpoints if 0 < c < n])
    tiles0, tiles1 = n // TILE_WIDTH, n // TILE_WIDTH**2
    out: dict[str, Any] = {}
    out["inclusion"] = _repeat(
        lambda r: [lambda i=int(i): ledger.inclusion(i) for i in r.integers(0, n, samples)],
        rng,
        repeats,
    )
    out["consistency"] = _repeat(
        lambda r: [lambda s=int(s): ledger.consistency(s) for s in r.choice(old_sizes, samples)],
        rng,
        repeats,
    )

    def receipts(r: np.random.Generator) -> list[Callable[[], Any]]:
        calls = []
        for i in r.integers(0, n, samples):
            logged = _logged(store, int(i))

            def call(logged: Logged = logged) -> Any:
                with store.read() as tx:  # the transaction is not timed: the service has one
                    t0 = time.perf_counter()
                    ledger.receipt(tx, logged)
                    return time.perf_counter() - t0

            calls.append(call)
        return calls

    # receipts are timed inside the call, without opening and closing the transaction
    warm = receipts(rng)[:200]
    for call in warm:
        call()
    out["receipt"] = summary([np.array([c() for c in receipts(rng)]) for _ in range(repeats)])
    out["tile_level0"] = _repeat(
        lambda r: [
            lambda i=int(i): ledger.tile(0, i, TILE_WIDTH) for i in r.integers(0, tiles0, samples)
        ],
        rng,
        repeats,
    )
    if tiles1:
        out["tile_level1"] = _repeat(
            lambda r: [
                lambda i=int(i): ledger.tile(1, i, TILE_WIDTH)
                for i in r.integers(0, tiles1, samples)
            ],
            rng,
            repeats,
        )
    out["entry_bundle"] = _repeat(
        lambda r: [
            lambda i=int(i): ledger.entry_bundle(i, TILE_WIDTH)
            for i in r.integers(0, tiles0, samples)
        ],
        rng,
        repeats,
    )
    # what the verification phase checks: fresh receipts and consistency proofs
    made_receipts = []
    for i in rng.integers(0, n, samples):
        logged = _logged(store, int(i))
        with store.read() as tx:
            made_receipts.append(ledger.receipt(tx, logged))
    made_consistency = [ledger.consistency(int(s)) for s in rng.choice(old_sizes, samples)]
    probe = ledger.inclusion(n // 3)
    out["hashes"] = {
        "inclusion": len(probe["proof"]),
        "consistency_mean": round(float(np.mean([len(c["proof"]) for c in made_consistency])), 1),
        "receipt_bytes_mean": round(float(np.mean([len(json.dumps(r)) for r in made_receipts]))),
    }
    return out, made_receipts, made_consistency


def _verification(
    vkey: str, receipts: list[Any], consistency: list[Any], repeats: int
) -> dict[str, Any]:
    """Phase 4: what a client pays to check what it was given, offline."""
    verifiers = [Verifier.parse(vkey)]
    parsed = []
    for r in receipts:
        proof = parse_proof(r["tlog_proof"])
        checkpoint = check_checkpoint(proof.checkpoint, verifiers)
        leaf = merkle.leaf_hash(base64.b64decode(r["entry"]))
        parsed.append((proof, checkpoint, leaf))

    def run(calls: list[Callable[[], Any]]) -> dict[str, Any]:
        _times(calls[:200])
        return summary([_times(calls) for _ in range(repeats)])

    def inclusion(p: Any, c: Any, leaf: bytes) -> None:
        if not merkle.verify_inclusion(p.index, c.size, leaf, p.proof, c.root):
            raise AssertionError("an inclusion proof did not verify")

    return {
        "check_receipt": run([lambda r=r: check_receipt(r, verifiers) for r in receipts]),
        "checkpoint_signature": run(
            [lambda p=p: check_checkpoint(p.checkpoint, verifiers) for p, _, _ in parsed]
        ),
        "verify_inclusion": run([lambda a=a: inclusion(*a) for a in parsed]),
        "check_consistency": run(
            [lambda d=d: check_consistency(d, verifiers) for d in consistency]
        ),
    }


def _components(store: SqliteStore, ledger: Ledger, n: int) -> dict[str, float]:
    """Median microseconds of the pieces an append, a seal and a check are made of."""
    at = "2026-01-01T00:00:00.000000Z"
    records = [{"type": kind, "at": at, **fields} for kind, fields in map(record, range(1000))]
    data = [canonical(r) for r in records]
    salt = bytes(32)
    verifier = Verifier.parse(ledger.vkey)
    text = ledger.checkpoint_at(n).rpartition("\n\n")[0] + "\n"
    note = ledger.signer.sign(text)
    signature = base64.b64decode(note.rpartition(" ")[2])[4:]
    indices = [int(i) for i in np.random.default_rng(3).integers(0, n, 1000)]
    with store.read() as tx:
        pieces: dict[str, Calls] = {
            "canonical_json": [lambda r=r: canonical(r) for r in records],
            "rfc8785_dumps_reference": [lambda r=r: rfc8785.dumps(r) for r in records],
            "json_loads_record": [lambda d=d: json.loads(d) for d in data],
            "commitment_and_leaf_hash": [
                lambda d=d: merkle.leaf_hash(hashlib.sha256(salt + d).digest()) for d in data
            ],
            "sign_checkpoint_note": [lambda: ledger.signer.sign(text)] * 1000,
            "ed25519_verify": [lambda: verifier.verify(signature, text.encode("utf-8"))] * 1000,
            "node_lookup": [lambda i=i: tx.ledger.node(0, i) for i in indices],
            "root_from_nodes": [lambda: merkle.root_from_nodes(n, tx.ledger.node)] * 1000,
        }
        out = {}
        for name, calls in pieces.items():
            _times(calls[:100])
            out[name] = round(float(np.median(_times(calls))) * 1e6, 2)
    return out


def _tables(path: Path) -> dict[str, int]:
    """Bytes per table and index (SQLite's dbstat), largest first."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
    except sqlite3.OperationalError:
        rows = []
    finally:
        conn.close()
    return {name: int(size) for name, size in rows if size >= 1 << 20}


def _src_changes() -> list[str]:
    """Files under src/ that differ from the commit recorded with the machine."""
    done = subprocess.run(
        ["git", "status", "--porcelain", "--", "src"], capture_output=True, text=True, check=False
    )
    return done.stdout.splitlines()


def _heap_mb() -> float:
    """Anonymous resident memory (Python objects, SQLite caches), not the mapped store."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


class _HeapPeak:
    """The largest anonymous RSS seen while the block runs, sampled every 20 ms."""

    def __enter__(self) -> _HeapPeak:
        self.before = self.peak = _heap_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _heap_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _heap_mb())


def run_ledger(
    entries: int,
    batch: int = 100,
    singles: int = 2000,
    samples: int = 1000,
    repeats: int = 3,
    audit: bool = True,
    keep: Path | None = None,
) -> dict[str, Any]:
    """Run every phase; with ``keep``, the store is made and left in that folder."""
    started = time.perf_counter()
    single_total = singles * repeats
    if entries <= single_total + batch:
        raise ValueError(f"--entries must exceed {single_total + batch} (singles × repeats)")
    rng = np.random.default_rng(7)
    results: dict[str, Any] = {
        "measure": "ledger append throughput and proof latency",
        "entries": entries,
        "store": {"journal_mode": "wal", "synchronous": "full"},
        "record_kind": KIND,
        "record_bytes": _record_bytes(),
    }
    checkpoints: list[int] = [0]
    folder = tempfile.TemporaryDirectory() if keep is None else nullcontext(str(keep))
    with folder as tmp:
        path = Path(tmp) / f"ledger-{entries}.db"
        if path.exists():
            raise FileExistsError(f"{path} exists; the benchmark starts from an empty log")
        results["load_average_start"] = [round(x, 2) for x in os.getloadavg()]
        results["src_uncommitted"] = _src_changes()
        store = SqliteStore(path)
        ledger = Ledger(store, SystemClock())
        print(
            f"batched appends, {batch} records per transaction, to "
            f"{entries - single_total:,} entries",
            flush=True,
        )
        results["batched"] = _fill(
            ledger, entries - single_total, batch, max(batch, entries // 10), checkpoints
        )
        print(
            f"one record per transaction with checkpoint and receipt, {repeats} × {singles}",
            flush=True,
        )
        results["single"] = _singles(ledger, entries - single_total, singles, repeats, checkpoints)
        if ledger.newest_size() != entries:
            raise AssertionError(f"the log holds {ledger.newest_size()}, not {entries}")
        results["load_average_proofs"] = [round(x, 2) for x in os.getloadavg()]
        print(f"proofs, tiles and receipts at {entries:,} entries", flush=True)
        proofs, receipts, consistency = _proofs(
            store, ledger, entries, samples, repeats, checkpoints, rng
        )
        results["proofs"] = proofs
        print("client-side verification", flush=True)
        results["verify"] = _verification(ledger.vkey, receipts, consistency, repeats)
        results["components_us"] = _components(store, ledger, entries)
        results["checkpoints"] = len(checkpoints)
        store.close()
        wal = path.with_name(path.name + "-wal")
        db_bytes = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        results["store"] |= {
            "db_bytes": db_bytes,
            "bytes_per_entry": round(db_bytes / entries, 1),
            "tables": _tables(path),
        }
        if audit:
            print("whole-store audit", flush=True)
            store = SqliteStore(path)
            gc.collect()
            with _HeapPeak() as heap:
                t0 = time.perf_counter()
                report = audit_store(store)
                seconds = time.perf_counter() - t0
            store.close()
            results["audit"] = {
                "seconds": round(seconds, 1),
                "ok": report.ok,
                "problems": report.problems[:10],
                "checked": report.checked,
                "heap_mb_before": round(heap.before, 1),
                "heap_mb_peak": round(heap.peak, 1),
            }
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    results["runtime_s"] = round(time.perf_counter() - started, 1)
    results["started"] = dt.datetime.now(dt.UTC).isoformat()
    _print_table(results)
    return results


def _print_table(r: dict[str, Any]) -> None:
    b, s = r["batched"], r["single"]
    print(
        f"\nledger at {r['entries']:,} entries "
        f"(records ~{r['record_bytes']['mean']:.0f} B, WAL, synchronous=FULL)"
    )
    print(
        f"  batched append ({b['records_per_tx']}/tx): {b['entries_per_s']:,.0f} entries/s "
        f"overall, {b['entries_per_s_last_window']:,.0f} entries/s near the end; "
        f"tx p50 {b['tx_p50_ms']:.2f} ms p99 {b['tx_p99_ms']:.2f} ms"
    )
    print(
        f"  one record + checkpoint + receipt per tx: {s['throughput_per_s']:,.0f} tx/s, "
        f"p50 {s['p50_ms']:.3f} ms p99 {s['p99_ms']:.3f} ms; stages p50 "
        + ", ".join(f"{k} {v:.3f}" for k, v in s["stages_p50_ms"].items())
        + " ms"
    )
    print(f"  {'operation':<32}{'p50 ms':>10}{'p99 ms':>10}")
    for group in ("proofs", "verify"):
        for name, v in r[group].items():
            if "p50_ms" in v:
                print(f"  {group + '.' + name:<32}{v['p50_ms']:>10.4f}{v['p99_ms']:>10.4f}")
    print("  pieces (median µs): " + ", ".join(f"{k} {v}" for k, v in r["components_us"].items()))
    st = r["store"]
    print(f"  store: {st['db_bytes'] / 1e6:,.0f} MB ({st['bytes_per_entry']:.0f} B/entry)")
    if "audit" in r:
        a = r["audit"]
        print(
            f"  audit: {a['seconds']:.1f} s, ok={a['ok']}, "
            f"heap {a['heap_mb_before']:.0f} MB before, peak {a['heap_mb_peak']:.0f} MB"
        )
    print(f"  runtime {r['runtime_s']:.0f} s")
