"""F3548 subscriptions: documents in the store's facade table, and their use cases.

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
from dataclasses import replace
from typing import Any

from deconflict import errors
from deconflict.altitude import DatumMargins
from deconflict.geometry import TOLERANCE_M, GeometryLimits
from deconflict.interchange import format_instant
from deconflict.model import Buffers, Volume
from deconflict.screen import to_micros, volumes_meet
from deconflict.store.facade import Screen
from deconflict.store.protocols import Transaction
from deconflict.volumes import parse_instant

from .references import References
from .shapes import as_object, check_entity_id, parse_volume4d, time_json
from .tokens import CP, SC, Client

__all__ = [
    "KIND",
    "Subscriptions",
    "base_url",
    "covers",
    "entity_screen",
    "extent_fields",
    "flag",
    "live",
    "meets",
    "new_id",
    "new_version",
    "notify",
    "render",
    "save",
    "volumes_of",
    "window",
]

KIND = "subscription"

_STORED = GeometryLimits(max_vertices=1_000_000, max_area_km2=1e12)
_NO_BUFFERS = Buffers()

FLAG = {"oir": "notify_for_operational_intents", "constraint": "notify_for_constraints"}


def new_id() -> str:
    """A fresh version-4 UUID, for subscriptions and reports the facade makes."""
    return str(uuid.uuid4())


def new_version() -> str:
    """An opaque version for a subscription or an availability: new at every change."""
    return secrets.token_hex(8)


def base_url(value: Any, field_name: str) -> str:
    """A USS base URL: http(s), with no trailing '/'; else 400."""
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise errors.InvalidValue("a base URL is an http(s) URL", field=field_name)
    if value.endswith("/") or len(value) > 1000:
        raise errors.InvalidValue(
            "a base URL has no trailing '/' and at most 1000 characters", field=field_name
        )
    return value


def flag(body: dict[str, Any], key: str, field_name: str | None = None) -> bool:
    """An optional true-or-false field, false when left out."""
    value = body.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise errors.WrongType(f"{key} is true or false", field=field_name or key)
    return value


def volumes_of(doc: dict[str, Any]) -> list[Volume]:
    """The volumes a stored subscription covers."""
    return [
        parse_volume4d(v, f"extents[{i}]", _STORED, complete=False)
        for i, v in enumerate(doc["extents"])
    ]


def meets(a: Sequence[Volume], b: Iterable[Volume], datum: DatumMargins) -> bool:
    """Whether any volume of ``a`` meets any of ``b``: conservative across datums."""
    others = list(b)
    return any(volumes_meet(x, others, _NO_BUFFERS, datum).any() for x in a)


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
    """Whether a subscription has not yet ended."""
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


def extent_fields(volumes: Sequence[Volume]) -> dict[str, Any]:
    """What a subscription keeps to screen entity changes cheaply: its span and boxes."""
    start, end = window(volumes)
    boxes = [list(piece) for v in volumes for piece in v.footprint.bbox.pieces()]
    return {"time_start": start, "time_end": end, "boxes": boxes}


def _screen(
    boxes: Sequence[Sequence[float]], start: dt.datetime, end: dt.datetime | None
) -> Screen:
    """One span and one box around some boxes: the store screens on it."""
    return Screen(
        to_micros(start),
        to_micros(end),
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


#: How far the entity's boxes are widened before screening: more than the exact test's
#: tolerance (footprints within it meet), so the screen never drops what the test keeps.
_SCREEN_PAD_M = 2 * TOLERANCE_M


def entity_screen(volumes: Sequence[Volume]) -> Screen:
    """The screen of an entity change: its span, and a box around its padded boxes."""
    ends = [v.time.end for v in volumes]
    end = None if None in ends else max(e for e in ends if e is not None)
    boxes = [piece for v in volumes for piece in v.footprint.bbox.padded(_SCREEN_PAD_M).pieces()]
    return _screen(boxes, min(v.time.start for v in volumes), end)


def save(tx: Transaction, doc: dict[str, Any]) -> None:
    """Store a subscription with the screen its span and boxes make."""
    start = parse_instant(doc["time_start"], "time_start")
    end = parse_instant(doc["time_end"], "time_end")
    tx.facade.put(KIND, doc["id"], doc, _screen(doc["boxes"], start, end))


def notify(
    tx: Transaction,
    entity_kind: str,
    volumes: Sequence[Volume],
    now: dt.datetime,
    datum: DatumMargins,
) -> list[dict[str, Any]]:
    """Advance every subscription an entity change concerns; the F3548 ``subscribers``.

    The store screens subscriptions by span and box first; only those that pass
    are parsed for the exact test, so a write costs little per subscription.
    """
    flag = FLAG[entity_kind]
    screen = entity_screen(volumes)
    groups: dict[str, list[dict[str, Any]]] = {}
    for key, doc in tx.facade.screened(KIND, screen):
        if not doc[flag] or not live(doc, now) or not meets(volumes_of(doc), volumes, datum):
            continue
        doc["notification_index"] += 1
        tx.facade.put(KIND, key, doc)  # keeps its screen
        groups.setdefault(doc["uss_base_url"], []).append(
            {"subscription_id": key, "notification_index": doc["notification_index"]}
        )
    return [{"subscriptions": subs, "uss_base_url": url} for url, subs in sorted(groups.items())]


#: A subscription's end when none is given: a day after its start.
_DEFAULT_SPAN = dt.timedelta(hours=24)


class Subscriptions:
    """The subscription use cases: each USS reads and changes only its own."""

    def __init__(self, refs: References) -> None:
        self.refs = refs
        self.service = refs.service

    def _volume(self, body: dict[str, Any]) -> tuple[dict[str, Any], Volume]:
        """The subscribed Volume4D with its times filled in, and it as a volume."""
        if body.get("extents") is None:
            raise errors.MissingField("extents is required", field="extents")
        extents = as_object(body["extents"], "extents")
        volume = parse_volume4d(extents, "extents", self.refs.limits, complete=False)
        now = self.service.clock.now()
        start = now if extents.get("time_start") is None else volume.time.start
        end = volume.time.end or start + _DEFAULT_SPAN
        if end <= now or end <= start:
            raise errors.InvalidValue(
                "the end time may not be in the past", field="extents.time_end"
            )
        filled = extents | {"time_start": time_json(start), "time_end": time_json(end)}
        return filled, replace(volume, time=replace(volume.time, start=start, end=end))

    def put(
        self, client: Client, subscription_id: str, version: str | None, body: Any
    ) -> dict[str, Any]:
        """Create (``version`` None) or update one of the USS's subscriptions."""
        client.require((CP,), (SC,))
        subscription_id = check_entity_id(subscription_id, "subscriptionid")
        body = as_object(body, "body")
        extents, volume = self._volume(body)
        url = base_url(body.get("uss_base_url"), "uss_base_url")
        intents = flag(body, "notify_for_operational_intents")
        constraints = flag(body, "notify_for_constraints")
        if not intents and not constraints:
            raise errors.InvalidValue(
                "ask for notifications of operational intents, constraints or both",
                field="notify_for_operational_intents",
            )
        if intents:
            client.require((SC,))
        if constraints:
            client.require((CP,))
        with self.service.ledger.write() as tx:
            self.refs.enrol(tx, client)
            before = self._before(tx, client, subscription_id, version)
            doc = {
                "id": subscription_id,
                "manager": client.sub,
                "party": client.party,
                "version": new_version(),
                "notification_index": before["notification_index"] if before else 0,
                "extents": [extents],
                **extent_fields([volume]),
                "uss_base_url": url,
                "notify_for_operational_intents": intents,
                "notify_for_constraints": constraints,
                "implicit_subscription": before["implicit_subscription"] if before else False,
                "dependent_operational_intents": (
                    before["dependent_operational_intents"] if before else []
                ),
            }
            self._keeps_dependents(tx, doc)
            save(tx, doc)
            answer: dict[str, Any] = {"subscription": render(doc)}
            if intents or constraints:  # the references it lists are a read like a query
                self.refs.ration_in(tx, client)
            if intents:
                answer["operational_intent_references"] = self.refs.listing(
                    tx, client, volume, "oir"
                )
            if constraints:
                answer["constraint_references"] = self.refs.listing(
                    tx, client, volume, "constraint"
                )
        return answer

    def _before(
        self, tx: Transaction, client: Client, subscription_id: str, version: str | None
    ) -> dict[str, Any] | None:
        """The subscription a put replaces, checked: none for a create."""
        before = tx.facade.get(KIND, subscription_id)
        if version is None:
            if before is not None:
                raise errors.Conflict(
                    f"subscription {subscription_id} exists", field="subscriptionid"
                )
            mine = [d for _, d in tx.facade.all(KIND) if d["manager"] == client.sub]
            limit = self.service.settings.max_subscriptions
            if len([d for d in mine if not d["implicit_subscription"]]) >= limit:
                raise errors.InvalidValue(
                    f"a USS keeps at most {limit} subscriptions (besides its intents' own)",
                    field="subscriptionid",
                )
            return None
        if before is None:
            raise errors.Conflict(f"no subscription {subscription_id}", field="subscriptionid")
        if before["manager"] != client.sub:
            raise errors.Conflict("the subscription is managed by another client")
        if before["version"] != version:
            raise errors.StaleVersion("the version is not the current one", field="version")
        return before

    def _keeps_dependents(self, tx: Transaction, doc: dict[str, Any]) -> None:
        """Refuse (400) a change that would leave a dependent intent unserved."""
        for dependent in doc["dependent_operational_intents"]:
            if not doc["notify_for_operational_intents"]:
                raise errors.BadRequest(
                    f"operational intent {dependent} depends on this subscription's "
                    "notifications for operational intents",
                    field="notify_for_operational_intents",
                )
            record = tx.notices.get(dependent)
            volumes = self.service.notice_of(record).volumes if record is not None else ()
            if not covers(doc, volumes):
                raise errors.BadRequest(
                    f"operational intent {dependent} depends on this subscription, which "
                    "would no longer cover it",
                    field="extents",
                )

    def _mine(self, tx: Transaction, client: Client, subscription_id: str) -> dict[str, Any]:
        doc = tx.facade.get(KIND, subscription_id)
        if doc is None or doc["manager"] != client.sub:
            raise errors.NotFound(f"no subscription {subscription_id} of yours")
        return doc

    def get(self, client: Client, subscription_id: str) -> dict[str, Any]:
        """One of the USS's subscriptions; another's is 404."""
        client.require((CP,), (SC,))
        subscription_id = check_entity_id(subscription_id, "subscriptionid")
        with self.service.store.read() as tx:
            self.refs.identify(tx, client)
            return {"subscription": render(self._mine(tx, client, subscription_id))}

    def query(self, client: Client, body: Any) -> dict[str, Any]:
        """The USS's own live subscriptions that meet an area."""
        client.require((CP,), (SC,))
        area = self.refs.area(body)
        self.refs.ration(client)
        now = self.service.clock.now()
        with self.service.store.read() as tx:
            self.refs.identify(tx, client)
            found = [
                render(doc)
                for _, doc in tx.facade.all(KIND)
                if doc["manager"] == client.sub
                and live(doc, now)
                and meets(volumes_of(doc), [area], self.refs.datum)
            ]
        return {"subscriptions": found}

    def delete(self, client: Client, subscription_id: str, version: str) -> dict[str, Any]:
        """Delete one of the USS's subscriptions, unless an intent depends on it."""
        client.require((CP,), (SC,))
        subscription_id = check_entity_id(subscription_id, "subscriptionid")
        with self.service.ledger.write() as tx:
            self.refs.identify(tx, client)
            doc = tx.facade.get(KIND, subscription_id)
            if doc is None:
                raise errors.NotFound(f"no subscription {subscription_id}")
            if doc["manager"] != client.sub:
                raise errors.Conflict("the subscription is managed by another client")
            if doc["version"] != version:
                raise errors.StaleVersion("the version is not the current one", field="version")
            if doc["dependent_operational_intents"]:
                raise errors.BadRequest(
                    "operational intents depend on this subscription: "
                    + ", ".join(doc["dependent_operational_intents"]),
                    field="subscriptionid",
                )
            tx.facade.delete(KIND, subscription_id)
        return {"subscription": render(doc)}
