"""What each kind of ledger record holds, built from store records.

The service builds records with these functions when it logs, and the audit
rebuilds them from the store's rows to check that nothing was edited since.

>>> entry = commitment(b"salt", canonical({"b": 1, "a": "x"}))
>>> canonical({"b": 1, "a": "x"})
b'{"a":"x","b":1}'
>>> len(entry)
32
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from typing import Any

import rfc8785

from deconflict import errors
from deconflict.interchange import format_instant
from deconflict.store.records import DisclosureRecord, NoticeRecord

__all__ = ["canonical", "commitment", "disclosure_item", "metadata", "notice_entry"]


class _NotPlain(Exception):
    """A value whose JSON text differs between Python and RFC 8785."""


def _plain(value: Any) -> Any:
    """``value`` with integral floats as ints, if Python's JSON text of it is already JCS.

    Python and RFC 8785 agree on strings (same escapes, UTF-8), on ints below 2^53,
    and on floats with 1e-4 <= |x| < 1e16 (both print the shortest round-trip
    digits in plain notation), except that JCS prints integral floats without
    ".0". Keys must sort alike: true of BMP-only keys. Anything else raises.
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotPlain
            if not key.isascii() and any(ord(c) >= 0xD800 for c in key):
                raise _NotPlain
            out[key] = _plain(item)
        return out
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        if abs(value) >= 2**53:
            raise _NotPlain
        return value
    if isinstance(value, float):
        if value == 0.0:
            return 0
        if not math.isfinite(value) or not 1e-4 <= abs(value) < 1e16:
            raise _NotPlain
        return int(value) if value.is_integer() else value
    raise _NotPlain


def canonical(record: Any) -> bytes:
    """RFC 8785 (JCS) bytes of a record: what a commitment is computed over.

    Records of the usual shape take a fast path through the standard library
    (about 5 times faster); the rest go through the ``rfc8785`` package. Both
    give the same bytes, which a property test checks.

    >>> canonical({"b": 2.0, "a": [1.5, "é"]}).decode()
    '{"a":[1.5,"é"],"b":2}'
    """
    try:
        plain = _plain(record)
    except _NotPlain:
        pass
    else:
        return json.dumps(
            plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    try:
        return rfc8785.dumps(record)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise errors.InvalidValue(f"the record cannot be canonicalised: {exc}") from None


def commitment(salt: bytes, record_bytes: bytes) -> bytes:
    """The leaf's bytes: SHA-256(salt ‖ canonical record)."""
    return hashlib.sha256(salt + record_bytes).digest()


def notice_entry(record: NoticeRecord) -> dict[str, Any]:
    """A notice version as logged: who filed what, with its whole document."""
    return {
        "notice": record.id,
        "version": record.version,
        "party": record.party,
        "kind": record.kind,
        "state": record.state,
        "doc": record.doc,
    }


def disclosure_item(d: DisclosureRecord) -> dict[str, Any]:
    """One item of a disclosure entry: what of whose notice, by digest of the view shown."""
    return {
        "notice": d.notice_id,
        "version": d.notice_version,
        "owner": d.owner,
        "level": d.level,
        "view_sha256": hashlib.sha256(canonical(d.view)).hexdigest(),
    }


#: Of each kind of record that holds content, what anyone may see; other kinds hold none.
_METADATA = {
    "notice": ("type", "at", "notice", "version", "party", "kind", "state"),
    "subscription.add": ("type", "at", "party", "id", "events", "kinds"),
}


def _span(doc: dict[str, Any]) -> dict[str, str | None] | None:
    """A notice document's overall time span: its first start and last end (``None``: open)."""
    route = doc.get("route")
    if isinstance(route, dict):
        times = route.get("waypoint_times") or []
        starts, ends = times[:1], times[-1:]
    else:
        windows = [v.get("time") or {} for v in doc.get("volumes") or []]
        starts, ends = [w.get("start") for w in windows], [w.get("end") for w in windows]
    if not starts or None in starts:
        return None
    first = min(dt.datetime.fromisoformat(t) for t in starts)
    last = None if None in ends else max(dt.datetime.fromisoformat(t) for t in ends)
    return {"start": format_instant(first), "end": format_instant(last)}


def metadata(record: dict[str, Any]) -> dict[str, Any] | None:
    """The record as shown to whoever has no need to know its content; ``None`` if it has none.

    A notice record keeps its ids, owner, version, kind, state, category and
    overall time span: never its volumes, route, aircraft, contact, priority or
    audience. A subscription keeps its party, id, events and kinds: never its area,
    altitude, time or webhook. The rest (disclosures, acknowledgements, deliveries,
    channel and party changes) hold metadata and digests only, and are shown whole.

    >>> record = {"type": "notice", "at": "2026-05-01T08:00:00Z", "notice": "n-1",
    ...     "version": 2, "party": "alpha", "kind": "protected", "state": "planned",
    ...     "doc": {"category": "medical", "contact": "+1 555", "volumes": [
    ...         {"time": {"start": "2026-05-01T10:00:00Z", "end": None}}]}}
    >>> shown = metadata(record)
    >>> shown["category"], shown["time"], "doc" in shown
    ('medical', {'start': '2026-05-01T10:00:00Z', 'end': None}, False)
    >>> metadata({"type": "ack", "party": "bravo"}) is None
    True
    """
    keys = _METADATA.get(str(record.get("type")))
    if keys is None:
        return None
    shown = {k: record[k] for k in keys if k in record}
    doc = record.get("doc")
    if isinstance(doc, dict):
        if doc.get("category") is not None:
            shown["category"] = doc["category"]
        span = _span(doc)
        if span is not None:
            shown["time"] = span
    return shown
