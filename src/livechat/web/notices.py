"""One-shot notices: a line on the page a form redirects to, saying what the form did.

The redirect sets a short-lived cookie naming one of the sentences below and the names it
mentions, signed with the server's secret; the next page shows the sentence in its
``#flash`` region and clears the cookie, so a reload shows it no more. A cookie that was
not signed here, or was changed, shows nothing, and the names are escaped as all text is:
no one can make a page say what it never would.
"""

from __future__ import annotations

import base64
import hmac
import json
from enum import Enum

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from livechat.settings import Settings
from livechat.web.csrf import sign

NOTICE_COOKIE = "livechat_notice"
# Long enough for a slow phone to follow the redirect; short enough that a notice whose
# page never came is not shown on some page much later.
NOTICE_MAX_AGE_S = 60


class Notice(Enum):
    """Every sentence a notice may say; the names in braces are filled in, and escaped."""

    LEFT = "You left {room}."
    INVITED = "{person} is now a member of {room}."
    ALREADY_A_MEMBER = "{person} is already a member of {room}."
    REMOVED = "{person} is no longer a member of {room}."
    SAVED = "Saved the settings of {room}."
    DELETED = "{room} was deleted, with all its messages."
    BOT_DEACTIVATED = "{bot} is deactivated; its tokens no longer work."


def _signature(secret: str, payload: str) -> str:
    # Under a purpose of its own: a signed notice is never also a valid CSRF token.
    return sign(secret, f"notice:{payload}")


def see_other(path: str, settings: Settings, notice: Notice, **names: str) -> RedirectResponse:
    """A 303 to ``path``, whose page then says ``notice`` about ``names``."""
    response = RedirectResponse(path, status_code=303)
    # Unpadded: a cookie value with "=" in it is sent quoted.
    payload = base64.urlsafe_b64encode(json.dumps([notice.name, names]).encode()).decode()
    payload = payload.rstrip("=")
    response.set_cookie(
        NOTICE_COOKIE,
        f"{payload}.{_signature(settings.signing_key, payload)}",
        max_age=NOTICE_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )
    return response


def take(request: Request) -> str | None:
    """The sentence the notice cookie holds, if it holds a genuine one; the page that asks
    shows it, and the cookie is cleared (``clear``) whatever it held."""
    cookie = request.cookies.get(NOTICE_COOKIE)
    if cookie is None:
        return None
    request.state.notice_taken = True
    settings: Settings = request.app.state.settings
    payload, _, signature = cookie.partition(".")
    expected = _signature(settings.signing_key, payload)
    # As bytes: compare_digest refuses text that is not ASCII, which a cookie may be.
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    try:
        name, names = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return Notice[name].value.format_map(names)
    except (ValueError, TypeError, KeyError):
        # Signed here, so only a notice of another version of this list, mid-deployment.
        return None


def clear(request: Request, response: Response) -> None:
    """Clear the notice cookie once a page took it."""
    if getattr(request.state, "notice_taken", False):
        settings: Settings = request.app.state.settings
        response.delete_cookie(
            NOTICE_COOKIE, httponly=True, samesite="lax", secure=settings.cookie_secure
        )
