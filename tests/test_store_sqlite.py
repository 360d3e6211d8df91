"""The SQLite backend against the store contract, plus what is SQLite-specific."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deconflict import errors
from deconflict.store import SqliteStore, Store, open_store
from store_contract import StoreContract


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{db_path}")
    yield s
    s.close()


@pytest.fixture
def reopen(db_path: Path) -> Callable[[], Store]:
    return lambda: open_store(str(db_path))


class TestSqliteStore(StoreContract):
    pass


def test_the_file_is_durable_wal(db_path: Path) -> None:
    store = SqliteStore(db_path)
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._writer.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    conn.close()
    store.close()


def test_migrations_run_once(db_path: Path) -> None:
    first = SqliteStore(db_path)
    assert first.schema_version == 9
    first.close()
    second = SqliteStore(db_path)  # would fail with "table exists" if re-run
    assert second.schema_version == 9
    second.close()


def test_an_in_memory_url_is_refused_clearly() -> None:
    with pytest.raises(errors.InvalidValue) as caught:
        open_store(":memory:")
    assert caught.value.field == "db"
