"""``python -m bench``: run the benchmarks and write JSON results and PNG plots.

python -m bench engine [--sizes 10000,100000,1000000] [--queries 2000] [--repeats 3]
                       [--no-postgis]
python -m bench http   [--size 100000] [--clients 16] [--seconds 20]
python -m bench rss    [--size 1000000]
python -m bench ledger [--entries 1000000] [--batch 100] [--singles 2000] [--samples 1000]
                       [--repeats 3] [--no-audit] [--keep DIR]
python -m bench alerts [--rate 100] [--seconds 30]
python -m bench tracks [--aircraft 10000] [--rounds 3]
python -m bench dss    [--uss 20] [--subscriptions 10] [--preload 500] [--clients 8] [--seconds 20]
                       [--db postgresql://…]
python -m bench check  [--sizes 10000,50000] [--no-postgis]
python -m bench heavy  [--size 100000] [--volumes 20000]
python -m bench plot
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os
    import sqlite3

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip(),
    }


def _save(name: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    result["machine"] = machine()
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="what", required=True)
    engine = sub.add_parser("engine", help="measures 1 and 2: engine query vs PostGIS")
    engine.add_argument("--sizes", default="10000,100000,1000000")
    engine.add_argument("--queries", type=int, default=2000)
    engine.add_argument("--repeats", type=int, default=3)
    engine.add_argument("--no-postgis", action="store_true")
    http = sub.add_parser("http", help="measure 3: conflict-checked admission over HTTP")
    http.add_argument("--size", type=int, default=100_000)
    http.add_argument("--clients", type=int, default=16)
    http.add_argument("--seconds", type=float, default=20.0)
    http.add_argument("--db", help="an empty store URL, e.g. postgresql://… (default: SQLite)")
    http.add_argument("--servers", type=int, default=1, help="API processes sharing the store")
    rss = sub.add_parser("rss", help="measure 4: server RSS with N active volumes")
    rss.add_argument("--size", type=int, default=1_000_000)
    ledger = sub.add_parser("ledger", help="ledger append throughput and proof latency")
    ledger.add_argument("--entries", type=int, default=1_000_000)
    ledger.add_argument("--batch", type=int, default=100, help="records per batched transaction")
    ledger.add_argument(
        "--singles", type=int, default=2000, help="one-record transactions per repeat"
    )
    ledger.add_argument("--samples", type=int, default=1000, help="proof samples per repeat")
    ledger.add_argument("--repeats", type=int, default=3)
    ledger.add_argument("--no-audit", action="store_true")
    ledger.add_argument("--keep", type=Path, help="make the store in this folder and keep it")
    alerts = sub.add_parser("alerts", help="alert latency from commit to webhook arrival")
    alerts.add_argument("--rate", type=float, default=100.0, help="notices per second")
    alerts.add_argument("--seconds", type=float, default=30.0)
    tracks = sub.add_parser("tracks", help="track ingest with every check on")
    tracks.add_argument("--aircraft", type=int, default=10_000)
    tracks.add_argument("--rounds", type=int, default=3)
    tracks.add_argument(
        "--every",
        type=int,
        default=1,
        help="seconds between a party's batches (one report a second each)",
    )
    concurrency = sub.add_parser(
        "concurrency", help="strict awareness with client threads across API processes"
    )
    concurrency.add_argument("--db", help="store URL (default: a fresh SQLite file)")
    concurrency.add_argument("--processes", type=int, default=2)
    concurrency.add_argument("--threads", type=int, default=8)
    concurrency.add_argument("--seconds", type=float, default=60.0)
    track_alerts = sub.add_parser(
        "track-alerts", help="track alert latency over HTTP with the fleet reporting live"
    )
    track_alerts.add_argument("--aircraft", type=int, default=10_000)
    track_alerts.add_argument("--every", type=int, default=5, help="seconds between batches")
    track_alerts.add_argument("--seconds", type=float, default=30.0)
    dss = sub.add_parser("dss", help="the F3548 facade: intent create/update/delete over HTTP")
    dss.add_argument("--uss", type=int, default=20, help="USSs, each with its own token")
    dss.add_argument("--subscriptions", type=int, default=10, help="subscriptions per USS")
    dss.add_argument(
        "--preload",
        type=int,
        default=500,
        help="intents made before the run (each write scans them)",
    )
    dss.add_argument("--clients", type=int, default=8, help="client processes")
    dss.add_argument("--seconds", type=float, default=20.0)
    dss.add_argument("--db", help="an empty store URL, e.g. postgresql://… (default: SQLite)")
    check = sub.add_parser("check", help="whole-theater check vs a PostGIS self-join")
    check.add_argument("--sizes", default="10000,50000")
    check.add_argument("--no-postgis", action="store_true")
    heavy = sub.add_parser("heavy", help="detection for one notice of many volumes")
    heavy.add_argument("--size", type=int, default=100_000, help="active volumes stored")
    heavy.add_argument("--volumes", type=int, default=20_000, help="volumes in the notice")
    sub.add_parser("plot", help="PNG plots from the JSON results")
    args = parser.parse_args()
    if args.what == "heavy":
        from bench.heavy import run_heavy

        _save("heavy", run_heavy(args.size, args.volumes))
    elif args.what == "check":
        from bench.check import run_check

        sizes = [int(s) for s in args.sizes.split(",")]
        _save("check", run_check(sizes, not args.no_postgis))
    elif args.what == "engine":
        from bench.engine import run_engine

        sizes = [int(s) for s in args.sizes.split(",")]
        _save("engine", run_engine(sizes, args.queries, args.repeats, not args.no_postgis))
    elif args.what == "http":
        from bench.http import run_http

        result = run_http(
            args.size, args.clients, args.seconds, db_url=args.db, servers=args.servers
        )
        name = "http" if args.db is None else f"http-{result['store']}-{args.servers}p"
        _save(name, result)
    elif args.what == "rss":
        from bench.http import run_rss

        _save("rss", run_rss(args.size))
    elif args.what == "tracks":
        from bench.tracks import run_tracks

        result = run_tracks(args.aircraft, args.rounds, args.every)
        _save("tracks" if args.every == 1 else f"tracks-every{args.every}", result)
    elif args.what == "track-alerts":
        from bench.track_alerts import run_track_alerts

        _save("track-alerts", run_track_alerts(args.aircraft, args.every, args.seconds))
    elif args.what == "concurrency":
        from bench.concurrency import run_concurrency

        result = run_concurrency(args.db, args.processes, args.threads, args.seconds)
        _save(f"concurrency-{result['db']}-{args.processes}p", result)
    elif args.what == "alerts":
        from bench.alerts import run_alerts

        _save("alerts", run_alerts(args.rate, args.seconds))
    elif args.what == "dss":
        from bench.dss import print_summary, run_dss

        result = run_dss(
            args.uss, args.subscriptions, args.preload, args.clients, args.seconds, db=args.db
        )
        print_summary(result)
        _save("dss" if args.db is None else "dss-postgresql", result)
    elif args.what == "ledger":
        from bench.ledger import run_ledger

        _save(
            "ledger",
            run_ledger(
                args.entries,
                args.batch,
                args.singles,
                args.samples,
                args.repeats,
                not args.no_audit,
                args.keep,
            ),
        )
    else:
        from bench.plots import plot_all

        plot_all(RESULTS)


if __name__ == "__main__":
    main()
