"""The PostgreSQL backend against the store contract, plus what is PostgreSQL-specific:
migrations under concurrent starts, writes serialised across processes, lost connections.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest

from deconflict import errors
from deconflict.model import Party, Role
from deconflict.store import Store, open_store
from deconflict.store.postgres import PostgresStore
from store_contract import T0, StoreContract

# Every table but schema_migrations, newest first: a table only refers to older ones.
_TABLES = """
SELECT format('%I', relname) FROM pg_class
WHERE relkind = 'r' AND relnamespace = current_schema()::regnamespace
AND relname <> 'schema_migrations' ORDER BY oid DESC
"""


def _empty(url: str) -> None:
    """Delete every row between contract tests (far quicker than TRUNCATE on small tables)."""
    with psycopg.connect(url) as conn:
        for (table,) in conn.execute(_TABLES).fetchall():
            conn.execute(f"DELETE FROM {table}")


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    s = open_store(pg_url)
    _empty(pg_url)
    yield s
    s.close()


@pytest.fixture
def reopen(pg_url: str) -> Callable[[], Store]:
    return lambda: open_store(pg_url)


class TestPostgresStore(StoreContract):
    pass


# --- migrations --------------------------------------------------------------------------------


def _migrations(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def test_migrations_run_once(pg_database: Callable[[], str]) -> None:
    url = pg_database()
    first = PostgresStore(url)
    assert first.schema_version == 9
    first.close()
    second = PostgresStore(url)  # would fail with "relation already exists" if re-run
    assert second.schema_version == 9
    second.close()
    assert _migrations(url) == [1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_a_database_without_a_store_is_not_made_one_when_asked(
    pg_database: Callable[[], str],
) -> None:
    """What only reads or audits a store (``deconflict verify --db``) must not create one."""
    url = pg_database()
    with pytest.raises(errors.NotFound):
        open_store(url, create=False)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,)
    open_store(url).close()
    open_store(url, create=False).close()


_OPEN = """
import sys
from deconflict.store import open_store
store = open_store(sys.argv[1])
print(store.schema_version)
store.close()
"""


def test_processes_starting_at_once_migrate_once(pg_database: Callable[[], str]) -> None:
    """API processes started together on an empty database: one migrates, the others wait."""
    url = pg_database()
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    outcomes = [(p.wait(timeout=60), *p.communicate()) for p in runs]
    assert [(code, out.strip(), err) for code, out, err in outcomes] == [(0, b"9", b"")] * 4
    assert _migrations(url) == [1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_threads_opening_at_once_share_the_schema(pg_database: Callable[[], str]) -> None:
    url = pg_database()
    start = threading.Barrier(3)
    stores: list[Store] = []

    def open_one() -> None:
        start.wait()
        stores.append(open_store(url))

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(stores) == 3
    with stores[0].write() as tx:
        tx.parties.add(Party("a", "A", Role.MEMBER), b"a" * 32, T0)
    with stores[2].read() as tx:
        assert tx.parties.get("a") is not None
    for s in stores:
        s.close()
    assert _migrations(url) == [1, 2, 3, 4, 5, 6, 7, 8, 9]


# --- writes are serialised ---------------------------------------------------------------------


def test_a_write_sees_every_write_committed_before_it(store: Store) -> None:
    """The second write waits for the first, then reads what the first committed."""
    first_inside, seen = threading.Event(), []

    def first() -> None:
        with store.write() as tx:
            tx.parties.add(Party("a", "A", Role.MEMBER), b"a" * 32, T0)
            first_inside.set()
            threading.Event().wait(0.3)  # the second write has begun by now

    def second() -> None:
        first_inside.wait(10)
        with store.write() as tx:
            seen.append(tx.parties.get("a"))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(seen) == 1 and seen[0] is not None


def test_reads_do_not_wait_for_a_write(store: Store) -> None:
    """A read during an open write answers at once, from before the write."""
    inside, read_done = threading.Event(), threading.Event()
    waited: list[bool] = []

    def writer() -> None:
        with store.write() as tx:
            tx.parties.add(Party("a", "A", Role.MEMBER), b"a" * 32, T0)
            inside.set()
            waited.append(read_done.wait(20))  # False if the read below waited for this write

    thread = threading.Thread(target=writer)
    thread.start()
    assert inside.wait(20)
    with store.read() as tx:
        assert tx.parties.all() == []
    read_done.set()
    thread.join(timeout=30)
    assert waited == [True]
    with store.read() as tx:
        assert [p.party.id for p in tx.parties.all()] == ["a"]


def test_writers_waiting_their_turn_leave_connections_for_reads(pg_url: str) -> None:
    store = PostgresStore(pg_url, pool_size=2)
    _empty(pg_url)
    inside, read_done = threading.Event(), threading.Event()
    waited: list[bool] = []

    def first() -> None:
        with store.write():
            inside.set()
            waited.append(read_done.wait(20))

    def later() -> None:
        with store.write() as tx:
            tx.parties.all()

    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert inside.wait(20)
    threads += [threading.Thread(target=later) for _ in range(3)]
    for t in threads[1:]:
        t.start()
    threading.Event().wait(0.2)  # the later writers are queued by now
    with store.read() as tx:  # two connections: one writing, one for this read
        assert tx.parties.all() == []
    read_done.set()
    for t in threads:
        t.join(timeout=30)
    store.close()
    assert waited == [True]


_APPEND = """
import sys
from deconflict.clock import SystemClock
from deconflict.ledger.log import Ledger
from deconflict.store import open_store

store = open_store(sys.argv[1])
ledger = Ledger(store, SystemClock())
for i in range(int(sys.argv[3])):
    with ledger.write() as tx:
        ledger.log(tx, "test", {"worker": sys.argv[2], "i": i})
store.close()
"""


def test_processes_writing_at_once_lose_no_ledger_append(pg_database: Callable[[], str]) -> None:
    from deconflict.ledger.verify import audit_store

    url, count = pg_database(), 40
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _APPEND, url, worker, str(count)], stderr=subprocess.PIPE
        )
        for worker in ("w1", "w2", "w3")
    ]
    assert [(p.wait(timeout=120), p.communicate()[1]) for p in runs] == [(0, b"")] * 3
    store = open_store(url)
    try:
        with store.read() as tx:
            entries = tx.ledger.entries(0, 10_000)
        logged = sorted(e.record for e in entries if e.type == "test")
        assert len(logged) == 3 * count
        assert [e.index for e in entries] == list(range(len(entries)))
        report = audit_store(store)
        assert report.ok, report.problems
    finally:
        store.close()


# --- connections --------------------------------------------------------------------------------


def test_a_lost_connection_is_replaced(store: Store, pg_url: str) -> None:
    """After the server drops every session (a restart, a failover), the next write works."""
    with store.write() as tx:
        tx.parties.add(Party("a", "A", Role.MEMBER), b"a" * 32, T0)
    name = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
    with store.write() as tx:
        tx.parties.add(Party("b", "B", Role.MEMBER), b"b" * 32, T0)
    with store.read() as tx:
        assert [p.party.id for p in tx.parties.all()] == ["a", "b"]


def test_an_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(errors.StoreUnavailable) as caught:
        open_store("postgresql://postgres@127.0.0.1:1/nothing")
    assert caught.value.http_status == 503
    assert "cannot be reached" in caught.value.message
