"""Plain records that cross the store boundary."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple

from deconflict.geometry import BBox
from deconflict.model import Party

__all__ = [
    "AckRecord",
    "AlertRecord",
    "CheckpointRecord",
    "ConflictRecord",
    "CosignatureRecord",
    "DisclosureRecord",
    "Extent",
    "LedgerEntry",
    "NoticeRecord",
    "PartyRecord",
    "SubscriptionRecord",
    "TrackPoint",
    "VolumeRow",
    "WebhookDelivery",
]


@dataclass(frozen=True)
class PartyRecord:
    party: Party
    token_hash: bytes
    created_at: dt.datetime
    #: When the party's token stops working; ``None`` for never.
    token_expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class NoticeRecord:
    """One version of a notice as stored: its JSON document and its metadata."""

    id: str
    party: str
    kind: str
    version: int
    state: str
    doc: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    #: The ledger entry that logged this version.
    ledger_idx: int | None = None


@dataclass(frozen=True)
class Extent:
    """A conservative 4D box around one volume, for the index.

    ``alt_lo``/``alt_hi`` are W84 metres already widened across datums, with
    ``±inf`` for SFC and UNL; ``end`` is ``None`` for an open-ended notice.
    """

    box: BBox
    alt_lo: float
    alt_hi: float
    start: dt.datetime
    end: dt.datetime | None


@dataclass(frozen=True)
class ConflictRecord:
    """A conflict between two notices, stored once per unordered pair (``a < b``)."""

    a: str
    a_party: str
    a_version: int
    b: str
    b_party: str
    b_version: int
    kind: str
    status: str
    pairs: tuple[tuple[int, int], ...]
    detected_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class DisclosureRecord:
    """One party shown something of another party's notice."""

    at: dt.datetime
    recipient: str
    owner: str
    notice_id: str
    notice_version: int
    reason: str
    level: str
    view: dict[str, Any]
    #: The ledger entry that logged this disclosure.
    ledger_idx: int | None = None


@dataclass(frozen=True)
class LedgerEntry:
    """One leaf of the ledger and the private record behind it.

    ``entry`` = SHA-256(``salt`` ‖ ``record``) is what the tree commits to; the
    record (canonical JSON) and the salt are kept private and handed to whoever
    needs to prove the entry.
    """

    index: int
    type: str
    at: dt.datetime
    entry: bytes
    salt: bytes
    record: bytes


@dataclass(frozen=True)
class VolumeRow:
    """One volume as indexed: its extent for the prefilter and its packed form for the screen.

    ``packed`` is :func:`deconflict.screen.pack_volume` of the volume; the store keeps it
    as an opaque blob.
    """

    idx: int
    extent: Extent
    packed: bytes


#: The columns of a candidate volume, as the store returns them.
VOLUME_HIT_COLUMNS = ("id", "notice_id", "idx", "party", "kind", "packed")


@dataclass(frozen=True)
class CheckpointRecord:
    """A signed checkpoint (the note, verbatim) and when it was signed and published."""

    size: int
    note: str
    at: dt.datetime
    published_at: dt.datetime | None = None


@dataclass(frozen=True)
class CosignatureRecord:
    """A party's cosignature of the checkpoint of ``size``: it had seen that much by then."""

    party: str
    size: int
    timestamp: int
    line: str
    at: dt.datetime
    ledger_idx: int


@dataclass(frozen=True)
class AckRecord:
    """A party's acknowledgement of one notice version."""

    notice_id: str
    version: int
    party: str
    at: dt.datetime
    ledger_idx: int


@dataclass(frozen=True)
class SubscriptionRecord:
    """What a party asked to be alerted of, and where its webhook is."""

    id: str
    party: str
    doc: dict[str, Any]
    webhook_url: str | None
    secret: str | None
    created_at: dt.datetime
    ended_at: dt.datetime | None = None


@dataclass(frozen=True)
class AlertRecord:
    """One alert in a party's outbox; ``seq`` is its event id."""

    seq: int
    party: str
    type: str
    at: dt.datetime
    data: dict[str, Any]
    delivered_at: dt.datetime | None = None
    acked_at: dt.datetime | None = None


@dataclass(frozen=True)
class WebhookDelivery:
    """One alert due at one subscription's webhook."""

    alert: AlertRecord
    subscription: SubscriptionRecord
    attempts: int
    next_at: dt.datetime


class TrackPoint(NamedTuple):
    """One position report of one aircraft; altitudes are a W84 interval in metres.

    A named tuple rather than a dataclass: batches bring tens of thousands a second.
    """

    party: str
    aircraft: str
    time: dt.datetime
    lon: float
    lat: float
    alt_lo: float
    alt_hi: float
    east: float = 0.0
    north: float = 0.0
    up: float = 0.0
