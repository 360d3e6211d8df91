"""The ledger over HTTP: C2SP tlog-tiles under ``/ledger/``, proofs and acknowledgements.

The tiles, the checkpoint and the verifier key are public and read-only: the
leaves are salted commitments, so publishing them discloses no notice.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from deconflict import errors
from deconflict.api import schemas
from deconflict.api.auth import Caller, service_of
from deconflict.api.rendering import read_json
from deconflict.ledger.log import TILE_WIDTH

__all__ = ["public", "router"]

public = APIRouter(prefix="/ledger", tags=["ledger"])
router = APIRouter(prefix="/v1", tags=["ledger"])

_TEXT = "text/plain; charset=utf-8"
_BYTES = "application/octet-stream"
_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
#: Indices and sizes beyond this cannot exist (and would overflow the store's integers).
_MAX_INDEX = 2**53


def _tile_path(path: str) -> tuple[int, int]:
    """``x001/x234/067[.p/W]`` → (index, width), as C2SP tlog-tiles encodes them."""
    parts = path.split("/")
    width = TILE_WIDTH
    if len(parts) >= 2 and parts[-2].endswith(".p"):
        w = parts.pop()
        parts[-1] = parts[-1][:-2]
        if not (w.isascii() and w.isdigit() and not w.startswith("0") and int(w) < TILE_WIDTH):
            raise errors.NotFound("a partial tile's width is 1 to 255")
        width = int(w)
    digits = [p[1:] for p in parts[:-1] if p.startswith("x")] + parts[-1:]
    if len(digits) != len(parts) or not all(
        len(d) == 3 and d.isascii() and d.isdigit() for d in digits
    ):
        raise errors.NotFound("a tile index is 3-digit path elements, all but the last 'x'-led")
    index = int("".join(digits))
    if index >= _MAX_INDEX:
        raise errors.NotFound("no such tile")
    return index, width


@public.get(
    "/checkpoint",
    summary="The newest published signed checkpoint (C2SP)",
    response_class=PlainTextResponse,
    responses=schemas.raw_response("text/plain", "the checkpoint as a signed note", 404),
)
async def checkpoint(request: Request) -> Response:
    note = await run_in_threadpool(service_of(request).ledger.published)
    return Response(note, media_type=_TEXT, headers={"Cache-Control": "no-cache, max-age=1"})


@public.get(
    "/key",
    summary="The verifier key string of the log: name+keyid+base64",
    response_class=PlainTextResponse,
    responses=schemas.raw_response("text/plain", "the verifier key, one line"),
)
async def key(request: Request) -> Response:
    return Response(service_of(request).ledger.vkey + "\n", media_type=_TEXT)


@public.get(
    "/tile/entries/{path:path}",
    summary="An entry bundle (C2SP tlog-tiles)",
    response_class=Response,
    responses=schemas.raw_response(_BYTES, "the entry bundle", 404),
)
async def entry_bundle(request: Request, path: str) -> Response:
    index, width = _tile_path(path)
    data = await run_in_threadpool(service_of(request).ledger.entry_bundle, index, width)
    return Response(data, media_type=_BYTES, headers=_IMMUTABLE)


@public.get(
    "/tile/{level}/{path:path}",
    summary="A hash tile (C2SP tlog-tiles)",
    response_class=Response,
    responses=schemas.raw_response(_BYTES, "the hash tile", 404),
)
async def tile(request: Request, level: str, path: str) -> Response:
    if not (level.isascii() and level.isdigit() and str(int(level)) == level and int(level) < 64):
        raise errors.NotFound("a tile level is 0 to 63")
    index, width = _tile_path(path)
    data = await run_in_threadpool(service_of(request).ledger.tile, int(level), index, width)
    return Response(data, media_type=_BYTES, headers=_IMMUTABLE)


@router.post(
    "/ledger/checkpoint",
    summary="Publish the newest checkpoint now",
    responses=schemas.json_response(200, "the published checkpoint", schemas.OBJECT),
)
async def publish(request: Request, caller: Caller) -> dict[str, Any]:
    ledger = service_of(request).ledger
    note = await run_in_threadpool(ledger.publish)
    return {"checkpoint": note}


@router.get(
    "/ledger/proof/inclusion",
    summary="Inclusion proof of an entry in a signed checkpoint",
    responses=schemas.json_response(200, "the proof and its checkpoint", schemas.OBJECT, 404),
)
async def inclusion(
    request: Request,
    caller: Caller,
    index: Annotated[int, Query(ge=0)],
    size: Annotated[int | None, Query(ge=1, description="default: the newest")] = None,
) -> dict[str, Any]:
    return await run_in_threadpool(service_of(request).ledger.inclusion, index, size)


@router.get(
    "/ledger/proof/consistency",
    summary="Consistency proof between two signed checkpoints",
    responses=schemas.json_response(200, "both checkpoints and the proof", schemas.OBJECT, 404),
)
async def consistency(
    request: Request,
    caller: Caller,
    old: Annotated[int, Query(alias="from", ge=0)],
    new: Annotated[int | None, Query(alias="to", ge=0, description="default: the newest")] = None,
) -> dict[str, Any]:
    return await run_in_threadpool(service_of(request).ledger.consistency, old, new)


@router.get(
    "/incident",
    summary="Incident report: what was notified near a place and time, who was told, with proofs",
    description=(
        "For auditors and admins. The timeline of notice versions whose volumes meet a circle"
        " of `radius_km` around (`lon`, `lat`) within `window_min` minutes either side of `at`,"
        " with the disclosures, acknowledgements, alert deliveries and channel changes that"
        " concern them, and the track reports in the circle. Every ledgered line carries its"
        " record, salt and inclusion proof against one signed checkpoint; `deconflict verify`"
        " checks the saved report offline. Notice content is shown only where the caller's"
        " party is the owner or in the audience: otherwise a notice line holds metadata and"
        " its entry (`redacted`), with no views, alerts or tracks of others."
    ),
    responses=schemas.json_response(200, "the report", schemas.OBJECT, 403, 404),
)
async def incident(
    request: Request,
    caller: Caller,
    at: Annotated[str, Query(description="the instant, RFC 3339")],
    lon: Annotated[float, Query()],
    lat: Annotated[float, Query()],
    radius_km: Annotated[float, Query(description="at most 1,000")] = 10.0,
    window_min: Annotated[float, Query(description="minutes either side, at most 10,080")] = 60.0,
) -> dict[str, Any]:
    return await run_in_threadpool(
        service_of(request).incident, caller, at, lon, lat, radius_km, window_min
    )


@router.get(
    "/ledger/entries/{index}",
    summary="A ledger record and its salt (auditors, admins, or a party the record names)",
    description=(
        "A notice version's record comes whole, with its salt, only to its owner and"
        " audience. Anyone else (an auditor, an admin) gets `redacted: true` and its"
        " metadata: ids, owner, version, kind, state, category, time span, never the"
        " document; the `entry` still proves it is in the log."
    ),
    responses=schemas.json_response(200, "the record", schemas.OBJECT, 404),
)
async def entry(request: Request, caller: Caller, index: int) -> dict[str, Any]:
    return await run_in_threadpool(service_of(request).acknowledgements.entry, caller, index)


@router.post(
    "/ledger/keys",
    status_code=201,
    summary="Register the caller's Ed25519 cosigning key",
    openapi_extra=schemas.body(schemas.KEY_BODY),
    responses=schemas.json_response(201, "the key and its receipt", schemas.OBJECT, 409),
)
async def register_key(request: Request, caller: Caller) -> dict[str, Any]:
    body = await read_json(request, schemas.KEY_BODY)
    return await run_in_threadpool(service_of(request).acknowledgements.register_key, caller, body)


@router.post(
    "/ledger/cosignatures",
    status_code=201,
    summary="Cosign a checkpoint: the caller had seen the log up to its size",
    openapi_extra=schemas.body(schemas.COSIGN_BODY),
    responses=schemas.json_response(201, "the logged cosignature", schemas.OBJECT, 409),
)
async def cosign(request: Request, caller: Caller) -> dict[str, Any]:
    body = await read_json(request, schemas.COSIGN_BODY)
    return await run_in_threadpool(service_of(request).acknowledgements.cosign, caller, body)


@router.get(
    "/ledger/cosignatures",
    summary="Logged cosignatures, newest tree first",
    responses=schemas.json_response(200, "cosignatures", schemas.LIST),
)
async def cosignatures(
    request: Request,
    caller: Caller,
    party: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    return await run_in_threadpool(
        service_of(request).acknowledgements.cosignatures, caller, party, limit
    )


@router.post(
    "/notices/{notice_id}/ack",
    status_code=201,
    tags=["notices"],
    summary="Acknowledge a notice version the caller received",
    openapi_extra=schemas.body(schemas.ACK_BODY),
    responses=schemas.json_response(201, "the logged acknowledgement", schemas.OBJECT, 404, 409),
)
async def ack(request: Request, caller: Caller, notice_id: str) -> dict[str, Any]:
    body = await read_json(request, schemas.ACK_BODY)
    return await run_in_threadpool(
        service_of(request).acknowledgements.ack, caller, notice_id, body
    )
