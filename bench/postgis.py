"""The yardstick: the same workload in PostGIS 3 with a GiST index, queried with psycopg.

``ensure_postgis()`` installs Debian's ``postgresql-15-postgis-3`` when the
extension is missing (as root, through apt), so the comparison runs on a
fresh machine with one command.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import psycopg
import shapely

from bench.workload import EPOCH, Workload

__all__ = ["PostgisTable", "ensure_postgis"]

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _has_postgis(dsn: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'"
        ).fetchone()
        return bool(row and row[0])


def ensure_postgis(dsn: str = ADMIN_DSN) -> None:
    """Install PostGIS from Debian's packages if the server does not offer it yet."""
    if _has_postgis(dsn):
        return
    if shutil.which("apt-get") is None:
        raise RuntimeError("PostGIS is missing and apt-get is not available to install it")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "postgresql-15-postgis-3"],
        check=True,
        env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    if not _has_postgis(dsn):
        raise RuntimeError("PostGIS installed but the server does not offer the extension")


@contextmanager
def fresh_database(name: str) -> Iterator[str]:
    """A new database for one run, dropped afterwards."""
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield dsn
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _range(lo: float, hi: float) -> str:
    return f"[{lo},{hi}]"


def _tsrange(start_s: float, end_s: float) -> str:
    a = EPOCH + dt.timedelta(seconds=float(start_s))
    b = EPOCH + dt.timedelta(seconds=float(end_s))
    return f"[{a.isoformat()},{b.isoformat()})"


class PostgisTable:
    """Volumes in a PostGIS table with a GiST index on (geom, during, alt)."""

    QUERY = (
        "WITH q AS (SELECT ST_GeomFromWKB(%(geom)s::bytea, 4326) AS g)"
        " SELECT id FROM volumes, q WHERE geom && q.g AND during && %(during)s::tstzrange"
        " AND alt && %(alt)s::numrange AND party <> %(party)s::int AND ST_Intersects(geom, q.g)"
    )

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def load(self, w: Workload, unlogged: bool = False) -> float:
        """Load and index the workload; returns seconds taken."""
        t0 = time.perf_counter()
        self.conn.execute(
            f"CREATE {'UNLOGGED ' if unlogged else ''}TABLE volumes"
            " (id bigint PRIMARY KEY, party int NOT NULL,"
            " geom geometry(Polygon, 4326) NOT NULL, during tstzrange NOT NULL,"
            " alt numrange NOT NULL)"
        )
        wkb = shapely.to_wkb(shapely.polygons(w.rings), hex=True, include_srid=False)
        buffer = io.StringIO()
        for i in range(len(w)):
            buffer.write(
                f"{i}\t{int(w.party[i])}\tSRID=4326;{wkb[i]}\t"
                f"{_tsrange(w.start_s[i], w.end_s[i])}\t{_range(w.alt_lo[i], w.alt_hi[i])}\n"
            )
        buffer.seek(0)
        with self.conn.cursor().copy(
            "COPY volumes (id, party, geom, during, alt) FROM STDIN"
        ) as copy:
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)
        self.conn.execute("CREATE INDEX volumes_gist ON volumes USING gist (geom, during, alt)")
        self.conn.execute("VACUUM ANALYZE volumes")
        return time.perf_counter() - t0

    def query_times(self, q: Workload) -> tuple[np.ndarray, np.ndarray]:
        """Seconds per query and hits per query, for every query volume."""
        polygons = shapely.to_wkb(shapely.polygons(q.rings), include_srid=False)
        times = np.empty(len(q))
        hits = np.empty(len(q), dtype=np.int64)
        cur = self.conn.cursor()
        for i in range(len(q)):
            args = {
                "geom": polygons[i],
                "during": _tsrange(q.start_s[i], q.end_s[i]),
                "alt": _range(q.alt_lo[i], q.alt_hi[i]),
                "party": int(q.party[i]),
            }
            t0 = time.perf_counter()
            cur.execute(self.QUERY, args, prepare=True)
            rows = cur.fetchall()
            times[i] = time.perf_counter() - t0
            hits[i] = len(rows)
        return times, hits
