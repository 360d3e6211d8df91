"""Rendering errors and reading bodies: the one place HTTP meets the error tree."""

from __future__ import annotations

import json
import logging
import math
import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from deconflict import errors

__all__ = ["error_response", "read_json"]

log = logging.getLogger("deconflict.api")


def error_response(exc: errors.DeconflictError) -> JSONResponse:
    """The one renderer: ``{"error": {code, message, field?, id}}`` plus ``missing`` if any."""
    body = exc.to_dict()
    missing = body.pop("missing", None)
    retry = body.get("retry_after")
    body["id"] = uuid.uuid4().hex[:16]
    payload: dict[str, Any] = {"error": body}
    if missing is not None:
        payload["missing"] = missing
    headers = {"Retry-After": str(max(1, math.ceil(retry)))} if retry is not None else {}
    if exc.http_status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if exc.http_status >= 500:
        log.error("error %s: %s", body["id"], exc.message)
    return JSONResponse(payload, status_code=exc.http_status, headers=headers)


async def read_json(request: Request) -> Any:
    """The request body as JSON, or a 400 that says why not."""
    raw = await request.body()
    if not raw:
        raise errors.BadRequest("a JSON body is required", field="body")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise errors.BadRequest(f"the body is not valid JSON: {exc}", field="body") from None
    if b"\\ud" in raw.lower():  # only an escape can carry a lone surrogate
        where = _lone_surrogate(value, "")
        if where is not None:
            raise errors.NotUnicode(
                "a string holds a lone UTF-16 surrogate, which is no Unicode text",
                field=where or "body",
            )
    return value


def _lone_surrogate(value: Any, path: str) -> str | None:
    """The path of the first string (or key) that is not valid Unicode, or ``None``."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if _lone_surrogate(key, path) is not None:
                return path or "body"
            found = _lone_surrogate(item, inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _lone_surrogate(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None
