"""The ASTM F3548-21 DSS facade: its use cases, over the same core as ``/v1``.

Operational intent references are written as operation notices and constraint
references as protected notices, through the same admission as every other
write: they conflict with native notices, raise alerts, and are ledgered.

- A USS acts as the party ``uss-<sub>``, made on its first write and joined to
  the ``f3548-uss`` channel, the audience of every facade entity: references
  are visible to every USS, as the standard requires.
- A key is a list of OVNs. A write in the Accepted or Activated state must hold
  the current OVN of every conflicting entity, or it gets 409 naming them.
  Native notices block facade writes too. The 409 lists one as a reference
  carrying only the overlap's times, with an OVN, since the service manages it
  for its owner; a native notice is listed by a query only to a USS in its
  audience.
- Constraints need a place in the key only when the writing USS processes
  constraints (its subscription asks for them), as the standard says.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import replace
from typing import Any

from deconflict import errors
from deconflict.accounts import hash_token
from deconflict.altitude import w84_interval
from deconflict.disclosure import Viewer, sees_in_full
from deconflict.model import (
    Audience,
    Channel,
    Notice,
    NoticeKind,
    NoticeState,
    Party,
    Role,
    Volume,
)
from deconflict.notices import Awareness
from deconflict.service import Outcome, Service
from deconflict.store import Extent, NoticeRecord
from deconflict.store.protocols import Transaction
from deconflict.volumes import parse_instant

from . import subscriptions as subs
from .shapes import (
    NULL_SUBSCRIPTION,
    check_entity_id,
    check_ovn,
    native_alias,
    notice_of_alias,
    parse_extents,
    parse_volume4d,
    span,
    time_json,
)
from .tokens import Client, TokenVerifier

__all__ = ["USS_CHANNEL", "Facade"]

#: The channel every USS joins: the audience of every facade entity.
USS_CHANNEL = "f3548-uss"

SC = "utm.strategic_coordination"
CMSA = "utm.conformance_monitoring_sa"
CM = "utm.constraint_management"
CP = "utm.constraint_processing"
AA = "utm.availability_arbitration"

_PLANNED_STATES = ("Accepted", "Activated")
_STATES = ("Accepted", "Activated", "Nonconforming", "Contingent")
_NATIVE_OVN = "deconflict-native:"
_DEFAULT_SUBSCRIPTION = dt.timedelta(hours=24)


def _object(value: Any, field_name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.WrongType("expected a JSON object", field=field_name)
    return value


def _flag(body: dict[str, Any], key: str, field_name: str | None = None) -> bool:
    value = body.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise errors.WrongType(f"{key} is true or false", field=field_name or key)
    return value


def _base_url(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise errors.InvalidValue("a base URL is an http(s) URL", field=field_name)
    if value.endswith("/") or len(value) > 1000:
        raise errors.InvalidValue(
            "a base URL has no trailing '/' and at most 1000 characters", field=field_name
        )
    return value


def _key(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.WrongType("key is a list of OVN strings", field="key")
    if len(value) > 10_000:
        raise errors.InvalidValue("a key holds at most 10000 OVNs", field="key")
    return value


def _native_ovn(notice: Notice) -> str:
    return f"{_NATIVE_OVN}{notice.id}:v{notice.version}"


class Facade:
    """Every F3548 DSS operation the facade answers, for an authenticated USS."""

    def __init__(self, service: Service) -> None:
        self.service = service
        settings = service.settings
        self.tokens = TokenVerifier(
            service.clock, settings.dss_public_keys, settings.dss_jwks, settings.dss_audiences
        )
        self.limits = replace(settings.limits, max_area_km2=settings.dss_max_area_km2)
        self.native_base_url = f"http://{settings.host}:{settings.port}/dss/native"
        self._datum = settings.policy.datum

    # --- identities ---------------------------------------------------------------------

    def _enrol(self, tx: Transaction, client: Client) -> None:
        """Make the USS's party and channel membership on its first write; ledgered."""
        ledger, now = self.service.ledger, self.service.clock.now()
        if tx.parties.get(client.party) is None:
            unusable = hash_token(secrets.token_urlsafe(48))  # the USS signs in with JWTs only
            tx.parties.add(Party(client.party, client.sub, Role.MEMBER), unusable, now)
            ledger.log(
                tx,
                "party.add",
                {"by": "dss", "id": client.party, "name": client.sub, "role": "member"},
            )
        if tx.channels.get(USS_CHANNEL) is None:
            name = "USSs of the ASTM F3548 facade"
            tx.channels.add(Channel(USS_CHANNEL, name), now)
            ledger.log(
                tx, "channel.add", {"by": "dss", "id": USS_CHANNEL, "name": name, "members": []}
            )
        if tx.channels.join(USS_CHANNEL, client.party, now, "dss"):
            ledger.log(
                tx, "channel.join", {"by": "dss", "channel": USS_CHANNEL, "party": client.party}
            )

    def _viewer(self, tx: Transaction, client: Client) -> Viewer:
        channels = tx.channels.of_party(client.party) | {USS_CHANNEL}
        return Viewer(client.party, Role.MEMBER, channels)

    def _availability(self, tx: Transaction, sub: str) -> dict[str, Any]:
        return tx.facade.get("availability", sub) or {"availability": "Unknown", "version": ""}

    # --- references ---------------------------------------------------------------------

    def _reference(self, tx: Transaction, doc: dict[str, Any], client: Client) -> dict[str, Any]:
        ref: dict[str, Any] = {
            "id": doc["id"],
            "manager": doc["manager"],
            "uss_availability": self._availability(tx, doc["manager"])["availability"],
            "version": doc["version"],
            "time_start": time_json(parse_instant(doc["time_start"], "time_start")),
            "time_end": time_json(parse_instant(doc["time_end"], "time_end")),
            "uss_base_url": doc["uss_base_url"],
        }
        if doc["kind"] == "oir":
            ref["state"] = doc["state"]
            ref["subscription_id"] = doc["subscription_id"]
        if doc["manager"] == client.sub:
            ref["ovn"] = doc["ovn"]
        return ref

    def _native_reference(
        self, notice: Notice, start: dt.datetime, end: dt.datetime | None
    ) -> dict[str, Any]:
        """A native notice as a reference: only the times given, and an OVN for the key."""
        ref: dict[str, Any] = {
            "id": native_alias(notice.id),
            "manager": notice.party,
            "uss_availability": "Normal",
            "version": notice.version,
            "ovn": _native_ovn(notice),
            "time_start": time_json(start),
            "time_end": time_json(end),
            "uss_base_url": self.native_base_url,
        }
        if notice.kind is not NoticeKind.PROTECTED:
            ref["state"] = "Activated" if notice.state is NoticeState.ACTIVE else "Accepted"
            ref["subscription_id"] = NULL_SUBSCRIPTION
        return ref

    def _awareness(
        self, tx: Transaction, key: list[str], strict: bool, constraints: bool
    ) -> Awareness:
        """The OVNs of a key as the notice versions they prove the writer has seen."""
        seen: dict[str, int] = {}
        for ovn in key:
            if ovn.startswith(_NATIVE_OVN):
                notice_id, _, version = ovn.removeprefix(_NATIVE_OVN).rpartition(":v")
                if version.isdigit():
                    seen[notice_id] = max(seen.get(notice_id, 0), int(version))
                continue
            entity_id = ovn.split(":", 1)[0]
            doc = tx.facade.get("oir", entity_id) or tx.facade.get("constraint", entity_id)
            if doc is not None and doc["ovn"] == ovn:
                seen[entity_id] = doc["version"]

        def waived(notice_id: str) -> bool:
            return tx.facade.get("constraint", notice_id) is not None

        return Awareness(seen, strict, None if constraints else waived)

    def _airspace_conflict(
        self, tx: Transaction, client: Client, missing: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The F3548 409 body for the conflicting notices a key did not prove."""
        intents: list[dict[str, Any]] = []
        constraints: list[dict[str, Any]] = []
        for view in missing:
            notice_id = view["id"]
            for kind, found in (("oir", intents), ("constraint", constraints)):
                doc = tx.facade.get(kind, notice_id)
                if doc is not None:
                    found.append(self._reference(tx, doc, client))
                    break
            else:
                record = tx.notices.get(notice_id)
                if record is None:
                    continue
                notice = self.service.notice_of(record)
                overlap = view["overlap"]["time"]
                start = parse_instant(overlap["start"], "start")
                end = parse_instant(overlap["end"], "end") if overlap["end"] else None
                ref = self._native_reference(notice, start, end)
                (constraints if notice.kind is NoticeKind.PROTECTED else intents).append(ref)
        return {
            "message": (
                f"the key does not hold the current OVN of {len(intents)} operational "
                f"intent(s) and {len(constraints)} constraint(s) in conflict"
            ),
            "missing_operational_intents": intents,
            "missing_constraints": constraints,
        }

    # --- queries ------------------------------------------------------------------------

    def _area(self, body: Any) -> Volume:
        body = _object(body, "body")
        if body.get("area_of_interest") is None:
            raise errors.MissingField("area_of_interest is required", field="area_of_interest")
        return parse_volume4d(
            body["area_of_interest"], "area_of_interest", self.limits, complete=False
        )

    def _within(self, tx: Transaction, area: Volume) -> list[Notice]:
        """Notices in force whose volumes meet the area, by the index then exactly."""
        lo, hi = w84_interval(area.altitude, self._datum)
        query = Extent(area.footprint.bbox, lo, hi, area.time.start, area.time.end)
        found = []
        for record in tx.notices.candidates([query]):
            notice = self.service.notice_of(record)
            if notice.in_force and subs.meets([area], notice.volumes, self._datum):
                found.append(notice)
        return found

    def _listing(
        self, tx: Transaction, client: Client, area: Volume, kind: str
    ) -> list[dict[str, Any]]:
        """References of one kind the USS may see in the area; each one shown is recorded."""
        viewer = self._viewer(tx, client)
        refs, shown = [], []
        for notice in self._within(tx, area):
            doc = tx.facade.get(kind, notice.id)
            if doc is not None:
                refs.append(self._reference(tx, doc, client))
            elif tx.facade.get("oir" if kind == "constraint" else "constraint", notice.id):
                continue
            elif sees_in_full(viewer, notice) and (
                (notice.kind is NoticeKind.PROTECTED) == (kind == "constraint")
            ):
                refs.append(self._native_reference(notice, *span(notice.volumes)))
            else:
                continue
            shown.append((notice, refs[-1]))
        self.service.disclose(tx, viewer, shown)
        return refs

    def query(self, client: Client, kind: str, body: Any) -> dict[str, Any]:
        """``POST …/query``: the references of ``kind`` ("oir" or "constraint") in an area."""
        if kind == "oir":
            client.require((SC,), (CMSA,))
        else:
            client.require((CM,), (CP,))
        area = self._area(body)
        with self.service.ledger.write() as tx:
            refs = self._listing(tx, client, area, kind)
        name = "operational_intent_references" if kind == "oir" else "constraint_references"
        return {name: refs}

    def get(self, client: Client, kind: str, entity_id: str) -> dict[str, Any]:
        if kind == "oir":
            client.require((SC,), (CMSA,))
        else:
            client.require((CM,), (CP,))
        entity_id = check_entity_id(entity_id, "entityid")
        name = "operational_intent_reference" if kind == "oir" else "constraint_reference"
        with self.service.ledger.write() as tx:
            doc = tx.facade.get(kind, entity_id)
            record = tx.notices.get(entity_id) if doc is not None else None
            if doc is not None and record is not None:
                ref = self._reference(tx, doc, client)
                notice = self.service.notice_of(record)
                self.service.disclose(tx, self._viewer(tx, client), [(notice, ref)])
                return {name: ref}
            native = notice_of_alias(entity_id)
            record = tx.notices.get(native) if native else None
            if record is not None:
                notice = self.service.notice_of(record)
                wanted = (notice.kind is NoticeKind.PROTECTED) == (kind == "constraint")
                viewer = self._viewer(tx, client)
                if wanted and notice.in_force and sees_in_full(viewer, notice):
                    ref = self._native_reference(notice, *span(notice.volumes))
                    self.service.disclose(tx, viewer, [(notice, ref)])
                    return {name: ref}
        raise errors.NotFound(f"no {name.replace('_', ' ')} {entity_id}")

    # --- writes -------------------------------------------------------------------------

    def _owned(
        self, tx: Transaction, client: Client, kind: str, entity_id: str, ovn: str, missing: type
    ) -> dict[str, Any]:
        doc = tx.facade.get(kind, entity_id)
        if doc is None:
            raise missing(f"no reference {entity_id} to change", field="entityid")
        if doc["manager"] != client.sub:
            raise errors.Forbidden(f"only its manager {doc['manager']!r} may change {entity_id}")
        if doc["ovn"] != ovn:
            raise errors.StaleVersion(
                "the OVN is not the current one; read the reference again", field="ovn"
            )
        return doc

    def _write(
        self,
        tx: Transaction,
        client: Client,
        notice: Notice,
        record: NoticeRecord | None,
        awareness: Awareness,
    ) -> Outcome:
        previous = self.service.notice_of(record) if record is not None else None
        self.service.check_limits(tx, notice)
        return self.service.admit(
            tx,
            self._viewer(tx, client),
            notice,
            awareness,
            record.created_at if record is not None else None,
            201 if record is None else 200,
            previous,
        )

    def _subscription(
        self,
        tx: Transaction,
        client: Client,
        body: dict[str, Any],
        volumes: tuple[Volume, ...],
        state: str,
        before: dict[str, Any] | None,
    ) -> dict[str, Any] | None:
        """The subscription an operational intent will depend on, as it must then be."""
        given, implicit = body.get("subscription_id"), body.get("new_subscription")
        start, end = subs.window(volumes)
        if given is not None:
            if not isinstance(given, str):
                raise errors.WrongType("subscription_id is a UUID", field="subscription_id")
            sub = tx.facade.get(subs.KIND, check_entity_id(given, "subscription_id"))
            if sub is None or sub["manager"] != client.sub:
                raise errors.BadRequest(
                    f"no subscription {given} of yours", field="subscription_id"
                )
            if not sub["notify_for_operational_intents"]:
                raise errors.BadRequest(
                    "the subscription does not notify for operational intents",
                    field="subscription_id",
                )
        elif implicit is not None:
            implicit = _object(implicit, "new_subscription")
            constraints = _flag(implicit, "notify_for_constraints", "new_subscription")
            if constraints:
                client.require((CP,))
            sub = {
                "id": subs.new_id(),
                "manager": client.sub,
                "party": client.party,
                "notification_index": 0,
                "uss_base_url": _base_url(
                    implicit.get("uss_base_url"), "new_subscription.uss_base_url"
                ),
                "notify_for_operational_intents": True,
                "notify_for_constraints": constraints,
                "implicit_subscription": True,
                "dependent_operational_intents": [],
            }
        elif before is not None and before["subscription_id"] != NULL_SUBSCRIPTION:
            sub = tx.facade.get(subs.KIND, before["subscription_id"])
        else:
            sub = None
        if sub is None:
            if state != "Accepted":
                raise errors.BadRequest(
                    f"an operational intent in state {state} needs subscription_id or "
                    "new_subscription",
                    field="subscription_id",
                )
            return None
        sub = dict(sub)
        if sub["implicit_subscription"]:
            sub.update(
                extents=list(body["extents"]),
                time_start=start,
                time_end=end,
                version=subs.new_version(),
            )
        elif not subs.covers(sub, volumes):
            raise errors.BadRequest(
                "the subscription does not cover the operational intent's extents",
                field="subscription_id",
            )
        return sub

    def _link(
        self, tx: Transaction, entity_id: str, sub: dict[str, Any] | None, before: str | None
    ) -> None:
        """Save the subscription an intent depends on, and release the one it left."""
        if before is not None and (sub is None or sub["id"] != before):
            self._release(tx, entity_id, before)
        if sub is not None:
            if entity_id not in sub["dependent_operational_intents"]:
                sub["dependent_operational_intents"].append(entity_id)
            tx.facade.put(subs.KIND, sub["id"], sub)

    def _release(self, tx: Transaction, entity_id: str, subscription_id: str) -> None:
        old = tx.facade.get(subs.KIND, subscription_id)
        if old is None:
            return
        old["dependent_operational_intents"] = [
            d for d in old["dependent_operational_intents"] if d != entity_id
        ]
        if old["implicit_subscription"] and not old["dependent_operational_intents"]:
            tx.facade.delete(subs.KIND, subscription_id)
        else:
            tx.facade.put(subs.KIND, subscription_id, old)

    def put_operational_intent(
        self, client: Client, entity_id: str, ovn: str | None, body: Any
    ) -> tuple[int, dict[str, Any]]:
        """Create (``ovn`` None) or update an operational intent reference."""
        client.require((SC,), (CMSA,))
        entity_id = check_entity_id(entity_id, "entityid")
        if ovn is not None:
            check_ovn(ovn)
        body = _object(body, "body")
        state = body.get("state")
        if state not in _STATES:
            raise errors.InvalidValue(f"state is one of {', '.join(_STATES)}", field="state")
        if state in _PLANNED_STATES:
            client.require((SC,))
        if ovn is None and state not in _PLANNED_STATES:
            raise errors.InvalidValue(
                "a new operational intent is Accepted or Activated", field="state"
            )
        now = self.service.clock.now()
        volumes = parse_extents(body.get("extents"), "extents", self.limits, now=now)
        base_url = _base_url(body.get("uss_base_url"), "uss_base_url")
        key = _key(body.get("key"))
        with self.service.ledger.write() as tx:
            self._enrol(tx, client)
            record = tx.notices.get(entity_id)
            if ovn is None:
                if record is not None or tx.facade.get("oir", entity_id) is not None:
                    raise errors.Conflict(
                        f"{entity_id} exists; update it with PUT …/{entity_id}/{{ovn}}",
                        field="entityid",
                    )
                before = None
            else:
                before = self._owned(tx, client, "oir", entity_id, ovn, errors.Conflict)
            if state in _PLANNED_STATES and self._down(tx, client):
                raise errors.PreconditionFailed(
                    f"{client.sub} is marked Down: it may not plan or activate"
                )
            sub = self._subscription(tx, client, body, volumes, state, before)
            notice = Notice(
                id=entity_id,
                party=client.party,
                kind=NoticeKind.OPERATION,
                volumes=volumes,
                version=record.version + 1 if record is not None else 1,
                state=NoticeState.PLANNED if state == "Accepted" else NoticeState.ACTIVE,
                audience=Audience(channels=frozenset({USS_CHANNEL})),
            )
            processes = sub is not None and sub["notify_for_constraints"]
            awareness = self._awareness(tx, key, state in _PLANNED_STATES, processes)
            outcome = self._write(tx, client, notice, record, awareness)
            if outcome.error is None:
                self._link(tx, entity_id, sub, before["subscription_id"] if before else None)
                start, end = subs.window(volumes)
                doc = {
                    "id": entity_id,
                    "kind": "oir",
                    "manager": client.sub,
                    "version": notice.version,
                    "ovn": f"{entity_id}:v{notice.version}:{secrets.token_hex(6)}",
                    "state": state,
                    "time_start": start,
                    "time_end": end,
                    "uss_base_url": base_url,
                    "subscription_id": sub["id"] if sub is not None else NULL_SUBSCRIPTION,
                }
                tx.facade.put("oir", entity_id, doc)
                touched = volumes + (self._volumes(record) if record is not None else ())
                answer = {
                    "subscribers": subs.notify(tx, "oir", touched, now, self._datum),
                    "operational_intent_reference": self._reference(tx, doc, client),
                }
            else:
                answer = self._airspace_conflict(tx, client, outcome.body["missing"])
        self.service.alerts.notifier.notify()
        return (409, answer) if outcome.error is not None else (outcome.status, answer)

    def _volumes(self, record: NoticeRecord) -> tuple[Volume, ...]:
        return self.service.notice_of(record).volumes

    def _down(self, tx: Transaction, client: Client) -> bool:
        return bool(self._availability(tx, client.sub)["availability"] == "Down")

    def put_constraint(
        self, client: Client, entity_id: str, ovn: str | None, body: Any
    ) -> tuple[int, dict[str, Any]]:
        """Create (``ovn`` None) or update a constraint reference: a protected notice."""
        client.require((CM,))
        entity_id = check_entity_id(entity_id, "entityid")
        if ovn is not None:
            check_ovn(ovn)
        body = _object(body, "body")
        now = self.service.clock.now()
        volumes = parse_extents(body.get("extents"), "extents", self.limits, now=now)
        base_url = _base_url(body.get("uss_base_url"), "uss_base_url")
        with self.service.ledger.write() as tx:
            self._enrol(tx, client)
            record = tx.notices.get(entity_id)
            if ovn is None and (record is not None or tx.facade.get("constraint", entity_id)):
                raise errors.Conflict(f"a constraint {entity_id} exists", field="entityid")
            if ovn is not None:
                self._owned(tx, client, "constraint", entity_id, ovn, errors.Conflict)
            notice = Notice(
                id=entity_id,
                party=client.party,
                kind=NoticeKind.PROTECTED,
                volumes=volumes,
                version=record.version + 1 if record is not None else 1,
                state=NoticeState.ACTIVE,
                category="other",
                audience=Audience(channels=frozenset({USS_CHANNEL})),
            )
            outcome = self._write(tx, client, notice, record, Awareness({}, False))
            start, end = subs.window(volumes)
            doc = {
                "id": entity_id,
                "kind": "constraint",
                "manager": client.sub,
                "version": notice.version,
                "ovn": f"{entity_id}:v{notice.version}:{secrets.token_hex(6)}",
                "time_start": start,
                "time_end": end,
                "uss_base_url": base_url,
            }
            tx.facade.put("constraint", entity_id, doc)
            touched = volumes + (self._volumes(record) if record is not None else ())
            answer = {
                "subscribers": subs.notify(tx, "constraint", touched, now, self._datum),
                "constraint_reference": self._reference(tx, doc, client),
            }
        self.service.alerts.notifier.notify()
        return outcome.status, answer

    def delete(self, client: Client, kind: str, entity_id: str, ovn: str) -> dict[str, Any]:
        """Remove a reference: its notice is cancelled, and its conflicts resolve."""
        if kind == "oir":
            client.require((SC,), (CMSA,))
        else:
            client.require((CM,))
        entity_id = check_entity_id(entity_id, "entityid")
        check_ovn(ovn)
        now = self.service.clock.now()
        with self.service.ledger.write() as tx:
            doc = self._owned(tx, client, kind, entity_id, ovn, errors.NotFound)
            if kind == "oir" and self._down(tx, client):
                raise errors.PreconditionFailed(f"{client.sub} is marked Down: it may not delete")
            record = tx.notices.get(entity_id)
            if record is None:
                raise errors.NotFound(f"no reference {entity_id}", field="entityid")
            previous = self.service.notice_of(record)
            ended = replace(previous, version=record.version + 1, state=NoticeState.CANCELLED)
            self._write(tx, client, ended, record, Awareness({}, False))
            tx.facade.delete(kind, entity_id)
            if kind == "oir" and doc["subscription_id"] != NULL_SUBSCRIPTION:
                self._release(tx, entity_id, doc["subscription_id"])
            name = "operational_intent_reference" if kind == "oir" else "constraint_reference"
            answer = {
                "subscribers": subs.notify(tx, kind, previous.volumes, now, self._datum),
                name: self._reference(tx, doc, client),
            }
        self.service.alerts.notifier.notify()
        return answer

    # --- subscriptions ------------------------------------------------------------------

    def put_subscription(
        self, client: Client, subscription_id: str, version: str | None, body: Any
    ) -> dict[str, Any]:
        """Create (``version`` None) or update one of the USS's subscriptions."""
        client.require((CP,), (SC,))
        subscription_id = check_entity_id(subscription_id, "subscriptionid")
        body = _object(body, "body")
        if body.get("extents") is None:
            raise errors.MissingField("extents is required", field="extents")
        extents = _object(body["extents"], "extents")
        volume = parse_volume4d(extents, "extents", self.limits, complete=False)
        now = self.service.clock.now()
        start = now if extents.get("time_start") is None else volume.time.start
        end = volume.time.end or start + _DEFAULT_SUBSCRIPTION
        if end <= now or end <= start:
            raise errors.InvalidValue(
                "the end time may not be in the past", field="extents.time_end"
            )
        volume = replace(volume, time=replace(volume.time, start=start, end=end))
        base_url = _base_url(body.get("uss_base_url"), "uss_base_url")
        intents = _flag(body, "notify_for_operational_intents")
        constraints = _flag(body, "notify_for_constraints")
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
            self._enrol(tx, client)
            before = tx.facade.get(subs.KIND, subscription_id)
            if version is None and before is not None:
                raise errors.Conflict(
                    f"subscription {subscription_id} exists", field="subscriptionid"
                )
            if version is not None:
                if before is None:
                    raise errors.Conflict(
                        f"no subscription {subscription_id}", field="subscriptionid"
                    )
                if before["manager"] != client.sub:
                    raise errors.Conflict("the subscription is managed by another client")
                if before["version"] != version:
                    raise errors.StaleVersion("the version is not the current one", field="version")
            mine = [d for _, d in tx.facade.all(subs.KIND) if d["manager"] == client.sub]
            if before is None and len(mine) >= self.service.settings.max_subscriptions:
                raise errors.InvalidValue(
                    f"a USS keeps at most {self.service.settings.max_subscriptions} subscriptions",
                    field="subscriptionid",
                )
            doc = {
                "id": subscription_id,
                "manager": client.sub,
                "party": client.party,
                "version": subs.new_version(),
                "notification_index": before["notification_index"] if before else 0,
                "extents": [extents | {"time_start": time_json(start), "time_end": time_json(end)}],
                "time_start": subs.window([volume])[0],
                "time_end": subs.window([volume])[1],
                "uss_base_url": base_url,
                "notify_for_operational_intents": intents,
                "notify_for_constraints": constraints,
                "implicit_subscription": before["implicit_subscription"] if before else False,
                "dependent_operational_intents": (
                    before["dependent_operational_intents"] if before else []
                ),
            }
            for dependent in doc["dependent_operational_intents"]:
                record = tx.notices.get(dependent)
                if record is not None and not subs.covers(doc, self._volumes(record)):
                    raise errors.BadRequest(
                        f"operational intent {dependent} depends on this subscription, which "
                        "would no longer cover it",
                        field="extents",
                    )
            tx.facade.put(subs.KIND, subscription_id, doc)
            answer: dict[str, Any] = {"subscription": subs.render(doc)}
            if intents:
                answer["operational_intent_references"] = self._listing(tx, client, volume, "oir")
            if constraints:
                answer["constraint_references"] = self._listing(tx, client, volume, "constraint")
        return answer

    def _mine(self, tx: Transaction, client: Client, subscription_id: str) -> dict[str, Any]:
        doc = tx.facade.get(subs.KIND, subscription_id)
        if doc is None or doc["manager"] != client.sub:
            raise errors.NotFound(f"no subscription {subscription_id} of yours")
        return doc

    def get_subscription(self, client: Client, subscription_id: str) -> dict[str, Any]:
        client.require((CP,), (SC,))
        subscription_id = check_entity_id(subscription_id, "subscriptionid")
        with self.service.store.read() as tx:
            return {"subscription": subs.render(self._mine(tx, client, subscription_id))}

    def query_subscriptions(self, client: Client, body: Any) -> dict[str, Any]:
        """The USS's own live subscriptions that meet an area."""
        client.require((CP,), (SC,))
        area = self._area(body)
        now = self.service.clock.now()
        with self.service.store.read() as tx:
            found = [
                subs.render(doc)
                for _, doc in tx.facade.all(subs.KIND)
                if doc["manager"] == client.sub
                and subs.live(doc, now)
                and subs.meets(subs.volumes_of(doc), [area], self._datum)
            ]
        return {"subscriptions": found}

    def delete_subscription(
        self, client: Client, subscription_id: str, version: str
    ) -> dict[str, Any]:
        client.require((CP,), (SC,))
        subscription_id = check_entity_id(subscription_id, "subscriptionid")
        with self.service.ledger.write() as tx:
            doc = tx.facade.get(subs.KIND, subscription_id)
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
            tx.facade.delete(subs.KIND, subscription_id)
        return {"subscription": subs.render(doc)}

    # --- availability and reports -------------------------------------------------------

    def get_availability(self, client: Client, uss_id: str) -> dict[str, Any]:
        client.require((AA,), (SC,), (CMSA,))
        with self.service.store.read() as tx:
            doc = self._availability(tx, uss_id)
        return {
            "status": {"uss": uss_id, "availability": doc["availability"]},
            "version": doc["version"],
        }

    def set_availability(self, client: Client, uss_id: str, body: Any) -> dict[str, Any]:
        """Mark a USS Normal, Down or Unknown (arbitration); ledgered."""
        client.require((AA,))
        body = _object(body, "body")
        state, old = body.get("availability"), body.get("old_version", "")
        if state not in ("Unknown", "Normal", "Down"):
            raise errors.InvalidValue(
                "availability is Unknown, Normal or Down", field="availability"
            )
        if not isinstance(old, str):
            raise errors.WrongType("old_version is a string", field="old_version")
        if not uss_id or len(uss_id) > 200:
            raise errors.BadRequest("uss_id is 1–200 characters", field="uss_id")
        with self.service.ledger.write() as tx:
            current = self._availability(tx, uss_id)
            if current["version"] != old:
                raise errors.BadRequest(
                    f"old_version {old!r} is not the current version {current['version']!r}",
                    field="old_version",
                )
            doc = {"availability": state, "version": subs.new_version()}
            tx.facade.put("availability", uss_id, doc)
            self.service.ledger.log(
                tx, "dss.availability", {"by": client.sub, "uss": uss_id, "availability": state}
            )
        return {"status": {"uss": uss_id, "availability": state}, "version": doc["version"]}

    def report(self, client: Client, body: Any) -> dict[str, Any]:
        """Archive a USS's report of a communication problem; it gets an id."""
        client.require((CM,), (CP,), (SC,), (CMSA,), (AA,))
        body = _object(body, "body")
        exchange = _object(body.get("exchange"), "exchange")
        for name in ("url", "method", "recorder_role", "request_source"):
            if not isinstance(exchange.get(name), str):
                raise errors.MissingField(f"{name} is a required string", field=f"exchange.{name}")
        if exchange["recorder_role"] not in ("Client", "Server"):
            raise errors.InvalidValue(
                "recorder_role is Client or Server", field="exchange.recorder_role"
            )
        _object(exchange.get("request_time"), "exchange.request_time")
        report = dict(body) | {"report_id": subs.new_id()}
        with self.service.ledger.write() as tx:
            tx.facade.put("report", report["report_id"], {"by": client.sub, "report": report})
        return report
