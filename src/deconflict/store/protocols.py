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
    AckRecord,
    CheckpointRecord,
    ConflictRecord,
    CosignatureRecord,
    DisclosureRecord,
    Extent,
    LedgerEntry,
    NoticeRecord,
    PartyRecord,
    VolumeRow,
)

__all__ = [
    "ChannelRepo",
    "ConflictRepo",
    "DisclosureRepo",
    "IdempotencyRepo",
    "LedgerRepo",
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


class LedgerRepo(Protocol):
    """Entries, tree nodes and checkpoints of the ledger; append-only."""

    def signing_keys(self) -> list[tuple[str, dt.datetime, dt.datetime | None]]: ...
    def add_key(
        self, key_id: str, name: str, private_key: str, vkey: str, at: dt.datetime
    ) -> None: ...
    def size(self) -> int: ...
    def node(self, level: int, idx: int) -> bytes | None: ...
    def nodes(self, level: int, start: int, end: int) -> list[bytes]: ...
    def append(
        self, entries: Sequence[LedgerEntry], nodes: Sequence[tuple[int, int, bytes]]
    ) -> None: ...
    def entries(self, start: int, end: int) -> list[LedgerEntry]: ...
    def put_checkpoint(self, size: int, note: str, at: dt.datetime) -> None: ...
    def checkpoint(self, size: int) -> CheckpointRecord | None: ...
    def latest_checkpoint(self, published: bool = False) -> CheckpointRecord | None: ...
    def publish(self, size: int, at: dt.datetime) -> None: ...
    def checkpoints(self, start: int = 0, limit: int = 1000) -> list[CheckpointRecord]: ...
    def add_party_key(
        self, party: str, key_id: str, vkey: str, at: dt.datetime, ledger_idx: int
    ) -> None: ...
    def party_keys(self, party: str) -> list[str]: ...
    def add_cosignature(self, record: CosignatureRecord) -> bool: ...
    def cosignatures(
        self, party: str | None = None, limit: int = 1000
    ) -> list[CosignatureRecord]: ...
    def add_ack(self, record: AckRecord) -> bool: ...
    def acks(self, notice_id: str) -> list[AckRecord]: ...
    def logged_notice_versions(self, start: int, end: int) -> list[NoticeRecord]: ...
    def logged_disclosures(self, start: int, end: int) -> list[DisclosureRecord]: ...
    def unlogged(self) -> dict[str, int]: ...


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

    @property
    def ledger(self) -> LedgerRepo: ...


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
