"""Routes for notices, conflicts, what-if checks, identification and disclosures."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from deconflict.api import schemas
from deconflict.api.auth import Caller, service_of
from deconflict.api.rendering import read_json

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["notices"])

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200, pattern="^[\x20-\x7e]+$"),
]


@router.post(
    "/notices",
    status_code=201,
    summary="File a notice; the answer lists its conflicts",
    openapi_extra=schemas.body(schemas.NOTICE_BODY),
    responses=schemas.json_response(
        201, "the stored notice and its conflicts", schemas.OBJECT, 403, 409
    ),
)
async def submit(request: Request, caller: Caller, key: IdempotencyKey = None) -> JSONResponse:
    body = await read_json(request, schemas.NOTICE_BODY)
    status, answer = await run_in_threadpool(service_of(request).submit, caller, body, key)
    return JSONResponse(answer, status_code=status)


@router.get(
    "/notices",
    summary="Notices in force the caller may see, by area, time and kind",
    responses=schemas.json_response(200, "notices", schemas.LIST),
)
async def search(
    request: Request,
    caller: Caller,
    bbox: Annotated[str | None, Query(description="west,south,east,north in degrees")] = None,
    start: Annotated[str | None, Query(description="RFC 3339")] = None,
    end: Annotated[str | None, Query(description="RFC 3339")] = None,
    kind: Annotated[str | None, Query(description="operation, protected or movement")] = None,
) -> list[dict[str, Any]]:
    return await run_in_threadpool(service_of(request).search, caller, bbox, start, end, kind)


@router.get(
    "/notices/{notice_id}",
    summary="One notice, as the caller may see it",
    responses=schemas.json_response(200, "the notice", schemas.OBJECT, 404),
)
async def get_notice(request: Request, caller: Caller, notice_id: str) -> dict[str, Any]:
    return await run_in_threadpool(service_of(request).get, caller, notice_id)


@router.put(
    "/notices/{notice_id}",
    summary="Replace a notice with a new version (body carries the current version)",
    openapi_extra=schemas.body(schemas.UPDATE_BODY),
    responses=schemas.json_response(
        200, "the new version and its conflicts", schemas.OBJECT, 403, 404, 409
    ),
)
async def update(
    request: Request, caller: Caller, notice_id: str, key: IdempotencyKey = None
) -> JSONResponse:
    body = await read_json(request, schemas.UPDATE_BODY)
    status, answer = await run_in_threadpool(
        service_of(request).update, caller, notice_id, body, key
    )
    return JSONResponse(answer, status_code=status)


@router.delete(
    "/notices/{notice_id}",
    summary="Cancel a notice (pass the current version)",
    responses=schemas.json_response(200, "the cancelled version", schemas.OBJECT, 403, 404, 409),
)
async def cancel(
    request: Request,
    caller: Caller,
    notice_id: str,
    version: Annotated[int, Query(ge=1)],
    key: IdempotencyKey = None,
) -> JSONResponse:
    status, answer = await run_in_threadpool(
        service_of(request).cancel, caller, notice_id, version, key
    )
    return JSONResponse(answer, status_code=status)


@router.get(
    "/conflicts",
    tags=["conflicts"],
    summary="Conflicts involving the caller's notices, in minimal disclosure",
    responses=schemas.json_response(200, "conflicts", schemas.LIST),
)
async def conflicts(
    request: Request,
    caller: Caller,
    status: Annotated[str, Query(pattern="^(open|resolved|all)$")] = "open",
    limit: Annotated[int, Query(ge=1, le=10_000, description="page size")] = 1000,
    offset: Annotated[int, Query(ge=0, description="conflicts to skip")] = 0,
) -> JSONResponse:
    wanted = None if status == "all" else status
    total, page = await run_in_threadpool(
        service_of(request).conflicts, caller, wanted, limit, offset
    )
    return JSONResponse(page, headers={"X-Total-Count": str(total)})


@router.post(
    "/check",
    tags=["conflicts"],
    summary="What-if: the conflicts a notice would have; nothing is stored",
    openapi_extra=schemas.body(schemas.NOTICE_BODY),
    responses=schemas.json_response(200, "would-be conflicts", schemas.OBJECT),
)
async def check(request: Request, caller: Caller) -> dict[str, Any]:
    body = await read_json(request, schemas.NOTICE_BODY)
    return await run_in_threadpool(service_of(request).check, caller, body)


@router.get(
    "/identify",
    tags=["identify"],
    summary="Whose operations cover a point at an instant",
    responses=schemas.json_response(200, "owners of covering operations", schemas.OBJECT),
)
async def identify(
    request: Request,
    caller: Caller,
    lon: float,
    lat: float,
    alt: float,
    time: str,
    alt_ref: str = "W84",
    tolerance_m: float = 0.0,
    tolerance_s: float = 0.0,
) -> dict[str, Any]:
    return await run_in_threadpool(
        service_of(request).identify,
        caller,
        lon,
        lat,
        alt,
        time,
        alt_ref,
        tolerance_m,
        tolerance_s,
    )


@router.get(
    "/disclosures",
    tags=["audit"],
    summary="Disclosure records: who was shown what of whose notice, and when",
    responses=schemas.json_response(200, "disclosures", schemas.LIST),
)
async def disclosures(
    request: Request,
    caller: Caller,
    recipient: str | None = None,
    notice_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    return await run_in_threadpool(
        service_of(request).disclosures, caller, recipient, notice_id, limit
    )


@router.post(
    "/tracks",
    tags=["tracks"],
    summary="Report aircraft positions; conformance, closest approach and incursions are checked",
    openapi_extra=schemas.body(schemas.TRACKS_BODY),
    responses=schemas.json_response(
        200, "what was taken and how many alerts it raised", schemas.OBJECT, 403
    ),
)
async def tracks(request: Request, caller: Caller) -> dict[str, Any]:
    body = await read_json(request, schemas.TRACKS_BODY)
    return await run_in_threadpool(service_of(request).tracks.ingest, caller, body)


@router.get(
    "/tracks",
    tags=["tracks"],
    summary="The caller's own aircraft, where each was last reported",
    responses=schemas.json_response(200, "aircraft", schemas.LIST),
)
async def my_tracks(
    request: Request,
    caller: Caller,
    within_s: Annotated[float, Query(gt=0, le=86_400, description="reported this recently")] = 600,
) -> list[dict[str, Any]]:
    return await run_in_threadpool(service_of(request).tracks.latest, caller, within_s)
