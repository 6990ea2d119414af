"""Jinja2 rendering: one environment, autoescaped, shared by pages and live fragments."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from livechat.accounts.models import User
from livechat.chat import attachments, notifications
from livechat.chat.messages import MAX_COUNTED, Stamp
from livechat.chat.models import Message, Reaction, by_emoji
from livechat.resources import STATIC, TEMPLATES
from livechat.settings import Settings
from livechat.web import notices, timeline
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
        "zone": timeline.reader_zone(getattr(request.state, "user", None), request.cookies),
    }


def _initials(display_name: str) -> str:
    """What stands in for an avatar until the person uploads one."""
    words = display_name.split()
    return "".join(word[0] for word in words[:2]).upper() or "?"


_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
# A URL or a mention, whichever starts first: an @ inside a URL is part of the URL.
_LINKS = re.compile(f"(?P<url>{_URL.pattern})|{notifications.MENTION.pattern}", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?)]}'\""


def _linkify(text: str, mentions: dict[str, int] | None = None) -> Markup:
    """Escape ``text`` and make links of its http(s) URLs, which leave the site without a
    referrer and without giving the target page a handle on ours, and of the handles it
    mentions (``mentions``, by handle), which lead to the person mentioned."""
    parts: list[str] = []
    position = 0
    for match in _LINKS.finditer(text):
        if match["url"] is None:
            person = (mentions or {}).get(match[2].lower())
            if person is None:
                continue
            link = (
                f'<a class="mention" href="/people/{person}" data-person="{person}">'
                f"{escape(match[0])}</a>"
            )
            start, end = match.start(), match.end()
        else:
            url = match["url"].rstrip(_TRAILING_PUNCTUATION)
            start, end = match.start(), match.start() + len(url)
            link = (
                f'<a href="{escape(url)}" rel="noopener noreferrer nofollow ugc"'
                f' target="_blank">{escape(url)}</a>'
            )
        parts.append(str(escape(text[position:start])))
        parts.append(link)
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


@pass_context
def _message_list(
    context: Context, messages: Iterable[Message], after: Stamp | None = None
) -> Markup:
    """The fragments of ``messages`` as the reader sees them, following message ``after``
    if given: for a page. Rendered for a socket (no reader), they go out as they are, and
    the socket shows them to its page."""
    messages = list(messages)
    html = message_fragments.list_html(messages)
    zone = context.get("zone")
    if zone is None:
        return html
    flowed = timeline.flow(html, timeline.Reader(zone, after))
    reader, read_to = context.get("current_user"), context.get("read_to")
    if reader is not None and read_to is not None:
        flowed = _mark_new(flowed, messages, reader.id, read_to)
    return Markup(flowed)  # noqa: S704  (ours)


_NEW_MESSAGES = (
    '<div id="new-messages" class="new-messages" role="separator" aria-label="New messages">'
    "<span>New messages</span></div>"
)


def _mark_new(html: str, messages: list[Message], reader_id: int, read_to: int) -> str:
    """``html`` with a divider above the first message of ``messages`` that is new to the
    reader: someone else's, after the last one they had read."""
    for message in messages:
        if message.id > read_to and message.user_id != reader_id:
            return html.replace(
                f'<article id="message-{message.id}"',
                _NEW_MESSAGES + f'<article id="message-{message.id}"',
                1,
            )
    return html


def _by_emoji(reactions: Iterable[Reaction]) -> list[tuple[int, str, list[User]]]:
    """Each reaction on offer, by its place in the set, with who gave it, in the order they
    did: what a message shows, and its picker offers."""
    return [(index, emoji, people) for index, (emoji, people) in enumerate(by_emoji(reactions))]


def _counted(number: int) -> str:
    """A count from a query that stops counting at ``MAX_COUNTED``, as a person reads it."""
    return f"{number:,}+" if number >= MAX_COUNTED else f"{number:,}"


def static_version(folder: Path) -> str:
    """What pages add to the addresses of our stylesheet and script: a digest of both, so
    that a browser holding an earlier version, which it may keep without asking again for
    as long as it sees fit, asks for this one as soon as a page names it."""
    digest = hashlib.sha256()
    for name in ("css/app.css", "app.js"):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:12]


def _at_most_99(count: int) -> str:
    """A badge's count: past 99, how many no longer matters."""
    return "99+" if count > 99 else str(count)


templates = Jinja2Templates(TEMPLATES, context_processors=[_page_context])
templates.env.filters["at_most_99"] = _at_most_99
templates.env.filters["counted"] = _counted
templates.env.filters["by_emoji"] = _by_emoji
templates.env.filters["initials"] = _initials
templates.env.filters["linkify"] = _linkify
templates.env.filters["filesize"] = attachments.size_text
templates.env.globals["typing_sentence"] = typing_sentence
# In UTC unless told a zone: a message's fragment is the same for every reader, and shown
# in each one's zone on its way out (``timeline``).
templates.env.filters["moment"] = timeline.moment_html
templates.env.globals["static_version"] = static_version(STATIC)
# One cache for the pages and the live events alike: a message sent live is ready for the
# next page that shows it.
message_fragments = MessageFragments(templates.env)
templates.env.globals["message_list"] = _message_list


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
