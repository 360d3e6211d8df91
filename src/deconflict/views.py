"""What the use cases share: parsed notices, their views, and recording disclosures.

Reads and writes both show parties notices at the level they may see, and
record each showing as a ledgered disclosure; this is that common part.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from deconflict import engine
from deconflict.clock import Clock
from deconflict.config import Settings
from deconflict.disclosure import (
    Viewer,
    full_view,
    minimal_view,
    sees_in_full,
)
from deconflict.geometry import GeometryLimits
from deconflict.interchange import conflict_to_json, format_instant
from deconflict.ledger.entries import disclosure_item
from deconflict.ledger.log import Ledger
from deconflict.model import (
    Conflict,
    Notice,
)
from deconflict.notices import parse_notice
from deconflict.store import DisclosureRecord, NoticeRecord, Store
from deconflict.store.protocols import Transaction

__all__ = ["STORED", "NoticeViews"]

_CACHE_SIZE = 5_000  # parsed notices; each holds its full geometry
#: Stored notices were valid when written; limits tightened since must not hide them.
STORED = GeometryLimits(
    max_vertices=10**9,
    max_area_km2=1e12,
    max_movement_slices=10**9,
    max_corridor_half_width_m=1e9,
)
#: What each kind of disclosure shows someone outside the audience.
_LEVELS = {"conflict": "minimal", "check": "existence", "identify": "owner", "metadata": "metadata"}


class NoticeViews:
    """Loading notices, shaping what each party may see of them, recording what it saw."""

    def __init__(self, store: Store, clock: Clock, settings: Settings) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.ledger = Ledger(store, clock, settings.ledger_origin)
        self._cache: OrderedDict[tuple[str, int], Notice] = OrderedDict()

    # --- loading and indexing -----------------------------------------------------------

    def _load(self, record: NoticeRecord) -> Notice:
        key = (record.id, record.version)
        notice = self._cache.get(key)
        if notice is None:
            notice = parse_notice(
                record.doc,
                notice_id=record.id,
                party=record.party,
                version=record.version,
                limits=STORED,
            )
            self._cache[key] = notice
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return notice

    def notice_of(self, record: NoticeRecord) -> Notice:
        """The notice a stored version holds (cached), for the facade and other callers."""
        return self._load(record)

    def _detect(self, tx: Transaction, notice: Notice) -> tuple[list[Conflict], dict[str, Notice]]:
        """Filter with the index, decide with the exact screen, then describe what conflicts.

        Other notices are read as shells (identity, audience, contact); only those the
        caller may see in full are parsed whole.
        """
        found = engine.conflicts_in_store(tx, notice, self.settings.policy)
        others: dict[str, Notice] = {}
        conflicts = []
        records = {r.id: r for r in tx.notices.get_many(sorted(found))}
        for other_id in sorted(found):
            record = records.get(other_id)
            if record is None:
                continue
            others[other_id] = self._shell(record)
            kind, overlaps = found[other_id]
            overlaps.sort(key=lambda o: (o.a_volume, o.b_volume))
            conflicts.append(
                Conflict(notice.id, notice.version, other_id, record.version, kind, tuple(overlaps))
            )
        return conflicts, others

    def _shell(self, record: NoticeRecord) -> Notice:
        """A stored notice without its geometry: identity, audience and contact."""
        return parse_notice(
            record.doc,
            notice_id=record.id,
            party=record.party,
            version=record.version,
            limits=STORED,
            geometry=False,
        )

    def _full(self, tx: Transaction, notice: Notice) -> Notice:
        """The whole notice behind a shell."""
        if notice.volumes:
            return notice
        record = tx.notices.get(notice.id)
        return self._load(record) if record is not None else notice

    # --- views and disclosures ----------------------------------------------------------

    def _acks(self, tx: Transaction, notice_id: str) -> list[dict[str, Any]]:
        """Who acknowledged which version: shown to the owner only."""
        return [
            {"party": a.party, "version": a.version, "at": format_instant(a.at)}
            for a in tx.ledger.acks(notice_id)
        ]

    def _conflict_view(
        self, viewer: Viewer, conflict: Conflict, mine: Notice, other: Notice, status: str
    ) -> dict[str, Any]:
        overlap = conflict_to_json(conflict)["overlap"]
        if sees_in_full(viewer, other):
            shown = full_view(other)
        else:  # the other side's volume indices would hint at volumes it may not see
            shown = minimal_view(other, None)
            overlap = {k: v for k, v in overlap.items() if k != "volumes"}
        return {
            "kind": conflict.kind.value,
            "status": status,
            "notice": {"id": mine.id, "version": mine.version},
            "other": shown,
            "overlap": overlap,
        }

    def _disclosure(
        self, viewer: Viewer, notice: Notice, reason: str, view: dict[str, Any]
    ) -> DisclosureRecord:
        level = "full" if sees_in_full(viewer, notice) else _LEVELS.get(reason, reason)
        return DisclosureRecord(
            at=self.clock.now(),
            recipient=viewer.party,
            owner=notice.party,
            notice_id=notice.id,
            notice_version=notice.version,
            reason=reason,
            level=level,
            view=view,
        )

    def disclose(
        self, tx: Transaction, viewer: Viewer, shown: Sequence[tuple[Notice, dict[str, Any]]]
    ) -> None:
        """Record, in ``tx``, that ``viewer`` was shown each of ``shown`` as a search answer."""
        self._disclose(
            tx,
            [
                self._disclosure(viewer, n, "search", view)
                for n, view in shown
                if n.party != viewer.party
            ],
        )

    def _disclose(self, tx: Transaction, disclosures: Sequence[DisclosureRecord]) -> None:
        """Store disclosures, each answer to each party logged as one ledger entry."""
        groups: dict[tuple[str, str], list[DisclosureRecord]] = {}
        for d in disclosures:
            groups.setdefault((d.recipient, d.reason), []).append(d)
        logged = self.ledger.log_many(
            tx,
            [
                (
                    "disclosure",
                    {
                        "recipient": recipient,
                        "reason": reason,
                        "items": [disclosure_item(d) for d in items],
                    },
                )
                for (recipient, reason), items in groups.items()
            ],
        )
        tx.disclosures.record(
            [
                replace(d, ledger_idx=entry.index)
                for entry, items in zip(logged, groups.values(), strict=True)
                for d in items
            ]
        )

    def _record(self, disclosures: Sequence[DisclosureRecord]) -> None:
        if disclosures:
            with self.ledger.write() as tx:
                self._disclose(tx, disclosures)
