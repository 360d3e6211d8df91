"""Rendering errors and reading bodies: the one place HTTP meets the error tree."""

from __future__ import annotations

import json
import logging
import math
import re
import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from deconflict import errors
from deconflict.api import schemas

__all__ = ["check_text", "error_response", "read_json"]

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


async def read_json(request: Request, schema: dict[str, Any] | None = None) -> Any:
    """The request body as JSON, or a 4xx that says why not.

    Every string (and key) must be plain text: a lone UTF-16 surrogate is no Unicode
    (422 ``not_unicode``), and control characters other than tab, line feed and
    carriage return are refused (422 ``control_character``). With a ``schema``, a
    field it does not declare is refused (422 ``unknown_field``), so that a
    misspelt field is never dropped unnoticed.
    """
    raw = await request.body()
    if not raw:
        raise errors.BadRequest("a JSON body is required", field="body")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise errors.BadRequest(f"the body is not valid JSON: {exc}", field="body") from None
    # JSON carries a surrogate or a C0 control only as an escape; DEL may also be raw.
    if b"\\u" in raw or b"\x7f" in raw:
        try:
            _check_text(value, "")
        except RecursionError:
            raise errors.BadRequest("the body is nested too deeply", field="body") from None
    if schema is not None:
        schemas.refuse_unknown(value, schema)
    return value


#: C0 controls and DEL; text fields may hold tab, line feed and carriage return.
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_text(text: str, field: str, *, lines: bool = True) -> None:
    """Refuse ``text`` unless it is plain Unicode text, naming ``field``.

    With ``lines`` false (paths, query values) tab and line breaks are refused too.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.NotUnicode(
            "a string holds a lone UTF-16 surrogate, which is no Unicode text", field=field
        ) from None
    found = (_CONTROL_BUT_LINES if lines else _CONTROL).search(text)
    if found is not None:
        raise errors.ControlCharacter(
            f"a string holds the control character U+{ord(found.group()):04X}", field=field
        )


def _check_text(value: Any, path: str) -> None:
    """:func:`check_text` on every string and key in ``value``; a key's error names its object."""
    if isinstance(value, str):
        check_text(value, path or "body")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, path or "body")
            _check_text(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_text(item, f"{path}[{i}]")
