"""The domain model: frozen values shared by every layer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .geometry import Footprint

__all__ = [
    "AltitudeBand",
    "AltitudeReference",
    "Audience",
    "Buffers",
    "Channel",
    "Conflict",
    "ConflictKind",
    "Notice",
    "NoticeKind",
    "NoticeState",
    "Overlap",
    "Party",
    "Priority",
    "ProtectedCategory",
    "Role",
    "Route",
    "TimeWindow",
    "Volume",
]


class Role(StrEnum):
    MEMBER = "member"
    ADMIN = "admin"
    AUDITOR = "auditor"


class NoticeKind(StrEnum):
    OPERATION = "operation"
    PROTECTED = "protected"
    MOVEMENT = "movement"


class NoticeState(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    ENDED = "ended"
    CANCELLED = "cancelled"


class Priority(StrEnum):
    EMERGENCY = "emergency"
    HUMANITARIAN = "humanitarian"
    NORMAL = "normal"


class ProtectedCategory(StrEnum):
    MEDICAL = "medical"
    HUMANITARIAN = "humanitarian"
    CIVILIAN = "civilian"
    FRIENDLY_FORCES = "friendly_forces"
    CULTURAL = "cultural"
    OTHER = "other"


class AltitudeReference(StrEnum):
    W84 = "W84"
    AMSL = "AMSL"
    FL = "FL"
    AGL = "AGL"


class ConflictKind(StrEnum):
    AIRSPACE = "airspace"
    PROTECTION = "protection"


@dataclass(frozen=True)
class Party:
    id: str
    name: str
    role: Role = Role.MEMBER
    contact: str | None = None


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    members: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AltitudeBand:
    """A closed vertical interval in metres; ``None`` bounds mean SFC (lower) and UNL (upper).

    ``units`` records how the band was given, so it is shown back the same way.
    """

    lower_m: float | None
    upper_m: float | None
    reference: AltitudeReference
    units: str = "m"


@dataclass(frozen=True)
class TimeWindow:
    """A half-open UTC interval ``[start, end)``; ``end`` is ``None`` for "until cancelled"."""

    start: dt.datetime
    end: dt.datetime | None

    def contains(self, instant: dt.datetime) -> bool:
        return self.start <= instant and (self.end is None or instant < self.end)


@dataclass(frozen=True)
class Volume:
    """A 4D extent: footprint × altitude band × time window."""

    footprint: Footprint
    altitude: AltitudeBand
    time: TimeWindow


@dataclass(frozen=True)
class Route:
    """A movement's path: waypoints (lon, lat) each with a time, and a corridor half-width."""

    waypoints: tuple[tuple[float, float], ...]
    times: tuple[dt.datetime, ...]
    half_width_m: float
    altitude: AltitudeBand


@dataclass(frozen=True)
class Audience:
    parties: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Notice:
    """What a party notifies: an operation, a protected place or a movement."""

    id: str
    party: str
    kind: NoticeKind
    volumes: tuple[Volume, ...]
    version: int = 1
    state: NoticeState = NoticeState.PLANNED
    category: str | None = None
    priority: Priority = Priority.NORMAL
    audience: Audience = field(default_factory=Audience)
    aircraft: tuple[str, ...] = ()
    route: Route | None = None
    contact: str | None = None
    disclose_contact: bool = False

    @property
    def in_force(self) -> bool:
        """Only planned and active notices can conflict."""
        return self.state in (NoticeState.PLANNED, NoticeState.ACTIVE)


@dataclass(frozen=True)
class Buffers:
    """Separation buffers: lateral and vertical in metres, time in seconds."""

    lateral_m: float = 0.0
    vertical_m: float = 0.0
    time_s: float = 0.0


@dataclass(frozen=True)
class Overlap:
    """Where two volumes come within their buffers of each other.

    ``footprint`` is GeoJSON of the part of volume ``a`` within the lateral buffer
    of volume ``b`` (``None`` when too thin to draw); ``distance_m`` is 0 when the
    footprints intersect. ``share`` is how much of volume ``b`` (its buffered area
    times its window) the overlap covers, 1 where it was not measured.
    """

    a_volume: int
    b_volume: int
    footprint: dict[str, Any] | None
    distance_m: float
    altitude: tuple[float, float, str]
    time: tuple[dt.datetime, dt.datetime | None]
    share: float = 1.0


@dataclass(frozen=True)
class Conflict:
    """Two notices of different parties whose volumes come within the buffers."""

    a: str
    a_version: int
    b: str
    b_version: int
    kind: ConflictKind
    overlaps: tuple[Overlap, ...]
