"""Need-to-know under random traffic, checked against an independent policy oracle.

Twenty-odd parties file a few hundred overlapping notices through the HTTP API;
then thousands of seeded random reads (by id, search, conflicts, what-if checks,
point identification) are compared, answer by answer, with a policy written here
from the design's words, not imported from ``deconflict.disclosure``:

- the owner, the audience parties and members of audience channels see a notice
  in full;
- an auditor outside the audience sees metadata only;
- anyone else sees a notice only through an open conflict with one of their own
  notices (identity, category, contact if the owner allows it, and an overlap
  clipped to their own volume), through a what-if check (id, kind and owner) or
  through identification (owner and kind);
- each such showing leaves a disclosure record that the auditor can list.

Which pairs conflict is taken from the service's own answers, because geometry is
tested elsewhere. Who may see what is decided here.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h3
from fastapi.testclient import TestClient

from deconflict.api.app import create_app
from deconflict.clock import FixedClock
from deconflict.config import Settings
from deconflict.service import Service
from deconflict.store import open_store

SEED = 20_260_501
T0 = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
# A small region, so that many footprints overlap or come within the protection buffer.
WEST, SOUTH, EAST, NORTH = 35.0, 33.0, 35.6, 33.5
MEMBERS = 20
CHANNELS = 6
NOTICES = 200
REQUESTS = 5_000
M_PER_DEGREE = 111_195.0
DAY = dt.timedelta(days=1)
CATEGORIES = ("medical", "humanitarian", "civilian", "friendly_forces", "cultural", "other")

METADATA = frozenset(
    {"id", "version", "kind", "party", "category", "state", "priority", "time"}
    | {"created_at", "updated_at"}
)
CHECK_VIEW = frozenset({"id", "kind", "party"})
# Every kind of answer the run must have checked, each at least five times.
CASES = (
    *("get full", "get metadata", "get minimal", "get none"),
    *("search full", "search metadata", "conflict full", "conflict minimal"),
    *("check full", "check minimal", "identify full", "identify minimal"),
    *("strict 409", "cancel 403", "cancel 404"),
)
IDENTIFY_VIEW = frozenset({"party", "kind"})


@dataclass(frozen=True)
class Extent:
    """What the test knows of one volume it filed: enough to aim probes and bound overlaps."""

    lon: float
    lat: float
    box: tuple[float, float, float, float]
    lower: float
    upper: float
    start: dt.datetime
    end: dt.datetime | None


@dataclass
class Filed:
    """A notice as its owner filed it."""

    id: str
    party: str
    kind: str
    category: str | None
    parties: frozenset[str]
    channels: frozenset[str]
    aircraft: list[str]
    contact: str | None
    disclose: bool
    extents: list[Extent]
    body: dict[str, Any]
    version: int = 1
    in_force: bool = True


@dataclass
class Policy:
    """The need-to-know rules, written from the design alone."""

    roles: dict[str, str]
    channels: dict[str, frozenset[str]]
    notices: dict[str, Filed] = field(default_factory=dict)
    #: unordered pair of notice ids -> "open" or "resolved"
    pairs: dict[frozenset[str], str] = field(default_factory=dict)
    #: notice id -> the ids it has ever conflicted with, in the order found
    links: dict[str, dict[str, None]] = field(default_factory=dict)

    def full(self, caller: str, notice: Filed) -> bool:
        return (
            caller == notice.party
            or caller in notice.parties
            or any(caller in self.channels[c] for c in notice.channels)
        )

    def auditor(self, caller: str) -> bool:
        return self.roles[caller] == "auditor"

    def conflict(self, a: str, b: str) -> None:
        self.pairs[frozenset((a, b))] = "open"
        self.links.setdefault(a, {})[b] = None
        self.links.setdefault(b, {})[a] = None

    def cancelled(self, notice: Filed) -> None:
        notice.version, notice.in_force = notice.version + 1, False
        for other in self.links.get(notice.id, {}):
            self.pairs[frozenset((notice.id, other))] = "resolved"

    def partners(self, notice_id: str, status: str | None = "open") -> Iterator[Filed]:
        for other in self.links.get(notice_id, {}):
            if status is None or self.pairs[frozenset((notice_id, other))] == status:
                yield self.notices[other]

    def linked(self, caller: str, notice: Filed) -> bool:
        """Whether the caller owns a notice in an open conflict with this one."""
        return any(p.party == caller for p in self.partners(notice.id))

    def minimal(self, notice: Filed) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": notice.id,
            "version": notice.version,
            "kind": notice.kind,
            "party": notice.party,
        }
        if notice.category is not None:
            view["category"] = notice.category
        if notice.disclose and notice.contact is not None:
            view["contact"] = notice.contact
        return view

    def conflicts_of(self, caller: str, status: str | None) -> set[tuple[str, str]]:
        out = set()
        for pair, state in self.pairs.items():
            if status is not None and state != status:
                continue
            a, b = sorted(pair)
            if self.notices[a].party == caller:
                out.add((a, b))
            if self.notices[b].party == caller:
                out.add((b, a))
        return out


@dataclass
class Audit:
    """Leaks, wrong answers and the disclosures the service should have recorded."""

    policy: Policy
    leaks: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    #: (recipient, notice id, full?) -> count, for every showing except identification
    shown: Counter[tuple[str, str, bool]] = field(default_factory=Counter)
    #: (recipient, owner, full?) -> count, for identification (its views carry no id)
    identified: Counter[tuple[str, str, bool]] = field(default_factory=Counter)
    #: how often each kind of answer was checked, so that no rule goes untested
    cases: Counter[str] = field(default_factory=Counter)

    def leak(self, where: str, text: str) -> None:
        self.leaks.append(f"{where}: {text}")

    def bad(self, where: str, text: str) -> None:
        self.wrong.append(f"{where}: {text}")

    def disclosed(self, caller: str, notice: Filed, full: bool) -> None:
        if caller != notice.party:
            self.shown[(caller, notice.id, full)] += 1

    # --- views ------------------------------------------------------------------------

    def full_view(self, where: str, caller: str, view: dict[str, Any], notice: Filed) -> None:
        """A view with content: allowed only to owner and audience, and must be the whole notice."""
        if not self.policy.full(caller, notice):
            self.leak(where, f"{caller} got content of {notice.id} ({sorted(view)})")
            return
        if not ({"volumes", "route"} & set(view) and {"aircraft", "audience"} <= set(view)):
            self.bad(where, f"{caller} may see {notice.id} in full but got {sorted(view)}")
            return
        audience = view["audience"]
        if (
            view.get("party") != notice.party
            or audience.get("parties") != sorted(notice.parties)
            or audience.get("channels") != sorted(notice.channels)
            or view["aircraft"] != notice.aircraft
        ):
            self.bad(where, f"full view of {notice.id} does not match what was filed: {view}")

    def minimal_view(self, where: str, view: dict[str, Any], notice: Filed) -> None:
        expected = self.policy.minimal(notice)
        if view != expected:
            extra = sorted(set(view) - set(expected))
            (self.leak if extra else self.bad)(
                where, f"minimal view of {notice.id} is {view}, expected {expected}"
            )

    def metadata_view(self, where: str, view: dict[str, Any], notice: Filed) -> None:
        if not set(view) <= METADATA:
            self.leak(where, f"auditor view of {notice.id} has {sorted(set(view) - METADATA)}")
        if view.get("id") != notice.id or view.get("party") != notice.party:
            self.bad(where, f"auditor view names the wrong notice: {view}")

    def other_view(self, where: str, caller: str, view: dict[str, Any]) -> Filed | None:
        """The other side of a conflict: full to its audience, minimal to everyone else."""
        notice = self.policy.notices.get(view.get("id", ""))
        if notice is None:
            self.bad(where, f"unknown notice in {view}")
            return None
        if notice.party == caller:
            self.bad(where, f"{caller}'s own notice {notice.id} listed as a conflict")
        if self.policy.full(caller, notice):
            self.cases["conflict full"] += 1
            self.full_view(where, caller, view, notice)
        else:
            self.cases["conflict minimal"] += 1
            self.minimal_view(where, view, notice)
        return notice

    def overlap(
        self,
        where: str,
        caller: str,
        overlap: Any,
        mine: tuple[str, list[Extent]],
        other: Filed,
        open_: bool,
    ) -> None:
        """A minimal overlap is rounded to the grid, names none of the other's volumes,
        and lies within my own rounded outward to the grid."""
        if self.policy.full(caller, other):
            return
        name, extents = mine
        if overlap is None:
            if open_:
                self.bad(where, f"open conflict {name}/{other.id} without overlap")
            return
        if "volumes" in overlap:
            self.leak(where, f"overlap with {other.id} names its volumes: {overlap['volumes']}")
        cells = set(overlap.get("cells") or ())
        if any(h3.get_resolution(c) != 6 for c in cells):
            self.leak(where, f"overlap with {other.id} is finer than the grid: {sorted(cells)}")
        drawn = {
            h3.latlng_to_cell(lat, lon, 6) for lon, lat in _cell_centres(overlap.get("footprint"))
        }
        if not drawn <= cells:
            self.leak(where, f"overlap with {other.id} draws more than its cells")
        if overlap.get("distance_m", 0) % 1000:
            self.leak(where, f"overlap with {other.id} shows distance {overlap['distance_m']}")
        # Each cell meets the overlap, which lies within my own volumes, or the margin
        # of 250 m about it that rounding adds (0.005° here is about 500 m).
        west, south = min(e.box[0] for e in extents), min(e.box[1] for e in extents)
        east, north = max(e.box[2] for e in extents), max(e.box[3] for e in extents)
        outside = []
        pad = 0.005
        for cell in cells:
            lats, lons = zip(*h3.cell_to_boundary(cell), strict=True)
            apart_east_west = min(lons) > east + pad or max(lons) < west - pad
            if apart_east_west or min(lats) > north + pad or max(lats) < south - pad:
                outside.append(cell)
        if outside:
            self.leak(where, f"overlap with {other.id} reaches outside {name}: {outside[:2]}")
        low = math.floor(min(e.lower for e in extents) / 300) * 300
        high = math.ceil(max(e.upper for e in extents) / 300) * 300
        for bound in ("lower", "upper"):
            value = (overlap.get("altitude") or {}).get(bound)
            if isinstance(value, int | float) and (value % 300 or not low <= value <= high):
                self.leak(
                    where,
                    f"overlap of {name} with {other.id} shows altitude {bound} {value:g} m, "
                    f"not a 300 m layer within {name}'s band [{low:g}, {high:g}]",
                )
        slot = dt.timedelta(minutes=15)
        first = T0 + slot * math.floor((min(e.start for e in extents) - T0) / slot)
        ends = [e.end for e in extents]
        last = None if None in ends else max(e for e in ends if e is not None)
        last = None if last is None else T0 + slot * math.ceil((last - T0) / slot)
        for bound in ("start", "end"):
            text = (overlap.get("time") or {}).get(bound)
            if text is None:
                continue
            instant = dt.datetime.fromisoformat(text)
            off_grid = (instant - T0) % slot
            if off_grid or instant < first or (last is not None and instant > last):
                self.leak(where, f"overlap of {name} with {other.id} shows time {bound} {text}")


def _cell_centres(geojson: Any) -> Iterator[tuple[float, float]]:
    """A point inside each drawn polygon, well within its cell."""
    if geojson is None:
        return
    for polygon in geojson["coordinates"]:
        ring = polygon[0][:-1]
        yield sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring)


def _positions(geojson: Any) -> Iterator[tuple[float, float]]:
    if geojson is None:
        return
    stack: list[Any] = [geojson["coordinates"]]
    while stack:
        item = stack.pop()
        if item and isinstance(item[0], int | float):
            yield float(item[0]), float(item[1])
        else:
            stack.extend(item)


def _instant(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- random input ---------------------------------------------------------------------


def _footprint(
    rng: random.Random, lon: float, lat: float
) -> tuple[dict[str, Any], tuple[float, float, float, float]]:
    if rng.random() < 0.5:
        h = round(rng.uniform(0.01, 0.04), 4)
        ring = [[lon - h, lat - h], [lon + h, lat - h], [lon + h, lat + h], [lon - h, lat + h]]
        polygon = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
        return polygon, (lon - h, lat - h, lon + h, lat + h)
    radius = round(rng.uniform(1_000.0, 4_000.0))
    dlat = radius / M_PER_DEGREE * 1.01
    dlon = dlat / math.cos(math.radians(lat + dlat))
    circle = {"type": "Circle", "center": [lon, lat], "radius_m": radius}
    return circle, (lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def _volume(rng: random.Random, kind: str) -> tuple[dict[str, Any], Extent]:
    lon = round(rng.uniform(WEST, EAST), 4)
    lat = round(rng.uniform(SOUTH, NORTH), 4)
    footprint, box = _footprint(rng, lon, lat)
    if kind == "operation":
        lower = float(rng.randrange(0, 2_000, 100))
        upper = lower + rng.randrange(300, 1_500, 100)
        start = T0 + dt.timedelta(hours=rng.randrange(0, 36))
        end: dt.datetime | None = start + dt.timedelta(hours=rng.randrange(2, 10))
    else:
        lower, upper = 0.0, float(rng.randrange(100, 600, 100))
        start = T0
        end = None if rng.random() < 0.7 else T0 + dt.timedelta(days=3)
    volume = {
        "footprint": footprint,
        "altitude": {"lower": lower, "upper": upper, "reference": "W84", "units": "m"},
        "time": {"start": _instant(start), "end": None if end is None else _instant(end)},
    }
    return volume, Extent(lon, lat, box, lower, upper, start, end)


def _notice_body(
    rng: random.Random, owner: str, parties: list[str], channels: list[str]
) -> tuple[dict[str, Any], list[Extent]]:
    kind = "operation" if rng.random() < 0.68 else "protected"
    pairs = [_volume(rng, kind) for _ in range(rng.choice((1, 1, 2)) if kind == "operation" else 1)]
    others = [p for p in parties if p != owner]
    body: dict[str, Any] = {
        "kind": kind,
        "volumes": [v for v, _ in pairs],
        "audience": {
            "parties": rng.sample(others, rng.choice((0, 0, 1, 2, 3))),
            "channels": rng.sample(channels, 1) if channels and rng.random() < 0.35 else [],
        },
    }
    if kind == "protected":
        body["category"] = rng.choice(CATEGORIES)
    elif rng.random() < 0.3:
        body["category"] = rng.choice(("training", "patrol", "transport"))
    if kind == "operation" and rng.random() < 0.6:
        body["aircraft"] = [f"{owner.upper()}{rng.randrange(100, 999)}" for _ in range(3)][
            : rng.randint(1, 3)
        ]
    if rng.random() < 0.6:
        body["contact"] = f"ops desk {owner} +{rng.randrange(10**9, 10**10)}"
        body["disclose_contact"] = rng.random() < 0.5
    if kind == "operation" and rng.random() < 0.3:
        body["state"] = "active"
    return body, [e for _, e in pairs]


# --- the test -------------------------------------------------------------------------


class Harness:
    """The app, the tokens, the oracle and the request counter."""

    def __init__(
        self, client: TestClient, tokens: dict[str, str], audit: Audit, clock: FixedClock
    ) -> None:
        self.client = client
        self.clock = clock
        self.tokens = tokens
        self.audit = audit
        self.policy = audit.policy
        self.requests = 0

    def call(self, method: str, url: str, caller: str, **kwargs: Any) -> Any:
        self.requests += 1
        headers = {"Authorization": f"Bearer {self.tokens[caller]}"}
        return self.client.request(method, url, headers=headers, **kwargs)

    # --- writes -------------------------------------------------------------------------

    def file(self, caller: str, body: dict[str, Any], extents: list[Extent]) -> Filed | None:
        """Submit (sometimes strictly, then again aware of what the 409 listed)."""
        where = f"POST /v1/notices by {caller}"
        response = self.call("POST", "/v1/notices", caller, json=body)
        if response.status_code == 409 and body.get("strict"):
            self.audit.cases["strict 409"] += 1
            missing = response.json().get("missing", [])
            if not missing:
                self.audit.bad(where, "a strict 409 lists nothing missing")
            for entry in missing:  # who and what, never where: no more than a check shows
                other = self.policy.notices.get(entry.get("id", ""))
                if other is None:
                    self.audit.bad(where, f"unknown notice in {entry}")
                elif set(entry) != {"id", "version", "kind", "party"}:
                    self.audit.leak(where, f"a 409 shows {sorted(entry)} of {other.id}")
                else:
                    self.audit.disclosed(caller, other, self.policy.full(caller, other))
            aware = [{"id": m["id"], "version": m["version"]} for m in missing]
            response = self.call("POST", "/v1/notices", caller, json=body | {"aware_of": aware})
        if response.status_code != 201:
            self.audit.bad(where, f"answered {response.status_code}: {response.text[:200]}")
            return None
        return self._filed(caller, body, extents, response.json(), where)

    def _filed(
        self,
        caller: str,
        body: dict[str, Any],
        extents: list[Extent],
        answer: dict[str, Any],
        where: str,
    ) -> Filed:
        audience = body["audience"]
        notice = Filed(
            id=answer["notice"]["id"],
            party=caller,
            kind=body["kind"],
            category=body.get("category"),
            parties=frozenset(audience["parties"]),
            channels=frozenset(audience["channels"]),
            aircraft=list(body.get("aircraft", [])),
            contact=body.get("contact"),
            disclose=bool(body.get("disclose_contact", False)),
            extents=extents,
            body={k: v for k, v in body.items() if k not in ("strict", "aware_of")},
        )
        self.policy.notices[notice.id] = notice
        for entry in answer["conflicts"]:
            if entry["notice"]["id"] != notice.id:
                self.audit.bad(where, f"conflict of another notice in the answer: {entry}")
            other = self.audit.other_view(where, caller, entry["other"])
            if other is None:
                continue
            self.policy.conflict(notice.id, other.id)
            self.audit.disclosed(caller, other, self.policy.full(caller, other))
            mine = (notice.id, notice.extents)
            self.audit.overlap(where, caller, entry["overlap"], mine, other, True)
        return notice

    def cancel(self, caller: str, notice: Filed) -> None:
        response = self.call("DELETE", f"/v1/notices/{notice.id}?version=1", caller)
        where = f"DELETE /v1/notices/{notice.id} by {caller}"
        if caller != notice.party:
            expected = 403 if self.policy.full(caller, notice) else 404
            self.audit.cases[f"cancel {expected}"] += 1
            if response.status_code != expected:
                (self.audit.leak if response.status_code == 403 else self.audit.bad)(
                    where, f"non-owner got {response.status_code}, expected {expected}"
                )
            return
        if response.status_code != 200:
            self.audit.bad(where, f"owner's cancel answered {response.status_code}")
            return
        self.policy.cancelled(notice)

    # --- reads --------------------------------------------------------------------------

    def get(self, caller: str, notice_id: str) -> None:
        where = f"GET /v1/notices/{notice_id} by {caller}"
        response = self.call("GET", f"/v1/notices/{notice_id}", caller)
        notice = self.policy.notices.get(notice_id)
        if notice is None:
            if response.status_code != 404:
                self.audit.bad(where, f"unknown id answered {response.status_code}")
            return
        expected: str
        if self.policy.full(caller, notice):
            expected = "full"
        elif self.policy.auditor(caller):
            expected = "metadata"
        elif self.policy.linked(caller, notice):
            expected = "minimal"
        else:
            expected = "none"
        self.audit.cases[f"get {expected}"] += 1
        if response.status_code == 404:
            if expected != "none":
                self.audit.bad(where, f"404, expected a {expected} view")
            return
        if response.status_code != 200:
            self.audit.bad(where, f"answered {response.status_code}")
            return
        view = response.json()
        if expected == "none":
            self.audit.leak(where, f"no right to see it, got {sorted(view)}")
        elif expected == "full":
            self.audit.full_view(where, caller, view, notice)
        elif expected == "metadata":
            self.audit.metadata_view(where, view, notice)
        else:
            self.audit.minimal_view(where, view, notice)
        self.audit.disclosed(caller, notice, expected == "full")

    def search(self, caller: str, rng: random.Random) -> None:
        params: dict[str, str] = {}
        box = (WEST - 1, SOUTH - 1, EAST + 1, NORTH + 1)
        if rng.random() < 0.5:
            w, s = rng.uniform(WEST, EAST - 0.05), rng.uniform(SOUTH, NORTH - 0.05)
            box = (w, s, w + rng.uniform(0.03, 0.2), s + rng.uniform(0.03, 0.2))
            params["bbox"] = ",".join(f"{v:.5f}" for v in box)
        if rng.random() < 0.2:
            params["kind"] = rng.choice(("operation", "protected"))
        where = f"GET /v1/notices?{params} by {caller}"
        response = self.call("GET", "/v1/notices", caller, params=params)
        if response.status_code != 200:
            self.audit.bad(where, f"answered {response.status_code}")
            return
        listed = set()
        for view in response.json():
            notice = self.policy.notices.get(view.get("id", ""))
            if notice is None:
                self.audit.bad(where, f"unknown notice {view}")
                continue
            listed.add(notice.id)
            if not notice.in_force:
                self.audit.bad(where, f"lists {notice.id}, which is cancelled")
            if self.policy.full(caller, notice):
                self.audit.cases["search full"] += 1
                self.audit.full_view(where, caller, view, notice)
            elif self.policy.auditor(caller):
                self.audit.cases["search metadata"] += 1
                self.audit.metadata_view(where, view, notice)
            else:
                self.audit.leak(where, f"lists {notice.id}, which {caller} may not see")
            self.audit.disclosed(caller, notice, self.policy.full(caller, notice))
        for notice in self.policy.notices.values():
            if not notice.in_force or params.get("kind", notice.kind) != notice.kind:
                continue
            if not (self.policy.full(caller, notice) or self.policy.auditor(caller)):
                continue
            inside = any(
                box[0] + 1e-4 < e.lon < box[2] - 1e-4 and box[1] + 1e-4 < e.lat < box[3] - 1e-4
                for e in notice.extents
            )
            if inside and notice.id not in listed:
                self.audit.bad(where, f"misses {notice.id}, which {caller} may see")

    def conflicts(self, caller: str, status: str) -> None:
        where = f"GET /v1/conflicts?status={status} by {caller}"
        response = self.call("GET", "/v1/conflicts", caller, params={"status": status})
        if response.status_code != 200:
            self.audit.bad(where, f"answered {response.status_code}")
            return
        seen = set()
        for entry in response.json():
            mine = self.policy.notices.get(entry["notice"]["id"])
            if mine is None or mine.party != caller:
                self.audit.leak(where, f"lists a conflict of someone else's notice: {entry}")
                continue
            other = self.audit.other_view(where, caller, entry["other"])
            if other is None:
                continue
            seen.add((mine.id, other.id))
            state = self.policy.pairs.get(frozenset((mine.id, other.id)))
            if entry["status"] != state:
                self.audit.bad(where, f"{mine.id}/{other.id} is {entry['status']}, not {state}")
            overlap, open_ = entry["overlap"], state == "open"
            self.audit.overlap(where, caller, overlap, (mine.id, mine.extents), other, open_)
            self.audit.disclosed(caller, other, self.policy.full(caller, other))
        expected = self.policy.conflicts_of(caller, None if status == "all" else status)
        if seen != expected:
            self.audit.bad(where, f"missing {expected - seen}, extra {seen - expected}")

    def check(self, caller: str, rng: random.Random) -> None:
        if rng.random() < 0.5 and self.policy.notices:
            template = self.policy.notices[rng.choice(list(self.policy.notices))]
            kind = rng.choice(("operation", "protected"))
            body: dict[str, Any] = {
                "kind": kind,
                "volumes": [  # an operation lasts at most a day, which meets most protections
                    v | {"time": {"start": v["time"]["start"], "end": _instant(T0 + DAY)}}
                    if template.kind == "protected" and kind == "operation"
                    else v
                    for v in template.body["volumes"]
                ],
            }
        else:
            body, _ = _notice_body(rng, caller, sorted(self.tokens), [])
            body["audience"] = {"parties": [], "channels": []}
        if body["kind"] == "protected":
            body["category"] = "medical"
        where = f"POST /v1/check ({body['kind']}) by {caller}"
        response = self.call("POST", "/v1/check", caller, json=body)
        if response.status_code != 200:
            self.audit.bad(where, f"answered {response.status_code}: {response.text[:200]}")
            return
        for entry in response.json()["conflicts"]:
            view = entry["other"]
            notice = self.policy.notices.get(view.get("id", ""))
            if notice is None:
                self.audit.bad(where, f"unknown notice {view}")
                continue
            if notice.party == caller or not notice.in_force:
                self.audit.bad(where, f"conflict with {notice.id} (own or cancelled)")
            if body["kind"] == "protected" and notice.kind != "operation":
                self.audit.bad(where, f"protected × {notice.kind} is no conflict")
            full = self.policy.full(caller, notice)
            self.audit.cases["check full" if full else "check minimal"] += 1
            if full:
                self.audit.full_view(where, caller, view, notice)
            elif set(view) != CHECK_VIEW or "overlap" in entry:
                self.audit.leak(where, f"{notice.id} shown as {view} with {sorted(entry)}")
            elif (view["kind"], view["party"]) != (notice.kind, notice.party):
                self.audit.bad(where, f"{notice.id} shown as {view}")
            self.audit.disclosed(caller, notice, full)

    def identify(self, caller: str, rng: random.Random) -> None:
        operations = [n for n in self.policy.notices.values() if n.kind == "operation"]
        target = rng.choice(operations)
        extent = rng.choice(target.extents)
        assert extent.end is not None
        at = extent.start + (extent.end - extent.start) / 2
        lon, lat, alt = extent.lon, extent.lat, (extent.lower + extent.upper) / 2
        if rng.random() < 0.2:  # somewhere else, often empty
            lon, lat = rng.uniform(WEST, EAST), rng.uniform(SOUTH, NORTH)
        params = {"lon": lon, "lat": lat, "alt": alt, "time": _instant(at)}
        where = f"GET /v1/identify?{params} by {caller}"
        # Identification is about now: ask at the probed instant, then come back.
        back = (self.clock.now() - at).total_seconds()
        self.clock.advance(-back)
        try:
            response = self.call("GET", "/v1/identify", caller, params=params)
        finally:
            self.clock.advance(back)
        if response.status_code != 200:
            self.audit.bad(where, f"answered {response.status_code}")
            return
        named, owners = set(), set()
        for view in response.json()["operations"]:
            if "id" in view:
                notice = self.policy.notices.get(view["id"])
                if notice is None:
                    self.audit.bad(where, f"unknown notice {view}")
                    continue
                self.audit.cases["identify full"] += 1
                self.audit.full_view(where, caller, view, notice)
                if notice.kind != "operation":
                    self.audit.bad(where, f"identified {notice.kind} {notice.id}")
                named.add(notice.id)
                if caller != notice.party:
                    self.audit.identified[(caller, notice.party, True)] += 1
            elif set(view) != IDENTIFY_VIEW or view["kind"] != "operation":
                self.audit.leak(where, f"identification shows {view}")
            else:
                self.audit.cases["identify minimal"] += 1
                owners.add(view["party"])
                self.audit.identified[(caller, view["party"], False)] += 1
        if (lon, lat) == (extent.lon, extent.lat) and target.in_force:
            full = self.policy.full(caller, target)
            if (full and target.id not in named) or (not full and target.party not in owners):
                self.audit.bad(where, f"does not identify {target.id} of {target.party}")

    def own_disclosures(self, caller: str, rng: random.Random) -> None:
        """A member lists only what it was shown, and what others were shown of its notices."""
        params = {"recipient": rng.choice(sorted(self.tokens))}
        if rng.random() < 0.7:
            params["notice_id"] = rng.choice(list(self.policy.notices))
        where = f"GET /v1/disclosures?{params} by {caller}"
        response = self.call("GET", "/v1/disclosures", caller, params=params)
        if response.status_code != 200:
            self.audit.bad(where, f"answered {response.status_code}")
            return
        for record in response.json():
            if caller not in (record["recipient"], record["owner"]):
                self.audit.leak(where, f"{caller} sees a disclosure to {record['recipient']}")

    def recorded(self, recipient: str, notice_id: str) -> int:
        response = self.call(
            "GET",
            "/v1/disclosures",
            "auditor",
            params={"recipient": recipient, "notice_id": notice_id, "limit": 10_000},
        )
        return sum(1 for record in response.json() if record["reason"] not in ("identify", "alert"))


def _setup(harness: Harness, rng: random.Random) -> None:
    policy = harness.policy
    members = [p for p, role in policy.roles.items() if role != "auditor"]
    for i in range(NOTICES):
        owner = rng.choice(members)
        own = sorted(c for c, members in policy.channels.items() if owner in members)
        body, extents = _notice_body(rng, owner, sorted(policy.roles), own)  # its channels only
        if rng.random() < 0.15:
            body["strict"] = True
        harness.file(owner, body, extents)
        if i == NOTICES // 2:  # an auditor reads, but never notifies
            response = harness.call("POST", "/v1/notices", "auditor", json=body)
            if response.status_code != 403:
                harness.audit.bad("POST /v1/notices by auditor", f"{response.status_code}")
    notices = list(policy.notices.values())
    for notice in rng.sample(notices, len(notices) // 12):
        audience = set(notice.parties).union(*(policy.channels[c] for c in notice.channels))
        outsiders = [m for m in members if m != notice.party and m not in audience]
        insiders = sorted(audience - {notice.party, "auditor"})
        for intruder in [rng.choice(outsiders), *rng.sample(insiders, min(1, len(insiders)))]:
            harness.cancel(intruder, notice)  # only the owner may
        harness.cancel(notice.party, notice)


def _traffic(harness: Harness, rng: random.Random) -> None:
    policy = harness.policy
    callers = sorted(policy.roles)
    ids = list(policy.notices)
    for n in range(REQUESTS):
        caller = "auditor" if rng.random() < 0.1 else rng.choice(callers)
        draw = rng.random()
        if draw < 0.38:
            mine = [i for i in ids if policy.notices[i].party == caller]
            linked = {p.id for m in mine for p in policy.partners(m, None)}
            near = [i for i in ids if i in linked]  # in filing order, for a repeatable run
            pick = rng.random()
            if pick < 0.05:
                target = f"n-{rng.getrandbits(64):016x}"
            elif pick < 0.5 and near:
                target = rng.choice(near)
            else:
                target = rng.choice(ids)
            harness.get(caller, target)
            notice = policy.notices.get(target)
            if n % 40 == 0 and notice is not None and notice.party != caller:
                expected = sum(
                    harness.audit.shown[(caller, target, full)] for full in (True, False)
                )
                found = harness.recorded(caller, target)
                if found != expected:
                    harness.audit.bad(
                        f"GET /v1/disclosures for {caller}/{target}",
                        f"{found} records, expected {expected}",
                    )
        elif draw < 0.53:
            harness.search(caller, rng)
        elif draw < 0.59:  # the dearest read: it recomputes every overlap
            harness.conflicts(caller, "all" if rng.random() < 0.25 else "open")
        elif draw < 0.78:
            harness.check(caller, rng)
        elif draw < 0.95:
            harness.identify(caller, rng)
        elif policy.roles[caller] == "member":
            harness.own_disclosures(caller, rng)


def _compare_disclosures(harness: Harness) -> None:
    """Every showing counted by the oracle is one record the auditor lists, and no more."""
    audit = harness.audit
    shown: Counter[tuple[str, str, bool]] = Counter()
    identified: Counter[tuple[str, str, bool]] = Counter()
    for notice in audit.policy.notices.values():
        response = harness.call(
            "GET", "/v1/disclosures", "auditor", params={"notice_id": notice.id, "limit": 10_000}
        )
        records = response.json()
        assert len(records) < 10_000, f"{notice.id}'s records overflow one page; lower REQUESTS"
        for record in records:
            if "view" in record:
                audit.leak("GET /v1/disclosures by auditor", f"shows the view: {record['view']}")
            if record["owner"] != notice.party or record["recipient"] == notice.party:
                audit.bad("GET /v1/disclosures", f"record {record} of {notice.id}")
            full = record["level"] == "full"
            if record["reason"] == "alert":
                # A conflict alert names the notice to the owners of its counterparts only.
                counterparts = {p.party for p in audit.policy.partners(notice.id, None)}
                if record["recipient"] not in counterparts or record["level"] != "minimal":
                    audit.leak("GET /v1/disclosures", f"alert record {record} of {notice.id}")
                continue
            if record["reason"] == "identify":
                identified[(record["recipient"], record["owner"], full)] += 1
            else:
                shown[(record["recipient"], notice.id, full)] += 1
    for name, got, expected in (
        ("shown", shown, audit.shown),
        ("identified", identified, audit.identified),
    ):
        for key in sorted(set(got) | set(expected)):
            if got[key] != expected[key]:
                audit.bad(
                    "GET /v1/disclosures",
                    f"{name} {key}: {got[key]} recorded, {expected[key]} shown",
                )


def test_random_reads_show_each_party_only_what_it_may_see(tmp_path: Path) -> None:
    began = time.perf_counter()
    rng = random.Random(SEED)
    path = tmp_path / "deconflict.db"
    clock = FixedClock(T0)
    service = Service(
        open_store(str(path)),
        clock,
        Settings(
            db=str(path),
            identify_per_minute=10**9,
            identify_per_owner_per_minute=10**9,
            check_per_minute=10**9,
        ),
    )
    roles = {f"p{i:02d}": "member" for i in range(MEMBERS)} | {"chief": "admin"}
    roles["auditor"] = "auditor"
    tokens = {}
    for party, role in roles.items():
        _, tokens[party] = service.accounts.add_party(None, party, f"Party {party}", role)
    channels = {}
    for i in range(CHANNELS):
        members = rng.sample(sorted(roles), rng.randint(2, 6))
        service.accounts.add_channel(None, f"ch{i}", f"Channel {i}", members)
        channels[f"ch{i}"] = frozenset(members)
    audit = Audit(Policy(roles, channels))
    with TestClient(create_app(service)) as client:
        harness = Harness(client, tokens, audit, clock)
        _setup(harness, rng)
        filed = harness.requests
        _traffic(harness, rng)
        _compare_disclosures(harness)
    seconds = time.perf_counter() - began
    open_pairs = sum(1 for state in audit.policy.pairs.values() if state == "open")
    print(
        f"\n{harness.requests} requests ({filed} to file, {REQUESTS} random reads), "
        f"{len(audit.policy.notices)} notices, {open_pairs} open conflicts, "
        f"{sum(audit.shown.values()) + sum(audit.identified.values())} disclosures, "
        f"{len(audit.leaks)} leaks, {len(audit.wrong)} wrong answers, {seconds:.1f} s"
    )
    print(", ".join(f"{case}: {count}" for case, count in sorted(audit.cases.items())))
    untested = [case for case in CASES if audit.cases[case] < 5]
    assert not untested, f"the traffic hardly checked {untested}; retune the generator"
    leaks, wrong = len(audit.leaks), len(audit.wrong)
    assert leaks == 0, "leaks, the first:\n" + "\n".join(audit.leaks[:8])
    assert wrong == 0, "wrong answers, the first:\n" + "\n".join(audit.wrong[:8])
