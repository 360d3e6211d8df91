"""Parties, channels, roles and bearer tokens.

Tokens are random, shown once, stored as SHA-256 digests and compared in
constant time. With ``token_lifetime_days``, each token stops working that
long after it is issued. A party may rotate its own token; an admin may rotate
or revoke anyone's. Only admins create parties and channels or change membership. Every
administrative action, token changes included, is ledgered (never the token).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import re
import secrets
from collections.abc import Callable
from typing import Any

from deconflict import errors
from deconflict.clock import Clock
from deconflict.disclosure import Viewer
from deconflict.interchange import format_instant
from deconflict.ledger.log import Ledger
from deconflict.model import Channel, Party, Role
from deconflict.store import Store

__all__ = ["USS_PREFIX", "Accounts", "hash_token", "new_token"]

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def new_token() -> str:
    return "dcf_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


#: Party ids the F3548 facade makes for USSs (``uss-<sub>``); an admin may not take one.
USS_PREFIX = "uss-"


def _check_id(value: Any, field_name: str, *, party: bool = False) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise errors.InvalidValue(
            "an id is 1–64 lowercase letters, digits, '.', '_' or '-'", field=field_name
        )
    if party and value.startswith(USS_PREFIX):
        raise errors.InvalidValue(
            f"party ids starting {USS_PREFIX!r} are kept for USSs of the F3548 facade",
            field=field_name,
        )
    return value


def _check_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise errors.InvalidValue("name is a non-empty string of at most 200", field="name")
    return value.strip()


def _require_admin(viewer: Viewer | None) -> None:
    if viewer is not None and viewer.role is not Role.ADMIN:
        raise errors.Forbidden("only an admin may do this")


def _by(viewer: Viewer | None) -> str:
    return viewer.party if viewer else "operator"


def _party_json(party: Party) -> dict[str, Any]:
    return {"id": party.id, "name": party.name, "role": party.role.value}


def _expiry_json(expires: dt.datetime | None) -> dict[str, Any]:
    """``token_expires_at`` for a token that expires; nothing for one that never does."""
    return {} if expires is None else {"token_expires_at": format_instant(expires)}


def _channel_json(channel: Channel) -> dict[str, Any]:
    return {"id": channel.id, "name": channel.name, "members": sorted(channel.members)}


def _nothing() -> None:
    pass


class Accounts:
    """Use cases on parties and channels. ``viewer=None`` means the local operator (CLI).

    ``token_changed`` is called after each rotation or revocation commits, so that
    open alert streams of this process ask at once whether their token still holds.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        ledger: Ledger,
        lifetime_days: float = 0.0,
        token_changed: Callable[[], None] = _nothing,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ledger = ledger
        self._lifetime = dt.timedelta(days=lifetime_days) if lifetime_days > 0 else None
        self._token_changed = token_changed
        self._changes = itertools.count(1)
        #: Grows with each token change this process commits (``next`` is atomic in CPython).
        self.token_changes = 0

    def _expiry(self, issued: dt.datetime) -> dt.datetime | None:
        return None if self._lifetime is None else issued + self._lifetime

    def authenticate(self, token: str | None) -> Viewer:
        if not token:
            raise errors.Unauthenticated("a bearer token is required")
        digest = hash_token(token)
        with self._store.read() as tx:
            record = tx.parties.by_token_hash(digest)
            if record is None or not hmac.compare_digest(record.token_hash, digest):
                raise errors.Unauthenticated("the token is not valid")
            expires = record.token_expires_at
            if expires is not None and self._clock.now() >= expires:
                raise errors.Unauthenticated(
                    f"the token expired at {format_instant(expires)}; "
                    f"'deconflict party token {record.party.id}' issues a new one"
                )
            channels = tx.channels.of_party(record.party.id)
        return Viewer(record.party.id, record.party.role, channels, expires)

    def add_party(
        self,
        viewer: Viewer | None,
        party_id: Any,
        name: Any,
        role: Any = "member",
        contact: Any = None,
    ) -> tuple[dict[str, Any], str]:
        """Create a party; returns its public record and its token (shown only now)."""
        _require_admin(viewer)
        party_id = _check_id(party_id, "id", party=True)
        name = _check_name(name)
        try:
            role = Role(role)
        except ValueError:
            raise errors.InvalidValue(
                "role must be member, admin or auditor", field="role"
            ) from None
        if contact is not None and (not isinstance(contact, str) or len(contact) > 500):
            raise errors.InvalidValue("contact is a string of at most 500", field="contact")
        token = new_token()
        party = Party(party_id, name, role, contact)
        now = self._clock.now()
        expires = self._expiry(now)
        with self._ledger.write() as tx:
            if tx.parties.get(party_id) is not None:
                raise errors.Conflict(f"party {party_id!r} already exists", field="id")
            tx.parties.add(party, hash_token(token), now, expires)
            record = {"by": _by(viewer), **_party_json(party)} | _expiry_json(expires)
            logged = self._ledger.log(tx, "party.add", record)
            receipt = self._ledger.receipt(tx, logged)
        return _party_json(party) | _expiry_json(expires) | {"receipt": receipt}, token

    def rotate_token(self, viewer: Viewer | None, party_id: str) -> tuple[dict[str, Any], str]:
        """A new token for a party, shown once; the old one stops working at once.

        A party may rotate its own; an admin anyone's, but a USS's: a USS of the F3548
        facade signs in with its authority's tokens only.
        """
        if viewer is not None and viewer.party != party_id:
            _require_admin(viewer)
        if party_id.startswith(USS_PREFIX):
            raise errors.InvalidValue(
                f"{party_id} is a USS of the F3548 facade; it signs in with its authority's "
                "tokens, never a party token",
                field="id",
            )
        token = new_token()
        expires = self._expiry(self._clock.now())
        return self._set_token(viewer, party_id, hash_token(token), "rotated", expires), token

    def revoke_token(self, viewer: Viewer | None, party_id: str) -> dict[str, Any]:
        """Revoke a party's token (an admin): nothing authenticates as it until a rotation."""
        _require_admin(viewer)
        unusable = hash_token(secrets.token_urlsafe(48))  # a token nobody ever held
        return self._set_token(viewer, party_id, unusable, "revoked")

    def _set_token(
        self,
        viewer: Viewer | None,
        party_id: str,
        token_hash: bytes,
        action: str,
        expires: dt.datetime | None = None,
    ) -> dict[str, Any]:
        with self._ledger.write() as tx:
            if not tx.parties.set_token_hash(party_id, token_hash, expires):
                raise errors.NotFound(f"no party {party_id!r}")
            record = {"by": _by(viewer), "party": party_id, "action": action}
            logged = self._ledger.log(tx, "party.token", record | _expiry_json(expires))
            receipt = self._ledger.receipt(tx, logged)
        self.token_changes = next(self._changes)
        self._token_changed()
        return {"id": party_id, "token": action} | _expiry_json(expires) | {"receipt": receipt}

    def list_parties(self, viewer: Viewer | None) -> list[dict[str, Any]]:
        """Every party's id, name and role: parties must know whom they can address."""
        with self._store.read() as tx:
            return [_party_json(r.party) for r in tx.parties.all()]

    def add_channel(
        self, viewer: Viewer | None, channel_id: Any, name: Any, members: Any = ()
    ) -> dict[str, Any]:
        _require_admin(viewer)
        channel_id = _check_id(channel_id, "id")
        name = _check_name(name)
        if not isinstance(members, list | tuple) or not all(isinstance(m, str) for m in members):
            raise errors.WrongType("members is a list of party ids", field="members")
        by = _by(viewer)
        now = self._clock.now()
        with self._ledger.write() as tx:
            if tx.channels.get(channel_id) is not None:
                raise errors.Conflict(f"channel {channel_id!r} already exists", field="id")
            for i, member in enumerate(members):
                if tx.parties.get(member) is None:
                    raise errors.InvalidValue(f"no party {member!r}", field=f"members[{i}]")
            tx.channels.add(Channel(channel_id, name), now)
            for member in members:
                tx.channels.join(channel_id, member, now, by)
            channel = tx.channels.get(channel_id) or Channel(channel_id, name)
            logged = self._ledger.log(tx, "channel.add", {"by": by, **_channel_json(channel)})
            receipt = self._ledger.receipt(tx, logged)
        return _channel_json(channel) | {"receipt": receipt}

    def change_membership(
        self, viewer: Viewer | None, channel_id: str, party_id: Any, join: bool
    ) -> dict[str, Any]:
        _require_admin(viewer)
        if not isinstance(party_id, str):
            raise errors.WrongType("party is a party id", field="party")
        by = _by(viewer)
        with self._ledger.write() as tx:
            before = tx.channels.get(channel_id)
            if before is None:
                raise errors.NotFound(f"no channel {channel_id!r}")
            if tx.parties.get(party_id) is None:
                raise errors.InvalidValue(f"no party {party_id!r}", field="party")
            if join:
                changed = tx.channels.join(channel_id, party_id, self._clock.now(), by)
            else:
                changed = tx.channels.leave(channel_id, party_id, self._clock.now(), by)
            extra = {}
            if changed:
                logged = self._ledger.log(
                    tx,
                    "channel.join" if join else "channel.leave",
                    {"by": by, "channel": channel_id, "party": party_id},
                )
                extra["receipt"] = self._ledger.receipt(tx, logged)
            channel = tx.channels.get(channel_id) or before
        return _channel_json(channel) | extra

    def list_channels(self, viewer: Viewer | None) -> list[dict[str, Any]]:
        with self._store.read() as tx:
            channels = tx.channels.all()
        if viewer is not None and viewer.role is Role.MEMBER:
            channels = [c for c in channels if viewer.party in c.members]
        return [_channel_json(c) for c in channels]
