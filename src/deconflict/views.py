"""What the use cases share: parsed notices, their views, and recording disclosures.

Reads and writes both show parties notices at the level they may see, and
record each showing as a ledgered disclosure; this is that common part.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from deconflict import engine
from deconflict.clock import Clock
from deconflict.config import Settings
from deconflict.disclosure import (
    Viewer,
    check_view,
    full_view,
    minimal_view,
    rounded_overlap,
    sees_in_full,
)
from deconflict.geometry import GeometryLimits
from deconflict.interchange import conflict_to_json, format_instant
from deconflict.ledger.entries import canonical, disclosure_item
from deconflict.ledger.log import Ledger
from deconflict.model import (
    Conflict,
    Notice,
    Role,
)
from deconflict.notices import parse_notice
from deconflict.rations import Rations
from deconflict.store import DisclosureRecord, NoticeRecord, Store
from deconflict.store.protocols import Transaction

if TYPE_CHECKING:
    from deconflict.alerts.center import AlertCenter

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
_LEVELS = {
    "conflict": "minimal",
    "check": "existence",
    "refusal": "existence",
    "identify": "owner",
    "metadata": "metadata",
}
_DAY_S = 86_400.0


class NoticeViews:
    """Loading notices, shaping what each party may see of them, recording what it saw."""

    alerts: AlertCenter

    def __init__(self, store: Store, clock: Clock, settings: Settings) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.ledger = Ledger(store, clock, settings.ledger_origin)
        self.rations = Rations(clock)
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
        self,
        tx: Transaction,
        viewer: Viewer,
        conflict: Conflict,
        mine: Notice,
        other: Notice,
        status: str,
    ) -> dict[str, Any]:
        """One conflict as ``viewer`` may see it, inside the write transaction that records it.

        The audience sees the other notice and the exact overlap. Anyone else sees
        the minimal view with the overlap rounded outward to the disclosure grid,
        paid from its daily budget; past the budget, existence only.
        """
        view: dict[str, Any] = {
            "kind": conflict.kind.value,
            "status": status,
            "notice": {"id": mine.id, "version": mine.version},
        }
        if sees_in_full(viewer, other):
            return view | {
                "other": full_view(other),
                "overlap": conflict_to_json(conflict)["overlap"],
            }
        if self._over_budget(tx, viewer):
            return view | {"other": check_view(other), "overlap": None, "capped": True}
        overlap, exposure = rounded_overlap(conflict, self.settings.grid)
        self._spend(tx, viewer, other, overlap, exposure, conflict)
        return view | {"other": minimal_view(other, None), "overlap": overlap}

    # --- the disclosure budget -----------------------------------------------------------

    def _over_budget(self, tx: Transaction, viewer: Viewer) -> bool:
        key = ("budget", viewer.party)
        return self.rations.over(tx, key, self.settings.disclosure_budget_km2h)

    def _spend(
        self,
        tx: Transaction,
        viewer: Viewer,
        other: Notice,
        overlap: dict[str, Any],
        exposure: float,
        conflict: Conflict,
    ) -> None:
        """Charge a rounded view to the viewer's budget, once a day per view of a version.

        Passing the budget alerts the admins; passing the share of one notice
        alerts its owner.
        """
        now = self.clock.now().timestamp()
        digest = hashlib.sha256(canonical(overlap)).hexdigest()
        if not tx.shown.first(viewer.party, other.id, other.version, digest, now, now - _DAY_S):
            return
        settings = self.settings
        alerts: list[tuple[str, dict[str, Any]]] = []
        budget = settings.disclosure_budget_km2h
        if self.rations.tally(tx, ("budget", viewer.party), exposure, budget):
            note = {
                "reason": "budget",
                "recipient": viewer.party,
                "budget_km2h": budget,
                "message": f"{viewer.party} has been shown its day's budget of others' notices;"
                " it now sees their conflicts as existence only",
            }
            alerts += [(p.party.id, note) for p in tx.parties.all() if p.party.role is Role.ADMIN]
        share = _share(conflict)
        limit = settings.disclosure_share_alert
        if self.rations.tally(tx, ("share", viewer.party, other.id), share, limit):
            alerts.append(
                (
                    other.party,
                    {
                        "reason": "share",
                        "recipient": viewer.party,
                        "notice": {"id": other.id, "version": other.version},
                        "message": f"{viewer.party} has been shown more than {limit:g} times"
                        " this notice's area and time within a day, through conflicts with"
                        " its own notices",
                    },
                )
            )
        self.alerts.need_to_know(tx, alerts)

    def _probed(self, tx: Transaction, viewer: Viewer, notices: Sequence[Notice]) -> None:
        """Count filings, checks and refusals that touched others' notices; alert past the limit.

        A conflict's existence is exact, so many small filings could map a notice
        they may not see; its owner hears of it.
        """
        limit = self.settings.probe_alert_per_day
        alerts = [
            (
                n.party,
                {
                    "reason": "probes",
                    "recipient": viewer.party,
                    "notice": {"id": n.id, "version": n.version},
                    "message": f"{viewer.party}'s filings, what-if checks and refused writes have"
                    f" touched this notice more than {limit:g} times within a day",
                },
            )
            for n in notices
            if n.party != viewer.party
            and not sees_in_full(viewer, n)
            and self.rations.tally(tx, ("probe", viewer.party, n.id), 1.0, limit)
        ]
        self.alerts.need_to_know(tx, alerts)

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


def _share(conflict: Conflict) -> float:
    """How much of the other notice's most covered volume the conflict's overlaps cover."""
    per_volume: dict[int, float] = {}
    for o in conflict.overlaps:
        per_volume[o.b_volume] = per_volume.get(o.b_volume, 0.0) + o.share
    return max(per_volume.values())
