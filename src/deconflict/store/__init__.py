"""Storage behind narrow protocols; :func:`open_store` picks the backend from a URL."""

from __future__ import annotations

from pathlib import Path

from deconflict import errors

from .protocols import Store, Transaction
from .records import (
    VOLUME_HIT_COLUMNS,
    ConflictRecord,
    DisclosureRecord,
    Extent,
    NoticeRecord,
    PartyRecord,
    VolumeRow,
)
from .sqlite import SqliteStore

__all__ = [
    "VOLUME_HIT_COLUMNS",
    "ConflictRecord",
    "DisclosureRecord",
    "Extent",
    "NoticeRecord",
    "PartyRecord",
    "SqliteStore",
    "Store",
    "Transaction",
    "VolumeRow",
    "open_store",
]


def open_store(url: str, *, create: bool = True) -> Store:
    """A store for ``sqlite:///path``, a plain file path, or ``postgresql://…``.

    A new store is made (or an older one migrated) as needed; with ``create=False``
    there must be one already, as for commands that read or audit a store.
    """
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore  # psycopg is loaded only for this backend

        return PostgresStore(url, create=create)
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    if not path or path == ":memory:":
        raise errors.InvalidValue("give a file path for the SQLite store", field="db")
    if not create and not Path(path).is_file():
        raise errors.NotFound(f"no store at {path}", field="db")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(path)
