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

import hashlib
from typing import Any

import rfc8785

from deconflict import errors
from deconflict.store.records import DisclosureRecord, NoticeRecord

__all__ = ["canonical", "commitment", "disclosure_item", "notice_entry"]


def canonical(record: Any) -> bytes:
    """RFC 8785 (JCS) bytes of a record: what a commitment is computed over."""
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
