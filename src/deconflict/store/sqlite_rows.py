"""Conversions between SQLite rows and records, shared by the embedded store's repositories."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

from .records import DisclosureRecord

__all__ = ["disclosure", "dump", "fixed_ts", "instant", "ts"]


def ts(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat()


def fixed_ts(instant: dt.datetime) -> str:
    """Fixed-width UTC text, so that comparing the text compares the instants."""
    return instant.astimezone(dt.UTC).isoformat(timespec="microseconds")


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def disclosure(row: sqlite3.Row) -> DisclosureRecord:
    return DisclosureRecord(
        instant(row["at"]),
        row["recipient"],
        row["owner"],
        row["notice_id"],
        row["notice_version"],
        row["reason"],
        row["level"],
        json.loads(row["view"]),
        row["ledger_idx"],
    )
