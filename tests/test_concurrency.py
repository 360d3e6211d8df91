"""Strict awareness across two API processes, on SQLite and on PostgreSQL (a short run).

The full run is ``python -m bench concurrency --seconds 60 [--db URL]``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import concurrency

SECONDS = 8.0


def _assert_sound(result: dict[str, Any]) -> None:
    assert result["errors"] == []
    assert result["accepted"] >= 20, "too few writes to say anything"
    assert result["refused_409"] > 0, "no race happened: the run proves nothing"
    assert result["conflicts"] > 0
    for count in (
        "awareness_violations",
        "missed_conflicts",
        "lost_writes",
        "unexpected_writes",
        "duplicated_writes",
        "gave_up",
    ):
        assert result[count] == 0, (count, result["examples"])


def test_two_processes_on_sqlite(tmp_path: Path) -> None:
    _assert_sound(concurrency.run_concurrency(str(tmp_path / "c.db"), 2, 8, SECONDS))


def test_two_processes_on_postgresql(pg_database: Callable[[], str]) -> None:
    _assert_sound(concurrency.run_concurrency(pg_database(), 2, 8, SECONDS))


def test_the_checker_sees_a_write_that_was_not_aware(tmp_path: Path) -> None:
    """Doctor one accepted write's awareness after the fact: the check must name it."""
    db = str(tmp_path / "c.db")
    tally = concurrency._Tally()
    parties = ["c0", "c1"]
    tokens = [concurrency._cli("party", "add", p, "--name", p, "--db", db).strip() for p in parties]
    process, url = concurrency._serve(db, tmp_path / "server.log")
    try:
        for k in range(2):  # one party after the other: the second must list the first's
            concurrency._client(url, parties[k], tokens[k], k, time.monotonic() + 1.0, tally)
    finally:
        process.terminate()
        process.wait(timeout=30)
    clean = concurrency._check(db, tally, parties)
    assert clean["violations"] == [] and clean["conflicts"] > 0
    later = max(tally.accepted, key=lambda a: a.index)
    if not later.aware:
        pytest.fail("the last write saw no conflict: the area is too wide for this test")
    later.aware.clear()
    doctored = concurrency._check(db, tally, parties)
    assert doctored["violations"], "a write that listed nothing it conflicts with went unnoticed"
    assert all(pair[1] == later.id for pair in doctored["violations"])
