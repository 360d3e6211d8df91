"""Live tracks through the HTTP API, in-process: scenarios checked against an oracle.

Each test drives the real app over a SQLite file in ``tmp_path`` with a fixed
clock that the test moves, and feeds position reports every 5 s along
synthetic trajectories. What the service should predict comes from an oracle
written here, independent of ``deconflict.proximity``: each reported state is
stepped forward (flat earth, 0.05 s) and distances are haversine; separation is
lost at the first instant within the lookahead at which both the horizontal
and the vertical distance are below their thresholds.

Every scenario is designed so that its verdicts are clear-cut: the oracle gives
the same verdict with the lookahead shortened and lengthened by 2 s and the
thresholds tightened and widened (300 m, 15 m). Parties post one after the
other, so between two posts the service holds the later party's state 5 s
older; the scenarios are also designed so that this does not change a verdict
(what it does when states are of very different ages is tested on its own).

- closest approach between parties: raised at the first report at which the
  oracle predicts a loss within the lookahead, to both parties, once, with the
  time to closest approach and the other party but not its aircraft; cleared by
  a turn away, raised again by a renewed approach; vertical separation counts;
  never between aircraft of the same party;
- conformance to the party's own operations, within the tolerance;
- incursions, now or predicted, into others' protected places and movements,
  recorded as disclosures;
- late, out-of-order, duplicate, too old and future reports;
- identification of nearby tracks; malformed batches are a 4xx naming the field.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from apps import App, apps

T0 = dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC)
PARTIES = (("alpha", "member"), ("bravo", "member"), ("charlie", "member"), ("aud", "auditor"))
R = 6_371_008.8  # mean Earth radius, metres
LON0, LAT0 = 35.0, 33.5  # the origin of every scenario's local east/north metres
STEP_S = 5
#: 5 NM, 1,000 ft, two minutes: set explicitly so the tests do not follow the defaults.
H_M, V_M, LOOKAHEAD_S = 9_260.0, 1_000 * 0.3048, 120.0
#: How far every designed verdict stays from the thresholds.
MARGIN_S, MARGIN_H_M, MARGIN_V_M = 2.0, 300.0, 15.0
PROXIMITY_KEYS = {
    "aircraft",
    "other_party",
    "relative",
    "t_loss_s",
    "t_cpa_s",
    "horizontal_m",
    "vertical_m",
}


def iso(instant: dt.datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def lonlat(x: float, y: float) -> tuple[float, float]:
    """Local east/north metres from the origin to longitude and latitude."""
    lon = LON0 + math.degrees(x / (R * math.cos(math.radians(LAT0))))
    return lon, LAT0 + math.degrees(y / R)


def haversine(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> Any:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(np.subtract(lon2, lon1)) / 2) ** 2
    )
    return 2 * R * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


# --- the world ------------------------------------------------------------------------------------


@dataclass
class World(App):
    def post(self, caller: str, reports: Sequence[Report | dict[str, Any]]) -> dict[str, Any]:
        body = [r.json() if isinstance(r, Report) else r for r in reports]
        answer: dict[str, Any] = self.ok("POST", "/v1/tracks", caller, json={"reports": body})
        return answer

    def alerts(self, caller: str, after: int = 0, prefix: str = "track.") -> list[dict[str, Any]]:
        """Each condition the caller was alerted of, as its own alert with that one item."""
        found = self.ok("GET", f"/v1/alerts?state=all&after={after}", caller)
        return [
            a | {"data": item}
            for a in found
            if a["type"].startswith(prefix)
            for item in a["data"]["items"]
        ]

    def identify(self, caller: str, **params: Any) -> list[dict[str, Any]]:
        answer = self.ok("GET", "/v1/identify", caller, params=params)
        tracks: list[dict[str, Any]] = answer["tracks"]
        return tracks


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    """Build a world with settings overrides; everything is closed at teardown."""
    with apps(
        tmp_path,
        PARTIES,
        World,
        T0,
        proximity_horizontal_m=H_M,
        proximity_vertical_m=V_M,
        lookahead_s=LOOKAHEAD_S,
        conformance_lateral_m=200.0,
        conformance_vertical_m=100.0,
        track_stale_s=30.0,
        track_retention_hours=24.0,
    ) as make:
        yield make


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


# --- reports and flights --------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """One position report, exactly as posted (altitude in W84 metres)."""

    party: str
    aircraft: str
    time: dt.datetime
    lon: float
    lat: float
    alt: float
    east: float = 0.0
    north: float = 0.0
    up: float = 0.0

    def json(self) -> dict[str, Any]:
        return {
            "aircraft": self.aircraft,
            "time": iso(self.time),
            "lon": self.lon,
            "lat": self.lat,
            "altitude": {"value": self.alt, "reference": "W84", "units": "m"},
            "velocity": {"east": self.east, "north": self.north, "up": self.up},
        }


_DT = 0.01


@dataclass
class Flight:
    """A true trajectory: constant speed, a heading profile (turns) and a climb profile.

    ``heading`` holds (t, degrees) knots, linear in between (a turn at a constant
    rate); ``climb`` holds (from t, m/s) steps. Positions are integrated on a
    0.01 s grid in local east/north metres.
    """

    party: str
    aircraft: str
    x: float
    y: float
    alt: float
    speed: float
    heading: Sequence[tuple[float, float]]
    climb: Sequence[tuple[float, float]] = ((0.0, 0.0),)
    duration_s: float = 400.0
    _grid: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        ts = np.arange(0.0, self.duration_s + _DT, _DT)
        knots = np.array(self.heading, dtype=float)
        heading = np.radians(np.interp(ts, knots[:, 0], knots[:, 1]))
        east, north = self.speed * np.sin(heading), self.speed * np.cos(heading)
        up = np.zeros_like(ts)
        for start, rate in self.climb:
            up[ts >= start] = rate

        def integrate(v: np.ndarray, v0: float) -> np.ndarray:
            return v0 + np.concatenate([[0.0], np.cumsum((v[1:] + v[:-1]) / 2 * _DT)])

        self._grid = {
            "x": integrate(east, self.x),
            "y": integrate(north, self.y),
            "alt": integrate(up, self.alt),
            "east": east,
            "north": north,
            "up": up,
        }

    def report(self, t: float, at: dt.datetime) -> Report:
        i = round(t / _DT)
        g = {k: float(v[i]) for k, v in self._grid.items()}
        lon, lat = lonlat(g["x"], g["y"])
        return Report(
            self.party,
            self.aircraft,
            at,
            lon,
            lat,
            round(g["alt"], 3),
            round(g["east"], 3),
            round(g["north"], 3),
            round(g["up"], 3),
        )


def meeting(
    speed_a: float,
    heading_a: float,
    speed_b: float,
    heading_b: float,
    miss_m: float,
    t_cpa_s: float,
) -> tuple[float, float]:
    """Where b must start, from a, for a closest approach of ``miss_m`` after ``t_cpa_s``."""
    va = np.array([math.sin(math.radians(heading_a)), math.cos(math.radians(heading_a))]) * speed_a
    vb = np.array([math.sin(math.radians(heading_b)), math.cos(math.radians(heading_b))]) * speed_b
    v = vb - va
    normal = np.array([v[1], -v[0]]) / np.linalg.norm(v)
    start = -v * t_cpa_s + normal * miss_m
    return float(start[0]), float(start[1])


# --- the oracle -----------------------------------------------------------------------------------

_TAU = np.arange(0.0, LOOKAHEAD_S + MARGIN_S + 1.0, 0.05)


def _ahead(r: Report, at: dt.datetime) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Longitude, latitude and altitude of a report's straight-line extrapolation at ``_TAU``."""
    s = (at - r.time).total_seconds() + _TAU
    lat = r.lat + np.degrees(r.north * s / R)
    lon = r.lon + np.degrees(r.east * s / (R * math.cos(math.radians(r.lat))))
    return lon, lat, r.alt + r.up * s


@dataclass(frozen=True)
class Verdict:
    loss: bool  # separation lost within the lookahead
    clear: bool  # the same verdict with a margin either way
    t_loss: float | None
    t_cpa: float  # horizontal closest approach, within the lookahead
    horizontal_m: float
    vertical_m: float
    east_m: float  # where b is from a at the closest approach
    north_m: float
    horizontal_loss: bool  # the verdict if the vertical were ignored


def predict(a: Report, b: Report, at: dt.datetime) -> Verdict:
    """Step both aircraft ahead from ``at``: when, if ever, is separation lost?"""
    lon_a, lat_a, alt_a = _ahead(a, at)
    lon_b, lat_b, alt_b = _ahead(b, at)
    h = haversine(lon_a, lat_a, lon_b, lat_b)
    v = np.abs(alt_a - alt_b)

    def lost(horizon: float, dh: float, dv: float) -> np.ndarray:
        mask: np.ndarray = np.less_equal(_TAU, horizon + 1e-9) & (h < H_M + dh) & (v < V_M + dv)
        return mask

    nominal = lost(LOOKAHEAD_S, 0.0, 0.0)
    varied = {
        bool(lost(LOOKAHEAD_S + ds, dh, dv).any())
        for ds, dh, dv in (
            (-MARGIN_S, 0.0, 0.0),
            (MARGIN_S, 0.0, 0.0),
            (0.0, -MARGIN_H_M, -MARGIN_V_M),
            (0.0, MARGIN_H_M, MARGIN_V_M),
        )
    }
    within = _TAU <= LOOKAHEAD_S + 1e-9
    k = int(np.argmin(np.where(within, h, np.inf)))
    return Verdict(
        loss=bool(nominal.any()),
        clear=varied == {bool(nominal.any())},
        t_loss=float(_TAU[nominal][0]) if nominal.any() else None,
        t_cpa=float(_TAU[k]),
        horizontal_m=float(h[k]),
        vertical_m=float(v[k]),
        east_m=float(np.radians(lon_b[k] - lon_a[k]) * R * math.cos(math.radians(lat_a[k]))),
        north_m=float(np.radians(lat_b[k] - lat_a[k]) * R),
        horizontal_loss=bool((within & (h < H_M)).any()),
    )


# --- flying a scenario ----------------------------------------------------------------------------


@dataclass
class Step:
    k: int
    at: dt.datetime
    reports: dict[str, Report]
    verdicts: dict[tuple[str, str], Verdict]  # (aircraft of the earlier poster, the other)
    alerts: dict[str, list[dict[str, Any]]]  # new track.proximity alerts, by party


def fly(world: World, flights: Sequence[Flight], steps: int) -> list[Step]:
    """Report every flight every 5 s, party after party, moving the clock; keep what happened."""
    parties = list(dict.fromkeys(f.party for f in flights))
    pairs = [(a, b) for i, a in enumerate(flights) for b in flights[i + 1 :] if a.party != b.party]
    last = {p: max([a["id"] for a in world.alerts(p, prefix="")], default=0) for p in parties}
    out: list[Step] = []
    for k in range(steps):
        if k:
            world.clock.advance(STEP_S)
        now = world.clock.now()
        reports = {f.aircraft: f.report(k * STEP_S, now) for f in flights}
        for party in parties:
            world.post(party, [r for r in reports.values() if r.party == party])
        new: dict[str, list[dict[str, Any]]] = {}
        for party in parties:
            found = world.alerts(party, last[party], prefix="")
            last[party] = max([a["id"] for a in found], default=last[party])
            new[party] = [a for a in found if a["type"] == "track.proximity"]
        verdicts = {
            (a.aircraft, b.aircraft): predict(reports[a.aircraft], reports[b.aircraft], now)
            for a, b in pairs
        }
        out.append(Step(k, now, reports, verdicts, new))
    return out


def check_design(steps: Sequence[Step], flights: Sequence[Flight]) -> None:
    """Every verdict is clear-cut, and holds whichever party's post the service sees first."""
    order = list(dict.fromkeys(f.party for f in flights))
    for prev, step in zip([None, *steps], steps, strict=False):
        for (a, b), verdict in step.verdicts.items():
            assert verdict.clear, f"step {step.k}: {a}/{b} is too close to a threshold"
            if prev is None:
                continue
            ra, rb = step.reports[a], step.reports[b]
            if order.index(ra.party) > order.index(rb.party):
                ra, rb = rb, ra
            # Between the two posts the later party's previous report is its state.
            held = dataclasses.replace(prev.reports[rb.aircraft], time=step.at)
            mid = predict(ra, held, step.at)
            if prev.verdicts[(a, b)].loss == verdict.loss:
                assert mid.clear and mid.loss == verdict.loss, (
                    f"step {step.k}: {a}/{b} hinges on which party reports first"
                )


def expected_alerts(steps: Sequence[Step], flights: Sequence[Flight]) -> list[Counter[Any]]:
    """By step: (party, own aircraft, other party) of each proximity alert the oracle starts."""
    party = {f.aircraft: f.party for f in flights}
    out = []
    before: dict[tuple[str, str], bool] = {}
    for step in steps:
        due: Counter[Any] = Counter()
        for (a, b), verdict in step.verdicts.items():
            if verdict.loss and not before.get((a, b), False):
                due[(party[a], a, party[b])] += 1
                due[(party[b], b, party[a])] += 1
            before[(a, b)] = verdict.loss
        out.append(due)
    return out


def actual_alerts(step: Step) -> Counter[Any]:
    return Counter(
        (party, a["data"]["aircraft"], a["data"]["other_party"])
        for party, alerts in step.alerts.items()
        for a in alerts
    )


def check_alert(alert: dict[str, Any], verdict: Verdict, own_is_a: bool, other_id: str) -> None:
    """One proximity alert against the oracle's verdict for its pair."""
    data = alert["data"]
    assert set(data) == PROXIMITY_KEYS, data
    assert other_id not in json.dumps(alert), "the other party's aircraft is never named"
    assert verdict.t_loss is not None
    assert data["t_cpa_s"] == pytest.approx(verdict.t_cpa, abs=2.0)
    assert data["t_loss_s"] == pytest.approx(verdict.t_loss, abs=2.0)
    assert data["horizontal_m"] == pytest.approx(verdict.horizontal_m, abs=300.0)
    sign = 1.0 if own_is_a else -1.0
    rel = data["relative"]
    assert set(rel) == {"east_m", "north_m"}
    assert rel["east_m"] == pytest.approx(sign * verdict.east_m, abs=400.0)
    assert rel["north_m"] == pytest.approx(sign * verdict.north_m, abs=400.0)


def check_run(steps: Sequence[Step], flights: Sequence[Flight]) -> None:
    """Alerts start exactly when the oracle's verdicts do, and say what the oracle says."""
    check_design(steps, flights)
    expected = expected_alerts(steps, flights)
    for step, due in zip(steps, expected, strict=True):
        got = actual_alerts(step)
        assert got == due, f"step {step.k} (t={step.k * STEP_S} s): expected {due}, got {got}"
        for party, alerts in step.alerts.items():
            for alert in alerts:
                own = alert["data"]["aircraft"]
                assert alert["at"] == iso(step.at)
                ((a, b),) = [
                    p for p in step.verdicts if own in p and step.verdicts[p].loss
                ]  # one pair per aircraft in these scenarios
                other = b if own == a else a
                assert step.reports[own].party == party
                check_alert(alert, step.verdicts[(a, b)], own == a, other)


def first_loss(steps: Sequence[Step], pair: tuple[str, str]) -> int:
    return next(s.k for s in steps if s.verdicts[pair].loss)


# --- closest approach -----------------------------------------------------------------------------


def _straight_pair() -> list[Flight]:
    """Alpha's jet east at 230 m/s; bravo's helicopter west-south-west at 50 m/s.

    They pass 2,500 m apart 179.6 s after the start, horizontally within 5 NM
    from about 147.5 s: the oracle first predicts the loss at the report of
    t = 30 s (117.5 s ahead), not at the report before (122.5 s ahead).
    """
    x, y = meeting(230.0, 90.0, 50.0, 250.0, 2_500.0, 179.6)
    return [
        Flight("alpha", "ALPHA-JET-7", -30_000.0, 0.0, 3_000.0, 230.0, [(0, 90.0)]),
        Flight("bravo", "BRAVO-HELO-2", -30_000.0 + x, y, 3_100.0, 50.0, [(0, 250.0)]),
    ]


def test_converging_straight_tracks_alert_both_parties_once_when_the_loss_comes_into_view(
    world: World,
) -> None:
    flights = _straight_pair()
    steps = fly(world, flights, 37)  # until just past the closest approach, loss still on
    pair = ("ALPHA-JET-7", "BRAVO-HELO-2")

    k = first_loss(steps, pair)
    before, at = steps[k - 1].verdicts[pair], steps[k].verdicts[pair]
    assert k == 6, "the designed transition"
    assert not before.loss and before.horizontal_loss is False
    assert at.t_loss is not None and at.t_loss < LOOKAHEAD_S - MARGIN_S
    check_run(steps, flights)

    # What the users see: one alert each, at the report of t = 30 s, never repeated.
    to_alpha = [a for s in steps for a in s.alerts["alpha"]]
    to_bravo = [a for s in steps for a in s.alerts["bravo"]]
    assert len(to_alpha) == len(to_bravo) == 1
    assert to_alpha[0]["at"] == to_bravo[0]["at"] == iso(T0 + dt.timedelta(seconds=30))
    assert to_alpha[0]["data"]["aircraft"] == "ALPHA-JET-7"
    assert to_alpha[0]["data"]["other_party"] == "bravo"
    assert to_bravo[0]["data"]["aircraft"] == "BRAVO-HELO-2"
    assert to_bravo[0]["data"]["other_party"] == "alpha"
    assert "BRAVO-HELO-2" not in json.dumps(world.alerts("alpha"))
    assert "ALPHA-JET-7" not in json.dumps(world.alerts("bravo"))
    for alert in (*to_alpha, *to_bravo):
        # The pass is 149.6 s ahead, beyond the lookahead: reported as its end.
        assert alert["data"]["t_cpa_s"] == pytest.approx(LOOKAHEAD_S, abs=2.0)
        assert alert["data"]["t_loss_s"] == pytest.approx(at.t_loss, abs=2.0)
    # The relative positions mirror each other; nobody else hears of it.
    ra, rb = to_alpha[0]["data"]["relative"], to_bravo[0]["data"]["relative"]
    assert (ra["east_m"], ra["north_m"]) == (-rb["east_m"], -rb["north_m"])
    assert world.alerts("charlie") == []


def test_a_turn_away_clears_the_alert_and_a_renewed_approach_raises_a_new_one(
    world: World,
) -> None:
    # As above (alert at t = 30 s), then alpha turns left onto north at 6°/s
    # (t = 45–60 s): the loss is no longer predicted from t = 50 s. It flies away,
    # then turns right at 6°/s onto 120° (t = 100–120 s), back towards bravo: the loss
    # is predicted again from t = 120 s, and goes on.
    flights = _straight_pair()
    flights[0] = Flight(
        "alpha",
        "ALPHA-JET-7",
        flights[0].x,
        flights[0].y,
        3_000.0,
        230.0,
        [(0, 90.0), (45, 90.0), (60, 0.0), (100, 0.0), (120, 120.0)],
    )
    steps = fly(world, flights, 34)
    check_run(steps, flights)

    pair = ("ALPHA-JET-7", "BRAVO-HELO-2")
    losses = "".join("L" if s.verdicts[pair].loss else "." for s in steps)
    assert losses == "......LLLL" + "." * 14 + "L" * 10, "the designed scenario"
    raised = [s.k for s in steps if s.alerts["alpha"]]
    assert raised == [6, 24], "one alert for each approach, none while turned away"
    assert [s.k for s in steps if s.alerts["bravo"]] == raised
    renewed = steps[24].alerts["bravo"][0]["data"]
    assert renewed["other_party"] == "alpha" and renewed["aircraft"] == "BRAVO-HELO-2"
    assert renewed["t_cpa_s"] < LOOKAHEAD_S, "closing fast now: the pass is within sight"


def test_vertical_separation_keeps_level_traffic_apart_until_one_descends_into_the_level(
    world: World,
) -> None:
    # Three pairs, 200 km apart, each alpha's jet east at 230 m/s and bravo's west at
    # 70 m/s 600 m above, passing 1,500 m apart at t = 170 s (5 NM apart from 139.5 s):
    # - B levels until t = 80 s, then descends at 10 m/s: it will be within 1,000 ft of
    #   A's level from 29.5 s to 90.5 s after, and horizontally within 5 NM from 59.5 s;
    # - D stays level: never;
    # - F descends from t = 25 s, and is through E's level (90.5 s) before they are
    #   within 5 NM (114.5 s): never at the same instant.
    x, y = meeting(230.0, 90.0, 70.0, 270.0, 1_500.0, 170.0)
    flights = []
    for i, (low, high, descent) in enumerate(
        [("A-LOW", "B-HIGH", 80.0), ("C-LOW", "D-HIGH", None), ("E-LOW", "F-HIGH", 25.0)]
    ):
        north = 200_000.0 * i
        climb = ((0.0, 0.0),) if descent is None else ((0.0, 0.0), (descent, -10.0))
        flights += [
            Flight("alpha", low, -30_000.0, north, 3_000.0, 230.0, [(0, 90.0)]),
            Flight("bravo", high, -30_000.0 + x, north + y, 3_600.0, 70.0, [(0, 270.0)], climb),
        ]
    steps = fly(world, flights, 25)
    check_run(steps, flights)

    ab, cd, ef = ("A-LOW", "B-HIGH"), ("C-LOW", "D-HIGH"), ("E-LOW", "F-HIGH")
    k = first_loss(steps, ab)
    assert k == 16, "the designed transition: the first report of B's descent"
    level = [s for s in steps if s.verdicts[ab].horizontal_loss and not s.verdicts[ab].loss]
    assert len(level) >= 10, "within 5 NM ahead but 600 m apart: no alert for many reports"
    for pair in (cd, ef):
        assert not any(s.verdicts[pair].loss for s in steps)
        assert any(s.verdicts[pair].horizontal_m < 2_000 for s in steps), "they do pass close"
    assert min(s.reports["F-HIGH"].alt for s in steps) < 3_000 - V_M, "F went through E's level"
    raised = [
        (s.k, p, a["data"]["aircraft"]) for s in steps for p, al in s.alerts.items() for a in al
    ]
    assert sorted(raised) == [(16, "alpha", "A-LOW"), (16, "bravo", "B-HIGH")]
    # The closest approach is within the lookahead here: 90 s ahead, 1,500 m apart.
    (alert,) = steps[16].alerts["alpha"]
    assert alert["data"]["t_cpa_s"] == pytest.approx(90.0, abs=2.0)
    assert alert["data"]["horizontal_m"] == pytest.approx(1_500.0, abs=150.0)


def test_aircraft_of_one_party_on_a_collision_course_are_never_alerted_to_each_other(
    world: World,
) -> None:
    # Alpha's A1 and A2 head-on at the same level, meeting at t = 60 s; bravo's B flies
    # in formation with A2, 250 m above it, so B is alerted with both of alpha's.
    x, y = meeting(200.0, 90.0, 200.0, 270.0, 0.0, 60.0)
    flights = [
        Flight("alpha", "A1", 0.0, 0.0, 2_000.0, 200.0, [(0, 90.0)]),
        Flight("alpha", "A2", x, y, 2_000.0, 200.0, [(0, 270.0)]),
        Flight("bravo", "B", x, y, 2_250.0, 200.0, [(0, 270.0)]),
    ]
    steps = fly(world, flights, 12)
    check_design(steps, flights)

    a1a2 = [predict(s.reports["A1"], s.reports["A2"], s.at) for s in steps]
    assert all(v.loss for v in a1a2[1:]), "a collision course"
    assert min(v.horizontal_m for v in a1a2) < 500 and max(v.vertical_m for v in a1a2) == 0
    to_alpha = [a for s in steps for a in s.alerts["alpha"]]
    assert {a["data"]["other_party"] for a in to_alpha} == {"bravo"}
    assert sorted(a["data"]["aircraft"] for a in to_alpha) == ["A1", "A2"]
    assert len([a for s in steps for a in s.alerts["bravo"]]) == 2
    assert all(
        actual_alerts(s) == due
        for s, due in zip(steps, expected_alerts(steps, flights), strict=True)
    )


@pytest.mark.parametrize(("silence_s", "alerted"), [(29, True), (31, False)])
def test_a_track_silent_for_longer_than_track_stale_s_is_left_out_until_it_reports(
    make_world: Callable[..., World], silence_s: int, alerted: bool
) -> None:
    world = make_world()
    hover = Report("alpha", "ALPHA-HOVER", T0, *lonlat(0.0, 0.0), 1_000.0)
    world.post("alpha", [hover])
    world.clock.advance(silence_s)
    now = world.clock.now()
    # Bravo's, 20 km east, west at 100 m/s: within 5 NM in 107 s.
    inbound = Report("bravo", "BRAVO-IN", now, *lonlat(20_000.0, 0.0), 1_000.0, east=-100.0)
    verdict = predict(dataclasses.replace(hover, time=now), inbound, now)
    assert verdict.clear and verdict.loss and verdict.t_loss == pytest.approx(107.4, abs=0.5)

    world.post("bravo", [inbound])
    proximity = [a for a in world.alerts("bravo") if a["type"] == "track.proximity"]
    assert len(proximity) == int(alerted)
    if not alerted:
        world.clock.advance(4)
        world.post("alpha", [dataclasses.replace(hover, time=world.clock.now())])
    for party in ("alpha", "bravo"):
        (alert,) = [a for a in world.alerts(party) if a["type"] == "track.proximity"]
        assert alert["at"] == iso(world.clock.now())


def test_states_reported_at_different_instants_are_compared_at_the_same_instant(
    world: World,
) -> None:
    # Alpha's jet, north at 250 m/s, last reported 25 s ago; bravo's, west at 250 m/s,
    # reports now. At the same instant they will pass 6 km apart 40 s from now; taking
    # the jet's 25 s old position as current puts the pass at 10.4 km: no loss.
    a = Report("alpha", "ALPHA-N", T0, *lonlat(0.0, 0.0), 4_000.0, north=250.0)
    world.post("alpha", [a])
    world.clock.advance(25)
    now = world.clock.now()
    at_now = (0.0, 250.0 * 25)  # where the jet is now
    x, y = meeting(250.0, 0.0, 250.0, 270.0, 6_000.0, 40.0)
    b = Report("bravo", "BRAVO-W", now, *lonlat(at_now[0] + x, at_now[1] + y), 4_000.0, east=-250.0)
    truth = predict(a, b, now)
    assert truth.clear and truth.loss and truth.horizontal_m == pytest.approx(6_000, abs=100)
    stale = predict(dataclasses.replace(a, time=now), b, now)
    assert stale.clear and not stale.loss, "the design: ignoring the age hides the loss"

    world.post("bravo", [b])
    kinds = [alert["type"] for alert in world.alerts("bravo")]
    assert kinds == ["track.nonconforming", "track.proximity"]


# --- conformance ----------------------------------------------------------------------------------


def _circle_volume(
    center: tuple[float, float],
    radius_m: float,
    lower: float,
    upper: float,
    hours: tuple[float, float],
) -> dict[str, Any]:
    return {
        "footprint": {"type": "Circle", "center": list(center), "radius_m": radius_m},
        "altitude": {"lower": lower, "upper": upper, "reference": "W84", "units": "m"},
        "time": {
            "start": iso(T0 + dt.timedelta(hours=hours[0])),
            "end": iso(T0 + dt.timedelta(hours=hours[1])),
        },
    }


def _operation(center: tuple[float, float], radius_m: float = 3_000.0) -> dict[str, Any]:
    return {
        "kind": "operation",
        "category": "survey",
        "aircraft": ["ALPHA-SURVEY"],
        "volumes": [_circle_volume(center, radius_m, 0.0, 2_000.0, (-1.0, 3.0))],
    }


def test_an_aircraft_leaving_its_operation_beyond_the_tolerance_alerts_its_owner_only(
    world: World,
) -> None:
    world.submit("alpha", _operation(lonlat(0.0, 0.0)))
    # (east of the centre in metres, altitude): the circle is 3,000 m, 0–2,000 m;
    # the tolerance 200 m laterally and 100 m vertically.
    path = [
        (0.0, 1_000.0),  # inside
        (2_500.0, 1_000.0),
        (3_100.0, 1_000.0),  # outside, within the tolerance
        (3_500.0, 1_000.0),  # beyond it: nonconforming
        (4_500.0, 1_000.0),  # still out: no repeat
        (6_000.0, 1_000.0),
        (2_000.0, 1_000.0),  # back: conforming
        (1_000.0, 2_060.0),  # above the ceiling, within the tolerance
        (1_000.0, 2_150.0),  # beyond it
        (1_000.0, 1_500.0),  # back
    ]
    visitor = lonlat(-1_000.0, 500.0)
    seen: list[list[str]] = []
    for k, (east, alt) in enumerate(path):
        if k:
            world.clock.advance(STEP_S)
        now = world.clock.now()
        lon, lat = lonlat(east, 0.0)
        world.post("alpha", [Report("alpha", "ALPHA-SURVEY", now, lon, lat, alt, east=50.0)])
        # Bravo hovers inside alpha's operation, below it: never alpha's business.
        world.post("bravo", [Report("bravo", "BRAVO-VISITOR", now, *visitor, 300.0)])
        seen.append([a["type"] for a in world.alerts("alpha") if a["at"] == iso(now)])
    distance = haversine(LON0, LAT0, *lonlat(3_100.0, 0.0))
    assert 3_000 < distance < 3_200 and haversine(LON0, LAT0, *lonlat(3_500.0, 0.0)) > 3_300

    assert seen == [
        [],
        [],
        [],
        ["track.nonconforming"],
        [],
        [],
        ["track.conforming"],
        [],
        ["track.nonconforming"],
        ["track.conforming"],
    ]
    to_alpha = world.alerts("alpha")
    assert {a["data"]["aircraft"] for a in to_alpha} == {"ALPHA-SURVEY"}
    first = to_alpha[0]["data"]
    assert first == {
        "aircraft": "ALPHA-SURVEY",
        "time": iso(T0 + dt.timedelta(seconds=15)),
        "lon": pytest.approx(lonlat(3_500.0, 0.0)[0]),
        "lat": pytest.approx(LAT0),
    }
    # Bravo has no operation: its own aircraft does not conform, once; nothing of alpha's.
    to_bravo = world.alerts("bravo")
    assert [(a["type"], a["data"]["aircraft"]) for a in to_bravo] == [
        ("track.nonconforming", "BRAVO-VISITOR")
    ]
    assert "ALPHA-SURVEY" not in json.dumps(to_bravo)


# --- incursions -----------------------------------------------------------------------------------


def _protected(center: tuple[float, float], radius_m: float) -> dict[str, Any]:
    return {
        "kind": "protected",
        "category": "medical",
        "volumes": [_circle_volume(center, radius_m, 0.0, 3_000.0, (-1.0, 5.0))],
    }


def _entry(
    r: Report, center: tuple[float, float], radius_m: float, band: tuple[float, float]
) -> tuple[float | None, bool]:
    """When the straight-line extrapolation first enters a cylinder; and if that is clear-cut."""
    lon, lat, alt = _ahead(r, r.time)
    d = haversine(lon, lat, *center)

    def inside(horizon: float, dr: float) -> np.ndarray:
        mask: np.ndarray = (
            np.less_equal(_TAU, horizon + 1e-9)
            & (d < radius_m + dr)
            & (alt > band[0] - dr)
            & (alt < band[1] + dr)
        )
        return mask

    nominal = inside(LOOKAHEAD_S, 0.0)
    varied = {
        bool(inside(LOOKAHEAD_S + ds, dr).any())
        for ds, dr in ((-MARGIN_S, 0.0), (MARGIN_S, 0.0), (0.0, -50.0), (0.0, 50.0))
    }
    clear = varied == {bool(nominal.any())}
    return (float(_TAU[nominal][0]) if nominal.any() else None), clear


def test_an_aircraft_predicted_to_enter_a_protected_place_alerts_both_owners_once(
    world: World,
) -> None:
    center = lonlat(0.0, 0.0)
    place = world.submit("bravo", _protected(center, 2_000.0))
    # Inbound: 17.25 km west, east at 100 m/s: enters at 152.5 s, i.e. 120 s ahead
    # between the reports of t = 30 s and 35 s. Outbound: east of it, flying away.
    # Overhead: straight over it, above its ceiling. Bravo's own: inside, its own place.
    flights = [
        Flight("alpha", "ALPHA-INBOUND", -17_250.0, 0.0, 1_000.0, 100.0, [(0, 90.0)]),
        Flight("alpha", "ALPHA-OUTBOUND", 2_500.0, 0.0, 1_000.0, 100.0, [(0, 90.0)]),
        Flight("alpha", "ALPHA-OVERHEAD", -5_000.0, 300.0, 3_400.0, 100.0, [(0, 90.0)]),
        Flight("bravo", "BRAVO-OWN", 0.0, 0.0, 500.0, 10.0, [(0, 0.0)]),
    ]
    entries: dict[str, list[float | None]] = {f.aircraft: [] for f in flights}
    raised: list[tuple[int, str, dict[str, Any]]] = []
    last = 0
    for k in range(40):  # inbound is inside from t = 152.5 s to the end
        if k:
            world.clock.advance(STEP_S)
        now = world.clock.now()
        reports = [f.report(k * STEP_S, now) for f in flights]
        for r in reports:
            entry, clear = _entry(r, center, 2_000.0, (0.0, 3_000.0))
            assert clear, f"step {k}: {r.aircraft} is too close to the lookahead"
            entries[r.aircraft].append(entry)
        world.post("alpha", reports[:3])
        world.post("bravo", reports[3:])
        for party in ("alpha", "bravo"):
            for a in world.alerts(party, prefix="track.incursion"):
                if a["id"] > last:
                    raised.append((k, party, a))
        last = max([a[2]["id"] for a in raised], default=last)

    assert next(k for k, e in enumerate(entries["ALPHA-INBOUND"]) if e is not None) == 7
    assert all(e is None for e in entries["ALPHA-OUTBOUND"] + entries["ALPHA-OVERHEAD"])
    assert [(k, party) for k, party, _ in raised] == [(7, "alpha"), (7, "bravo")]
    to_alpha, to_bravo = raised[0][2], raised[1][2]
    assert to_alpha["at"] == to_bravo["at"] == iso(T0 + dt.timedelta(seconds=35))
    assert to_alpha["data"] == {
        "aircraft": "ALPHA-INBOUND",
        "notice": {"id": place["id"], "party": "bravo", "kind": "protected"},
        "time": iso(T0 + dt.timedelta(seconds=35)),
    }
    assert to_bravo["data"] == {
        "notice": {"id": place["id"]},
        "aircraft_party": "alpha",
        "time": iso(T0 + dt.timedelta(seconds=35)),
    }
    assert "ALPHA-" not in json.dumps(world.alerts("bravo"))

    # The aircraft's owner was shown the place: a recorded disclosure.
    shown = world.ok("GET", "/v1/disclosures", "alpha")
    incursions = [d for d in shown if d["reason"] == "incursion"]
    assert len(incursions) == 1
    assert incursions[0]["notice_id"] == place["id"]
    assert incursions[0]["owner"] == "bravo" and incursions[0]["recipient"] == "alpha"


def _convoy() -> dict[str, Any]:
    """Bravo's convoy drives 10 km north from the origin, from T0 − 30 min to T0 + 30 min."""
    end = lonlat(0.0, 10_000.0)
    return {
        "kind": "movement",
        "category": "humanitarian",
        "route": {
            "coordinates": [[LON0, LAT0], list(end)],
            "waypoint_times": [
                iso(T0 - dt.timedelta(minutes=30)),
                iso(T0 + dt.timedelta(minutes=30)),
            ],
            "corridor_half_width_m": 50,
            "altitude": {"lower": 0, "upper": 150, "reference": "W84", "units": "m"},
        },
    }


def test_a_drone_in_a_movement_corridor_alerts_only_when_the_convoy_is_there_or_coming(
    world: World,
) -> None:
    convoy = world.submit("bravo", _convoy())
    # Hovering drones on the road: where the convoy is now (5 km), where it passed
    # 24 min ago (1 km), where it will be in 27 min (9.5 km).
    here, passed, ahead = (lonlat(0.0, y) for y in (5_000.0, 1_000.0, 9_500.0))
    drones = {"D-HERE": here, "D-PASSED": passed, "D-AHEAD": ahead}

    def hover(names: Sequence[str]) -> None:
        now = world.clock.now()
        world.post("alpha", [Report("alpha", n, now, *drones[n], 60.0) for n in names])

    def incursions(party: str) -> list[tuple[str, str]]:
        return [
            (a["at"], a["data"].get("aircraft", a["data"].get("aircraft_party")))
            for a in world.alerts(party, prefix="track.incursion")
        ]

    hover(list(drones))
    world.clock.advance(STEP_S)
    hover(list(drones))  # no repeat while it lasts
    at = iso(T0)
    assert incursions("alpha") == [(at, "D-HERE")]
    assert incursions("bravo") == [(at, "alpha")]
    (alert,) = world.alerts("alpha", prefix="track.incursion")
    assert alert["data"]["notice"] == {"id": convoy["id"], "party": "bravo", "kind": "movement"}

    # 25.5 min later the convoy is 1.5 min from the drone ahead; within the lookahead.
    world.clock.advance(25.5 * 60 - STEP_S)
    hover(["D-AHEAD", "D-PASSED"])
    later = iso(T0 + dt.timedelta(minutes=25.5))
    assert incursions("alpha") == [(at, "D-HERE"), (later, "D-AHEAD")]
    assert incursions("bravo") == [(at, "alpha"), (later, "alpha")]


# --- late, out-of-order, duplicate, too old, from the future --------------------------------------


def test_late_reports_are_kept_without_moving_the_state_and_duplicates_change_nothing(
    world: World,
) -> None:
    world.submit("alpha", _operation(lonlat(0.0, 0.0)))
    inside, far = lonlat(0.0, 0.0), lonlat(20_000.0, 0.0)

    def at(seconds: float) -> dt.datetime:
        return T0 + dt.timedelta(seconds=seconds)

    def report(seconds: float, where: tuple[float, float]) -> Report:
        return Report("alpha", "ALPHA-LATE", at(seconds), *where, 1_000.0)

    world.clock.advance(60)
    assert world.post("alpha", [report(60, inside)]) == {"accepted": 1, "moved": 1, "alerts": 0}
    # A late report, far outside the operation: kept, but the state stays at t = 60 s.
    assert world.post("alpha", [report(30, far)]) == {"accepted": 1, "moved": 0, "alerts": 0}
    assert world.alerts("alpha") == []
    (found,) = world.identify("alpha", lon=far[0], lat=far[1], alt=1_000, time=iso(at(30)))
    assert found["aircraft"] == "ALPHA-LATE" and found["time"] == iso(at(30))
    assert (found["lon"], found["lat"]) == pytest.approx(far)
    assert world.identify("bravo", lon=far[0], lat=far[1], alt=1_000, time=iso(at(30))) == [
        {"party": "alpha", "kind": "track"}
    ]
    # A newer report inside: still conforming, so the late one never was the state.
    world.clock.advance(5)
    assert world.post("alpha", [report(65, inside)])["moved"] == 1
    assert world.alerts("alpha") == []
    # The same report again, alone and twice in a batch: nothing changes.
    for batch in ([report(65, inside)], [report(65, inside), report(65, inside)]):
        answer = world.post("alpha", batch)
        assert answer["moved"] == 0 and answer["alerts"] == 0
    assert world.alerts("alpha") == []
    # The control: a newer report far out does move it.
    world.clock.advance(5)
    assert world.post("alpha", [report(70, far)]) == {"accepted": 1, "moved": 1, "alerts": 1}
    assert [a["type"] for a in world.alerts("alpha")] == ["track.nonconforming"]


def test_reports_older_than_the_retention_or_from_the_future_are_refused_whole(
    world: World,
) -> None:
    world.clock.advance(3_600)
    now = world.clock.now()

    def report(t: dt.datetime, name: str = "ALPHA-T") -> dict[str, Any]:
        return Report("alpha", name, t, *lonlat(0.0, 0.0), 1_000.0).json()

    oldest = now - dt.timedelta(hours=24)
    cases = [
        ([report(now), report(oldest - dt.timedelta(seconds=1))], "reports[1].time"),
        ([report(now + dt.timedelta(seconds=61))], "reports[0].time"),
        ([report(now), report(now), report(now + dt.timedelta(hours=2))], "reports[2].time"),
    ]
    for batch, where in cases:
        response = world.call("POST", "/v1/tracks", "alpha", json={"reports": batch})
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["field"] == where and set(error) == {"code", "message", "field", "id"}
    # Nothing of a refused batch was kept.
    here = lonlat(0.0, 0.0)
    assert world.identify("alpha", lon=here[0], lat=here[1], alt=1_000, time=iso(now)) == []
    assert world.alerts("alpha") == []

    # Just inside both limits: accepted.
    ok = [report(oldest + dt.timedelta(seconds=1), "OLD"), report(now + dt.timedelta(seconds=59))]
    assert world.post("alpha", ok)["accepted"] == 2
    old = oldest + dt.timedelta(seconds=1)
    (found,) = world.identify("alpha", lon=here[0], lat=here[1], alt=1_000, time=iso(old))
    assert found["aircraft"] == "OLD"
    # Once the retention has passed, the old report is forgotten.
    world.clock.advance(60)
    world.post("alpha", [report(world.clock.now(), "ALPHA-T")])
    assert world.identify("alpha", lon=here[0], lat=here[1], alt=1_000, time=iso(old)) == []


# --- identification -------------------------------------------------------------------------------


def test_identify_names_the_owner_of_a_nearby_track_and_details_only_to_the_owner(
    world: World,
) -> None:
    where = lonlat(1_000.0, 2_000.0)
    world.post("alpha", [Report("alpha", "ALPHA-ID-1", T0, *where, 1_500.0, east=40.0)])
    query = {"lon": where[0], "lat": where[1], "alt": 1_500, "time": iso(T0)}

    assert world.identify("bravo", **query) == [{"party": "alpha", "kind": "track"}]
    assert world.identify("alpha", **query) == [
        {
            "party": "alpha",
            "kind": "track",
            "aircraft": "ALPHA-ID-1",
            "time": iso(T0),
            "lon": where[0],
            "lat": where[1],
        }
    ]
    later = iso(T0 + dt.timedelta(seconds=20))
    assert world.identify("bravo", **query | {"time": later}) == [
        {"party": "alpha", "kind": "track"}
    ]
    near = lonlat(1_000.0, 2_600.0)  # 600 m away
    assert world.identify("bravo", **query | {"lon": near[0], "lat": near[1]}) == []
    assert world.identify(
        "bravo", **query | {"lon": near[0], "lat": near[1], "tolerance_m": 800}
    ) == [{"party": "alpha", "kind": "track"}]
    far = lonlat(30_000.0, 2_000.0)
    assert world.identify("bravo", **query | {"lon": far[0], "lat": far[1]}) == []
    assert world.identify("bravo", **query | {"alt": 3_000}) == []
    assert world.identify("bravo", **query | {"time": iso(T0 + dt.timedelta(minutes=10))}) == []
    assert world.identify("bravo", **query | {"time": iso(T0 - dt.timedelta(minutes=1))}) == []


def test_identify_finds_a_track_just_across_the_antimeridian(world: World) -> None:
    world.post("alpha", [Report("alpha", "ALPHA-DATELINE", T0, -179.99995, 10.0, 1_000.0)])
    assert haversine(-179.99995, 10.0, 179.99995, 10.0) < 12
    query = {"lat": 10.0, "alt": 1_000, "time": iso(T0)}
    assert world.identify("bravo", lon=-179.9999, **query) == [{"party": "alpha", "kind": "track"}]
    assert world.identify("bravo", lon=179.99995, **query) == [{"party": "alpha", "kind": "track"}]


# --- bad input ------------------------------------------------------------------------------------


def _good() -> dict[str, Any]:
    return Report("alpha", "ALPHA-OK", T0, LON0, LAT0, 1_000.0, east=10.0).json()


def _with(**changes: Any) -> dict[str, Any]:
    return {"reports": [_good() | changes]}


def _raw(text: str) -> bytes:
    return text.encode()


def _raw_batch(lon: str = "35", alt: str = "10", extra: str = "") -> bytes:
    """A batch of one report as JSON text, for what ``json=`` cannot send (NaN, Infinity)."""
    report = (
        '{"aircraft": "A", "time": "2026-05-01T08:00:00Z", "lon": ' + lon + ', "lat": 33.5,'
        ' "altitude": {"value": ' + alt + ', "reference": "W84"}' + extra + "}"
    )
    return _raw('{"reports": [' + report + "]}")


BAD_BATCHES = [
    pytest.param({}, 422, "reports", id="missing-reports"),
    pytest.param({"reports": []}, 422, "reports", id="empty-list"),
    pytest.param({"reports": {"aircraft": "A"}}, 422, "reports", id="reports-object"),
    pytest.param([_good()], 422, "body", id="body-list"),
    pytest.param(_raw("{"), 400, "body", id="not-json"),
    pytest.param({"reports": [[1, 2]]}, 422, "reports[0]", id="report-list"),
    pytest.param({"reports": [_good(), "x"]}, 422, "reports[1]", id="report-string"),
    pytest.param(_with(speed=3), 422, "reports[0].speed", id="unknown-field"),
    pytest.param(_with(aircraft="A" * 65), 422, "reports[0].aircraft", id="aircraft-65"),
    pytest.param(_with(aircraft=""), 422, "reports[0].aircraft", id="aircraft-empty"),
    pytest.param(_with(aircraft=7), 422, "reports[0].aircraft", id="aircraft-number"),
    pytest.param(_with(aircraft=None), 422, "reports[0].aircraft", id="aircraft-null"),
    pytest.param(_with(time="yesterday"), 422, "reports[0].time", id="time-text"),
    pytest.param(_with(time="2026-05-01T08:00:00"), 422, "reports[0].time", id="time-naive"),
    pytest.param(_with(time=None), 422, "reports[0].time", id="time-missing"),
    pytest.param(_with(lon=181), 422, "reports[0].lon", id="lon-181"),
    pytest.param(_with(lon=-180.5), 422, "reports[0].lon", id="lon-minus-180.5"),
    pytest.param(_with(lat=91), 422, "reports[0].lat", id="lat-91"),
    pytest.param(_with(lat="33"), 422, "reports[0].lat", id="lat-string"),
    pytest.param(_with(lon=True), 422, "reports[0].lon", id="lon-bool"),
    pytest.param(
        _raw_batch(lon="NaN"),
        422,
        "reports[0].lon",
        id="lon-NaN",
    ),
    pytest.param(
        _raw_batch(alt="Infinity"),
        422,
        "reports[0].altitude.value",
        id="altitude-Infinity",
    ),
    pytest.param(
        _raw_batch(extra=', "velocity": {"east": NaN}'),
        422,
        "reports[0].velocity.east",
        id="velocity-NaN",
    ),
    pytest.param(
        _with(altitude={"reference": "W84"}), 422, "reports[0].altitude", id="alt-no-value"
    ),
    pytest.param(_with(altitude=1000), 422, "reports[0].altitude", id="alt-number"),
    pytest.param(
        _with(altitude={"value": 10, "reference": "QFE"}),
        422,
        "reports[0].altitude.reference",
        id="alt-unknown-reference",
    ),
    pytest.param(
        _with(altitude={"value": 10}), 422, "reports[0].altitude.reference", id="alt-no-reference"
    ),
    pytest.param(
        _with(altitude={"value": 10, "reference": "W84", "units": "yd"}),
        422,
        "reports[0].altitude.units",
        id="alt-units",
    ),
    pytest.param(
        _with(altitude={"value": "UNL", "reference": "W84"}),
        422,
        "reports[0].altitude.value",
        id="alt-value-text",
    ),
    pytest.param(
        _with(altitude={"value": None, "reference": "W84"}),
        422,
        "reports[0].altitude.value",
        id="alt-value-null",
    ),
    pytest.param(_with(velocity=[1, 2, 3]), 422, "reports[0].velocity", id="velocity-list"),
    pytest.param(_with(velocity="fast"), 422, "reports[0].velocity", id="velocity-string"),
    pytest.param(
        _with(velocity=[]),
        422,
        "reports[0].velocity",
        id="velocity-empty-list",
    ),
    pytest.param(_with(velocity=0), 422, "reports[0].velocity", id="velocity-zero"),
    pytest.param(
        _with(velocity={"East": 200.0}),
        422,
        "reports[0].velocity.East",
        id="velocity-unknown-key",
    ),
    pytest.param(
        _with(velocity={"east": 5_000.0}), 422, "reports[0].velocity", id="velocity-absurd"
    ),
    pytest.param(_with(velocity={"up": -300.0}), 422, "reports[0].velocity", id="climb-absurd"),
    pytest.param(
        _with(velocity={"north": "9"}), 422, "reports[0].velocity.north", id="velocity-string-north"
    ),
    pytest.param({"reports": [_good()] * 6}, 413, "reports", id="more-than-max-batch"),
]


@pytest.mark.parametrize(("body", "status", "where"), BAD_BATCHES)
def test_a_malformed_batch_is_a_4xx_naming_the_field_and_changes_nothing(
    make_world: Callable[..., World], body: Any, status: int, where: str
) -> None:
    world = make_world(max_track_batch=5)
    kw: dict[str, Any] = (
        {"content": body, "headers": {"Content-Type": "application/json"}}
        if isinstance(body, bytes)
        else {"json": body}
    )
    response = world.call("POST", "/v1/tracks", "alpha", **kw)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert {"code", "message", "id"} <= set(error)
    assert error["field"] == where, error
    assert world.identify("alpha", lon=LON0, lat=LAT0, alt=1_000, time=iso(T0)) == []
    assert world.alerts("alpha") == []


def test_a_full_batch_is_taken_and_an_auditor_may_not_report(
    make_world: Callable[..., World],
) -> None:
    world = make_world(max_track_batch=5)
    batch = [dict(_good(), aircraft=f"A{i}") for i in range(5)]
    assert world.post("alpha", batch)["accepted"] == 5
    response = world.call("POST", "/v1/tracks", "aud", json={"reports": [_good()]})
    assert response.status_code == 403, response.text
    assert {"code", "message", "id"} <= set(response.json()["error"])
    response = world.client.post("/v1/tracks", json={"reports": [_good()]})
    assert response.status_code == 401, response.text


def test_a_batch_raises_one_alert_per_party_and_kind_listing_every_condition(
    world: World,
) -> None:
    world.submit("alpha", _operation(lonlat(0.0, 0.0)))
    far = [lonlat(20_000.0 + 1_000.0 * k, 0.0) for k in range(3)]
    reports = [Report("alpha", f"ALPHA-{k}", T0, *where, 1_000.0) for k, where in enumerate(far)]
    assert world.post("alpha", reports) == {"accepted": 3, "moved": 3, "alerts": 1}
    found = world.ok("GET", "/v1/alerts?state=all", "alpha")
    (alert,) = [a for a in found if a["type"] == "track.nonconforming"]
    assert [item["aircraft"] for item in alert["data"]["items"]] == [
        "ALPHA-0",
        "ALPHA-1",
        "ALPHA-2",
    ]
