"""Position reports, the newest state per aircraft and raised track conditions (SQLite)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence

from .records import TrackPoint
from .sqlite_rows import fixed_ts as _ts

__all__ = ["SqliteTracks"]

_COLUMNS = "party, aircraft, time, lon, lat, alt_lo, alt_hi, east, north, up"


def _point(row: sqlite3.Row) -> TrackPoint:
    return TrackPoint(
        row["party"],
        row["aircraft"],
        dt.datetime.fromisoformat(row["time"]),
        row["lon"],
        row["lat"],
        row["alt_lo"],
        row["alt_hi"],
        row["east"],
        row["north"],
        row["up"],
    )


def _values(p: TrackPoint, stamps: dict[dt.datetime, str]) -> tuple[object, ...]:
    stamp = stamps.get(p.time)
    if stamp is None:
        stamp = stamps[p.time] = _ts(p.time)  # a batch shares a few instants
    return (p.party, p.aircraft, stamp, *p[3:])  # the columns in the record's order


class SqliteTracks:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    def add_reports(self, points: Sequence[TrackPoint]) -> None:
        """Keep every report; a repeated (aircraft, time) replaces the earlier one."""
        stamps: dict[dt.datetime, str] = {}
        self._c.executemany(
            f"INSERT OR REPLACE INTO track_reports ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [_values(p, stamps) for p in points],
        )

    def advance(self, points: Sequence[TrackPoint]) -> list[TrackPoint]:
        """Make each point its aircraft's state unless a newer one is known; returns those taken.

        The states taken are stamped with the next change number.
        """
        if not points:
            return []
        keys = json.dumps(sorted({(p.party, p.aircraft) for p in points}))
        known = {
            (r[0], r[1]): r[2]
            for r in self._c.execute(
                "SELECT party, aircraft, time FROM track_state WHERE (party, aircraft) IN"
                " (SELECT value ->> 0, value ->> 1 FROM json_each(?))",
                (keys,),
            )
        }
        newest: dict[tuple[str, str], tuple[str, TrackPoint]] = {}
        stamps: dict[dt.datetime, str] = {}
        for p in points:
            key, stamp = (p.party, p.aircraft), stamps.get(p.time)
            if stamp is None:
                stamp = stamps[p.time] = _ts(p.time)
            best = newest.get(key)
            if (best is None or stamp > best[0]) and stamp > known.get(key, ""):
                newest[key] = (stamp, p)
        if not newest:
            return []
        seq = self._c.execute("SELECT coalesce(max(seq), 0) + 1 FROM track_state").fetchone()[0]
        self._c.executemany(
            f"INSERT INTO track_state ({_COLUMNS}, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (party, aircraft) DO UPDATE SET time = excluded.time,"
            " lon = excluded.lon, lat = excluded.lat, alt_lo = excluded.alt_lo,"
            " alt_hi = excluded.alt_hi, east = excluded.east, north = excluded.north,"
            " up = excluded.up, seq = excluded.seq WHERE excluded.time > track_state.time",
            [(*_values(p, stamps), seq) for _, p in newest.values()],
        )
        return [p for _, p in newest.values()]

    def states(self, since: dt.datetime) -> list[TrackPoint]:
        """Every aircraft's newest state, if it is no older than ``since``."""
        rows = self._c.execute(
            f"SELECT {_COLUMNS} FROM track_state WHERE time >= ? ORDER BY party, aircraft",
            (_ts(since),),
        ).fetchall()
        return [_point(r) for r in rows]

    def changed(self, after: int) -> tuple[int, list[TrackPoint]]:
        """The latest change number, and the states stamped after change ``after``."""
        latest = self._c.execute("SELECT coalesce(max(seq), 0) FROM track_state").fetchone()[0]
        if latest <= after:
            return int(latest), []
        rows = self._c.execute(
            f"SELECT {_COLUMNS} FROM track_state WHERE seq > ? ORDER BY seq", (after,)
        ).fetchall()
        return int(latest), [_point(r) for r in rows]

    def reports_near(
        self, box: tuple[float, float, float, float], start: dt.datetime, end: dt.datetime
    ) -> list[TrackPoint]:
        """Reports within a lon/lat box and a time window (for identification)."""
        west, south, east, north = box
        rows = self._c.execute(
            f"SELECT {_COLUMNS} FROM track_reports WHERE time >= ? AND time <= ?"
            " AND lon >= ? AND lon <= ? AND lat >= ? AND lat <= ? ORDER BY time",
            (_ts(start), _ts(end), west, east, south, north),
        ).fetchall()
        return [_point(r) for r in rows]

    def prune(self, before: dt.datetime) -> int:
        """Forget reports older than the retention window."""
        cur = self._c.execute("DELETE FROM track_reports WHERE time < ?", (_ts(before),))
        return cur.rowcount

    def flags(self, kind: str, party: str | None = None) -> dict[tuple[str, str, str], dt.datetime]:
        """Raised conditions of a kind, of one party's aircraft or of all."""
        where, args = (
            ("kind = ?", (kind,)) if party is None else ("kind = ? AND party = ?", (kind, party))
        )
        rows = self._c.execute(
            f"SELECT party, aircraft, other, since FROM track_flags WHERE {where}", args
        ).fetchall()
        return {(r[0], r[1], r[2]): dt.datetime.fromisoformat(r[3]) for r in rows}

    def raise_flags(self, kind: str, keys: Sequence[tuple[str, str, str]], at: dt.datetime) -> None:
        self._c.executemany(
            "INSERT OR IGNORE INTO track_flags (kind, party, aircraft, other, since)"
            " VALUES (?, ?, ?, ?, ?)",
            [(kind, *k, _ts(at)) for k in keys],
        )

    def clear_flags(self, kind: str, keys: Sequence[tuple[str, str, str]]) -> None:
        self._c.executemany(
            "DELETE FROM track_flags WHERE kind = ? AND party = ? AND aircraft = ? AND other = ?",
            [(kind, *k) for k in keys],
        )
