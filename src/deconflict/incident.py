"""Incident review: what was notified around a place and time, who was told what, and when.

The report is rebuilt from the ledger, the one record nobody can rewrite
unnoticed. Every entry of the signed tree is read once. The report then keeps:

- the notice versions whose volumes meet the incident's cylinder (a circle
  around the place, every altitude, the time window);
- the disclosures, acknowledgements and alert deliveries that concern them;
- channel changes;
- the track reports and alerts in the area.

Each ledgered line carries the record, its salt and an inclusion proof against
one signed checkpoint. So :func:`check_report` (``deconflict verify``) can prove
every line offline and find any line whose text was changed. The report built
here is whole; an auditor or admin gets it cut to need-to-know by
:func:`deconflict.incident_views.for_reader`, where a withheld record leaves
only its entry and proof. Track reports are
kept in the store but not in the ledger, and the report says so on each of
them. Alert lines are proved through the delivery entry that carried them: the
entry holds the SHA-256 of the alert as sent.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from deconflict import errors
from deconflict.alerts.center import alert_json
from deconflict.geometry import BBox, circle
from deconflict.interchange import format_instant
from deconflict.ledger import merkle
from deconflict.ledger.entries import canonical, commitment
from deconflict.ledger.log import node_source
from deconflict.ledger.note import Verifier
from deconflict.model import AltitudeBand, AltitudeReference, Buffers, TimeWindow, Volume
from deconflict.notices import parse_notice
from deconflict.screen import volumes_meet
from deconflict.sphere import EARTH_RADIUS_M, lonlat_to_unit
from deconflict.store import Store, Transaction
from deconflict.views import STORED
from deconflict.volumes import parse_instant

__all__ = ["Question", "build_report", "check_report", "describe", "incident_question"]

_CHUNK = 5_000
_NO_BUFFERS = Buffers(0.0, 0.0, 0.0)
_NOT_LEDGERED = "kept in the store, not in the ledger: no proof"
_ALERT_NOTE = "an alert is ledgered when it is delivered: see the delivery lines"
#: The largest question asked: a circle of 1,000 km and a week either side.
MAX_RADIUS_KM = 1_000.0
MAX_WINDOW_MIN = 7 * 24 * 60.0


@dataclass(frozen=True)
class Question:
    """Where and when: a circle of ``radius_km`` around (lon, lat), ``window_min`` either side."""

    at: dt.datetime
    lon: float
    lat: float
    radius_km: float
    window_min: float

    @property
    def start(self) -> dt.datetime:
        return self.at - dt.timedelta(minutes=self.window_min)

    @property
    def end(self) -> dt.datetime:
        return self.at + dt.timedelta(minutes=self.window_min)

    def cylinder(self) -> Volume:
        return Volume(
            circle(self.lon, self.lat, self.radius_km * 1000.0),
            AltitudeBand(None, None, AltitudeReference.W84),
            TimeWindow(self.start, self.end),
        )

    def json(self) -> dict[str, Any]:
        return {
            "at": format_instant(self.at),
            "near": [self.lon, self.lat],
            "radius_km": self.radius_km,
            "window_min": self.window_min,
            "from": format_instant(self.start),
            "to": format_instant(self.end),
        }


def incident_question(
    at: Any, lon: float, lat: float, radius_km: float, window_min: float
) -> Question:
    """A checked question; each fault names its field."""
    instant = parse_instant(at, "at")
    checks = (
        (-180.0 <= lon <= 180.0, "lon", "lon is within [-180, 180]"),
        (-90.0 <= lat <= 90.0, "lat", "lat is within [-90, 90]"),
        (
            0.0 < radius_km <= MAX_RADIUS_KM,
            "radius_km",
            f"radius_km is within (0, {MAX_RADIUS_KM:g}]",
        ),
        (
            0.0 < window_min <= MAX_WINDOW_MIN,
            "window_min",
            f"window_min is within (0, {MAX_WINDOW_MIN:g}]",
        ),
    )
    for ok, field, message in checks:
        if not ok:  # NaN fails every comparison, so it lands here too
            raise errors.InvalidValue(message, field=field)
    return Question(instant, lon, lat, radius_km, window_min)


def describe(record: dict[str, Any]) -> dict[str, Any]:
    """The timeline line a ledger record makes: when, what kind, who, and a sentence.

    The verifier calls this too, on the proved record, so a line whose words
    were changed no longer matches its proof.
    """
    kind, at = record.get("type"), record.get("at")
    if kind == "notice":
        verb = {1: "filed"}.get(record["version"], "updated")
        if record["state"] == "cancelled":
            verb = "cancelled"
        text = (
            f"{record['party']} {verb} {record['kind']} {record['notice']}"
            f" v{record['version']} ({record['state']})"
        )
        return {"at": at, "kind": "notice", "party": record["party"], "text": text}
    if kind == "disclosure":
        shown = ", ".join(
            f"{i['owner']}'s {i['notice']} v{i['version']} ({i['level']})" for i in record["items"]
        )
        text = f"{record['recipient']} was shown {shown} [{record['reason']}]"
        return {"at": at, "kind": "disclosure", "party": record["recipient"], "text": text}
    if kind == "ack":
        what = f"{record['owner']}'s {record['notice']} v{record['version']}"
        text = f"{record['party']} acknowledged {what}"
        return {"at": at, "kind": "ack", "party": record["party"], "text": text}
    if kind == "delivery":
        ids = ", ".join(f"#{a['id']}" for a in record["alerts"])
        text = f"alerts {ids} delivered to {record['party']} by {record['channel']}"
        if record.get("status") is not None:
            text += f" (status {record['status']})"
        return {"at": at, "kind": "delivery", "party": record["party"], "text": text}
    if kind in ("channel.join", "channel.leave"):
        verb = "joined" if kind == "channel.join" else "left"
        text = f"{record['party']} {verb} channel {record['channel']} (by {record['by']})"
        return {"at": at, "kind": "channel", "party": record["party"], "text": text}
    if kind == "channel.add":
        members = ", ".join(record.get("members", [])) or "no one"
        text = f"channel {record['id']} made with {members} (by {record['by']})"
        return {"at": at, "kind": "channel", "party": record["by"], "text": text}
    return {"at": at, "kind": str(kind), "party": record.get("party"), "text": str(kind)}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class _Builder:
    track_lines: list[dict[str, Any]]
    aircraft: set[tuple[str, Any]]

    def __init__(self, tx: Transaction, question: Question, datum: Any) -> None:
        self.tx = tx
        self.q = question
        self.datum = datum
        self.cylinder = question.cylinder()
        checkpoint = tx.ledger.latest_checkpoint()
        if checkpoint is None:
            raise errors.NotFound("the ledger has no signed checkpoint yet")
        self.checkpoint = checkpoint
        self.notices: dict[str, dict[str, Any]] = {}  # id → summary with versions
        self.kept: list[tuple[int, dict[str, Any]]] = []  # (index, record) on the timeline
        self.channels: dict[str, set[str]] = {}  # membership as of the incident's instant

    def entries(self) -> Iterator[tuple[int, dict[str, Any]]]:
        for start in range(0, self.checkpoint.size, _CHUNK):
            for e in self.tx.ledger.entries(start, min(start + _CHUNK, self.checkpoint.size)):
                yield e.index, json.loads(e.record)

    def meets(self, record: dict[str, Any], known: bool) -> bool:
        """Whether a logged notice version has a volume in the incident's cylinder.

        A cancellation has no volumes; it matters if an earlier version did (``known``).
        """
        if record["state"] == "cancelled":
            return known
        notice = parse_notice(
            record["doc"],
            notice_id=record["notice"],
            party=record["party"],
            version=record["version"],
            limits=STORED,
        )
        return bool(volumes_meet(self.cylinder, notice.volumes, _NO_BUFFERS, self.datum).any())

    def read(self) -> None:
        """One pass over the ledger, oldest first.

        A notice version is kept if it meets the cylinder and was in force at some
        time in the window: logged within it, or the last version logged before it
        (and not a cancellation). Membership is replayed up to the instant.
        """
        start, end = format_instant(self.q.start), format_instant(self.q.end)
        at = format_instant(self.q.at)
        later: list[tuple[int, dict[str, Any]]] = []
        in_force: dict[str, tuple[int, dict[str, Any]]] = {}  # as the window opens
        for index, record in self.entries():
            kind, when = record["type"], record["at"]
            if kind == "notice" and when <= end:
                known = record["notice"] in self.notices or record["notice"] in in_force
                hit = self.meets(record, known)
                if when < start:
                    in_force.pop(record["notice"], None)
                    if hit and record["state"] != "cancelled":
                        in_force[record["notice"]] = (index, record)
                elif hit:
                    self._keep_notice(index, record)
            elif kind.startswith("channel."):
                if when <= at:
                    self._membership(record)
                if start <= when <= end:
                    self.kept.append((index, record))
            elif start <= when <= end and kind in ("disclosure", "ack", "delivery"):
                later.append((index, record))
        for index, record in in_force.values():
            self._keep_notice(index, record)
        for summary in self.notices.values():
            summary["versions"].sort(key=lambda v: v["version"])
        self.track_lines = self.tracks()
        self.aircraft = {(line["party"], line["aircraft"]) for line in self.track_lines}
        for index, record in later:  # now that every notice in the area is known
            if self._concerns(record):
                self.kept.append((index, record))

    def _keep_notice(self, index: int, record: dict[str, Any]) -> None:
        summary = self.notices.setdefault(
            record["notice"],
            {"id": record["notice"], "party": record["party"], "kind": record["kind"]},
        )
        if record["doc"].get("category") is not None:
            summary["category"] = record["doc"]["category"]
        version = {"version": record["version"], "state": record["state"], "at": record["at"]}
        summary.setdefault("versions", []).append(version | {"ledger": index})
        self.kept.append((index, record))

    def _membership(self, record: dict[str, Any]) -> None:
        kind = record["type"]
        if kind == "channel.add":
            self.channels[record["id"]] = set(record.get("members", []))
        elif kind == "channel.join":
            self.channels.setdefault(record["channel"], set()).add(record["party"])
        else:
            self.channels.setdefault(record["channel"], set()).discard(record["party"])

    def _concerns(self, record: dict[str, Any]) -> bool:
        if record["type"] == "disclosure":
            return any(i["notice"] in self.notices for i in record["items"])
        if record["type"] == "ack":
            return record["notice"] in self.notices
        return bool(self._alerts(record))

    def _alerts(self, delivery: dict[str, Any]) -> list[dict[str, Any]]:
        """The alerts a delivery carried that concern the area: its notices, or tracks in it."""
        wanted = {a["id"] for a in delivery["alerts"]}
        first = min(wanted)
        found = self.tx.alerts.query(delivery["party"], "all", after=first - 1, limit=len(wanted))
        return [
            alert_json(a) for a in found if a.seq in wanted and self._about_area(a.party, a.data)
        ]

    def _about_area(self, party: str, data: dict[str, Any]) -> bool:
        """An alert about a notice of the report, a position in it, or an aircraft seen in it."""
        for item in data.get("items", [data]):  # track alerts list their conditions
            if (party, item.get("aircraft")) in self.aircraft:
                return True
            if _inside(item, self._box()):
                return True
        return _mentions(data, self.notices)

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts raised in the window about the area; ledgered only once delivered."""
        start, end = format_instant(self.q.start), format_instant(self.q.end)
        out = []
        for party in self.tx.parties.all():
            for alert in self.tx.alerts.query(party.party.id, "all", after=0, limit=100_000):
                shown = alert_json(alert)
                if not start <= shown["at"] <= end or not self._about_area(alert.party, alert.data):
                    continue
                about = ", ".join(_subjects(alert.data))
                text = f"alert #{alert.seq} to {alert.party}: {alert.type}"
                out.append(
                    {
                        "at": shown["at"],
                        "kind": "alert",
                        "party": alert.party,
                        "text": text + (f" ({about})" if about else ""),
                        "alert": shown,
                        "ledger": None,
                        "note": _ALERT_NOTE,
                    }
                )
        return out

    def _box(self) -> BBox:
        return BBox(self.q.lon, self.q.lat, self.q.lon, self.q.lat).padded(
            self.q.radius_km * 1000.0
        )

    def line(self, index: int, record: dict[str, Any]) -> dict[str, Any]:
        (entry,) = self.tx.ledger.entries(index, index + 1)
        proof = merkle.inclusion_proof(index, self.checkpoint.size, node_source(self.tx))
        line = describe(record) | {
            "ledger": {
                "index": index,
                "entry": _b64(entry.entry),
                "salt": _b64(entry.salt),
                "record": record,
                "proof": [_b64(h) for h in proof],
            }
        }
        if record["type"] == "disclosure":
            line["views"] = self._views(index)
        if record["type"] == "delivery":
            line["alerts"] = self._alerts(record)
        return line

    def _views(self, index: int) -> list[dict[str, Any]]:
        """What exactly was shown, as stored: each view's digest is in the logged record."""
        return [
            {"notice": d.notice_id, "version": d.notice_version, "view": d.view}
            for d in self.tx.ledger.logged_disclosures(index, index + 1)
            if d.notice_id in self.notices
        ]

    def tracks(self) -> list[dict[str, Any]]:
        found = []
        for piece in self._box().pieces():
            found += self.tx.tracks.reports_near(piece, self.q.start, self.q.end)
        here = lonlat_to_unit(self.q.lon, self.q.lat)
        reach = self.q.radius_km * 1000.0 / EARTH_RADIUS_M
        out = []
        for p in sorted(found, key=lambda p: (p.time, p.party, p.aircraft)):
            if float(np.arccos(np.clip(here @ lonlat_to_unit(p.lon, p.lat), -1, 1))) > reach:
                continue
            out.append(
                {
                    "at": format_instant(p.time),
                    "kind": "track",
                    "party": p.party,
                    "text": f"{p.party} aircraft {p.aircraft} at {p.lon:.5f}, {p.lat:.5f},"
                    f" {round((p.alt_lo + p.alt_hi) / 2)} m",
                    "aircraft": p.aircraft,
                    "position": [p.lon, p.lat, (p.alt_lo + p.alt_hi) / 2],
                    "ledger": None,
                    "note": _NOT_LEDGERED,
                }
            )
        return out


def _subjects(data: dict[str, Any]) -> list[str]:
    """What a track alert is about: its aircraft, or the places they entered."""
    found = []
    for item in data.get("items", []):
        subject = item.get("aircraft") or (item.get("notice") or {}).get("id")
        if isinstance(subject, str) and subject not in found:
            found.append(subject)
    return found


def _mentions(data: dict[str, Any], notices: dict[str, Any]) -> bool:
    text = json.dumps(data)
    return any(f'"{notice_id}"' in text for notice_id in notices)


def _inside(data: dict[str, Any], box: BBox) -> bool:
    lon, lat = data.get("lon"), data.get("lat")
    if not isinstance(lon, int | float) or not isinstance(lat, int | float):
        return False
    return any(w <= lon <= e and s <= lat <= n for w, s, e, n in box.pieces())


def _order(line: dict[str, Any]) -> tuple[str, int, int]:
    """By time; at one instant, track reports, then ledger order, then alerts by id
    (an alert is raised by the write it follows)."""
    index = (
        line["ledger"]["index"] if line["ledger"] else (2**62 if line["kind"] == "alert" else -1)
    )
    return (line["at"], index, line.get("alert", {}).get("id", 0))


def build_report(store: Store, question: Question, datum: Any) -> dict[str, Any]:
    """The incident report for ``question``, proved against the newest signed checkpoint."""
    with store.read() as tx:
        builder = _Builder(tx, question, datum)
        builder.read()
        lines = [builder.line(i, r) for i, r in sorted(builder.kept)]
        lines += builder.track_lines + builder.alerts()
        seen = _seen(builder, question)
    lines.sort(key=_order)
    return {
        "type": "deconflict.incident",
        "question": question.json(),
        "checkpoint": builder.checkpoint.note,
        "notices": sorted(builder.notices.values(), key=lambda n: n["id"]),
        "channels": {c: sorted(m) for c, m in sorted(builder.channels.items())},
        "seen": seen,
        "lines": lines,
    }


def _seen(builder: _Builder, question: Question) -> dict[str, list[dict[str, Any]]]:
    """What each party could see of the area's notices at the instant.

    In full: its own notices and those whose audience named it, directly or
    through a channel it was in at the instant. Otherwise, what disclosures
    showed it up to the instant (minimal views, owners, existence).
    """
    at = format_instant(question.at)
    seen: dict[str, dict[tuple[str, int], dict[str, Any]]] = {}

    def show(party: str, item: dict[str, Any]) -> None:
        seen.setdefault(party, {}).setdefault((item["notice"], item["version"]), item)

    for index, record in sorted(builder.kept):
        if record["at"] > at:
            continue
        if record["type"] == "notice":
            audience = record["doc"].get("audience") or {}
            parties = {record["party"], *audience.get("parties", [])}
            for channel in audience.get("channels", []):
                parties |= builder.channels.get(channel, set())
            for party in sorted(parties):
                reason = "owner" if party == record["party"] else "audience"
                show(party, _seen_item(record, record["party"], "full", reason, index))
        elif record["type"] == "disclosure":
            for item in record["items"]:
                if item["notice"] in builder.notices:
                    show(
                        record["recipient"],
                        _seen_item(item, item["owner"], item["level"], record["reason"], index)
                        | {"since": record["at"]},
                    )
    return {
        party: sorted(shown.values(), key=lambda i: (i["notice"], i["version"]))
        for party, shown in sorted(seen.items())
    }


def _seen_item(
    item: dict[str, Any], owner: str, level: str, reason: str, index: int
) -> dict[str, Any]:
    return {
        "notice": item["notice"],
        "version": item["version"],
        "owner": owner,
        "level": level,
        "reason": reason,
        "since": item.get("at"),
        "ledger": index,
    }


# --- offline verification -------------------------------------------------------------------


def check_report(doc: dict[str, Any], verifiers: list[Verifier]) -> list[str]:
    """Check every ledgered line of a report; returns what was proved, raises on a fault."""
    from deconflict.ledger.verify import check_checkpoint

    checkpoint = check_checkpoint(doc["checkpoint"], verifiers)
    proved = sealed = 0
    for n, line in enumerate(doc.get("lines", [])):
        ledger = line.get("ledger")
        if ledger is None:
            continue
        where = f"line {n} ({line.get('at')} {line.get('kind')})"
        entry = base64.b64decode(ledger["entry"])
        proof = [base64.b64decode(h) for h in ledger["proof"]]
        if not merkle.verify_inclusion(
            ledger["index"], checkpoint.size, merkle.leaf_hash(entry), proof, checkpoint.root
        ):
            raise errors.VerificationFailed(f"{where}: not in the signed tree")
        record = ledger["record"]
        if ledger.get("redacted") is True and "salt" not in ledger:
            sealed += 1  # the reader has no need to know the record: the entry is all it gets
        elif commitment(base64.b64decode(ledger["salt"]), canonical(record)) != entry:
            raise errors.VerificationFailed(f"{where}: the record does not match its entry")
        expected = describe(record)
        if {k: line.get(k) for k in expected} != expected:
            raise errors.VerificationFailed(f"{where}: the line does not say what its record says")
        _check_attached(line, record, where)
        proved += 1
    unproved = sum(1 for line in doc.get("lines", []) if line.get("ledger") is None)
    done = [
        f"{proved} lines proved against the signed tree of size {checkpoint.size}",
        f"{unproved} lines carry no proof (track reports, and alerts until delivered)",
    ]
    if sealed:
        done.append(
            f"{sealed} of the proved lines are in the tree by their entry only: their record"
            " is withheld from this report's reader, so its words are the service's"
        )
    return done


def _check_attached(line: dict[str, Any], record: dict[str, Any], where: str) -> None:
    """Views and alerts shown beside a line must be the ones whose digests were logged."""
    if record["type"] == "disclosure":
        logged = {(i["notice"], i["version"]): i["view_sha256"] for i in record["items"]}
        for shown in line.get("views", []):
            digest = hashlib.sha256(canonical(shown["view"])).hexdigest()
            if logged.get((shown["notice"], shown["version"])) != digest:
                raise errors.VerificationFailed(f"{where}: a view is not the one logged")
    if record["type"] == "delivery":
        logged = {a["id"]: a["sha256"] for a in record["alerts"]}
        for alert in line.get("alerts", []):
            if alert.get("redacted") is True and alert.get("id") in logged:
                continue  # withheld from the reader: its id, type and time only
            if logged.get(alert.get("id")) != hashlib.sha256(canonical(alert)).hexdigest():
                raise errors.VerificationFailed(f"{where}: an alert is not the one delivered")
