"""The incident report as its reader may see it: metadata, never content it has no need for.

The report is built whole from the store (:func:`deconflict.incident.build_report`),
the exact overlaps and documents included, and then cut here for the auditor or
admin who asked. The role gives no content: like any member, the reader sees a
notice's content only as its owner or in its audience.

- A notice version's line keeps its entry and inclusion proof, but its record
  becomes metadata (:func:`deconflict.ledger.entries.metadata`: ids, owner,
  version, kind, state, category, time span), without the salt. The map draws
  nothing of it.
- A disclosure's record (ids and digests) stays; the views it showed go only to
  their recipient and to the owner of the notice shown, as ``/v1/disclosures``.
- Alerts, delivered or raised, keep their id, type and time unless they went to
  the reader's party.
- Other parties' track reports keep their party and time: no aircraft, no position.
- What each party could see keeps owners and disclosures. That a party was in a
  notice's audience is part of that notice's content, so it is listed only for
  versions the reader may open.
"""

from __future__ import annotations

from typing import Any

from deconflict.disclosure import Viewer, sees_logged
from deconflict.ledger.entries import metadata

__all__ = ["for_reader"]

_TRACK_KEYS = ("at", "kind", "party", "ledger", "note")


def _alert_metadata(alert: dict[str, Any]) -> dict[str, Any]:
    return {"id": alert.get("id"), "type": alert.get("type"), "at": alert.get("at")} | {
        "redacted": True
    }


def _notice(line: dict[str, Any], viewer: Viewer, sealed: set[int]) -> dict[str, Any]:
    ledger = line["ledger"]
    record = ledger["record"]
    if sees_logged(viewer, record):
        return line
    sealed.add(ledger["index"])
    kept = {k: v for k, v in ledger.items() if k not in ("record", "salt")}
    return line | {"ledger": kept | {"record": metadata(record), "redacted": True}}


def _disclosure(line: dict[str, Any], viewer: Viewer) -> dict[str, Any]:
    record = line["ledger"]["record"]
    if viewer.party == record["recipient"]:
        return line
    owners = {(i["notice"], i["version"]): i["owner"] for i in record["items"]}
    views = [
        v for v in line.get("views", []) if owners.get((v["notice"], v["version"])) == viewer.party
    ]
    return line | {"views": views}


def _line(line: dict[str, Any], viewer: Viewer, sealed: set[int]) -> dict[str, Any]:
    kind, mine = line["kind"], line.get("party") == viewer.party
    if kind == "notice" and line.get("ledger") is not None:
        return _notice(line, viewer, sealed)
    if kind == "disclosure" and line.get("ledger") is not None:
        return _disclosure(line, viewer)
    if kind == "delivery" and not mine:
        return line | {"alerts": [_alert_metadata(a) for a in line.get("alerts", [])]}
    if kind == "alert" and not mine:
        alert = _alert_metadata(line["alert"])
        text = f"alert #{alert['id']} to {line['party']}: {alert['type']}"
        return line | {"text": text, "alert": alert}
    if kind == "track" and not mine:
        kept = {k: line[k] for k in _TRACK_KEYS if k in line}
        return kept | {"text": f"{line['party']} reported an aircraft here", "redacted": True}
    return line


def for_reader(report: dict[str, Any], viewer: Viewer) -> dict[str, Any]:
    """``report`` cut to what ``viewer`` may see; the proofs of what is left still check.

    A line whose record is withheld keeps its entry and inclusion proof, so
    ``deconflict verify`` still proves the entry is in the signed tree; only the
    owner and audience, who hold the record and salt, can open it.
    """
    sealed: set[int] = set()
    lines = [_line(line, viewer, sealed) for line in report["lines"]]
    notices = [
        notice
        | {
            "versions": [
                v | ({"redacted": True} if v["ledger"] in sealed else {})
                for v in notice.get("versions", [])
            ]
        }
        for notice in report["notices"]
    ]
    seen = {}
    for party, items in report["seen"].items():
        kept = [i for i in items if not (i["reason"] == "audience" and i["ledger"] in sealed)]
        if kept:
            seen[party] = kept
    return report | {"reader": viewer.party, "notices": notices, "seen": seen, "lines": lines}
