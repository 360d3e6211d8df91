"""Notices, their history and the candidate prefilter in the PostgreSQL store.

The prefilter is a multi-column GiST index over each volume's extent: a lon/lat
``box``, a W84 altitude ``numrange`` and a ``tstzrange``. A query meets a row when
all three overlap (``&&``), which is true of touching boxes and ranges too. As
on SQLite, an extent across ±180° is indexed and queried as its two pieces,
times are rounded outward to whole minutes, and altitudes are kept exactly
(``Decimal`` of the float), so the filter may return extra volumes, never fewer.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from .postgres_rows import NOTICE, Repo, fetch, fetch_one, insert, notice, values
from .records import Extent, NoticeRecord, VolumeRow
from .sqlite_rows import dump

__all__ = ["HISTORY", "PostgresNotices"]

_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
_MINUTE = dt.timedelta(minutes=1)

#: Stored versions as notice records: filter on ``v`` and order as needed.
HISTORY = (
    "SELECT n.id, n.party, n.kind, v.version, v.state, v.doc, n.created_at, v.at, v.ledger_idx"
    " FROM notice_versions AS v JOIN notices AS n ON n.id = v.notice_id"
)

_INSERT = insert("notices", NOTICE)
_UPSERT = insert("notices", NOTICE, "id", "version, state, doc, updated_at")
_VERSION = insert("notice_versions", "notice_id, version, state, doc, at, ledger_idx")

# One row per piece of the query (or indexed) extents, as unnest()ed arrays.
_ARRAYS = (
    "%(w)s::float8[], %(s)s::float8[], %(e)s::float8[], %(n)s::float8[],"
    " %(alo)s::numeric[], %(ahi)s::numeric[], %(t0)s::timestamptz[], %(t1)s::timestamptz[]"
)
_COLUMNS = ("w", "s", "e", "n", "alo", "ahi", "t0", "t1")
_BOX = "box(point(p.w, p.s), point(p.e, p.n))"
_ALT = "numrange(p.alo, p.ahi, '[]')"
_SPAN = "tstzrange(p.t0, p.t1, '[]')"

# Each volume takes its id from the identity's sequence here, so that its pieces can
# refer to it within the same statement; ``p.k`` says which volume a piece belongs to.
_INDEX = (
    "WITH v AS ("
    " SELECT nextval(pg_get_serial_sequence('volumes', 'id')) AS id, t.*"
    " FROM unnest(%(notice)s::text[], %(idx)s::bigint[], %(party)s::text[],"
    " %(kind)s::text[], %(packed)s::bytea[])"
    " WITH ORDINALITY AS t(notice_id, idx, party, kind, packed, k)"
    "), stored AS ("
    " INSERT INTO volumes (id, notice_id, idx, party, kind, packed)"
    " SELECT id, notice_id, idx, party, kind, packed FROM v"
    ")"
    " INSERT INTO volume_index (volume_id, footprint, alt, span)"
    f" SELECT v.id, {_BOX}, {_ALT}, {_SPAN}"
    f" FROM unnest({_ARRAYS}, %(k)s::bigint[]) AS p({', '.join(_COLUMNS)}, k)"
    " JOIN v ON v.k = p.k"
)

_CANDIDATES = (
    "SELECT v.id, v.notice_id, v.idx, v.party, v.kind, v.packed FROM volumes AS v"
    " WHERE v.party <> %(exclude)s AND v.id IN ("
    f" SELECT r.volume_id FROM unnest({_ARRAYS}) AS p({', '.join(_COLUMNS)})"
    f" JOIN volume_index AS r"
    f" ON r.footprint && {_BOX} AND r.alt && {_ALT} AND r.span && {_SPAN})"
    " ORDER BY v.id"
)


# Which query piece (from 1) meets which volume; the rows are then read once each.
_PAIRS = (
    "SELECT p.q, r.volume_id"
    f" FROM unnest({_ARRAYS}) WITH ORDINALITY AS p({', '.join(_COLUMNS)}, q)"
    f" JOIN volume_index AS r"
    f" ON r.footprint && {_BOX} AND r.alt && {_ALT} AND r.span && {_SPAN}"
)
_ROWS = (
    "SELECT v.id, v.notice_id, v.idx, v.party, v.kind, v.packed FROM volumes AS v"
    " WHERE v.party <> %s AND v.id = ANY(%s) ORDER BY v.id"
)


def _minute_floor(instant: dt.datetime) -> dt.datetime:
    return instant - (instant - _EPOCH) % _MINUTE


def _minute_ceil(instant: dt.datetime | None) -> dt.datetime | None:
    """The next whole minute, or no bound at all (open-ended, or past year 9999)."""
    if instant is None:
        return None
    floor = _minute_floor(instant)
    try:
        return floor if floor == instant else floor + _MINUTE
    except OverflowError:
        return None


def _bound(value: float) -> Decimal | None:
    """An exact numeric bound; an infinite one (SFC, UNL) is no bound."""
    return Decimal(value) if math.isfinite(value) else None


def _pieces(extents: Sequence[Extent]) -> tuple[dict[str, list[Any]], list[int]]:
    """Array parameters for :data:`_ARRAYS`, and which extent (from 1) each piece is of."""
    arrays: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
    owner = []
    for k, extent in enumerate(extents, 1):
        lo, hi = sorted((extent.alt_lo, extent.alt_hi))
        start, end = _minute_floor(extent.start), _minute_ceil(extent.end)
        for west, south, east, north in extent.box.pieces():
            row = (float(west), float(south), float(east), float(north))
            for name, value in zip(
                _COLUMNS, (*row, _bound(lo), _bound(hi), start, end), strict=True
            ):
                arrays[name].append(value)
            owner.append(k)
    return arrays, owner


class PostgresNotices(Repo):
    def put(self, record: NoticeRecord, volumes: Sequence[VolumeRow]) -> None:
        """Store a new version as current, append it to history, and (re)index it."""
        self._c.execute(_UPSERT, _notice_values(record))
        self._c.execute(_VERSION, _version_values(record))
        self._c.execute("DELETE FROM volumes WHERE notice_id = %s", (record.id,))
        self._index([(record, volumes)])

    def put_many(self, items: Sequence[tuple[NoticeRecord, Sequence[VolumeRow]]]) -> None:
        """Store many new notices at once (bulk import); none may exist yet."""
        with self._c.cursor() as cur:
            cur.executemany(_INSERT, [_notice_values(r) for r, _ in items])
            cur.executemany(_VERSION, [_version_values(r) for r, _ in items])
        self._index(items)

    def _index(self, items: Sequence[tuple[NoticeRecord, Sequence[VolumeRow]]]) -> None:
        volumes = [(record, v) for record, rows in items for v in rows]
        if not volumes:
            return
        params, owner = _pieces([v.extent for _, v in volumes])
        params |= {
            "k": owner,
            "notice": [r.id for r, _ in volumes],
            "idx": [v.idx for _, v in volumes],
            "party": [r.party for r, _ in volumes],
            "kind": [r.kind for r, _ in volumes],
            "packed": [v.packed for _, v in volumes],
        }
        self._c.execute(_INDEX, params)

    def candidate_volumes(
        self, queries: Sequence[Extent], exclude_party: str | None = None
    ) -> list[tuple[Any, ...]]:
        """Rows (see :data:`VOLUME_HIT_COLUMNS`) of indexed volumes meeting any query extent."""
        if not queries:
            return []
        params: dict[str, Any] = _pieces(queries)[0]
        params["exclude"] = "" if exclude_party is None else exclude_party
        return self._c.execute(_CANDIDATES, params).fetchall()

    def candidate_pairs(
        self, queries: Sequence[Extent], exclude_party: str | None = None
    ) -> tuple[list[tuple[Any, ...]], list[tuple[int, int]]]:
        if not queries:
            return [], []
        params, owner = _pieces(queries)
        hits = self._c.execute(_PAIRS, params).fetchall()
        exclude = "" if exclude_party is None else exclude_party
        rows = self._c.execute(_ROWS, (exclude, sorted({v for _, v in hits}))).fetchall()
        at = {row[0]: k for k, row in enumerate(rows)}
        pairs = {(owner[q - 1] - 1, at[v]) for q, v in hits if v in at}
        return rows, sorted(pairs)

    def get(self, notice_id: str) -> NoticeRecord | None:
        return fetch_one(
            self._c, notice, f"SELECT {NOTICE} FROM notices WHERE id = %s", (notice_id,)
        )

    def get_many(self, notice_ids: Sequence[str]) -> list[NoticeRecord]:
        if not notice_ids:
            return []
        query = f"SELECT {NOTICE} FROM notices WHERE id = ANY(%s) ORDER BY id"
        return fetch(self._c, notice, query, (list(notice_ids),))

    def history(self, notice_id: str) -> list[NoticeRecord]:
        return fetch(
            self._c, notice, f"{HISTORY} WHERE v.notice_id = %s ORDER BY v.version", (notice_id,)
        )

    def candidates(self, queries: Sequence[Extent]) -> list[NoticeRecord]:
        ids = sorted({row[1] for row in self.candidate_volumes(queries)})
        query = f"SELECT {NOTICE} FROM notices WHERE id = ANY(%s) ORDER BY id"
        return fetch(self._c, notice, query, (ids,)) if ids else []

    def of_party(self, party_id: str) -> list[NoticeRecord]:
        query = f"SELECT {NOTICE} FROM notices WHERE party = %s ORDER BY created_at, id"
        return fetch(self._c, notice, query, (party_id,))


def _notice_values(r: NoticeRecord) -> tuple[Any, ...]:
    return values(r, NOTICE, doc=dump(r.doc))


def _version_values(r: NoticeRecord) -> tuple[Any, ...]:
    return (r.id, r.version, r.state, dump(r.doc), r.updated_at, r.ledger_idx)
