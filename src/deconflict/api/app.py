"""The HTTP API: an app composed from the service, the error renderer and the routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import swagger_ui_bundle  # type: ignore[import-untyped]
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deconflict import __version__, errors
from deconflict.alerts.webhooks import WebhookSender
from deconflict.api import routes_accounts, routes_alerts, routes_ledger, routes_notices, schemas
from deconflict.api.headers import PAGE_POLICY, SecurityHeaders, page_policy
from deconflict.api.rendering import check_text, error_response
from deconflict.console import mount_console
from deconflict.dss import routes as routes_dss
from deconflict.dss.facade import Facade
from deconflict.service import Service

__all__ = ["create_app"]

log = logging.getLogger("deconflict.api")


def _validation_field(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text or "request"


class _BodyLimit:
    """Refuses request bodies over the configured size with 413, before reading them all."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = errors.PayloadTooLarge(
            f"the request body exceeds {self.limit} bytes", field="body"
        )
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await error_response(too_big)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise errors.PayloadTooLarge(
                        f"the request body exceeds {self.limit} bytes", field="body"
                    )
            return message

        await self.app(scope, limited, send)


class _PlainText:
    """Refuses a path or query that is not plain text (422), before any route runs.

    A NUL in ``/v1/notices/%00`` would otherwise reach the store, which PostgreSQL
    cannot hold in text; ``%ED%A0%80`` would be read as U+FFFD and looked up as such.
    Bodies are checked as they are read (``read_json``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                _check_url(scope)
            except errors.InvalidInput as exc:
                facade = scope["path"].startswith("/dss/")
                answer = routes_dss.render(exc) if facade else error_response(exc)
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _check_url(scope: Scope) -> None:
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogatepass")
    try:
        unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        raise errors.NotUnicode("the path's escapes are not UTF-8 text", field="path") from None
    query = scope.get("query_string", b"").decode("latin-1")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise errors.NotUnicode("the query's escapes are not UTF-8 text", field="query") from None
    check_text(scope["path"], "path", lines=False)
    for name, value in pairs:
        check_text(name, "query", lines=False)
        check_text(value, name, lines=False)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method the path answers, for the ``Allow`` a 405 must carry (RFC 9110, 15.5.6).

    Starlette's own ``Allow`` names only the first route on the path, and ``GET`` and
    ``POST /v1/notices`` are two routes. Mounted static files answer ``GET`` and ``HEAD``.
    """
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return ", ".join(allowed or ("GET", "HEAD"))


_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def _document_validation_errors(document: dict[str, Any]) -> None:
    """Document the 422 that ``_validation`` renders, not FastAPI's ``{"detail": [...]}``.

    FastAPI adds its own 422 to every route with parameters that does not declare one.
    """
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422")
            if answer is None:
                continue
            content = answer.get("content", {}).get("application/json", {})
            if content.get("schema") == {"$ref": _FASTAPI_422}:
                content["schema"] = {"$ref": "#/components/schemas/Error"}
                answer["description"] = "error"
    components = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


async def _publish_checkpoints(service: Service) -> None:
    """Publish the newest signed checkpoint every ``checkpoint_interval_s``."""
    while True:
        await asyncio.sleep(service.settings.checkpoint_interval_s)
        try:
            await run_in_threadpool(service.ledger.publish_if_new)
        except Exception:  # the next round retries; serving goes on meanwhile
            log.exception("publishing a checkpoint failed")


class _App(FastAPI):
    """FastAPI, with the security headers outside even the handler of unexpected errors.

    Starlette puts its ``ServerErrorMiddleware`` (which renders a 500) outside every
    added middleware; wrapping the whole stack gives a 500 the headers too.
    """

    def __init__(self, *, pages: dict[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pages = pages

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), self.pages)


def _docs_page() -> bytes:
    """Interactive docs from the installed swagger-ui-bundle package: no CDN, works offline."""
    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="deconflict API",
        swagger_js_url="/docs-assets/swagger-ui-bundle.js",
        swagger_css_url="/docs-assets/swagger-ui.css",
        swagger_favicon_url="/docs-assets/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from the web
    )
    return bytes(page.body)


def create_app(service: Service) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.alerts.notifier.bind(asyncio.get_running_loop())
        tasks = [
            asyncio.create_task(_publish_checkpoints(service)),
            asyncio.create_task(WebhookSender(service.alerts).run()),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError):
                    await task

    docs_page = _docs_page()
    app = _App(
        pages={"/": PAGE_POLICY, "/docs": page_policy(docs_page.decode("utf-8"))},
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        title="deconflict",
        version=__version__,
        description=(
            "Parties notify each other of 4D operations, protected places and movements; "
            "every conflict is found exactly, and each party sees only what safety needs."
        ),
    )
    app.state.service = service
    app.state.facade = Facade(service)

    @app.exception_handler(errors.DeconflictError)
    async def _domain(request: Request, exc: errors.DeconflictError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        if first.get("type") == "json_invalid":
            return error_response(errors.BadRequest("the body is not valid JSON", field="body"))
        field = _validation_field(tuple(first.get("loc", ())))
        return error_response(errors.InvalidValue(str(first.get("msg")), field=field))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        cls: type[errors.DeconflictError] = {
            404: errors.NotFound,
            401: errors.Unauthenticated,
            403: errors.Forbidden,
        }.get(exc.status_code, errors.BadRequest)
        error = cls(str(exc.detail))
        response = error_response(error)
        response.status_code = exc.status_code
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = _allowed_methods(request)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        error = errors.DeconflictError("internal error; the request was not applied")
        log.exception("unexpected error", exc_info=exc)
        return error_response(error)

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), "docs")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(docs_page)

    @app.get("/healthz", tags=["service"], summary="Liveness and store check")
    def healthz() -> dict[str, str]:
        with service.store.read():
            pass
        return {"status": "ok", "version": __version__}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _document_validation_errors(document)
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                schemas.COMPONENTS
            )
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.include_router(routes_notices.router)
    app.include_router(routes_accounts.router)
    app.include_router(routes_ledger.router)
    app.include_router(routes_alerts.router)
    app.include_router(routes_ledger.public)
    app.include_router(routes_dss.router)
    mount_console(app)
    app.add_middleware(_BodyLimit, limit=service.settings.max_body_bytes)
    app.add_middleware(_PlainText)
    return app
