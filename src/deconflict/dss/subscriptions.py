"""F3548 subscriptions as the facade keeps them: documents in the store's facade table.

A subscription covers one or more Volume4Ds. An entity change notifies every
subscription whose volumes meet the entity's old or new volumes and that asked
for that kind of entity; each such subscription's ``notification_index`` grows
by one, and the writer is told whom to notify.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from deconflict.altitude import DatumMargins
from deconflict.conflicts import volumes_conflict
from deconflict.geometry import GeometryLimits
from deconflict.interchange import format_instant
from deconflict.model import Buffers, Volume
from deconflict.store.protocols import Transaction
from deconflict.volumes import parse_instant

from .shapes import parse_volume4d, time_json

__all__ = [
    "KIND",
    "covers",
    "new_id",
    "new_version",
    "notify",
    "render",
    "volumes_of",
]

KIND = "subscription"

_STORED = GeometryLimits(max_vertices=1_000_000, max_area_km2=1e12)
_NO_BUFFERS = Buffers()

FLAG = {"oir": "notify_for_operational_intents", "constraint": "notify_for_constraints"}


def new_id() -> str:
    return str(uuid.uuid4())


def new_version() -> str:
    return secrets.token_hex(8)


def volumes_of(doc: dict[str, Any]) -> list[Volume]:
    """The volumes a stored subscription covers."""
    return [
        parse_volume4d(v, f"extents[{i}]", _STORED, complete=False)
        for i, v in enumerate(doc["extents"])
    ]


def meets(a: Sequence[Volume], b: Iterable[Volume], datum: DatumMargins) -> bool:
    """Whether any volume of ``a`` meets any of ``b``: conservative across datums."""
    others = list(b)
    return any(volumes_conflict(x, y, _NO_BUFFERS, datum) for x in a for y in others)


def _within(inner: Volume, outer: Volume) -> bool:
    box, o_box = inner.footprint.bbox, outer.footprint.bbox
    if box.wraps or o_box.wraps:
        lon_ok = o_box.west == -180.0 and o_box.east == 180.0
    else:
        lon_ok = o_box.west <= box.west and box.east <= o_box.east
    lat_ok = o_box.south <= box.south and box.north <= o_box.north
    lo, hi = inner.altitude.lower_m, inner.altitude.upper_m
    o_lo, o_hi = outer.altitude.lower_m, outer.altitude.upper_m
    alt_ok = (o_lo is None or (lo is not None and o_lo <= lo)) and (
        o_hi is None or (hi is not None and hi <= o_hi)
    )
    end, o_end = inner.time.end, outer.time.end
    time_ok = outer.time.start <= inner.time.start and (
        o_end is None or (end is not None and end <= o_end)
    )
    return lon_ok and lat_ok and alt_ok and time_ok


def covers(doc: dict[str, Any], volumes: Iterable[Volume]) -> bool:
    """Whether the subscription's volumes cover every volume given.

    Each volume's bounding box, altitudes and times must lie within one of the
    subscription's volumes' boxes, altitudes and times: conservative, so a
    subscription that covers only through a union of its volumes is refused.
    """
    mine = volumes_of(doc)
    return all(any(_within(v, outer) for outer in mine) for v in volumes)


def live(doc: dict[str, Any], now: dt.datetime) -> bool:
    return parse_instant(doc["time_end"], "time_end") > now


def render(doc: dict[str, Any]) -> dict[str, Any]:
    """The F3548 ``Subscription`` of a stored one."""
    return {
        "id": doc["id"],
        "version": doc["version"],
        "notification_index": doc["notification_index"],
        "time_start": time_json(parse_instant(doc["time_start"], "time_start")),
        "time_end": time_json(parse_instant(doc["time_end"], "time_end")),
        "uss_base_url": doc["uss_base_url"],
        "notify_for_operational_intents": doc["notify_for_operational_intents"],
        "notify_for_constraints": doc["notify_for_constraints"],
        "implicit_subscription": doc["implicit_subscription"],
        "dependent_operational_intents": list(doc["dependent_operational_intents"]),
    }


def window(volumes: Sequence[Volume]) -> tuple[str, str]:
    """The first start and last end of some (closed) volumes, as stored strings."""
    start = min(v.time.start for v in volumes)
    end = max(v.time.end for v in volumes if v.time.end is not None)
    return str(format_instant(start)), str(format_instant(end))


def notify(
    tx: Transaction,
    entity_kind: str,
    volumes: Sequence[Volume],
    now: dt.datetime,
    datum: DatumMargins,
) -> list[dict[str, Any]]:
    """Advance every subscription an entity change concerns; the F3548 ``subscribers``."""
    flag = FLAG[entity_kind]
    groups: dict[str, list[dict[str, Any]]] = {}
    for key, doc in tx.facade.all(KIND):
        if not doc[flag] or not live(doc, now) or not meets(volumes_of(doc), volumes, datum):
            continue
        doc["notification_index"] += 1
        tx.facade.put(KIND, key, doc)
        groups.setdefault(doc["uss_base_url"], []).append(
            {"subscription_id": key, "notification_index": doc["notification_index"]}
        )
    return [{"subscriptions": subs, "uss_base_url": url} for url, subs in sorted(groups.items())]
