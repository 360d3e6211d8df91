"""Plain records that cross the store boundary."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from deconflict.geometry import BBox
from deconflict.model import Party

__all__ = [
    "ConflictRecord",
    "DisclosureRecord",
    "Extent",
    "NoticeRecord",
    "PartyRecord",
    "VolumeRow",
]


@dataclass(frozen=True)
class PartyRecord:
    party: Party
    token_hash: bytes
    created_at: dt.datetime


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
