"""Writes of F3548 entity references: intents and constraints, as ordinary notices.

Operational intent references are written as operation notices and constraint
references as protected notices, through the same admission as every other
write: they conflict with native notices, raise alerts, and are ledgered.

- A write in the Accepted or Activated state must hold, in its key, the OVN of
  every entity it conflicts with, or it gets 409 naming them (see
  :mod:`deconflict.dss.references`). Native notices block facade writes too.
- Constraints need a place in the key only when the writing USS processes
  constraints (its subscription asks for them), as the standard says.
- Declaring an intent Nonconforming or Contingent needs no key, and needs the
  conformance monitoring scope.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import replace
from typing import Any

from deconflict import errors
from deconflict.model import Audience, Notice, NoticeKind, NoticeState, Volume
from deconflict.notices import Awareness
from deconflict.service import Outcome
from deconflict.store import NoticeRecord
from deconflict.store.protocols import Transaction

from . import subscriptions as subs
from .references import USS_CHANNEL, References
from .shapes import (
    NULL_SUBSCRIPTION,
    as_object,
    check_entity_id,
    check_new_entity_id,
    check_ovn,
    parse_extents,
)
from .tokens import CM, CMSA, CP, SC, Client

__all__ = ["NAMES", "Entities"]

_PLANNED_STATES = ("Accepted", "Activated")
_STATES = ("Accepted", "Activated", "Nonconforming", "Contingent")
#: The answer's name for each kind of reference.
NAMES = {"oir": "operational_intent_reference", "constraint": "constraint_reference"}


def _path(entity_id: str, ovn: str | None) -> str:
    """The entity id of a put's path, checked, and its OVN if it names one (an update)."""
    if ovn is None:
        return check_new_entity_id(entity_id)
    check_ovn(ovn)
    return check_entity_id(entity_id, "entityid")


def _key(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.WrongType("key is a list of OVN strings", field="key")
    if len(value) > 10_000:
        raise errors.InvalidValue("a key holds at most 10000 OVNs", field="key")
    for i, ovn in enumerate(value):
        if len(ovn) > 128:
            raise errors.InvalidValue("an OVN is at most 128 characters", field=f"key[{i}]")
    return value


class Entities:
    """Creating, updating and deleting the references a USS manages."""

    def __init__(self, refs: References) -> None:
        self.refs = refs
        self.service = refs.service
        self.limits = refs.limits

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

    def _existing(
        self, tx: Transaction, client: Client, kind: str, entity_id: str, ovn: str | None
    ) -> tuple[NoticeRecord | None, dict[str, Any] | None]:
        """The entity a put changes (its notice and document), or none for a create."""
        record = tx.notices.get(entity_id)
        if ovn is None:
            if record is not None or tx.facade.get(kind, entity_id) is not None:
                raise errors.Conflict(
                    f"{entity_id} exists; change it with PUT …/{entity_id}/{{ovn}}",
                    field="entityid",
                )
            return None, None
        return record, self._owned(tx, client, kind, entity_id, ovn, errors.Conflict)

    def _admit(
        self,
        tx: Transaction,
        client: Client,
        notice: Notice,
        record: NoticeRecord | None,
        awareness: Awareness,
    ) -> Outcome:
        previous = self.service.notice_of(record) if record is not None else None
        viewer = self.refs.viewer(tx, client)
        self.service.check_limits(tx, viewer, notice)
        return self.service.admit(
            tx,
            viewer,
            notice,
            awareness,
            record.created_at if record is not None else None,
            201 if record is None else 200,
            previous,
        )

    def _volumes(self, record: NoticeRecord | None) -> tuple[Volume, ...]:
        return self.service.notice_of(record).volumes if record is not None else ()

    def _down(self, tx: Transaction, client: Client) -> bool:
        """Whether arbitration has marked the USS Down."""
        return bool(self.refs.availability(tx, client.sub)["availability"] == "Down")

    def _document(
        self, kind: str, entity_id: str, client: Client, notice: Notice, base_url: str
    ) -> dict[str, Any]:
        start, end = subs.window(notice.volumes)
        return {
            "id": entity_id,
            "kind": kind,
            "manager": client.sub,
            "version": notice.version,
            "ovn": f"{entity_id}:v{notice.version}:{secrets.token_hex(6)}",
            "time_start": start,
            "time_end": end,
            "uss_base_url": base_url,
        }

    def _saved(
        self,
        tx: Transaction,
        client: Client,
        doc: dict[str, Any],
        touched: tuple[Volume, ...],
        now: dt.datetime,
    ) -> dict[str, Any]:
        """Store a reference's document; the answer names whom the change concerns."""
        tx.facade.put(doc["kind"], doc["id"], doc)
        return {
            "subscribers": subs.notify(tx, doc["kind"], touched, now, self.refs.datum),
            NAMES[doc["kind"]]: self.refs.reference(tx, doc, client),
        }

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
            implicit = as_object(implicit, "new_subscription")
            constraints = subs.flag(implicit, "notify_for_constraints", "new_subscription")
            if constraints:
                client.require((CP,))
            sub = {
                "id": subs.new_id(),
                "manager": client.sub,
                "party": client.party,
                "notification_index": 0,
                "uss_base_url": subs.base_url(
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
                version=subs.new_version(),
                **subs.extent_fields(volumes),
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
            subs.save(tx, sub)

    def _release(self, tx: Transaction, entity_id: str, subscription_id: str) -> None:
        """An intent no longer depends on a subscription; an implicit one then goes."""
        old = tx.facade.get(subs.KIND, subscription_id)
        if old is None:
            return
        old["dependent_operational_intents"] = [
            d for d in old["dependent_operational_intents"] if d != entity_id
        ]
        if old["implicit_subscription"] and not old["dependent_operational_intents"]:
            tx.facade.delete(subs.KIND, subscription_id)
        else:
            tx.facade.put(subs.KIND, subscription_id, old)  # keeps its screen

    def put_operational_intent(
        self, client: Client, entity_id: str, ovn: str | None, body: Any
    ) -> tuple[int, dict[str, Any]]:
        """Create (``ovn`` None) or update an operational intent reference."""
        client.require((SC,), (CMSA,))
        entity_id = _path(entity_id, ovn)
        body = as_object(body, "body")
        state = body.get("state")
        if state not in _STATES:
            raise errors.InvalidValue(f"state is one of {', '.join(_STATES)}", field="state")
        if state in _PLANNED_STATES:
            client.require((SC,))
        else:  # declaring an intent off-nominal is conformance monitoring
            client.require((CMSA,))
        if ovn is None and state not in _PLANNED_STATES:
            raise errors.InvalidValue(
                "a new operational intent is Accepted or Activated", field="state"
            )
        now = self.service.clock.now()
        volumes = parse_extents(body.get("extents"), "extents", self.limits, now=now)
        base_url = subs.base_url(body.get("uss_base_url"), "uss_base_url")
        key = _key(body.get("key"))
        with self.service.ledger.write() as tx:
            self.refs.enrol(tx, client)
            record, before = self._existing(tx, client, "oir", entity_id, ovn)
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
            awareness = self.refs.awareness(tx, key, state in _PLANNED_STATES, processes)
            outcome = self._admit(tx, client, notice, record, awareness)
            if outcome.error is not None:
                answer = self.refs.airspace_conflict(
                    tx, client, outcome.body["missing"], outcome.windows
                )
            else:
                self._link(tx, entity_id, sub, before["subscription_id"] if before else None)
                doc = self._document("oir", entity_id, client, notice, base_url) | {
                    "state": state,
                    "subscription_id": sub["id"] if sub is not None else NULL_SUBSCRIPTION,
                }
                answer = self._saved(tx, client, doc, volumes + self._volumes(record), now)
        self.service.alerts.notifier.notify()
        return (409, answer) if outcome.error is not None else (outcome.status, answer)

    def put_constraint(
        self, client: Client, entity_id: str, ovn: str | None, body: Any
    ) -> tuple[int, dict[str, Any]]:
        """Create (``ovn`` None) or update a constraint reference: a protected notice."""
        client.require((CM,))
        entity_id = _path(entity_id, ovn)
        body = as_object(body, "body")
        now = self.service.clock.now()
        volumes = parse_extents(body.get("extents"), "extents", self.limits, now=now)
        base_url = subs.base_url(body.get("uss_base_url"), "uss_base_url")
        with self.service.ledger.write() as tx:
            self.refs.enrol(tx, client)
            record, _ = self._existing(tx, client, "constraint", entity_id, ovn)
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
            outcome = self._admit(tx, client, notice, record, Awareness({}, False))
            if outcome.error is not None:  # a constraint proves nothing, so it is never refused
                raise outcome.error
            doc = self._document("constraint", entity_id, client, notice, base_url)
            answer = self._saved(tx, client, doc, volumes + self._volumes(record), now)
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
            self.refs.identify(tx, client)
            doc = self._owned(tx, client, kind, entity_id, ovn, errors.NotFound)
            if kind == "oir" and self._down(tx, client):
                raise errors.PreconditionFailed(f"{client.sub} is marked Down: it may not delete")
            record = tx.notices.get(entity_id)
            if record is None:
                raise errors.NotFound(f"no reference {entity_id}", field="entityid")
            previous = self.service.notice_of(record)
            ended = replace(previous, version=record.version + 1, state=NoticeState.CANCELLED)
            self._admit(tx, client, ended, record, Awareness({}, False))
            tx.facade.delete(kind, entity_id)
            if kind == "oir" and doc["subscription_id"] != NULL_SUBSCRIPTION:
                self._release(tx, entity_id, doc["subscription_id"])
            answer = {
                "subscribers": subs.notify(tx, kind, previous.volumes, now, self.refs.datum),
                NAMES[kind]: self.refs.reference(tx, doc, client),
            }
        self.service.alerts.notifier.notify()
        return answer
