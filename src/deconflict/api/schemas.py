"""JSON Schemas of request and response bodies, for the OpenAPI document.

Bodies are parsed by the core's own parsers, which name the exact field of any
error; these schemas describe the same shapes for clients and for schema-driven
testing.
"""

from __future__ import annotations

from typing import Any

from deconflict import errors

__all__ = ["COMPONENTS", "body", "json_response", "raw_response", "refuse_unknown"]


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


POSITION: dict[str, Any] = {
    "type": "array",
    "items": {"type": "number"},
    "minItems": 2,
    "maxItems": 3,
}
RING: dict[str, Any] = {"type": "array", "items": _ref("Position"), "minItems": 4}
POLYGON: dict[str, Any] = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"type": "string", "enum": ["Polygon"]},
        "coordinates": {"type": "array", "items": _ref("Ring"), "minItems": 1},
    },
}
MULTIPOLYGON: dict[str, Any] = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"type": "string", "enum": ["MultiPolygon"]},
        "coordinates": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "array", "items": _ref("Ring"), "minItems": 1},
        },
    },
}
CIRCLE: dict[str, Any] = {
    "type": "object",
    "required": ["type", "center", "radius_m"],
    "properties": {
        "type": {"type": "string", "enum": ["Circle"]},
        "center": _ref("Position"),
        "radius_m": {"type": "number", "exclusiveMinimum": 0},
    },
}
ALTITUDE: dict[str, Any] = {
    "type": "object",
    "required": ["lower", "upper", "reference"],
    "properties": {
        "lower": {"oneOf": [{"type": "number"}, {"type": "string", "enum": ["SFC"]}]},
        "upper": {"oneOf": [{"type": "number"}, {"type": "string", "enum": ["UNL"]}]},
        "reference": {"type": "string", "enum": ["W84", "AMSL", "FL", "AGL"]},
        "units": {"type": "string", "enum": ["m", "ft"]},
    },
}
TIME: dict[str, Any] = {
    "type": "object",
    "required": ["start"],
    "properties": {
        "start": {"type": "string", "format": "date-time"},
        "end": {"type": ["string", "null"], "format": "date-time"},
    },
}
VOLUME: dict[str, Any] = {
    "type": "object",
    "required": ["footprint", "altitude", "time"],
    "properties": {
        "footprint": {"oneOf": [_ref("Polygon"), _ref("MultiPolygon"), _ref("Circle")]},
        "altitude": _ref("Altitude"),
        "time": _ref("TimeWindow"),
    },
}
ROUTE: dict[str, Any] = {
    "type": "object",
    "required": ["coordinates", "waypoint_times", "corridor_half_width_m", "altitude"],
    "properties": {
        "coordinates": {"type": "array", "items": _ref("Position"), "minItems": 2},
        "waypoint_times": {"type": "array", "items": {"type": "string", "format": "date-time"}},
        "corridor_half_width_m": {"type": "number", "exclusiveMinimum": 0},
        "altitude": _ref("Altitude"),
    },
}
_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
NOTICE_FIELDS: dict[str, Any] = {
    "kind": {"type": "string", "enum": ["operation", "protected", "movement"]},
    "volumes": {"type": "array", "items": _ref("Volume"), "minItems": 1},
    "route": _ref("Route"),
    "audience": {
        "type": "object",
        "properties": {"parties": _STRINGS, "channels": _STRINGS},
    },
    "category": {"type": "string"},
    "priority": {"type": "string", "enum": ["emergency", "humanitarian", "normal"]},
    "state": {"type": "string", "enum": ["planned", "active", "ended", "cancelled"]},
    "aircraft": _STRINGS,
    "contact": {"type": ["string", "null"], "maxLength": 500, "description": "null: none"},
    "disclose_contact": {"type": "boolean"},
    "aware_of": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["id", "version"],
            "properties": {"id": {"type": "string"}, "version": {"type": "integer"}},
        },
    },
    "strict": {"type": "boolean"},
}
NOTICE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["kind"],
    "properties": NOTICE_FIELDS,
}
UPDATE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["kind", "version"],
    "properties": {**NOTICE_FIELDS, "version": {"type": "integer", "minimum": 1}},
}
PARTY_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,63}$"},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "role": {"type": "string", "enum": ["member", "admin", "auditor"]},
        "contact": {"type": ["string", "null"], "maxLength": 500, "description": "null: none"},
    },
}
CHANNEL_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,63}$"},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "members": {"type": "array", "items": {"type": "string"}},
    },
}
MEMBER_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["party"],
    "properties": {"party": {"type": "string"}},
}
ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "id"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
                "id": {"type": "string"},
            },
        },
        "missing": {"type": "array", "items": {"type": "object"}},
    },
}
KEY_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["vkey"],
    "properties": {
        "vkey": {
            "type": "string",
            "description": "Ed25519 cosigning key as a vkey of type 0x04: name+keyid+base64",
        }
    },
}
COSIGN_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["checkpoint", "cosignature"],
    "properties": {
        "checkpoint": {"type": "string", "description": "the checkpoint, signed or not"},
        "cosignature": {"type": "string", "description": "the C2SP cosignature line"},
    },
}
ACK_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["version"],
    "properties": {"version": {"type": "integer", "minimum": 1}},
}
RECEIPT: dict[str, Any] = {
    "type": "object",
    "required": ["index", "tlog_proof", "entry", "record", "salt"],
    "properties": {
        "index": {"type": "integer"},
        "tlog_proof": {"type": "string", "description": "C2SP tlog-proof text"},
        "entry": {"type": "string", "description": "base64 leaf bytes: SHA-256(salt ‖ record)"},
        "record": {"type": "object", "description": "the record, RFC 8785 canonical"},
        "salt": {"type": "string", "description": "base64"},
    },
}
SUBSCRIPTION_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "events": {
            "type": "array",
            "items": {"enum": ["notice", "conflict"]},
            "description": "default: notice (conflicts of one's own notices always stream)",
        },
        "kinds": {"type": "array", "items": {"enum": ["operation", "protected", "movement"]}},
        "area": {
            "type": "array",
            "items": {"type": "number"},
            "minItems": 4,
            "maxItems": 4,
            "description": "west, south, east, north in degrees",
        },
        "altitude": _ref("Altitude"),
        "time": _ref("TimeWindow"),
        "webhook": {
            "type": "object",
            "required": ["url"],
            "properties": {"url": {"type": "string", "description": "an allowed host only"}},
        },
    },
}
ALERT_ACK_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "ids": {
            "type": ["array", "null"],
            "items": {"type": "integer", "minimum": 1},
            "description": "either ids or up_to; null is the same as leaving it out",
        },
        "up_to": {"type": ["integer", "null"]},
    },
}
TRACKS_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["reports"],
    "properties": {
        "reports": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["aircraft", "time", "lon", "lat", "altitude"],
                "properties": {
                    "aircraft": {"type": "string"},
                    "time": {"type": "string", "format": "date-time"},
                    "lon": {"type": "number"},
                    "lat": {"type": "number"},
                    "altitude": {
                        "type": "object",
                        "required": ["value", "reference"],
                        "properties": {
                            "value": {"type": "number"},
                            "reference": {"enum": ["W84", "AMSL", "FL", "AGL"]},
                            "units": {"enum": ["m", "ft"]},
                        },
                    },
                    "velocity": {
                        "type": "object",
                        "description": "m/s",
                        "properties": {
                            "east": {"type": "number"},
                            "north": {"type": "number"},
                            "up": {"type": "number"},
                        },
                    },
                },
            },
        }
    },
}
OBJECT: dict[str, Any] = {"type": "object"}
LIST: dict[str, Any] = {"type": "array", "items": {"type": "object"}}


#: Shared shapes, published under ``components/schemas`` and referenced by name.
COMPONENTS: dict[str, dict[str, Any]] = {
    "Position": POSITION,
    "Ring": RING,
    "Polygon": POLYGON,
    "MultiPolygon": MULTIPOLYGON,
    "Circle": CIRCLE,
    "Altitude": ALTITUDE,
    "TimeWindow": TIME,
    "Volume": VOLUME,
    "Route": ROUTE,
    "NoticeBody": NOTICE_BODY,
    "NoticeUpdate": UPDATE_BODY,
    "PartyBody": PARTY_BODY,
    "ChannelBody": CHANNEL_BODY,
    "MemberBody": MEMBER_BODY,
    "KeyBody": KEY_BODY,
    "CosignBody": COSIGN_BODY,
    "AckBody": ACK_BODY,
    "Receipt": RECEIPT,
    "SubscriptionBody": SUBSCRIPTION_BODY,
    "AlertAckBody": ALERT_ACK_BODY,
    "TracksBody": TRACKS_BODY,
    "Error": ERROR,
}
_NAMES = {id(schema): name for name, schema in COMPONENTS.items()}
#: Shapes clients send; answers (errors, receipts) may grow fields.
_REQUESTS = [schema for name, schema in COMPONENTS.items() if name not in ("Error", "Receipt")]


def _close(schema: dict[str, Any]) -> None:
    """Declare, in the published document too, that an object takes no other fields."""
    if "properties" in schema:
        schema["additionalProperties"] = False
        for inner in schema["properties"].values():
            _close(inner)
    for key in ("items", "oneOf"):
        inner = schema.get(key)
        for part in inner if isinstance(inner, list) else [inner] if inner else []:
            _close(part)


for _schema in _REQUESTS:
    _close(_schema)


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return COMPONENTS[ref.rsplit("/", 1)[1]] if ref else schema


def _option(value: Any, options: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ``oneOf`` option an object is meant as: the one whose ``type`` it names."""
    if not isinstance(value, dict):
        return None
    for option in map(_resolve, options):
        if value.get("type") in option.get("properties", {}).get("type", {}).get("enum", ()):
            return option
    return None


def refuse_unknown(value: Any, schema: dict[str, Any], path: str = "") -> None:
    """Refuse the first field of ``value`` that ``schema`` does not declare (422 ``unknown_field``).

    Only shapes are walked here; types and values are the core parsers' to check.
    """
    schema = _resolve(schema)
    if "oneOf" in schema:
        chosen = _option(value, schema["oneOf"])
        if chosen is not None:
            refuse_unknown(value, chosen, path)
        return
    if isinstance(value, dict) and "properties" in schema:
        known = schema["properties"]
        prefix = f"{path}." if path else ""
        for key in value:
            if key not in known and schema.get("additionalProperties") is False:
                raise errors.UnknownField(
                    f"unknown field {key!r}; known fields are {', '.join(sorted(known))}",
                    field=f"{prefix}{key}",
                )
        for key, item in value.items():
            if key in known:
                refuse_unknown(item, known[key], f"{prefix}{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            refuse_unknown(item, schema["items"], f"{path}[{i}]")


def _named(schema: dict[str, Any]) -> dict[str, Any]:
    name = _NAMES.get(id(schema))
    return _ref(name) if name else schema


def body(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` declaring a required JSON request body."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _named(schema)}},
        }
    }


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"description": "error", "content": {"application/json": {"schema": _ref("Error")}}}
        for code in codes
    }


def json_response(
    status: int, description: str, schema: dict[str, Any], *errors_: int
) -> dict[int | str, dict[str, Any]]:
    """``responses`` for a route: its success shape and its error statuses."""
    out: dict[int | str, dict[str, Any]] = {
        status: {"description": description, "content": {"application/json": {"schema": schema}}}
    }
    return out | _errors(400, 401, 413, 422, 429, *errors_)


def raw_response(
    media_type: str, description: str, *errors_: int
) -> dict[int | str, dict[str, Any]]:
    """``responses`` for a route that answers 200 with text or bytes rather than JSON.

    Its errors are still JSON in the one error shape. 413 is listed because the body
    limit refuses an oversized request before any route sees it.
    """
    schema = (
        {"type": "string"}
        if media_type.startswith("text/")
        else {"type": "string", "format": "binary"}
    )
    out: dict[int | str, dict[str, Any]] = {
        200: {"description": description, "content": {media_type: {"schema": schema}}}
    }
    return out | _errors(413, *errors_)
