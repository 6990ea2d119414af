"""Builds the ASGI application: routes, middleware, error handlers and the lifespan."""

from __future__ import annotations

import re
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from livechat.accounts.auth import Accounts
from livechat.accounts.throttle import LoginThrottle, SharedLoginThrottle, Throttle
from livechat.api import errors as api_errors
from livechat.api.app import create_api
from livechat.api.schemas import API_PREFIX
from livechat.api.webhooks import Webhooks
from livechat.chat.attachments import MAX_PENDING, size_text
from livechat.db import Database
from livechat.logs import LogContextMiddleware
from livechat.metrics import Metrics
from livechat.realtime.tree import running_tree, supervised
from livechat.resources import STATIC
from livechat.settings import Settings
from livechat.web import (
    accounts,
    alerts,
    bots,
    lobby_socket,
    me,
    mentions,
    pages,
    people,
    profile,
    room_socket,
    rooms,
    search,
    uploads,
)
from livechat.web.csrf import CSRFMiddleware
from livechat.web.errors import error_response, install_error_handlers
from livechat.web.limits import BodyLimitMiddleware
from livechat.web.replays import SharedReplays
from livechat.web.security import SecurityHeadersMiddleware
from livechat.web.sockets import OpenSockets, SocketRoutes

# The multipart envelope around one file: boundaries, headers, the CSRF-free form fields.
UPLOAD_FORM_OVERHEAD_BYTES = 64 * 1024
# A JSON body of the API: a message of 4,000 characters, each escaped, fits several times.
API_BODY_MAX_BYTES = 64 * 1024


def stop_the_process(_error: BaseException) -> None:
    """What a dead supervision tree does by default: stop the server as a SIGTERM would.
    Under uvicorn the sockets close with 1012 and the process then ends by that signal, so
    whatever manages it (a multi-worker uvicorn, a container) starts a new one."""
    signal.raise_signal(signal.SIGTERM)


class Livechat(FastAPI):
    """FastAPI, with the live sockets served before anything else, since every layer
    between the server and a socket's handler would stay on every open socket's stack
    while acting on none of them; and with the log context ahead of the middleware FastAPI
    always adds (its error page, telemetry and body limit), so that whatever any of them
    logs or answers carries the request's id."""

    sockets = SocketRoutes(
        {
            "/rooms/{slug}/ws": room_socket.serve,
            "/lobby/ws": lobby_socket.serve,
            "/alerts/ws": alerts.serve,
        }
    )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and (route := self.sockets.find(scope)) is not None:
            scope["app"] = self
            await self.sockets.serve(scope, receive, send, *route)
            return
        await super().__call__(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        return LogContextMiddleware(super().build_middleware_stack())


class _Prefix(Mount):
    """Everything under ``path`` for ``app``, whatever else the path holds: Starlette's
    own pattern stops at a newline, which a path may hold once decoded, and the request
    would fall through to the pages' 404."""

    def __init__(self, path: str, app: ASGIApp) -> None:
        super().__init__(path, app=app)
        self.path_regex = re.compile(self.path_regex.pattern, re.DOTALL)


def _api_too_large(message: str) -> Callable[[Request], Response]:
    return lambda _request: api_errors.error(413, "too_large", message)


def create_app(
    settings: Settings | None = None,
    *,
    on_fatal: Callable[[BaseException], None] = stop_the_process,
) -> FastAPI:
    """The application. ``on_fatal`` is called if its supervision tree gives up, which
    leaves nothing live working: it must stop the process."""
    settings = settings or Settings()
    metrics = Metrics()
    sockets = OpenSockets(settings.sockets_per_user)
    metrics.open_sockets.set_function(sockets.total)
    login_throttle: Throttle = (
        SharedLoginThrottle(
            settings.redis_url,
            prefix=settings.redis_prefix,
            max_failures=settings.login_max_failures,
            window_seconds=settings.login_lockout_seconds,
        )
        if settings.redis_url
        else LoginThrottle(
            max_failures=settings.login_max_failures,
            window_seconds=settings.login_lockout_seconds,
        )
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.database_url, on_write=metrics.db_write_seconds.observe)
        metrics.db_write_queue.set_function(lambda: db.waiting_writes)
        app.state.db = db
        app.state.accounts = Accounts(db, settings)
        try:
            async with running_tree(
                db,
                uploads_dir=settings.uploads_dir,
                room_idle_seconds=settings.room_idle_seconds,
                subscriber_queue_size=settings.subscriber_queue_size,
                upload_pending_seconds=settings.upload_pending_seconds,
                on_fatal=on_fatal,
                metrics=metrics,
                redis_url=settings.redis_url or None,
                redis_prefix=settings.redis_prefix,
            ) as tree:
                metrics.room_servers.set_function(lambda: len(tree.rooms.running()))
                app.state.realtime = tree
                webhooks = Webhooks(
                    db,
                    tree.hub,
                    tree.rooms,
                    private_targets=settings.webhook_private_targets,
                    timeout_s=settings.webhook_timeout_seconds,
                )
                async with supervised("webhooks", webhooks.run):
                    yield
        finally:
            await db.dispose()
            if isinstance(login_throttle, SharedLoginThrottle):
                await login_throttle.close()

    app = Livechat(
        title="livechat", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.sockets = sockets
    app.state.replays = SharedReplays()
    app.state.login_throttle = login_throttle

    app.add_middleware(
        CSRFMiddleware,
        secret=settings.signing_key,
        secure_cookie=settings.cookie_secure,
        max_form_bytes=settings.form_max_bytes,
        refusal=error_response,
        # The API takes no cookie, so a page elsewhere has nothing to forge there.
        exempt=f"{API_PREFIX}/",
    )
    one_file = settings.upload_max_bytes + UPLOAD_FORM_OVERHEAD_BYTES
    too_large = f"That is more than the {size_text(settings.upload_max_bytes)} a request may carry."
    app.add_middleware(
        BodyLimitMiddleware,
        limits=[
            # All the files one message may carry can be chosen at once.
            (uploads.UPLOADS_PATH.pattern, MAX_PENDING * one_file, uploads.too_large_to_read),
            (
                r"/profile/avatar",
                one_file,
                partial(error_response, status_code=413, message=too_large),
            ),
            (rf"{API_PREFIX}/rooms/[^/]+/attachments", one_file, _api_too_large(too_large)),
            (rf"{API_PREFIX}/.*", API_BODY_MAX_BYTES, _api_too_large("That request is too large.")),
        ],
    )
    app.add_middleware(SecurityHeadersMiddleware)
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.router.routes.append(_Prefix(API_PREFIX, create_api(app.state)))
    routers = (
        pages.router,
        accounts.router,
        rooms.router,
        profile.router,
        me.router,
        uploads.router,
        search.router,
        mentions.router,
        people.router,
        bots.router,
    )
    for router in routers:
        app.include_router(router)
    return app
