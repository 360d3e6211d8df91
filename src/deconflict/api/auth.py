"""Bearer-token authentication as a FastAPI dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from deconflict.disclosure import Viewer
from deconflict.service import Service

__all__ = ["Caller", "service_of"]

_bearer = HTTPBearer(auto_error=False, description="A party token from `deconflict party add`.")


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Viewer:
    token = credentials.credentials if credentials is not None else None
    return await run_in_threadpool(service_of(request).accounts.authenticate, token)


Caller = Annotated[Viewer, Depends(_caller)]
