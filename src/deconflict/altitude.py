"""Altitude bands across datums, compared conservatively.

Bands in the same reference are compared directly. Bands in different
references are each widened into a W84 (ellipsoid) interval that surely
contains them, using the margins of :class:`DatumMargins`; never a guess.

>>> from deconflict.model import AltitudeBand, AltitudeReference as R
>>> a = AltitudeBand(1000.0, 2000.0, R.AMSL)
>>> b = AltitudeBand(2100.0, 3000.0, R.W84)
>>> vertical_gap(a, b, DatumMargins())   # 100 m apart, but the geoid may close it
-10.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .model import AltitudeBand, AltitudeReference

__all__ = ["FEET", "DatumMargins", "direct_interval", "vertical_gap", "w84_interval"]

FEET = 0.3048


@dataclass(frozen=True)
class DatumMargins:
    """How far each reference may sit from the W84 ellipsoid height, in metres.

    - ``geoid_m``: the geoid (mean sea level) lies within about −107 m to +86 m
      of the ellipsoid worldwide (EGM2008), so 110 m covers it.
    - ``pressure_m``: a flight level is a pressure altitude; non-standard
      pressure and temperature move it from true altitude. 600 m covers
      QNH 950–1050 hPa and typical temperature deviations below FL 300.
    - ``terrain_min_m`` / ``terrain_max_m``: ground elevation (AMSL) of the
      deployment's region, for AGL bands and SFC; the world default is the
      Dead Sea shore to the top of Everest. Set a tighter range per region.
    """

    geoid_m: float = 110.0
    pressure_m: float = 600.0
    terrain_min_m: float = -430.0
    terrain_max_m: float = 8_850.0


def w84_interval(band: AltitudeBand, margins: DatumMargins) -> tuple[float, float]:
    """A W84 interval that surely contains the band.

    >>> from deconflict.model import AltitudeBand, AltitudeReference as R
    >>> local = DatumMargins(terrain_min_m=0, terrain_max_m=500)
    >>> w84_interval(AltitudeBand(0.0, 120.0, R.AGL), local)
    (-110.0, 730.0)
    """
    ref = band.reference
    if ref is AltitudeReference.W84:
        widen = 0.0
    elif ref is AltitudeReference.AMSL:
        widen = margins.geoid_m
    elif ref is AltitudeReference.FL:
        widen = margins.geoid_m + margins.pressure_m
    else:
        widen = margins.geoid_m
    lower = band.lower_m
    upper = band.upper_m
    if ref is AltitudeReference.AGL:
        lo = (0.0 if lower is None else lower) + margins.terrain_min_m - widen
        hi = math.inf if upper is None else upper + margins.terrain_max_m + widen
        return lo, hi
    lo = -math.inf if lower is None else lower - widen
    hi = math.inf if upper is None else upper + widen
    return lo, hi


def direct_interval(band: AltitudeBand) -> tuple[float, float]:
    """The band as an interval in its own reference; SFC is 0 only above ground level."""
    floor = 0.0 if band.reference is AltitudeReference.AGL else -math.inf
    return (
        floor if band.lower_m is None else band.lower_m,
        math.inf if band.upper_m is None else band.upper_m,
    )


def vertical_gap(a: AltitudeBand, b: AltitudeBand, margins: DatumMargins) -> float:
    """Metres between two bands; zero or negative when they touch or overlap."""
    if a.reference is b.reference:
        lo_a, hi_a = direct_interval(a)
        lo_b, hi_b = direct_interval(b)
    else:
        lo_a, hi_a = w84_interval(a, margins)
        lo_b, hi_b = w84_interval(b, margins)
    return max(lo_a, lo_b) - min(hi_a, hi_b)
