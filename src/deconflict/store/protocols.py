"""The narrow store protocols, one per aggregate, plus the transaction that binds them.

Every backend implements these, and one contract suite (tests/store_contract.py)
runs against each of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from deconflict.model import Channel, Party

from .records import (
    ConflictRecord,
    DisclosureRecord,
    Extent,
    NoticeRecord,
    PartyRecord,
    VolumeRow,
)

__all__ = [
    "ChannelRepo",
    "ConflictRepo",
    "DisclosureRepo",
    "IdempotencyRepo",
    "NoticeRepo",
    "PartyRepo",
    "Store",
    "Transaction",
]


class PartyRepo(Protocol):
    def add(self, party: Party, token_hash: bytes, at: dt.datetime) -> None: ...
    def get(self, party_id: str) -> PartyRecord | None: ...
    def by_token_hash(self, token_hash: bytes) -> PartyRecord | None: ...
    def all(self) -> list[PartyRecord]: ...


class ChannelRepo(Protocol):
    def add(self, channel: Channel, at: dt.datetime) -> None: ...
    def get(self, channel_id: str) -> Channel | None: ...
    def all(self) -> list[Channel]: ...
    def join(self, channel_id: str, party_id: str, at: dt.datetime, by: str) -> bool: ...
    def leave(self, channel_id: str, party_id: str, at: dt.datetime, by: str) -> bool: ...
    def of_party(self, party_id: str) -> frozenset[str]: ...


class NoticeRepo(Protocol):
    def put(self, record: NoticeRecord, volumes: Sequence[VolumeRow]) -> None:
        """Store a new version as current, append it to history, and (re)index it.

        Only notices in force are indexed: pass no volumes for ended or cancelled ones.
        """
        ...

    def put_many(self, items: Sequence[tuple[NoticeRecord, Sequence[VolumeRow]]]) -> None:
        """Store many new notices at once (bulk import); none may exist yet."""
        ...

    def candidate_volumes(self, queries: Sequence[Extent]) -> list[tuple[Any, ...]]:
        """Indexed volumes whose extent meets any query extent, one row each.

        Rows hold :data:`~deconflict.store.records.VOLUME_HIT_COLUMNS`. Conservative:
        it may return extra volumes, never fewer.
        """
        ...

    def get(self, notice_id: str) -> NoticeRecord | None: ...
    def history(self, notice_id: str) -> list[NoticeRecord]: ...
    def candidates(self, queries: Sequence[Extent]) -> list[NoticeRecord]:
        """Current indexed notices with a volume whose extent meets any query extent.

        Conservative: it may return extra notices, never fewer.
        """
        ...

    def of_party(self, party_id: str) -> list[NoticeRecord]: ...


class ConflictRepo(Protocol):
    def put(self, record: ConflictRecord) -> None: ...
    def get(self, a: str, b: str) -> ConflictRecord | None: ...
    def involving(self, notice_id: str, status: str | None = "open") -> list[ConflictRecord]: ...
    def of_party(self, party_id: str, status: str | None = "open") -> list[ConflictRecord]: ...


class DisclosureRepo(Protocol):
    def record(self, items: Sequence[DisclosureRecord]) -> None: ...
    def query(
        self, recipient: str | None = None, notice_id: str | None = None, limit: int = 1000
    ) -> list[DisclosureRecord]: ...


class IdempotencyRepo(Protocol):
    def get(self, party_id: str, key: str) -> tuple[str, int, dict[str, Any]] | None:
        """``(request fingerprint, status, body)`` of the first answer under this key."""
        ...

    def put(
        self,
        party_id: str,
        key: str,
        fingerprint: str,
        status: int,
        body: dict[str, Any],
        at: dt.datetime,
    ) -> None: ...


class Transaction(Protocol):
    """The repositories of one transaction, all on the same connection."""

    @property
    def parties(self) -> PartyRepo: ...

    @property
    def channels(self) -> ChannelRepo: ...

    @property
    def notices(self) -> NoticeRepo: ...

    @property
    def conflicts(self) -> ConflictRepo: ...

    @property
    def disclosures(self) -> DisclosureRepo: ...

    @property
    def idempotency(self) -> IdempotencyRepo: ...


class Store(Protocol):
    @property
    def url(self) -> str: ...

    def write(self) -> AbstractContextManager[Transaction]:
        """A serialised read-write transaction; commits durably on success."""
        ...

    def read(self) -> AbstractContextManager[Transaction]:
        """A consistent read-only snapshot."""
        ...

    def close(self) -> None: ...
