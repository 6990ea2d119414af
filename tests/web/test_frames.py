"""The room socket's frame parser: every field typed and bounded, anything else refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livechat.chat.messages import Cursor
from livechat.errors import BadRequest
from livechat.inputs import MAX_ID, is_id, is_text
from livechat.web import frames
from livechat.web.frames import (
    CatchUp,
    CloseEditor,
    DeleteMessage,
    DraftPaused,
    EditMessage,
    OpenEditor,
    ReportTyping,
    SendMessage,
    ToggleReaction,
)

KEY = "0f4c7a6e2b5d4e8f9a1b3c5d7e9f1a2b"


def frame(trigger: object, **values: Any) -> str:
    return json.dumps({**values, "HEADERS": {"HX-Request": "true", "HX-Trigger": trigger}})


@pytest.mark.parametrize(
    ("sent", "parsed"),
    [
        (frame("message-form", body="Hi", client_msg_id=KEY), SendMessage("Hi", KEY, ())),
        (
            frame("message-form", body="", client_msg_id=KEY, attachment_ids="7"),
            SendMessage("", KEY, (7,)),
        ),
        (
            frame("message-form", body="x", client_msg_id=KEY, attachment_ids=["7", "8"]),
            SendMessage("x", KEY, (7, 8)),
        ),
        (frame("message-body", body="Hel"), ReportTyping()),
        (frame("draft-paused", body="thanks @al"), DraftPaused("thanks @al")),
        # Only the end of a draft can hold the handle being typed.
        (frame("draft-paused", body="x" * 3000 + " @al"), DraftPaused(("x" * 40 + " @al")[-40:])),
        (frame("draft-paused", body="x\ud800"), DraftPaused("")),
        (frame("catch-up", seq="12", last_id="40"), CatchUp(Cursor(12, 40))),
        (frame("catch-up", seq="0", last_id="0"), CatchUp(Cursor(0, 0))),
        (frame(f"delete-message-{MAX_ID}"), DeleteMessage(MAX_ID)),
        (frame("edit-message-7"), OpenEditor(7)),
        (frame("edit-form-7", body="fixed"), EditMessage(7, "fixed")),
        (frame("cancel-edit-7", body="ignored"), CloseEditor(7)),
        (frame("pick-7-0"), ToggleReaction(7, "👍")),
        (frame("react-7-5"), ToggleReaction(7, "👀")),
        # An astral character is fine; only a lone surrogate has no UTF-8 form.
        (frame("message-form", body="ok 😀", client_msg_id=KEY), SendMessage("ok 😀", KEY, ())),
    ],
)
def test_frames_the_pages_send_are_understood(sent: str, parsed: frames.RoomFrame) -> None:
    assert frames.parse(sent) == parsed


@pytest.mark.parametrize(
    ("sent", "refusal"),
    [
        (None, "not understood"),  # a binary frame
        ("not json", "not understood"),
        ("[" * 100_000, "too large"),
        ("[" * 10_000 + "]" * 10_000, "not understood"),  # deeper than the JSON parser goes
        ('["HEADERS"]', "not understood"),
        (json.dumps({"HEADERS": "message-form"}), "not understood"),
        (json.dumps({"body": "Hi"}), "not understood"),
        (frame(None), "not understood"),
        (frame(["message-form"]), "not understood"),
        (frame("admin-panel"), "not understood"),
        (frame("delete-message-9999999999999999999999999"), "not understood"),
        (frame(f"delete-message-{MAX_ID + 1}"), "not understood"),
        (frame("delete-message-0"), "not understood"),
        (frame("delete-message--1"), "not understood"),
        (frame("delete-message-١٢"), "not understood"),  # digits, but not ASCII ones
        (frame("edit-form-7"), "not understood"),
        (frame("edit-form-7", body=["a"]), "not understood"),
        (frame("edit-form-7", body="x\ud800"), "not valid text"),
        (frame("edit-message-0"), "not understood"),
        (frame("edit-forms-7", body="x"), "not understood"),
        (frame("draft-paused"), "not understood"),
        (frame("draft-paused", body=["@al"]), "not understood"),
        (frame("pick-7-6"), "not understood"),
        (frame("pick-7-10"), "not understood"),
        (frame("pick-0-1"), "not understood"),
        (frame("react-7-"), "not understood"),
        (frame("message-form", body=42, client_msg_id=KEY), "not understood"),
        (frame("message-form", client_msg_id=KEY), "not understood"),
        (frame("message-form", body="Hi"), "expired"),
        (frame("message-form", body="Hi", client_msg_id=""), "expired"),
        (frame("message-form", body="Hi", client_msg_id="x" * 65), "expired"),
        (frame("message-form", body="Hi", client_msg_id="<b>"), "expired"),
        (frame("message-form", body="Hi", client_msg_id={"$ne": 1}), "expired"),
        (frame("message-form", body="x\ud800", client_msg_id=KEY), "not valid text"),
        (frame("message-form", body="\udfff", client_msg_id=KEY), "not valid text"),
        (frame("message-form", body="a\x00b", client_msg_id=KEY), "not valid text"),
        (frame("message-form", body="x", client_msg_id=KEY, attachment_ids="-1"), "files"),
        (frame("message-form", body="x", client_msg_id=KEY, attachment_ids=7), "files"),
        (
            frame("message-form", body="x", client_msg_id=KEY, attachment_ids=[str(MAX_ID + 1)]),
            "files",
        ),
        (frame("message-form", body="x", client_msg_id=KEY, attachment_ids=["1"] * 4), "files"),
    ],
)
def test_anything_else_is_refused_with_a_message(sent: str | None, refusal: str) -> None:
    with pytest.raises(BadRequest, match=refusal):
        frames.parse(sent)


@pytest.mark.parametrize(
    ("seq", "last_id"),
    [
        ("999999999999999999999999999999", "1"),
        ("1", str(MAX_ID + 1)),
        ("-5", "1"),
        ("1e3", "1"),
        (None, "1"),
        ("12", {"a": 1}),
    ],
)
def test_an_unreadable_cursor_asks_for_the_whole_list(seq: object, last_id: object) -> None:
    assert frames.parse(frame("catch-up", seq=seq, last_id=last_id)) == CatchUp(Cursor(-1, -1))


# Anything JSON can carry, including lone surrogates and integers of any size.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
triggers = st.sampled_from(["message-form", "message-body", "catch-up"]) | st.from_regex(
    r"delete-message-[0-9]{0,30}", fullmatch=True
)
fields = st.sampled_from(["body", "client_msg_id", "attachment_ids", "seq", "last_id"])


def _check(parsed: frames.RoomFrame) -> None:
    """What every parsed request promises the code behind the parser."""
    match parsed:
        case SendMessage(body, client_msg_id, attachment_ids):
            assert is_text(body)
            assert is_text(client_msg_id)
            assert all(is_id(attachment_id) for attachment_id in attachment_ids)
        case CatchUp(Cursor(seq, last_id)):
            assert -1 <= seq <= MAX_ID
            assert -1 <= last_id <= MAX_ID
        case DeleteMessage(message_id):
            assert is_id(message_id)


@given(trigger=triggers, values=st.dictionaries(fields, json_values, max_size=5))
def test_a_frame_of_any_values_is_parsed_or_refused(trigger: str, values: dict[str, Any]) -> None:
    try:
        parsed = frames.parse(frame(trigger, **values))
    except BadRequest:
        return
    _check(parsed)


@given(st.text(max_size=300) | st.from_regex(r'\{"HEADERS": ?\{"HX-Trigger": ?".*', fullmatch=True))
def test_any_text_at_all_is_parsed_or_refused(text: str) -> None:
    try:
        parsed = frames.parse(text)
    except BadRequest:
        return
    _check(parsed)
