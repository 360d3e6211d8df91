"""Webhook signatures: HMAC-SHA256 over a timestamp and the body, replay protected.

The service sends three headers with every webhook:

- ``Deconflict-Event-Id``: the alert's event id; receivers dedupe by it, since a
  delivery may be repeated after a crash or a timeout;
- ``Deconflict-Timestamp``: seconds since the epoch when this attempt was signed;
- ``Deconflict-Signature``: ``v1=`` and the hex HMAC-SHA256, keyed with the
  subscription's secret, of ``<timestamp>.<body>``.

A receiver recomputes the HMAC and refuses a timestamp older than a few minutes,
so a captured request cannot be replayed later.

>>> headers = sign("whsec_test", b'{"id": 1}', 1_700_000_000)
>>> verify("whsec_test", b'{"id": 1}', headers, now=1_700_000_010)
True
>>> verify("whsec_test", b'{"id": 2}', headers, now=1_700_000_010)
False
>>> verify("whsec_test", b'{"id": 1}', headers, now=1_700_001_000)
False
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

__all__ = ["EVENT_ID", "SIGNATURE", "TIMESTAMP", "TOLERANCE_S", "sign", "verify"]

EVENT_ID = "Deconflict-Event-Id"
TIMESTAMP = "Deconflict-Timestamp"
SIGNATURE = "Deconflict-Signature"
#: How old a signed timestamp a receiver should accept.
TOLERANCE_S = 300


def _mac(secret: str, body: bytes, timestamp: int) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The timestamp and signature headers for one attempt."""
    return {TIMESTAMP: str(timestamp), SIGNATURE: f"v1={_mac(secret, body, timestamp)}"}


def verify(
    secret: str, body: bytes, headers: Mapping[str, str], now: float, tolerance: float = TOLERANCE_S
) -> bool:
    """What a receiver checks: a fresh timestamp and a matching signature."""
    lowered = {k.lower(): v for k, v in headers.items()}
    stamp = lowered.get(TIMESTAMP.lower(), "")
    signature = lowered.get(SIGNATURE.lower(), "")
    if not stamp.isascii() or not stamp.isdigit() or abs(now - int(stamp)) > tolerance:
        return False
    expected = f"v1={_mac(secret, body, int(stamp))}"
    return hmac.compare_digest(expected, signature)
