"""What a room page may send over its socket, parsed into typed, bounded requests.

htmx's ws extension sends a form's values as a JSON object with a ``HEADERS`` object, whose
``HX-Trigger`` (the id of the element that sent it) picks the parser here. Each parser
checks every field it reads (types, UTF-8, 64-bit ids) and anything else is refused with
``BadRequest``: a hostile frame costs its sender a flash message, never a crash in an
actor or a query. Nothing here decides who may do what; that comes from the session and
the database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from livechat.chat import attachments
from livechat.chat.messages import CLIENT_MSG_ID, Cursor
from livechat.chat.models import REACTIONS
from livechat.errors import BadRequest
from livechat.inputs import is_text, parse_id

# A message of 4,000 characters, all four-byte emoji, is 16 kB of UTF-8; anything larger
# is not a frame our pages send.
FRAME_MAX_CHARACTERS = 20_000
NOT_UNDERSTOOD = "That request was not understood."

# Frames about one message name it in the id of the element that sent them.
_ABOUT_A_MESSAGE = re.compile(
    r"(delete-message|edit-message|edit-form|cancel-edit|reply-to)-([0-9]{1,19})"
)
# A reaction given, or taken back, from a message's picker or its row of reactions: the
# message, and the reaction's place in the set on offer.
_REACTION = re.compile(r"(?:pick|react)-([0-9]{1,19})-([0-9])")


@dataclass(frozen=True, slots=True)
class SendMessage:
    body: str
    client_msg_id: str
    attachment_ids: tuple[int, ...]
    reply_to: int | None = None


@dataclass(frozen=True, slots=True)
class ReportTyping:
    """A keystroke in the composer: the page sends at most one a second."""


@dataclass(frozen=True, slots=True)
class DraftPaused:
    """Typing in the composer paused, with the end of the draft: where an @mention being
    typed is, for the page to be offered the people it may mean."""

    draft: str


@dataclass(frozen=True, slots=True)
class CatchUp:
    """The page (re)connected, rendered up to ``cursor``; an unreadable cursor asks for the
    whole list anew."""

    cursor: Cursor


@dataclass(frozen=True, slots=True)
class DeleteMessage:
    message_id: int


@dataclass(frozen=True, slots=True)
class OpenEditor:
    """Show the page an editor for one of its author's messages, in place of it."""

    message_id: int


@dataclass(frozen=True, slots=True)
class EditMessage:
    message_id: int
    body: str


@dataclass(frozen=True, slots=True)
class CloseEditor:
    """Put the message back as it is, unedited."""

    message_id: int


@dataclass(frozen=True, slots=True)
class StartReply:
    """Show, in the composer, which message the next send answers."""

    message_id: int


@dataclass(frozen=True, slots=True)
class CancelReply:
    """The next send answers no message after all."""


@dataclass(frozen=True, slots=True)
class ToggleReaction:
    message_id: int
    emoji: str


RoomFrame = (
    SendMessage
    | ReportTyping
    | DraftPaused
    | CatchUp
    | DeleteMessage
    | OpenEditor
    | EditMessage
    | CloseEditor
    | ToggleReaction
    | StartReply
    | CancelReply
)
Values = dict[str, Any]


def parse(frame: str | None) -> RoomFrame:
    """The request a text frame carries; ``None`` stands for a binary frame."""
    if frame is None or len(frame) > FRAME_MAX_CHARACTERS:
        raise BadRequest(NOT_UNDERSTOOD if frame is None else "That was too large to send.")
    try:
        values = json.loads(frame)
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested thousands deep
        raise BadRequest(NOT_UNDERSTOOD) from None
    headers = values.pop("HEADERS", None) if isinstance(values, dict) else None
    trigger = headers.get("HX-Trigger") if isinstance(headers, dict) else None
    if not isinstance(trigger, str):
        raise BadRequest(NOT_UNDERSTOOD)
    parser = _PARSERS.get(trigger)
    if parser is not None:
        return parser(values)
    if (match := _ABOUT_A_MESSAGE.fullmatch(trigger)) is not None:
        message_id = parse_id(match[2])
        if message_id is not None:
            return _about_a_message(match[1], message_id, values)
    if (match := _REACTION.fullmatch(trigger)) is not None:
        message_id, index = parse_id(match[1]), int(match[2])
        if message_id is not None and index < len(REACTIONS):
            return ToggleReaction(message_id, REACTIONS[index])
    raise BadRequest(NOT_UNDERSTOOD)


def _about_a_message(action: str, message_id: int, values: Values) -> RoomFrame:
    if action == "delete-message":
        return DeleteMessage(message_id)
    if action == "edit-message":
        return OpenEditor(message_id)
    if action == "cancel-edit":
        return CloseEditor(message_id)
    if action == "reply-to":
        return StartReply(message_id)
    body = values.get("body")
    if not isinstance(body, str):
        raise BadRequest(NOT_UNDERSTOOD)
    if not is_text(body):
        raise BadRequest("That message has characters that are not valid text.")
    return EditMessage(message_id, body)


def _send_message(values: Values) -> SendMessage:
    body, client_msg_id = values.get("body"), values.get("client_msg_id")
    if not isinstance(body, str):
        raise BadRequest(NOT_UNDERSTOOD)
    if not (isinstance(client_msg_id, str) and CLIENT_MSG_ID.fullmatch(client_msg_id)):
        raise BadRequest("This message form has expired; reload the page to send again.")
    if not is_text(body):
        raise BadRequest("That message has characters that are not valid text.")
    files = _attachment_ids(values.get("attachment_ids"))
    return SendMessage(body, client_msg_id, files, _reply_to(values.get("reply_to")))


def _reply_to(value: object) -> int | None:
    """The message a send answers: the composer's hidden input, empty when it answers none."""
    if value is None or value == "":
        return None
    message_id = parse_id(value) if isinstance(value, str) else None
    if message_id is None:
        raise BadRequest(NOT_UNDERSTOOD)
    return message_id


def _attachment_ids(value: object) -> tuple[int, ...]:
    """The files to send: one hidden input's value, several (a list), or none."""
    listed = value if isinstance(value, list) else [] if value is None else [value]
    ids = [parse_id(item) if isinstance(item, str) else None for item in listed]
    if len(ids) > attachments.MAX_PENDING or None in ids:
        raise BadRequest("Those files are no longer waiting to be sent; attach them again.")
    return tuple(item for item in ids if item is not None)


# The end of a draft that can hold an @ and a handle being typed.
DRAFT_TAIL = 40


def _report_typing(_values: Values) -> ReportTyping:
    return ReportTyping()


def _draft_paused(values: Values) -> DraftPaused:
    body = values.get("body")
    if not isinstance(body, str):
        raise BadRequest(NOT_UNDERSTOOD)
    return DraftPaused(body[-DRAFT_TAIL:] if is_text(body) else "")


def _catch_up(values: Values) -> CatchUp:
    seq, last_id = _position(values.get("seq")), _position(values.get("last_id"))
    if seq is None or last_id is None:
        return CatchUp(Cursor(-1, -1))
    return CatchUp(Cursor(seq, last_id))


def _position(value: object) -> int | None:
    """A cursor's field: zero (nothing seen yet, as in an empty room) or an id-sized number."""
    return 0 if value == "0" else parse_id(value)


_PARSERS: dict[str, Callable[[Values], RoomFrame]] = {
    "message-form": _send_message,
    "message-body": _report_typing,
    "draft-paused": _draft_paused,
    "catch-up": _catch_up,
    "cancel-reply": lambda _values: CancelReply(),
}
