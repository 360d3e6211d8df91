"""The service's signing key: made once, kept with the data, rotated without breaking proofs."""

from __future__ import annotations

from pathlib import Path

from deconflict.clock import SystemClock
from deconflict.ledger.log import Ledger
from deconflict.ledger.note import Verifier
from deconflict.ledger.verify import audit_store, check_receipt
from deconflict.store import SqliteStore


def _receipt(ledger: Ledger, n: int) -> dict[str, object]:
    with ledger.write() as tx:
        logged = ledger.log(tx, "test", {"n": n})
        return ledger.receipt(tx, logged)


def test_the_key_is_made_on_first_start_and_kept(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    first = Ledger(store, SystemClock(), "example.org/log")
    again = Ledger(store, SystemClock(), "ignored.example/other")  # a restart
    assert again.vkey == first.vkey
    assert again.origin == "example.org/log"
    store.close()


def test_a_generated_origin_is_unique_per_store(tmp_path: Path) -> None:
    a = SqliteStore(tmp_path / "a.db")
    b = SqliteStore(tmp_path / "b.db")
    origin_a, origin_b = Ledger(a, SystemClock()).origin, Ledger(b, SystemClock()).origin
    assert origin_a.startswith("deconflict.local/") and origin_a != origin_b
    a.close()
    b.close()


def test_rotation_keeps_old_checkpoints_verifiable(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    ledger = Ledger(store, SystemClock(), "example.org/log")
    old_key = Verifier.parse(ledger.vkey)
    before = _receipt(ledger, 1)
    new_key = Verifier.parse(ledger.rotate_key())
    after = _receipt(ledger, 2)

    assert new_key.name == old_key.name and new_key.key_id != old_key.key_id
    assert "entry 0" in check_receipt(before, [old_key])
    assert "entry 1" in check_receipt(after, [new_key])
    assert audit_store(store, [old_key, new_key]).ok

    # Checked with the new key alone, the checkpoints the old key signed do not verify.
    partial = audit_store(store, [new_key])
    assert not partial.ok
    assert any("checkpoint of size 0" in p for p in partial.problems)

    restarted = Ledger(store, SystemClock())
    assert restarted.vkey == new_key.vkey
    store.close()
