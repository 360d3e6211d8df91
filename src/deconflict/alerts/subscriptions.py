"""What a party subscribes to: events, notice kinds, an area, an altitude band, a time window.

Every party is implicitly subscribed to the conflicts of its own notices; a
subscription adds alerts on notices it may see, and a webhook to deliver to.

>>> doc = parse_subscription({"kinds": ["protected"], "area": [35, 32, 37, 34]}).doc
>>> doc["events"], doc["kinds"], doc["area"]
(['notice'], ['protected'], [35.0, 32.0, 37.0, 34.0])
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deconflict import errors
from deconflict.altitude import DatumMargins, w84_interval
from deconflict.geometry import BBox
from deconflict.model import NoticeKind
from deconflict.store.records import Extent
from deconflict.volumes import parse_altitude, parse_bbox, parse_time_window

from .destinations import allows

__all__ = ["EVENTS", "Parsed", "allowed_webhook", "matches", "parse_subscription"]

#: ``notice``: a notice the party may see was filed, changed or cancelled.
#: ``conflict``: a conflict of one of its own notices opened, changed or resolved.
#: ``track``: its aircraft's conformance, closest approaches and incursions.
EVENTS = ("notice", "conflict", "track", "disclosure")
_KEYS = {"events", "kinds", "area", "altitude", "time", "webhook"}


@dataclass(frozen=True)
class Parsed:
    doc: dict[str, Any]
    webhook_url: str | None


def _strings(value: Any, field: str, allowed: Sequence[str]) -> list[str]:
    if not isinstance(value, list) or not value:
        raise errors.WrongType(f"{field} is a non-empty list", field=field)
    for i, item in enumerate(value):
        if item not in allowed:
            raise errors.InvalidValue(f"use one of {', '.join(allowed)}", field=f"{field}[{i}]")
    return sorted(set(value))


def allowed_webhook(url: Any, hosts: Sequence[str]) -> str:
    """A webhook URL the service may call: http(s), no credentials, an allowed host and port."""
    field = "webhook.url"
    if not isinstance(url, str) or not url or len(url) > 2000:
        raise errors.WrongType("webhook.url is a URL of at most 2000 characters", field=field)
    parts = urllib.parse.urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a port that is not 0–65535
    except ValueError:
        raise errors.InvalidValue("the webhook's port is not a valid port", field=field) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.InvalidValue("a webhook is an http or https URL", field=field)
    if parts.username or parts.password:
        raise errors.InvalidValue("a webhook URL carries no credentials", field=field)
    if not allows(hosts, url):
        allowed = ", ".join(hosts) if hosts else "none are configured (webhook_hosts)"
        raise errors.InvalidValue(
            f"webhooks may only call allowed hosts and ports: {allowed} (a host alone "
            "allows its scheme's default port)",
            field=field,
        )
    return url


def parse_subscription(body: Any, webhook_hosts: Sequence[str] = ()) -> Parsed:
    """Validate a subscription; every filter is optional and narrows what matches."""
    if not isinstance(body, dict):
        raise errors.WrongType("the body must be a JSON object", field="body")
    for key in body:
        if key not in _KEYS:
            raise errors.InvalidValue(f"unknown field {key!r}", field=str(key))
    doc: dict[str, Any] = {
        "events": _strings(body.get("events", ["notice"]), "events", EVENTS),
        "kinds": _strings(
            body.get("kinds", [k.value for k in NoticeKind]),
            "kinds",
            [k.value for k in NoticeKind],
        ),
    }
    if body.get("area") is not None:
        box = parse_bbox(body["area"], "area")
        doc["area"] = [box.west, box.south, box.east, box.north]
    if body.get("altitude") is not None:
        parse_altitude(body["altitude"], "altitude")
        doc["altitude"] = body["altitude"]
    if body.get("time") is not None:
        parse_time_window(body["time"], "time", open_end=True)
        doc["time"] = body["time"]
    url = None
    if body.get("webhook") is not None:
        hook = body["webhook"]
        if not isinstance(hook, dict):
            raise errors.WrongType("webhook is an object with a url", field="webhook")
        for key in hook:
            if key != "url":
                raise errors.InvalidValue(f"unknown field {key!r}", field=f"webhook.{key}")
        url = allowed_webhook(hook.get("url"), webhook_hosts)
    return Parsed(doc, url)


def _meet(a: BBox, b: BBox) -> bool:
    return any(
        aw <= be and bw <= ae and as_ <= bn and bs <= an
        for aw, as_, ae, an in a.pieces()
        for bw, bs, be, bn in b.pieces()
    )


def matches(doc: dict[str, Any], kind: str, extents: Sequence[Extent], datum: DatumMargins) -> bool:
    """Does a notice of ``kind`` with these extents fall within the subscription's filters?"""
    if kind not in doc["kinds"]:
        return False
    area = BBox(*doc["area"]) if "area" in doc else None
    band = (
        w84_interval(parse_altitude(doc["altitude"], "altitude"), datum)
        if "altitude" in doc
        else None
    )
    window = parse_time_window(doc["time"], "time", open_end=True) if "time" in doc else None
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    for e in extents:
        if area is not None and not _meet(area, e.box):
            continue
        if band is not None and (e.alt_hi < band[0] or e.alt_lo > band[1]):
            continue
        if window is not None:
            end = e.end or far
            if end <= window.start or (window.end is not None and e.start >= window.end):
                continue
        return True
    return False
