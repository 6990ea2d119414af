"""Jinja2 rendering: one environment, autoescaped, shared by pages and live fragments."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from livechat.chat import attachments
from livechat.chat.messages import MAX_COUNTED
from livechat.resources import TEMPLATES
from livechat.settings import Settings
from livechat.web import notices
from livechat.web.fragments import MessageFragments


def _page_context(request: Request) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    return {
        "csrf_token": request.scope.get("state", {}).get("csrf_token", ""),
        "current_user": getattr(request.state, "user", None),
        # Said wherever files are attached, so that no one learns the limits by a refusal.
        "upload_allowance": attachments.allowance(settings.upload_max_bytes),
        # Called by whole pages only: a fragment must not use up a notice it cannot show.
        "take_notice": lambda: notices.take(request),
    }


def _initials(display_name: str) -> str:
    """What stands in for an avatar until the person uploads one."""
    words = display_name.split()
    return "".join(word[0] for word in words[:2]).upper() or "?"


_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?)]}'\""


def _linkify(text: str) -> Markup:
    """Escape ``text`` and make its http(s) URLs clickable links that leave the site
    without a referrer and without giving the target page a handle on ours."""
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        url = match.group().rstrip(_TRAILING_PUNCTUATION)
        start, end = match.start(), match.start() + len(url)
        parts.append(str(escape(text[position:start])))
        parts.append(
            f'<a href="{escape(url)}" rel="noopener noreferrer nofollow ugc"'
            f' target="_blank">{escape(url)}</a>'
        )
        position = end
    parts.append(str(escape(text[position:])))
    return Markup("".join(parts))  # noqa: S704  (every piece was escaped above)


def typing_sentence(people: Sequence[Any]) -> str:
    names = [person.display_name for person in people]
    if not names:
        return ""
    if len(names) == 1:
        return f"{names[0]} is typing…"
    if len(names) == 2:
        return f"{names[0]} and {names[1]} are typing…"
    return "Several people are typing…"


def _clock_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M")


def _calendar_day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a %-d %b %Y")


def _counted(number: int) -> str:
    """A count from a query that stops counting at ``MAX_COUNTED``, as a person reads it."""
    return f"{number:,}+" if number >= MAX_COUNTED else f"{number:,}"


templates = Jinja2Templates(TEMPLATES, context_processors=[_page_context])
templates.env.filters["counted"] = _counted
templates.env.filters["initials"] = _initials
templates.env.filters["linkify"] = _linkify
templates.env.filters["filesize"] = attachments.size_text
templates.env.globals["typing_sentence"] = typing_sentence
templates.env.filters["clock_time"] = _clock_time
templates.env.filters["calendar_day"] = _calendar_day
templates.env.globals["static_version"] = "1"
# One cache for the pages and the live events alike: a message sent live is ready for the
# next page that shows it.
message_fragments = MessageFragments(templates.env)
templates.env.globals["message_list"] = message_fragments.list_html


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, name, context or {}, status_code=status_code, headers=headers
    )
    notices.clear(request, response)
    return response


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"
