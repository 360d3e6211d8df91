"""Incident review: a scripted scenario replayed, and every line of the report checked against it.

The script, minute by minute, around a place P (35.5°E, 33.5°N):

- 0  the admin makes parties alpha, bravo, charlie, dave, the auditor audit,
     and channel ops with alpha and charlie;
- 1  alpha files operation OP over P, for channel ops to see in full;
- 2  bravo files hospital H at P, for audit to see in full: a conflict; bravo's
     answer shows OP, alpha's alert shows H;
- 3  alpha updates OP (v2), still over P;
- 4  charlie, in ops, acknowledges OP v2;
- 5  charlie leaves ops;
- 6  alpha's aircraft A1 flies over P: incursion alerts to alpha and bravo;
- 7  bravo reads its alert stream (a delivery);
- 8  dave files an operation 300 km away (not in the report);
- 40 alpha cancels OP (after the window: not in the report).

The question: P, 20 km, 10 minutes either side of minute 5.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deconflict import errors
from deconflict.api.app import create_app
from deconflict.clock import FixedClock
from deconflict.config import Settings
from deconflict.disclosure import Viewer
from deconflict.incident import Question, build_report, check_report
from deconflict.incident_html import extract, render
from deconflict.ledger.note import Signer, Verifier
from deconflict.model import Role
from deconflict.service import Service
from deconflict.store import open_store

T0 = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
P = (35.5, 33.5)


def _minute(m: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=m)


def _iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _volume(lon: float, lat: float, radius_m: float) -> dict[str, Any]:
    return {
        "footprint": {"type": "Circle", "center": [lon, lat], "radius_m": radius_m},
        "altitude": {"lower": 0, "upper": 3000, "reference": "W84"},
        "time": {"start": _iso(_minute(0)), "end": _iso(_minute(120))},
    }


class Scenario:
    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.clock = FixedClock(T0)
        self.service = Service(open_store(self.path), self.clock, Settings(db=self.path))
        s = self.service
        for party in ("alpha", "bravo", "charlie", "dave"):
            s.accounts.add_party(None, party, party.title())
        s.accounts.add_party(None, "audit", "Audit", "auditor")
        s.accounts.add_channel(None, "ops", "Ops", ["alpha", "charlie"])
        self.at(1)
        _, answer = s.submit(
            self.viewer("alpha"),
            {
                "kind": "operation",
                "volumes": [_volume(*P, 5_000)],
                "audience": {"channels": ["ops"]},
                "aircraft": ["OP-JET"],
                "contact": "alpha ops desk",
            },
        )
        self.op = answer["notice"]["id"]
        self.at(2)
        _, answer = s.submit(
            self.viewer("bravo"),
            {
                "kind": "protected",
                "category": "medical",
                "volumes": [_volume(*P, 1_000)],
                "audience": {"parties": ["audit"]},
            },
        )
        self.hospital = answer["notice"]["id"]
        self.at(3)
        body = {"kind": "operation", "volumes": [_volume(P[0] + 0.01, P[1], 5_000)], "version": 1}
        body |= {"audience": {"channels": ["ops"]}, "aircraft": ["OP-JET"]}
        s.update(self.viewer("alpha"), self.op, body)
        self.at(4)
        s.acknowledgements.ack(self.viewer("charlie"), self.op, {"version": 2})
        self.at(5)
        s.accounts.change_membership(None, "ops", "charlie", False)
        self.at(6)
        reports = [
            {
                "aircraft": "A1",
                "time": _iso(_minute(6)),
                "lon": P[0],
                "lat": P[1],
                "altitude": {"value": 500.0, "reference": "W84"},
            }
        ]
        s.tracks.ingest(self.viewer("alpha"), {"reports": reports})
        self.at(7)
        self.delivered = s.alerts.take("bravo", 0)
        self.at(8)
        s.submit(
            self.viewer("dave"), {"kind": "operation", "volumes": [_volume(38.5, 33.5, 5_000)]}
        )
        self.at(40)
        s.cancel(self.viewer("alpha"), self.op, 2)

    def at(self, minute: float) -> None:
        self.clock.advance((_minute(minute) - self.clock.now()).total_seconds())

    def viewer(self, party: str) -> Viewer:
        channels = frozenset(["ops"]) if party in ("alpha", "charlie") else frozenset()
        return Viewer(party, Role.MEMBER, channels)

    def keys(self) -> list[Verifier]:
        with self.service.store.read() as tx:
            return [Signer.parse(k[0]).verifier for k in tx.ledger.signing_keys()]

    def report(self) -> dict[str, Any]:
        question = Question(_minute(5), P[0], P[1], 20.0, 10.0)
        return build_report(self.service.store, question, self.service.settings.policy.datum)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    world = Scenario(tmp_path_factory.mktemp("incident") / "s.db")
    yield world
    world.service.store.close()


def _lines(report: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(line["at"], line["kind"], line["party"]) for line in report["lines"]]


def test_every_line_is_the_script(scenario: Scenario) -> None:
    report = scenario.report()
    m = lambda minute: _iso(_minute(minute))  # noqa: E731
    assert _lines(report) == [
        (m(0), "channel", "operator"),
        (m(1), "notice", "alpha"),
        (m(2), "notice", "bravo"),
        (m(2), "disclosure", "bravo"),  # bravo's answer shows OP
        (m(2), "disclosure", "alpha"),  # the alert shows alpha the hospital
        (m(2), "alert", "alpha"),
        (m(2), "alert", "bravo"),
        (m(3), "notice", "alpha"),
        (m(3), "disclosure", "alpha"),  # alpha's answer shows the hospital again
        (m(3), "disclosure", "bravo"),  # the change is alerted to bravo
        (m(3), "alert", "alpha"),
        (m(3), "alert", "bravo"),
        (m(4), "ack", "charlie"),
        (m(5), "channel", "charlie"),
        (m(6), "track", "alpha"),
        (m(6), "disclosure", "alpha"),  # the incursion alert shows alpha the hospital
        (m(6), "alert", "alpha"),
        (m(6), "alert", "bravo"),
        (m(7), "delivery", "bravo"),
    ]
    texts = [line["text"] for line in report["lines"]]
    assert texts[0] == "channel ops made with alpha, charlie (by operator)"
    assert texts[1] == f"alpha filed operation {scenario.op} v1 (planned)"
    assert texts[3] == f"bravo was shown alpha's {scenario.op} v1 (minimal) [conflict]"
    assert texts[4] == f"alpha was shown bravo's {scenario.hospital} v1 (minimal) [alert]"
    assert texts[5:7] == ["alert #1 to alpha: conflict", "alert #2 to bravo: conflict"]
    assert texts[7] == f"alpha updated operation {scenario.op} v2 (planned)"
    assert texts[12] == f"charlie acknowledged alpha's {scenario.op} v2"
    assert texts[13] == "charlie left channel ops (by operator)"
    assert texts[14] == "alpha aircraft A1 at 35.50000, 33.50000, 500 m"
    assert texts[15] == f"alpha was shown bravo's {scenario.hospital} v1 (minimal) [incursion]"
    assert texts[16:18] == [
        "alert #5 to alpha: track.incursion (A1)",
        f"alert #6 to bravo: track.incursion ({scenario.hospital})",
    ]
    assert texts[18] == "alerts #2, #4, #6 delivered to bravo by stream"
    unproved = [line["kind"] for line in report["lines"] if line["ledger"] is None]
    assert sorted(unproved) == ["alert"] * 6 + ["track"]
    # What the delivery carried: bravo's alerts, as bravo's stream got them.
    delivery = report["lines"][-1]
    assert [a["id"] for a in delivery["alerts"]] == [a["id"] for a in scenario.delivered]
    assert {a["type"] for a in delivery["alerts"]} >= {"conflict", "track.incursion"}


def test_far_away_and_later_notices_stay_out(scenario: Scenario) -> None:
    report = scenario.report()
    assert [n["id"] for n in report["notices"]] == sorted([scenario.op, scenario.hospital])
    versions = {n["id"]: [v["version"] for v in n["versions"]] for n in report["notices"]}
    assert versions[scenario.op] == [1, 2]  # the cancel at minute 40 is after the window
    assert "dave" not in json.dumps(report["lines"])


def test_what_each_party_could_see_and_who_was_in_the_channel(scenario: Scenario) -> None:
    report = scenario.report()
    assert report["channels"] == {"ops": ["alpha"]}  # charlie left at the instant
    seen = {
        party: {(i["notice"], i["version"], i["level"]) for i in items}
        for party, items in report["seen"].items()
    }
    op, hospital = scenario.op, scenario.hospital
    assert seen["alpha"] == {(op, 1, "full"), (op, 2, "full"), (hospital, 1, "minimal")}
    assert seen["bravo"] == {(hospital, 1, "full"), (op, 1, "minimal"), (op, 2, "minimal")}
    assert seen["audit"] == {(hospital, 1, "full")}  # in the hospital's audience
    assert "charlie" not in seen and "dave" not in seen  # charlie's view ended as it left ops


def test_the_report_verifies_offline_and_every_kind_of_edit_is_caught(scenario: Scenario) -> None:
    report = scenario.report()
    keys = scenario.keys()
    proved = check_report(report, keys)
    assert proved[0].startswith("12 lines proved")

    def broken(edit: Any) -> str:
        doc = copy.deepcopy(report)
        edit(doc)
        with pytest.raises(errors.VerificationFailed) as caught:
            check_report(doc, keys)
        return caught.value.message

    def line(doc: dict[str, Any], kind: str) -> dict[str, Any]:
        return next(x for x in doc["lines"] if x["kind"] == kind)

    assert "does not say" in broken(lambda d: line(d, "ack").update(party="bravo"))
    assert "does not say" in broken(lambda d: line(d, "notice").update(text="nothing happened"))
    assert "does not match" in broken(
        lambda d: line(d, "notice")["ledger"]["record"]["doc"].update(category="other")
    )
    assert "view" in broken(
        lambda d: line(d, "disclosure")["views"][0]["view"].update(party="someone")
    )
    assert "alert" in broken(lambda d: line(d, "delivery")["alerts"][0].update(type="nothing"))
    assert "signed tree" in broken(lambda d: line(d, "ack")["ledger"].update(index=0))
    other = Signer.generate("deconflict.local").verifier
    with pytest.raises(errors.DeconflictError):
        check_report(report, [other])


def test_a_record_changed_in_the_store_fails_the_new_report(tmp_path: Path) -> None:
    world = Scenario(tmp_path / "s.db")
    try:
        keys = world.keys()
        check_report(world.report(), keys)
    finally:
        world.service.store.close()
    with sqlite3.connect(tmp_path / "s.db") as db:  # the operator edits history by hand
        row = db.execute("SELECT idx, record FROM ledger_entries WHERE type = 'ack'").fetchone()
        forged = row[1].replace(b'"party":"charlie"', b'"party":"charles"')
        assert forged != row[1]
        db.execute("UPDATE ledger_entries SET record = ? WHERE idx = ?", (forged, row[0]))
    reopened = Service(open_store(world.path), world.clock, Settings(db=world.path))
    try:
        question = Question(_minute(5), P[0], P[1], 20.0, 10.0)
        report = build_report(reopened.store, question, reopened.settings.policy.datum)
    finally:
        reopened.store.close()
    with pytest.raises(errors.VerificationFailed, match="does not match its entry"):
        check_report(report, keys)


def _deconflict(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deconflict", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_writes_a_report_that_deconflict_verify_accepts(
    scenario: Scenario, tmp_path: Path
) -> None:
    question = ["--at", _iso(_minute(5)), "--near", f"{P[0]},{P[1]}", "--radius", "20"]
    done = _deconflict("incident", "--db", scenario.path, *question, "--window", "10", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert _lines(report) == _lines(scenario.report())
    saved = tmp_path / "report.json"
    saved.write_text(done.stdout, encoding="utf-8")
    key = scenario.service.ledger.vkey
    checked = _deconflict("verify", str(saved), "--key", key)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "12 lines proved" in checked.stdout
    report["lines"][0]["text"] = "alpha filed nothing"
    saved.write_text(json.dumps(report), encoding="utf-8")
    checked = _deconflict("verify", str(saved), "--key", key)
    assert checked.returncode == 1 and "does not say" in checked.stdout


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--at", "yesterday"], "at"),
        (["--near", "35.5"], "--near"),
        (["--near", "200,33"], "lon"),
        (["--radius", "0"], "radius_km"),
        (["--window", "nan"], "window_min"),
    ],
)
def test_a_bad_question_is_refused_naming_the_argument(
    scenario: Scenario, args: list[str], field: str
) -> None:
    base = {"--at": _iso(_minute(5)), "--near": "35.5,33.5", "--radius": "20", "--window": "10"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    done = _deconflict("incident", "--db", scenario.path, *[x for kv in base.items() for x in kv])
    assert done.returncode == 2
    assert json.loads(done.stderr)["error"]["field"] == field


# --- over HTTP --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http(scenario: Scenario) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """Outside the window: ``inspector`` (an auditor in no audience), ``chief`` (an admin
    who joins ``ops``, OP's audience), ``eve`` (a member); ``audit`` is in the hospital's."""
    service = scenario.service
    tokens = {}
    for party, role in (("inspector", "auditor"), ("eve", "member"), ("chief", "admin")):
        _, tokens[party] = service.accounts.add_party(None, party, party.title(), role)
    service.accounts.change_membership(None, "ops", "chief", True)
    _, tokens["audit"] = service.accounts.rotate_token(None, "audit")
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        yield client, tokens


QUERY = {"at": _iso(_minute(5)), "lon": P[0], "lat": P[1], "radius_km": 20, "window_min": 10}
#: What a notice line's record may hold for a reader outside the notice's audience.
_METADATA = {"type", "at", "notice", "version", "party", "kind", "state", "category", "time"}
#: Keys that only content has: documents, geometry, aircraft, contacts, positions, views.
_CONTENT = {"doc", "volumes", "footprint", "route", "aircraft", "contact", "audience"}
_CONTENT |= {"position", "lon", "lat", "view", "overlap"}


def _ask(client: TestClient, token: str) -> dict[str, Any]:
    answer = client.get("/v1/incident", params=QUERY, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    return report


def _keys(value: Any) -> set[str]:
    """Every key of every object in a JSON value."""
    if isinstance(value, dict):
        return set(value).union(*(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value))
    return set()


def _notice_lines(report: dict[str, Any], notice: str) -> list[dict[str, Any]]:
    return [
        line
        for line in report["lines"]
        if line["kind"] == "notice" and line["ledger"]["record"]["notice"] == notice
    ]


def test_an_auditor_gets_the_report_and_it_verifies(
    http: tuple[TestClient, dict[str, str]], scenario: Scenario
) -> None:
    client, tokens = http
    answer = client.get(
        "/v1/incident", params=QUERY, headers={"Authorization": f"Bearer {tokens['inspector']}"}
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert _lines(report)[:19] == _lines(scenario.report())[:19]
    assert check_report(report, scenario.keys())[0].startswith("12 lines proved")


def test_an_auditor_outside_every_audience_gets_metadata_and_proofs_never_content(
    http: tuple[TestClient, dict[str, str]], scenario: Scenario
) -> None:
    client, tokens = http
    whole = scenario.report()
    report = _ask(client, tokens["inspector"])

    assert report["reader"] == "inspector"
    assert _lines(report) == _lines(whole)  # every event, who and when: nothing hidden
    notices = [line for line in report["lines"] if line["kind"] == "notice"]
    assert len(notices) == 3
    for line in notices:
        ledger = line["ledger"]
        assert ledger["redacted"] is True and "salt" not in ledger
        assert {"notice", "version", "party", "kind", "state"} <= set(ledger["record"])
        assert set(ledger["record"]) <= _METADATA
    (hospital,) = _notice_lines(report, scenario.hospital)
    assert hospital["ledger"]["record"]["category"] == "medical"
    assert [line["text"] for line in notices] == [
        line["text"] for line in whole["lines"] if line["kind"] == "notice"
    ]
    assert _keys(report) & _CONTENT == set()
    assert "OP-JET" not in json.dumps(report) and "alpha ops desk" not in json.dumps(report)
    alerts = [line for line in report["lines"] if line["kind"] == "alert"]
    assert {line["text"] for line in alerts} >= {"alert #5 to alpha: track.incursion"}
    assert all(set(line["alert"]) == {"id", "type", "at", "redacted"} for line in alerts)
    (delivery,) = [line for line in report["lines"] if line["kind"] == "delivery"]
    assert [a["id"] for a in delivery["alerts"]] == [a["id"] for a in scenario.delivered]
    (track,) = [line for line in report["lines"] if line["kind"] == "track"]
    assert track["text"] == "alpha reported an aircraft here"
    # Who could see what: owners and disclosures; the hospital's audience is its content.
    assert "audit" in whole["seen"] and "audit" not in report["seen"]
    assert report["seen"]["bravo"] == whole["seen"]["bravo"]
    assert report["channels"] == whole["channels"]

    proved = check_report(report, scenario.keys())
    assert proved[0].startswith("12 lines proved")
    assert proved[2].startswith("3 of the proved lines are in the tree by their entry only")
    edited = copy.deepcopy(report)
    _notice_lines(edited, scenario.op)[0]["text"] = "nothing happened"
    with pytest.raises(errors.VerificationFailed, match="does not say"):
        check_report(edited, scenario.keys())
    edited = copy.deepcopy(report)
    _notice_lines(edited, scenario.op)[0]["ledger"]["index"] = 0
    with pytest.raises(errors.VerificationFailed, match="signed tree"):
        check_report(edited, scenario.keys())
    # The page draws the incident ring and nothing the reader may not see.
    page = render(report)
    assert extract(page) == report
    assert 'class="incident"' in page
    assert '<path class="notice' not in page and 'class="fix"' not in page


def test_an_auditor_or_admin_in_the_audience_reads_that_notice_whole(
    http: tuple[TestClient, dict[str, str]], scenario: Scenario
) -> None:
    client, tokens = http
    whole = scenario.report()
    keys = scenario.keys()
    # audit is in the hospital's audience, not in OP's.
    report = _ask(client, tokens["audit"])
    assert _notice_lines(report, scenario.hospital) == _notice_lines(whole, scenario.hospital)
    assert all(line["ledger"]["redacted"] for line in _notice_lines(report, scenario.op))
    assert report["seen"]["audit"] == whole["seen"]["audit"]
    page = render(report)
    assert page.count('<path class="notice') == 1
    assert f'data-notice="{scenario.hospital}"' in page
    assert f'data-notice="{scenario.op}"' not in page
    check_report(report, keys)
    # chief, an admin, joined ops (OP's audience channel) after the window: it reads OP.
    report = _ask(client, tokens["chief"])
    assert _notice_lines(report, scenario.op) == _notice_lines(whole, scenario.op)
    assert all(line["ledger"]["redacted"] for line in _notice_lines(report, scenario.hospital))
    assert "OP-JET" in json.dumps(report)
    assert all(line.get("views") == [] for line in report["lines"] if line["kind"] == "disclosure")
    check_report(report, keys)


def test_a_member_may_not_ask(http: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = http
    answer = client.get(
        "/v1/incident", params=QUERY, headers={"Authorization": f"Bearer {tokens['eve']}"}
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"at": "soon"}, "at"),
        ({"lon": 181}, "lon"),
        ({"lat": "north"}, "lat"),
        ({"radius_km": 5000}, "radius_km"),
        ({"window_min": -1}, "window_min"),
    ],
)
def test_a_bad_question_over_http_is_a_4xx_naming_the_field(
    http: tuple[TestClient, dict[str, str]], change: dict[str, Any], field: str
) -> None:
    client, tokens = http
    answer = client.get(
        "/v1/incident",
        params=QUERY | change,
        headers={"Authorization": f"Bearer {tokens['inspector']}"},
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error"]["field"].endswith(field)
