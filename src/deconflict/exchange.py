"""Import and export of a party's notices in the interchange format (GeoJSON).

Export shows a party what it may see and nothing more: its own notices and
those whose audience it is in, read through the service's search, so every
showing of another party's notice is a recorded disclosure. Import writes each
notice through :meth:`~deconflict.service.Service.submit`, as any write: its
conflicts are found and stored, it is ledgered, and the parties concerned are
alerted.

An import is one write per notice, not one transaction: the whole file is
validated before the first write, and each write carries an idempotency key
drawn from the file's notice id and content, so running the same import again
after an interruption writes nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from deconflict import errors
from deconflict.disclosure import Viewer
from deconflict.geometry import GeometryLimits
from deconflict.interchange import format_instant, notices_from_geojson
from deconflict.model import NoticeKind, NoticeState
from deconflict.notices import notice_to_doc, parse_notice
from deconflict.service import Service

__all__ = [
    "ImportResult",
    "PlannedNotice",
    "export_geojson",
    "features_of",
    "import_notices",
    "party_viewer",
    "plan_geojson",
    "visible_notices",
]

#: Notice-level properties an export adds to the contract's, and an import reads back.
_EXTRAS = ("version", "state", "priority", "audience", "aircraft", "contact", "disclose_contact")
_WRITABLE = ("state", "priority", "audience", "aircraft", "disclose_contact")
_VOLUME_FIELD = re.compile(r"volumes\[(\d+)\]\.?(.*)")

Progress = Callable[[int], None]


@dataclass(frozen=True)
class PlannedNotice:
    """A notice read from a file, ready to submit, and where its parts came from.

    ``where`` prefixes errors about the notice as a whole; ``volume_where[j]``
    prefixes errors about its volume ``j``, so a refusal names the file's field.
    """

    source: str
    body: dict[str, Any]
    where: str
    volume_where: tuple[str, ...] = ()

    def locate(self, exc: errors.DeconflictError) -> errors.DeconflictError:
        """Rename an error's field from the notice body's path to the file's."""
        match = _VOLUME_FIELD.fullmatch(exc.field or "")
        if match and int(match[1]) < len(self.volume_where):
            prefix = self.volume_where[int(match[1])]
            exc.field = f"{prefix}.{match[2]}" if match[2] else prefix
        else:
            exc.at(self.where)
        exc.extra.setdefault("notice", self.source)
        return exc


@dataclass
class ImportResult:
    """What an import wrote: one entry per notice, with the conflicts each write found."""

    created: list[dict[str, Any]] = field(default_factory=list)
    replayed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    @property
    def conflicts(self) -> int:
        return sum(n["conflicts"] for n in self.created)

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "already_imported": self.replayed,
            "skipped": self.skipped,
            "conflicts": self.conflicts,
        }


# --- who is acting ---------------------------------------------------------------------


def party_viewer(service: Service, party_id: str, field_name: str = "party") -> Viewer:
    """The viewer a local operator acts as: the party, its role and its channels now."""
    with service.store.read() as tx:
        record = tx.parties.get(party_id)
        if record is None:
            raise errors.NotFound(f"no party {party_id!r}", field=field_name)
        channels = tx.channels.of_party(party_id)
    return Viewer(record.party.id, record.party.role, channels)


# --- export ----------------------------------------------------------------------------


def visible_notices(service: Service, viewer: Viewer, mine: bool = False) -> list[dict[str, Any]]:
    """Full views of the notices in force that the viewer may see in full, its own first.

    Others' notices come through :meth:`Service.search`, which records each as a
    disclosure; metadata-only views (an auditor's) are left out, since they have
    no volumes to export. With ``mine`` only the viewer's own notices are read.
    """
    if mine:
        with service.store.read() as tx:
            records = tx.notices.of_party(viewer.party)
        # A stored document is the notice's full document (see notices.notice_to_doc).
        views = [
            {"id": r.id, "party": r.party, "version": r.version}
            | r.doc
            | {
                "created_at": format_instant(r.created_at),
                "updated_at": format_instant(r.updated_at),
            }
            for r in records
            if r.state in (NoticeState.PLANNED.value, NoticeState.ACTIVE.value)
        ]
    else:
        views = [v for v in service.search(viewer) if "volumes" in v or "route" in v]
    return sorted(views, key=lambda v: (v["party"] != viewer.party, v["party"], v["id"]))


def features_of(view: dict[str, Any]) -> list[dict[str, Any]]:
    """Interchange Features of one full notice view: one per volume, one route for a movement."""
    common: dict[str, Any] = {"notice_id": view["id"], "party": view["party"], "kind": view["kind"]}
    if view.get("category") is not None:
        common["category"] = view["category"]
    extras = {key: view[key] for key in _EXTRAS if view.get(key) is not None}
    route = view.get("route")
    if route is not None:
        times = route["waypoint_times"]
        props = common | {
            "altitude": route["altitude"],
            "time": {"start": times[0], "end": times[-1]},
            "waypoint_times": times,
            "corridor_half_width_m": route["corridor_half_width_m"],
        }
        geometry = {"type": "LineString", "coordinates": route["coordinates"]}
        return [{"type": "Feature", "geometry": geometry, "properties": props | extras}]
    features = []
    for i, volume in enumerate(view["volumes"]):
        footprint = volume["footprint"]
        props = common | {"volume": i, "altitude": volume["altitude"], "time": volume["time"]}
        if footprint["type"] == "Circle":
            geometry = {"type": "Point", "coordinates": footprint["center"]}
            props["radius_m"] = footprint["radius_m"]
        else:
            geometry = footprint
        features.append({"type": "Feature", "geometry": geometry, "properties": props | extras})
    return features


def export_geojson(
    views: Sequence[dict[str, Any]], progress: Progress | None = None
) -> dict[str, Any]:
    """An interchange FeatureCollection of the given notice views, as ``check`` reads it."""
    features: list[dict[str, Any]] = []
    for view in views:
        features.extend(features_of(view))
        if progress is not None:
            progress(1)
    return {"type": "FeatureCollection", "features": features}


# --- import ----------------------------------------------------------------------------


def _route(feature: dict[str, Any]) -> dict[str, Any]:
    props = feature["properties"]
    return {
        "coordinates": feature["geometry"]["coordinates"],
        "waypoint_times": props["waypoint_times"],
        "corridor_half_width_m": props["corridor_half_width_m"],
        "altitude": props["altitude"],
    }


def plan_geojson(
    doc: Any, party: str, limits: GeometryLimits | None = None, keep_audience: bool = True
) -> list[PlannedNotice]:
    """The notices of an interchange file as submit bodies, all validated before any write.

    Every feature must belong to ``party``: a party files only its own notices.
    """
    limits = limits or GeometryLimits()
    notices = notices_from_geojson(doc, limits)
    features: list[dict[str, Any]] = doc["features"]
    where: dict[str, list[int]] = {}
    for index, feature in enumerate(features):
        where.setdefault(feature["properties"]["notice_id"], []).append(index)
    planned = []
    for notice in notices:
        indices = where[notice.id]
        first = features[indices[0]]
        props = first["properties"]
        path = f"features[{indices[0]}].properties"
        if notice.party != party:
            raise errors.InvalidValue(
                f"notice {notice.id!r} belongs to party {notice.party!r}; importing as "
                f"{party!r}, a party files only its own notices",
                field=f"{path}.party",
                feature=indices[0],
            )
        body = notice_to_doc(notice)
        for key in _WRITABLE:
            if props.get(key) is not None:
                body[key] = props[key]
        if not keep_audience:
            body["audience"] = {"parties": [], "channels": []}
        if notice.kind is NoticeKind.MOVEMENT:
            if len(indices) > 1:
                raise errors.InvalidValue(
                    f"movement {notice.id!r} has one route, in one feature",
                    field=f"features[{indices[1]}].properties.notice_id",
                    feature=indices[1],
                )
            del body["volumes"]
            body["route"] = _route(first)
        plan = PlannedNotice(
            notice.id, body, path, tuple(f"features[{i}].properties" for i in indices)
        )
        _validate(plan, party, limits)
        planned.append(plan)
    return planned


def _validate(plan: PlannedNotice, party: str, limits: GeometryLimits) -> None:
    """Parse the body as submit will, so a bad notice stops the import before any write."""
    try:
        notice = parse_notice(
            plan.body, notice_id=plan.source, party=party, version=1, limits=limits
        )
    except errors.DeconflictError as exc:
        raise plan.locate(exc) from None
    if not notice.in_force:
        raise plan.locate(
            errors.InvalidValue("only planned or active notices can be imported", field="state")
        )


def _key(plan: PlannedNotice) -> str:
    """An idempotency key: the same notice from the same file is written once."""
    text = json.dumps([plan.source, plan.body], sort_keys=True, separators=(",", ":"))
    return "import:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def import_notices(
    service: Service,
    viewer: Viewer,
    planned: Sequence[PlannedNotice],
    progress: Progress | None = None,
) -> ImportResult:
    """Submit each planned notice as the viewer; the result maps file ids to notice ids.

    A refused write stops the import; its error names the file's field and says
    how many notices were written before it.
    """
    result = ImportResult()
    for plan in planned:
        key = _key(plan)
        with service.store.read() as tx:
            seen = tx.idempotency.get(viewer.party, key) is not None
        try:
            _, answer = service.submit(viewer, plan.body, idempotency_key=key)
        except errors.DeconflictError as exc:
            exc.extra["written"] = len(result.created)
            raise plan.locate(exc) from None
        entry = {
            "source": plan.source,
            "id": answer["notice"]["id"],
            "conflicts": len(answer["conflicts"]),
        }
        (result.replayed if seen else result.created).append(entry)
        if progress is not None:
            progress(1)
    return result
