"""Per-party token buckets, on the injected clock's monotonic time."""

from __future__ import annotations

import threading

from deconflict import errors
from deconflict.clock import Clock

__all__ = ["RateLimiter"]


class RateLimiter:
    """Allows ``per_minute`` requests a minute per key, with bursts up to that many."""

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self._rate = per_minute / 60.0
        self._capacity = float(per_minute)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Spend one token for ``key`` or raise :class:`~deconflict.errors.RateLimited`."""
        now = self._clock.monotonic()
        with self._lock:
            tokens, then = self._buckets.get(key, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - then) * self._rate)
            if tokens < 1.0:
                wait = (1.0 - tokens) / self._rate if self._rate > 0 else 60.0
                raise errors.RateLimited(
                    f"too many requests; retry in {wait:.1f} s", retry_after=round(wait, 1)
                )
            self._buckets[key] = (tokens - 1.0, now)
