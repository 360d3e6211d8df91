"""The incident report as an HTML page: it carries the report intact, shows it, and loads nothing.

Two reports, both from the demo scenario seeded into a real SQLite file:

- ``demo``: the scenario's own incident question (the near miss by the hospital);
- ``busy``: the demo, then two hours on: track reports, two acknowledgements, an
  updated notice, a cancelled one and alert streams read, asked about relief's
  convoy route, so every kind of line and every kind of footprint is on the page;
- ``reader``: ``busy`` as the demo's auditor gets it, in no notice's audience:
  every line, but no notice content, no other party's track, nothing on the map
  but the incident.

The page is opened from disk in Debian's chromium through Playwright, as an
investigator would open it. The screenshot linked from the README is written to
``docs/incident.png`` on every run.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from deconflict import errors
from deconflict.clock import FixedClock
from deconflict.config import Settings
from deconflict.demo import load_scenario, seed
from deconflict.disclosure import Viewer
from deconflict.incident import Question, build_report, check_report
from deconflict.incident_html import extract, render
from deconflict.incident_views import for_reader
from deconflict.ledger.note import Signer, Verifier
from deconflict.model import Role
from deconflict.service import Service
from deconflict.store import open_store

T0 = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
SHOT = Path(__file__).resolve().parents[1] / "docs" / "incident.png"
# Relief's convoy route runs through this point; north-air's patrol box covers it.
CONVOY = (36.35, 34.5)
EVIL = '</script><b>x</b> "quoted" & <!-- <script>'


def _iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


class Demo:
    """The demo scenario seeded at T0 into a SQLite file, with a clock the test moves."""

    def __init__(self, folder: Path) -> None:
        path = str(folder / "demo.db")
        self.clock = FixedClock(T0)
        self.service = Service(open_store(path), self.clock, Settings(db=path))
        self.scenario = load_scenario()
        self.parties, self.ids = seed(self.service, self.scenario)

    def viewer(self, party: str) -> Viewer:
        token = next(p.token for p in self.parties if p.id == party)
        found = self.service.accounts.authenticate(token)
        return Viewer(found.party, Role(found.role), found.channels)

    def report(self, at: dt.datetime, near: Any, radius_km: float, window_min: float) -> Any:
        question = Question(at, near[0], near[1], radius_km, window_min)
        return build_report(self.service.store, question, self.service.settings.policy.datum)

    def verifiers(self) -> list[Verifier]:
        with self.service.store.read() as tx:
            return [Signer.parse(k[0]).verifier for k in tx.ledger.signing_keys()]

    def busy(self) -> None:
        """Two hours on: tracks over the convoy route, acks, an update, a cancellation, reads."""
        s = self.service
        self.clock.advance(2 * 3600)
        for k in range(6):
            for party, aircraft, lon, lat, alt in (
                ("north-air", "NAF-101", 36.25 + 0.02 * k, 34.45 + 0.01 * k, 5000.0),
                ("skylift", "SKY-7", 36.33, 34.40 + 0.015 * k, 100.0),
            ):
                report = {
                    "aircraft": aircraft,
                    "time": _iso(self.clock.now()),
                    "lon": lon,
                    "lat": lat,
                    "altitude": {"value": alt, "reference": "W84"},
                }
                s.tracks.ingest(self.viewer(party), {"reports": [report]})
            self.clock.advance(300)
        self.clock.advance(600)
        s.acknowledgements.ack(self.viewer("relief"), self.ids["skylift-delivery"], {"version": 1})
        s.acknowledgements.ack(
            self.viewer("coalition-lead"), self.ids["south-recce"], {"version": 1}
        )
        self.clock.advance(1200)
        body = copy.deepcopy(self.scenario["notices"][0]["body"])  # north-air's patrol box
        body["volumes"][0]["footprint"]["coordinates"] = [
            [[36.1, 34.45], [36.5, 34.45], [36.5, 34.8], [36.1, 34.8], [36.1, 34.45]]
        ]
        body["volumes"][0]["time"] = {
            "start": _iso(T0 + dt.timedelta(hours=1)),
            "end": _iso(T0 + dt.timedelta(hours=5)),
        }
        s.update(self.viewer("north-air"), self.ids["north-cap"], body | {"version": 1})
        self.clock.advance(900)
        s.cancel(self.viewer("skylift"), self.ids["skylift-delivery"], 1)
        self.clock.advance(600)
        for party in ("north-air", "skylift", "relief", "south-air"):
            s.alerts.take(party, 0)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    demo = Demo(tmp_path_factory.mktemp("demo"))
    asked = demo.scenario["incident"]
    plain = demo.report(T0, asked["near"], asked["radius_km"], asked["window_min"])
    demo.busy()
    busy = demo.report(T0 + dt.timedelta(hours=2.5), CONVOY, 25.0, 300)
    reader = for_reader(busy, demo.viewer("auditor"))
    return {"demo": plain, "busy": busy, "reader": reader, "verifiers": demo.verifiers()}


def _hostile(report: dict[str, Any]) -> dict[str, Any]:
    """The report with markup, quotes and ampersands in every text another party controls."""
    doc = copy.deepcopy(report)
    for line in doc["lines"]:
        line["text"] = EVIL + line["text"]
        if line["kind"] == "notice":
            line["ledger"]["record"]["party"] = EVIL
            line["ledger"]["record"]["doc"]["category"] = EVIL
        if line["kind"] == "track":
            line["aircraft"] = EVIL
        for view in line.get("views", []):
            view["view"]["note"] = EVIL
    doc["lines"][0]["party"] = EVIL
    doc["notices"][0]["party"] = EVIL
    doc["notices"][0]["kind"] = EVIL
    doc["seen"][EVIL] = [{"notice": EVIL, "version": 1, "owner": EVIL, "level": EVIL, "ledger": 1}]
    doc["channels"][EVIL] = [EVIL]
    _, rest = doc["checkpoint"].split("\n", 1)
    doc["checkpoint"] = f"{EVIL}\n{rest}"
    return doc


# --- the report in the page -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["demo", "busy", "reader"])
def test_the_page_carries_the_report_intact(reports: dict[str, Any], name: str) -> None:
    report = reports[name]
    assert report["lines"], "the scenario must give the report something to show"
    assert extract(render(report)) == report


@pytest.mark.parametrize("name", ["busy", "reader"])
def test_the_page_can_be_verified_offline(reports: dict[str, Any], name: str) -> None:
    page = render(reports[name])
    proved = check_report(extract(page), reports["verifiers"])
    ledgered = sum(1 for line in reports[name]["lines"] if line["ledger"] is not None)
    assert proved[0].startswith(f"{ledgered} lines proved")
    sealed = sum(1 for line in reports[name]["lines"] if (line["ledger"] or {}).get("redacted"))
    assert (name == "reader") == (sealed > 0)


def test_the_auditors_page_names_no_aircraft_and_draws_no_footprint(
    reports: dict[str, Any],
) -> None:
    busy, page = reports["busy"], render(reports["reader"])
    aircraft = {line["aircraft"] for line in busy["lines"] if line["kind"] == "track"}
    for line in busy["lines"]:
        if line["kind"] == "notice":
            aircraft.update(line["ledger"]["record"]["doc"].get("aircraft", []))
    assert {"NAF-101", "SKY-7"} <= aircraft
    assert [a for a in aircraft if a in page] == []
    assert '"footprint"' not in page and '"coordinates"' not in page
    assert "<dt>Reader</dt><dd>auditor:" in page
    assert "listed but not drawn" in page
    assert page.count("content withheld") >= len(reports["reader"]["notices"])


def test_other_parties_text_never_becomes_markup(reports: dict[str, Any]) -> None:
    hostile = _hostile(reports["busy"])
    page = render(hostile)
    assert extract(page) == hostile
    assert "<b>x</b>" not in page
    assert page.count("</script") == 1  # the end of the embedded report, and nothing else
    assert "<!--" not in page  # which would make the browser look past that end
    assert "&lt;b&gt;x&lt;/b&gt; &quot;quoted&quot; &amp;" in page


def test_a_page_without_a_report_is_refused() -> None:
    with pytest.raises(errors.InvalidValue, match="no incident report"):
        extract("<!doctype html><html><body><p>nothing here</p></body></html>")
    broken = '<script type="application/json" id="deconflict-incident">{"type": </script>'
    with pytest.raises(errors.InvalidValue, match="not JSON"):
        extract(broken)
    other = '<script type="application/json" id="deconflict-incident">{"type": "x"}</script>'
    with pytest.raises(errors.InvalidValue, match=r"not a deconflict\.incident report"):
        extract(other)
    with pytest.raises(errors.InvalidValue, match="not an incident report"):
        render({"type": "something else"})


# --- the page in a browser --------------------------------------------------------------------


def _open(browser: Browser, report: dict[str, Any], folder: Path) -> tuple[Page, list[str], str]:
    """The page opened from a file, with every request it made."""
    path = folder / "incident.html"
    path.write_text(render(report), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, requests, path.as_uri()


@pytest.mark.parametrize("name", ["demo", "busy", "reader"])
def test_the_page_shows_the_report_and_loads_nothing(
    browser: Browser, reports: dict[str, Any], name: str, tmp_path: Path
) -> None:
    report = reports[name]
    page, requests, url = _open(browser, report, tmp_path)
    try:
        assert requests == [url]
        assert page.locator("#timeline tbody tr").count() == len(report["lines"])
        assert page.locator("#chart .mark").count() == len(report["lines"])
        assert page.locator("#notices tbody tr").count() == len(report["notices"])
        drawn = 0 if name == "reader" else len(report["notices"])
        assert page.locator("#map .notice").count() == drawn
        assert page.locator("#map .incident").count() == 1
        tracks = [line for line in report["lines"] if line["kind"] == "track"]
        assert tracks, "the scenario must have track reports"
        assert page.locator("#map .fix").count() == (0 if name == "reader" else len(tracks))
        embedded = page.evaluate(
            "JSON.parse(document.getElementById('deconflict-incident').textContent)"
        )
        assert embedded == report
        if name == "busy":
            SHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SHOT), full_page=True)
    finally:
        page.close()


def test_the_map_puts_each_notice_where_it_is(
    browser: Browser, reports: dict[str, Any], tmp_path: Path
) -> None:
    """The incident point is the map's centre: in north-air's box, on the convoy route,
    and outside skylift's small delivery box 18 km south of it."""
    report = reports["busy"]
    owner = {n["party"]: n["id"] for n in report["notices"]}
    page, _, _ = _open(browser, report, tmp_path)
    try:
        box = page.locator("#map").get_attribute("viewBox") or ""
        centre = float(box.split()[2]) / 2
        check = """([id, x, y, stroke]) => {
            const el = document.querySelector(`#map .notice[data-notice="${id}"]`);
            const p = new DOMPoint(x, y);
            return stroke ? el.isPointInStroke(p) : el.isPointInFill(p);
        }"""
        assert page.evaluate(check, [owner["north-air"], centre, centre, False])
        assert page.evaluate(check, [owner["relief"], centre, centre, True])
        assert not page.evaluate(check, [owner["skylift"], centre, centre, False])
        assert not page.evaluate(check, [owner["north-air"], centre, centre + 150, False])
        cancelled = page.locator(f'#map .notice.cancelled[data-notice="{owner["skylift"]}"]')
        assert cancelled.count() == 1
        earlier = page.locator(f'#map .earlier[data-notice="{owner["north-air"]}"]')
        assert earlier.count() == 1  # v1 of the patrol box, drawn under v2
    finally:
        page.close()


def test_hostile_text_stays_text_in_the_browser(
    browser: Browser, reports: dict[str, Any], tmp_path: Path
) -> None:
    hostile = _hostile(reports["busy"])
    page, requests, url = _open(browser, hostile, tmp_path)
    try:
        assert requests == [url]
        bold_x = "[...document.querySelectorAll('b')].filter(b => b.textContent === 'x').length"
        assert page.evaluate(bold_x) == 0
        assert page.evaluate("document.querySelectorAll('script').length") == 1
        embedded = page.evaluate(
            "JSON.parse(document.getElementById('deconflict-incident').textContent)"
        )
        assert embedded == hostile
        assert EVIL in page.locator("#timeline tbody tr").first.inner_text()
    finally:
        page.close()
