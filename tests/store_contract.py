"""The store contract: every backend must pass these tests.

A backend's test module subclasses :class:`StoreContract` and provides a
``store`` fixture (and ``reopen`` to open the same data again).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import math
from collections.abc import Callable
from dataclasses import replace

import pytest

from deconflict.geometry import BBox
from deconflict.ledger import merkle
from deconflict.model import Channel, Party, Role
from deconflict.store import (
    ConflictRecord,
    DisclosureRecord,
    Extent,
    NoticeRecord,
    Store,
    VolumeRow,
)
from deconflict.store.facade import Screen
from deconflict.store.records import (
    AckRecord,
    CosignatureRecord,
    LedgerEntry,
    SubscriptionRecord,
    TrackPoint,
)

T0 = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def _party(tx: object, pid: str) -> None:
    tx.parties.add(Party(pid, pid.upper(), Role.MEMBER), pid.encode() * 4, T0)  # type: ignore[attr-defined]


def _notice(nid: str, party: str = "a", version: int = 1, state: str = "planned") -> NoticeRecord:
    return NoticeRecord(
        nid,
        party,
        "operation",
        version,
        state,
        {"kind": "operation", "v": version},
        T0,
        T0 + dt.timedelta(minutes=version),
    )


def _extent(
    w: float,
    s: float,
    e: float,
    n: float,
    start: dt.datetime = T0,
    end: dt.datetime | None = T0 + HOUR,
    lo: float = 0.0,
    hi: float = 1000.0,
) -> Extent:
    return Extent(BBox(w, s, e, n), lo, hi, start, end)


def _row(extent: Extent, idx: int = 0) -> VolumeRow:
    return VolumeRow(idx, extent, b"packed-" + bytes([idx]) + b"\x00\xff")


class StoreContract:
    store: Store

    def test_parties_round_trip_and_token_lookup(self, store: Store) -> None:
        with store.write() as tx:
            tx.parties.add(Party("a", "Alpha", Role.ADMIN, "desk"), b"h" * 32, T0)
        with store.read() as tx:
            record = tx.parties.by_token_hash(b"h" * 32)
            assert record is not None and record.party == Party("a", "Alpha", Role.ADMIN, "desk")
            assert tx.parties.by_token_hash(b"x" * 32) is None
            assert [r.party.id for r in tx.parties.all()] == ["a"]
        with store.write() as tx:  # a new token: the old one no longer finds the party
            assert tx.parties.set_token_hash("a", b"n" * 32) is True
            assert tx.parties.set_token_hash("nobody", b"m" * 32) is False
        with store.read() as tx:
            assert tx.parties.by_token_hash(b"h" * 32) is None
            found = tx.parties.by_token_hash(b"n" * 32)
            assert found is not None and found.party.id == "a"
            assert found.token_expires_at is None

    def test_a_token_expiry_is_kept_and_replaced_with_the_token(self, store: Store) -> None:
        later = T0 + dt.timedelta(days=30, microseconds=5)
        with store.write() as tx:
            tx.parties.add(Party("a", "Alpha"), b"h" * 32, T0, later)
        with store.read() as tx:
            record = tx.parties.get("a")
            assert record is not None and record.token_expires_at == later
        with store.write() as tx:
            tx.parties.set_token_hash("a", b"n" * 32, None)
        with store.read() as tx:
            record = tx.parties.get("a")
            assert record is not None and record.token_expires_at is None

    def test_failed_write_transaction_leaves_nothing(self, store: Store) -> None:
        with pytest.raises(RuntimeError), store.write() as tx:
            _party(tx, "a")
            raise RuntimeError("boom")
        with store.read() as tx:
            assert tx.parties.get("a") is None

    def test_channel_membership_changes(self, store: Store) -> None:
        with store.write() as tx:
            _party(tx, "a")
            _party(tx, "b")
            tx.channels.add(Channel("c", "Coalition"), T0)
            assert tx.channels.join("c", "a", T0, "admin") is True
            assert tx.channels.join("c", "a", T0, "admin") is False  # already a member
            assert tx.channels.join("c", "b", T0, "admin") is True
            assert tx.channels.leave("c", "b", T0, "admin") is True
        with store.read() as tx:
            channel = tx.channels.get("c")
            assert channel is not None and channel.members == frozenset({"a"})
            assert tx.channels.of_party("a") == frozenset({"c"})
            assert tx.channels.of_party("b") == frozenset()

    def test_notice_versions_are_kept(self, store: Store) -> None:
        with store.write() as tx:
            _party(tx, "a")
            tx.notices.put(_notice("n1"), [_row(_extent(0, 0, 1, 1))])
            tx.notices.put(_notice("n1", version=2, state="active"), [_row(_extent(0, 0, 1, 1))])
        with store.read() as tx:
            current = tx.notices.get("n1")
            assert current is not None and (current.version, current.state) == (2, "active")
            assert [r.version for r in tx.notices.history("n1")] == [1, 2]
            assert [r.doc["v"] for r in tx.notices.history("n1")] == [1, 2]
            assert [r.id for r in tx.notices.of_party("a")] == ["n1"]
        with store.write() as tx:
            tx.notices.put(_notice("n0"), [_row(_extent(0, 0, 1, 1))])
        with store.read() as tx:  # many at once: the current versions of those that exist
            found = tx.notices.get_many(["n1", "nobody", "n0"])
            assert sorted((r.id, r.version) for r in found) == [("n0", 1), ("n1", 2)]
            assert tx.notices.get_many([]) == []

    def test_candidates_meet_the_query_in_all_four_dimensions(self, store: Store) -> None:
        with store.write() as tx:
            _party(tx, "a")
            tx.notices.put(_notice("n1"), [_row(_extent(10, 10, 11, 11))])
        hit = _extent(10.5, 10.5, 12, 12)
        with store.read() as tx:
            assert [r.id for r in tx.notices.candidates([hit])] == ["n1"]
            far = _extent(20, 20, 21, 21)
            assert tx.notices.candidates([far]) == []
            later = _extent(10.5, 10.5, 12, 12, start=T0 + 3 * HOUR, end=T0 + 4 * HOUR)
            assert tx.notices.candidates([later]) == []
            above = _extent(10.5, 10.5, 12, 12, lo=5000, hi=6000)
            assert tx.notices.candidates([above]) == []

    def test_candidates_are_conservative_at_the_edges(self, store: Store) -> None:
        """Touching boxes and adjacent minutes are returned; the exact test decides."""
        with store.write() as tx:
            _party(tx, "a")
            tx.notices.put(_notice("n1"), [_row(_extent(10, 10, 11, 11))])
        with store.read() as tx:
            touching = _extent(11, 11, 12, 12)
            assert [r.id for r in tx.notices.candidates([touching])] == ["n1"]
            adjacent = _extent(10, 10, 11, 11, start=T0 + HOUR, end=T0 + 2 * HOUR)
            assert [r.id for r in tx.notices.candidates([adjacent])] == ["n1"]
            seconds_later = _extent(
                10, 10, 11, 11, start=T0 + HOUR + dt.timedelta(seconds=59), end=T0 + 2 * HOUR
            )
            assert [r.id for r in tx.notices.candidates([seconds_later])] == ["n1"]

    def test_candidates_across_the_antimeridian_and_open_ends(self, store: Store) -> None:
        with store.write() as tx:
            _party(tx, "a")
            wrap = Extent(BBox(179.5, -1, -179.5, 1), -math.inf, math.inf, T0, None)
            tx.notices.put(_notice("n1"), [_row(wrap)])
        with store.read() as tx:
            east = _extent(
                -179.9,
                0,
                -179.8,
                0.5,
                start=T0 + 1000 * HOUR,
                end=T0 + 1001 * HOUR,
                lo=30_000,
                hi=40_000,
            )
            west = _extent(179.8, 0, 179.9, 0.5)
            assert [r.id for r in tx.notices.candidates([east])] == ["n1"]
            assert [r.id for r in tx.notices.candidates([west])] == ["n1"]

    def test_candidate_volumes_carry_the_screen_columns(self, store: Store) -> None:
        with store.write() as tx:
            _party(tx, "a")
            tx.notices.put(_notice("n1"), [_row(_extent(0, 0, 1, 1)), _row(_extent(5, 5, 6, 6), 1)])
        with store.read() as tx:
            rows = tx.notices.candidate_volumes([_extent(0.5, 0.5, 5.5, 5.5)])
        assert sorted((r[1], r[2]) for r in rows) == [("n1", 0), ("n1", 1)]
        for row in rows:  # the packed blob comes back byte for byte
            assert (row[3], row[4], row[5]) == (
                "a",
                "operation",
                _row(_extent(0, 0, 1, 1), row[2]).packed,
            )
        with store.read() as tx:
            assert tx.notices.candidate_volumes([_extent(0.5, 0.5, 5.5, 5.5)], "a") == []
            assert len(tx.notices.candidate_volumes([_extent(0.5, 0.5, 5.5, 5.5)], "b")) == 2

    def test_candidate_pairs_say_which_query_met_which_volume(self, store: Store) -> None:
        with store.write() as tx:
            _party(tx, "a")
            _party(tx, "b")
            tx.notices.put(_notice("n1"), [_row(_extent(0, 0, 1, 1)), _row(_extent(5, 5, 6, 6), 1)])
            wrap = Extent(BBox(179.5, -1, -179.5, 1), 0.0, 1000.0, T0, T0 + HOUR)
            tx.notices.put(_notice("n2", "b"), [_row(wrap)])
        queries = [
            _extent(0.5, 0.5, 5.5, 5.5),  # both of n1's volumes
            _extent(5.2, 5.2, 5.4, 5.4),  # n1's second
            _extent(10, 10, 11, 11),  # nothing
            Extent(BBox(179.8, 0, -179.8, 0.5), 0.0, 1000.0, T0, T0 + HOUR),  # n2, both pieces
            _extent(0.2, 0.2, 0.3, 0.3, start=T0 + 2 * HOUR, end=T0 + 3 * HOUR),  # too late
        ]
        with store.read() as tx:
            rows, pairs = tx.notices.candidate_pairs(queries)
            assert rows == tx.notices.candidate_volumes(queries)
            named = sorted((q, rows[r][1], rows[r][2]) for q, r in pairs)
            assert named == [(0, "n1", 0), (0, "n1", 1), (1, "n1", 1), (3, "n2", 0)]
            assert pairs == sorted(set(pairs))
            rows, pairs = tx.notices.candidate_pairs(queries, "a")
            assert [(q, rows[r][1]) for q, r in pairs] == [(3, "n2")]
            assert tx.notices.candidate_pairs([], "a") == ([], [])

    def test_bulk_import_is_indexed_like_single_puts(self, store: Store) -> None:
        with store.write() as tx:
            _party(tx, "a")
            tx.notices.put_many(
                [(_notice(f"n{i}"), [_row(_extent(i, 0, i + 0.5, 0.5))]) for i in range(3)]
            )
        with store.read() as tx:
            assert [r.id for r in tx.notices.candidates([_extent(1.2, 0.2, 2.2, 0.3)])] == [
                "n1",
                "n2",
            ]
            assert [r.version for r in tx.notices.history("n0")] == [1]

    def test_a_notice_put_without_extents_leaves_the_index(self, store: Store) -> None:
        with store.write() as tx:
            _party(tx, "a")
            tx.notices.put(_notice("n1"), [_row(_extent(0, 0, 1, 1))])
            tx.notices.put(_notice("n1", version=2, state="cancelled"), [])
        with store.read() as tx:
            assert tx.notices.candidates([_extent(0, 0, 1, 1)]) == []
            current = tx.notices.get("n1")
            assert current is not None and current.state == "cancelled"

    def test_conflicts_by_notice_party_and_status(self, store: Store) -> None:
        record = ConflictRecord("n1", "a", 1, "n2", "b", 3, "airspace", "open", ((0, 1),), T0, T0)
        with store.write() as tx:
            tx.conflicts.put(record)
            tx.conflicts.put(
                ConflictRecord(
                    "n1", "a", 1, "n3", "c", 1, "protection", "resolved", ((0, 0),), T0, T0
                )
            )
        with store.read() as tx:
            assert tx.conflicts.get("n1", "n2") == record
            assert [c.b for c in tx.conflicts.involving("n1")] == ["n2"]
            assert {c.b for c in tx.conflicts.involving("n1", status=None)} == {"n2", "n3"}
            assert [c.b for c in tx.conflicts.of_party("b")] == ["n2"]
            assert [c.b for c in tx.conflicts.of_party("c", status="resolved")] == ["n3"]
            assert tx.conflicts.of_party("c") == []
        reopened = ConflictRecord("n1", "a", 1, "n3", "c", 2, "protection", "open", (), T0, T0)
        moved = ConflictRecord("n4", "d", 1, "n5", "e", 1, "airspace", "open", ((1, 1),), T0, T0)
        with store.write() as tx:  # many at once, new and replacing
            tx.conflicts.put_many([reopened, moved])
            tx.conflicts.put_many([])
        with store.read() as tx:
            assert tx.conflicts.get("n1", "n3") == reopened
            assert tx.conflicts.get("n4", "n5") == moved
            assert {c.b for c in tx.conflicts.involving("n1")} == {"n2", "n3"}

    def test_disclosures_are_appended_and_filtered(self, store: Store) -> None:
        items = [
            DisclosureRecord(T0, "b", "a", "n1", 1, "conflict", "minimal", {"id": "n1"}),
            DisclosureRecord(T0, "c", "a", "n1", 1, "identify", "identify", {"party": "a"}),
        ]
        with store.write() as tx:
            tx.disclosures.record(items)
        with store.read() as tx:
            assert tx.disclosures.query() == items
            assert tx.disclosures.query(recipient="c") == items[1:]
            assert tx.disclosures.query(notice_id="n2") == []

    def test_idempotency_answers_are_kept(self, store: Store) -> None:
        with store.write() as tx:
            tx.idempotency.put("a", "k1", "f1", 201, {"notice": {"id": "n1"}}, T0)
        with store.read() as tx:
            assert tx.idempotency.get("a", "k1") == ("f1", 201, {"notice": {"id": "n1"}})
            assert tx.idempotency.get("b", "k1") is None

    def test_documents_come_back_exactly_as_written(self, store: Store) -> None:
        """JSON read back has the same values and types, so the ledger hashes it alike."""
        doc = {
            "kind": "operation",
            "v": 1,
            "floats": [1.0, -0.0, 1e16, 5e-324, 0.1, 1.7976931348623157e308],
            "ints": [0, -(2**63), 2**64],
            "text": 'é ≠ \u0000 \U0001f600 "quoted"',
            "nested": {"b": [None, True, False], "a": {}},
        }
        view = {"id": "n1", "overlap": doc["floats"]}
        with store.write() as tx:
            _party(tx, "a")
            tx.notices.put(replace(_notice("n1"), doc=doc), [])
            tx.disclosures.record([DisclosureRecord(T0, "b", "a", "n1", 1, "r", "minimal", view)])
            tx.idempotency.put("a", "k", "f", 201, doc, T0)
            (seq,) = tx.alerts.add([("a", "conflict", T0, doc)])
        with store.read() as tx:
            current, history = tx.notices.get("n1"), tx.notices.history("n1")
            read = [current.doc if current else None, history[0].doc, tx.idempotency.get("a", "k")]
            read += [tx.alerts.after("a", seq - 1)[0].data, tx.disclosures.query()[0].view]
        as_text = functools.partial(json.dumps, sort_keys=True)
        assert [as_text(d) for d in read] == [
            as_text(d) for d in (doc, doc, ("f", 201, doc), doc, view)
        ]

    def test_ids_sort_by_code_point(self, store: Store) -> None:
        ids = ["b", "B", "a", "_x", "A1", "é", "Z"]
        with store.write() as tx:
            for pid in ids:
                _party(tx, pid)
                tx.notices.put(_notice(f"n-{pid}", party=pid), [_row(_extent(0, 0, 1, 1))])
        with store.read() as tx:
            assert [p.party.id for p in tx.parties.all()] == sorted(ids)
            found = [r.id for r in tx.notices.candidates([_extent(0, 0, 1, 1)])]
            assert found == sorted(f"n-{pid}" for pid in ids)

    def test_committed_writes_survive_reopening(
        self, store: Store, reopen: Callable[[], Store]
    ) -> None:
        with store.write() as tx:
            _party(tx, "a")
            tx.notices.put(_notice("n1"), [_row(_extent(0, 0, 1, 1))])
        store.close()
        again = reopen()
        with again.read() as tx:
            assert tx.notices.get("n1") is not None
            assert [r.id for r in tx.notices.candidates([_extent(0, 0, 1, 1)])] == ["n1"]
        again.close()

    # --- the ledger --------------------------------------------------------------------------

    def _append(self, store: Store, count: int) -> merkle.MemoryTree:
        """Append ``count`` entries, each in its own transaction, as the service does."""
        tree = merkle.MemoryTree()
        for i in range(count):
            with store.write() as tx:
                size = tx.ledger.size()
                entry = bytes([i % 256]) * 32
                row = LedgerEntry(size, "test", T0, entry, b"s" * 32, b'{"i":%d}' % i)
                leaf = merkle.leaf_hash(entry)

                def node(level: int, index: int, tx: object = tx) -> bytes:
                    value = tx.ledger.node(level, index)  # type: ignore[attr-defined]
                    assert value is not None
                    return bytes(value)

                tx.ledger.append([row], merkle.append_nodes(size, [leaf], node))
            tree.append(leaf)
        return tree

    def test_ledger_entries_and_nodes_build_the_tree(self, store: Store) -> None:
        tree = self._append(store, 37)
        with store.read() as tx:
            assert tx.ledger.size() == 37
            assert [e.index for e in tx.ledger.entries(30, 40)] == list(range(30, 37))
            entry = tx.ledger.entries(5, 6)[0]
            assert (entry.type, entry.record, entry.salt) == ("test", b'{"i":5}', b"s" * 32)
            assert tx.ledger.nodes(0, 0, 37) == tree.level(0)
            assert tx.ledger.nodes(3, 0, 10) == tree.level(3)  # four complete 8-leaf nodes
            assert tx.ledger.node(5, 1) is None  # 64 leaves are not there yet

            def node(level: int, index: int) -> bytes:
                value = tx.ledger.node(level, index)
                assert value is not None
                return value

            assert merkle.root_from_nodes(37, node) == tree.root()

    def test_a_rolled_back_append_leaves_no_entry(self, store: Store) -> None:
        self._append(store, 3)
        with pytest.raises(RuntimeError), store.write() as tx:
            row = LedgerEntry(3, "test", T0, b"x" * 32, b"s", b"{}")
            tx.ledger.append([row], [(0, 3, merkle.leaf_hash(b"x" * 32))])
            raise RuntimeError("boom")
        with store.read() as tx:
            assert tx.ledger.size() == 3
            assert tx.ledger.node(0, 3) is None

    def test_ledger_nodes_stop_at_a_gap(self, store: Store) -> None:
        with store.write() as tx:
            tx.ledger.append([], [(0, i, bytes([i]) * 32) for i in (2, 3, 5)])
        with store.read() as tx:
            assert tx.ledger.nodes(0, 2, 8) == [b"\x02" * 32, b"\x03" * 32]
            assert tx.ledger.nodes(0, 0, 8) == []
            assert tx.ledger.nodes(0, 5, 6) == [b"\x05" * 32]

    def test_checkpoints_are_kept_and_published(self, store: Store) -> None:
        with store.write() as tx:
            tx.ledger.put_checkpoint(0, "note 0\n", T0)
            tx.ledger.put_checkpoint(4, "note 4\n", T0 + HOUR)
            tx.ledger.publish(0, T0)
        with store.read() as tx:
            latest = tx.ledger.latest_checkpoint()
            assert latest is not None and (latest.size, latest.note) == (4, "note 4\n")
            published = tx.ledger.latest_checkpoint(published=True)
            assert published is not None and published.size == 0
            assert [c.size for c in tx.ledger.checkpoints(1)] == [4]
            assert tx.ledger.checkpoint(3) is None
        with store.write() as tx:
            tx.ledger.publish(4, T0 + 2 * HOUR)
            tx.ledger.publish(4, T0 + 3 * HOUR)  # the first publication time stays
        with store.read() as tx:
            published = tx.ledger.latest_checkpoint(published=True)
            assert published is not None and published.published_at == T0 + 2 * HOUR

    def test_keys_cosignatures_and_acks(self, store: Store) -> None:
        with store.write() as tx:
            _party(tx, "a")
            tx.ledger.add_key("0a0b0c0d", "log", "PRIVATE+KEY+log+0a0b0c0d+AA", "log+x", T0)
            tx.ledger.retire_key("0a0b0c0d", T0 + HOUR)
            tx.ledger.add_key("0e0f1011", "log", "PRIVATE+KEY+log+0e0f1011+AA", "log+y", T0 + HOUR)
            tx.ledger.add_party_key("a", "01020304", "a+01020304+AQ", T0, 1)
            cosig = CosignatureRecord("a", 4, 1_700_000_000, "line", T0, 2)
            assert tx.ledger.add_cosignature(cosig) is True
            assert tx.ledger.add_cosignature(cosig) is False
            ack = AckRecord("n1", 1, "a", T0, 3)
            assert tx.ledger.add_ack(ack) is True
            assert tx.ledger.add_ack(ack) is False
        with store.read() as tx:
            assert tx.ledger.signing_keys() == [
                ("PRIVATE+KEY+log+0a0b0c0d+AA", T0, T0 + HOUR),
                ("PRIVATE+KEY+log+0e0f1011+AA", T0 + HOUR, None),
            ]
            assert tx.ledger.party_keys("a") == ["a+01020304+AQ"]
            assert tx.ledger.party_keys("b") == []
            assert tx.ledger.cosignatures("a") == [cosig]
            assert tx.ledger.acks("n1") == [ack]
            assert tx.ledger.all_acks() == [ack]
            assert tx.ledger.party_key_rows() == [("a", "a+01020304+AQ", 1)]

    def test_logged_rows_are_found_by_ledger_index(self, store: Store) -> None:
        with store.write() as tx:
            _party(tx, "a")
            tx.notices.put(_notice("n1"), [])
            tx.notices.put(replace(_notice("n1", version=2), ledger_idx=7), [])
            shown = DisclosureRecord(T0, "b", "a", "n1", 2, "conflict", "minimal", {}, 8)
            tx.disclosures.record([shown])
        with store.read() as tx:
            assert [(r.id, r.version) for r in tx.ledger.logged_notice_versions(0, 10)] == [
                ("n1", 2)
            ]
            assert tx.ledger.logged_disclosures(8, 9) == [shown]
            assert tx.ledger.unlogged() == {"notice_versions": 1, "disclosures": 0}
            assert tx.ledger.notices_unlike_history() == []

    # --- alerts ------------------------------------------------------------------------------

    def test_alert_outbox_subscriptions_and_deliveries(self, store: Store) -> None:
        hook = SubscriptionRecord("s1", "a", {"events": ["conflict"]}, "http://h/x", "k", T0)
        plain = SubscriptionRecord("s2", "a", {"events": ["notice"]}, None, None, T0)
        with store.write() as tx:
            _party(tx, "a")
            _party(tx, "b")
            tx.alerts.add_subscription(hook)
            tx.alerts.add_subscription(plain)
            first, second, third = tx.alerts.add(
                [
                    ("a", "conflict", T0, {"n": 1}),
                    ("b", "conflict", T0, {"n": 2}),
                    ("a", "notice.created", T0, {"n": 3}),
                ]
            )
            tx.alerts.add_deliveries([(first, "s1", T0), (third, "s1", T0 + HOUR)])
        assert first < second < third
        with store.read() as tx:
            assert [s.id for s in tx.alerts.subscriptions("a")] == ["s1", "s2"]
            assert tx.alerts.subscription("s1") == hook
            assert [a.seq for a in tx.alerts.after("a", 0)] == [first, third]
            assert [a.data for a in tx.alerts.after("a", first)] == [{"n": 3}]
            assert tx.alerts.last_seq("a") == third and tx.alerts.last_seq("c") == 0
            due = tx.alerts.due(T0)
            assert [(d.alert.seq, d.subscription.id, d.attempts) for d in due] == [(first, "s1", 0)]
            assert tx.alerts.next_due() == T0
        with store.write() as tx:
            tx.alerts.reschedule(first, "s1", T0 + 2 * HOUR, 1, "HTTP 500")
            assert tx.alerts.acknowledge("a", [first, second], T0) == [first]  # b's is not a's
        with store.read() as tx:
            assert tx.alerts.due(T0 + HOUR)[0].alert.seq == third
            assert tx.alerts.pending("a") == [(first, "s1", 1, "HTTP 500"), (third, "s1", 0, None)]
            assert [a.seq for a in tx.alerts.query("a", "unacknowledged")] == [third]
        with store.write() as tx:
            tx.alerts.delivered(first, "s1", T0 + 3 * HOUR, 42)
            # A webhook delivering first does not count as a stream's delivery.
            assert tx.alerts.mark_streamed([first, third], T0 + 3 * HOUR) == [first, third]
            assert tx.alerts.mark_streamed([first, third], T0 + 4 * HOUR) == []
            assert tx.alerts.end_subscription("s1", T0 + 4 * HOUR) is True
            assert tx.alerts.end_subscription("s1", T0 + 4 * HOUR) is False
        with store.read() as tx:
            assert tx.alerts.query("a", "undelivered") == []
            assert tx.alerts.pending("a") == []  # an ended subscription's webhook stops
            assert tx.alerts.due(T0 + 5 * HOUR) == []
            assert [s.id for s in tx.alerts.subscriptions("a")] == ["s2"]

    # --- tracks ------------------------------------------------------------------------------

    def test_track_reports_states_and_flags(self, store: Store) -> None:
        def point(aircraft: str, minutes: float, lon: float = 35.0) -> TrackPoint:
            at = T0 + dt.timedelta(minutes=minutes)
            return TrackPoint("a", aircraft, at, lon, 33.0, 900.0, 1000.0, 10.0, 0.0, 0.0)

        with store.write() as tx:
            tx.tracks.add_reports([point("x", 0), point("x", 2), point("y", 1, lon=36.0)])
            taken = tx.tracks.advance([point("x", 2), point("y", 1, lon=36.0)])
            assert [p.aircraft for p in taken] == ["x", "y"]
            assert tx.tracks.advance([point("x", 1)]) == []  # older than the state: kept back
            tx.tracks.add_reports([point("x", 1)])
            tx.tracks.raise_flags("proximity", [("a", "x", "b/z"), ("b", "z", "a/x")], T0)
        with store.read() as tx:
            latest, changed = tx.tracks.changed(0)
            assert latest >= 1 and sorted(p.aircraft for p in changed) == ["x", "y"]
            assert tx.tracks.changed(latest) == (latest, [])
        with store.write() as tx:  # a later batch: only what it moved is a change
            assert [p.aircraft for p in tx.tracks.advance([point("y", 3), point("y", 4)])] == ["y"]
        with store.read() as tx:
            newer, changed = tx.tracks.changed(latest)
            assert newer > latest and [(p.aircraft, p.time.minute) for p in changed] == [("y", 4)]
            states = {p.aircraft: p.time for p in tx.tracks.states(T0)}
            assert states == {"x": T0 + dt.timedelta(minutes=2), "y": T0 + dt.timedelta(minutes=4)}
            assert [p.aircraft for p in tx.tracks.states(T0 + dt.timedelta(minutes=3.5))] == ["y"]
            near = tx.tracks.reports_near((34.9, 32.9, 35.1, 33.1), T0, T0 + HOUR)
            assert sorted(p.time.minute for p in near) == [0, 1, 2]
            assert tx.tracks.flags("proximity", "a") == {("a", "x", "b/z"): T0}
            assert set(tx.tracks.flags("proximity")) == {("a", "x", "b/z"), ("b", "z", "a/x")}
        with store.write() as tx:
            assert tx.tracks.prune(T0 + dt.timedelta(minutes=1)) == 1
            tx.tracks.clear_flags("proximity", [("a", "x", "b/z"), ("b", "z", "a/x")])
        with store.read() as tx:
            near = tx.tracks.reports_near((34.9, 32.9, 35.1, 33.1), T0, T0 + HOUR)
            assert sorted(p.time.minute for p in near) == [1, 2]
            assert tx.tracks.flags("proximity") == {}

    def test_facade_documents_by_kind_and_key(self, store: Store) -> None:
        with store.write() as tx:
            tx.facade.put("subscription", "s1", {"index": 0, "url": "https://a.test"})
            tx.facade.put("subscription", "s0", {"index": 5})
            tx.facade.put("oir", "s1", {"ovn": "x" * 16})
            tx.facade.put("subscription", "s1", {"index": 1, "url": "https://a.test"})
        with store.read() as tx:
            assert tx.facade.get("subscription", "s1") == {"index": 1, "url": "https://a.test"}
            assert tx.facade.get("oir", "s1") == {"ovn": "x" * 16}
            assert tx.facade.get("oir", "s0") is None
            assert [key for key, _ in tx.facade.all("subscription")] == ["s0", "s1"]
        with contextlib.suppress(RuntimeError), store.write() as tx:
            tx.facade.delete("subscription", "s0")
            raise RuntimeError("rolled back")
        with store.write() as tx:
            assert tx.facade.get("subscription", "s0") == {"index": 5}
            assert tx.facade.delete("subscription", "s0") is True
            assert tx.facade.delete("subscription", "s0") is False
        with store.read() as tx:
            assert tx.facade.all("subscription") == [("s1", {"index": 1, "url": "https://a.test"})]

    def test_facade_documents_are_screened_by_span_and_box(self, store: Store) -> None:
        day = 86_400_000_000
        with store.write() as tx:
            tx.facade.put("sub", "near", {"n": 0}, Screen(0, day, 30.0, 32.0, 31.0, 33.0))
            tx.facade.put("sub", "later", {"n": 0}, Screen(day, 2 * day, 30.0, 32.0, 31.0, 33.0))
            tx.facade.put("sub", "far", {"n": 0}, Screen(0, day, 40.0, 32.0, 41.0, 33.0))
            tx.facade.put("sub", "open", {"n": 0})  # no screen: always passes
            tx.facade.put("sub", "near", {"n": 1})  # keeps its screen
        probe = Screen(day // 2, day, 30.5, 32.5, 30.6, 32.6)
        edge = Screen(day, 3 * day, 31.0, 33.0, 32.0, 34.0)  # touches "near" and "later"
        with store.read() as tx:
            assert tx.facade.screened("sub", probe) == [("near", {"n": 1}), ("open", {"n": 0})]
            assert [key for key, _ in tx.facade.screened("sub", edge)] == ["later", "open"]
