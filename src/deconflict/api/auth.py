"""Bearer-token authentication as FastAPI dependencies.

``Caller`` takes a party token. ``Listener``, on the alert routes, also takes a
USS's F3548 access token, so that a USS hears of every conflict of its intents,
those with native notices filed after them included.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from deconflict.disclosure import Viewer
from deconflict.service import Service

__all__ = ["Caller", "Listener", "service_of"]

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


def _is_jwt(token: str) -> bool:
    return not token.startswith("dcf_") and token.count(".") == 2


async def _listener(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Viewer:
    token = credentials.credentials if credentials is not None else None
    if token is not None and _is_jwt(token):
        facade = request.app.state.facade
        return await run_in_threadpool(facade.listener, f"Bearer {token}")
    return await run_in_threadpool(service_of(request).accounts.authenticate, token)


Listener = Annotated[Viewer, Depends(_listener)]
