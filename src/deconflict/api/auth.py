"""Bearer-token authentication as FastAPI dependencies.

``Caller`` takes a party token. ``Listener``, on the alert routes, also takes a
USS's F3548 access token, so that a USS hears of every conflict of its intents,
those with native notices filed after them included. ``Watched`` is a listener
whose token is asked about again for as long as what it opened (a stream) lasts.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from deconflict import errors
from deconflict.disclosure import Viewer
from deconflict.service import Service

__all__ = ["Caller", "Listener", "TokenWatch", "Watched", "service_of"]

_bearer = HTTPBearer(auto_error=False, description="A party token from `deconflict party add`.")


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials is not None else None


async def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Viewer:
    token = _token(credentials)
    return await run_in_threadpool(service_of(request).accounts.authenticate, token)


Caller = Annotated[Viewer, Depends(_caller)]


def _is_jwt(token: str) -> bool:
    return not token.startswith("dcf_") and token.count(".") == 2


def _listen(request: Request, token: str | None) -> Viewer:
    """The party behind a party token or a USS's access token, or 401."""
    if token is not None and _is_jwt(token):
        facade = request.app.state.facade
        viewer: Viewer = facade.listener(f"Bearer {token}")
        return viewer
    return service_of(request).accounts.authenticate(token)


async def _listener(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Viewer:
    return await run_in_threadpool(_listen, request, _token(credentials))


Listener = Annotated[Viewer, Depends(_listener)]


class TokenWatch:
    """Whether the token that opened a long-lived answer still holds; 401 once it does not.

    A token ends when it is revoked, rotated out or expires, here or in another
    process on the same store. :meth:`confirm` asks the store again; it is called
    before each delivery, so nothing committed after the end is delivered.
    :meth:`due` says when an idle holder should call it: at once after a token
    change in this process, else every ``alert_poll_s`` (on the service's clock),
    and expiry is checked without the store at every call.
    """

    def __init__(self, request: Request, token: str | None, viewer: Viewer) -> None:
        self._request = request
        self._token = token
        self.viewer = viewer
        self._service = service_of(request)
        self._interval = self._service.settings.alert_poll_s
        self._checked_at = self._service.clock.monotonic()
        self._changes = self._service.accounts.token_changes

    def expired(self) -> bool:
        expires = self.viewer.token_expires_at
        return expires is not None and self._service.clock.now() >= expires

    def due(self) -> bool:
        """Whether to :meth:`confirm` now, though nothing is to be delivered."""
        return (
            self.expired()
            or self._service.accounts.token_changes != self._changes
            or self._service.clock.monotonic() - self._checked_at >= self._interval
        )

    def confirm(self) -> None:
        """Ask the store whether the token still holds; :class:`errors.Unauthenticated` if not.

        Blocking: call it from a worker thread.
        """
        if self.expired():
            raise errors.Unauthenticated("the token has expired")
        changes = self._service.accounts.token_changes
        self.viewer, self._changes = _listen(self._request, self._token), changes
        self._checked_at = self._service.clock.monotonic()


async def _watched(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenWatch:
    token = _token(credentials)
    viewer = await run_in_threadpool(_listen, request, token)
    return TokenWatch(request, token, viewer)


Watched = Annotated[TokenWatch, Depends(_watched)]
