"""``/me.css``: the per-person part of the look, as a stylesheet from our own origin.

Live fragments are rendered once for everyone, so they cannot say "this is yours". They
carry ``data-author-id`` and ``data-viewer`` attributes instead, and this stylesheet, made
for the person asking, styles their own messages, shows them their delete buttons and
leaves them out of the typing line. A strict CSP allows no inline style; this is the
CSP-friendly equivalent of a per-page rule.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from livechat.web.deps import MaybeUser
from livechat.web.templating import templates

router = APIRouter()


@router.get("/me.css")
async def my_styles(request: Request, user: MaybeUser) -> Response:
    css = templates.get_template("me.css").render(user=user) if user else ""
    return Response(
        css,
        media_type="text/css",
        headers={"Cache-Control": "private, no-cache", "Vary": "Cookie"},
    )
