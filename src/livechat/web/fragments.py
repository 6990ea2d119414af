"""Rendered messages, kept to be served again: the room page, the older messages loaded
on scroll, the live events and the replays all show a message with the same fragment.

A message's fragment is the same for every viewer: per-viewer looks (one's own messages,
one's delete buttons) come from ``/me.css``, and its times are clock times in UTC rather
than "five minutes ago", shown in each reader's zone on their way out (``timeline``). It
changes only when something it shows does:

- the message itself, which every edit and deletion stamps with a new sequence number;
- its author's name or picture, which a profile edit changes without touching the message;
- the message it replies to, which its own edits and deletion change.

So a fragment is kept under the message's id and sequence number together with the
author's name and picture, and what it quotes: a changed message, author or quote is looked
up under a new key, and the stale fragment is never found again; it ages out.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime

from jinja2 import Environment
from markupsafe import Markup
from sqlalchemy.orm.attributes import instance_dict

from livechat.chat.models import Message

log = logging.getLogger(__name__)

# The newest page, 50 messages, of 200 rooms in use at once. A fragment is about 1 KB, most
# of it markup (a message has at most 4,000 characters), so some 12 MB in all. A room
# beyond them is rendered as it would be without the cache, and kept again once opened.
MAX_FRAGMENTS = 10_000

# (id, seq, stored at, author's name, author's picture, what it quotes, out of band)
_Key = tuple[int, int, datetime, str, str | None, tuple[int, str] | None, bool]


class MessageFragments:
    """Message fragments, the most recently used ``max_size`` of them."""

    def __init__(self, environment: Environment, max_size: int = MAX_FRAGMENTS) -> None:
        self._environment = environment
        self._max_size = max_size
        self._kept: OrderedDict[_Key, Markup] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def list_html(self, messages: Iterable[Message]) -> Markup:
        """The fragments of ``messages``, one after another, as a page lists them: one
        call from a template, where one per message would cost more than finding it."""
        fragments = [self.html(message) for message in messages]
        return Markup("".join(fragments))  # noqa: S704  (each one is Markup already)

    def html(self, message: Message, *, oob: bool = False) -> Markup:
        """One message's HTML (``oob``: swapped in place of the page's copy); a message
        that fails to render becomes a placeholder, so one bad message never takes a room
        down, and is tried again next time."""
        try:
            return self._kept_or_rendered(message, oob)
        except Exception:
            log.exception("message %s failed to render", message.id)
            placeholder = self._environment.get_template("partials/message_unavailable.html")
            html = placeholder.render(message_id=message.id, oob=oob)
            return Markup(html)  # noqa: S704  (rendered with autoescaping)

    def _kept_or_rendered(self, message: Message, oob: bool) -> Markup:
        key = _key(message, oob)
        html = self._kept.get(key)
        if html is not None:
            self._kept.move_to_end(key)
            return html
        template = self._environment.get_template("partials/message.html")
        html = Markup(template.render(message=message, oob=oob))  # noqa: S704  (autoescaped)
        self._kept[key] = html
        if len(self._kept) > self._max_size:
            self._kept.popitem(last=False)
        return html


def _key(message: Message, oob: bool) -> _Key:
    """What tells a message's fragment from every other: which message it is, and all it
    shows that can change. Ids and sequence numbers are unique within one database only,
    and a process can open several (the test suite opens one per test): the moment the
    message was stored tells apart two that share them."""
    try:
        # Straight from the instances' loaded values: through the mapped attributes, these
        # reads cost ten times as much, more than all the rest of a lookup.
        loaded = instance_dict(message)
        author = instance_dict(loaded["author"])
        return (
            loaded["id"],
            loaded["seq"],
            loaded["inserted_at"],
            author["display_name"],
            author["avatar_url"],
            _quoted(loaded.get("reply_to")),
            oob,
        )
    except KeyError:
        # A value never loaded nor set, as on an object made in this process: the mapped
        # attributes know what it reads as.
        return (
            message.id,
            message.seq,
            message.inserted_at,
            message.author.display_name,
            message.author.avatar_url,
            _quoted(message.reply_to),
            oob,
        )


def _quoted(original: Message | None) -> tuple[int, str] | None:
    """What a reply shows of the message it answers, as far as it can change: a quoted
    message edited, deleted or renamed is quoted anew."""
    if original is None:
        return None
    return original.seq, original.author.display_name
