"""End to end: what the ledger hands out is provable offline, and an edited store is caught.

Real ``deconflict serve`` processes on real SQLite files, parties made with the
CLI, HTTP from outside, and ``deconflict verify`` run as a separate process with
no server running, as a party (or an auditor holding a copy of the store) would:

- a write's answer saved before a restart verifies after it, and any change to the
  record, to the signed root or to the key it is checked with makes verify fail;
- a consistency proof spans the restart;
- editing one row of the store (an entry, a notice version, a disclosure, a tree
  node, a checkpoint) makes ``verify --db`` fail, naming the entry or node;
- a tile dump verifies, and a flipped byte of an entry is named;
- the public C2SP tiles recompute the signed root.

The server reads the system clock, so notice times are hours from now.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from deconflict.clock import SystemClock
from deconflict.ledger import merkle
from deconflict.ledger.note import Signer, Verifier, open_note, parse_checkpoint
from server import Server, cli

_T0 = SystemClock().now().replace(second=0, microsecond=0)
TILE = 256


# --- notices ---------------------------------------------------------------------------------


def _at(hours: float) -> str:
    return (_T0 + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _operation(
    lon: float, *, radius_m: float = 7777, audience: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A circle at 10° N, 500–1500 m, from hour 1 to hour 3."""
    return {
        "kind": "operation",
        "category": "reconnaissance",
        "aircraft": ["RECCE-1"],
        "audience": audience or {},
        "volumes": [
            {
                "footprint": {"type": "Circle", "center": [lon, 10.0], "radius_m": radius_m},
                "altitude": {"lower": 500, "upper": 1500, "reference": "W84", "units": "m"},
                "time": {"start": _at(1), "end": _at(3)},
            }
        ],
    }


# --- processes -------------------------------------------------------------------------------


def deconflict(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python -m deconflict ARGS``, whatever its exit status."""
    return subprocess.run(
        [sys.executable, "-m", "deconflict", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _failures(done: subprocess.CompletedProcess[str]) -> str:
    return "\n".join(line for line in done.stdout.splitlines() if line.startswith("FAIL"))


def assert_verified(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}{done.stderr}"
    assert done.stdout.rstrip().endswith("verified"), done.stdout
    assert "FAIL" not in done.stdout
    return done.stdout


def assert_refused(done: subprocess.CompletedProcess[str], *names: str) -> str:
    """Exit 1, and each regex in ``names`` is in a FAIL line of the report."""
    assert done.returncode == 1, f"exit {done.returncode}\n{done.stdout}{done.stderr}"
    failures = _failures(done)
    assert failures, done.stdout
    assert re.search(r"^\d+ problem\(s\)$", done.stdout, re.M), done.stdout
    for name in names:
        assert re.search(name, failures), f"{name!r} is not named in:\n{done.stdout}"
    return failures


def _copy(source: Path, target: Path) -> Path:
    """A consistent copy of a SQLite store, its WAL included (the online backup API)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    return target


class Session:
    """A running server and one HTTP client per party."""

    def __init__(self, server: Server, tokens: dict[str, str]) -> None:
        self.server = server
        self.tokens = tokens
        self._clients: dict[str, httpx.Client] = {}

    def __getitem__(self, party: str) -> httpx.Client:
        if party not in self._clients:
            self._clients[party] = httpx.Client(
                base_url=self.server.url,
                headers={"Authorization": f"Bearer {self.tokens[party]}"},
                timeout=30.0,
            )
        return self._clients[party]

    def public(self, path: str) -> httpx.Response:
        return httpx.get(self.server.url + path, timeout=30.0)

    def ok(self, party: str, method: str, url: str, status: int = 200, **kw: Any) -> Any:
        response = self[party].request(method, url, **kw)
        assert response.status_code == status, f"{method} {url}: {response.text}"
        return response

    def submit(self, party: str, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.ok(party, "POST", "/v1/notices", 201, json=body).json()
        return answer

    def stop(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        self.server.stop()

    def restart(self) -> None:
        self.stop()
        self.server.start()


def _parties(db: Path, *names: str, admin: str | None = None) -> dict[str, str]:
    """Create the parties with the CLI; their tokens."""
    tokens = {
        n: cli("party", "add", n, "--name", n.title(), "--db", str(db)).strip() for n in names
    }
    if admin is not None:
        out = cli("party", "add", admin, "--name", "Ops", "--role", "admin", "--db", str(db))
        tokens[admin] = out.strip()
    return tokens


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    """A fresh store with alpha and bravo made by the CLI, and a server on it (not started)."""
    db = tmp_path / "ledger.db"
    tokens = _parties(db, "alpha", "bravo")
    session = Session(Server.serve(db, tmp_path / "server.log"), tokens)
    try:
        yield session
    finally:
        session.stop()


def _checkpoint_of(receipt: dict[str, Any]) -> str:
    """The signed note inside a receipt's tlog-proof."""
    return str(receipt["tlog_proof"]).split("\n\n", 1)[1]


def _size_of(receipt: dict[str, Any]) -> int:
    return int(_checkpoint_of(receipt).split("\n")[1])


def _other_hash(text: str) -> str:
    """A valid base64 SHA-256 that is not ``text``'s hash."""
    forged = base64.b64encode(hashlib.sha256(b"forged" + text.encode()).digest()).decode()
    assert forged != text
    return forged


# --- a receipt outlives the server -----------------------------------------------------------


def test_a_receipt_saved_before_a_restart_verifies_offline_and_edits_fail(
    session: Session, tmp_path: Path
) -> None:
    session.server.start()
    response = session.ok("alpha", "POST", "/v1/notices", 201, json=_operation(10.0))
    answer_file = tmp_path / "answer.json"
    answer_file.write_text(response.text, encoding="utf-8")
    key_response = session.public("/ledger/key")
    assert key_response.headers["content-type"] == "text/plain; charset=utf-8"
    key_file = tmp_path / "log.vkey"
    key_file.write_text(key_response.text, encoding="utf-8")
    receipt = response.json()["receipt"]
    notice_id = response.json()["notice"]["id"]

    session.restart()
    later = [session.submit("bravo", _operation(10.05)), session.submit("alpha", _operation(40.0))]
    assert session.public("/ledger/key").text == key_response.text, "the key changed on restart"
    session.stop()
    assert later[-1]["receipt"]["index"] > receipt["index"]
    assert _size_of(later[-1]["receipt"]) > _size_of(receipt), "the tree did not grow"

    out = assert_verified(deconflict("verify", "--key", key_file, answer_file))
    assert re.search(rf"entry {receipt['index']} is in the signed tree of size", out), out
    assert f"{notice_id} v1" in out
    # The key may also be given as the string itself.
    assert_verified(deconflict("verify", "--key", key_response.text.strip(), answer_file))
    # The whole answer and the receipt alone are equally good.
    only_receipt = tmp_path / "receipt.json"
    only_receipt.write_text(json.dumps(receipt), encoding="utf-8")
    assert_verified(deconflict("verify", "--key", key_file, only_receipt))

    # One byte of the record: the radius 7777 becomes 7778.
    edited = json.loads(answer_file.read_text(encoding="utf-8"))
    footprint = edited["receipt"]["record"]["doc"]["volumes"][0]["footprint"]
    assert footprint["radius_m"] == 7777
    footprint["radius_m"] = 7778
    (tmp_path / "edited-record.json").write_text(json.dumps(edited), encoding="utf-8")
    assert_refused(
        deconflict("verify", "--key", key_file, tmp_path / "edited-record.json"),
        rf"\bentry {receipt['index']}\b.*do not match",
    )

    # The signed root in the tlog-proof.
    edited = json.loads(answer_file.read_text(encoding="utf-8"))
    head, note = edited["receipt"]["tlog_proof"].split("\n\n", 1)
    lines = note.split("\n")
    lines[2] = _other_hash(lines[2])
    edited["receipt"]["tlog_proof"] = head + "\n\n" + "\n".join(lines)
    (tmp_path / "edited-root.json").write_text(json.dumps(edited), encoding="utf-8")
    assert_refused(
        deconflict("verify", "--key", key_file, tmp_path / "edited-root.json"),
        "does not verify",
    )

    # Another log's key.
    stranger = Signer.generate(Verifier.parse(key_response.text).name).vkey
    assert_refused(
        deconflict("verify", "--key", stranger, answer_file), "no signature by a known key"
    )


def test_a_consistency_proof_spans_a_restart(session: Session, tmp_path: Path) -> None:
    session.server.start()
    first = session.submit("alpha", _operation(10.0))["receipt"]
    old = _size_of(first)
    key_file = tmp_path / "log.vkey"
    key_file.write_text(session.public("/ledger/key").text, encoding="utf-8")

    session.restart()
    for lon in (10.05, 20.0, 30.0):
        session.submit("bravo", _operation(lon))
    response = session.ok("alpha", "GET", f"/v1/ledger/proof/consistency?from={old}")
    session.stop()
    proof_file = tmp_path / "consistency.json"
    proof_file.write_text(response.text, encoding="utf-8")
    doc = response.json()
    new = int(doc["new"].split("\n")[1])
    assert doc["old"] == _checkpoint_of(first)
    assert new > old and doc["proof"]

    out = assert_verified(deconflict("verify", "--key", key_file, proof_file))
    assert f"the tree of size {new} extends size {old}" in out

    doc["proof"][0] = _other_hash(doc["proof"][0])
    proof_file.write_text(json.dumps(doc), encoding="utf-8")
    assert_refused(
        deconflict("verify", "--key", key_file, proof_file),
        rf"size {new} is not an extension of the tree of size {old}",
    )


# --- an edited store is caught ---------------------------------------------------------------


@dataclass
class Scenario:
    """A stopped server's store after notices, conflicts, reads and an ack, and what it logged."""

    db: Path
    key_file: Path
    key: str
    alpha_id: str
    alpha_v1: int  # ledger index of alpha's notice, version 1
    alpha_v2: int
    charlie_id: str
    disclosure: int  # ledger index of a disclosure to charlie
    ack: int  # ledger index of bravo's acknowledgement
    checkpoint: int  # a signed size, the one in alpha's first receipt
    size: int


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    folder = tmp_path_factory.mktemp("scenario")
    db = folder / "scenario.db"
    tokens = _parties(db, "alpha", "bravo", "charlie")
    cli("channel", "add", "ops", "--members", "alpha,bravo", "--db", str(db))
    session = Session(Server.serve(db, folder / "server.log"), tokens)
    try:
        session.server.start()
        alpha = session.submit("alpha", _operation(10.0, audience={"parties": ["bravo"]}))
        alpha_id = alpha["notice"]["id"]
        bravo = session.submit("bravo", _operation(10.05))
        assert [c["other"]["id"] for c in bravo["conflicts"]] == [alpha_id]
        charlie = session.submit("charlie", _operation(10.1))
        assert len(charlie["conflicts"]) == 2
        session.restart()
        update = session.ok(
            "alpha",
            "PUT",
            f"/v1/notices/{alpha_id}",
            json=_operation(10.0, audience={"parties": ["bravo"]}) | {"version": 1},
        ).json()
        session.ok("charlie", "GET", "/v1/conflicts")
        session.ok("bravo", "GET", f"/v1/notices/{alpha_id}")
        ack = session.ok(
            "bravo", "POST", f"/v1/notices/{alpha_id}/ack", 201, json={"version": 2}
        ).json()
        shown = session.ok("charlie", "GET", "/v1/disclosures").json()
        key = session.public("/ledger/key").text.strip()
        newest = session.ok("alpha", "GET", "/v1/ledger/proof/inclusion?index=0").json()["size"]
    finally:
        session.stop()
    assert cli("ledger", "key", "--db", str(db)).strip() == key
    key_file = folder / "log.vkey"
    key_file.write_text(key + "\n", encoding="utf-8")
    yield Scenario(
        db=db,
        key_file=key_file,
        key=key,
        alpha_id=alpha_id,
        alpha_v1=alpha["receipt"]["index"],
        alpha_v2=update["receipt"]["index"],
        charlie_id=charlie["notice"]["id"],
        disclosure=shown[0]["ledger_index"],
        ack=ack["receipt"]["index"],
        checkpoint=_size_of(alpha["receipt"]),
        size=newest,
    )


@pytest.fixture
def copy(scenario: Scenario, tmp_path: Path) -> Path:
    return _copy(scenario.db, tmp_path / "copy.db")


def test_the_untouched_store_verifies(scenario: Scenario, copy: Path) -> None:
    out = assert_verified(deconflict("verify", "--db", copy, "--key", scenario.key_file))
    assert f"{scenario.size} entries against their commitments" in out


def _edit_entry_record(conn: sqlite3.Connection, s: Scenario) -> str:
    (record,) = conn.execute(
        "SELECT record FROM ledger_entries WHERE idx = ?", (s.alpha_v1,)
    ).fetchone()
    text = bytes(record).decode()
    assert '"radius_m":7777' in text
    edited = text.replace('"radius_m":7777', '"radius_m":7778').encode()
    conn.execute("UPDATE ledger_entries SET record = ? WHERE idx = ?", (edited, s.alpha_v1))
    return rf"\bentry {s.alpha_v1}\b"


def _edit_version_doc(conn: sqlite3.Connection, s: Scenario) -> str:
    (doc,) = conn.execute(
        "SELECT doc FROM notice_versions WHERE notice_id = ? AND version = 1", (s.alpha_id,)
    ).fetchone()
    value = json.loads(doc)
    value["volumes"][0]["footprint"]["radius_m"] = 77
    conn.execute(
        "UPDATE notice_versions SET doc = ? WHERE notice_id = ? AND version = 1",
        (json.dumps(value), s.alpha_id),
    )
    return rf"notice {s.alpha_id} version 1 .*\bentry {s.alpha_v1}\b"


def _edit_disclosure_view(conn: sqlite3.Connection, s: Scenario) -> str:
    seq, view = conn.execute(
        "SELECT seq, view FROM disclosures WHERE ledger_idx = ? ORDER BY seq LIMIT 1",
        (s.disclosure,),
    ).fetchone()
    value = json.loads(view)
    value["other"]["contact"] = "shown-more-than-logged@example.org"
    conn.execute("UPDATE disclosures SET view = ? WHERE seq = ?", (json.dumps(value), seq))
    return rf"\bledger entry {s.disclosure}\b"


def _delete_version(conn: sqlite3.Connection, s: Scenario) -> str:
    done = conn.execute(
        "DELETE FROM notice_versions WHERE notice_id = ? AND version = 2", (s.alpha_id,)
    )
    assert done.rowcount == 1
    return rf"\bentry {s.alpha_v2}\b"


def _edit_node(conn: sqlite3.Connection, s: Scenario) -> str:
    level, index = 1, s.alpha_v1 // 2
    (value,) = conn.execute(
        "SELECT hash FROM ledger_nodes WHERE level = ? AND idx = ?", (level, index)
    ).fetchone()
    flipped = bytes([value[0] ^ 0x01]) + bytes(value[1:])
    conn.execute(
        "UPDATE ledger_nodes SET hash = ? WHERE level = ? AND idx = ?", (flipped, level, index)
    )
    return rf"tree node \({level}, {index}\)"


def _edit_checkpoint_signature(conn: sqlite3.Connection, s: Scenario) -> str:
    (note,) = conn.execute(
        "SELECT note FROM ledger_checkpoints WHERE size = ?", (s.checkpoint,)
    ).fetchone()
    text, _, line = note.rpartition("\n\n")
    dash_name, material = line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(material))
    raw[10] ^= 0x01  # inside the Ed25519 signature, after the 4-byte key id
    edited = f"{text}\n\n{dash_name} {base64.b64encode(bytes(raw)).decode()}\n"
    conn.execute("UPDATE ledger_checkpoints SET note = ? WHERE size = ?", (edited, s.checkpoint))
    return rf"checkpoint of size {s.checkpoint}\b.*does not verify"


def _edit_current_notice(conn: sqlite3.Connection, s: Scenario) -> str:
    """The row the service serves and screens with: charlie's circle shrunk to 7 m."""
    (doc,) = conn.execute("SELECT doc FROM notices WHERE id = ?", (s.charlie_id,)).fetchone()
    value = json.loads(doc)
    value["volumes"][0]["footprint"]["radius_m"] = 7
    conn.execute("UPDATE notices SET doc = ? WHERE id = ?", (json.dumps(value), s.charlie_id))
    return s.charlie_id


def _delete_ack(conn: sqlite3.Connection, s: Scenario) -> str:
    assert conn.execute("DELETE FROM acks WHERE ledger_idx = ?", (s.ack,)).rowcount == 1
    return rf"\bentry {s.ack}\b"


def _edit_party_role(conn: sqlite3.Connection, s: Scenario) -> str:
    conn.execute("UPDATE parties SET role = 'admin' WHERE id = 'bravo'")
    return r"\bparty bravo differs from ledger entry \d+"


def _leave_channel_silently(conn: sqlite3.Connection, s: Scenario) -> str:
    conn.execute("DELETE FROM channel_members WHERE channel_id = 'ops'")
    return r"\bchannel ops: its members differ"


TAMPERS = [
    pytest.param(_edit_entry_record, id="ledger_entries.record"),
    pytest.param(_edit_version_doc, id="notice_versions.doc"),
    pytest.param(_edit_disclosure_view, id="disclosures.view"),
    pytest.param(_delete_version, id="notice_versions-deleted"),
    pytest.param(_edit_node, id="ledger_nodes.hash"),
    pytest.param(_edit_checkpoint_signature, id="ledger_checkpoints.note"),
    pytest.param(_edit_current_notice, id="notices.doc"),
    pytest.param(_delete_ack, id="acks-deleted"),
    pytest.param(_edit_party_role, id="parties.role"),
    pytest.param(_leave_channel_silently, id="channel_members-deleted"),
]


@pytest.mark.parametrize("tamper", TAMPERS)
def test_editing_one_row_makes_verify_fail_naming_it(
    scenario: Scenario, copy: Path, tamper: Callable[[sqlite3.Connection, Scenario], str]
) -> None:
    with closing(sqlite3.connect(copy)) as conn, conn:
        name = tamper(conn, scenario)

    done = deconflict("verify", "--db", copy, "--key", scenario.key_file)

    assert_refused(done, name)


def test_verify_json_report_lists_the_problem(scenario: Scenario, copy: Path) -> None:
    with closing(sqlite3.connect(copy)) as conn, conn:
        name = _edit_entry_record(conn, scenario)

    done = deconflict("verify", "--db", copy, "--key", scenario.key_file, "--json")

    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is False
    assert any(re.search(name, p) for p in report["problems"]), report


# --- tile dumps ------------------------------------------------------------------------------


def _tile_path(index: int, width: int = TILE) -> str:
    """C2SP tlog-tiles: 1234067 → x001/x234/067; a partial tile adds .p/<width>."""
    digits = f"{index:03d}"
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    path = "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])
    return path if width == TILE else f"{path}.p/{width}"


def test_tile_path_encoding() -> None:
    assert _tile_path(0, 5) == "000.p/5"
    assert _tile_path(1234067) == "x001/x234/067"
    assert _tile_path(1000) == "x001/000"


def test_a_tile_dump_verifies_and_a_flipped_entry_byte_is_named(
    scenario: Scenario, copy: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tiles"
    done = deconflict("ledger", "dump", "--db", copy, "--out", out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"size {scenario.size}" in done.stdout
    assert scenario.size < TILE
    bundle = out / "tile" / "entries" / _tile_path(0, scenario.size)
    assert bundle.stat().st_size == scenario.size * (2 + 32)
    assert (out / "tile" / "0" / _tile_path(0, scenario.size)).stat().st_size == 32 * scenario.size
    verified = assert_verified(deconflict("verify", "--tiles", out, "--key", scenario.key_file))
    assert f"tile dump of {scenario.size} entries" in verified

    entry = scenario.alpha_v1
    data = bytearray(bundle.read_bytes())
    data[entry * 34 + 2 + 7] ^= 0x80
    bundle.write_bytes(bytes(data))

    assert_refused(
        deconflict("verify", "--tiles", out, "--key", scenario.key_file),
        rf"\bentry {entry} was rewritten",
    )


# --- the public tiles over HTTP --------------------------------------------------------------


def _signed_tree(session: Session, key: Verifier) -> tuple[int, bytes]:
    """Publish now, then read ``/ledger/checkpoint`` as anyone would; its size and root."""
    published = session.ok("ops", "POST", "/v1/ledger/checkpoint").json()["checkpoint"]
    response = session.public("/ledger/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == published
    text, signers = open_note(response.text, [key])
    assert signers == [key.name]
    checkpoint = parse_checkpoint(text)
    return checkpoint.size, checkpoint.root


def _fetch(session: Session, path: str) -> bytes:
    response = session.public(path)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/octet-stream"
    return response.content


def _assert_missing(session: Session, path: str) -> None:
    response = session.public(path)
    assert response.status_code == 404, f"{path}: {response.status_code}"
    error = response.json()["error"]
    assert error["code"] == "not_found" and error["message"] and error["id"], error


def _tiles_of(size: int) -> list[tuple[int, int]]:
    """(index, width) of each level-0 tile of a tree of ``size``."""
    tiles = [(i, TILE) for i in range(size // TILE)]
    return tiles + ([(size // TILE, size % TILE)] if size % TILE else [])


def _assert_tiles_prove(session: Session, size: int, root: bytes) -> merkle.MemoryTree:
    """Fetch every level-0 tile and entry bundle; they must recompute the signed root."""
    tree = merkle.MemoryTree()
    for index, width in _tiles_of(size):
        hashes = _fetch(session, f"/ledger/tile/0/{_tile_path(index, width)}")
        bundle = _fetch(session, f"/ledger/tile/entries/{_tile_path(index, width)}")
        assert len(hashes) == 32 * width
        pos = 0
        for i in range(width):
            length = int.from_bytes(bundle[pos : pos + 2], "big")
            entry = bundle[pos + 2 : pos + 2 + length]
            pos += 2 + length
            assert len(entry) == length == 32, f"entry {index * TILE + i}"
            leaf = hashlib.sha256(b"\x00" + entry).digest()
            assert leaf == hashes[32 * i : 32 * i + 32], f"entry {index * TILE + i}"
            tree.append(leaf)
        assert pos == len(bundle), "trailing bytes in the bundle"
    assert tree.size == size
    assert tree.root() == root, "the tiles do not produce the signed root"
    return tree


def test_the_public_tiles_recompute_the_signed_root(tmp_path: Path) -> None:
    db = tmp_path / "tiles.db"
    tokens = _parties(db, "alpha", "bravo", admin="ops")
    session = Session(Server.serve(db, tmp_path / "server.log"), tokens)
    try:
        session.server.start()
        key = Verifier.parse(session.public("/ledger/key").text)
        session.submit("alpha", _operation(10.0))
        session.submit("bravo", _operation(10.05))

        size, root = _signed_tree(session, key)
        assert 0 < size < TILE
        _assert_tiles_prove(session, size, root)
        _assert_missing(session, "/ledger/tile/0/000")  # only a partial tile exists yet
        _assert_missing(session, "/ledger/tile/entries/000")
        _assert_missing(session, f"/ledger/tile/0/{_tile_path(0, size + 1)}")

        for i in range(TILE + 30 - size):
            session.ok("ops", "POST", "/v1/parties", 201, json={"id": f"p{i}", "name": f"P{i}"})
        size, root = _signed_tree(session, key)
        assert size > TILE and size % TILE
        tree = _assert_tiles_prove(session, size, root)
        full = _fetch(session, "/ledger/tile/0/000")
        assert full == b"".join(tree.level(0)[:TILE])
        # Level 1 holds the roots of each complete 256-entry subtree.
        level1 = _fetch(session, f"/ledger/tile/1/{_tile_path(0, size // TILE)}")
        assert level1 == b"".join(tree.level(8)[: size // TILE])
        _assert_missing(session, "/ledger/tile/0/001")
        _assert_missing(session, "/ledger/tile/0/000.p/256")  # a full tile has no .p/ form
        _assert_missing(session, "/ledger/tile/entries/001")
        _assert_missing(session, "/ledger/tile/1/000")
    finally:
        session.stop()
