"""Test helpers for the F3548 facade: a token authority, and the standard's contract.

The contract comes from ``uas-standards``, which carries the operations and
data types of the ASTM F3548-21 OpenAPI document: :func:`openapi` rebuilds an
OpenAPI 3.0 document from them (for schemathesis), and every answer a
:class:`Uss` gets is checked against it by :func:`check`: the status must be
documented for the operation, and the body must match its schema.
"""

from __future__ import annotations

import re
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from implicitdict.jsonschema import SchemaVars, make_json_schema
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from uas_standards.astm.f3548.v21.api import API_VERSION, OPERATIONS
from uas_standards.utils import Operation

from deconflict.clock import SystemClock

ALL_SCOPES = (
    "utm.strategic_coordination",
    "utm.constraint_management",
    "utm.constraint_processing",
    "utm.conformance_monitoring_sa",
    "utm.availability_arbitration",
)

_SCHEMAS = "#/components/schemas/"

#: ``uas-standards`` types these path parameters ``EntityID`` and ``SubscriptionID``,
#: aliases of ``UUIDv4Format`` (a version-4 UUID), which are plain ``str`` at run time.
_UUID_PARAMETERS = frozenset({"entityid", "subscriptionid"})


def _schema_vars(kind: type) -> SchemaVars:
    return SchemaVars(name=kind.__name__, path_to=lambda target, _: _SCHEMAS + target.__name__)


def _as_oas30(schema: Any) -> Any:
    """A JSON Schema from ``implicitdict`` as an OpenAPI 3.0 schema object.

    ``implicitdict`` lists a ``$ref`` property on every object and makes optional
    fields nullable; in the standard they are only left out of ``required``.
    """
    if isinstance(schema, list):
        return [_as_oas30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    one_of = schema.get("oneOf")
    if one_of and len(one_of) == 2 and {"type": "null"} in one_of:
        (kept,) = (s for s in one_of if s != {"type": "null"})
        rest = {k: v for k, v in schema.items() if k not in ("oneOf", "description")}
        return _as_oas30({**rest, **kept})
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("$schema", "$id"):
            continue
        if key == "type" and isinstance(value, list):
            (value,) = (t for t in value if t != "null")
        elif key == "properties":
            value = {k: _as_oas30(v) for k, v in value.items() if k != "$ref"}
        else:
            value = _as_oas30(value)
        out[key] = value
    return out


def _json(kind: type) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _SCHEMAS + kind.__name__}}}


def _operation(operation: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    kinds = [operation.request_body_type, *operation.response_body_type.values()]
    for kind in kinds:
        if kind is not None:
            make_json_schema(kind, _schema_vars, schemas)
    described: dict[str, Any] = {
        "operationId": operation.id,
        "responses": {
            str(status): {"description": str(status)} | ({"content": _json(kind)} if kind else {})
            for status, kind in operation.response_body_type.items()
        },
    }
    names = re.findall(r"\{([^}]+)\}", operation.path)
    if names:
        described["parameters"] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string"}
                | ({"format": "uuid"} if name in _UUID_PARAMETERS else {}),
            }
            for name in names
        ]
    if operation.request_body_type is not None:
        described["requestBody"] = {
            "required": True,
            "content": _json(operation.request_body_type),
        }
    return described


@cache
def openapi() -> dict[str, Any]:
    """The F3548-21 operations and data types of ``uas-standards`` as an OpenAPI 3.0 document."""
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS.values():
        paths.setdefault(operation.path, {})[operation.verb.lower()] = _operation(
            operation, schemas
        )
    return {
        "openapi": "3.0.3",
        "info": {"title": "ASTM F3548-21 UTM (from uas-standards)", "version": API_VERSION},
        "paths": paths,
        "components": {"schemas": {name: _as_oas30(s) for name, s in sorted(schemas.items())}},
    }


def _operation_for(method: str, path: str) -> Operation:
    """The standard's operation for an actual ``/dss/v1/…`` path (literal templates first)."""
    templates = {operation.path for operation in OPERATIONS.values()}
    matches = [
        template
        for template in templates
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path)
    ]
    assert matches, f"{path} is no path of the standard"
    template = min(matches, key=lambda t: t.count("{"))
    found = [
        operation
        for operation in OPERATIONS.values()
        if operation.path == template and operation.verb == method.upper()
    ]
    assert found, f"the standard has no {method.upper()} {template}"
    return found[0]


def check(method: str, path: str, response: httpx.Response) -> None:
    """Fail unless the answer's status is documented and its body matches the schema."""
    documented = _operation_for(method, path).response_body_type
    status = response.status_code
    assert status in documented, (
        f"{method} {path} answered {status}, which the standard does not document "
        f"(it documents {sorted(documented)}): {response.text[:500]}"
    )
    kind = documented[status]
    if kind is None:
        return
    assert response.headers["content-type"].startswith("application/json")
    schema = {"$ref": _SCHEMAS + kind.__name__, "components": openapi()["components"]}
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
