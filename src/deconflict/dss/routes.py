"""HTTP routes of the F3548 facade under ``/dss/v1``.

The contract is the standard's own OpenAPI document, so these routes stay out
of the service's ``/openapi.json``. Errors take the standard's ``ErrorResponse``
shape, ``{"message": …}``, with the service's ``code`` and ``field`` beside it;
invalid input is 400 as the standard documents, and too large an area 413.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from deconflict import errors
from deconflict.api.rendering import read_json

from .facade import Facade
from .tokens import Client

__all__ = ["router"]

router = APIRouter(prefix="/dss/v1", include_in_schema=False)

Work = Callable[[Facade, Client, Any], "tuple[int, dict[str, Any]] | dict[str, Any]"]


def _status(exc: errors.DeconflictError, area_status: int) -> int:
    if isinstance(exc, errors.AreaTooLarge):
        return area_status
    if isinstance(exc, errors.InvalidInput):
        return 400
    return exc.http_status


def render(exc: errors.DeconflictError, area_status: int = 413) -> JSONResponse:
    """An error in the standard's ``ErrorResponse`` shape, naming the field.

    Too large an area is 413 where the standard documents it, else 400.
    """
    body: dict[str, Any] = {
        "message": f"{exc.field}: {exc.message}" if exc.field else exc.message,
        "code": exc.code,
    }
    if exc.field:
        body["field"] = exc.field
    status = _status(exc, area_status)
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="dss"'
    retry = exc.extra.get("retry_after")
    if retry is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry)))
    return JSONResponse(body, status_code=status, headers=headers)


async def _answer(
    request: Request, work: Work, *, body: bool = False, area_status: int = 413
) -> JSONResponse:
    facade: Facade = request.app.state.facade
    try:
        client = facade.tokens.verify(request.headers.get("authorization"))
        payload = await read_json(request) if body else None
        result = await run_in_threadpool(work, facade, client, payload)
    except errors.DeconflictError as exc:
        return render(exc, area_status)
    status, answer = result if isinstance(result, tuple) else (200, result)
    return JSONResponse(answer, status_code=status)


_OIR = "/operational_intent_references"
_CR = "/constraint_references"


@router.post(_OIR + "/query")
async def query_intents(request: Request) -> JSONResponse:
    return await _answer(request, lambda f, c, b: f.query(c, "oir", b), body=True)


@router.get(_OIR + "/{entityid}")
async def get_intent(request: Request, entityid: str) -> JSONResponse:
    return await _answer(request, lambda f, c, _: f.get(c, "oir", entityid))


@router.put(_OIR + "/{entityid}")
async def create_intent(request: Request, entityid: str) -> JSONResponse:
    return await _answer(
        request, lambda f, c, b: f.entities.put_operational_intent(c, entityid, None, b), body=True
    )


@router.put(_OIR + "/{entityid}/{ovn}")
async def update_intent(request: Request, entityid: str, ovn: str) -> JSONResponse:
    return await _answer(
        request, lambda f, c, b: f.entities.put_operational_intent(c, entityid, ovn, b), body=True
    )


@router.delete(_OIR + "/{entityid}/{ovn}")
async def delete_intent(request: Request, entityid: str, ovn: str) -> JSONResponse:
    return await _answer(request, lambda f, c, _: f.entities.delete(c, "oir", entityid, ovn))


@router.post(_CR + "/query")
async def query_constraints(request: Request) -> JSONResponse:
    return await _answer(request, lambda f, c, b: f.query(c, "constraint", b), body=True)


@router.get(_CR + "/{entityid}")
async def get_constraint(request: Request, entityid: str) -> JSONResponse:
    return await _answer(request, lambda f, c, _: f.get(c, "constraint", entityid))


@router.put(_CR + "/{entityid}")
async def create_constraint(request: Request, entityid: str) -> JSONResponse:
    return await _answer(
        request, lambda f, c, b: f.entities.put_constraint(c, entityid, None, b), body=True
    )


@router.put(_CR + "/{entityid}/{ovn}")
async def update_constraint(request: Request, entityid: str, ovn: str) -> JSONResponse:
    return await _answer(
        request, lambda f, c, b: f.entities.put_constraint(c, entityid, ovn, b), body=True
    )


@router.delete(_CR + "/{entityid}/{ovn}")
async def delete_constraint(request: Request, entityid: str, ovn: str) -> JSONResponse:
    return await _answer(request, lambda f, c, _: f.entities.delete(c, "constraint", entityid, ovn))


@router.post("/subscriptions/query")
async def query_subscriptions(request: Request) -> JSONResponse:
    return await _answer(request, lambda f, c, b: f.subscriptions.query(c, b), body=True)


@router.get("/subscriptions/{subscriptionid}")
async def get_subscription(request: Request, subscriptionid: str) -> JSONResponse:
    return await _answer(request, lambda f, c, _: f.subscriptions.get(c, subscriptionid))


@router.put("/subscriptions/{subscriptionid}")
async def create_subscription(request: Request, subscriptionid: str) -> JSONResponse:
    return await _answer(
        request,
        lambda f, c, b: f.subscriptions.put(c, subscriptionid, None, b),
        body=True,
        area_status=400,
    )


@router.put("/subscriptions/{subscriptionid}/{version}")
async def update_subscription(request: Request, subscriptionid: str, version: str) -> JSONResponse:
    return await _answer(
        request,
        lambda f, c, b: f.subscriptions.put(c, subscriptionid, version, b),
        body=True,
        area_status=400,
    )


@router.delete("/subscriptions/{subscriptionid}/{version}")
async def delete_subscription(request: Request, subscriptionid: str, version: str) -> JSONResponse:
    return await _answer(
        request, lambda f, c, _: f.subscriptions.delete(c, subscriptionid, version)
    )


@router.post("/reports")
async def report(request: Request) -> JSONResponse:
    return await _answer(request, lambda f, c, b: (201, f.availability.report(c, b)), body=True)


@router.get("/uss_availability/{uss_id}")
async def get_availability(request: Request, uss_id: str) -> JSONResponse:
    return await _answer(request, lambda f, c, _: f.availability.get(c, uss_id))


@router.put("/uss_availability/{uss_id}")
async def set_availability(request: Request, uss_id: str) -> JSONResponse:
    return await _answer(request, lambda f, c, b: f.availability.set(c, uss_id, b), body=True)
