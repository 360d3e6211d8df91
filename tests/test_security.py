"""Authentication hardening: tokens hashed at rest, rotation and revocation, ledgered
administrative actions, and HTTPS from ``deconflict serve``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from deconflict import errors
from deconflict.accounts import hash_token
from deconflict.api.app import create_app
from deconflict.clock import FixedClock, SystemClock
from deconflict.config import Settings, load_settings
from deconflict.service import Service
from deconflict.store import open_store
from server import Server, cli, free_port

T0 = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Any, dict[str, str], Path]]:
    path = tmp_path / "s.db"
    service = Service(open_store(str(path)), FixedClock(T0), Settings(db=str(path)))
    tokens = {}
    for party, role in (("alpha", "member"), ("bravo", "member"), ("ops", "admin")):
        _, tokens[party] = service.accounts.add_party(None, party, party.title(), role)
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        yield client, tokens, path
    service.store.close()


def _me(client: Any, token: str) -> int:
    return int(client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code)


def test_tokens_are_kept_only_as_digests(world: tuple[Any, dict[str, str], Path]) -> None:
    client, tokens, path = world
    stored = path.read_bytes() + b"".join(
        p.read_bytes() for p in path.parent.glob("s.db-*")
    )  # the file and its write-ahead log
    for token in tokens.values():
        assert token.encode() not in stored
        assert _me(client, token) == 200


def test_a_party_rotates_its_own_token_and_the_old_one_stops_at_once(
    world: tuple[Any, dict[str, str], Path],
) -> None:
    client, tokens, _ = world
    old = tokens["alpha"]
    answer = client.post("/v1/parties/alpha/token", headers={"Authorization": f"Bearer {old}"})
    assert answer.status_code == 200, answer.text
    new = answer.json()["token"]
    assert new != old and new.startswith("dcf_")
    assert _me(client, old) == 401
    assert _me(client, new) == 200
    record = answer.json()["receipt"]["record"]
    assert record == record | {"type": "party.token", "party": "alpha", "by": "alpha"}
    assert new not in json.dumps(record) and old not in json.dumps(record)


def test_only_an_admin_touches_another_partys_token(
    world: tuple[Any, dict[str, str], Path],
) -> None:
    client, tokens, _ = world
    as_alpha = {"Authorization": f"Bearer {tokens['alpha']}"}
    assert client.post("/v1/parties/bravo/token", headers=as_alpha).status_code == 403
    assert client.delete("/v1/parties/bravo/token", headers=as_alpha).status_code == 403
    assert client.delete("/v1/parties/alpha/token", headers=as_alpha).status_code == 403
    assert _me(client, tokens["bravo"]) == 200 and _me(client, tokens["alpha"]) == 200
    as_ops = {"Authorization": f"Bearer {tokens['ops']}"}
    revoked = client.delete("/v1/parties/bravo/token", headers=as_ops)
    assert revoked.status_code == 200 and revoked.json()["token"] == "revoked"
    assert _me(client, tokens["bravo"]) == 401
    issued = client.post("/v1/parties/bravo/token", headers=as_ops).json()["token"]
    assert _me(client, issued) == 200
    missing = client.post("/v1/parties/nobody/token", headers=as_ops)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_token_changes_are_ledgered_and_the_store_still_verifies(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    first = cli("party", "add", "alpha", "--name", "Alpha", "--db", db).strip()
    second = cli("party", "token", "alpha", "--db", db).strip()
    assert second.startswith("dcf_") and second != first
    assert "revoked" in cli("party", "revoke", "alpha", "--db", db)
    store = open_store(db)
    try:
        with store.read() as tx:
            records = [json.loads(e.record) for e in tx.ledger.entries(0, tx.ledger.size())]
            assert tx.parties.by_token_hash(hash_token(second)) is None
    finally:
        store.close()
    changes = [(r["party"], r["action"]) for r in records if r["type"] == "party.token"]
    assert changes == [("alpha", "rotated"), ("alpha", "revoked")]
    assert all(first not in json.dumps(r) and second not in json.dumps(r) for r in records)
    assert "verified" in cli("verify", "--db", db)


# --- HTTPS ----------------------------------------------------------------------------------------


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "deconflict test")])
    now = SystemClock().now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_serve_speaks_https_with_a_certificate_and_key(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    db = str(tmp_path / "tls.db")
    token = cli("party", "add", "alpha", "--name", "Alpha", "--db", db).strip()
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deconflict",
            "serve",
            "--db",
            db,
            "--port",
            str(port),
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"https://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(
                    f"{url}/v1/me",
                    verify=ssl.create_default_context(cafile=str(cert)),
                    timeout=2,
                    headers={"Authorization": f"Bearer {token}"},
                )
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json()["party"] == "alpha"
        assert answer.http_version == "HTTP/1.1" and answer.url.scheme == "https"
        with pytest.raises(httpx.TransportError):  # plain HTTP on the same port is refused
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        with pytest.raises(httpx.ConnectError):  # and a client that checks certificates
            httpx.get(f"{url}/healthz", timeout=2)  # against the system CAs refuses it
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
    assert "https://127.0.0.1" in (tmp_path / "server.log").read_text()


def test_serve_refuses_half_a_tls_pair(tmp_path: Path) -> None:
    cert, _ = _certificate(tmp_path)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "deconflict",
            "serve",
            "--db",
            str(tmp_path / "x.db"),
            "--tls-cert",
            str(cert),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert json.loads(done.stderr)["error"]["field"] == "--tls-key"


# --- a party probing others' notices -----------------------------------------------------------


def test_what_if_checks_are_rationed_per_party(tmp_path: Path) -> None:
    """Each check shows the existence of others' notices in the probed space: a party that
    sweeps the map with checks is slowed to ``check_per_minute``, and every answer it got is
    on record as a disclosure."""
    path = str(tmp_path / "probe.db")
    clock = FixedClock(T0)
    service = Service(open_store(path), clock, Settings(db=path, check_per_minute=5))
    tokens = {p: service.accounts.add_party(None, p, p.title())[1] for p in ("owner", "prober")}
    window = {"start": "2026-06-01T13:00:00Z", "end": "2026-06-01T15:00:00Z"}
    volume = {
        "footprint": {"type": "Circle", "center": [35.0, 33.0], "radius_m": 5_000},
        "altitude": {"lower": 0, "upper": 3_000, "reference": "W84"},
        "time": window,
    }
    probe = {"kind": "operation", "volumes": [volume]}
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        as_owner = {"Authorization": f"Bearer {tokens['owner']}"}
        as_prober = {"Authorization": f"Bearer {tokens['prober']}"}
        filed = client.post("/v1/notices", json=probe, headers=as_owner)
        assert filed.status_code == 201
        notice_id = filed.json()["notice"]["id"]
        answers = [client.post("/v1/check", json=probe, headers=as_prober) for _ in range(7)]
        assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
        refused = answers[-1].json()["error"]
        assert refused["code"] == "rate_limited" and float(answers[-1].headers["Retry-After"]) > 0
        assert (
            client.post("/v1/check", json=probe, headers=as_owner).status_code == 200
        )  # per party
        bad = client.post("/v1/check", json={"kind": "operation"}, headers=as_prober)
        assert bad.status_code == 422  # an invalid probe probes nothing and costs nothing
        clock.advance(60)
        assert client.post("/v1/check", json=probe, headers=as_prober).status_code == 200
        shown = client.get(
            "/v1/disclosures", params={"notice_id": notice_id}, headers=as_owner
        ).json()
        assert sum(1 for d in shown if d["recipient"] == "prober") == 6
    service.store.close()


def test_identification_is_rationed_and_operations_have_a_horizon(tmp_path: Path) -> None:
    path = str(tmp_path / "limits.db")
    settings = Settings(db=path, identify_per_minute=3, max_horizon_days=30)
    service = Service(open_store(path), FixedClock(T0), settings)
    token = service.accounts.add_party(None, "alpha", "Alpha")[1]
    headers = {"Authorization": f"Bearer {token}"}
    point = {"lon": 35.0, "lat": 33.0, "alt": 500, "time": "2026-06-01T12:00:00Z"}
    far = {
        "kind": "operation",
        "volumes": [
            {
                "footprint": {"type": "Circle", "center": [35.0, 33.0], "radius_m": 1_000},
                "altitude": {"lower": 0, "upper": 300, "reference": "W84"},
                "time": {"start": "2026-06-02T00:00:00Z", "end": "2026-07-15T00:00:00Z"},
            }
        ],
    }
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        codes = [client.get("/v1/identify", params=point, headers=headers).status_code]
        codes += [client.get("/v1/identify", params=point, headers=headers).status_code]
        codes += [client.get("/v1/identify", params=point, headers=headers).status_code]
        codes += [client.get("/v1/identify", params=point, headers=headers).status_code]
        assert codes == [200, 200, 200, 429]
        refused = client.post("/v1/notices", json=far, headers=headers)
        assert refused.status_code == 422
        assert refused.json()["error"]["field"] == "volumes[0].time.end"
        assert (
            client.get("/v1/notices", params={"bbox": "34,32,36,34"}, headers=headers).json() == []
        )
    service.store.close()


# --- token expiry ---------------------------------------------------------------------------------


def test_tokens_expire_after_their_lifetime(tmp_path: Path) -> None:
    path = tmp_path / "expiry.db"
    clock = FixedClock(T0)
    settings = Settings(db=str(path), token_lifetime_days=30)
    service = Service(open_store(str(path)), clock, settings)
    answer, token = service.accounts.add_party(None, "alpha", "Alpha")
    assert answer["token_expires_at"] == "2026-07-01T12:00:00Z"
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        auth = {"Authorization": f"Bearer {token}"}
        clock.advance(30 * 86_400 - 1)
        me = client.get("/v1/me", headers=auth)
        assert me.status_code == 200 and me.json()["token_expires_at"] == "2026-07-01T12:00:00Z"
        clock.advance(1)
        expired = client.get("/v1/me", headers=auth)
        assert expired.status_code == 401
        assert "expired at 2026-07-01T12:00:00Z" in expired.json()["error"]["message"]
        # A rotation issues a token with a lifetime of its own.
        rotated, fresh = service.accounts.rotate_token(None, "alpha")
        assert rotated["token_expires_at"] == "2026-07-31T12:00:00Z"
        assert client.get("/v1/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
        assert client.get("/v1/me", headers=auth).status_code == 401
    service.store.close()
    records = []
    store = open_store(str(path))
    try:
        with store.read() as tx:
            records = [json.loads(e.record) for e in tx.ledger.entries(0, tx.ledger.size())]
    finally:
        store.close()
    rotation = [r for r in records if r["type"] == "party.token"]
    assert rotation[0]["token_expires_at"] == "2026-07-31T12:00:00Z"
    [added] = [r for r in records if r["type"] == "party.add"]
    assert added["token_expires_at"] == "2026-07-01T12:00:00Z"
    assert "verified" in cli("verify", "--db", str(path))


def test_a_token_without_a_lifetime_never_expires(world: tuple[Any, dict[str, str], Path]) -> None:
    client, tokens, _ = world
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['alpha']}"})
    assert me.status_code == 200 and me.json()["token_expires_at"] is None


def test_an_expired_token_is_refused_by_a_real_server(tmp_path: Path) -> None:
    db = str(tmp_path / "live.db")
    config = tmp_path / "settings.toml"
    config.write_text("[deconflict]\ntoken_lifetime_days = 0.00005\n", encoding="utf-8")  # 4.3 s
    added = subprocess.run(
        [sys.executable, "-m", "deconflict", "party", "add", "alpha", "--name", "Alpha",
         "--db", db, "--config", str(config)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    token = added.stdout.strip()
    assert "the token expires at" in added.stderr
    port = free_port()
    args = ["serve", "--db", db, "--config", str(config), "--port", str(port)]
    server = Server(args, port, tmp_path / "server.log")
    server.start()
    try:
        auth = {"Authorization": f"Bearer {token}"}
        me = httpx.get(f"{server.url}/v1/me", headers=auth)
        assert me.status_code == 200, me.text
        expires = dt.datetime.fromisoformat(me.json()["token_expires_at"])
        wait = (expires - SystemClock().now()).total_seconds()
        assert 0 < wait <= 4.4
        time.sleep(wait + 0.2)
        refused = httpx.get(f"{server.url}/v1/me", headers=auth)
        assert refused.status_code == 401 and "expired" in refused.json()["error"]["message"]
        fresh = cli("party", "token", "alpha", "--db", db, "--config", str(config)).strip()
        again = httpx.get(f"{server.url}/v1/me", headers={"Authorization": f"Bearer {fresh}"})
        assert again.status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize("days", ["inf", "nan", "-1", "36501"])
def test_an_impossible_token_lifetime_is_refused(days: str) -> None:
    with pytest.raises(errors.InvalidValue, match="token_lifetime_days"):
        load_settings(None, environ={"DECONFLICT_TOKEN_LIFETIME_DAYS": days})
