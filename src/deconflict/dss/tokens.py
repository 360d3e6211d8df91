"""Access tokens of the ASTM F3548 facade: JWTs signed by a configured authority.

A token is accepted when its signature verifies with one of the configured
public keys (RS256 with an RSA key, ES256 with a P-256 key), its ``aud`` names
an accepted audience, and it carries ``sub``, ``iss`` and an ``exp`` in the
future but at most one hour ahead, as the standard asks of its authority.
Anything else is 401; a valid token without the scope an endpoint needs is 403.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from deconflict import errors
from deconflict.accounts import USS_PREFIX
from deconflict.clock import Clock

__all__ = ["AA", "CM", "CMSA", "CP", "SC", "Client", "TokenVerifier", "party_of"]

#: The standard's scopes.
SC = "utm.strategic_coordination"
CMSA = "utm.conformance_monitoring_sa"
CM = "utm.constraint_management"
CP = "utm.constraint_processing"
AA = "utm.availability_arbitration"

#: A token may expire at most this far ahead (the standard's one hour), with a little
#: allowance for the authority's clock running ahead of ours.
MAX_LIFETIME_S = 3600.0
CLOCK_SKEW_S = 30.0

_PLAIN_SUB = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,59}$")


@dataclass(frozen=True)
class Client:
    """An authenticated USS: its ``sub``, the party it acts as, its scopes and issuer."""

    sub: str
    party: str
    scopes: frozenset[str]
    issuer: str = ""
    #: The token's ``exp``: what it opened (an alert stream) ends then.
    expires_at: dt.datetime | None = None

    def require(self, *alternatives: Sequence[str]) -> None:
        """Pass if the token holds every scope of at least one alternative, else 403."""
        if any(self.scopes.issuperset(needed) for needed in alternatives):
            return
        wanted = " or ".join(" + ".join(needed) for needed in alternatives)
        raise errors.Forbidden(f"the access token lacks the scope this needs: {wanted}")


def party_of(sub: str) -> str:
    """The party a USS acts as: ``uss-<sub>``, or ``uss-<digest>`` for an unusual ``sub``.

    The prefix keeps USS identities apart from the parties an admin registers, so a
    token can never act as one of them.
    """
    if _PLAIN_SUB.match(sub):
        return f"{USS_PREFIX}{sub}"
    return USS_PREFIX + hashlib.sha256(sub.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class _Key:
    key: Any
    algorithm: str
    kid: str | None


def _algorithm(key: Any, source: str) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise errors.InvalidValue("a facade token key is an RSA or a P-256 public key", field=source)


def _pem_keys(paths: Sequence[str]) -> list[_Key]:
    keys = []
    for path in paths:
        try:
            key = load_pem_public_key(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            raise errors.InvalidValue(
                f"cannot read a PEM public key from {path}: {exc}", field="dss_public_keys"
            ) from None
        keys.append(_Key(key, _algorithm(key, "dss_public_keys"), None))
    return keys


def _jwks_keys(path: str) -> list[_Key]:
    if not path:
        return []
    try:
        found = jwt.PyJWKSet.from_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, jwt.PyJWKError, json.JSONDecodeError) as exc:
        raise errors.InvalidValue(f"cannot read the JWKS {path}: {exc}", field="dss_jwks") from None
    return [_Key(k.key, _algorithm(k.key, "dss_jwks"), k.key_id) for k in found.keys]


class TokenVerifier:
    """Checks facade access tokens against the configured keys and audiences."""

    def __init__(
        self,
        clock: Clock,
        public_keys: Sequence[str] = (),
        jwks: str = "",
        audiences: Sequence[str] = (),
    ) -> None:
        self._clock = clock
        self._keys = _pem_keys(public_keys) + _jwks_keys(jwks)
        self._audiences = list(audiences)
        if self._keys and not self._audiences:
            raise errors.MissingField(
                "facade token keys need at least one accepted audience (--dss-audience)",
                field="dss_audiences",
            )

    def _candidates(self, token: str) -> list[_Key]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise errors.Unauthenticated("the access token is not a JWT") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        keys = [k for k in self._keys if k.algorithm == algorithm]
        if not keys:
            raise errors.Unauthenticated(
                f"the access token's algorithm {algorithm!r} matches no configured key"
            )
        named = [k for k in keys if kid is not None and k.kid == kid]
        return named or keys

    def _claims(self, token: str) -> dict[str, Any]:
        failure: jwt.PyJWTError | None = None
        for key in self._candidates(token):
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key.key,
                    algorithms=[key.algorithm],
                    audience=self._audiences,
                    options={
                        "require": ["exp", "iss", "sub", "aud"],
                        # Times are checked below, against the service's own clock.
                        "verify_exp": False,
                        "verify_iat": False,
                        "verify_nbf": False,
                    },
                )
                return claims
            except jwt.InvalidSignatureError as exc:
                failure = exc
            except jwt.PyJWTError as exc:
                raise errors.Unauthenticated(f"the access token is not valid: {exc}") from None
        raise errors.Unauthenticated(f"the access token is not valid: {failure}")

    def verify(self, authorization: str | None) -> Client:
        """The client behind an ``Authorization: Bearer <jwt>`` header, or 401."""
        if not self._keys:
            raise errors.Unauthenticated(
                "this service accepts no facade tokens: no --dss-public-key is configured"
            )
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise errors.Unauthenticated("an Authorization: Bearer access token is required")
        claims = self._claims(token.strip())
        now = self._clock.now().timestamp()
        exp, sub, scope = claims.get("exp"), claims.get("sub"), claims.get("scope", "")
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            raise errors.Unauthenticated("the access token's exp is not a number")
        if exp <= now:
            raise errors.Unauthenticated("the access token has expired")
        if exp > now + MAX_LIFETIME_S + CLOCK_SKEW_S:
            raise errors.Unauthenticated("the access token's exp is more than one hour ahead")
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and not isinstance(nbf, bool) and nbf > now + CLOCK_SKEW_S:
            raise errors.Unauthenticated("the access token is not valid yet (nbf)")
        if not isinstance(sub, str) or not sub or len(sub) > 200:
            raise errors.Unauthenticated("the access token's sub is not a client id")
        if not isinstance(scope, str):
            raise errors.Unauthenticated("the access token's scope is not a string")
        issuer = claims.get("iss")
        if not isinstance(issuer, str):
            raise errors.Unauthenticated("the access token's iss is not a string")
        expires = dt.datetime.fromtimestamp(exp, dt.UTC)
        return Client(sub, party_of(sub), frozenset(scope.split()), issuer, expires)
