"""What the facade's use cases share: who a USS is, and how notices become references.

- **Identity.** A USS acts as the party ``uss-<sub>``, enrolled on its first
  write (ledgered) and joined to the ``f3548-uss`` channel, the audience of
  every facade entity. The issuer it first came with is kept: a token from
  another issuer with the same ``sub`` is not that USS.
- **References.** A facade entity is rendered from its document; a native
  notice from the notice itself, with only the times given.
- **Keys.** A facade entity's OVN is ``<id>:v<version>:<random>``, kept in its
  document. A native notice's OVN is a keyed hash of its id and version under a
  secret the store keeps, so a USS holds it only once the service has shown it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import replace
from typing import Any

from deconflict import errors
from deconflict.accounts import hash_token
from deconflict.altitude import w84_interval
from deconflict.conflicts import conflict_kind
from deconflict.disclosure import Viewer, sees_in_full
from deconflict.model import Buffers, Channel, Notice, NoticeKind, NoticeState, Party, Role, Volume
from deconflict.notices import Awareness
from deconflict.screen import volumes_meet
from deconflict.service import Service
from deconflict.store import Extent
from deconflict.store.protocols import Transaction
from deconflict.volumes import parse_instant

from .shapes import (
    NULL_SUBSCRIPTION,
    as_object,
    is_hashed_alias,
    native_alias,
    parse_volume4d,
    span,
    time_json,
)
from .tokens import Client

__all__ = ["USS_CHANNEL", "References"]

#: The channel every USS joins: the audience of every facade entity.
USS_CHANNEL = "f3548-uss"

_NATIVE_OVN = "deconflict-native:"
_NO_BUFFERS = Buffers()


class References:
    """Identities, references and keys over one service's store."""

    def __init__(self, service: Service) -> None:
        self.service = service
        settings = service.settings
        self.native_base_url = f"http://{settings.host}:{settings.port}/dss/native"
        self.datum = settings.policy.datum
        #: The facade's own bound on areas, for queries, entities and subscriptions.
        self.limits = replace(settings.limits, max_area_km2=settings.dss_max_area_km2)

    def ration(self, client: Client) -> None:
        """Spend one of the USS's reads a minute, or 429: each read takes the write lock.

        The ration is kept in the store, so every API process draws on the same
        one, and it is spent in a transaction of its own, so a read refused
        later (another issuer's token, say) still costs it.
        """
        with self.service.ledger.write() as tx:
            self.ration_in(tx, client)

    def ration_in(self, tx: Transaction, client: Client) -> None:
        """:meth:`ration` inside a write the caller makes: a refusal undoes that write."""
        key = ("dss-read", client.issuer, client.sub)  # not another issuer's sub
        self.service.rations.take(tx, key, self.service.settings.dss_reads_per_minute)

    def area(self, body: Any) -> Volume:
        """The ``area_of_interest`` of a query body."""
        body = as_object(body, "body")
        if body.get("area_of_interest") is None:
            raise errors.MissingField("area_of_interest is required", field="area_of_interest")
        return parse_volume4d(
            body["area_of_interest"], "area_of_interest", self.limits, complete=False
        )

    # --- identity -----------------------------------------------------------------------

    def identify(self, tx: Transaction, client: Client) -> bool:
        """Whether the USS is enrolled; 403 for a native party, 401 for another issuer."""
        known = tx.facade.get("uss", client.party)
        if known is None:
            if tx.parties.get(client.party) is not None:
                raise errors.Forbidden(f"the party {client.party!r} is not a USS of the facade")
            return False
        if known["iss"] != client.issuer:
            raise errors.Unauthenticated(
                f"{client.sub!r} is enrolled under another issuer than {client.issuer!r}"
            )
        return True

    def enrol(self, tx: Transaction, client: Client) -> None:
        """Make the USS's party and its channel membership on its first write; ledgered.

        A refused write enrols too: its disclosures name the party.
        """
        if self.identify(tx, client):
            return
        ledger, now = self.service.ledger, self.service.clock.now()
        unusable = hash_token(secrets.token_urlsafe(48))  # the USS signs in with JWTs only
        tx.parties.add(Party(client.party, client.sub, Role.MEMBER), unusable, now)
        tx.facade.put("uss", client.party, {"sub": client.sub, "iss": client.issuer})
        ledger.log(
            tx, "party.add", {"by": "dss", "id": client.party, "name": client.sub, "role": "member"}
        )
        if tx.channels.get(USS_CHANNEL) is None:
            name = "USSs of the ASTM F3548 facade"
            tx.channels.add(Channel(USS_CHANNEL, name), now)
            ledger.log(
                tx, "channel.add", {"by": "dss", "id": USS_CHANNEL, "name": name, "members": []}
            )
        tx.channels.join(USS_CHANNEL, client.party, now, "dss")
        ledger.log(tx, "channel.join", {"by": "dss", "channel": USS_CHANNEL, "party": client.party})

    def viewer(self, tx: Transaction, client: Client) -> Viewer:
        """The USS as the rest of the service sees it: a member of ``f3548-uss``."""
        self.identify(tx, client)
        channels = tx.channels.of_party(client.party) | {USS_CHANNEL}
        return Viewer(client.party, Role.MEMBER, channels)

    def availability(self, tx: Transaction, sub: str) -> dict[str, Any]:
        """A USS's availability document: Unknown at version ``""`` until arbitrated."""
        return tx.facade.get("availability", sub) or {"availability": "Unknown", "version": ""}

    # --- references ---------------------------------------------------------------------

    def reference(self, tx: Transaction, doc: dict[str, Any], client: Client) -> dict[str, Any]:
        """A facade entity's reference; the OVN only for its manager."""
        ref: dict[str, Any] = {
            "id": doc["id"],
            "manager": doc["manager"],
            "uss_availability": self.availability(tx, doc["manager"])["availability"],
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

    def _secret(self, tx: Transaction) -> bytes:
        found = tx.facade.get("secret", "native-ovn")
        if found is None:
            found = {"key": secrets.token_hex(32)}
            tx.facade.put("secret", "native-ovn", found)
        return bytes.fromhex(found["key"])

    def native_ovn(self, tx: Transaction, notice_id: str, version: int) -> str:
        message = f"{notice_id}\x00{version}".encode()
        return _NATIVE_OVN + hmac.new(self._secret(tx), message, hashlib.sha256).hexdigest()[:40]

    def native_reference(
        self, tx: Transaction, notice: Notice, start: dt.datetime, end: dt.datetime | None
    ) -> dict[str, Any]:
        """A native notice as a reference: only the times given, and its OVN for a key."""
        alias = native_alias(notice.id)
        if is_hashed_alias(alias):  # the id cannot be read back from the alias
            tx.facade.put("alias", alias, {"notice": notice.id})
        ref: dict[str, Any] = {
            "id": alias,
            "manager": notice.party,
            "uss_availability": "Normal",
            "version": notice.version,
            "ovn": self.native_ovn(tx, notice.id, notice.version),
            "time_start": time_json(start),
            "time_end": time_json(end),
            "uss_base_url": self.native_base_url,
        }
        if notice.kind is not NoticeKind.PROTECTED:
            ref["state"] = "Activated" if notice.state is NoticeState.ACTIVE else "Accepted"
            ref["subscription_id"] = NULL_SUBSCRIPTION
        return ref

    # --- keys and conflicts -------------------------------------------------------------

    def awareness(
        self, tx: Transaction, key: list[str], strict: bool, constraints: bool
    ) -> Awareness:
        """What a key of OVNs proves the writer has seen.

        A facade entity's OVN must be its current one. A native notice's must be the
        keyed hash of its current version. A constraint needs no proof from a USS
        that does not process constraints (``constraints`` false).
        """
        offered = set(key)
        seen: dict[str, int] = {}
        for ovn in offered:
            entity_id = ovn.split(":", 1)[0]
            doc = tx.facade.get("oir", entity_id) or tx.facade.get("constraint", entity_id)
            if doc is not None and doc["ovn"] == ovn:
                seen[entity_id] = doc["version"]

        def proves(notice_id: str, version: int) -> bool:
            if tx.facade.get("constraint", notice_id) is not None:
                return not constraints
            if tx.facade.get("oir", notice_id) is not None:
                return False
            return self.native_ovn(tx, notice_id, version) in offered

        return Awareness(seen, strict, proves)

    def airspace_conflict(
        self,
        tx: Transaction,
        client: Client,
        missing: list[dict[str, Any]],
        windows: dict[str, tuple[dt.datetime, dt.datetime | None]],
    ) -> dict[str, Any]:
        """The 409 body for the conflicting notices a key did not prove.

        A native notice is shown only over the overlap's window, rounded outward
        to the disclosure grid's time slots.
        """
        intents: list[dict[str, Any]] = []
        constraints: list[dict[str, Any]] = []
        for view in missing:
            notice_id = view["id"]
            for kind, found in (("oir", intents), ("constraint", constraints)):
                doc = tx.facade.get(kind, notice_id)
                if doc is not None:
                    found.append(self.reference(tx, doc, client))
                    break
            else:
                record = tx.notices.get(notice_id)
                if record is None:
                    continue
                notice = self.service.notice_of(record)
                ref = self.native_reference(tx, notice, *windows[notice_id])
                (constraints if notice.kind is NoticeKind.PROTECTED else intents).append(ref)
        return {
            "message": (
                f"the key does not hold the current OVN of {len(intents)} operational "
                f"intent(s) and {len(constraints)} constraint(s) in conflict"
            ),
            "missing_operational_intents": intents,
            "missing_constraints": constraints,
        }

    # --- listings -----------------------------------------------------------------------

    def within(self, tx: Transaction, area: Volume) -> list[Notice]:
        """Notices in force that an operation in the area would conflict with.

        The area is widened by the separation buffers, so a query of an intent's
        own extents lists everything its key will have to prove.
        """
        policy = self.service.settings.policy
        vertical = max(policy.airspace.vertical_m, policy.protection.vertical_m)
        margin = dt.timedelta(seconds=max(policy.airspace.time_s, policy.protection.time_s))
        lo, hi = w84_interval(area.altitude, self.datum)
        end = area.time.end
        query = Extent(
            area.footprint.bbox.padded(policy.widest_lateral_m),
            lo - vertical,
            hi + vertical,
            area.time.start - margin,
            None if end is None else end + margin,
        )
        found = []
        for record in tx.notices.candidates([query]):
            notice = self.service.notice_of(record)
            kind = conflict_kind(NoticeKind.OPERATION, notice.kind)
            buffers = policy.buffers(kind) if kind is not None else _NO_BUFFERS
            if notice.in_force and volumes_meet(area, notice.volumes, buffers, self.datum).any():
                found.append(notice)
        return found

    def listing(
        self, tx: Transaction, client: Client, area: Volume, kind: str
    ) -> list[dict[str, Any]]:
        """References of one kind the USS may see in the area; each one shown is recorded."""
        viewer = self.viewer(tx, client)
        other = "constraint" if kind == "oir" else "oir"
        refs, shown = [], []
        for notice in self.within(tx, area):
            doc = tx.facade.get(kind, notice.id)
            if doc is not None:
                refs.append(self.reference(tx, doc, client))
            elif tx.facade.get(other, notice.id) is not None:
                continue
            elif sees_in_full(viewer, notice) and (
                (notice.kind is NoticeKind.PROTECTED) == (kind == "constraint")
            ):
                refs.append(self.native_reference(tx, notice, *span(notice.volumes)))
            else:
                continue
            shown.append((notice, refs[-1]))
        self.service.disclose(tx, viewer, shown)
        return refs
