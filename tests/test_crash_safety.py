"""SIGKILL under write load loses no acknowledged write, on SQLite and on PostgreSQL (short).

The full run, 50 kills per backend, is ``scripts/crash_safety.py``; its figures
are in docs/crash-safety.md.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import crash_safety

KILLS = 5


def _assert_nothing_lost(result: crash_safety.Result) -> None:
    assert len(result.cycles) == KILLS
    for cycle in result.cycles:
        assert cycle.acknowledged > 0, f"kill {cycle.number} came before any write was answered"
        assert cycle.checked >= cycle.acknowledged
    assert sum(c.in_flight for c in result.cycles) > 0, "no kill cut a request: proves little"
    for kind in ("submit", "update", "cancel", "ack", "alert_ack", "tracks"):
        assert result.acknowledged[kind] > 0, f"no {kind} was acknowledged"
    assert result.lost == []
    assert result.verify_failures == 0, [c.verify_report for c in result.cycles]
    assert result.unexpected == []
    assert result.errors == []


def test_sigkill_loses_nothing_on_sqlite(tmp_path: Path) -> None:
    result = crash_safety.run(
        str(tmp_path / "crash.db"), KILLS, seed=1, min_delay=1.0, max_delay=1.5, workdir=tmp_path
    )
    _assert_nothing_lost(result)


def test_sigkill_loses_nothing_on_postgresql(
    pg_database: Callable[[], str], tmp_path: Path
) -> None:
    result = crash_safety.run(
        pg_database(), KILLS, seed=2, min_delay=1.0, max_delay=1.5, workdir=tmp_path
    )
    _assert_nothing_lost(result)


def test_the_checks_name_what_a_store_lost(tmp_path: Path) -> None:
    """Take back an update, an alert ack, an alert, a conflict and a position report by hand.

    Each is named, and nothing else is.
    """
    db = str(tmp_path / "crash.db")
    names = ["crash-a", "crash-b", "crash-c"]
    tokens = crash_safety.add_parties(db, names)
    book = crash_safety.Book()
    writers = [
        crash_safety.Writer(n, p, tokens[p], [o for o in names if o != p], seed=n)
        for n, p in enumerate(names)
    ]
    server = crash_safety.Server(db, crash_safety.free_port(), tmp_path / "server.log")
    server.start()
    try:
        stop = threading.Event()
        threads = [threading.Thread(target=w.run, args=(server.url, book, stop)) for w in writers]
        for thread in threads:
            thread.start()
        time.sleep(2.0)
        stop.set()
        for thread in threads:
            thread.join()
        server.stop()
        assert book.errors == []

        updated = next(i for i, n in book.notices.items() if n.version >= 2 and not n.cancelled)
        party, alerts = next((p, ids) for p, ids in book.alert_acks.items() if ids)
        alert = min(alerts)
        report = book.reports[-1]
        told = next(c for c in book.conflicts if c.other_party != party)
        kept = book.conflicts[-1]
        with closing(sqlite3.connect(db)) as conn, conn:
            conn.execute("UPDATE notices SET version = version - 1 WHERE id = ?", (updated,))
            conn.execute("UPDATE alerts SET acked_at = NULL WHERE seq = ?", (alert,))
            dropped = [
                seq
                for (seq,) in conn.execute(
                    "SELECT seq FROM alerts WHERE party = ? AND type = 'conflict'"
                    " AND data ->> '$.cause.id' = ? AND data ->> '$.cause.version' = ?",
                    (told.other_party, told.notice, told.version),
                )
            ]
            conn.executemany("DELETE FROM alerts WHERE seq = ?", [(seq,) for seq in dropped])
            conn.execute(
                "DELETE FROM conflicts WHERE ? IN (a, b) AND ? IN (a, b)", (kept.notice, kept.other)
            )
            conn.execute(
                "DELETE FROM track_reports WHERE party = ? AND aircraft = ?",
                (report.party, report.aircraft),
            )

        server.start()
        checker = crash_safety.Checker(server.url, tokens, book)
        try:
            due = book.everything()
            checker.notices(due.notices)
            checker.alert_acks(due.alert_acks)
            checker.conflict_alerts(due.conflicts)
            checker.conflict_records(due.conflicts)
            checker.reports(due.reports)
        finally:
            checker.close()
    finally:
        server.stop()

    version = book.notices[updated].version
    lost = "\n".join(checker.lost)
    assert f"notice {updated}: version {version - 1}, acknowledged {version}" in lost
    assert f"alert {alert} of {party}: not acknowledged" in lost
    assert f"report {report.aircraft} at" in lost
    assert f"alert to {told.other_party} of {told.notice} v{told.version} ×" in lost
    assert f"conflict {kept.notice} × {kept.other} not listed to {kept.party}" in lost
    # A dropped alert that had been acknowledged is named as such too.
    doctored = [report.aircraft, updated, told.notice, kept.notice]
    doctored += [f"alert {seq} of" for seq in (alert, *dropped)]
    assert all(any(name in x for name in doctored) for x in checker.lost), lost
