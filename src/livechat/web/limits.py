"""Request bodies are limited before they are parsed.

For the routes that take files, a ``Content-Length`` over the limit is refused at once,
and a body that streams past the limit (a lying or missing length, a chunked body) is cut
off the moment it does: the client gets 413 and the application sees a disconnect, so an
oversized upload is never read whole into memory or onto disk.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Refusal = Callable[[Request, int, str], Response]


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limits: list[tuple[str, int]], refusal: Refusal) -> None:
        self.app = app
        self.limits = [(re.compile(pattern), limit) for pattern, limit in limits]
        self.refusal = refusal

    def _limit(self, scope: Scope) -> int | None:
        if scope["type"] != "http" or scope["method"] not in {"POST", "PUT", "PATCH"}:
            return None
        for pattern, limit in self.limits:
            if pattern.fullmatch(scope["path"]):
                return limit
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self._limit(scope)
        if limit is None:
            await self.app(scope, receive, send)
            return
        message = f"That is more than the {limit // (1024 * 1024)} MB a request may carry."
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self.refusal(Request(scope), 413, message)(scope, receive, send)
            return

        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            incoming = await receive()
            if incoming["type"] == "http.request":
                received += len(incoming.get("body", b""))
                if received > limit:
                    refused = True
                    await self.refusal(Request(scope), 413, message)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return incoming

        async def guarded_send(outgoing: Message) -> None:
            if not refused:  # once refused, the application's own answer is too late
                await send(outgoing)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise
