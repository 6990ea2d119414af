"""The rules of handles: what may be typed, what is stored, what a name is turned into."""

from __future__ import annotations

import pytest

from livechat.accounts.handles import clean_handle, free_handle, handle_from_name
from livechat.db import Database
from livechat.errors import BadRequest
from tests.helpers import MakeUser


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("alice", "alice"),
        ("@Alice", "alice"),
        ("  @MARY_jane2 ", "mary_jane2"),
        ("al", "al"),
        ("a" * 30, "a" * 30),
        ("@" + "a" * 30, "a" * 30),
        ("_", None),
        ("a", None),
        ("a" * 31, None),
        ("", None),
        ("@", None),
        ("@@alice", None),
        ("mary jane", None),
        ("mary-jane", None),
        ("zoë", None),
        ("\u212a\u212a", None),  # Kelvin signs, which lowercase to "kk"
        ("alice\n", "alice"),
        ("ali\nce", None),
        ("ali\x00ce", None),
        ("ali\ud800", None),
    ],
)
def test_a_typed_handle_is_stored_lowercase_without_its_at_or_refused(
    typed: str, stored: str | None
) -> None:
    if stored is not None:
        assert clean_handle(typed) == stored
        return
    with pytest.raises(BadRequest, match="2 to 30 letters, digits or underscores"):
        clean_handle(typed)


@pytest.mark.parametrize("word", ["all", "@everyone", "Here", "CHANNEL"])
def test_the_words_kept_for_group_mentions_are_refused(word: str) -> None:
    with pytest.raises(BadRequest, match="kept for mentioning a whole group"):
        clean_handle(word)


@pytest.mark.parametrize(
    ("name", "handle"),
    [
        ("Alice", "alice"),
        ("Mary-Jane O'Neil", "mary_jane_o_neil"),
        ("  Zoë   Núñez ", "zoe_nunez"),
        # "Full Width", in fullwidth letters
        ("\uff26\uff55\uff4c\uff4c \uff37\uff49\uff44\uff54\uff48", "full_width"),
        ("__init__", "init"),
        ("R2-D2", "r2_d2"),
        ("李", "user"),
        ("李 A", "user"),
        ("Ω!", "user"),
        ("All", "user"),
        ("Here", "user"),
        ("A very long name that goes on and on", "a_very_long_name_that_goes"),
        ("abcdefghijklmnopqrstuvwxy z", "abcdefghijklmnopqrstuvwxy"),
    ],
)
def test_a_handle_is_made_from_a_display_name(name: str, handle: str) -> None:
    assert handle_from_name(name) == handle
    assert clean_handle(handle) == handle


async def test_a_free_handle_is_numbered_past_the_ones_taken(
    db: Database, make_user: MakeUser
) -> None:
    ann = await make_user("Ann")
    await make_user("Ann", email="ann2@example.com")
    await make_user("Annabel", email="annabel@example.com")

    async with db.read() as session:
        for_a_newcomer = await free_handle(session, "ann")
        for_ann_herself = await free_handle(session, "ann", user_id=ann.id)
        for_a_stranger = await free_handle(session, "bea")

    assert ann.handle == "ann"
    assert for_a_newcomer == "ann3"
    assert for_ann_herself == "ann"
    assert for_a_stranger == "bea"
