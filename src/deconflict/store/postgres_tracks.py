"""Position reports, the newest state per aircraft and raised track conditions (PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from .postgres_rows import Repo, fetch, insert, values
from .records import TrackPoint

__all__ = ["PostgresTracks"]

_MEASURES = "lon, lat, alt_lo, alt_hi, east, north, up"
_COLUMNS = f"party, aircraft, time, {_MEASURES}"
_ADVANCE = (
    insert("track_state", f"{_COLUMNS}, seq", "party, aircraft", f"time, {_MEASURES}, seq")
    + " WHERE excluded.time > track_state.time"
)


class PostgresTracks(Repo):
    def add_reports(self, points: Sequence[TrackPoint]) -> None:
        """Keep every report; a repeated (aircraft, time) replaces the earlier one."""
        with self._c.cursor() as cur:
            cur.executemany(
                insert("track_reports", _COLUMNS, "party, aircraft, time", _MEASURES),
                [values(p, _COLUMNS) for p in points],
            )

    def advance(self, points: Sequence[TrackPoint]) -> list[TrackPoint]:
        """Make each point its aircraft's state unless a newer one is known; returns those taken.

        The states taken are stamped with the next change number: ``max(seq) + 1`` is
        safe, as write transactions are serialised.
        """
        if not points:
            return []
        keys = sorted({(p.party, p.aircraft) for p in points})
        known = dict(
            ((party, aircraft), time)
            for party, aircraft, time in self._c.execute(
                "SELECT s.party, s.aircraft, s.time FROM track_state AS s"
                " JOIN unnest(%s::text[], %s::text[]) AS k(party, aircraft)"
                " ON s.party = k.party AND s.aircraft = k.aircraft",
                ([k[0] for k in keys], [k[1] for k in keys]),
            )
        )
        newest: dict[tuple[str, str], TrackPoint] = {}
        for p in points:
            key = (p.party, p.aircraft)
            best, state = newest.get(key), known.get(key)
            if (best is None or p.time > best.time) and (state is None or p.time > state):
                newest[key] = p
        if not newest:
            return []
        row = self._c.execute("SELECT coalesce(max(seq), 0) + 1 FROM track_state").fetchone()
        seq = row[0] if row else 1
        with self._c.cursor() as cur:
            cur.executemany(
                _ADVANCE,
                [(*values(p, _COLUMNS), seq) for p in newest.values()],
            )
        return list(newest.values())

    def states(self, since: dt.datetime) -> list[TrackPoint]:
        """Every aircraft's newest state, if it is no older than ``since``."""
        query = f"SELECT {_COLUMNS} FROM track_state WHERE time >= %s ORDER BY party, aircraft"
        return fetch(self._c, TrackPoint, query, (since,))

    def changed(self, after: int) -> tuple[int, list[TrackPoint]]:
        """The latest change number, and the states stamped after change ``after``."""
        row = self._c.execute("SELECT coalesce(max(seq), 0) FROM track_state").fetchone()
        latest = int(row[0]) if row else 0
        if latest <= after:
            return latest, []
        query = f"SELECT {_COLUMNS} FROM track_state WHERE seq > %s ORDER BY seq"
        return latest, fetch(self._c, TrackPoint, query, (after,))

    def reports_near(
        self, box: tuple[float, float, float, float], start: dt.datetime, end: dt.datetime
    ) -> list[TrackPoint]:
        """Reports within a lon/lat box and a time window (for identification)."""
        west, south, east, north = box
        return fetch(
            self._c,
            TrackPoint,
            f"SELECT {_COLUMNS} FROM track_reports WHERE time >= %s AND time <= %s"
            " AND lon >= %s AND lon <= %s AND lat >= %s AND lat <= %s ORDER BY time",
            (start, end, west, east, south, north),
        )

    def prune(self, before: dt.datetime) -> int:
        """Forget reports older than the retention window."""
        return self._c.execute("DELETE FROM track_reports WHERE time < %s", (before,)).rowcount

    def flags(self, kind: str, party: str | None = None) -> dict[tuple[str, str, str], dt.datetime]:
        """Raised conditions of a kind, of one party's aircraft or of all."""
        rows = self._c.execute(
            "SELECT party, aircraft, other, since FROM track_flags"
            " WHERE kind = %s AND party = coalesce(%s, party)",
            (kind, party),
        ).fetchall()
        return {(r[0], r[1], r[2]): r[3] for r in rows}

    def raise_flags(self, kind: str, keys: Sequence[tuple[str, str, str]], at: dt.datetime) -> None:
        with self._c.cursor() as cur:
            cur.executemany(
                "INSERT INTO track_flags (kind, party, aircraft, other, since)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [(kind, *k, at) for k in keys],
            )

    def clear_flags(self, kind: str, keys: Sequence[tuple[str, str, str]]) -> None:
        with self._c.cursor() as cur:
            cur.executemany(
                "DELETE FROM track_flags"
                " WHERE kind = %s AND party = %s AND aircraft = %s AND other = %s",
                [(kind, *k) for k in keys],
            )
