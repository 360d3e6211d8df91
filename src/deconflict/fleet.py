"""Every aircraft's newest state, held in memory as arrays for the closest-approach pass.

The store is the truth; a :class:`Fleet` follows it by change number (see
``TrackRepo.changed``), so a process reads only the states written since it
last looked, whichever process wrote them. It is read and changed only inside
the store's write transaction, which serialises it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from deconflict.proximity import Motion
from deconflict.sphere import EARTH_RADIUS_M
from deconflict.store import Transaction
from deconflict.store.records import TrackPoint

__all__ = ["Fleet", "Now"]

_UNIX = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Columns of the state table: lon, lat, alt_lo, alt_hi, east, north, up, time (s since 1970).
_LON, _LAT, _LO, _HI, _EAST, _NORTH, _UP, _TIME = range(8)


def _seconds(t: dt.datetime) -> float:
    return (t - _UNIX).total_seconds()


class Now:
    """The fresh part of a fleet, each aircraft carried along its velocity to one instant."""

    def __init__(
        self,
        keys: list[tuple[str, str]],
        row: dict[tuple[str, str], int],
        motion: Motion,
        margins: npt.NDArray[np.float64],
        group: npt.NDArray[np.int64],
    ) -> None:
        self.keys = keys
        self.row = row  # key → index in the arrays
        self.motion = motion
        self.margins = margins  # half the altitude interval: uncertainty across datums
        self.group = group  # one number per party


class Fleet:
    def __init__(self) -> None:
        self.seq = -1  # the store change this copy has caught up to; -1: not loaded
        self._keys: list[tuple[str, str]] = []
        self._row: dict[tuple[str, str], int] = {}
        self._state = np.empty((0, 8), dtype=np.float64)
        self._party: dict[str, int] = {}
        self._group = np.empty(0, dtype=np.int64)

    def forget(self) -> None:
        """Drop everything; the next :meth:`follow` reloads from the store."""
        self.seq = -1
        self._keys, self._row, self._party = [], {}, {}
        self._state = np.empty((0, 8), dtype=np.float64)
        self._group = np.empty(0, dtype=np.int64)

    def follow(self, tx: Transaction) -> None:
        """Catch up with every state written since the last call, by any process."""
        latest, changed = tx.tracks.changed(self.seq)
        if latest < self.seq:  # the store went back (restored from a backup): start over
            self.forget()
            latest, changed = tx.tracks.changed(-1)
        self.put(changed)
        self.seq = latest

    def put(self, points: Sequence[TrackPoint]) -> None:
        """Make these the newest states of their aircraft."""
        fresh = [p for p in points if (p.party, p.aircraft) not in self._row]
        if fresh:
            grown = np.empty((len(self._keys) + len(fresh), 8), dtype=np.float64)
            grown[: len(self._keys)] = self._state
            self._state = grown
            for p in fresh:
                key = (p.party, p.aircraft)
                if key not in self._row:
                    self._row[key] = len(self._keys)
                    self._keys.append(key)
            self._state = self._state[: len(self._keys)]
            codes = [
                self._party.setdefault(p, len(self._party))
                for p, _ in self._keys[len(self._group) :]
            ]
            self._group = np.concatenate([self._group, np.array(codes, dtype=np.int64)])
        rows = np.fromiter((self._row[(p.party, p.aircraft)] for p in points), dtype=np.int64)
        self._state[rows] = np.array(
            [
                (p.lon, p.lat, p.alt_lo, p.alt_hi, p.east, p.north, p.up, _seconds(p.time))
                for p in points
            ],
            dtype=np.float64,
        ).reshape(-1, 8)

    def drop_older(self, before: dt.datetime) -> None:
        """Let go of aircraft not reported since ``before`` (they come back if reported)."""
        keep = self._state[:, _TIME] >= _seconds(before)
        if keep.all():
            return
        self._keys = [k for k, kept in zip(self._keys, keep, strict=True) if kept]
        self._row = {k: n for n, k in enumerate(self._keys)}
        self._state = self._state[keep]
        self._group = self._group[keep]

    def at(self, now: dt.datetime, since: dt.datetime) -> Now:
        """Aircraft reported since ``since``, each carried to ``now`` along its velocity."""
        recent = self._state[:, _TIME] >= _seconds(since)
        everyone = bool(recent.all())
        fresh = np.flatnonzero(recent)
        s = self._state[fresh]
        age = _seconds(now) - s[:, _TIME]
        lat = s[:, _LAT] + np.degrees(s[:, _NORTH] * age / EARTH_RADIUS_M)
        scale = np.maximum(np.cos(np.radians(s[:, _LAT])), 1e-6)
        lon = s[:, _LON] + np.degrees(s[:, _EAST] * age / (EARTH_RADIUS_M * scale))
        middle = (s[:, _LO] + s[:, _HI]) / 2
        motion = Motion(
            (lon + 180.0) % 360.0 - 180.0,
            np.clip(lat, -90.0, 90.0),
            middle + s[:, _UP] * age,
            s[:, _EAST].copy(),
            s[:, _NORTH].copy(),
            s[:, _UP].copy(),
        )
        keys = self._keys if everyone else [self._keys[n] for n in fresh]
        row = self._row if everyone else {k: n for n, k in enumerate(keys)}
        return Now(keys, row, motion, (s[:, _HI] - s[:, _LO]) / 2, self._group[fresh])
