"""The facade's documents: one JSON document per (kind, key), on either backend.

Both SQLite and PostgreSQL speak the same SQL here but for the placeholder, so
one class serves both, given the connection and its placeholder.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["FacadeDocs"]


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

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        """Write the document, replacing any under the same kind and key."""
        text = json.dumps(doc, separators=(",", ":"), sort_keys=True)
        self._c.execute(
            self._sql(
                "INSERT INTO facade (kind, key, doc) VALUES (?, ?, ?)"
                " ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc"
            ),
            (kind, key, text),
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
