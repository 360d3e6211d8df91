"""Test helpers for the F3548 facade: a token authority, and the standard's OpenAPI contract.

The contract is read from ``../shared/specs/astm-f3548-21-utm.yaml`` beside the
checkout; every answer a :class:`Uss` gets is checked against it: the status
must be documented for the operation, and the body must match its schema.
"""

from __future__ import annotations

import re
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jwt
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from deconflict.clock import SystemClock

SPEC = Path(__file__).resolve().parents[2] / "shared" / "specs" / "astm-f3548-21-utm.yaml"

ALL_SCOPES = (
    "utm.strategic_coordination",
    "utm.constraint_management",
    "utm.constraint_processing",
    "utm.conformance_monitoring_sa",
    "utm.availability_arbitration",
)


@cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return loaded


def _template(path: str) -> str:
    """The spec's path template an actual ``/dss/v1/…`` path matches (literals first)."""
    matches = []
    for template in spec()["paths"]:
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path):
            matches.append(template)
    assert matches, f"{path} is no path of the standard"
    return min(matches, key=lambda t: t.count("{"))


def check(method: str, path: str, response: httpx.Response) -> None:
    """Fail unless the answer's status is documented and its body matches the schema."""
    operation = spec()["paths"][_template(path)][method.lower()]
    status = str(response.status_code)
    documented = operation["responses"]
    assert status in documented, (
        f"{method} {path} answered {status}, which the standard does not document "
        f"(it documents {sorted(documented)}): {response.text[:500]}"
    )
    content = documented[status].get("content")
    if content is None:
        return
    assert response.headers["content-type"].startswith("application/json")
    schema = dict(content["application/json"]["schema"])
    schema["components"] = spec()["components"]
    OAS30Validator(schema, format_checker=oas30_format_checker).validate(response.json())


class Authority:
    """An OAuth authority for tests: an RSA and a P-256 key, and the tokens they sign."""

    def __init__(self, folder: Path) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.rsa_pem = folder / "authority-rsa.pem"
        self.ec_pem = folder / "authority-ec.pem"
        for key, path in ((self.rsa, self.rsa_pem), (self.ec, self.ec_pem)):
            path.write_bytes(
                key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )

    def token(
        self,
        sub: str,
        scopes: tuple[str, ...] = ALL_SCOPES,
        *,
        algorithm: str = "RS256",
        aud: str = "localhost",
        lifetime_s: float = 1800,
        drop: tuple[str, ...] = (),
        key: Any = None,
    ) -> str:
        claims: dict[str, Any] = {
            "iss": "https://auth.test",
            "sub": sub,
            "aud": aud,
            "exp": int(SystemClock().now().timestamp() + lifetime_s),
            "jti": str(uuid.uuid4()),
            "scope": " ".join(scopes),
        }
        for name in drop:
            claims.pop(name)
        signer = key if key is not None else (self.rsa if algorithm == "RS256" else self.ec)
        return jwt.encode(claims, signer, algorithm=algorithm)


class Party:
    """A native party of ``/v1``, by its token; one connection per call."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base + path, headers=self.headers, timeout=30.0)

    def post(self, path: str, json: Any) -> httpx.Response:
        return httpx.post(self.base + path, json=json, headers=self.headers, timeout=30.0)

    def put(self, path: str, json: Any) -> httpx.Response:
        return httpx.put(self.base + path, json=json, headers=self.headers, timeout=30.0)


class Uss:
    """A USS client of the facade; every answer it gets is checked against the standard."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> httpx.Response:
        full = "/dss/v1" + path
        sent = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        sent.update(headers)
        response = httpx.request(method, self.base + full, json=body, headers=sent, timeout=30.0)
        check(method, full, response)
        return response
