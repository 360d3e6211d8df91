"""Security headers on every answer: no sniffing, no framing, a content security policy.

Every answer carries ``X-Content-Type-Options: nosniff``, ``X-Frame-Options:
DENY`` and a ``Content-Security-Policy`` with ``frame-ancestors 'none'``, so no
other site can frame the console (clickjacking) and no answer is read as
another type than it says. API answers (JSON, events, ledger tiles, errors)
allow nothing to load. The console page loads its own scripts, styles and
images and calls the API, from this origin only; it needs ``data:`` images
for its empty favicon. The docs page is the same, plus its one inline script,
allowed by its hash.

>>> inline_script_hashes("<script src='/a.js'></script><script>go()</script>")
["'sha256-5KYv+PUboo5h+0+YAtGRPbwv5d/QxzHslP4YGnUaxRw='"]
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["API_POLICY", "PAGE_POLICY", "SecurityHeaders", "inline_script_hashes", "page_policy"]

#: For everything that is not a page: nothing may load, nothing may frame it.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

#: For a page of this server: its own scripts, styles, images and API calls only.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def inline_script_hashes(html: str) -> list[str]:
    """CSP sources that allow exactly the inline scripts of ``html``."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


def page_policy(html: str) -> str:
    """:data:`PAGE_POLICY`, with the page's own inline scripts allowed by hash."""
    hashes = inline_script_hashes(html)
    if not hashes:
        return PAGE_POLICY
    return PAGE_POLICY.replace("script-src 'self'", "script-src 'self' " + " ".join(hashes))


class SecurityHeaders:
    """Sets the headers on every HTTP answer; ``pages`` maps a path to its page policy."""

    def __init__(self, app: ASGIApp, pages: Mapping[str, str]) -> None:
        self.app = app
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.pages.get(scope["path"], API_POLICY)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Content-Security-Policy"] = policy
            await send(message)

        await self.app(scope, receive, with_headers)
