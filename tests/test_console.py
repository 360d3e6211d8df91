"""The operator console in a real browser, against the real demo, as a user would use it.

``deconflict demo`` runs as a process (``server.Server``) and Debian's chromium
loads the page from it through Playwright; nothing is mocked. Two servers:

- ``demo``: the scenario as seeded, only read (sign-in, timeline, identification);
- ``scratch``: a second demo that the tests write to (drawing and filing, alerts,
  need-to-know with a private notice, the network record).

What each test checks is what an operator would notice: shapes on the map, the
lists and counters in the side panel, the text of the results. Expected values
come from the API (``httpx`` with the same party's token) and from the scenario
(``deconflict/data/demo.json``), never from the page itself. Where the map must be
clicked at a place, the test asks the page's own Leaflet map (exposed as
``window.deconflictConsole.map``) where that place is on screen; it zooms or pans
the map as an operator would, and it first checks that nothing of the party's is
drawn at a point it means to click on empty map.

The screenshots linked from the README are written to ``docs/console/`` on
every run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    Locator,
    Page,
    Response,
    Route,
    expect,
)

from deconflict.clock import SystemClock
from deconflict.demo import load_scenario
from server import Server, free_port

SCENARIO = load_scenario()
NOTICES = {n["label"]: n for n in SCENARIO["notices"]}
PARTY_CONTACTS = {p["id"]: p.get("contact") for p in SCENARIO["parties"]}
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "console"
ALERT_DEADLINE_MS = 10_000

# A point inside north-air's combat air patrol box (36.10–36.60 E, 34.40–34.80 N), about
# 35 km from south-air's reconnaissance circle and 14 km from relief's convoy route.
IN_NORTH_CAP = (34.45, 36.18)  # lat, lon
# Open sea south of Cyprus, 200 km and more from every place in the scenario.
FAR_AWAY = (33.3, 33.5)

# Resolves once the map has stopped moving. The page marks itself ready right after it
# starts the animated fit to the party's notices; the animation ends about 250 ms later.
SETTLE_JS = """() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => {
  if (!document.querySelector('.leaflet-zoom-anim')) done();
  else deconflictConsole.map.once('zoomend', () => done());
})))"""


# --- the servers ----------------------------------------------------------------------------------


@dataclass
class Demo:
    server: Server
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def get(self, party: str, path: str, **params: Any) -> Any:
        answer = httpx.get(f"{self.url}{path}", params=params, headers=self._auth(party))
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, party: str, path: str, body: Any) -> Any:
        answer = httpx.post(f"{self.url}{path}", json=body, headers=self._auth(party))
        assert answer.status_code == 201, answer.text
        return answer.json()

    def _auth(self, party: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[party]}"}


def _start_demo(folder: Path) -> Demo:
    port = free_port()
    db = folder / "demo.db"
    server = Server(["demo", "--port", str(port), "--db", str(db)], port, folder / "server.log")
    server.start()
    exported = dict(re.findall(r"^export (\w+)=(\S+)$", (folder / "tokens.env").read_text(), re.M))
    tokens = {p["id"]: exported[p["id"].upper().replace("-", "_")] for p in SCENARIO["parties"]}
    return Demo(server, tokens)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo as seeded. Tests only read from it."""
    running = _start_demo(tmp_path_factory.mktemp("demo"))
    yield running
    running.server.stop()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A second demo that tests file notices on."""
    running = _start_demo(tmp_path_factory.mktemp("scratch"))
    yield running
    running.server.stop()


# --- the page -------------------------------------------------------------------------------------


@contextlib.contextmanager
def console(
    browser: Browser, demo: Demo, party: str, before: Callable[[Page], None] | None = None
) -> Iterator[Page]:
    """A fresh tab signed in as ``party``, its map settled and its alert stream open.

    ``before`` runs on the page before it loads (to record its traffic). The tab
    must raise no JavaScript error, and nothing in it may violate the page's
    Content Security Policy.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "console",
            lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
        )
        if before is not None:
            before(page)
        page.goto(f"{demo.url}/")
        page.get_by_test_id("token").fill(demo.tokens[party])
        page.get_by_test_id("sign-in").click()
        page.wait_for_selector("body[data-ready='true']")
        page.wait_for_selector("body[data-stream='open']")
        # The coastlines and borders: drawn, not interactive.
        page.wait_for_selector(
            ".leaflet-overlay-pane path:not(.leaflet-interactive)", state="attached"
        )
        page.evaluate(SETTLE_JS)
        yield page
        assert not errors, f"JavaScript errors or CSP violations in {party}'s console: {errors}"
    finally:
        context.close()


def view(page: Page, lat: float, lon: float, zoom: int) -> None:
    """Centre the map on a place at a zoom, as an operator panning and zooming would."""
    page.evaluate(
        "([lat, lon, zoom]) => {"
        " deconflictConsole.map.setView([lat, lon], zoom, {animate: false}); }",
        [lat, lon, zoom],
    )


def screen(page: Page, lat: float, lon: float) -> tuple[float, float]:
    """Where a place is on the screen, according to the page's map; it must be on the map."""
    x, y = page.evaluate(
        "([lat, lon]) => { const p = deconflictConsole.map.latLngToContainerPoint([lat, lon]);"
        " return [p.x, p.y]; }",
        [lat, lon],
    )
    box = page.get_by_test_id("map").bounding_box()
    assert box is not None
    assert 0 < x < box["width"] and 0 < y < box["height"], f"({lat}, {lon}) is off the map"
    return box["x"] + x, box["y"] + y


def empty_at(page: Page, x: float, y: float) -> bool:
    """Nothing clickable is drawn at a screen point of the map (no notice, conflict, control)."""
    return bool(
        page.evaluate(
            "([x, y]) => { const e = document.elementFromPoint(x, y);"
            " return !!e && !!e.closest('#map') && !e.closest('.leaflet-interactive,"
            " .leaflet-control, .leaflet-popup'); }",
            [x, y],
        )
    )


def click_map(page: Page, x: float, y: float) -> None:
    assert empty_at(page, x, y), f"something is drawn at ({x:.0f}, {y:.0f}); pick another point"
    page.mouse.click(x, y)


def draw_circle(page: Page, lat: float, lon: float, radius_px: float) -> None:
    """Draw circle: click the centre, then a point on the edge, east of it."""
    page.get_by_test_id("draw-circle").click()
    x, y = screen(page, lat, lon)
    click_map(page, x, y)
    click_map(page, x + radius_px, y)
    expect(page.get_by_test_id("notice-form")).to_be_visible()


def fill_notice(
    page: Page, *, upper: str, start: dt.datetime, end: dt.datetime, aircraft: str
) -> None:
    page.get_by_test_id("f-kind").select_option("operation")
    page.get_by_test_id("f-category").fill("transit")
    page.get_by_test_id("f-lower").fill("0")
    page.get_by_test_id("f-upper").fill(upper)
    page.get_by_test_id("f-ref").select_option("W84")
    page.get_by_test_id("f-start").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_test_id("f-end").fill(end.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_test_id("f-aircraft").fill(aircraft)


def count_of(page: Page, test_id: str) -> int:
    return int(page.get_by_test_id(test_id).inner_text())


def shown(page: Page) -> int:
    return int(page.evaluate("document.body.dataset.noticesShown"))


def wait_until(page: Page, condition: Callable[[], bool], what: str, timeout_s: float = 10) -> None:
    """Let Playwright deliver events (route handlers run then) until ``condition`` holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(20)


def set_time(page: Page, position: int) -> dt.datetime:
    """Move the timeline slider; return the time its label shows."""
    page.get_by_test_id("timeline").fill(str(position))
    return instant(page.get_by_test_id("time-label").inner_text())


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def shot(page: Page, name: str) -> None:
    """Save a screenshot for the README, once any popup has faded in."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('.leaflet-popup')]"
        ".every((p) => getComputedStyle(p).opacity === '1')"
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


class HeldAnswer:
    """Route handler: a POST /v1/notices reaches the server at once, the page gets its answer later.

    The filer's own conflict alert (SSE) and the POST answer arrive together; each
    makes the page reload notices and conflicts. Holding the answer fixes the order.
    GETs of notices and conflicts are held too while ``hold_gets`` is set.
    """

    def __init__(self) -> None:
        self.route: Route | None = None
        self.answer: Any = None
        self.hold_gets = False
        self.gets: list[Route] = []
        self._response: Any = None

    def __call__(self, route: Route) -> None:
        if route.request.method == "POST":
            self._response = route.fetch()
            self.answer = self._response.json()
            self.route = route
        elif self.hold_gets:
            self.gets.append(route)
        else:
            route.continue_()

    def release(self) -> None:
        assert self.route is not None
        self.route.fulfill(response=self._response)


NOTICE_ROUTES = re.compile(r"/v1/(notices|conflicts)(\?.*)?$")


# --- scenario facts, from the API -----------------------------------------------------------------


def demo_start(demo: Demo) -> dt.datetime:
    """The hour the demo started: north-air's patrol starts then (demo.json)."""
    assert NOTICES["north-cap"]["body"]["volumes"][0]["time"]["start"] == 0
    (cap,) = [
        n for n in demo.get("north-air", "/v1/notices") if n.get("category") == "combat air patrol"
    ]
    return instant(cap["volumes"][0]["time"]["start"])


def spans(notice: dict[str, Any]) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """A notice's time windows: each volume's, and its route's first to last waypoint."""
    out = [
        (instant(v["time"]["start"]), instant(v["time"]["end"]) if v["time"].get("end") else None)
        for v in notice.get("volumes", [])
    ]
    if notice.get("route"):
        times = notice["route"]["waypoint_times"]
        out.append((instant(times[0]), instant(times[-1])))
    return out


def active(notice: dict[str, Any], t: dt.datetime) -> bool:
    return any(start <= t and (end is None or t < end) for start, end in spans(notice))


def style_class(notice: dict[str, Any], party: str) -> str:
    if notice["kind"] == "protected":
        return "notice-protected"
    if notice["kind"] == "movement":
        return "notice-movement"
    return "notice-mine" if notice["party"] == party else "notice-others"


def shapes(notice: dict[str, Any]) -> int:
    """Shapes a notice has: one per volume, one for a route."""
    return len(notice.get("volumes", [])) + (1 if notice.get("route") else 0)


def conflict_line(c: dict[str, Any]) -> str:
    return f"{c['kind']}: {c['notice']['id']} × {c['other']['id']} ({c['other']['party']})"


# --- signing in shows what the API shows ----------------------------------------------------------


@pytest.mark.parametrize("party", ["south-air", "relief", "skylift", "auditor"])
def test_sign_in_shows_the_party_its_notices_and_conflicts(
    browser: Browser, demo: Demo, party: str
) -> None:
    notices = demo.get(party, "/v1/notices")
    conflicts = demo.get(party, "/v1/conflicts", limit=2000)
    me = demo.get(party, "/v1/me")
    assert notices, f"the demo gives {party} notices to see"

    with console(browser, demo, party) as page:
        expect(page.get_by_test_id("login")).to_be_hidden()
        expect(page.get_by_test_id("who")).to_have_text(f"{party} ({me['role']})")
        assert shown(page) == len(notices)

        expected: dict[str, int] = {}
        for n in notices:
            expected[style_class(n, party)] = expected.get(style_class(n, party), 0) + shapes(n)
        for name in ("notice-mine", "notice-others", "notice-protected", "notice-movement"):
            drawn = page.locator(f"path.notice.{name}").count()
            assert drawn >= expected.get(name, 0), f"{name}: {drawn} shapes for {expected}"
            if not expected.get(name):
                assert drawn == 0, f"{name}: {drawn} shapes, but the API gives none"
        assert page.locator("path.notice").count() >= sum(map(shapes, notices))

        # The map is fitted to them: every notice shape is (at least partly) in view.
        area = page.get_by_test_id("map").bounding_box()
        assert area is not None
        for path in page.locator("path.notice").all():
            box = path.bounding_box()
            assert box is not None
            assert box["x"] < area["x"] + area["width"] and box["x"] + box["width"] > area["x"]
            assert box["y"] < area["y"] + area["height"] and box["y"] + box["height"] > area["y"]

        expect(page.get_by_test_id("conflict-count")).to_have_text(str(len(conflicts)))
        items = page.get_by_test_id("conflicts").locator("li").all_inner_texts()
        assert sorted(items) == sorted(map(conflict_line, conflicts))
        overlaps = [c for c in conflicts if c.get("overlap") and c["overlap"].get("footprint")]
        assert page.locator("path.conflict").count() == len(overlaps)
        assert page.locator("path.conflict-new").count() == 0

        if party == "south-air":
            assert len(conflicts) >= 3, "the screenshot shows a party with conflicts"
            shot(page, "map.png")


def test_a_wrong_token_is_refused_on_the_login_form(browser: Browser, demo: Demo) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{demo.url}/")
        page.get_by_test_id("token").fill("dcf_not-a-token")
        page.get_by_test_id("sign-in").click()
        expect(page.get_by_test_id("login-error")).to_have_text("That token is not valid.")
        expect(page.get_by_test_id("map")).to_be_hidden()
    finally:
        context.close()


# --- the timeline ---------------------------------------------------------------------------------


def test_timeline_shows_only_the_notices_active_at_the_chosen_time(
    browser: Browser, demo: Demo
) -> None:
    party = "relief"  # open-ended protected places, a convoy and a delivery it is told of
    notices = demo.get(party, "/v1/notices")
    edges = [t for n in notices for span in spans(n) for t in span if t is not None]
    first, last = min(edges), max(edges)
    (convoy,) = [n for n in notices if n["kind"] == "movement"]
    (convoy_start, convoy_end) = spans(convoy)[0]
    assert convoy_end is not None
    moving = convoy_start + (convoy_end - convoy_start) / 2
    while_moving = round((moving - first) / (last - first) * 1000)

    with console(browser, demo, party) as page:
        expect(page.get_by_test_id("time-label")).to_have_text("showing every time")
        page.get_by_test_id("all-times").uncheck()
        counts, labels = [], []
        for position in (0, 500, while_moving, 1000):
            t = set_time(page, position)
            want = [n for n in notices if active(n, t)]
            assert shown(page) == len(want), f"at {t} (slider {position})"
            assert page.locator("path.notice").count() == sum(map(shapes, want))
            counts.append(len(want))
            labels.append(t)
        # The slider runs from the first start to the last end of what the party sees.
        assert abs(labels[0] - first) < dt.timedelta(seconds=1)
        assert abs(labels[-1] - last) < dt.timedelta(seconds=1)
        assert labels == sorted(labels) and len(set(labels)) == 4
        assert len(set(counts)) >= 2, counts
        # The convoy is on the map while it moves, not a month before.
        set_time(page, while_moving)
        assert page.locator("path.notice-movement").count() == 1
        set_time(page, 0)
        assert page.locator("path.notice-movement").count() == 0
        page.get_by_test_id("all-times").check()
        expect(page.get_by_test_id("time-label")).to_have_text("showing every time")
        assert shown(page) == len(notices)


# --- identification -------------------------------------------------------------------------------


def _identify_the_patrol(page: Page, demo: Demo) -> Locator:
    """As a party not told of it: identify a point of north-air's patrol, while it flies."""
    (cap,) = [
        n for n in demo.get("north-air", "/v1/notices") if n.get("category") == "combat air patrol"
    ]
    (cap_start, cap_end) = spans(cap)[0]
    assert cap_end is not None
    band = cap["volumes"][0]["altitude"]
    assert band["reference"] == "FL"
    altitude_m = (band["lower"] + band["upper"]) / 2 * 100 * 0.3048  # FL200, about 6100 m
    # Identification is about now, whatever the timeline shows: the patrol flies now.
    served = httpx.get(f"{demo.url}/healthz").headers["date"]
    assert cap_start <= email.utils.parsedate_to_datetime(served) < cap_end
    page.get_by_test_id("id-alt").fill(f"{altitude_m:.0f}")
    page.get_by_test_id("identify-mode").click()
    view(page, *IN_NORTH_CAP, 10)  # pan to the patrol box, west of what south-air is shown
    click_map(page, *screen(page, *IN_NORTH_CAP))
    result = page.locator("aside [data-testid=identify-result]")
    expect(result).to_contain_text("north-air operation")
    return result


def test_identify_names_the_owner_of_an_operation_and_nothing_far_away(
    browser: Browser, demo: Demo
) -> None:
    # South-air is not told of north-air's patrol; its own notices start within it.
    with console(browser, demo, "south-air") as page:
        result = _identify_the_patrol(page, demo)
        assert "NAF-" not in result.inner_text(), "south-air may not see north-air's aircraft"
        popup = page.locator(".leaflet-popup-content")
        expect(popup).to_contain_text("north-air operation")
        shot(page, "identify.png")

        page.locator(".leaflet-popup-close-button").click()
        expect(page.locator(".leaflet-popup")).to_have_count(0)
        view(page, *FAR_AWAY, 10)
        click_map(page, *screen(page, *FAR_AWAY))
        expect(result).to_have_text("nothing notified there")
        expect(popup).to_have_text("nothing notified there")


def test_a_second_identify_updates_the_side_panel(browser: Browser, demo: Demo) -> None:
    with console(browser, demo, "south-air") as page:
        result = _identify_the_patrol(page, demo)
        view(page, *FAR_AWAY, 10)  # the first answer's popup is still open, as it stays
        click_map(page, *screen(page, *FAR_AWAY))
        expect(page.locator(".leaflet-popup-content").last).to_have_text("nothing notified there")
        expect(result).to_have_text("nothing notified there", timeout=2000)
        assert page.locator("[data-testid=identify-result]").count() == 1


def test_identify_inside_a_notice_the_party_sees_names_its_owner(
    browser: Browser, demo: Demo
) -> None:
    party = "north-air"
    with console(browser, demo, party) as page:
        page.get_by_test_id("all-times").uncheck()
        set_time(page, 0)
        page.get_by_test_id("id-alt").fill("6100")
        page.get_by_test_id("identify-mode").click()
        page.mouse.click(*screen(page, *IN_NORTH_CAP))  # inside its own patrol box
        expect(page.locator("aside [data-testid=identify-result]")).to_contain_text(
            "north-air operation", timeout=3000
        )


def test_a_circle_can_be_drawn_from_inside_a_notice_the_party_sees(
    browser: Browser, demo: Demo
) -> None:
    with console(browser, demo, "north-air") as page:
        page.get_by_test_id("draw-circle").click()
        x, y = screen(page, *IN_NORTH_CAP)  # inside its own patrol box
        page.mouse.click(x, y)
        page.mouse.click(x, y + 40)
        expect(page.get_by_test_id("notice-form")).to_be_visible(timeout=3000)


# --- drawing and filing a conflicting operation ---------------------------------------------------


def test_filing_a_conflicting_operation_highlights_it_and_alerts_the_other_party(
    browser: Browser, scratch: Demo
) -> None:
    lon, lat = NOTICES["hospital-homs"]["body"]["volumes"][0]["footprint"]["center"]
    start = demo_start(scratch)
    relief_before = scratch.get("relief", "/v1/conflicts")

    with (
        console(browser, scratch, "relief") as relief,
        console(browser, scratch, "north-air") as north,
    ):
        assert count_of(relief, "alert-count") == 0
        view(north, lat, lon, 12)  # zoom in on the hospital, which north-air is not shown
        draw_circle(north, lat, lon, 60)  # about 1.9 km at zoom 12
        # Open since a month ago; SFC–1000 m AGL. This operation: 0–1500 m, 2 h to 4 h.
        fill_notice(
            north,
            upper="1500",
            start=start + dt.timedelta(hours=2),
            end=start + dt.timedelta(hours=4),
            aircraft="NAF-777",
        )
        held = HeldAnswer()
        north.route(NOTICE_ROUTES, held)
        north.get_by_test_id("submit-notice").click()
        wait_until(north, lambda: held.answer is not None, "the server's answer")
        new_id = held.answer["notice"]["id"]
        found = held.answer["conflicts"]
        assert any(c["other"]["party"] == "relief" for c in found), found
        # The filer's own alert comes first and the page reloads its conflicts; then the answer.
        expect(north.get_by_test_id("alert-count")).to_have_text("1", timeout=ALERT_DEADLINE_MS)
        expect(north.get_by_test_id("conflicts")).to_contain_text(new_id)
        held.release()

        n = len(found)
        result = f"Filed {new_id}: {n} conflict{'' if n == 1 else 's'}"
        expect(north.get_by_test_id("form-result")).to_have_text(result)
        north.unroute(NOTICE_ROUTES, held)
        assert n >= 1
        highlighted = north.locator("path.conflict-new")
        expect(highlighted).to_have_count(len([c for c in found if c["overlap"]["footprint"]]))
        expect(north.locator("[data-testid=conflicts] li.new")).to_have_count(n)
        mine = scratch.get("north-air", "/v1/notices")
        assert new_id in {m["id"] for m in mine}
        expect(north.locator("path.notice-mine")).to_have_count(sum(map(shapes, mine)))
        shot(north, "conflict.png")

        # The other party: a live alert within 10 s, and the conflict in its list and on its map.
        expect(relief.get_by_test_id("alert-count")).to_have_text("1", timeout=ALERT_DEADLINE_MS)
        alert = relief.get_by_test_id("alerts").locator("li")
        expect(alert).to_have_count(1)
        expect(alert).to_contain_text("conflict: 1 opened")
        expect(relief.get_by_test_id("conflicts")).to_contain_text(f"× {new_id} (north-air)")
        opened = len([c for c in found if c["other"]["party"] == "relief"])
        expect(relief.get_by_test_id("conflict-count")).to_have_text(
            str(len(relief_before) + opened)
        )
        relief_after = scratch.get("relief", "/v1/conflicts")
        assert len(relief_after) == len(relief_before) + opened
        overlaps = [c for c in relief_after if c["overlap"] and c["overlap"]["footprint"]]
        expect(relief.locator("path.conflict")).to_have_count(len(overlaps))
        shot(relief, "alerts.png")


def test_the_alert_names_the_notice_that_caused_it(browser: Browser, scratch: Demo) -> None:
    lon, lat = NOTICES["hospital-homs"]["body"]["volumes"][0]["footprint"]["center"]
    start = demo_start(scratch)
    with console(browser, scratch, "relief") as relief:
        body = {
            "kind": "operation",
            "volumes": [
                {
                    "footprint": {"type": "Circle", "center": [lon, lat], "radius_m": 800},
                    "altitude": {"lower": 0, "upper": 1200, "reference": "W84", "units": "m"},
                    "time": {
                        "start": _iso(start + dt.timedelta(hours=2)),
                        "end": _iso(start + dt.timedelta(hours=3)),
                    },
                }
            ],
        }
        new_id = scratch.post("north-air", "/v1/notices", body)["notice"]["id"]
        expect(relief.get_by_test_id("alert-count")).to_have_text("1", timeout=ALERT_DEADLINE_MS)
        expect(relief.get_by_test_id("alerts").locator("li")).to_contain_text(new_id, timeout=1000)


def test_the_highlight_survives_the_filers_own_alert(browser: Browser, scratch: Demo) -> None:
    ring = NOTICES["field-hospital"]["body"]["volumes"][0]["footprint"]["coordinates"][0]
    lon = sum(p[0] for p in ring[:-1]) / 4
    lat = sum(p[1] for p in ring[:-1]) / 4
    start = demo_start(scratch)
    with console(browser, scratch, "north-air") as north:
        alerts = count_of(north, "alert-count")
        view(north, lat, lon, 12)
        draw_circle(north, lat, lon, 50)
        fill_notice(
            north,
            upper="1000",
            start=start + dt.timedelta(hours=1),
            end=start + dt.timedelta(hours=2),
            aircraft="NAF-778",
        )
        # The alert's reload is held until the answer's reload has drawn the highlight:
        # the order in which the two, racing, lose it.
        held = HeldAnswer()
        held.hold_gets = True
        north.route(NOTICE_ROUTES, held)
        north.get_by_test_id("submit-notice").click()
        wait_until(north, lambda: held.answer is not None, "the server's answer")
        expect(north.get_by_test_id("alert-count")).to_have_text(str(alerts + 1))
        wait_until(north, lambda: len(held.gets) == 2, "the reload the alert starts")
        held.release()
        wait_until(north, lambda: len(held.gets) == 4, "the reload the answer starts")
        for route in held.gets[2:]:
            route.continue_()
        expect(north.locator("path.conflict-new")).not_to_have_count(0)
        for route in held.gets[:2]:
            route.continue_()
        for route in held.gets[:2]:
            assert route.request.response() is not None
        north.wait_for_timeout(300)  # the page parses and draws what came
        north.unroute(NOTICE_ROUTES, held)
        assert north.locator("path.conflict-new").count() >= 1, "the highlight is gone"


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- need-to-know ---------------------------------------------------------------------------------


def test_another_partys_console_never_receives_north_airs_private_fields(
    browser: Browser, scratch: Demo
) -> None:
    viewer = "south-air"  # in the coalition channel, not in the audience of north-air's notices
    assert "audience" not in NOTICES["north-cap"]["body"], "only north-air sees its patrol in full"
    recce = NOTICES["south-recce"]["body"]["volumes"][0]
    start = demo_start(scratch)
    responses: list[Response] = []

    with console(
        browser, scratch, viewer, lambda p: p.on("response", lambda r: responses.append(r))
    ) as page:
        # While south-air watches: north-air files an operation over south-air's reconnaissance,
        # with aircraft, a contact it does not disclose and an audience south-air is not in.
        body = {
            "kind": "operation",
            "category": "tanker track",
            "aircraft": ["NAF-301", "NAF-302"],
            "contact": "north-air tanker cell, secure line 4471",
            "audience": {"parties": ["skylift"]},
            "volumes": [
                {
                    "footprint": {
                        "type": "Circle",
                        "center": recce["footprint"]["center"],
                        "radius_m": 3000,
                    },
                    "altitude": {"lower": 5000, "upper": 6000, "reference": "AMSL", "units": "m"},
                    "time": {
                        "start": _iso(start + dt.timedelta(hours=3)),
                        "end": _iso(start + dt.timedelta(hours=5)),
                    },
                }
            ],
        }
        answer = scratch.post("north-air", "/v1/notices", body)
        private_id = answer["notice"]["id"]
        assert any(c["other"]["party"] == viewer for c in answer["conflicts"])
        expect(page.get_by_test_id("conflicts")).to_contain_text(
            private_id, timeout=ALERT_DEADLINE_MS
        )

        pages = [page.content()]
        paths = page.locator("path.notice, path.conflict")
        assert paths.count() >= 3
        for i in range(paths.count()):
            box = paths.nth(i).bounding_box()
            assert box is not None
            centre = {
                "clientX": box["x"] + box["width"] / 2,
                "clientY": box["y"] + box["height"] / 2,
            }
            page.evaluate("() => { deconflictConsole.map.closePopup(); }")
            expect(page.locator(".leaflet-popup-content")).to_have_count(0)
            paths.nth(i).dispatch_event("click", centre)
            expect(page.locator(".leaflet-popup-content")).to_have_count(1)
            pages.append(page.content())
        pages.append(page.evaluate("JSON.stringify(deconflictConsole.state)"))
        bodies = [
            (r.url, r.text())
            for r in responses
            if urlsplit(r.url).path.startswith("/v1/") and not r.url.endswith("/alerts/stream")
        ]

    # North-air's notices, as north-air sees them; the viewer may see none of them in full.
    channels = set(scratch.get(viewer, "/v1/me")["channels"])
    hidden = [
        n
        for n in scratch.get("north-air", "/v1/notices")
        if viewer not in n["audience"]["parties"] and not channels & set(n["audience"]["channels"])
    ]
    assert private_id in {n["id"] for n in hidden} and len(hidden) >= 2
    secrets = {a for n in hidden for a in n.get("aircraft", [])}
    secrets |= {n["contact"] for n in hidden if n.get("contact") and not n["disclose_contact"]}
    secrets.add(PARTY_CONTACTS["north-air"])
    assert {"NAF-101", "NAF-102", "NAF-301", "north-air tanker cell, secure line 4471"} <= secrets

    assert any(private_id in text for text in pages), "the page shows the conflict"
    for text in pages:
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"south-air's page shows {leaked}"
    assert any(url.split("?")[0].endswith("/v1/conflicts") for url, _ in bodies)
    # What a minimal view never has: the contact only when the owner discloses it.
    never = {
        n["id"]: {"aircraft", "audience", "volumes", "route", "disclose_contact"}
        | (set() if n["disclose_contact"] else {"contact"})
        for n in hidden
    }
    for url, text in bodies:
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"{url} gave south-air {leaked}"
        for obj in _objects(json.loads(text) if text else None):
            shown_keys = never.get(obj.get("id"), set()) & obj.keys()
            assert not shown_keys, f"{url} gave south-air {shown_keys} of {obj['id']}"


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item)


# --- nothing leaves the machine -------------------------------------------------------------------


def test_the_page_asks_nothing_of_any_non_local_address(browser: Browser, scratch: Demo) -> None:
    party = "skylift"
    requests: list[str] = []
    failed: list[str] = []

    def record(page: Page) -> None:
        page.on("request", lambda r: requests.append(f"{r.method} {r.url}"))
        page.on("requestfailed", lambda r: failed.append(r.url))

    with console(browser, scratch, party, record) as page:
        # Draw a triangle west of skylift's survey, where it has nothing, and file it.
        view(page, 34.22, 36.20, 12)
        page.get_by_test_id("draw-polygon").click()
        for lat, lon in ((34.20, 36.18), (34.20, 36.22), (34.24, 36.20)):
            click_map(page, *screen(page, lat, lon))
        page.get_by_test_id("finish").click()
        expect(page.get_by_test_id("notice-form")).to_be_visible()
        start = demo_start(scratch)
        fill_notice(
            page,
            upper="120",
            start=start + dt.timedelta(hours=1),
            end=start + dt.timedelta(hours=2),
            aircraft="SKY-11",
        )
        page.get_by_test_id("submit-notice").click()
        expect(page.get_by_test_id("form-result")).to_have_text(
            re.compile(r"^Filed n-\w+: \d+ conflicts?$")
        )
        # Identify a point, far from everything.
        page.get_by_test_id("identify-mode").click()
        view(page, *FAR_AWAY, 10)
        click_map(page, *screen(page, *FAR_AWAY))
        expect(page.locator("aside [data-testid=identify-result]")).to_have_text(
            "nothing notified there"
        )
        assert not failed, failed

    hosts = {urlsplit(r.split(" ", 1)[1]).hostname for r in requests}
    assert hosts == {"127.0.0.1"}, sorted(requests)
    paths = {f"{r.split(' ', 1)[0]} {urlsplit(r.split(' ', 1)[1]).path}" for r in requests}
    for wanted in (
        "GET /",
        "GET /console/vendor/leaflet/leaflet.js",
        "GET /console/static/console.js",
        "GET /console/world.json",
        "GET /v1/me",
        "GET /v1/alerts/stream",
        "POST /v1/notices",
        "GET /v1/identify",
    ):
        assert wanted in paths, f"{wanted} was not recorded: {sorted(paths)}"


def test_the_party_sees_its_own_aircraft_and_no_one_elses(browser: Browser, scratch: Demo) -> None:
    now = SystemClock().now().replace(microsecond=0)
    for party, aircraft, lon in (("skylift", "SKY-7", 36.40), ("north-air", "NAF-9", 36.45)):
        report = {
            "aircraft": aircraft,
            "time": _iso(now),
            "lon": lon,
            "lat": 34.50,
            "altitude": {"value": 900, "reference": "W84", "units": "m"},
            "velocity": {"east": 30.0, "north": 0.0, "up": 0.0},
        }
        answer = httpx.post(
            f"{scratch.url}/v1/tracks",
            json={"reports": [report]},
            headers={"Authorization": f"Bearer {scratch.tokens[party]}"},
        )
        assert answer.status_code == 200, answer.text
    with console(browser, scratch, "skylift") as page:
        expect(page.locator("body")).to_have_attribute("data-tracks-shown", "1")
        assert page.locator("path.track").count() == 1
        assert "NAF-9" not in page.content()
        held = page.evaluate("JSON.stringify(window.deconflictConsole.state)")
        assert "NAF-9" not in held


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_a_busy_port_stops_demo_and_serve_before_they_make_anything(
    tmp_path: Path, command: str
) -> None:
    """No tokens printed for a server that will not start: a clear error naming --port."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "deconflict", command, "--port", str(port), "--db",
             str(tmp_path / "demo.db")],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--port" in done.stdout + done.stderr and "in use" in done.stdout + done.stderr
    assert "Bearer" not in done.stdout and not (tmp_path / "demo.db").exists()


def test_the_command_tells_its_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "deconflict", "--version"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and re.fullmatch(r"deconflict \d+\.\d+\.\d+\n", done.stdout)
