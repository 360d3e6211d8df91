"""Meters and showings: rations, budgets and alert thresholds that every process shares.

A meter is a level under a key that drains at a steady rate, kept as the level
and the time it was last brought up to date. Both SQLite and PostgreSQL speak
the same SQL here but for the placeholder, so one class serves both, as
:mod:`deconflict.store.facade` does. Callers use them inside a write
transaction, which serialises every process's reads and updates of a key.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Meters", "Showings"]


class Meters:
    """``meters`` rows on the transaction's connection."""

    def __init__(self, conn: Any, placeholder: str) -> None:
        self._c = conn
        self._p = placeholder

    def get(self, key: str) -> tuple[float, float] | None:
        """The stored level and when it was stored (seconds since 1970), or ``None``."""
        row = self._c.execute(
            f"SELECT level, at FROM meters WHERE key = {self._p}", (key,)
        ).fetchone()
        return None if row is None else (float(row[0]), float(row[1]))

    def put(self, key: str, level: float, at: float) -> None:
        p = self._p
        self._c.execute(
            f"INSERT INTO meters (key, level, at) VALUES ({p}, {p}, {p})"
            " ON CONFLICT (key) DO UPDATE SET level = excluded.level, at = excluded.at",
            (key, level, at),
        )


class Showings:
    """``shown`` rows: which rounded views of a notice version a party has been shown."""

    def __init__(self, conn: Any, placeholder: str) -> None:
        self._c = conn
        self._p = placeholder

    def first(
        self, recipient: str, notice_id: str, version: int, digest: str, at: float, since: float
    ) -> bool:
        """Note a showing; whether it is the first of that view since ``since``.

        Older showings of the same notice to the same party are dropped on the way,
        so the table holds about a day of each pair's views.
        """
        p = self._p
        self._c.execute(
            f"DELETE FROM shown WHERE recipient = {p} AND notice_id = {p} AND at < {p}",
            (recipient, notice_id, since),
        )
        cursor = self._c.execute(
            "INSERT INTO shown (recipient, notice_id, notice_version, digest, at)"
            f" VALUES ({p}, {p}, {p}, {p}, {p})"
            " ON CONFLICT (recipient, notice_id, notice_version, digest)"
            f" DO UPDATE SET at = excluded.at WHERE shown.at < {p}",
            (recipient, notice_id, version, digest, at, since),
        )
        return bool(cursor.rowcount == 1)
