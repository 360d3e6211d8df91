"""Alerts over HTTP: subscriptions, the live stream (Server-Sent Events), lists and acks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from deconflict import errors
from deconflict.alerts.center import Notifier
from deconflict.api import schemas
from deconflict.api.auth import Listener, Watched, service_of
from deconflict.api.rendering import read_json

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["alerts"])

#: A comment line every this many seconds keeps idle streams (and proxies) open.
_KEEPALIVE_S = 15.0


class _HeldStream(StreamingResponse):
    """A stream that gives its party's slot back however it ends (closed, cut or failed)."""

    def __init__(self, content: AsyncIterator[str], release: Callable[[], None]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


@router.post(
    "/subscriptions",
    status_code=201,
    summary="Subscribe to notices (and optionally add a webhook); the secret is shown once",
    openapi_extra=schemas.body(schemas.SUBSCRIPTION_BODY),
    responses=schemas.json_response(201, "the subscription", schemas.OBJECT),
)
async def subscribe(request: Request, caller: Listener) -> dict[str, Any]:
    body = await read_json(request, schemas.SUBSCRIPTION_BODY)
    return await run_in_threadpool(service_of(request).alerts.subscribe, caller, body)


@router.get(
    "/subscriptions",
    summary="The caller's active subscriptions",
    responses=schemas.json_response(200, "subscriptions", schemas.LIST),
)
async def subscriptions(request: Request, caller: Listener) -> list[dict[str, Any]]:
    return await run_in_threadpool(service_of(request).alerts.subscriptions, caller)


@router.delete(
    "/subscriptions/{subscription_id}",
    summary="End a subscription",
    responses=schemas.json_response(200, "the ended subscription", schemas.OBJECT, 404),
)
async def unsubscribe(request: Request, caller: Listener, subscription_id: str) -> dict[str, Any]:
    return await run_in_threadpool(service_of(request).alerts.unsubscribe, caller, subscription_id)


@router.get(
    "/alerts",
    summary="The caller's alerts: all, undelivered or unacknowledged",
    responses=schemas.json_response(200, "alerts, oldest first", schemas.LIST, 403),
)
async def alerts(
    request: Request,
    caller: Listener,
    state: Annotated[str, Query(pattern="^(all|undelivered|unacknowledged)$")] = "all",
    after: Annotated[int, Query(ge=0, le=2**53, description="alerts after this id")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    party: Annotated[str | None, Query(description="another party (admins, auditors)")] = None,
) -> list[dict[str, Any]]:
    return await run_in_threadpool(
        service_of(request).alerts.alerts, caller, state, after, limit, party
    )


@router.get(
    "/alerts/webhooks",
    summary="Webhook deliveries not yet accepted by their receiver",
    responses=schemas.json_response(200, "pending deliveries", schemas.LIST, 403),
)
async def pending_webhooks(
    request: Request, caller: Listener, party: str | None = None
) -> list[dict[str, Any]]:
    return await run_in_threadpool(service_of(request).alerts.pending_webhooks, caller, party)


@router.post(
    "/alerts/ack",
    summary="Acknowledge alerts by id, or all up to an id",
    openapi_extra=schemas.body(schemas.ALERT_ACK_BODY),
    responses=schemas.json_response(200, "what was acknowledged, and its receipt", schemas.OBJECT),
)
async def acknowledge(request: Request, caller: Listener) -> dict[str, Any]:
    body = await read_json(request, schemas.ALERT_ACK_BODY)
    return await run_in_threadpool(service_of(request).alerts.acknowledge, caller, body)


@router.get(
    "/alerts/stream",
    summary="Live alerts as Server-Sent Events; resume with Last-Event-ID",
    description=(
        "The stream ends when the token that opened it ends: revoked, rotated out or "
        "expired. Nothing committed after that is delivered on it. A party may hold "
        "`max_streams_per_party` streams open at once on each API process; more get 429. "
        "Each alert is ledgered as delivered once, however many streams carry it."
    ),
    response_class=StreamingResponse,
    responses=schemas.raw_response("text/event-stream", "an event stream", 401, 422, 429),
)
async def stream(
    request: Request,
    watch: Watched,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    center = service_of(request).alerts
    party = watch.viewer.party
    start = await run_in_threadpool(center.start_after, watch.viewer, last_event_id)
    poll = center.settings.alert_poll_s
    center.streams.take(party)

    async def events() -> AsyncIterator[str]:
        last, idle = start, 0.0
        yield "retry: 1000\n\n"
        while True:
            woken = center.notifier.current()
            try:
                if watch.due():
                    await asyncio.to_thread(watch.confirm)
                batch = await asyncio.to_thread(center.take, party, last, 500, watch.confirm)
            except errors.Unauthenticated:
                return  # the token ended: so does the stream; a reconnection gets 401
            for alert in batch:
                data = json.dumps(alert, separators=(",", ":"))
                yield f"id: {alert['id']}\nevent: {alert['type']}\ndata: {data}\n\n"
                last = alert["id"]
            if batch:
                idle = 0.0
                continue
            await Notifier.wait(woken, poll)
            idle += poll
            if idle >= _KEEPALIVE_S:
                idle = 0.0
                yield ": keepalive\n\n"

    return _HeldStream(events(), lambda: center.streams.give_back(party))
