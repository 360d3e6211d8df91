"""The webhook sender: takes due deliveries from the outbox, signs and posts them, retries.

It runs in the server's event loop. A delivery is reserved before it is sent,
marked delivered (and ledgered) only on a 2xx answer, and otherwise retried
after 1 s, 2 s, 4 s … up to ``webhook_max_backoff_s``. A crash between sending
and marking means the receiver may see an event twice: it dedupes by the
``Deconflict-Event-Id`` header. Redirects are not followed and proxies from
the environment are ignored: the service calls only the allowed hosts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse

import httpx

from deconflict.store.records import WebhookDelivery

from .center import AlertCenter, Notifier, alert_json
from .signing import EVENT_ID, sign

__all__ = ["WebhookSender"]

log = logging.getLogger("deconflict.alerts")


class WebhookSender:
    """Posts every queued webhook delivery until it is accepted."""

    def __init__(self, center: AlertCenter) -> None:
        self._center = center
        self._settings = center.settings

    async def run(self) -> None:
        async with httpx.AsyncClient(
            timeout=self._settings.webhook_timeout_s, follow_redirects=False, trust_env=False
        ) as client:
            while True:
                event = self._center.notifier.current()
                try:
                    due = await asyncio.to_thread(self._center.claim)
                    if due:
                        outcomes = await asyncio.gather(*(self._send(client, d) for d in due))
                        await asyncio.to_thread(self._center.record, outcomes)
                        continue
                    wait = await asyncio.to_thread(self._center.next_due_in)
                except Exception:  # the store is busy or gone for a moment: try again soon
                    log.exception("webhook round failed")
                    wait = None
                poll = self._settings.alert_poll_s
                await Notifier.wait(event, poll if wait is None else min(wait, poll))

    async def _send(
        self, client: httpx.AsyncClient, delivery: WebhookDelivery
    ) -> tuple[WebhookDelivery, int | None, str | None]:
        """One attempt: ``(delivery, 2xx status, None)`` or ``(delivery, None, why not)``."""
        url = delivery.subscription.webhook_url or ""
        secret = delivery.subscription.secret or ""
        if urllib.parse.urlsplit(url).hostname not in self._settings.webhook_hosts:
            return delivery, None, "host no longer allowed"
        body = json.dumps(alert_json(delivery.alert), separators=(",", ":")).encode("utf-8")
        timestamp = int(self._center.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            EVENT_ID: str(delivery.alert.seq),
            **sign(secret, body, timestamp),
        }
        try:
            response = await client.post(url, content=body, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, OSError) as exc:
            return delivery, None, f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return delivery, response.status_code, None
        return delivery, None, f"HTTP {response.status_code}"
