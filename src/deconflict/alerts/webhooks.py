"""The webhook sender: takes due deliveries from the outbox, signs and posts them, retries.

It runs in the server's event loop. A delivery is reserved before it is sent,
marked delivered (and ledgered) only on a 2xx answer, and otherwise retried
after 1 s, 2 s, 4 s … up to ``webhook_max_backoff_s``. A crash between sending
and marking means the receiver may see an event twice: it dedupes by the
``Deconflict-Event-Id`` header. Redirects are not followed and proxies from
the environment are ignored: the service calls only the allowed hosts and ports.
"""

from __future__ import annotations

import asyncio
import json
import logging

import httpx

from deconflict.store.records import WebhookDelivery

from .center import AlertCenter, Notifier, alert_json
from .destinations import allows
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
    ) -> tuple[WebhookDelivery, int | None]:
        """One attempt: ``(delivery, 2xx status)``, or ``(delivery, None)`` with why logged."""
        url = delivery.subscription.webhook_url or ""
        secret = delivery.subscription.secret or ""
        if not allows(self._settings.webhook_hosts, url):
            return self._failed(delivery, "its host and port are no longer allowed")
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
            return self._failed(delivery, f"{type(exc).__name__}: {exc}")
        if 200 <= response.status_code < 300:
            return delivery, response.status_code
        return self._failed(delivery, f"HTTP {response.status_code}")

    @staticmethod
    def _failed(delivery: WebhookDelivery, why: str) -> tuple[WebhookDelivery, None]:
        """A failed attempt, with why in the log only.

        The party sees ``failed`` for every failure alike, so that its webhooks cannot
        tell an open port from a closed one.
        """
        log.warning(
            "webhook attempt %d of alert %d to subscription %s (%s) failed: %s",
            delivery.attempts + 1,
            delivery.alert.seq,
            delivery.subscription.id,
            delivery.subscription.webhook_url,
            why,
        )
        return delivery, None
