"""The one error tree of deconflict.

Every error the service can report is a subclass of :class:`DeconflictError`.
Each class carries a stable ``code``, the HTTP status the API answers with and
the exit status the CLI ends with, so one handler renders them everywhere::

    DeconflictError
    ├── BadRequest                 400  unparseable input
    ├── InvalidInput               422  well-formed but invalid
    │   ├── NotFinite, LatitudeOutOfRange, RingTooShort, RingNotClosed,
    │   │   SelfIntersection, TooManyVertices, AreaTooLarge, LongitudeSpanTooLarge,
    │   │   ContainsPole, RadiusNotPositive, UnknownAltitudeReference,
    │   │   AltitudeInverted, TimeInverted, WaypointTimesNotIncreasing,
    │   │   UnsupportedGeometry, MissingField, WrongType, InvalidValue,
    │   │   UnknownField, NotUnicode, ControlCharacter
    ├── Unauthenticated            401
    ├── Forbidden                  403
    ├── NotFound                   404
    ├── Conflict                   409
    │   ├── StaleVersion
    │   └── AwarenessMissing
    ├── PreconditionFailed         412  the caller's state forbids this (a USS marked Down)
    ├── PayloadTooLarge            413
    ├── RateLimited                429
    ├── VerificationFailed         422  a proof, signature or audit did not check out (exit 1)
    ├── StoreCorrupt               500  the store contradicts itself
    └── StoreUnavailable           503  the database cannot be reached; retry
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AltitudeInverted",
    "AreaTooLarge",
    "AwarenessMissing",
    "BadRequest",
    "Conflict",
    "ContainsPole",
    "ControlCharacter",
    "DeconflictError",
    "Forbidden",
    "InvalidInput",
    "InvalidValue",
    "LatitudeOutOfRange",
    "LongitudeSpanTooLarge",
    "MissingField",
    "NotFinite",
    "NotFound",
    "NotUnicode",
    "PayloadTooLarge",
    "PreconditionFailed",
    "RadiusNotPositive",
    "RateLimited",
    "RingNotClosed",
    "RingTooShort",
    "SelfIntersection",
    "StaleVersion",
    "StoreCorrupt",
    "StoreUnavailable",
    "TimeInverted",
    "TooManyVertices",
    "Unauthenticated",
    "UnknownAltitudeReference",
    "UnknownField",
    "UnsupportedGeometry",
    "VerificationFailed",
    "WaypointTimesNotIncreasing",
    "WrongType",
]


class DeconflictError(Exception):
    """Base of every error the product reports to a user."""

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 3

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    def at(self, prefix: str) -> DeconflictError:
        """Prefix the field path, so nested parsers can name the full path."""
        if self.field is None:
            self.field = prefix
        elif self.field.startswith("["):
            self.field = prefix + self.field
        else:
            self.field = f"{prefix}.{self.field}"
        return self

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        body.update(self.extra)
        return body


class BadRequest(DeconflictError):
    code = "bad_request"
    http_status = 400
    exit_code = 2


class InvalidInput(DeconflictError):
    code = "invalid_input"
    http_status = 422
    exit_code = 2


class MissingField(InvalidInput):
    code = "missing_field"


class WrongType(InvalidInput):
    code = "wrong_type"


class InvalidValue(InvalidInput):
    code = "invalid_value"


class UnknownField(InvalidInput):
    """A field the API does not know: a misspelt one must not pass unnoticed."""

    code = "unknown_field"


class NotUnicode(InvalidInput):
    """A string holding a lone UTF-16 surrogate, which is no Unicode text."""

    code = "not_unicode"


class ControlCharacter(InvalidInput):
    """A string holding a control character other than tab, line feed or carriage return."""

    code = "control_character"


class UnsupportedGeometry(InvalidInput):
    code = "unsupported_geometry"


class NotFinite(InvalidInput):
    code = "not_finite"


class LatitudeOutOfRange(InvalidInput):
    code = "latitude_out_of_range"


class RingTooShort(InvalidInput):
    code = "ring_too_short"


class RingNotClosed(InvalidInput):
    code = "ring_not_closed"


class SelfIntersection(InvalidInput):
    code = "self_intersection"


class TooManyVertices(InvalidInput):
    code = "too_many_vertices"


class AreaTooLarge(InvalidInput):
    code = "area_too_large"


class LongitudeSpanTooLarge(InvalidInput):
    code = "longitude_span_too_large"


class ContainsPole(InvalidInput):
    code = "contains_pole"


class RadiusNotPositive(InvalidInput):
    code = "radius_not_positive"


class UnknownAltitudeReference(InvalidInput):
    code = "unknown_altitude_reference"


class AltitudeInverted(InvalidInput):
    code = "altitude_inverted"


class TimeInverted(InvalidInput):
    code = "time_inverted"


class WaypointTimesNotIncreasing(InvalidInput):
    code = "waypoint_times_not_increasing"


class Unauthenticated(DeconflictError):
    code = "unauthenticated"
    http_status = 401
    exit_code = 4


class Forbidden(DeconflictError):
    code = "forbidden"
    http_status = 403
    exit_code = 4


class NotFound(DeconflictError):
    code = "not_found"
    http_status = 404
    exit_code = 5


class Conflict(DeconflictError):
    code = "conflict"
    http_status = 409
    exit_code = 6


class StaleVersion(Conflict):
    code = "stale_version"


class AwarenessMissing(Conflict):
    code = "awareness_missing"


class PreconditionFailed(DeconflictError):
    code = "precondition_failed"
    http_status = 412
    exit_code = 6


class PayloadTooLarge(DeconflictError):
    code = "payload_too_large"
    http_status = 413
    exit_code = 2


class RateLimited(DeconflictError):
    code = "rate_limited"
    http_status = 429
    exit_code = 7


class VerificationFailed(DeconflictError):
    code = "verification_failed"
    http_status = 422
    exit_code = 1


class StoreCorrupt(DeconflictError):
    code = "store_corrupt"
    http_status = 500
    exit_code = 3


class StoreUnavailable(DeconflictError):
    """The database is down, restarting or failing over; the same request may be retried."""

    code = "store_unavailable"
    http_status = 503
    exit_code = 3
