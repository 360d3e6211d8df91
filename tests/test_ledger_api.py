"""The ledger through the HTTP API, in-process: receipts, proofs, disclosures, acks, cosignatures.

Each test drives the real app over a SQLite file in ``tmp_path`` with a fixed
clock. What the service hands out is checked the way a party would check it
offline: receipts with ``check_receipt`` against the key served at
``/ledger/key``, proofs with the RFC 9162 verifiers, commitments recomputed here
from the record and salt (SHA-256 of salt ‖ RFC 8785 JSON).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from fastapi.testclient import TestClient

from deconflict.api.app import create_app
from deconflict.clock import FixedClock
from deconflict.config import Settings
from deconflict.errors import VerificationFailed
from deconflict.ledger import merkle
from deconflict.ledger.note import (
    Cosigner,
    Signer,
    Verifier,
    open_note,
    parse_checkpoint,
    split_note,
    verify_cosignature,
)
from deconflict.ledger.verify import check_consistency, check_receipt
from deconflict.service import Service
from deconflict.store import SqliteStore

T0 = dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC)
NOW_S = int(T0.timestamp())
PARTIES = (("alpha", "member"), ("bravo", "member"), ("charlie", "member"))
PARTIES += (("adm", "admin"), ("aud", "auditor"))
#: Fields of a notice's view that are not part of its stored document.
_IDENTITY = {"id", "party", "version", "created_at", "updated_at", "acks"}


def _operation(lon: float, *, radius_m: float = 5000, audience: Any = None) -> dict[str, Any]:
    """A 5 km circle at 34° N, 1000–2000 m, two hours from 10:00 on the day of ``T0``."""
    return {
        "kind": "operation",
        "audience": audience if audience is not None else {},
        "volumes": [
            {
                "footprint": {"type": "Circle", "center": [lon, 34.0], "radius_m": radius_m},
                "altitude": {"lower": 1000, "upper": 2000, "reference": "W84"},
                "time": {"start": "2026-05-01T10:00:00Z", "end": "2026-05-01T12:00:00Z"},
            }
        ],
    }


# --- the world ------------------------------------------------------------------------------


@dataclass
class World:
    service: Service
    client: TestClient
    tokens: dict[str, str]

    def call(self, method: str, url: str, caller: str | None = None, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if caller is not None:
            headers["Authorization"] = f"Bearer {self.tokens[caller]}"
        return self.client.request(method, url, headers=headers, **kwargs)

    def ok(self, method: str, url: str, caller: str | None, status: int = 200, **kw: Any) -> Any:
        response = self.call(method, url, caller, **kw)
        assert response.status_code == status, f"{method} {url}: {response.text}"
        return response.json()

    def submit(self, caller: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.ok(
            "POST", "/v1/notices", caller, 201, json=body, headers=headers
        )
        return answer

    def key(self) -> Verifier:
        response = self.call("GET", "/ledger/key")
        assert response.status_code == 200, response.text
        return Verifier.parse(response.text)

    def newest_size(self) -> int:
        """The size of the newest signed tree, as the inclusion endpoint reports it."""
        return int(self.ok("GET", "/v1/ledger/proof/inclusion?index=0", "aud")["size"])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    db = tmp_path / "s.db"
    service = Service(SqliteStore(db), FixedClock(T0), Settings(db=str(db)))
    tokens = {}
    for party, role in PARTIES:
        _, tokens[party] = service.accounts.add_party(None, party, party.title(), role)
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        yield World(service, client, tokens)
    service.store.close()


# --- independent checks ---------------------------------------------------------------------


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _commitment(record: Any, salt_b64: str) -> bytes:
    """SHA-256(salt ‖ RFC 8785 JSON of the record), computed here, not by the service."""
    return hashlib.sha256(_unb64(salt_b64) + rfc8785.dumps(record)).digest()


def _size_of(receipt: dict[str, Any]) -> int:
    """The size of the checkpoint a receipt's tlog-proof carries (its second line)."""
    checkpoint = receipt["tlog_proof"].split("\n\n", 1)[1]
    return int(checkpoint.split("\n")[1])


def _assert_receipt(receipt: dict[str, Any], key: Verifier) -> str:
    """A receipt that proves what it says: its record, its entry, its signed tree."""
    assert _commitment(receipt["record"], receipt["salt"]) == _unb64(receipt["entry"])
    assert re.match(rf"c2sp\.org/tlog-proof@v1\nindex {receipt['index']}\n", receipt["tlog_proof"])
    described = check_receipt(receipt, [key])
    assert f"entry {receipt['index']} " in described, described
    assert f"tree of size {_size_of(receipt)}" in described, described
    return described


def _checkpoint(note: str, key: Verifier) -> tuple[int, bytes]:
    """The size and root of a note signed by ``key``."""
    text, signers = open_note(note, [key])
    assert signers == [key.name]
    checkpoint = parse_checkpoint(text)
    assert checkpoint.origin == key.name
    return checkpoint.size, checkpoint.root


_ERROR_KEYS = {"code", "message", "id"}


def assert_error(response: Any, status: int | None = None, field: str | None = None) -> Any:
    """A 4xx in the one error shape, never a 500 or a traceback."""
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text}"
    if status is not None:
        assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert _ERROR_KEYS <= set(error) <= _ERROR_KEYS | {"field"}, error
    assert all(isinstance(error[k], str) and error[k] for k in _ERROR_KEYS), error
    assert "Traceback" not in response.text
    if field is not None:
        assert error.get("field") == field, error
    return error


# --- receipts -------------------------------------------------------------------------------


def test_a_submit_answer_carries_a_receipt_that_verifies_offline(world: World) -> None:
    key = world.key()
    answer = world.submit("alpha", _operation(36.0, audience={"parties": ["bravo"]}))
    notice, receipt = answer["notice"], answer["receipt"]

    described = _assert_receipt(receipt, key)

    assert f"{notice['id']} v1" in described
    record = receipt["record"]
    assert {k: record[k] for k in ("type", "notice", "version", "party", "kind", "state")} == {
        "type": "notice",
        "notice": notice["id"],
        "version": 1,
        "party": "alpha",
        "kind": "operation",
        "state": "planned",
    }
    stored = world.ok("GET", f"/v1/notices/{notice['id']}", "alpha")
    assert record["doc"] == {k: v for k, v in stored.items() if k not in _IDENTITY}
    assert record["doc"]["volumes"][0]["footprint"]["radius_m"] == 5000
    # The same entry is what the log holds at that index.
    proof = world.ok(
        "GET",
        f"/v1/ledger/proof/inclusion?index={receipt['index']}&size={_size_of(receipt)}",
        "aud",
    )
    assert proof["entry"] == receipt["entry"]
    assert proof["tlog_proof"] == receipt["tlog_proof"]


def test_a_receipt_whose_record_was_edited_does_not_verify(world: World) -> None:
    key = world.key()
    receipt = world.submit("alpha", _operation(36.0))["receipt"]
    receipt["record"]["doc"]["volumes"][0]["footprint"]["radius_m"] = 50

    with pytest.raises(VerificationFailed, match=rf"entry {receipt['index']}: the record and salt"):
        check_receipt(receipt, [key])
    other = world.submit("bravo", _operation(30.0))["receipt"]
    with pytest.raises(VerificationFailed, match="no signature by a known key"):
        check_receipt(other, [Signer.generate("elsewhere.example/log").verifier])


def test_an_update_and_a_cancel_each_have_a_receipt_further_along(world: World) -> None:
    key = world.key()
    created = world.submit("alpha", _operation(36.0))
    notice_id = created["notice"]["id"]
    updated = world.ok(
        "PUT",
        f"/v1/notices/{notice_id}",
        "alpha",
        json=_operation(36.0, radius_m=4000) | {"version": 1},
    )
    cancelled = world.ok("DELETE", f"/v1/notices/{notice_id}?version=2", "alpha")

    receipts = [a["receipt"] for a in (created, updated, cancelled)]
    for receipt in receipts:
        _assert_receipt(receipt, key)
    indexes = [r["index"] for r in receipts]
    assert indexes == sorted(set(indexes)), indexes
    assert [_size_of(r) for r in receipts] == sorted({_size_of(r) for r in receipts})
    assert [(r["record"]["version"], r["record"]["state"]) for r in receipts] == [
        (1, "planned"),
        (2, "planned"),
        (3, "cancelled"),
    ]
    assert all(r["record"]["notice"] == notice_id for r in receipts)
    assert receipts[1]["record"]["doc"]["volumes"][0]["footprint"]["radius_m"] == 4000


def test_an_idempotent_retry_returns_the_same_receipt_and_logs_nothing(world: World) -> None:
    key = {"Idempotency-Key": "alpha-0001"}
    first = world.submit("alpha", _operation(36.0), **key)
    size = world.newest_size()

    again = world.submit("alpha", _operation(36.0), **key)

    assert again["receipt"] == first["receipt"]
    assert again == first
    assert world.newest_size() == size
    _assert_receipt(again["receipt"], world.key())


# --- proofs ---------------------------------------------------------------------------------


def _busy(world: World) -> list[dict[str, Any]]:
    """A few writes, two of them in conflict (so some transactions log several entries)."""
    answers = [
        world.submit("alpha", _operation(36.0, audience={"parties": ["bravo"]})),
        world.submit("bravo", _operation(36.01)),
        world.submit("charlie", _operation(36.02)),
        world.submit("charlie", _operation(10.0)),
    ]
    notice_id = answers[0]["notice"]["id"]
    answers.append(
        world.ok("PUT", f"/v1/notices/{notice_id}", "alpha", json=_operation(36.0) | {"version": 1})
    )
    return answers


def test_every_entry_has_an_inclusion_proof_against_the_newest_signed_root(world: World) -> None:
    key = world.key()
    receipts = {a["receipt"]["index"]: a["receipt"] for a in _busy(world)}
    size = world.newest_size()
    assert size > max(receipts)

    for index in range(size):
        proof = world.ok("GET", f"/v1/ledger/proof/inclusion?index={index}&size={size}", "bravo")
        assert (proof["index"], proof["size"]) == (index, size)
        signed_size, root = _checkpoint(proof["checkpoint"], key)
        assert signed_size == size
        leaf = merkle.leaf_hash(_unb64(proof["entry"]))
        hashes = [_unb64(h) for h in proof["proof"]]
        assert merkle.verify_inclusion(index, size, leaf, hashes, root), index
        assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(b"forged"), hashes, root)
        if index in receipts:
            assert proof["entry"] == receipts[index]["entry"]
            described = check_receipt({**receipts[index], "tlog_proof": proof["tlog_proof"]}, [key])
            assert f"tree of size {size}" in described


def test_an_inclusion_proof_out_of_range_is_422_and_of_an_unsigned_size_404(world: World) -> None:
    _busy(world)
    size = world.newest_size()

    beyond = world.call("GET", f"/v1/ledger/proof/inclusion?index={size}&size={size}", "alpha")
    assert_error(beyond, 422, "index")
    past = world.call("GET", f"/v1/ledger/proof/inclusion?index={size + 5}", "alpha")
    assert_error(past, 422, "index")
    unsigned = world.call("GET", f"/v1/ledger/proof/inclusion?index=0&size={size + 1000}", "alpha")
    assert_error(unsigned, 404, "size")


def test_consistency_proofs_between_every_pair_of_signed_sizes_verify(world: World) -> None:
    key = world.key()
    sizes = sorted({_size_of(a["receipt"]) for a in _busy(world)})
    assert len(sizes) >= 4

    for old, new in itertools.combinations_with_replacement(sizes, 2):
        doc = world.ok("GET", f"/v1/ledger/proof/consistency?from={old}&to={new}", "charlie")
        assert check_consistency(doc, [key]) == (old, new)
        (old_size, old_root), (new_size, new_root) = (
            _checkpoint(doc["old"], key),
            _checkpoint(doc["new"], key),
        )
        proof = [_unb64(h) for h in doc["proof"]]
        assert merkle.verify_consistency(old_size, new_size, old_root, new_root, proof)
        if old != new:
            assert not merkle.verify_consistency(old_size, new_size, new_root, new_root, proof)

    newest = world.ok("GET", f"/v1/ledger/proof/consistency?from={sizes[0]}", "charlie")
    assert check_consistency(newest, [key]) == (sizes[0], world.newest_size())
    backwards = world.call(
        "GET", f"/v1/ledger/proof/consistency?from={sizes[-1]}&to={sizes[0]}", "charlie"
    )
    assert_error(backwards, 422, "from")
    unsigned = world.call("GET", f"/v1/ledger/proof/consistency?from={sizes[-1] + 999}", "charlie")
    assert_error(unsigned, 404, "from")


def test_publishing_makes_the_newest_checkpoint_public(world: World) -> None:
    key = world.key()
    _busy(world)
    size = world.newest_size()

    published = world.ok("POST", "/v1/ledger/checkpoint", "bravo")

    public = world.call("GET", "/ledger/checkpoint")
    assert public.status_code == 200
    assert public.headers["content-type"] == "text/plain; charset=utf-8"
    assert public.text == published["checkpoint"]
    assert _checkpoint(public.text, key)[0] == size
    assert_error(world.call("POST", "/v1/ledger/checkpoint"), 401)


# --- disclosures ----------------------------------------------------------------------------


def test_each_disclosure_is_a_ledger_entry_the_recipient_can_check(world: World) -> None:
    key = world.key()
    alpha = world.submit("alpha", _operation(36.0, audience={"parties": ["bravo"]}))
    charlie = world.submit("charlie", _operation(36.02))
    assert [c["other"]["id"] for c in charlie["conflicts"]] == [alpha["notice"]["id"]]

    shown = world.ok("GET", "/v1/disclosures", "charlie")
    assert shown, "charlie was shown alpha's notice, and nothing records it"
    as_admin = world.ok("GET", "/v1/disclosures?recipient=charlie", "adm")
    assert [d["ledger_index"] for d in as_admin] == [d["ledger_index"] for d in shown]
    index = shown[0]["ledger_index"]
    assert isinstance(index, int)
    batch = [d for d in shown if d["ledger_index"] == index]

    entry = world.ok("GET", f"/v1/ledger/entries/{index}", "charlie")

    record = entry["record"]
    assert (entry["index"], entry["type"], record["type"]) == (index, "disclosure", "disclosure")
    assert (record["recipient"], record["reason"]) == ("charlie", batch[0]["reason"])
    assert [(i["notice"], i["version"], i["owner"], i["level"]) for i in record["items"]] == [
        (d["notice_id"], d["notice_version"], d["owner"], d["level"]) for d in batch
    ]
    for item, disclosure in zip(record["items"], batch, strict=True):
        assert item["view_sha256"] == hashlib.sha256(rfc8785.dumps(disclosure["view"])).hexdigest()
    assert _commitment(record, entry["salt"]) == _unb64(entry["entry"])
    proof = world.ok("GET", f"/v1/ledger/proof/inclusion?index={index}", "charlie")
    assert proof["entry"] == entry["entry"]
    size, root = _checkpoint(proof["checkpoint"], key)
    leaf = merkle.leaf_hash(_unb64(entry["entry"]))
    assert merkle.verify_inclusion(index, size, leaf, [_unb64(h) for h in proof["proof"]], root)

    assert_error(world.call("GET", f"/v1/ledger/entries/{index}", "bravo"), 404)
    assert world.ok("GET", f"/v1/ledger/entries/{index}", "aud") == entry
    assert world.ok("GET", f"/v1/ledger/entries/{index}", "adm") == entry


#: What an auditor or admin outside a notice's audience may see of its logged record.
_NOTICE_METADATA = {"type", "at", "notice", "version", "party", "kind", "state", "category", "time"}


def test_a_notice_entry_is_whole_only_to_its_owner_and_audience(world: World) -> None:
    world.ok("POST", "/v1/channels", "adm", 201, json={"id": "ops", "name": "Ops"})
    world.ok("POST", "/v1/channels/ops/members", "adm", json={"party": "alpha"})
    world.ok("POST", "/v1/channels/ops/members", "adm", json={"party": "adm"})
    secret = {"category": "recce", "aircraft": ["SECRET-AC"], "contact": "secret contact"}
    to_bravo = world.submit("alpha", _operation(36.0, audience={"parties": ["bravo"]}) | secret)
    to_aud = world.submit("alpha", _operation(37.0, audience={"parties": ["aud"]}) | secret)
    to_ops = world.submit("alpha", _operation(38.0, audience={"channels": ["ops"]}) | secret)
    notice = to_bravo["notice"]
    cancel = world.ok("DELETE", f"/v1/notices/{notice['id']}?version=1", "alpha")

    def entry(answer: dict[str, Any], caller: str) -> dict[str, Any]:
        got: dict[str, Any] = world.ok(
            "GET", f"/v1/ledger/entries/{answer['receipt']['index']}", caller
        )
        return got

    for answer in (to_bravo, cancel):
        receipt = answer["receipt"]
        owner = entry(answer, "alpha")
        assert (owner["record"], owner["salt"]) == (receipt["record"], receipt["salt"])
        assert "redacted" not in owner
        for caller in ("aud", "adm"):
            shown = entry(answer, caller)
            assert shown["redacted"] is True and "salt" not in shown, shown
            assert shown["entry"] == receipt["entry"]  # in the log, provably, yet sealed
            record = shown["record"]
            assert set(record) == _NOTICE_METADATA, record
            assert record == {
                k: receipt["record"][k] for k in _NOTICE_METADATA - {"category", "time"}
            } | {
                "category": "recce",
                "time": {"start": "2026-05-01T10:00:00Z", "end": "2026-05-01T12:00:00Z"},
            }
            text = json.dumps(shown)
            for content in ("SECRET-AC", "secret contact", "bravo", "footprint", "audience"):
                assert content not in text, (caller, content)
    assert entry(cancel, "aud")["record"]["state"] == "cancelled"
    # An auditor in the audience reads the record whole; the admin, not in it, does not.
    whole = entry(to_aud, "aud")
    assert (whole["record"], whole["salt"]) == (
        to_aud["receipt"]["record"],
        to_aud["receipt"]["salt"],
    )
    assert _commitment(whole["record"], whole["salt"]) == _unb64(whole["entry"])
    assert entry(to_aud, "adm")["redacted"] is True
    # An admin in an audience channel reads it whole, as any member of the channel could.
    assert entry(to_ops, "adm")["record"] == to_ops["receipt"]["record"]
    assert entry(to_ops, "aud")["redacted"] is True
    # A member not named by the entry still learns nothing of it.
    assert_error(
        world.call("GET", f"/v1/ledger/entries/{to_bravo['receipt']['index']}", "charlie"), 404
    )


# --- cosignatures ---------------------------------------------------------------------------


def _published(world: World) -> str:
    """Publish the newest checkpoint now; the signed note."""
    note: str = world.ok("POST", "/v1/ledger/checkpoint", "alpha")["checkpoint"]
    return note


def _published_text(world: World) -> str:
    """The text of the newest checkpoint, once published: what a cosigner signs."""
    return split_note(_published(world))[0]


def test_a_party_cosigns_a_published_checkpoint_with_its_registered_key(world: World) -> None:
    key = world.key()
    world.submit("alpha", _operation(36.0))
    witness = Cosigner.generate("bravo.example/witness")
    registered = world.ok("POST", "/v1/ledger/keys", "bravo", 201, json={"vkey": witness.vkey})
    assert (registered["party"], registered["vkey"]) == ("bravo", witness.vkey)
    assert _assert_receipt(registered["receipt"], key)
    assert registered["receipt"]["record"]["type"] == "party.key"
    note = _published(world)
    text = split_note(note)[0]
    size = parse_checkpoint(text).size
    line = witness.cosign(text, NOW_S)

    answer = world.ok(
        "POST",
        "/v1/ledger/cosignatures",
        "bravo",
        201,
        json={"checkpoint": text, "cosignature": line},
    )

    assert (answer["party"], answer["size"], answer["timestamp"]) == ("bravo", size, NOW_S)
    _assert_receipt(answer["receipt"], key)
    assert answer["receipt"]["record"]["type"] == "cosignature"
    assert answer["receipt"]["record"]["size"] == size
    [listed] = world.ok("GET", "/v1/ledger/cosignatures", "charlie")
    assert listed["party"] == "bravo"
    assert (listed["size"], listed["timestamp"]) == (size, NOW_S)
    assert listed["ledger_index"] == answer["receipt"]["index"]
    assert verify_cosignature(text, listed["cosignature"], witness.verifier) == NOW_S
    assert world.ok("GET", "/v1/ledger/cosignatures?party=alpha", "charlie") == []

    again = world.call(
        "POST", "/v1/ledger/cosignatures", "bravo", json={"checkpoint": text, "cosignature": line}
    )
    assert_error(again, 409, "cosignature")
    # The whole signed note is accepted too, and a later timestamp is a new statement.
    later = witness.cosign(text, NOW_S + 1)
    world.ok(
        "POST",
        "/v1/ledger/cosignatures",
        "bravo",
        201,
        json={"checkpoint": note, "cosignature": later},
    )
    assert len(world.ok("GET", "/v1/ledger/cosignatures", "bravo")) == 2


def test_cosigning_keys_are_checked_at_registration(world: World) -> None:
    witness = Cosigner.generate("alpha.example/witness")
    world.ok("POST", "/v1/ledger/keys", "alpha", 201, json={"vkey": witness.vkey})

    twice = world.call("POST", "/v1/ledger/keys", "alpha", json={"vkey": witness.vkey})
    assert_error(twice, 409, "vkey")
    note_key = Signer.generate("alpha.example/log").vkey
    assert_error(
        world.call("POST", "/v1/ledger/keys", "alpha", json={"vkey": note_key}), 422, "vkey"
    )
    forged_id = re.sub(r"\+[0-9a-f]{8}\+", "+00000000+", Cosigner.generate("a.example/w").vkey)
    assert_error(
        world.call("POST", "/v1/ledger/keys", "alpha", json={"vkey": forged_id}), 422, "vkey"
    )


def _forged_root(text: str) -> str:
    lines = text.split("\n")
    lines[2] = base64.b64encode(hashlib.sha256(b"a root this log never had").digest()).decode()
    return "\n".join(lines)


def test_cosignatures_that_do_not_hold_are_refused(world: World) -> None:
    witness = Cosigner.generate("bravo.example/witness")
    world.ok("POST", "/v1/ledger/keys", "bravo", 201, json={"vkey": witness.vkey})
    text = _published_text(world)
    stranger = Cosigner.generate("bravo.example/witness")  # same name, another key
    edited = _forged_root(text)
    cases = {
        "unregistered key": (text, stranger.cosign(text, NOW_S), "cosignature"),
        "another checkpoint's signature": (
            text,
            witness.cosign(_forged_root(text), NOW_S),
            "cosignature",
        ),
        "a checkpoint this log never signed": (edited, witness.cosign(edited, NOW_S), "checkpoint"),
        "another log's checkpoint": (
            "other.example/log\n" + text.split("\n", 1)[1],
            witness.cosign("other.example/log\n" + text.split("\n", 1)[1], NOW_S),
            "checkpoint",
        ),
        "a day in the future": (text, witness.cosign(text, NOW_S + 86_400), "cosignature"),
        "not a checkpoint": ("hello\n", witness.cosign(text, NOW_S), "checkpoint"),
        "not a signature line": (text, "— bravo.example/witness AAAA\n", "cosignature"),
    }
    for name, (checkpoint, line, field) in cases.items():
        response = world.call(
            "POST",
            "/v1/ledger/cosignatures",
            "bravo",
            json={"checkpoint": checkpoint, "cosignature": line},
        )
        assert response.status_code == 422, f"{name}: {response.text}"
        assert_error(response, 422, field)
    assert world.ok("GET", "/v1/ledger/cosignatures", "bravo") == []


@pytest.mark.parametrize("timestamp", [2**40, 2**63 - 1], ids=["year-36812", "max"])
def test_a_cosignature_timestamp_beyond_any_date_is_422(world: World, timestamp: int) -> None:
    witness = Cosigner.generate("bravo.example/witness")
    world.ok("POST", "/v1/ledger/keys", "bravo", 201, json={"vkey": witness.vkey})
    text = _published_text(world)

    response = world.call(
        "POST",
        "/v1/ledger/cosignatures",
        "bravo",
        json={"checkpoint": text, "cosignature": witness.cosign(text, timestamp)},
    )

    assert_error(response, 422, "cosignature")


def test_a_cosigned_checkpoint_with_a_size_beyond_64_bits_is_422(world: World) -> None:
    witness = Cosigner.generate("bravo.example/witness")
    world.ok("POST", "/v1/ledger/keys", "bravo", 201, json={"vkey": witness.vkey})
    origin, _, root = _published_text(world).split("\n")[:3]
    huge = f"{origin}\n{10**24}\n{root}\n"

    response = world.call(
        "POST",
        "/v1/ledger/cosignatures",
        "bravo",
        json={"checkpoint": huge, "cosignature": witness.cosign(huge, NOW_S)},
    )

    assert_error(response, 422, "checkpoint")


# --- acknowledgements of notices ------------------------------------------------------------


def test_an_audience_party_acknowledges_a_notice_version(world: World) -> None:
    key = world.key()
    notice = world.submit("alpha", _operation(36.0, audience={"parties": ["bravo"]}))["notice"]
    world.submit("charlie", _operation(36.02))  # in conflict: charlie sees alpha's, minimally
    url = f"/v1/notices/{notice['id']}/ack"

    answer = world.ok("POST", url, "bravo", 201, json={"version": 1})

    assert (answer["notice"], answer["version"], answer["party"]) == (notice["id"], 1, "bravo")
    _assert_receipt(answer["receipt"], key)
    record = answer["receipt"]["record"]
    assert (record["type"], record["party"], record["notice"], record["version"]) == (
        "ack",
        "bravo",
        notice["id"],
        1,
    )
    entry = world.ok("GET", f"/v1/ledger/entries/{answer['receipt']['index']}", "bravo")
    assert entry["record"] == record
    assert world.ok("GET", f"/v1/notices/{notice['id']}", "alpha")["acks"] == [
        {"party": "bravo", "version": 1, "at": "2026-05-01T08:00:00Z"}
    ]
    assert "acks" not in world.ok("GET", f"/v1/notices/{notice['id']}", "bravo")

    assert_error(world.call("POST", url, "bravo", json={"version": 1}), 409, "version")
    # charlie reads alpha's notice minimally through their conflict, and may say so.
    assert world.call("POST", url, "charlie", json={"version": 1}).status_code == 201
    assert_error(world.call("POST", url, "alpha", json={"version": 1}), 422)
    assert_error(world.call("POST", url, "bravo", json={"version": 0}), 422, "version")
    assert_error(world.call("POST", url, "bravo", json={"version": 2}), 422, "version")
    assert_error(
        world.call("POST", "/v1/notices/n-0000000000000000/ack", "bravo", json={"version": 1}), 404
    )
    # A new version can be acknowledged once it exists.
    updated = world.ok(
        "PUT",
        f"/v1/notices/{notice['id']}",
        "alpha",
        json=_operation(36.0, audience={"parties": ["bravo"]}) | {"version": 1},
    )
    acked = [(a["party"], a["version"]) for a in updated["notice"]["acks"]]
    assert acked == [("bravo", 1), ("charlie", 1)]
    world.ok("POST", url, "bravo", 201, json={"version": 2})
    acks = world.ok("GET", f"/v1/notices/{notice['id']}", "alpha")["acks"]
    assert [(a["party"], a["version"]) for a in acks] == [
        ("bravo", 1),
        ("charlie", 1),
        ("bravo", 2),
    ]


# --- admin actions --------------------------------------------------------------------------


def test_admin_actions_are_ledger_entries(world: World) -> None:
    key = world.key()
    before = world.newest_size()
    added = world.ok("POST", "/v1/parties", "adm", 201, json={"id": "delta", "name": "Delta"})
    world.tokens["delta"] = added["token"]
    channel = world.ok(
        "POST",
        "/v1/channels",
        "adm",
        201,
        json={"id": "coalition", "name": "Co", "members": ["alpha"]},
    )
    joined = world.ok("POST", "/v1/channels/coalition/members", "adm", json={"party": "delta"})
    left = world.ok("DELETE", "/v1/channels/coalition/members/alpha", "adm")
    after = world.newest_size()

    entries = [world.ok("GET", f"/v1/ledger/entries/{i}", "adm") for i in range(before, after)]

    records = [e["record"] for e in entries]
    assert [r["type"] for r in records] == [
        "party.add",
        "channel.add",
        "channel.join",
        "channel.leave",
    ]
    assert {k: records[0][k] for k in ("by", "id", "name", "role")} == {
        "by": "adm",
        "id": "delta",
        "name": "Delta",
        "role": "member",
    }
    assert {k: records[1][k] for k in ("by", "id", "members")} == {
        "by": "adm",
        "id": "coalition",
        "members": ["alpha"],
    }
    assert (records[2]["party"], records[3]["party"]) == ("delta", "alpha")
    answers = (added["party"], channel, joined, left)
    assert [a["receipt"]["index"] for a in answers] == list(range(before, after))
    for answer, entry in zip(answers, entries, strict=True):
        _assert_receipt(answer["receipt"], key)
        assert answer["receipt"]["record"] == entry["record"]
    for entry in entries:
        assert _commitment(entry["record"], entry["salt"]) == _unb64(entry["entry"])
        proof = world.ok("GET", f"/v1/ledger/proof/inclusion?index={entry['index']}", "aud")
        assert proof["entry"] == entry["entry"]
        size, root = _checkpoint(proof["checkpoint"], key)
        leaf = merkle.leaf_hash(_unb64(entry["entry"]))
        assert merkle.verify_inclusion(
            entry["index"], size, leaf, [_unb64(h) for h in proof["proof"]], root
        )
    # The party that joined is named by its entry and may read it; an outsider may not.
    assert world.ok("GET", f"/v1/ledger/entries/{before + 2}", "delta") == entries[2]
    assert_error(world.call("GET", f"/v1/ledger/entries/{before + 2}", "bravo"), 404)


# --- bad input never 500 --------------------------------------------------------------------

_HUGE = "x" * 200_000


@dataclass(frozen=True)
class Bad:
    method: str
    url: str
    caller: str | None
    body: Any = None  # bytes are sent raw, anything else as JSON
    status: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        shown = self.body if not isinstance(self.body, str | bytes) else self.body[:20]
        return f"{self.method} {self.url[:70]} {shown!r}"[:110]


_ACK = "/v1/notices/{notice}/ack"
BAD = [
    # registering a cosigning key
    Bad("POST", "/v1/ledger/keys", "alpha", b"{not json", 400, "body"),
    Bad("POST", "/v1/ledger/keys", "alpha", b"", 400, "body"),
    Bad("POST", "/v1/ledger/keys", "alpha", ["vkey"], 422, "body"),
    Bad("POST", "/v1/ledger/keys", "alpha", {}, 422, "vkey"),
    Bad("POST", "/v1/ledger/keys", "alpha", {"vkey": None}, 422, "vkey"),
    Bad("POST", "/v1/ledger/keys", "alpha", {"vkey": 5}, 422, "vkey"),
    Bad("POST", "/v1/ledger/keys", "alpha", {"vkey": ["a+b+c"]}, 422, "vkey"),
    Bad("POST", "/v1/ledger/keys", "alpha", {"vkey": ""}, 422, "vkey"),
    Bad("POST", "/v1/ledger/keys", "alpha", {"vkey": "no plus signs"}, 422, "vkey"),
    Bad("POST", "/v1/ledger/keys", "alpha", {"vkey": "a+00000000+!!!!"}, 422, "vkey"),
    Bad("POST", "/v1/ledger/keys", "alpha", {"vkey": "a+00000000+BAAA"}, 422, "vkey"),
    Bad("POST", "/v1/ledger/keys", "alpha", {"vkey": _HUGE}, 422, "vkey"),
    Bad("POST", "/v1/ledger/keys", None, {"vkey": "a+b+c"}, 401),
    # cosignatures
    Bad("POST", "/v1/ledger/cosignatures", "alpha", b"\xff\xfe", 400, "body"),
    Bad("POST", "/v1/ledger/cosignatures", "alpha", "checkpoint", 422, "body"),
    Bad("POST", "/v1/ledger/cosignatures", "alpha", {"cosignature": "x"}, 422, "checkpoint"),
    Bad("POST", "/v1/ledger/cosignatures", "alpha", {"checkpoint": "a\n1\nAA==\n"}, 422),
    Bad("POST", "/v1/ledger/cosignatures", "alpha", {"checkpoint": 1, "cosignature": "x"}, 422),
    Bad("POST", "/v1/ledger/cosignatures", "alpha", {"checkpoint": "x\n", "cosignature": 1}, 422),
    Bad("POST", "/v1/ledger/cosignatures", "alpha", {"checkpoint": _HUGE, "cosignature": "x"}, 422),
    Bad(
        "POST", "/v1/ledger/cosignatures", "alpha", {"checkpoint": "x\n", "cosignature": _HUGE}, 422
    ),
    Bad(
        "POST",
        "/v1/ledger/cosignatures",
        "alpha",
        {"checkpoint": "\x00\n\n\n", "cosignature": "x"},
        422,
    ),
    Bad(
        "POST",
        "/v1/ledger/cosignatures",
        "alpha",
        {"checkpoint": "{origin}\n-1\n{root}\n", "cosignature": "x"},
        422,
        "checkpoint",
    ),
    Bad(
        "POST",
        "/v1/ledger/cosignatures",
        "alpha",
        {"checkpoint": "{origin}\n01\n{root}\n", "cosignature": "x"},
        422,
        "checkpoint",
    ),
    Bad(
        "POST",
        "/v1/ledger/cosignatures",
        "alpha",
        {"checkpoint": "{origin}\n1\nnot base64\n", "cosignature": "x"},
        422,
        "checkpoint",
    ),
    Bad("GET", "/v1/ledger/cosignatures?limit=0", "alpha", None, 422, "limit"),
    Bad("GET", "/v1/ledger/cosignatures?limit=x", "alpha", None, 422, "limit"),
    # acknowledgements
    Bad("POST", _ACK, "bravo", b"version=1", 400, "body"),
    Bad("POST", _ACK, "bravo", [1], 422, "body"),
    Bad("POST", _ACK, "bravo", {}, 422, "version"),
    Bad("POST", _ACK, "bravo", {"version": "1"}, 422, "version"),
    Bad("POST", _ACK, "bravo", {"version": 1.0}, 422, "version"),
    Bad("POST", _ACK, "bravo", {"version": True}, 422, "version"),
    Bad("POST", _ACK, "bravo", {"version": -1}, 422, "version"),
    Bad("POST", _ACK, "bravo", {"version": 10**30}, 422, "version"),
    Bad("POST", _ACK, "bravo", {"version": _HUGE}, 422, "version"),
    Bad("POST", "/v1/notices/" + "n" * 5000 + "/ack", "bravo", {"version": 1}, 404),
    # proofs and entries
    Bad("GET", "/v1/ledger/proof/inclusion", "alpha", None, 422, "index"),
    Bad("GET", "/v1/ledger/proof/inclusion?index=-1", "alpha", None, 422, "index"),
    Bad("GET", "/v1/ledger/proof/inclusion?index=abc", "alpha", None, 422, "index"),
    Bad("GET", "/v1/ledger/proof/inclusion?index=1.5", "alpha", None, 422, "index"),
    Bad("GET", "/v1/ledger/proof/inclusion?index=0&size=0", "alpha", None, 422, "size"),
    Bad("GET", "/v1/ledger/proof/inclusion?index=0&size=-3", "alpha", None, 422, "size"),
    Bad(
        "GET", "/v1/ledger/proof/inclusion?index=0&size=" + _HUGE[:100], "alpha", None, 422, "size"
    ),
    Bad("GET", "/v1/ledger/proof/inclusion?index=0", None, None, 401),
    Bad("GET", "/v1/ledger/proof/consistency", "alpha", None, 422, "from"),
    Bad("GET", "/v1/ledger/proof/consistency?from=-1", "alpha", None, 422, "from"),
    Bad("GET", "/v1/ledger/proof/consistency?from=x", "alpha", None, 422, "from"),
    Bad("GET", "/v1/ledger/proof/consistency?from=0&to=-1", "alpha", None, 422, "to"),
    Bad("GET", "/v1/ledger/entries/abc", "alpha", None, 422, "index"),
    Bad("GET", "/v1/ledger/entries/-1", "adm", None, 404),
    Bad("GET", "/v1/ledger/entries/999999", "adm", None, 404),
    Bad("GET", "/v1/ledger/entries/0", None, None, 401),
    # the public tiles
    Bad("GET", "/ledger/tile/0/abc", None, None, 404),
    Bad("GET", "/ledger/tile/0/00", None, None, 404),
    Bad("GET", "/ledger/tile/0/0000", None, None, 404),
    Bad("GET", "/ledger/tile/0/", None, None, 404),
    Bad("GET", "/ledger/tile/99/000", None, None, 404),
    Bad("GET", "/ledger/tile/00/000.p/1", None, None, 404),
    Bad("GET", "/ledger/tile/-1/000", None, None, 404),
    Bad("GET", "/ledger/tile/x/000", None, None, 404),
    Bad("GET", "/ledger/tile/0/000.p/0", None, None, 404),
    Bad("GET", "/ledger/tile/0/000.p/256", None, None, 404),
    Bad("GET", "/ledger/tile/0/000.p/01", None, None, 404),
    Bad("GET", "/ledger/tile/0/000.p/", None, None, 404),
    Bad("GET", "/ledger/tile/0/000.p/abc", None, None, 404),
    Bad("GET", "/ledger/tile/0/000.p/1/2", None, None, 404),
    Bad("GET", "/ledger/tile/0/x1/000", None, None, 404),
    Bad("GET", "/ledger/tile/0/001", None, None, 404),
    Bad("GET", "/ledger/tile/0/000", None, None, 404),
    Bad("GET", "/ledger/tile/entries/x1/000", None, None, 404),
    Bad("GET", "/ledger/tile/entries/abc", None, None, 404),
    Bad("GET", "/ledger/tile/entries/000", None, None, 404),
    Bad("GET", "/ledger/tile/entries/000.p/0", None, None, 404),
    Bad("GET", "/ledger/tile/entries/000.p/255", None, None, 404),
    Bad("GET", "/ledger/tile/entries/", None, None, 404),
]

_TOO_BIG = (
    "src bug: an index, size or tile number beyond SQLite's 64-bit INTEGER reaches the "
    "store unchecked (OverflowError) and the API answers 500 instead of 404/422"
)
OVERSIZED = [
    Bad("GET", "/ledger/tile/0/x999/x999/x999/x999/x999/x999/x999/999", None, None, 404),
    Bad("GET", "/ledger/tile/entries/x999/x999/x999/x999/x999/x999/x999/999", None, None, 404),
    Bad("GET", f"/v1/ledger/proof/inclusion?index=0&size={10**24}", "alpha", None, 404, "size"),
    Bad("GET", f"/v1/ledger/proof/consistency?from={10**24}", "alpha", None, 404, "from"),
    Bad("GET", f"/v1/ledger/proof/consistency?from=0&to={10**24}", "alpha", None, 404, "to"),
    Bad("GET", f"/v1/ledger/entries/{10**24}", "adm", None, 404),
]


def _expand(world: World, text: str, notice_id: str) -> str:
    note = world.call("GET", "/ledger/checkpoint").text
    origin, _, root = note.split("\n")[:3]
    return text.replace("{notice}", notice_id).replace("{origin}", origin).replace("{root}", root)


def _send_bad(world: World, case: Bad) -> Any:
    notice_id = world.submit("alpha", _operation(36.0, audience={"parties": ["bravo"]}))["notice"][
        "id"
    ]
    before = world.newest_size()
    kwargs: dict[str, Any] = {}
    if isinstance(case.body, bytes):
        kwargs = {"content": case.body, "headers": {"Content-Type": "application/json"}}
    elif case.body is not None:
        body = json.loads(_expand(world, json.dumps(case.body), notice_id))
        kwargs = {"json": body}
    response = world.call(case.method, _expand(world, case.url, notice_id), case.caller, **kwargs)
    assert world.newest_size() == before, "a refused request was logged"
    return response


@pytest.mark.parametrize("case", BAD, ids=str)
def test_bad_input_to_the_ledger_endpoints_is_a_4xx_json_error(world: World, case: Bad) -> None:
    response = _send_bad(world, case)
    assert_error(response, case.status, case.field)


@pytest.mark.parametrize("case", OVERSIZED, ids=str)
def test_an_index_or_size_beyond_64_bits_is_a_4xx_json_error(world: World, case: Bad) -> None:
    response = _send_bad(world, case)
    assert_error(response, case.status, case.field)
