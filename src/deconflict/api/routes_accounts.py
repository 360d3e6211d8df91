"""Routes for parties and channels (writes are admin only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from deconflict import errors
from deconflict.api import schemas
from deconflict.api.auth import Caller, service_of
from deconflict.api.rendering import read_json
from deconflict.interchange import format_instant

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["parties and channels"])


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.WrongType("the body must be a JSON object", field="body")
    return body


@router.get(
    "/me", summary="The calling party", responses=schemas.json_response(200, "me", schemas.OBJECT)
)
async def me(caller: Caller) -> dict[str, Any]:
    expires = caller.token_expires_at
    return {
        "party": caller.party,
        "role": caller.role.value,
        "channels": sorted(caller.channels),
        "token_expires_at": None if expires is None else format_instant(expires),
    }


@router.post(
    "/parties",
    status_code=201,
    summary="Create a party (admin); its token is shown only in this answer",
    openapi_extra=schemas.body(schemas.PARTY_BODY),
    responses=schemas.json_response(201, "the party and its token", schemas.OBJECT, 403, 409),
)
async def add_party(request: Request, caller: Caller) -> JSONResponse:
    body = _object(await read_json(request, schemas.PARTY_BODY))
    accounts = service_of(request).accounts
    party, token = await run_in_threadpool(
        accounts.add_party,
        caller,
        body.get("id"),
        body.get("name"),
        body.get("role", "member"),
        body.get("contact"),
    )
    return JSONResponse({"party": party, "token": token}, status_code=201)


@router.post(
    "/parties/{party_id}/token",
    summary="A new token for a party (itself, or an admin); the old one stops working at once",
    responses=schemas.json_response(
        200, "the new token, shown only here", schemas.OBJECT, 403, 404
    ),
)
async def rotate_token(request: Request, caller: Caller, party_id: str) -> dict[str, Any]:
    answer, token = await run_in_threadpool(
        service_of(request).accounts.rotate_token, caller, party_id
    )
    return answer | {"token": token}


@router.delete(
    "/parties/{party_id}/token",
    summary="Revoke a party's token (admin): nothing authenticates as it until a rotation",
    responses=schemas.json_response(200, "revoked", schemas.OBJECT, 403, 404),
)
async def revoke_token(request: Request, caller: Caller, party_id: str) -> dict[str, Any]:
    return await run_in_threadpool(service_of(request).accounts.revoke_token, caller, party_id)


@router.get(
    "/parties",
    summary="Every party's id, name and role",
    responses=schemas.json_response(200, "parties", schemas.LIST),
)
async def list_parties(request: Request, caller: Caller) -> list[dict[str, Any]]:
    return await run_in_threadpool(service_of(request).accounts.list_parties, caller)


@router.post(
    "/channels",
    status_code=201,
    summary="Create a channel (admin)",
    openapi_extra=schemas.body(schemas.CHANNEL_BODY),
    responses=schemas.json_response(201, "the channel", schemas.OBJECT, 403, 409),
)
async def add_channel(request: Request, caller: Caller) -> JSONResponse:
    body = _object(await read_json(request, schemas.CHANNEL_BODY))
    channel = await run_in_threadpool(
        service_of(request).accounts.add_channel,
        caller,
        body.get("id"),
        body.get("name"),
        body.get("members", []),
    )
    return JSONResponse(channel, status_code=201)


@router.get(
    "/channels",
    summary="Channels (members see their own; admins and auditors all)",
    responses=schemas.json_response(200, "channels", schemas.LIST),
)
async def list_channels(request: Request, caller: Caller) -> list[dict[str, Any]]:
    return await run_in_threadpool(service_of(request).accounts.list_channels, caller)


@router.post(
    "/channels/{channel_id}/members",
    summary="Add a party to a channel (admin)",
    openapi_extra=schemas.body(schemas.MEMBER_BODY),
    responses=schemas.json_response(200, "the channel", schemas.OBJECT, 403, 404),
)
async def join(request: Request, caller: Caller, channel_id: str) -> dict[str, Any]:
    body = _object(await read_json(request, schemas.MEMBER_BODY))
    return await run_in_threadpool(
        service_of(request).accounts.change_membership, caller, channel_id, body.get("party"), True
    )


@router.delete(
    "/channels/{channel_id}/members/{party_id}",
    summary="Remove a party from a channel (admin)",
    responses=schemas.json_response(200, "the channel", schemas.OBJECT, 403, 404),
)
async def leave(request: Request, caller: Caller, channel_id: str, party_id: str) -> dict[str, Any]:
    return await run_in_threadpool(
        service_of(request).accounts.change_membership, caller, channel_id, party_id, False
    )
