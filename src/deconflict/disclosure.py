"""Need-to-know: who may see what of a notice, and the views that say no more.

- The owner and the audience (parties, and members of audience channels) see a
  notice in full.
- Anyone else learns of it only through a conflict with one of their own
  stored notices (:func:`minimal_view`), through a what-if check
  (:func:`check_view`) or through point identification (:func:`identify_view`).
- An auditor sees metadata only (:func:`auditor_view`) unless in the audience.
  So does an admin: the role gives no notice content. A logged record is read
  whole only by those who could read what it logs (:func:`sees_logged`).

Every view of another party's notice is a disclosure, recorded by the service.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from .grid import (
    DisclosureGrid,
    cells_area_km2,
    cells_covering,
    cells_geojson,
    round_band,
    round_distance,
    round_window,
)
from .interchange import format_instant
from .model import Conflict, Notice, Role
from .notices import notice_to_doc

__all__ = [
    "Viewer",
    "auditor_view",
    "check_view",
    "full_view",
    "identify_view",
    "minimal_view",
    "rounded_overlap",
    "rounded_window",
    "sees_in_full",
    "sees_logged",
    "view_for",
]


@dataclass(frozen=True)
class Viewer:
    """An authenticated party, with its role and current channel memberships."""

    party: str
    role: Role
    channels: frozenset[str] = frozenset()
    #: When the token the caller used stops working; ``None`` for never.
    token_expires_at: dt.datetime | None = None


def sees_in_full(viewer: Viewer, notice: Notice) -> bool:
    """The owner and the audience see everything; nobody else does."""
    return (
        viewer.party == notice.party
        or viewer.party in notice.audience.parties
        or bool(viewer.channels & notice.audience.channels)
    )


def sees_logged(viewer: Viewer, record: dict[str, Any]) -> bool:
    """Whether a ledger record may be shown to ``viewer`` whole, content and salt.

    A logged notice version is, to its owner and to its audience as that version
    named it (parties, or the caller's current channels); a subscription, to its
    party (its area and webhook are the party's own). Every other record holds no
    content, only ids and digests.

    >>> record = {"type": "notice", "party": "a", "doc": {"audience": {"channels": ["ops"]}}}
    >>> sees_logged(Viewer("b", Role.ADMIN), record), sees_logged(
    ...     Viewer("b", Role.MEMBER, frozenset({"ops"})), record)
    (False, True)
    """
    kind = record.get("type")
    if kind == "subscription.add":
        return bool(viewer.party == record.get("party"))
    if kind != "notice":
        return True
    doc = record.get("doc")
    audience = (doc.get("audience") if isinstance(doc, dict) else None) or {}
    return (
        viewer.party == record.get("party")
        or viewer.party in (audience.get("parties") or ())
        or bool(viewer.channels & frozenset(audience.get("channels") or ()))
    )


def full_view(
    notice: Notice, created_at: dt.datetime | None = None, updated_at: dt.datetime | None = None
) -> dict[str, Any]:
    view = {"id": notice.id, "party": notice.party, "version": notice.version}
    view.update(notice_to_doc(notice))
    if created_at is not None:
        view["created_at"] = format_instant(created_at)
    if updated_at is not None:
        view["updated_at"] = format_instant(updated_at)
    return view


def _identity(notice: Notice) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": notice.id,
        "version": notice.version,
        "kind": notice.kind.value,
        "party": notice.party,
    }
    if notice.category is not None:
        view["category"] = notice.category
    return view


def minimal_view(notice: Notice, overlap: dict[str, Any] | None) -> dict[str, Any]:
    """What a conflict discloses: identity, contact if allowed, and the clipped 4D overlap."""
    view = _identity(notice)
    if notice.disclose_contact and notice.contact is not None:
        view["contact"] = notice.contact
    if overlap is not None:
        view["overlap"] = overlap
    return view


def rounded_window(
    conflict: Conflict, grid: DisclosureGrid
) -> tuple[dt.datetime, dt.datetime | None]:
    """The span of a conflict's overlaps, widened to the grid's whole time slots."""
    ends = [o.time[1] for o in conflict.overlaps]
    return round_window(
        min(o.time[0] for o in conflict.overlaps),
        None if None in ends else max(e for e in ends if e is not None),
        grid.slot_s,
    )


def rounded_overlap(conflict: Conflict, grid: DisclosureGrid) -> tuple[dict[str, Any], float]:
    """The overlap as another party is shown it, and its exposure in km² × hours.

    The footprint becomes the grid cells that cover it, the band whole layers and
    the window whole slots, all rounded outward; the distance is rounded down.
    Nothing of which of the other notice's volumes met is shown. The exposure
    (cell area × rounded duration, an open end counted as a day) is what the
    disclosure budget counts.
    """
    overlaps = conflict.overlaps
    cells: set[str] = set()
    for o in overlaps:
        if o.footprint is not None:
            cells |= cells_covering(o.footprint, grid.resolution)
    lows = [o.altitude[0] for o in overlaps]
    highs = [o.altitude[1] for o in overlaps]
    lower, upper = round_band(
        None if min(lows) == -math.inf else min(lows),
        None if max(highs) == math.inf else max(highs),
        grid.layer_m,
    )
    start, end = rounded_window(conflict, grid)
    hours = 24.0 if end is None else (end - start).total_seconds() / 3600.0
    area = cells_area_km2(cells)
    view = {
        "footprint": cells_geojson(cells),
        "cells": sorted(cells),
        "distance_m": round_distance(min(o.distance_m for o in overlaps), grid.distance_step_m),
        "altitude": {
            "lower": lower,
            "upper": upper,
            "reference": overlaps[0].altitude[2],
            "units": "m",
        },
        "time": {"start": format_instant(start), "end": format_instant(end)},
        "grid": grid.describe(),
    }
    return view, area * hours


def check_view(notice: Notice) -> dict[str, Any]:
    """What a what-if check discloses: nothing was stored, so no geometry at all."""
    return {"id": notice.id, "kind": notice.kind.value, "party": notice.party}


def identify_view(notice: Notice) -> dict[str, Any]:
    """What point identification discloses: the owner party and the kind, nothing more."""
    return {"party": notice.party, "kind": notice.kind.value}


def auditor_view(notice: Notice) -> dict[str, Any]:
    """Metadata only: ids, owner, version, kind, state and the overall time span."""
    starts = [v.time.start for v in notice.volumes]
    ends = [v.time.end for v in notice.volumes]
    view = _identity(notice)
    view["state"] = notice.state.value
    view["time"] = {
        "start": format_instant(min(starts)),
        "end": None if None in ends else format_instant(max(e for e in ends if e is not None)),
    }
    return view


def view_for(viewer: Viewer, notice: Notice) -> dict[str, Any] | None:
    """The view a direct read gives: full, auditor metadata, or nothing."""
    if sees_in_full(viewer, notice):
        return full_view(notice)
    if viewer.role is Role.AUDITOR:
        return auditor_view(notice)
    return None
