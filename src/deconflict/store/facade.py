"""The facade's documents: one JSON document per (kind, key), on either backend.

A document may carry a screen, a time span and a lon/lat box, so that a query
reads only the documents whose screen meets its own. Both SQLite and
PostgreSQL speak the same SQL here but for the placeholder, so one class serves
both, given the connection and its placeholder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["FacadeDocs", "Screen"]


@dataclass(frozen=True)
class Screen:
    """A span ``[t0, t1)`` in microseconds since 1970, and a non-wrapping lon/lat box."""

    t0: int
    t1: int
    west: float
    south: float
    east: float
    north: float


class FacadeDocs:
    """``facade`` rows on the transaction's connection."""

    def __init__(self, conn: Any, placeholder: str) -> None:
        self._c = conn
        self._p = placeholder

    def _sql(self, text: str) -> str:
        return text.replace("?", self._p)

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        row = self._c.execute(
            self._sql("SELECT doc FROM facade WHERE kind = ? AND key = ?"), (kind, key)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def put(self, kind: str, key: str, doc: dict[str, Any], screen: Screen | None = None) -> None:
        """Write the document, replacing any under the same kind and key.

        Without a screen, a document already there keeps its own.
        """
        text = json.dumps(doc, separators=(",", ":"), sort_keys=True)
        columns = (
            (None,) * 6
            if screen is None
            else (screen.t0, screen.t1, screen.west, screen.south, screen.east, screen.north)
        )
        kept = ", ".join(
            f"{c} = COALESCE(excluded.{c}, facade.{c})"
            for c in ("t0", "t1", "west", "south", "east", "north")
        )
        self._c.execute(
            self._sql(
                "INSERT INTO facade (kind, key, doc, t0, t1, west, south, east, north)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                f" ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc, {kept}"
            ),
            (kind, key, text, *columns),
        )

    def delete(self, kind: str, key: str) -> bool:
        cursor = self._c.execute(
            self._sql("DELETE FROM facade WHERE kind = ? AND key = ?"), (kind, key)
        )
        return bool(cursor.rowcount)

    def all(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        rows = self._c.execute(
            self._sql("SELECT key, doc FROM facade WHERE kind = ? ORDER BY key"), (kind,)
        ).fetchall()
        return [(str(key), dict(json.loads(doc))) for key, doc in rows]

    def screened(self, kind: str, screen: Screen) -> list[tuple[str, dict[str, Any]]]:
        """Documents whose screen meets ``screen`` (spans and boxes overlap), or have none."""
        rows = self._c.execute(
            self._sql(
                "SELECT key, doc FROM facade WHERE kind = ? AND (t0 IS NULL OR ("
                " t1 > ? AND t0 < ? AND west <= ? AND east >= ? AND south <= ? AND north >= ?))"
                " ORDER BY key"
            ),
            (kind, screen.t0, screen.t1, screen.east, screen.west, screen.north, screen.south),
        ).fetchall()
        return [(str(key), dict(json.loads(doc))) for key, doc in rows]
