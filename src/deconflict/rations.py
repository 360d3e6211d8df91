"""Rations and daily tallies kept in the store, so that every API process shares them.

Each is a meter (:class:`deconflict.store.meters.Meters`): a level that drains
at a steady rate, a leaky bucket. A ration of ``n`` a minute drains ``n`` a
minute and refuses a request that would lift it past ``n``. A tally of ``n`` a
day drains ``n`` a day, and says when an addition carries it past ``n``: that
is when an owner or an admin is alerted, once, rather than on every request.

Callers take rations inside the write transaction that records what the
request showed, so a refused request records nothing and a granted one is
counted exactly once, whichever process served it.

>>> _drained(5.0, 0.0, 30.0, per_s=0.1)
2.0
>>> _drained(5.0, 0.0, 100.0, per_s=0.1)
0.0
"""

from __future__ import annotations

import json

from deconflict import errors
from deconflict.clock import Clock
from deconflict.store.protocols import Transaction

__all__ = ["Rations"]

_DAY_S = 86_400.0
#: A meter's name: what it counts, then whose (party ids, notice ids, issuers).
Key = tuple[str, ...]


def _text(key: Key) -> str:
    """One unambiguous string for the parts, whatever characters they hold."""
    return json.dumps(key, ensure_ascii=False, separators=(",", ":"))


def _drained(level: float, then: float, now: float, per_s: float) -> float:
    return max(0.0, level - max(0.0, now - then) * per_s)


class Rations:
    """Per-minute rations and per-day tallies, each under a key of string parts."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def _level(self, tx: Transaction, key: Key, per_s: float) -> tuple[float, float]:
        now = self._clock.now().timestamp()
        found = tx.meters.get(_text(key))
        return (0.0 if found is None else _drained(*found, now, per_s)), now

    def take(self, tx: Transaction, key: Key, per_minute: int) -> None:
        """Spend one of ``per_minute`` a minute under ``key``, or raise a 429."""
        per_s = per_minute / 60.0
        level, now = self._level(tx, key, per_s)
        if level + 1.0 > per_minute:
            wait = (level + 1.0 - per_minute) / per_s
            raise errors.RateLimited(
                f"too many requests; retry in {wait:.1f} s", retry_after=round(wait, 1)
            )
        tx.meters.put(_text(key), level + 1.0, now)

    def tally(self, tx: Transaction, key: Key, amount: float, per_day: float) -> bool:
        """Add ``amount`` to a tally that drains ``per_day`` a day; whether it just passed it."""
        level, now = self._level(tx, key, per_day / _DAY_S)
        tx.meters.put(_text(key), level + amount, now)
        return level <= per_day < level + amount

    def over(self, tx: Transaction, key: Key, per_day: float) -> bool:
        """Whether a tally stands above its daily allowance."""
        return self._level(tx, key, per_day / _DAY_S)[0] > per_day
