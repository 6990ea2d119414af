"""Cross-site request forgery protection for every unsafe request.

Each browser gets a random ``livechat_csrf`` cookie; the token pages embed is an HMAC of it
under the server's secret, so a token cannot be forged, nor planted along with a cookie
from a sibling domain. An unsafe request must carry the token either as the ``X-CSRF-Token``
header (htmx sends it from ``hx-headers`` on ``<body>``) or as the ``csrf_token`` field of a
url-encoded form. Anything else is refused with 403 before the application sees it.

Url-encoded bodies are read here, at most ``max_form_bytes`` of them (413 beyond), and
replayed to the application unchanged. Other bodies are not read: they need the header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request, cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "livechat_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def sign(secret: str, browser_id: str) -> str:
    return hmac.new(secret.encode(), browser_id.encode(), hashlib.sha256).hexdigest()


def _same_token(submitted: str, expected: str) -> bool:
    # Compared as bytes: compare_digest refuses text that is not ASCII with a TypeError,
    # and what was submitted may be anything. Headers and the form are read as latin-1.
    return hmac.compare_digest(submitted.encode("latin-1"), expected.encode())


class CSRFMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: str,
        secure_cookie: bool,
        max_form_bytes: int,
        refusal: Callable[[Request, int, str], Response],
        exempt: str | None = None,
    ) -> None:
        """``exempt``: where paths start that take no cookie, and so need no token."""
        self.app = app
        self.exempt = exempt
        self.refusal = refusal
        self.secret = secret
        self.secure_cookie = secure_cookie
        self.max_form_bytes = max_form_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.exempt and scope["path"].startswith(self.exempt)):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        browser_id = cookie_parser(headers.get("cookie", "")).get(CSRF_COOKIE)
        fresh = browser_id is None or len(browser_id) != 43
        if fresh:
            browser_id = secrets.token_urlsafe(32)
        assert browser_id is not None
        expected = sign(self.secret, browser_id)
        scope.setdefault("state", {})["csrf_token"] = expected

        if scope["method"] not in SAFE_METHODS:
            submitted = headers.get(CSRF_HEADER)
            if submitted is None and _is_urlencoded(headers):
                body = await _read_body(receive, self.max_form_bytes)
                if body is None:
                    await self.refusal(Request(scope), 413, "This form is too large.")(
                        scope, receive, send
                    )
                    return
                submitted = parse_qs(body.decode("latin-1")).get(CSRF_FIELD, [None])[0]
                receive = _replay(body)
            if fresh or submitted is None or not _same_token(submitted, expected):
                refusal = self.refusal(
                    Request(scope),
                    403,
                    "This form has expired or did not come from this site."
                    " Go back, reload the page and try again.",
                )
                await refusal(scope, receive, send)
                return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and fresh:
                cookie = f"{CSRF_COOKIE}={browser_id}; Path=/; HttpOnly; SameSite=Lax"
                if self.secure_cookie:
                    cookie += "; Secure"
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _is_urlencoded(headers: Headers) -> bool:
    content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    return content_type == "application/x-www-form-urlencoded"


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive
