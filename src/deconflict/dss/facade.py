"""The ASTM F3548-21 DSS facade: every operation, composed over the same core as ``/v1``.

Reads live here; writes of references are in :mod:`deconflict.dss.entities`,
subscriptions in :mod:`deconflict.dss.subscriptions`, and availability and
reports in :mod:`deconflict.dss.availability`. What they share (identities,
references, keys, listings) is in :mod:`deconflict.dss.references`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from deconflict import errors
from deconflict.disclosure import Viewer, sees_in_full
from deconflict.model import NoticeKind
from deconflict.service import Service

from . import subscriptions as subs
from .availability import Availability
from .entities import NAMES, Entities
from .references import References
from .shapes import check_entity_id, notice_of_alias, span
from .tokens import CM, CMSA, CP, SC, Client, TokenVerifier

__all__ = ["Facade"]


def _read_scopes(client: Client, kind: str) -> None:
    if kind == "oir":
        client.require((SC,), (CMSA,))
    else:
        client.require((CM,), (CP,))


class Facade:
    """Every F3548 DSS operation, for an authenticated USS."""

    def __init__(self, service: Service) -> None:
        self.service = service
        settings = service.settings
        self.tokens = TokenVerifier(
            service.clock, settings.dss_public_keys, settings.dss_jwks, settings.dss_audiences
        )
        self.refs = References(service)
        self.subscriptions = subs.Subscriptions(self.refs)
        self.availability = Availability(self.refs)
        self.entities = Entities(self.refs)

    # --- reading ------------------------------------------------------------------------

    def listener(self, authorization: str) -> Viewer:
        """A USS as a ``/v1`` alert listener: its party, once it has written here.

        The viewer's token expires at the access token's ``exp``.
        """
        client = self.tokens.verify(authorization)
        client.require((SC,), (CMSA,), (CM,), (CP,))
        with self.service.store.read() as tx:
            if not self.refs.identify(tx, client):
                raise errors.Unauthenticated(
                    f"{client.sub!r} has written nothing through /dss/v1 yet; its alerts "
                    "begin with its first write"
                )
            return replace(self.refs.viewer(tx, client), token_expires_at=client.expires_at)

    def query(self, client: Client, kind: str, body: Any) -> dict[str, Any]:
        """``POST …/query``: the references of ``kind`` ("oir" or "constraint") in an area."""
        _read_scopes(client, kind)
        area = self.refs.area(body)
        self.refs.ration(client)
        with self.service.ledger.write() as tx:  # what is shown is recorded
            refs = self.refs.listing(tx, client, area, kind)
        return {f"{NAMES[kind]}s": refs}

    def get(self, client: Client, kind: str, entity_id: str) -> dict[str, Any]:
        """One reference: a facade entity, or a native notice the USS may see."""
        _read_scopes(client, kind)
        entity_id = check_entity_id(entity_id, "entityid")
        name = NAMES[kind]
        self.refs.ration(client)
        with self.service.ledger.write() as tx:
            viewer = self.refs.viewer(tx, client)
            doc = tx.facade.get(kind, entity_id)
            if doc is not None:
                notice_id: str | None = entity_id
            else:
                alias = tx.facade.get("alias", entity_id)
                notice_id = alias["notice"] if alias else notice_of_alias(entity_id)
            record = tx.notices.get(notice_id) if notice_id else None
            if record is not None:
                notice = self.service.notice_of(record)
                if doc is not None:
                    ref = self.refs.reference(tx, doc, client)
                elif (
                    notice.in_force
                    and (notice.kind is NoticeKind.PROTECTED) == (kind == "constraint")
                    and not tx.facade.get(
                        "oir" if kind == "constraint" else "constraint", notice.id
                    )
                    and sees_in_full(viewer, notice)
                ):
                    ref = self.refs.native_reference(tx, notice, *span(notice.volumes))
                else:
                    raise errors.NotFound(f"no {name.replace('_', ' ')} {entity_id}")
                self.service.disclose(tx, viewer, [(notice, ref)])
                return {name: ref}
        raise errors.NotFound(f"no {name.replace('_', ' ')} {entity_id}")
