"""The demo scenario: parties, a channel and notices, seeded into a fresh store.

The scenario is data (``data/demo.json``); times in it are hours from the
moment the demo starts, so the notices are always current.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from deconflict.disclosure import Viewer
from deconflict.interchange import format_instant
from deconflict.model import Role
from deconflict.service import Service

__all__ = ["DemoParty", "TestAuthority", "incident_command", "load_scenario", "seed"]


@dataclass(frozen=True)
class DemoParty:
    id: str
    name: str
    role: str
    token: str


def load_scenario() -> dict[str, Any]:
    text = (resources.files("deconflict") / "data" / "demo.json").read_text(encoding="utf-8")
    scenario: dict[str, Any] = json.loads(text)
    return scenario


def _at(start: dt.datetime, hours: Any) -> Any:
    if isinstance(hours, int | float) and not isinstance(hours, bool):
        return format_instant(start + dt.timedelta(hours=hours))
    return hours


def _timed(body: dict[str, Any], start: dt.datetime) -> dict[str, Any]:
    """The body with every relative time (hours) made absolute."""
    body = json.loads(json.dumps(body))
    for volume in body.get("volumes", []):
        window = volume["time"]
        window["start"] = _at(start, window["start"])
        if "end" in window:
            window["end"] = _at(start, window["end"])
    route = body.get("route")
    if route:
        route["waypoint_times"] = [_at(start, t) for t in route["waypoint_times"]]
    return body


def seed(service: Service, scenario: dict[str, Any]) -> tuple[list[DemoParty], dict[str, str]]:
    """Create the scenario's parties, channels and notices; return tokens and notice ids."""
    parties = []
    for p in scenario["parties"]:
        record, token = service.accounts.add_party(
            None, p["id"], p["name"], p.get("role", "member"), p.get("contact")
        )
        parties.append(DemoParty(record["id"], record["name"], record["role"], token))
    for c in scenario.get("channels", []):
        service.accounts.add_channel(None, c["id"], c["name"], c["members"])
    start = service.clock.now().replace(minute=0, second=0, microsecond=0)
    ids = {}
    for n in scenario["notices"]:
        viewer = service.accounts.authenticate(next(p.token for p in parties if p.id == n["party"]))
        viewer = Viewer(viewer.party, Role(viewer.role), viewer.channels)
        _, answer = service.submit(viewer, _timed(n["body"], start))
        ids[n["label"]] = answer["notice"]["id"]
    _fly(service, scenario, parties)
    return parties, ids


def _fly(service: Service, scenario: dict[str, Any], parties: list[DemoParty]) -> None:
    """The scenario's track reports, seconds before now: a near miss by a hospital."""
    now = service.clock.now()
    for track in scenario.get("tracks", []):
        token = next(p.token for p in parties if p.id == track["party"])
        viewer = service.accounts.authenticate(token)
        reports = [
            {k: v for k, v in r.items() if k != "seconds"}
            | {"time": format_instant(now + dt.timedelta(seconds=r["seconds"]))}
            for r in track["reports"]
        ]
        service.tracks.ingest(
            Viewer(viewer.party, Role(viewer.role), viewer.channels), {"reports": reports}
        )


class TestAuthority:
    """A token authority for the demo's F3548 facade: a P-256 key made in the demo folder.

    The public half is given to the service (``dss_public_keys``); the private half
    stays beside the store, so that a new USS token can be signed with it after the
    hour, with any JWT library (docs/dss.md shows how).
    """

    SCOPES = (
        "utm.strategic_coordination",
        "utm.constraint_management",
        "utm.constraint_processing",
        "utm.conformance_monitoring_sa",
        "utm.availability_arbitration",
    )

    def __init__(self, folder: Path) -> None:
        self.private_pem = folder / "dss-authority-key.pem"
        self.public_pem = folder / "dss-authority.pem"
        key = ec.generate_private_key(ec.SECP256R1())
        self.private_pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.private_pem.chmod(0o600)
        self.public_pem.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        self._key = key

    def token(self, sub: str, audience: str, now: dt.datetime) -> str:
        """An access token for ``sub`` with every scope, valid for one hour."""
        claims = {
            "iss": "https://demo-authority.invalid",
            "sub": sub,
            "aud": audience,
            "exp": int(now.timestamp()) + 3600,
            "jti": str(uuid.uuid4()),
            "scope": " ".join(self.SCOPES),
        }
        return jwt.encode(claims, self._key, algorithm="ES256")


def incident_command(scenario: dict[str, Any], db: str, at: dt.datetime) -> str:
    """The command that reviews the scenario's incident (the near miss by the hospital)."""
    q = scenario["incident"]
    lon, lat = q["near"]
    return (
        f"deconflict incident --db {db} --at {format_instant(at.replace(microsecond=0))}"
        f" --near {lon},{lat}"
        f" --radius {q['radius_km']} --window {q['window_min']} --html incident.html"
    )
