"""Request bodies are limited before they are parsed.

For the routes that take files, a ``Content-Length`` over the limit is refused at once,
and a body that streams past the limit (a lying or missing length, a chunked body) is cut
off the moment it does: the client gets 413 and the application sees a disconnect, so an
oversized upload is never read whole into memory or onto disk. Each route says how it
answers such a request, as it alone knows what its page needs to hear.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The answer to a request whose body is over its route's limit: a 413 for the page.
Refusal = Callable[[Request], Response]


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limits: Sequence[tuple[str, int, Refusal]]) -> None:
        """``limits``: for each route, a pattern its whole path matches, the most bytes
        its body may have, and how it refuses more."""
        self.app = app
        self.limits = [(re.compile(pattern), limit, refusal) for pattern, limit, refusal in limits]

    def _limit(self, scope: Scope) -> tuple[int, Refusal] | None:
        if scope["type"] != "http" or scope["method"] not in {"POST", "PUT", "PATCH"}:
            return None
        for pattern, limit, refusal in self.limits:
            if pattern.fullmatch(scope["path"]):
                return limit, refusal
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._limit(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        limit, refusal = found
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await refusal(Request(scope))(scope, receive, send)
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
                    await refusal(Request(scope))(scope, receive, send)
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
