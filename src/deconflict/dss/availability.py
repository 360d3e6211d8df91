"""USS availability, set by arbitration, and the reports USSs file with the DSS."""

from __future__ import annotations

from typing import Any

from deconflict import errors

from .references import References
from .shapes import as_object
from .subscriptions import new_id, new_version
from .tokens import AA, CM, CMSA, CP, SC, Client

__all__ = ["Availability"]

_STATES = ("Unknown", "Normal", "Down")


class Availability:
    """Availability states (a USS marked Down may not plan), and archived reports."""

    def __init__(self, refs: References) -> None:
        self.refs = refs
        self.service = refs.service

    def get(self, client: Client, uss_id: str) -> dict[str, Any]:
        client.require((AA,), (SC,), (CMSA,))
        with self.service.store.read() as tx:
            doc = self.refs.availability(tx, uss_id)
        return {
            "status": {"uss": uss_id, "availability": doc["availability"]},
            "version": doc["version"],
        }

    def set(self, client: Client, uss_id: str, body: Any) -> dict[str, Any]:
        """Mark a USS Normal, Down or Unknown, from its current version; ledgered."""
        client.require((AA,))
        body = as_object(body, "body")
        state, old = body.get("availability"), body.get("old_version", "")
        if state not in _STATES:
            raise errors.InvalidValue(
                "availability is Unknown, Normal or Down", field="availability"
            )
        if not isinstance(old, str):
            raise errors.WrongType("old_version is a string", field="old_version")
        if not uss_id or len(uss_id) > 200:
            raise errors.BadRequest("uss_id is 1–200 characters", field="uss_id")
        with self.service.ledger.write() as tx:
            current = self.refs.availability(tx, uss_id)
            if current["version"] != old:
                raise errors.BadRequest(
                    f"old_version {old!r} is not the current version {current['version']!r}",
                    field="old_version",
                )
            doc = {"availability": state, "version": new_version()}
            tx.facade.put("availability", uss_id, doc)
            self.service.ledger.log(
                tx, "dss.availability", {"by": client.sub, "uss": uss_id, "availability": state}
            )
        return {"status": {"uss": uss_id, "availability": state}, "version": doc["version"]}

    def report(self, client: Client, body: Any) -> dict[str, Any]:
        """Archive a USS's report of a communication problem; it gets an id."""
        client.require((CM,), (CP,), (SC,), (CMSA,), (AA,))
        body = as_object(body, "body")
        exchange = as_object(body.get("exchange"), "exchange")
        for name in ("url", "method", "recorder_role", "request_source"):
            if not isinstance(exchange.get(name), str):
                raise errors.MissingField(f"{name} is a required string", field=f"exchange.{name}")
        if exchange["recorder_role"] not in ("Client", "Server"):
            raise errors.InvalidValue(
                "recorder_role is Client or Server", field="exchange.recorder_role"
            )
        as_object(exchange.get("request_time"), "exchange.request_time")
        report = dict(body) | {"report_id": new_id()}
        with self.service.ledger.write() as tx:
            tx.facade.put("report", report["report_id"], {"by": client.sub, "report": report})
        return report
